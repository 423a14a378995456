import Foundation

/// cuBLAS (`libcublas.so`), loaded at run time for SGEMM (and the complex GEMMs of `.fft`). When it is missing, the CUDA backend
/// uses its own tiled SGEMM kernel instead (slower, same results within rounding).
final class CUBLAS: @unchecked Sendable {
    typealias Status = Int32
    typealias Create = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Status
    typealias SetStream = @convention(c) (OpaquePointer?, OpaquePointer?) -> Status
    typealias SetMathMode = @convention(c) (OpaquePointer?, Int32) -> Status
    typealias SgemmStridedBatched = @convention(c) (OpaquePointer?, Int32, Int32, Int32, Int32, Int32,
                                                    UnsafePointer<Float>, CUdeviceptr, Int32, Int64,
                                                    CUdeviceptr, Int32, Int64,
                                                    UnsafePointer<Float>, CUdeviceptr, Int32, Int64, Int32) -> Status
    typealias GemmStridedBatchedEx = @convention(c) (OpaquePointer?, Int32, Int32, Int32, Int32, Int32,
                                                     UnsafeRawPointer, CUdeviceptr, Int32, Int32, Int64,
                                                     CUdeviceptr, Int32, Int32, Int64,
                                                     UnsafeRawPointer, CUdeviceptr, Int32, Int32, Int64, Int32,
                                                     Int32, Int32) -> Status
    typealias GetStatusName = @convention(c) (Status) -> UnsafePointer<CChar>?

    /// `CUBLAS_OP_N`, `CUBLAS_OP_T`.
    static let noTranspose: Int32 = 0, transpose: Int32 = 1
    /// `CUBLAS_OP_C` (conjugate transpose).
    static let conjugateTranspose: Int32 = 2
    /// `CUDA_C_32F`: interleaved single-precision complex numbers.
    static let complexFloat: Int32 = 4
    /// `CUBLAS_COMPUTE_32F` (strict fp32) and `CUBLAS_COMPUTE_32F_FAST_TF32`.
    static let computeFloat: Int32 = 68, computeTF32: Int32 = 77
    /// `CUBLAS_GEMM_DEFAULT`: cuBLAS's heuristics choose the kernel.
    static let defaultAlgorithm: Int32 = -1
    /// `CUBLAS_DEFAULT_MATH` (strict fp32 since CUDA 11) and `CUBLAS_TF32_TENSOR_OP_MATH`.
    static let defaultMath: Int32 = 0, tf32Math: Int32 = 3

    let library: NativeLibrary
    let create: Create
    let setStream: SetStream
    let setMathMode: SetMathMode
    let sgemmStridedBatched: SgemmStridedBatched
    /// `cublasGemmStridedBatchedEx`, for complex GEMMs (`nil` in a cuBLAS without it).
    let gemmStridedBatchedEx: GemmStridedBatchedEx?
    private let getStatusName: GetStatusName?

    static let names = ["libcublas.so.13", "libcublas.so.12", "libcublas.so"]

    static let shared = NativeLibrary.loadOnce("cuBLAS") { try CUBLAS() }

    private init() throws {
        guard let candidates = NativeLibrary.candidates(environmentVariable: "CONVKIT_CUBLAS",
                                                        defaults: CUDALibrarySearch.candidates(for: Self.names)) else {
            throw ConvKitError.device(message: "cuBLAS is turned off (CONVKIT_CUBLAS=none)")
        }
        let library = try NativeLibrary.open(candidates: candidates, purpose: "cuBLAS (libcublas)")
        self.library = library
        create = try library.function("cublasCreate_v2", as: Create.self)
        setStream = try library.function("cublasSetStream_v2", as: SetStream.self)
        setMathMode = try library.function("cublasSetMathMode", as: SetMathMode.self)
        sgemmStridedBatched = try library.function("cublasSgemmStridedBatched", as: SgemmStridedBatched.self)
        gemmStridedBatchedEx = library.optionalFunction("cublasGemmStridedBatchedEx", as: GemmStridedBatchedEx.self)
        getStatusName = library.optionalFunction("cublasGetStatusName", as: GetStatusName.self)
    }

    /// Throws `ConvKitError.device` naming the operation and the cuBLAS status.
    func check(_ status: Status, _ operation: @autoclosure () -> String) throws {
        guard status != 0 else { return }
        let name = getStatusName?(status).map { String(cString: $0) } ?? "CUBLAS_STATUS \(status)"
        throw ConvKitError.device(message: "\(operation()): \(name)")
    }
}
