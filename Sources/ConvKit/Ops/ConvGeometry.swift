/// How a convolution pads its input: explicit sizes (symmetric on each side, as PyTorch's
/// integer padding), or PyTorch's strings `valid` (no padding) and `same` (output as large as
/// the input; stride 1 only; odd total padding puts the extra row/column at the bottom/right).
public enum Padding2d: Hashable, Sendable, ExpressibleByIntegerLiteral {
    /// `h` rows at top and bottom, `w` columns at left and right.
    case explicit(Size2d)
    /// No padding.
    case valid
    /// Padding that keeps the spatial size (stride must be 1).
    case same

    /// The same explicit padding on all sides, from a literal.
    public init(integerLiteral value: Int) { self = .explicit(Size2d(value)) }
}

/// How the padded border of a convolution's input is filled (PyTorch's `padding_mode`).
public enum PaddingMode: String, Hashable, Sendable, CaseIterable {
    /// Zeros (the default).
    case zeros
    /// Mirror without repeating the edge: `d c b | a b c d | c b a`.
    case reflect
    /// Repeat the edge value.
    case replicate
    /// Wrap around (periodic boundary).
    case circular
}

/// The chapter's ways of computing a convolution; every one is a real, selectable algorithm.
public enum ConvAlgorithm: String, Hashable, Sendable, CaseIterable {
    /// Pick per shape (depthwise for depthwise layers, otherwise the fastest GEMM path).
    case auto
    /// The seven nested loops.
    case direct
    /// Ŵ as a sparse (CSR) matrix: Y = ŴX, input gradient Ŵᵀ·dY, weight gradient reduced onto W.
    case sparseMatrix
    /// Explicit X̂ (im2col), then GEMM; col2im (a gather) for the input gradient.
    case im2colGEMM
    /// GEMM over tiles of X̂ built as they are consumed; X̂ never exists in memory.
    case implicitGEMM
    /// Dedicated kernels for groups == input channels (one filter per channel).
    case depthwise
    /// Winograd F(2×2, 3×3) and F(2×2, 5×5): 3×3 and 5×5 stride-1, undilated, ungrouped layers
    /// as 16 (36) GEMMs over transformed 4×4 (6×6) input tiles, 2.25× (2.8×) fewer
    /// multiplications than the other algorithms (see `WinogradTiling`). A NaN or infinity in the
    /// input reaches every output of the 2×2 tiles that read it, as in cuDNN's Winograd. On CUDA
    /// with TF32 allowed, 3×3 multiplies in TF32 and 5×5 in strict fp32 (its transforms magnify
    /// TF32's rounding past its tolerance). Other layers throw `ConvKitError.unsupported`.
    case winograd
    /// Through the discrete Fourier transform: stride-1, undilated, ungrouped layers whose padded
    /// plane fits a 32 × 32 frame (AlexNet's 27 × 27 and 13 × 13 layers), as one complex product
    /// per frequency (see `FFTConvTiling`; 8.4× fewer multiplications than direct for 5 × 5 on
    /// 27 × 27). A NaN or infinity in a plane reaches every output of that plane's products.
    /// Other layers throw `ConvKitError.unsupported`.
    case fft

    /// Whether this algorithm runs every convolution geometry (`.depthwise`, `.winograd` and
    /// `.fft` run only the layers they are made for).
    public var runsEveryGeometry: Bool { self != .depthwise && self != .winograd && self != .fft }
}

/// Every size of one 2-D convolution, resolved and validated: what a kernel needs to run.
///
/// Input `[n, inChannels, inHeight, inWidth]`, weight `[outChannels, inChannels/groups,
/// kernelHeight, kernelWidth]`, output `[n, outChannels, outHeight, outWidth]`. Padding is given
/// per side because `same` padding can be asymmetric.
public struct Conv2dGeometry: Hashable, Sendable {
    /// Batch size.
    public var n: Int
    /// Input channels (all groups).
    public var inChannels: Int
    /// Input height.
    public var inHeight: Int
    /// Input width.
    public var inWidth: Int
    /// Output channels (all groups).
    public var outChannels: Int
    /// Kernel height.
    public var kernelHeight: Int
    /// Kernel width.
    public var kernelWidth: Int
    /// Vertical stride.
    public var strideH: Int
    /// Horizontal stride.
    public var strideW: Int
    /// Zero rows above the input.
    public var padTop: Int
    /// Zero rows below the input.
    public var padBottom: Int
    /// Zero columns left of the input.
    public var padLeft: Int
    /// Zero columns right of the input.
    public var padRight: Int
    /// Vertical spacing of kernel taps.
    public var dilationH: Int
    /// Horizontal spacing of kernel taps.
    public var dilationW: Int
    /// Channel groups.
    public var groups: Int
    /// Output height (PyTorch's formula; a transposed convolution may set it smaller, see `resolveTransposed`).
    public var outHeight: Int
    /// Output width (as `outHeight`).
    public var outWidth: Int

    /// Creates a geometry from its sizes; use `Conv2dGeometry.resolve` for validated user input.
    public init(n: Int, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
                kernelHeight: Int, kernelWidth: Int, strideH: Int = 1, strideW: Int = 1,
                padTop: Int = 0, padBottom: Int = 0, padLeft: Int = 0, padRight: Int = 0,
                dilationH: Int = 1, dilationW: Int = 1, groups: Int = 1) {
        self.n = n; self.inChannels = inChannels; self.inHeight = inHeight; self.inWidth = inWidth
        self.outChannels = outChannels; self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.strideH = strideH; self.strideW = strideW
        self.padTop = padTop; self.padBottom = padBottom; self.padLeft = padLeft; self.padRight = padRight
        self.dilationH = dilationH; self.dilationW = dilationW; self.groups = groups
        self.outHeight = (inHeight + padTop + padBottom - dilationH * (kernelHeight - 1) - 1) / strideH + 1
        self.outWidth = (inWidth + padLeft + padRight - dilationW * (kernelWidth - 1) - 1) / strideW + 1
    }

    /// Input channels per group.
    public var inChannelsPerGroup: Int { inChannels / groups }
    /// Output channels per group.
    public var outChannelsPerGroup: Int { outChannels / groups }
    /// Length of one column of X̂ (and one row of the weight matrix): `C/groups · kH · kW`.
    public var patchSize: Int { inChannelsPerGroup * kernelHeight * kernelWidth }
    /// Whether each input channel is convolved on its own (groups == in channels).
    public var isDepthwise: Bool { groups == inChannels && groups > 1 }
    /// The forward convolution that is this stride-1 convolution's input gradient: dY as input
    /// (channels `outChannels`, size `outH × outW`), dX as output (`inChannels`, `inH × inW`),
    /// the same kernel size and dilation, the weight flipped and transposed per group, padding
    /// `dilation·(k − 1) − pad` on each side (it may be negative).
    public var inputGradientAsForward: Conv2dGeometry {
        var d = Conv2dGeometry(n: n, inChannels: outChannels, inHeight: outHeight, inWidth: outWidth,
                               outChannels: inChannels, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                               padTop: dilationH * (kernelHeight - 1) - padTop,
                               padBottom: dilationH * (kernelHeight - 1) - padBottom,
                               padLeft: dilationW * (kernelWidth - 1) - padLeft,
                               padRight: dilationW * (kernelWidth - 1) - padRight,
                               dilationH: dilationH, dilationW: dilationW, groups: groups)
        d.outHeight = inHeight
        d.outWidth = inWidth
        return d
    }
    /// Multiply-adds × 2 of the forward pass.
    public var flops: Double {
        2.0 * Double(n) * Double(outChannels) * Double(outHeight * outWidth) * Double(patchSize)
    }
    /// Input shape `[n, c, h, w]`.
    public var inputShape: [Int] { [n, inChannels, inHeight, inWidth] }
    /// Weight shape `[outChannels, inChannels/groups, kH, kW]`.
    public var weightShape: [Int] { [outChannels, inChannelsPerGroup, kernelHeight, kernelWidth] }
    /// Output shape `[n, outChannels, outH, outW]`.
    public var outputShape: [Int] { [n, outChannels, outHeight, outWidth] }
}

extension Conv2dGeometry {
    /// Validates a convolution's sizes and arguments as PyTorch does and resolves its geometry.
    ///
    /// - Parameters:
    ///   - op: the operation name used in error messages (`conv2d`).
    ///   - inputShape: `[n, c, h, w]` (an unbatched input is passed with `n` = 1).
    ///   - weightShape: `[outChannels, c/groups, kH, kW]`.
    /// - Throws: `ConvKitError.invalidArgument` naming the argument that is wrong.
    public static func resolve(op: String = "conv2d", inputShape: [Int], weightShape: [Int], stride: Size2d,
                               padding: Padding2d, dilation: Size2d, groups: Int) throws -> Conv2dGeometry {
        try require(inputShape.count == 4, op, "input must be 4-D [n, c, h, w], got shape \(inputShape)")
        try require(weightShape.count == 4, op, "weight must be 4-D [outChannels, inChannels/groups, kH, kW], got shape \(weightShape)")
        try require(groups >= 1, op, "groups must be at least 1, got \(groups)")
        try require(stride.h >= 1 && stride.w >= 1, op, "stride must be at least 1, got \(stride)")
        try require(dilation.h >= 1 && dilation.w >= 1, op, "dilation must be at least 1, got \(dilation)")
        try requireBounded(op, ("stride", stride), ("dilation", dilation))
        if case let .explicit(p) = padding { try requireBounded(op, ("padding", p)) }
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (outChannels, cPerGroup, kh, kw) = (weightShape[0], weightShape[1], weightShape[2], weightShape[3])
        try require(outChannels >= 1, op, "weight must have at least 1 output channel, got weight shape \(weightShape)")
        try require(c >= 1, op, "input must have at least 1 channel, got input shape \(inputShape)")
        try require(kh >= 1 && kw >= 1, op, "kernel size must be at least 1, got weight shape \(weightShape)")
        try require(outChannels % groups == 0, op,
                    "weight's \(outChannels) output channels are not divisible by groups \(groups)")
        try require(cPerGroup * groups == c, op,
                    "input has \(c) channels but weight expects \(cPerGroup * groups) (groups \(groups))")
        let pads: (top: Int, bottom: Int, left: Int, right: Int)
        switch padding {
        case let .explicit(p):
            try require(p.h >= 0 && p.w >= 0, op, "padding must be non-negative, got \(p)")
            pads = (p.h, p.h, p.w, p.w)
        case .valid:
            pads = (0, 0, 0, 0)
        case .same:
            try require(stride.h == 1 && stride.w == 1, op,
                        "padding 'same' is not supported for strided convolutions (stride \(stride))")
            let totalH = dilation.h * (kh - 1), totalW = dilation.w * (kw - 1)
            pads = (totalH / 2, totalH - totalH / 2, totalW / 2, totalW - totalW / 2)
        }
        let paddedH = h + pads.top + pads.bottom, paddedW = w + pads.left + pads.right
        let extentH = dilation.h * (kh - 1) + 1, extentW = dilation.w * (kw - 1) + 1
        try require(paddedH >= extentH && paddedW >= extentW, op,
                    "padded input size (\(paddedH) x \(paddedW)) is smaller than the dilated kernel size (\(extentH) x \(extentW))")
        return Conv2dGeometry(n: n, inChannels: c, inHeight: h, inWidth: w, outChannels: outChannels,
                              kernelHeight: kh, kernelWidth: kw, strideH: stride.h, strideW: stride.w,
                              padTop: pads.top, padBottom: pads.bottom, padLeft: pads.left, padRight: pads.right,
                              dilationH: dilation.h, dilationW: dilation.w, groups: groups)
    }

    /// Sizes above this are rejected, so that no size arithmetic can overflow.
    static let argumentLimit = 1 << 30

    /// Throws unless every named size is at most `argumentLimit`.
    static func requireBounded(_ op: String, _ sizes: (String, Size2d)...) throws {
        for (name, size) in sizes {
            try require(size.h <= argumentLimit && size.w <= argumentLimit, op,
                        "\(name) \(size) is too large (at most \(argumentLimit))")
        }
    }

    /// Validates a transposed convolution's arguments as PyTorch does and returns the geometry
    /// of the ordinary convolution it is the transpose of.
    ///
    /// The transposed convolution's input `[n, cin, h, w]` is that convolution's output, its
    /// output `[n, cout, hOut, wOut]` with `hOut = (h-1)·S - 2P + D(K-1) + outputPadding + 1` is
    /// that convolution's input, and its weight `[cin, cout/groups, kH, kW]` is that
    /// convolution's weight unchanged. `outHeight`/`outWidth` are set to `h`/`w` (output padding
    /// may add rows that the convolution would otherwise read).
    public static func resolveTransposed(op: String = "convTranspose2d", inputShape: [Int], weightShape: [Int],
                                         stride: Size2d, padding: Size2d, outputPadding: Size2d,
                                         groups: Int, dilation: Size2d) throws -> Conv2dGeometry {
        try require(inputShape.count == 4, op, "input must be 4-D [n, c, h, w], got shape \(inputShape)")
        try require(weightShape.count == 4, op, "weight must be 4-D [inChannels, outChannels/groups, kH, kW], got shape \(weightShape)")
        try require(groups >= 1, op, "groups must be at least 1, got \(groups)")
        try require(stride.h >= 1 && stride.w >= 1, op, "stride must be at least 1, got \(stride)")
        try require(dilation.h >= 1 && dilation.w >= 1, op, "dilation must be at least 1, got \(dilation)")
        try require(padding.h >= 0 && padding.w >= 0, op, "padding must be non-negative, got \(padding)")
        try require(outputPadding.h >= 0 && outputPadding.w >= 0, op, "outputPadding must be non-negative, got \(outputPadding)")
        try requireBounded(op, ("stride", stride), ("dilation", dilation), ("padding", padding), ("outputPadding", outputPadding))
        try require((outputPadding.h < stride.h || outputPadding.h < dilation.h)
                    && (outputPadding.w < stride.w || outputPadding.w < dilation.w), op,
                    "outputPadding \(outputPadding) must be smaller than either stride \(stride) or dilation \(dilation)")
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (weightIn, outPerGroup, kh, kw) = (weightShape[0], weightShape[1], weightShape[2], weightShape[3])
        try require(kh >= 1 && kw >= 1, op, "kernel size must be at least 1, got weight shape \(weightShape)")
        try require(weightIn >= 1 && outPerGroup >= 1, op, "weight shape \(weightShape) has an empty channel dimension")
        try require(weightIn % groups == 0, op,
                    "weight's \(weightIn) input channels (dimension 0) are not divisible by groups \(groups)")
        try require(c == weightIn, op, "input has \(c) channels but weight expects \(weightIn) (groups \(groups))")
        try require(h >= 1 && w >= 1, op, "input spatial size (\(h) x \(w)) must be at least 1 x 1")
        let outH = (h - 1) * stride.h - 2 * padding.h + dilation.h * (kh - 1) + outputPadding.h + 1
        let outW = (w - 1) * stride.w - 2 * padding.w + dilation.w * (kw - 1) + outputPadding.w + 1
        try require(outH >= 1 && outW >= 1, op,
                    "output size (\(outH) x \(outW)) is too small for input (\(h) x \(w)) with padding \(padding)")
        var g = Conv2dGeometry(n: n, inChannels: outPerGroup * groups, inHeight: outH, inWidth: outW,
                               outChannels: weightIn, kernelHeight: kh, kernelWidth: kw,
                               strideH: stride.h, strideW: stride.w,
                               padTop: padding.h, padBottom: padding.h, padLeft: padding.w, padRight: padding.w,
                               dilationH: dilation.h, dilationW: dilation.w, groups: groups)
        g.outHeight = h
        g.outWidth = w
        return g
    }
}
