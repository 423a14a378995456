/// 2-D max pooling, as `torch.nn.MaxPool2d`: `maxPool2d(x, …)` with the layer's arguments.
public final class MaxPool2d: Module {
    /// Window height and width.
    public let kernelSize: Size2d
    /// Step of the window (PyTorch's default: the kernel size).
    public let stride: Size2d
    /// Implicit `-inf` padding on each side (at most half the kernel).
    public let padding: Size2d
    /// Spacing between window taps.
    public let dilation: Size2d
    /// Round the output size up instead of down.
    public let ceilMode: Bool

    /// Creates the layer (`kernel_size`, `stride` (nil: the kernel size), `padding`, `dilation`, `ceil_mode`).
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `MaxPool2d`) for a non-positive kernel size,
    ///   stride or dilation, or padding that is negative or above half the kernel.
    public init(kernelSize: Size2d, stride: Size2d? = nil, padding: Size2d = 0, dilation: Size2d = 1,
                ceilMode: Bool = false) throws {
        let stride = stride ?? kernelSize
        try PoolingLayerChecks.check("MaxPool2d", kernelSize: kernelSize, stride: stride, padding: padding)
        try require(dilation.h > 0 && dilation.w > 0, "MaxPool2d", "dilation must be positive, got \(dilation)")
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.ceilMode = ceilMode
    }

    /// The pooled input.
    public override func forward(_ input: Tensor) throws -> Tensor {
        try maxPool2d(input, kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode)
    }

    /// The pooled input and each window's argmax (`return_indices=True`), for `MaxUnpool2d`.
    public func forwardWithIndices(_ input: Tensor) throws -> (output: Tensor, indices: Tensor) {
        try maxPool2dWithIndices(input, kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation,
                                 ceilMode: ceilMode)
    }
}

/// 2-D average pooling, as `torch.nn.AvgPool2d`: `avgPool2d(x, …)` with the layer's arguments.
public final class AvgPool2d: Module {
    /// Window height and width.
    public let kernelSize: Size2d
    /// Step of the window (PyTorch's default: the kernel size).
    public let stride: Size2d
    /// Implicit zero padding on each side (at most half the kernel).
    public let padding: Size2d
    /// Round the output size up instead of down.
    public let ceilMode: Bool
    /// Whether padding cells count in the divisor.
    public let countIncludePad: Bool
    /// A fixed divisor replacing the window size, if given.
    public let divisorOverride: Int?

    /// Creates the layer (`kernel_size`, `stride` (nil: the kernel size), `padding`, `ceil_mode`,
    /// `count_include_pad`, `divisor_override`).
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `AvgPool2d`) for a non-positive kernel size or
    ///   stride, padding that is negative or above half the kernel, or a zero `divisorOverride`.
    public init(kernelSize: Size2d, stride: Size2d? = nil, padding: Size2d = 0, ceilMode: Bool = false,
                countIncludePad: Bool = true, divisorOverride: Int? = nil) throws {
        let stride = stride ?? kernelSize
        try PoolingLayerChecks.check("AvgPool2d", kernelSize: kernelSize, stride: stride, padding: padding)
        try require(divisorOverride != 0, "AvgPool2d", "divisorOverride must not be zero")
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
        self.divisorOverride = divisorOverride
    }

    /// The pooled input.
    public override func forward(_ input: Tensor) throws -> Tensor {
        try avgPool2d(input, kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode,
                      countIncludePad: countIncludePad, divisorOverride: divisorOverride)
    }
}

/// Average pooling to a fixed output size, as `torch.nn.AdaptiveAvgPool2d`.
public final class AdaptiveAvgPool2d: Module {
    /// The output's height and width.
    public let outputSize: Size2d

    /// Creates the layer (`output_size`; an integer means a square output).
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `AdaptiveAvgPool2d`) for a negative size.
    public init(outputSize: Size2d) throws {
        try require(outputSize.h >= 0 && outputSize.w >= 0, "AdaptiveAvgPool2d", "outputSize must be non-negative, got \(outputSize)")
        self.outputSize = outputSize
    }

    /// The input pooled to `outputSize`.
    public override func forward(_ input: Tensor) throws -> Tensor {
        try adaptiveAvgPool2d(input, outputSize: outputSize)
    }
}

/// The inverse of max pooling, as `torch.nn.MaxUnpool2d`: call it as `unpool(x, indices: i)` with
/// the indices from `MaxPool2d.forwardWithIndices`.
public final class MaxUnpool2d: Module {
    /// Window height and width of the max pooling this inverts.
    public let kernelSize: Size2d
    /// Its stride (PyTorch's default: the kernel size).
    public let stride: Size2d
    /// Its padding.
    public let padding: Size2d

    /// Creates the layer (`kernel_size`, `stride` (nil: the kernel size), `padding`).
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `MaxUnpool2d`) for a non-positive kernel size or
    ///   stride, or negative padding.
    public init(kernelSize: Size2d, stride: Size2d? = nil, padding: Size2d = 0) throws {
        let stride = stride ?? kernelSize
        try require(kernelSize.h > 0 && kernelSize.w > 0, "MaxUnpool2d", "kernelSize must be positive, got \(kernelSize)")
        try require(stride.h > 0 && stride.w > 0, "MaxUnpool2d", "stride must be positive, got \(stride)")
        try require(padding.h >= 0 && padding.w >= 0, "MaxUnpool2d", "padding must be non-negative, got \(padding)")
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
    }

    /// `maxUnpool2d(input, indices:, …)`; `outputSize` (`[h, w]` or `[n, c, h, w]`) picks a size
    /// other than the default, as PyTorch's `output_size`.
    public func callAsFunction(_ input: Tensor, indices: Tensor, outputSize: [Int]? = nil) throws -> Tensor {
        try maxUnpool2d(input, indices: indices, kernelSize: kernelSize, stride: stride, padding: padding,
                        outputSize: outputSize)
    }

    /// Always throws: unpooling needs the indices; call `unpool(x, indices:)`.
    public override func forward(_ input: Tensor) throws -> Tensor {
        throw ConvKitError.invalidArgument(op: "MaxUnpool2d",
                                           message: "MaxUnpool2d needs the pooling indices: call it as unpool(x, indices: indices)")
    }
}

/// Argument checks shared by the pooling layers' initialisers.
enum PoolingLayerChecks {
    /// Positive kernel and stride, padding in `[0, kernel/2]`, as PyTorch's pooling layers require.
    static func check(_ op: String, kernelSize: Size2d, stride: Size2d, padding: Size2d) throws {
        try require(kernelSize.h > 0 && kernelSize.w > 0, op, "kernelSize must be positive, got \(kernelSize)")
        try require(stride.h > 0 && stride.w > 0, op, "stride must be positive, got \(stride)")
        try require(padding.h >= 0 && padding.w >= 0 && padding.h <= kernelSize.h / 2 && padding.w <= kernelSize.w / 2, op,
                    "padding should be non-negative and at most half of kernel size, got padding \(padding) with kernelSize \(kernelSize)")
    }
}
