/// A 2-D convolution layer, as `torch.nn.Conv2d`: `conv2d(x, weight, bias, …)` with learnable
/// `weight` `[outChannels, inChannels/groups, kH, kW]` and optional `bias` `[outChannels]`.
///
/// Parameters are named `weight` and `bias` (PyTorch's state-dict names) and initialised as
/// PyTorch's `reset_parameters`: both `U(−1/√fan_in, 1/√fan_in)`, `fan_in = inChannels/groups·kH·kW`,
/// drawn from `RandomState`.
public final class Conv2d: Module {
    /// Channels of the input.
    public let inChannels: Int
    /// Channels of the output.
    public let outChannels: Int
    /// Kernel height and width.
    public let kernelSize: Size2d
    /// Step of the kernel.
    public let stride: Size2d
    /// Padding: explicit sizes, `.valid` or `.same`.
    public let padding: Padding2d
    /// Spacing between kernel taps.
    public let dilation: Size2d
    /// Number of channel groups (`groups == inChannels` is a depthwise convolution).
    public let groups: Int
    /// How the padded border is filled.
    public let paddingMode: PaddingMode
    /// The algorithm used to compute the convolution (`.auto` picks one per shape).
    public var algorithm: ConvAlgorithm
    /// The learnable filters, `[outChannels, inChannels/groups, kH, kW]`.
    public let weight: Tensor
    /// The learnable per-channel offset `[outChannels]`, if the layer has one.
    public let bias: Tensor?

    /// Creates the layer with PyTorch's default initialisation.
    ///
    /// - Parameters: as `torch.nn.Conv2d` (`in_channels`, `out_channels`, `kernel_size`, `stride`,
    ///   `padding`, `dilation`, `groups`, `bias`, `padding_mode`), plus the convolution `algorithm`.
    /// - Throws: `ConvKitError.invalidArgument` (op `Conv2d`) for non-positive channels, kernel size,
    ///   stride, dilation or groups, negative padding, channels not divisible by `groups`, or
    ///   `.same` padding with a stride other than 1.
    public init(inChannels: Int, outChannels: Int, kernelSize: Size2d, stride: Size2d = 1, padding: Padding2d = 0,
                dilation: Size2d = 1, groups: Int = 1, bias: Bool = true, paddingMode: PaddingMode = .zeros,
                algorithm: ConvAlgorithm = .auto) throws {
        let op = "Conv2d"
        try require(inChannels > 0 && outChannels > 0, op, "inChannels and outChannels must be positive, got \(inChannels) and \(outChannels)")
        try require(groups > 0, op, "groups must be a positive integer, got \(groups)")
        try require(inChannels % groups == 0, op, "inChannels (\(inChannels)) must be divisible by groups (\(groups))")
        try require(outChannels % groups == 0, op, "outChannels (\(outChannels)) must be divisible by groups (\(groups))")
        try require(kernelSize.h > 0 && kernelSize.w > 0, op, "kernelSize must be positive, got \(kernelSize)")
        try require(stride.h > 0 && stride.w > 0, op, "stride must be positive, got \(stride)")
        try require(dilation.h > 0 && dilation.w > 0, op, "dilation must be positive, got \(dilation)")
        switch padding {
        case let .explicit(p):
            try require(p.h >= 0 && p.w >= 0, op, "padding must be non-negative, got \(p)")
        case .same:
            try require(stride == Size2d(1), op, "padding .same is not supported for strided convolutions (stride \(stride))")
        case .valid:
            break
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.paddingMode = paddingMode
        self.algorithm = algorithm
        weight = try Tensor.zeros([outChannels, inChannels / groups, kernelSize.h, kernelSize.w], requiresGrad: true)
        self.bias = bias ? try Tensor.zeros([outChannels], requiresGrad: true) : nil
        super.init()
        try resetParameters()
    }

    /// Re-draws the parameters as PyTorch's `reset_parameters` (see `Init.pytorchLayerDefault`).
    public func resetParameters() throws {
        try withNoGrad { try Init.pytorchLayerDefault(weight: weight, bias: bias) }
    }

    /// `weight`, then `bias` when present.
    public override func namedOwnParameters() -> [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// `conv2d` of `input` (`[N, inChannels, H, W]` or `[inChannels, H, W]`) with the layer's parameters.
    public override func forward(_ input: Tensor) throws -> Tensor {
        try conv2d(input, weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups,
                   paddingMode: paddingMode, algorithm: algorithm)
    }
}

/// A 2-D transposed convolution layer, as `torch.nn.ConvTranspose2d`: `convTranspose2d(x, weight,
/// bias, …)` with learnable `weight` `[inChannels, outChannels/groups, kH, kW]` and optional `bias`
/// `[outChannels]`.
///
/// Initialised as PyTorch's: both `U(−1/√fan_in, 1/√fan_in)` where, as PyTorch computes it from
/// the weight's dimension 1, `fan_in = outChannels/groups·kH·kW`.
public final class ConvTranspose2d: Module {
    /// Channels of the input.
    public let inChannels: Int
    /// Channels of the output.
    public let outChannels: Int
    /// Kernel height and width.
    public let kernelSize: Size2d
    /// Stride of the convolution this one transposes.
    public let stride: Size2d
    /// Padding of the convolution this one transposes.
    public let padding: Size2d
    /// Extra rows/columns at the bottom/right of the output (each below the stride or dilation).
    public let outputPadding: Size2d
    /// Number of channel groups.
    public let groups: Int
    /// Spacing between kernel taps.
    public let dilation: Size2d
    /// The learnable filters, `[inChannels, outChannels/groups, kH, kW]`.
    public let weight: Tensor
    /// The learnable per-channel offset `[outChannels]`, if the layer has one.
    public let bias: Tensor?

    /// Creates the layer with PyTorch's default initialisation.
    ///
    /// - Parameters: as `torch.nn.ConvTranspose2d` (`in_channels`, `out_channels`, `kernel_size`,
    ///   `stride`, `padding`, `output_padding`, `groups`, `bias`, `dilation`; only zero padding).
    /// - Throws: `ConvKitError.invalidArgument` (op `ConvTranspose2d`) for non-positive channels,
    ///   kernel size, stride, dilation or groups, negative padding, channels not divisible by `groups`,
    ///   or an output padding not smaller than the stride or the dilation.
    public init(inChannels: Int, outChannels: Int, kernelSize: Size2d, stride: Size2d = 1, padding: Size2d = 0,
                outputPadding: Size2d = 0, groups: Int = 1, bias: Bool = true, dilation: Size2d = 1) throws {
        let op = "ConvTranspose2d"
        try require(inChannels > 0 && outChannels > 0, op, "inChannels and outChannels must be positive, got \(inChannels) and \(outChannels)")
        try require(groups > 0, op, "groups must be a positive integer, got \(groups)")
        try require(inChannels % groups == 0, op, "inChannels (\(inChannels)) must be divisible by groups (\(groups))")
        try require(outChannels % groups == 0, op, "outChannels (\(outChannels)) must be divisible by groups (\(groups))")
        try require(kernelSize.h > 0 && kernelSize.w > 0, op, "kernelSize must be positive, got \(kernelSize)")
        try require(stride.h > 0 && stride.w > 0, op, "stride must be positive, got \(stride)")
        try require(dilation.h > 0 && dilation.w > 0, op, "dilation must be positive, got \(dilation)")
        try require(padding.h >= 0 && padding.w >= 0, op, "padding must be non-negative, got \(padding)")
        try require(outputPadding.h >= 0 && outputPadding.w >= 0, op, "outputPadding must be non-negative, got \(outputPadding)")
        try require(outputPadding.h < max(stride.h, dilation.h) && outputPadding.w < max(stride.w, dilation.w), op,
                    "outputPadding \(outputPadding) must be smaller than either stride \(stride) or dilation \(dilation)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.groups = groups
        self.dilation = dilation
        weight = try Tensor.zeros([inChannels, outChannels / groups, kernelSize.h, kernelSize.w], requiresGrad: true)
        self.bias = bias ? try Tensor.zeros([outChannels], requiresGrad: true) : nil
        super.init()
        try resetParameters()
    }

    /// Re-draws the parameters as PyTorch's `reset_parameters` (see `Init.pytorchLayerDefault`).
    public func resetParameters() throws {
        try withNoGrad { try Init.pytorchLayerDefault(weight: weight, bias: bias) }
    }

    /// `weight`, then `bias` when present.
    public override func namedOwnParameters() -> [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// `convTranspose2d` of `input` (`[N, inChannels, H, W]` or `[inChannels, H, W]`) with the layer's
    /// parameters and `outputPadding`.
    public override func forward(_ input: Tensor) throws -> Tensor {
        try convTranspose2d(input, weight, bias: bias, stride: stride, padding: padding, outputPadding: outputPadding,
                            groups: groups, dilation: dilation)
    }

    /// The transposed convolution with the output padding chosen to give `outputSize` (`[h, w]`, or a
    /// full shape of which the last two count), as PyTorch's `forward(input, output_size)`.
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `ConvTranspose2d`) when the size is not reachable:
    ///   each of `h` and `w` must lie in `[minimum, minimum + max(stride, dilation) − 1]`.
    public func callAsFunction(_ input: Tensor, outputSize: [Int]) throws -> Tensor {
        let op = "ConvTranspose2d"
        try require(input.rank == 3 || input.rank == 4, op, "expected 3-D or 4-D input, got shape \(input.shape)")
        try require(outputSize.count >= 2, op, "outputSize must end with [h, w], got \(outputSize)")
        let wanted = Array(outputSize.suffix(2))
        let spatial = Array(input.shape.suffix(2))
        let strides = [stride.h, stride.w], pads = [padding.h, padding.w]
        let kernels = [kernelSize.h, kernelSize.w], dilations = [dilation.h, dilation.w]
        var extra = [0, 0]
        for d in 0..<2 {
            let minimum = (spatial[d] - 1) * strides[d] - 2 * pads[d] + dilations[d] * (kernels[d] - 1) + 1
            let maximum = minimum + max(strides[d], dilations[d]) - 1
            try require(wanted[d] >= minimum && wanted[d] <= maximum, op,
                        "requested an output size of \(wanted), but valid sizes range from \(minimum) to \(maximum) in dimension \(d) (for an input of \(spatial))")
            extra[d] = wanted[d] - minimum
        }
        return try convTranspose2d(input, weight, bias: bias, stride: stride, padding: padding,
                                   outputPadding: Size2d(extra[0], extra[1]), groups: groups, dilation: dilation)
    }
}
