/// The sizes of one padding of the last two dimensions: `planes` independent `[inputHeight,
/// inputWidth]` planes become `[outputHeight, outputWidth]` planes. Pads may be negative (crop).
///
/// Validated by `pad(_:_:mode:value:)` before any kernel sees it: every output size is
/// non-negative, reflect pads are smaller than the dimension, circular pads fit the cropped
/// dimension, replicate/reflect dimensions are non-empty.
public struct PadGeometry: Hashable, Sendable {
    /// Number of independent planes (the product of every leading dimension).
    public var planes: Int
    /// Rows of one input plane.
    public var inputHeight: Int
    /// Columns of one input plane.
    public var inputWidth: Int
    /// Rows added above (negative: removed).
    public var top: Int
    /// Rows added below (negative: removed).
    public var bottom: Int
    /// Columns added on the left (negative: removed).
    public var left: Int
    /// Columns added on the right (negative: removed).
    public var right: Int
    /// How the new cells are filled.
    public var mode: PadMode
    /// The fill value of `.constant` mode.
    public var value: Float

    /// A geometry from its sizes.
    public init(planes: Int, inputHeight: Int, inputWidth: Int, top: Int, bottom: Int,
                left: Int, right: Int, mode: PadMode, value: Float = 0) {
        self.planes = planes; self.inputHeight = inputHeight; self.inputWidth = inputWidth
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
        self.mode = mode; self.value = value
    }

    /// Rows of one output plane.
    public var outputHeight: Int { inputHeight + top + bottom }
    /// Columns of one output plane.
    public var outputWidth: Int { inputWidth + left + right }
}

/// The sizes of one 2-D pooling over `planes` independent `[inputHeight, inputWidth]` planes
/// (N·C of an NCHW tensor), resolved and validated by the op that builds it.
///
/// Window `(oh, ow)` covers rows `oh·stride.h − padding.h + k·dilation.h` for `k` in
/// `0..<kernel.h` (columns likewise); cells outside the input are padding.
public struct Pool2dGeometry: Hashable, Sendable {
    /// Number of independent planes.
    public var planes: Int
    /// Rows of one input plane.
    public var inputHeight: Int
    /// Columns of one input plane.
    public var inputWidth: Int
    /// Rows of one output plane.
    public var outputHeight: Int
    /// Columns of one output plane.
    public var outputWidth: Int
    /// Window size.
    public var kernel: Size2d
    /// Step between windows.
    public var stride: Size2d
    /// Implicit padding on each side.
    public var padding: Size2d
    /// Spacing between the taps of a window (1 for average pooling).
    public var dilation: Size2d

    /// A geometry from its sizes.
    public init(planes: Int, inputHeight: Int, inputWidth: Int, outputHeight: Int, outputWidth: Int,
                kernel: Size2d, stride: Size2d, padding: Size2d, dilation: Size2d = 1) {
        self.planes = planes; self.inputHeight = inputHeight; self.inputWidth = inputWidth
        self.outputHeight = outputHeight; self.outputWidth = outputWidth
        self.kernel = kernel; self.stride = stride; self.padding = padding; self.dilation = dilation
    }

    /// Elements in one input plane.
    public var inputPlaneSize: Int { inputHeight * inputWidth }
    /// Elements in one output plane.
    public var outputPlaneSize: Int { outputHeight * outputWidth }
}

/// How average pooling divides each window's sum (PyTorch's `count_include_pad` and
/// `divisor_override`).
public struct AvgPoolDivisor: Hashable, Sendable {
    /// Count padding cells inside `[−padding, size + padding)` in the divisor.
    public var countIncludePad: Bool
    /// Divide every window by this instead (non-zero).
    public var override: Int?

    /// A divisor rule.
    public init(countIncludePad: Bool, override: Int?) {
        self.countIncludePad = countIncludePad; self.override = override
    }
}

/// Kernels for padding, max/average/adaptive pooling, unpooling and their gradients.
///
/// Float storages hold contiguous planes; index storages hold `int32` flat positions
/// `h·W + w` within a plane. Every backward is a gather (each input cell sums what flows to
/// it in a fixed order), so results are bitwise reproducible.
public protocol PoolingKernels {
    /// `output = pad(input)` on the last two dimensions.
    func pad2d(_ input: Storage, output: Storage, geometry: PadGeometry) throws
    /// Folds the gradient of the padded tensor back onto the input (sums the cells that
    /// reflect/replicate/circular padding copied from each input cell).
    func pad2dBackward(_ gradOutput: Storage, gradInput: Storage, geometry: PadGeometry) throws

    /// Max pooling; also writes each window's argmax into `indices` when given. A NaN in a
    /// window is its result (index of the last NaN); ties keep the first maximum.
    func maxPool2d(_ input: Storage, output: Storage, indices: Storage?, geometry: Pool2dGeometry) throws
    /// `gradInput[i] = Σ gradOutput[o]` over windows `o` containing cell `i` whose argmax is `i`.
    func maxPool2dBackward(_ gradOutput: Storage, indices: Storage, gradInput: Storage,
                           geometry: Pool2dGeometry) throws

    /// A buffer for a compact argmax of `maxPool2d` over `geometry` (one byte per window: the
    /// winning tap's position `kh·kW + kw` within its window, 255 for a window with no tap inside
    /// the input), which only this backend's `maxPool2dBackward(_:compactArgmax:…)` reads; nil when
    /// the backend keeps `int32` indices for this geometry. The public indices (`return_indices`)
    /// are always the `int32` form.
    func maxPool2dCompactArgmax(geometry: Pool2dGeometry) throws -> Storage?
    /// `maxPool2d` that also (or instead of `indices`) writes the compact argmax allocated by
    /// `maxPool2dCompactArgmax`.
    func maxPool2d(_ input: Storage, output: Storage, indices: Storage?, compactArgmax: Storage?,
                   geometry: Pool2dGeometry) throws
    /// `maxPool2dBackward` from the compact argmax: the same sums in the same order.
    func maxPool2dBackward(_ gradOutput: Storage, compactArgmax: Storage, gradInput: Storage,
                           geometry: Pool2dGeometry) throws

    /// Average pooling (dilation must be 1).
    func avgPool2d(_ input: Storage, output: Storage, geometry: Pool2dGeometry, divisor: AvgPoolDivisor) throws
    /// `gradInput[i] = Σ gradOutput[o] / divisor(o)` over windows `o` containing cell `i`.
    func avgPool2dBackward(_ gradOutput: Storage, gradInput: Storage, geometry: Pool2dGeometry,
                           divisor: AvgPoolDivisor) throws

    /// Adaptive average pooling: output cell `i` averages rows `⌊i·H/outH⌋ ..< ⌈(i+1)·H/outH⌉`
    /// (columns likewise). Only the plane and size fields of `geometry` are used.
    func adaptiveAvgPool2d(_ input: Storage, output: Storage, geometry: Pool2dGeometry) throws
    /// Gradient of `adaptiveAvgPool2d` as a gather.
    func adaptiveAvgPool2dBackward(_ gradOutput: Storage, gradInput: Storage, geometry: Pool2dGeometry) throws

    /// Max unpooling: zeroes `output` (planes of `outputHeight × outputWidth`), then writes each
    /// input value at its index in its plane (later values win on duplicates). Reads the
    /// geometry's `planes`, input and output sizes; here the *input* is the pooled tensor.
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `maxUnpool2d`) naming the first index outside
    ///   `0 ..< outputHeight·outputWidth`, before anything is written.
    func maxUnpool2d(_ input: Storage, indices: Storage, output: Storage, geometry: Pool2dGeometry) throws
    /// `gradInput[i] = gradOutput[indices[i]]` within each plane (indices already validated).
    func maxUnpool2dBackward(_ gradOutput: Storage, indices: Storage, gradInput: Storage,
                             geometry: Pool2dGeometry) throws
}

/// Backends without a compact argmax keep the `int32` indices for the backward pass.
extension PoolingKernels {
    public func maxPool2dCompactArgmax(geometry: Pool2dGeometry) throws -> Storage? { nil }

    public func maxPool2d(_ input: Storage, output: Storage, indices: Storage?, compactArgmax: Storage?,
                          geometry: Pool2dGeometry) throws {
        guard compactArgmax == nil else {
            throw ConvKitError.unsupported(op: "maxPool2d", message: "this backend has no compact argmax")
        }
        try maxPool2d(input, output: output, indices: indices, geometry: geometry)
    }

    public func maxPool2dBackward(_ gradOutput: Storage, compactArgmax: Storage, gradInput: Storage,
                                  geometry: Pool2dGeometry) throws {
        throw ConvKitError.unsupported(op: "maxPool2dBackward", message: "this backend has no compact argmax")
    }
}
