/// The kernel contract: what a device must provide for tensors to live on it.
///
/// A backend sees plain storages, shapes and parameters; it knows nothing of `Tensor` or
/// autograd. The memory operations are here; each op family adds its kernels in a protocol of
/// its own (`TensorKernels`, `ConvolutionKernels`, `PoolingKernels`, `NNKernels`), and
/// `KernelBackend` is all of them together.
public protocol Backend: AnyObject {
    /// The device this backend runs on.
    var device: Device { get }
    /// Allocates `byteCount` bytes of zero-filled memory on the device.
    func allocate(byteCount: Int) throws -> Storage
    /// Allocates `byteCount` bytes whose contents are unspecified, for a buffer that is written
    /// in full before it is read (an op's output); saves `allocate`'s zero fill.
    func allocateUninitialized(byteCount: Int) throws -> Storage
    /// Copies `bytes` from host memory into the start of `storage`.
    func upload(_ bytes: UnsafeRawBufferPointer, to storage: Storage) throws
    /// Copies the first `bytes.count` bytes of `storage` into host memory.
    func download(_ storage: Storage, into bytes: UnsafeMutableRawBufferPointer) throws
    /// Copies `byteCount` bytes between two storages of this device.
    func copy(from source: Storage, to destination: Storage, byteCount: Int) throws
    /// Sets the first `count` floats of `storage` to `value`.
    func fill(_ storage: Storage, count: Int, value: Float) throws
    /// `destination[i] += source[i]` for the first `count` floats: gradient accumulation.
    func accumulate(_ source: Storage, into destination: Storage, count: Int) throws
}

extension Backend {
    /// The zero-filled allocation, for backends where zeroing costs next to nothing.
    public func allocateUninitialized(byteCount: Int) throws -> Storage { try allocate(byteCount: byteCount) }
}

/// A backend that implements every kernel family.
public typealias KernelBackend = Backend & TensorKernels & ConvolutionKernels & PoolingKernels & NNKernels & NormalizationKernels & OptimizerKernels

/// The backend that runs kernels for `device`.
///
/// - Throws: `ConvKitError.device` when the device is not available in this build or machine.
func backend(for device: Device) throws -> any KernelBackend {
    switch device {
    case .cpu:
        return CPUBackend.shared
    case let .cuda(index):
        return try CUDABackend.backend(index: index)
    }
}
