/// ConvKit's kernel files, one module each, embedded in the binary by SwiftPM
/// (`resources: [.embedInCode(…)]` in Package.swift) so the `.cu` files stay real files and the
/// executable stays self-contained. A module is compiled by NVRTC the first time one of its
/// kernels is launched on a device (and cached on disk, see `CUDAKernelCompiler`).
enum CUDAKernelModule: String, CaseIterable {
    /// Fill, accumulate, elementwise maps with broadcasting, reductions, strided copies.
    case tensor
    /// The tiled SGEMM used when cuBLAS is missing.
    case gemm
    /// im2col, col2im, the direct convolution and the channel bias.
    case convolution
    /// Implicit-GEMM convolution: forward, input gradient, weight gradient.
    case implicitGEMM
    /// Implicit-GEMM convolution on tensor cores (TF32 and 3xTF32 mma.sync).
    case tensorCore
    /// TF32 implicit-GEMM convolution on Hopper's warpgroup tensor cores (wgmma; sm_90a only).
    case wgmma
    /// Depthwise convolution.
    case depthwise
    /// The transforms of Winograd F(2×2, 3×3) convolution.
    case winograd
    /// The transforms of the FFT convolution.
    case fft
    /// Convolution as a sparse (CSR) matrix product.
    case sparseMatrix
    /// Padding, max/average/adaptive pooling, unpooling.
    case pooling
    /// ReLU, dropout, local response normalisation, softmax, cross-entropy.
    case nn
    /// Batch normalisation.
    case normalization
    /// SGD and Adam updates.
    case optimizer

    /// The embedded source of this module.
    var source: CUDAKernelSource {
        switch self {
        case .tensor: return CUDAKernelSources.make("Tensor.cu", PackageResources.Tensor_cu)
        case .gemm: return CUDAKernelSources.make("GEMM.cu", PackageResources.GEMM_cu)
        case .convolution: return CUDAKernelSources.make("Convolution.cu", PackageResources.Convolution_cu)
        case .implicitGEMM: return CUDAKernelSources.make("ImplicitGEMM.cu", PackageResources.ImplicitGEMM_cu)
        case .tensorCore: return CUDAKernelSources.make("TensorCoreConv.cu", PackageResources.TensorCoreConv_cu)
        case .wgmma:
            return CUDAKernelSources.make("WGMMAConv.cu", PackageResources.WGMMAConv_cu, architectureSpecific: true)
        case .depthwise: return CUDAKernelSources.make("Depthwise.cu", PackageResources.Depthwise_cu)
        case .winograd: return CUDAKernelSources.make("Winograd.cu", PackageResources.Winograd_cu)
        case .fft: return CUDAKernelSources.make("FFT.cu", PackageResources.FFT_cu)
        case .sparseMatrix: return CUDAKernelSources.make("SparseMatrix.cu", PackageResources.SparseMatrix_cu)
        case .pooling: return CUDAKernelSources.make("Pooling.cu", PackageResources.Pooling_cu)
        case .nn: return CUDAKernelSources.make("NN.cu", PackageResources.NN_cu)
        case .normalization: return CUDAKernelSources.make("Normalization.cu", PackageResources.Normalization_cu)
        case .optimizer: return CUDAKernelSources.make("Optimizer.cu", PackageResources.Optimizer_cu)
        }
    }
}

/// The embedded kernel texts.
enum CUDAKernelSources {
    /// `Common.cuh`, offered to every module as `#include "Common.cuh"`.
    static let commonHeader = make("Common.cuh", PackageResources.Common_cuh)

    static func make(_ name: String, _ bytes: [UInt8], architectureSpecific: Bool = false) -> CUDAKernelSource {
        CUDAKernelSource(name: name, text: String(decoding: bytes, as: UTF8.self), architectureSpecific: architectureSpecific)
    }
}
