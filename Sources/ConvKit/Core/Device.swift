/// Where a tensor's memory lives and where its operations run.
public enum Device: Hashable, CustomStringConvertible, Sendable {
    /// Host memory; kernels run on the CPU backend.
    case cpu
    /// The CUDA device with the given ordinal.
    case cuda(Int)

    /// The first CUDA device, `cuda(0)`.
    public static var cuda: Device { .cuda(0) }

    /// `cpu` or `cuda:N`, as PyTorch prints devices.
    public var description: String {
        switch self {
        case .cpu: return "cpu"
        case let .cuda(index): return "cuda:\(index)"
        }
    }
}

/// The element type of a tensor. ConvKit computes in `float32`; `int32` holds indices and labels.
public enum DType: String, Hashable, Sendable {
    /// 32-bit IEEE float: every differentiable tensor.
    case float32
    /// 32-bit signed integer: class labels, pooling indices, argmax results.
    case int32

    /// Bytes per element.
    public var size: Int { 4 }
}
