// swift-tools-version:6.0
// Coverage-guided fuzz targets for ConvKit's file readers: one libFuzzer executable per target,
// a separate package so that the main one stays free of fuzzing flags. Build and run them with
// scripts/fuzz.sh (docs/TESTING.md); MakeCorpus writes the seed inputs of Fuzz/Corpus.
import PackageDescription

let fuzzTargets = ["FuzzIDX", "FuzzGzip", "FuzzSafeTensors", "FuzzCheckpoint", "FuzzImage", "FuzzPNGRaster"]

let package = Package(
    name: "ConvKitFuzz",
    dependencies: [.package(name: "ConvKit", path: "..")],
    targets: [
        .target(name: "CLibFuzzer"),
        .target(name: "FuzzHarness", dependencies: [.product(name: "ConvKit", package: "ConvKit")]),
        .executableTarget(name: "MakeCorpus", dependencies: ["FuzzHarness", .product(name: "ConvKit", package: "ConvKit")]),
    ] + fuzzTargets.map { .executableTarget(name: $0, dependencies: ["FuzzHarness", "CLibFuzzer"]) },
    swiftLanguageModes: [.v5]
)
