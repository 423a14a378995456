/// Input checks shared by the models: they answer a wrong input with an error that names the
/// model and the expected shape, before any layer runs.
enum ModelInput {
    /// Requires a 4-D `[N, channels, H, W]` input with at least one row and column.
    static func requireImages(_ input: Tensor, model: String, channels: Int) throws {
        try require(input.rank == 4, model, "expected input of shape [N, \(channels), H, W], got \(input.shape)")
        try require(input.shape[1] == channels, model,
                    "expected \(channels) input channel\(channels == 1 ? "" : "s") (shape [N, \(channels), H, W]), got input of shape \(input.shape)")
        try require(input.dtype == .float32, model, "input must be float32, got \(input.dtype)")
    }

    /// The height (or width) that `size` becomes after the convolutions and max poolings of
    /// `features` (other modules keep it), or nil when some stage would leave nothing.
    static func spatialSize(after features: Sequential, _ size: Int, dimension: Int) -> Int? {
        var size = size
        for module in features.modules {
            if let nested = module as? Sequential {
                guard let inner = spatialSize(after: nested, size, dimension: dimension) else { return nil }
                size = inner
            } else if let conv = module as? Conv2d {
                let k = dimension == 0 ? conv.kernelSize.h : conv.kernelSize.w
                let s = dimension == 0 ? conv.stride.h : conv.stride.w
                let d = dimension == 0 ? conv.dilation.h : conv.dilation.w
                let p: Int
                switch conv.padding {
                case let .explicit(pad): p = dimension == 0 ? pad.h : pad.w
                case .valid: p = 0
                case .same: p = (d * (k - 1)) / 2
                }
                guard let next = windowCount(size, kernel: k, stride: s, padding: p, dilation: d, ceil: false,
                                             same: conv.padding == .same) else { return nil }
                size = next
            } else if let pool = module as? MaxPool2d {
                let k = dimension == 0 ? pool.kernelSize.h : pool.kernelSize.w
                let s = dimension == 0 ? pool.stride.h : pool.stride.w
                let p = dimension == 0 ? pool.padding.h : pool.padding.w
                let d = dimension == 0 ? pool.dilation.h : pool.dilation.w
                guard let next = windowCount(size, kernel: k, stride: s, padding: p, dilation: d, ceil: pool.ceilMode,
                                             same: false) else { return nil }
                size = next
            }
        }
        return size
    }

    /// Output length of a sliding window (PyTorch's formula, including ceil mode's rule that the
    /// last window must start inside the input or the left padding); nil when it is below 1.
    private static func windowCount(_ size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int,
                                    ceil: Bool, same: Bool) -> Int? {
        if same { return size >= 1 ? size : nil }
        let span = size + 2 * padding - dilation * (kernel - 1) - 1
        guard span >= 0 else { return nil }
        var out = (span + (ceil ? stride - 1 : 0)) / stride + 1
        if ceil && (out - 1) * stride >= size + padding { out -= 1 }
        return out >= 1 ? out : nil
    }

    /// Requires `features` to leave at least one row and column of `input`; the error names the
    /// smallest square input that works.
    static func requireLargeEnough(_ input: Tensor, model: String, features: Sequential) throws {
        let (h, w) = (input.shape[2], input.shape[3])
        if spatialSize(after: features, h, dimension: 0) != nil && spatialSize(after: features, w, dimension: 1) != nil { return }
        let smallest = (1...4096).first {
            spatialSize(after: features, $0, dimension: 0) != nil && spatialSize(after: features, $0, dimension: 1) != nil
        }
        let hint = smallest.map { " (the smallest input it accepts is \($0)x\($0))" } ?? ""
        throw ConvKitError.invalidArgument(op: model, message: "input of \(h)x\(w) is too small for the feature layers\(hint); got input of shape \(input.shape)")
    }
}
