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
}

/// Every size of one 2-D convolution, resolved and validated: what a kernel needs to run.
///
/// Input `[n, inChannels, inHeight, inWidth]`, weight `[outChannels, inChannels/groups,
/// kernelHeight, kernelWidth]`, output `[n, outChannels, outHeight, outWidth]`. Padding is given
/// per side because `same` padding can be asymmetric.
public struct Conv2dGeometry: Hashable, Sendable {
    public var n: Int
    public var inChannels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var outChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideH: Int
    public var strideW: Int
    public var padTop: Int
    public var padBottom: Int
    public var padLeft: Int
    public var padRight: Int
    public var dilationH: Int
    public var dilationW: Int
    public var groups: Int
    public var outHeight: Int
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
