import Foundation

/// A device address as the CUDA driver API hands it out (`CUdeviceptr`).
typealias CUdeviceptr = UInt64

/// The CUDA driver API (`libcuda.so.1`), loaded at run time.
///
/// Only the functions ConvKit uses are looked up. Every call goes through `check`, which turns a
/// non-zero `CUresult` into a `ConvKitError.device` naming the operation and the CUDA error
/// (`cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (out of memory)`).
final class CUDADriver: @unchecked Sendable {
    typealias Result = Int32
    typealias Init = @convention(c) (UInt32) -> Result
    typealias DriverGetVersion = @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    typealias DeviceGetCount = @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    typealias DeviceGet = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Result
    typealias DeviceGetName = @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Result
    typealias DeviceGetAttribute = @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> Result
    typealias DeviceTotalMem = @convention(c) (UnsafeMutablePointer<Int>, Int32) -> Result
    typealias PrimaryCtxRetain = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32) -> Result
    typealias CtxSetCurrent = @convention(c) (OpaquePointer?) -> Result
    typealias CtxSynchronize = @convention(c) () -> Result
    typealias MemAlloc = @convention(c) (UnsafeMutablePointer<CUdeviceptr>, Int) -> Result
    typealias MemFree = @convention(c) (CUdeviceptr) -> Result
    typealias MemGetInfo = @convention(c) (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> Result
    typealias MemcpyHtoDAsync = @convention(c) (CUdeviceptr, UnsafeRawPointer?, Int, OpaquePointer?) -> Result
    typealias MemcpyDtoHAsync = @convention(c) (UnsafeMutableRawPointer?, CUdeviceptr, Int, OpaquePointer?) -> Result
    typealias MemcpyDtoDAsync = @convention(c) (CUdeviceptr, CUdeviceptr, Int, OpaquePointer?) -> Result
    typealias MemsetD32Async = @convention(c) (CUdeviceptr, UInt32, Int, OpaquePointer?) -> Result
    typealias StreamCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UInt32) -> Result
    typealias StreamSynchronize = @convention(c) (OpaquePointer?) -> Result
    typealias EventCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UInt32) -> Result
    typealias EventRecord = @convention(c) (OpaquePointer?, OpaquePointer?) -> Result
    typealias EventSynchronize = @convention(c) (OpaquePointer?) -> Result
    typealias EventElapsedTime = @convention(c) (UnsafeMutablePointer<Float>, OpaquePointer?, OpaquePointer?) -> Result
    typealias EventDestroy = @convention(c) (OpaquePointer?) -> Result
    typealias ModuleLoadData = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafeRawPointer) -> Result
    typealias ModuleGetFunction = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, OpaquePointer?, UnsafePointer<CChar>) -> Result
    typealias FuncSetAttribute = @convention(c) (OpaquePointer?, Int32, Int32) -> Result
    typealias LaunchKernel = @convention(c) (OpaquePointer?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                                             OpaquePointer?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                             UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Result
    typealias GetErrorText = @convention(c) (Result, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Result

    /// `CU_DEVICE_ATTRIBUTE_*` values used here.
    enum Attribute: Int32 {
        case maxThreadsPerBlock = 1
        case maxSharedMemoryPerBlock = 8
        case multiprocessorCount = 16
        case computeCapabilityMajor = 75
        case computeCapabilityMinor = 76
        case maxSharedMemoryPerBlockOptin = 97
    }

    let library: NativeLibrary
    let cuInit: Init
    let cuDriverGetVersion: DriverGetVersion
    let cuDeviceGetCount: DeviceGetCount
    let cuDeviceGet: DeviceGet
    let cuDeviceGetName: DeviceGetName
    let cuDeviceGetAttribute: DeviceGetAttribute
    let cuDeviceTotalMem: DeviceTotalMem
    let cuDevicePrimaryCtxRetain: PrimaryCtxRetain
    let cuCtxSetCurrent: CtxSetCurrent
    let cuCtxSynchronize: CtxSynchronize
    let cuMemAlloc: MemAlloc
    let cuMemFree: MemFree
    let cuMemGetInfo: MemGetInfo
    let cuMemcpyHtoDAsync: MemcpyHtoDAsync
    let cuMemcpyDtoHAsync: MemcpyDtoHAsync
    let cuMemcpyDtoDAsync: MemcpyDtoDAsync
    let cuMemsetD32Async: MemsetD32Async
    let cuStreamCreate: StreamCreate
    let cuStreamSynchronize: StreamSynchronize
    let cuEventCreate: EventCreate
    let cuEventRecord: EventRecord
    let cuEventSynchronize: EventSynchronize
    let cuEventElapsedTime: EventElapsedTime
    let cuEventDestroy: EventDestroy
    let cuModuleLoadData: ModuleLoadData
    let cuModuleGetFunction: ModuleGetFunction
    let cuFuncSetAttribute: FuncSetAttribute
    let cuLaunchKernel: LaunchKernel
    private let cuGetErrorName: GetErrorText
    private let cuGetErrorString: GetErrorText

    /// The driver's version as `major * 1000 + minor * 10` (13000 for CUDA 13.0).
    let version: Int

    /// The oldest driver ConvKit accepts: CUDA 12.0 (the first with `nvrtcGetCUBIN` for `sm_90`
    /// and every driver function used here).
    static let minimumVersion = 12000

    /// Where `libcuda` is looked for: `$CONVKIT_CUDA_DRIVER` when set, else the loader's path
    /// and the usual driver folders.
    static let defaultCandidates = ["libcuda.so.1", "libcuda.so", "/usr/local/nvidia/lib64/libcuda.so.1",
                                    "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1"]

    /// Loaded and initialised once per process; the error is kept so that every later use
    /// reports the same cause.
    static let shared = NativeLibrary.loadOnce("CUDA driver") { try CUDADriver() }

    /// The loaded driver, or the error that says why there is none.
    static func load() throws -> CUDADriver { try shared.get() }

    private init() throws {
        guard let candidates = NativeLibrary.candidates(environmentVariable: "CONVKIT_CUDA_DRIVER",
                                                        defaults: Self.defaultCandidates) else {
            throw ConvKitError.device(message: "CUDA is turned off (CONVKIT_CUDA_DRIVER=none)")
        }
        let library = try NativeLibrary.open(candidates: candidates, purpose: "CUDA driver (libcuda)")
        self.library = library
        func symbol<T>(_ name: String, _ type: T.Type) throws -> T { try library.function(name, as: type) }
        cuInit = try symbol("cuInit", Init.self)
        cuDriverGetVersion = try symbol("cuDriverGetVersion", DriverGetVersion.self)
        cuDeviceGetCount = try symbol("cuDeviceGetCount", DeviceGetCount.self)
        cuDeviceGet = try symbol("cuDeviceGet", DeviceGet.self)
        cuDeviceGetName = try symbol("cuDeviceGetName", DeviceGetName.self)
        cuDeviceGetAttribute = try symbol("cuDeviceGetAttribute", DeviceGetAttribute.self)
        cuDeviceTotalMem = try symbol("cuDeviceTotalMem_v2", DeviceTotalMem.self)
        cuDevicePrimaryCtxRetain = try symbol("cuDevicePrimaryCtxRetain", PrimaryCtxRetain.self)
        cuCtxSetCurrent = try symbol("cuCtxSetCurrent", CtxSetCurrent.self)
        cuCtxSynchronize = try symbol("cuCtxSynchronize", CtxSynchronize.self)
        cuMemAlloc = try symbol("cuMemAlloc_v2", MemAlloc.self)
        cuMemFree = try symbol("cuMemFree_v2", MemFree.self)
        cuMemGetInfo = try symbol("cuMemGetInfo_v2", MemGetInfo.self)
        cuMemcpyHtoDAsync = try symbol("cuMemcpyHtoDAsync_v2", MemcpyHtoDAsync.self)
        cuMemcpyDtoHAsync = try symbol("cuMemcpyDtoHAsync_v2", MemcpyDtoHAsync.self)
        cuMemcpyDtoDAsync = try symbol("cuMemcpyDtoDAsync_v2", MemcpyDtoDAsync.self)
        cuMemsetD32Async = try symbol("cuMemsetD32Async", MemsetD32Async.self)
        cuStreamCreate = try symbol("cuStreamCreate", StreamCreate.self)
        cuStreamSynchronize = try symbol("cuStreamSynchronize", StreamSynchronize.self)
        cuEventCreate = try symbol("cuEventCreate", EventCreate.self)
        cuEventRecord = try symbol("cuEventRecord", EventRecord.self)
        cuEventSynchronize = try symbol("cuEventSynchronize", EventSynchronize.self)
        cuEventElapsedTime = try symbol("cuEventElapsedTime", EventElapsedTime.self)
        cuEventDestroy = try symbol("cuEventDestroy_v2", EventDestroy.self)
        cuModuleLoadData = try symbol("cuModuleLoadData", ModuleLoadData.self)
        cuModuleGetFunction = try symbol("cuModuleGetFunction", ModuleGetFunction.self)
        cuFuncSetAttribute = try symbol("cuFuncSetAttribute", FuncSetAttribute.self)
        cuLaunchKernel = try symbol("cuLaunchKernel", LaunchKernel.self)
        cuGetErrorName = try symbol("cuGetErrorName", GetErrorText.self)
        cuGetErrorString = try symbol("cuGetErrorString", GetErrorText.self)

        var driverVersion: Int32 = 0
        _ = cuDriverGetVersion(&driverVersion)
        version = Int(driverVersion)
        guard version >= Self.minimumVersion else {
            throw ConvKitError.device(message:
                "the CUDA driver at \(library.path) supports CUDA \(Self.versionString(version)); ConvKit needs \(Self.versionString(Self.minimumVersion)) or newer")
        }
        let status = cuInit(0)
        if status != 0 {
            throw ConvKitError.device(message: "cuInit (driver \(library.path)): \(errorText(status))")
        }
    }

    /// `CUDA_ERROR_NAME (description)` for a `CUresult`.
    func errorText(_ status: Result) -> String {
        var name: UnsafePointer<CChar>?
        var text: UnsafePointer<CChar>?
        _ = cuGetErrorName(status, &name)
        _ = cuGetErrorString(status, &text)
        let nameString = name.map { String(cString: $0) } ?? "CUDA error \(status)"
        return text.map { "\(nameString) (\(String(cString: $0)))" } ?? nameString
    }

    /// Throws `ConvKitError.device` naming `operation` and the error unless `status` is success.
    @inline(__always)
    func check(_ status: Result, _ operation: @autoclosure () -> String) throws {
        if status != 0 { throw ConvKitError.device(message: "\(operation()): \(errorText(status))") }
    }

    /// `12.4` for 12040.
    static func versionString(_ version: Int) -> String { "\(version / 1000).\(version % 1000 / 10)" }

    /// The number of CUDA devices (0 when the driver sees none).
    func deviceCount() throws -> Int {
        var count: Int32 = 0
        try check(cuDeviceGetCount(&count), "cuDeviceGetCount")
        return Int(count)
    }
}
