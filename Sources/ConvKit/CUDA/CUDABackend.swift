import Foundation

/// The CUDA backend for one GPU: its primary context, one stream on which every kernel and
/// copy runs in order, a caching allocator, the kernel modules (compiled by NVRTC at first use)
/// and cuBLAS when it is installed.
///
/// Nothing of CUDA is needed to build ConvKit: the driver, NVRTC and cuBLAS are loaded when a
/// CUDA device is first used, and a missing piece is reported by a `ConvKitError.device` that
/// says what was searched. Each kernel family's launchers are in an extension beside its `.cu`
/// file under `CUDA/Kernels/`.
public final class CUDABackend: Backend, @unchecked Sendable {
    /// The device this backend runs on (`.cuda(index)`).
    public let device: Device
    /// The device ordinal.
    public let index: Int
    /// The GPU's name as the driver reports it (`NVIDIA H200`).
    public let name: String
    /// Compute capability as `major * 10 + minor` (90 for Hopper).
    public let computeCapability: Int
    /// Streaming multiprocessors.
    public let multiprocessorCount: Int
    /// Device memory in bytes.
    public let totalMemory: Int
    /// Largest dynamic shared memory a block may opt into, in bytes.
    public let maxSharedMemoryPerBlock: Int

    let driver: CUDADriver
    let allocator: CUDAAllocator
    /// The device's primary context (shared with cuBLAS and any CUDA runtime user).
    let context: OpaquePointer?
    /// The stream every operation of this backend is queued on.
    let stream: OpaquePointer?
    /// cuBLAS for this device, or `nil` (then the built-in SGEMM kernel runs), with the reason.
    private(set) var blas: (library: CUBLAS, handle: OpaquePointer?, tf32: Bool)?
    /// Why cuBLAS is not in use, when it is not.
    private(set) var blasUnavailableReason: String?

    private let counterLock = NSLock()
    private var counter: Storage?
    private let moduleLock = NSLock()
    private var modules: [String: OpaquePointer] = [:]
    /// Loaded kernels by module and name (looked up on every launch: no string is built for the key).
    private var functions: [KernelKey: OpaquePointer] = [:]
    private struct KernelKey: Hashable {
        var module: CUDAKernelModule
        var kernel: String
    }
    /// Synchronise after every launch and name the kernel in any asynchronous error
    /// (`CONVKIT_CUDA_SYNC=1`, like `CUDA_LAUNCH_BLOCKING`).
    let synchronousLaunches = ProcessInfo.processInfo.environment["CONVKIT_CUDA_SYNC"] == "1"

    // MARK: Finding devices

    private static let registryLock = NSLock()
    nonisolated(unsafe) private static var backends: [Int: CUDABackend] = [:]

    /// The backend of `cuda(index)`, created on first use.
    ///
    /// - Throws: `ConvKitError.device` when the driver is missing or too old, when there is no
    ///   such device, or when its context cannot be created.
    public static func backend(index: Int) throws -> CUDABackend {
        registryLock.lock()
        defer { registryLock.unlock() }
        if let existing = backends[index] { return existing }
        let driver: CUDADriver
        do { driver = try CUDADriver.load() } catch let ConvKitError.device(message) {
            throw ConvKitError.device(message: "cuda:\(index) is not available: \(message)")
        }
        let count = try driver.deviceCount()
        guard count > 0 else {
            throw ConvKitError.device(message: "cuda:\(index) is not available: the CUDA driver (\(driver.library.path)) sees no GPU")
        }
        guard index >= 0 && index < count else {
            throw ConvKitError.device(message: "cuda:\(index) is not available: this machine has \(count) CUDA device\(count == 1 ? "" : "s") (cuda:0…cuda:\(count - 1))")
        }
        let backend = try CUDABackend(driver: driver, index: index)
        backends[index] = backend
        return backend
    }

    private init(driver: CUDADriver, index: Int) throws {
        self.driver = driver
        self.index = index
        device = .cuda(index)
        var handle: Int32 = 0
        try driver.check(driver.cuDeviceGet(&handle, Int32(index)), "cuDeviceGet(\(index))")
        var nameBuffer = [CChar](repeating: 0, count: 256)
        try driver.check(driver.cuDeviceGetName(&nameBuffer, 256, handle), "cuDeviceGetName")
        name = String(cString: nameBuffer)
        func attribute(_ a: CUDADriver.Attribute) throws -> Int {
            var value: Int32 = 0
            try driver.check(driver.cuDeviceGetAttribute(&value, a.rawValue, handle), "cuDeviceGetAttribute(\(a))")
            return Int(value)
        }
        computeCapability = try attribute(.computeCapabilityMajor) * 10 + attribute(.computeCapabilityMinor)
        multiprocessorCount = try attribute(.multiprocessorCount)
        maxSharedMemoryPerBlock = try attribute(.maxSharedMemoryPerBlockOptin)
        var memory = 0
        try driver.check(driver.cuDeviceTotalMem(&memory, handle), "cuDeviceTotalMem")
        totalMemory = memory
        var context: OpaquePointer?
        try driver.check(driver.cuDevicePrimaryCtxRetain(&context, handle), "cuDevicePrimaryCtxRetain(cuda:\(index))")
        self.context = context
        try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent(cuda:\(index))")
        var stream: OpaquePointer?
        try driver.check(driver.cuStreamCreate(&stream, 1 /* CU_STREAM_NON_BLOCKING */), "cuStreamCreate")
        self.stream = stream
        allocator = CUDAAllocator(driver: driver, deviceIndex: index)
        do {
            let library = try CUBLAS.shared.get()
            var blasHandle: OpaquePointer?
            try library.check(library.create(&blasHandle), "cublasCreate")
            try library.check(library.setStream(blasHandle, stream), "cublasSetStream")
            try library.check(library.setMathMode(blasHandle, CUBLAS.defaultMath), "cublasSetMathMode")
            blas = (library, blasHandle, false)
        } catch {
            blas = nil
            blasUnavailableReason = "\(error)"
        }
    }

    /// Makes this device's context current on the calling thread (each thread has its own
    /// current context; data loaders upload from a background thread).
    @inline(__always)
    func makeCurrent() throws {
        try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent(cuda:\(index))")
    }

    // MARK: Memory (the Backend protocol)

    public func allocate(byteCount: Int) throws -> Storage {
        let storage = try uninitializedStorage(byteCount: byteCount)
        // The contract promises zeros; a reused block holds an earlier tensor's values.
        try driver.check(driver.cuMemsetD32Async(storage.deviceAddress, 0, (byteCount + 3) / 4, stream), "cuMemsetD32Async")
        return storage
    }

    /// `Backend.allocateUninitialized`: a block from the cache as it is, with no memset (an op's
    /// output is written in full by its kernel); filled with `uninitializedPattern` when
    /// `poisonsUninitializedMemory` is on.
    public func allocateUninitialized(byteCount: Int) throws -> Storage {
        let storage = try uninitializedStorage(byteCount: byteCount)
        if poisonsUninitializedMemory { try poison(storage, byteCount: byteCount) }
        return storage
    }

    /// When on, memory handed out without initialisation (new tensors' storage and kernel
    /// workspaces) is first filled with `uninitializedPattern` (a NaN as float, −1 as int32), so
    /// a kernel that leaves part of its output unwritten gives NaN instead of a stale value that
    /// might happen to be right. `convkit verify` turns it on; so does `CONVKIT_POISON_MEMORY=1`.
    public var poisonsUninitializedMemory = ProcessInfo.processInfo.environment["CONVKIT_POISON_MEMORY"] == "1"

    /// The 32-bit pattern of poisoned memory: a quiet NaN as float, −1 as int32.
    public static let uninitializedPattern: UInt32 = 0xFFFF_FFFF

    private func poison(_ storage: Storage, byteCount: Int) throws {
        guard byteCount >= 4 else { return }
        try driver.check(driver.cuMemsetD32Async(storage.deviceAddress, Self.uninitializedPattern, byteCount / 4, stream),
                         "cuMemsetD32Async")
    }

    /// A block from the caching allocator wrapped in a `Storage` that gives it back when released;
    /// its contents are whatever the block held last.
    private func uninitializedStorage(byteCount: Int) throws -> Storage {
        try makeCurrent()
        let (address, blockSize) = try allocator.allocate(byteCount: byteCount)
        let allocator = self.allocator
        return Storage(device: device, byteCount: byteCount, address: UnsafeMutableRawPointer(bitPattern: UInt(address))!,
                       release: { allocator.release(CUdeviceptr(UInt(bitPattern: $0)), blockSize: blockSize) })
    }

    public func upload(_ bytes: UnsafeRawBufferPointer, to storage: Storage) throws {
        guard bytes.count > 0 else { return }
        try makeCurrent()
        // From pageable memory the call returns once the bytes are staged, so the caller may
        // free them at once.
        try driver.check(driver.cuMemcpyHtoDAsync(storage.deviceAddress, bytes.baseAddress, bytes.count, stream),
                         "cuMemcpyHtoDAsync (\(bytes.count) bytes to \(device))")
    }

    public func download(_ storage: Storage, into bytes: UnsafeMutableRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        try makeCurrent()
        try driver.check(driver.cuMemcpyDtoHAsync(bytes.baseAddress, storage.deviceAddress, bytes.count, stream),
                         "cuMemcpyDtoHAsync (\(bytes.count) bytes from \(device))")
        try synchronize("download from \(device)")
    }

    public func copy(from source: Storage, to destination: Storage, byteCount: Int) throws {
        guard byteCount > 0 else { return }
        try makeCurrent()
        try driver.check(driver.cuMemcpyDtoDAsync(destination.deviceAddress, source.deviceAddress, byteCount, stream),
                         "cuMemcpyDtoDAsync (\(byteCount) bytes on \(device))")
    }

    public func fill(_ storage: Storage, count: Int, value: Float) throws {
        guard count > 0 else { return }
        try makeCurrent()
        try driver.check(driver.cuMemsetD32Async(storage.deviceAddress, value.bitPattern, count, stream), "cuMemsetD32Async")
    }

    public func accumulate(_ source: Storage, into destination: Storage, count: Int) throws {
        guard count > 0 else { return }
        try launchElementwise(.tensor, "ck_accumulate", count: count,
                              [.storage(source), .storage(destination), .int(count)])
    }

    // MARK: Synchronisation and timing

    /// Waits for every queued operation of this device; an asynchronous kernel fault, or a bad
    /// argument found by a deferred device-side check (`validateClassTargets`), surfaces here.
    public func synchronize(_ reason: @autoclosure () -> String = "synchronize") throws {
        try makeCurrent()
        try driver.check(driver.cuStreamSynchronize(stream), "cuStreamSynchronize (\(reason()))")
        try reportDeferredChecks()
    }

    // MARK: Deferred argument checks

    /// A device-side argument check whose result is read at the next synchronisation: `result`
    /// holds two `UInt64`s, the first offending position (all ones when none) and its value.
    struct DeferredCheck {
        var result: Storage
        var message: (_ position: UInt64, _ value: Int64) -> ConvKitError
    }

    private let deferredLock = NSLock()
    private var deferredChecks: [DeferredCheck] = []

    /// Queues a check's result for the next synchronisation; past 256 unread results (a loop that
    /// never synchronises) it synchronises now.
    func deferCheck(_ check: DeferredCheck) throws {
        deferredLock.lock()
        deferredChecks.append(check)
        let pending = deferredChecks.count
        deferredLock.unlock()
        if pending > 256 { try synchronize("deferred argument checks") }
    }

    /// Reads every pending check (the stream is idle) and throws the first failure.
    private func reportDeferredChecks() throws {
        deferredLock.lock()
        let checks = deferredChecks
        deferredChecks = []
        deferredLock.unlock()
        guard !checks.isEmpty else { return }
        var first: ConvKitError?
        for check in checks {
            var words: (UInt64, UInt64) = (0, 0)
            try withUnsafeMutableBytes(of: &words) { bytes in
                try driver.check(driver.cuMemcpyDtoHAsync(bytes.baseAddress, check.result.deviceAddress, 16, stream),
                                 "cuMemcpyDtoHAsync (deferred check)")
            }
            try driver.check(driver.cuStreamSynchronize(stream), "cuStreamSynchronize (deferred check)")
            if words.0 != UInt64.max, first == nil { first = check.message(words.0, Int64(bitPattern: words.1)) }
        }
        if let first { throw first }
    }

    /// Milliseconds of device time that `body`'s queued work takes, measured with CUDA events
    /// around it on this backend's stream.
    public func time(_ body: () throws -> Void) throws -> Double {
        try makeCurrent()
        var start: OpaquePointer?, end: OpaquePointer?
        try driver.check(driver.cuEventCreate(&start, 0), "cuEventCreate")
        try driver.check(driver.cuEventCreate(&end, 0), "cuEventCreate")
        defer { _ = driver.cuEventDestroy(start); _ = driver.cuEventDestroy(end) }
        try driver.check(driver.cuEventRecord(start, stream), "cuEventRecord")
        try body()
        try driver.check(driver.cuEventRecord(end, stream), "cuEventRecord")
        try driver.check(driver.cuEventSynchronize(end), "cuEventSynchronize")
        var milliseconds: Float = 0
        try driver.check(driver.cuEventElapsedTime(&milliseconds, start, end), "cuEventElapsedTime")
        return Double(milliseconds)
    }

    /// Bytes in live tensors, in the allocator's cache, and the peak in use since `resetPeakMemory()`.
    public var memoryStatistics: (inUse: Int, cached: Int, peak: Int) {
        (allocator.bytesInUse, allocator.bytesCached, allocator.peakBytesInUse)
    }

    /// Starts a new peak-memory measurement.
    public func resetPeakMemory() { allocator.resetPeak() }

    /// Frees the allocator's cached blocks (like `torch.cuda.empty_cache`).
    public func emptyCache() throws {
        try synchronize("emptyCache")
        allocator.emptyCache()
    }

    /// When set, the wgmma convolution uses this tile width (64, 128 or 256 output channels) and
    /// number of K splits (1 or 2) instead of `CUDAWGMMATiling.plan`'s choice: the device checks
    /// use it to run every variant.
    var wgmmaPlanOverride: (columns: Int, splits: Int)?

    /// Whether cuBLAS and the GEMM-based convolutions may use TF32 tensor cores (10-bit
    /// mantissa products, fp32 accumulation). Off by default: strict fp32.
    public var allowTF32 = false {
        didSet {
            if let blas {
                _ = blas.library.setMathMode(blas.handle, allowTF32 ? CUBLAS.tf32Math : CUBLAS.defaultMath)
            }
        }
    }

    /// What cuBLAS this backend uses, or why none.
    public var blasDescription: String {
        if let blas { return "cuBLAS \(blas.library.library.path)" }
        return "built-in SGEMM kernel (\(blasUnavailableReason ?? "no cuBLAS"))"
    }

    // MARK: Kernels

    /// The function `kernel` of `module`, loading (and if needed compiling) the module first.
    func function(_ module: CUDAKernelModule, _ kernel: String) throws -> OpaquePointer {
        let key = KernelKey(module: module, kernel: kernel)
        moduleLock.lock()
        defer { moduleLock.unlock() }
        if let function = functions[key] { return function }
        let loaded: OpaquePointer
        if let existing = modules[module.rawValue] {
            loaded = existing
        } else {
            loaded = try loadModule(module)
            modules[module.rawValue] = loaded
        }
        var function: OpaquePointer?
        try driver.check(driver.cuModuleGetFunction(&function, loaded, kernel), "cuModuleGetFunction(\(module.source.name): \(kernel))")
        functions[key] = function!
        return function!
    }

    /// Compiles (or reads from the disk cache) and loads `module`; a cached image that the
    /// driver rejects (a truncated file, another program's bytes) is compiled again and replaced.
    func loadModule(_ module: CUDAKernelModule) throws -> OpaquePointer {
        try makeCurrent()
        let (image, cached) = try CUDAKernelCompiler.image(for: module.source, architecture: computeCapability)
        do {
            return try loadModule(image, name: module.source.name)
        } catch where cached {
            let fresh = try CUDAKernelCompiler.image(for: module.source, architecture: computeCapability, ignoringCache: true)
            return try loadModule(fresh.image, name: module.source.name)
        }
    }

    /// Loads a CUBIN or PTX image into this device's context.
    private func loadModule(_ image: [UInt8], name: String) throws -> OpaquePointer {
        var handle: OpaquePointer?
        // PTX must be NUL-terminated; a CUBIN is self-describing, the extra byte is harmless.
        var terminated = image
        terminated.append(0)
        try terminated.withUnsafeBytes {
            try driver.check(driver.cuModuleLoadData(&handle, $0.baseAddress!), "cuModuleLoadData(\(name))")
        }
        guard let handle else { throw ConvKitError.device(message: "cuModuleLoadData(\(name)) returned no module") }
        return handle
    }

    /// Queues `kernel` of `module` on this device's stream.
    func launch(_ module: CUDAKernelModule, _ kernel: String, _ shape: LaunchShape, _ arguments: [KernelArgument]) throws {
        guard shape.grid.x > 0, shape.grid.y > 0, shape.grid.z > 0 else { return }
        let function = try self.function(module, kernel)
        try makeCurrent()
        if shape.sharedBytes > 48 * 1024 {
            // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8: opt in to more than 48 KiB.
            try driver.check(driver.cuFuncSetAttribute(function, 8, Int32(shape.sharedBytes)),
                             "cuFuncSetAttribute(\(kernel), \(shape.sharedBytes) bytes of shared memory)")
        }
        let status = KernelArgumentPacker.withParameters(arguments) { parameters in
            driver.cuLaunchKernel(function, UInt32(shape.grid.x), UInt32(shape.grid.y), UInt32(shape.grid.z),
                                  UInt32(shape.block.x), UInt32(shape.block.y), UInt32(shape.block.z),
                                  UInt32(shape.sharedBytes), stream, parameters, nil)
        }
        try driver.check(status, "launch of \(module.source.name): \(kernel) (grid \(shape.grid), block \(shape.block))")
        if synchronousLaunches {
            try driver.check(driver.cuStreamSynchronize(stream), "kernel \(module.source.name): \(kernel)")
        }
    }

    /// Threads per block of the elementwise kernels.
    static let elementwiseBlock = 256

    /// Launches a grid-stride kernel over `count` items: enough blocks to fill the GPU
    /// (up to 32 per multiprocessor), each of `elementwiseBlock` threads.
    func launchElementwise(_ module: CUDAKernelModule, _ kernel: String, count: Int, _ arguments: [KernelArgument]) throws {
        guard count > 0 else { return }
        try launch(module, kernel, LaunchShape(grid: gridSize(count), block: Self.elementwiseBlock), arguments)
    }

    /// Blocks for a grid-stride loop over `count` items with `block` threads per block.
    func gridSize(_ count: Int, block: Int = CUDABackend.elementwiseBlock) -> Int {
        max(1, min((count + block - 1) / block, multiprocessorCount * 32))
    }

    /// A zeroed 4-byte word for the kernels whose last block to finish does the final step: each
    /// block counts itself in it and the last resets it to zero. Made on first use; one stream
    /// runs one such kernel at a time.
    func blockCounter() throws -> Storage {
        counterLock.lock()
        defer { counterLock.unlock() }
        if let counter { return counter }
        let made = try allocate(byteCount: 4)
        counter = made
        return made
    }

    /// A temporary device buffer of `count` floats (or int32s); it returns to the cache when
    /// the storage is released, and stream order keeps queued readers safe.
    func workspace(floats count: Int) throws -> Storage {
        try allocateUninitialized(byteCount: count * 4)
    }
}

/// The public face of the CUDA backend: availability, devices and settings.
public enum CUDA {
    /// Whether a CUDA driver is loaded and sees at least one GPU.
    public static var isAvailable: Bool { (try? deviceCount()) ?? 0 > 0 }

    /// The number of CUDA devices.
    /// - Throws: `ConvKitError.device` when the driver cannot be loaded.
    public static func deviceCount() throws -> Int { try CUDADriver.load().deviceCount() }

    /// Why `cuda:0` is not usable here (no driver, no GPU, no NVRTC to compile the kernels), or
    /// `nil` when it is; the text is a `ConvKitError.device` message.
    public static var unavailableReason: String? {
        do {
            _ = try CUDABackend.backend(index: 0)
        } catch let ConvKitError.device(message) { return message } catch { return "\(error)" }
        switch NVRTC.shared {
        case .success: return nil
        case let .failure(error):
            guard case let .device(message) = error else { return "\(error)" }
            return "cuda:0 is not available: the kernels cannot be compiled: \(message)"
        }
    }

    /// The backend of `device` (a `.cuda` device).
    public static func backend(_ device: Device = .cuda) throws -> CUDABackend {
        guard case let .cuda(index) = device else {
            throw ConvKitError.invalidArgument(op: "CUDA.backend", message: "\(device) is not a CUDA device")
        }
        return try CUDABackend.backend(index: index)
    }

    /// Waits until every operation queued on `device` has finished.
    public static func synchronize(_ device: Device = .cuda) throws { try backend(device).synchronize() }

    /// Strict fp32 (`false`, the default) or TF32 tensor-core products in GEMMs and convolutions
    /// on `device` (PyTorch: `torch.backends.cuda.matmul.allow_tf32` and
    /// `torch.backends.cudnn.allow_tf32`); strict fp32 convolutions on tensor cores use 3xTF32.
    public static func setAllowTF32(_ allow: Bool, on device: Device = .cuda) throws {
        try backend(device).allowTF32 = allow
    }

    /// A description of NVRTC (version and path), or why it is missing.
    public static var compilerDescription: String {
        switch NVRTC.shared {
        case let .success(nvrtc): return "NVRTC \(nvrtc.version) (\(nvrtc.library.path))"
        case let .failure(error): return "\(error)"
        }
    }

    /// Compiles every kernel source for `sm_<architecture>` with NVRTC (no GPU needed) and
    /// returns each file's name and image size; CI runs this so a kernel that does not compile
    /// fails the tests.
    /// - Throws: the first compilation error, with NVRTC's log.
    public static func compileAllKernels(architecture: Int = 90) throws -> [(name: String, bytes: Int)] {
        try CUDAKernelModule.allCases.map { module in
            (module.source.name, try CUDAKernelCompiler.compile(module.source, architecture: architecture).image.count)
        }
    }
}
