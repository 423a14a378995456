import XCTest
@testable import ConvKit

/// The fast part of the fuzzing (docs/TESTING.md): every input that ever made a fuzz target crash,
/// hang or over-allocate (`Fuzz/Regressions/<target>/`) and every corpus input
/// (`Fuzz/Corpus/<target>/`) goes through every fuzz target's readers, exactly as the fuzzer
/// runs them (`FuzzHarness.swift` is the fuzz package's file, linked here). Each reader must
/// throw a `ConvKitError` or succeed; a trap would end the test run.
final class FuzzRegressionTests: XCTestCase {
    private static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")
    private var savedGenerator: Philox!

    override func setUp() {
        // The checkpoint target's model draws its initial weights from the default generator.
        savedGenerator = RandomState.generatorState
    }

    override func tearDown() {
        RandomState.generatorState = savedGenerator
    }

    /// The files under `Fuzz/<folder>/<target>/`, by target.
    private func inputs(in folder: String) throws -> [FuzzTarget: [URL]] {
        var result: [FuzzTarget: [URL]] = [:]
        for target in FuzzTarget.allCases {
            let directory = Self.fuzzDirectory.appendingPathComponent(folder).appendingPathComponent(target.rawValue)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { continue }
            result[target] = names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted().map { directory.appendingPathComponent($0) }
        }
        return result
    }

    private func replay(_ files: [URL], file: StaticString = #filePath, line: UInt = #line) throws {
        for url in files {
            let bytes = [UInt8](try Data(contentsOf: url))
            for target in FuzzTarget.allCases {
                do {
                    try target.run(bytes)
                } catch is ConvKitError {
                } catch {
                    XCTFail("\(target.rawValue) on \(url.path) threw \(type(of: error)), not a ConvKitError: \(error)", file: file, line: line)
                }
            }
        }
    }

    func testRegressionInputsThroughEveryTarget() throws {
        let regressions = try inputs(in: "Regressions")
        XCTAssertFalse(regressions.values.joined().isEmpty, "no regression inputs under \(Self.fuzzDirectory.path)/Regressions")
        try replay(Array(regressions.values.joined()))
    }

    func testCorporaThroughEveryTarget() throws {
        let corpora = try inputs(in: "Corpus")
        for target in FuzzTarget.allCases {
            XCTAssertFalse(corpora[target, default: []].isEmpty, "no seed inputs for the \(target.rawValue) target")
        }
        try replay(Array(corpora.values.joined()))
    }

    /// The seeds are valid files: each reads without error through its own target.
    func testSeedsAreValid() throws {
        let corpora = try inputs(in: "Corpus")
        let seeds: [FuzzTarget: [String]] = [
            .idx: ["mnist-images-2.idx", "mnist-labels-8.idx", "mnist-images-1.idx.gz"],
            .gzip: ["mnist-images-1.idx.gz", "two-members.gz"],
            .safetensors: ["f32-i32-metadata.safetensors", "f64-i64-u8-empty.safetensors"],
            .checkpoint: ["model-only.safetensors", "model-sgd-steplr.safetensors"],
            .image: ["c3-d4-adam7-trns.png", "c6-d16-adam7.png", "p2-comments.pgm", "p5-16bit.pgm"],
            .pngRaster: ["c2-d16-adam7-trns.raster"],
        ]
        for (target, names) in seeds {
            for name in names {
                guard let url = corpora[target]?.first(where: { $0.lastPathComponent == name }) else {
                    XCTFail("seed \(target.rawValue)/\(name) is missing"); continue
                }
                XCTAssertNoThrow(try target.run([UInt8](try Data(contentsOf: url))), "\(target.rawValue)/\(name)")
            }
        }
    }

    // MARK: What the fuzzing found and fixed, and the limits it checks

    /// Found by the gzip target on its first input: an output limit of `Int.max` (no limit)
    /// overflowed `limit + 1` and trapped, in `decompress` and in `readMaybeCompressed`.
    func testGzipWithoutAnOutputLimit() throws {
        let text = Array("no limit".utf8)
        let compressed = try Gzip.compress(text)
        XCTAssertEqual(try Gzip.decompress(compressed, maxOutputBytes: Int.max), text)
        XCTAssertEqual(try Gzip.decompressIfNeeded(compressed, maxBytes: Int.max), text)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("convkit-fuzz-\(getpid()).gz")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(compressed).write(to: url)
        XCTAssertEqual(try Gzip.readMaybeCompressed(url, maxBytes: Int.max), text)
    }

    /// Headers that claim about 10^12 elements are refused before anything is allocated for them.
    func testHeadersClaimingATrillionElementsAreRefused() throws {
        // IDX: 10^6 × 10^6 bytes, none present.
        let idx: [UInt8] = [0, 0, 0x08, 2, 0x00, 0x0F, 0x42, 0x40, 0x00, 0x0F, 0x42, 0x40]
        assertThrowsConvKitError(try IDX.decode(idx), "truncated", "1000000000000 data bytes")
        assertThrowsConvKitError(try IDX.decode(try Gzip.compress(idx)), "truncated", "1000000000000 data bytes")
        // safetensors: a 10^6 × 10^6 tensor, and a zero-sized one whose other dimensions overflow.
        func safetensors(_ entry: String) -> [UInt8] {
            var json = Array("{\"t\":\(entry)}".utf8)
            while json.count % 8 != 0 { json.append(0x20) }
            return withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json
        }
        assertThrowsConvKitError(try SafeTensors.decode(safetensors(#"{"dtype":"U8","shape":[1000000,1000000],"data_offsets":[0,1000000000000]}"#)),
                                 "out of range of the 0 data bytes")
        assertThrowsConvKitError(try SafeTensors.decode(safetensors(#"{"dtype":"F32","shape":[0,4000000000000000,4000000000000000],"data_offsets":[0,0]}"#)),
                                 "shape [0, 4000000000000000, 4000000000000000] is too large")
        assertThrowsConvKitError(try SafeTensors.decode(safetensors(#"{"dtype":"F32","shape":[0,1000000,1000000],"data_offsets":[0,0]}"#)),
                                 "is too large")
        // PNG: 10^6 × 10^6 is over the pixel limit; 8192 × 8192 (within it) needs more image data
        // than 20 bytes can inflate to.
        func png(width: UInt32, height: UInt32) -> [UInt8] {
            var raster: [UInt8] = []
            for value in [width, height] { withUnsafeBytes(of: value.bigEndian) { raster += $0 } }
            raster += [8, 0, 0, 0, 0]               // IHDR: 8-bit greyscale, not interlaced
            raster += [0, 0]                        // no PLTE, no tRNS
            raster += [UInt8](repeating: 0, count: 8)
            return PNGBytes.build(fromRaster: raster)!
        }
        assertThrowsConvKitError(try PNG.decode(png(width: 1_000_000, height: 1_000_000)), "pixel limit")
        assertThrowsConvKitError(try PNG.decode(png(width: 8192, height: 8192)), "cannot inflate to the 67117056 bytes", "1032:1")
        // PGM: 10^6 × 10^6.
        assertThrowsConvKitError(try PGM.decode(Array("P5 1000000 1000000 255\n".utf8)), "pixel limit")
        assertThrowsConvKitError(try PGM.decode(Array("P2 1000000 1000000 255\n".utf8)), "pixel limit")
    }
}
