// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ConvKit",
    products: [
        .library(name: "ConvKit", targets: ["ConvKit"]),
        .executable(name: "convkit", targets: ["convkit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "ConvKit",
            dependencies: ["CZlib"],
            // The CUDA kernels: real .cu files whose bytes are compiled into the binary.
            resources: [
                .embedInCode("CUDA/Kernels/Common.cuh"),
                .embedInCode("CUDA/Kernels/Tensor.cu"),
                .embedInCode("CUDA/Kernels/GEMM.cu"),
                .embedInCode("CUDA/Kernels/Convolution.cu"),
                .embedInCode("CUDA/Kernels/ImplicitGEMM.cu"),
                .embedInCode("CUDA/Kernels/TensorCoreConv.cu"),
                .embedInCode("CUDA/Kernels/WGMMAConv.cu"),
                .embedInCode("CUDA/Kernels/Depthwise.cu"),
                .embedInCode("CUDA/Kernels/Winograd.cu"),
                .embedInCode("CUDA/Kernels/FFT.cu"),
                .embedInCode("CUDA/Kernels/SparseMatrix.cu"),
                .embedInCode("CUDA/Kernels/Pooling.cu"),
                .embedInCode("CUDA/Kernels/NN.cu"),
                .embedInCode("CUDA/Kernels/Normalization.cu"),
                .embedInCode("CUDA/Kernels/Optimizer.cu"),
            ]
        ),
        .executableTarget(
            name: "convkit",
            dependencies: [
                "ConvKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "ConvKitTests",
            dependencies: ["ConvKit"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
