/// PyTorch's pooled size of one dimension: `⌊(size + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1`
/// (rounded up in ceil mode, where the last window must still start inside the input or the
/// left padding).
func pooledOutputSize(_ size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int, ceilMode: Bool) -> Int {
    let span = size + 2 * padding - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0)
    var out = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1
    if ceilMode && (out - 1) * stride >= size + padding { out -= 1 }
    return out
}

/// Checks a pooling input: float32, CHW or NCHW, no empty dimension except the batch, and
/// planes small enough for `int32` indices. Returns (planes, height, width).
private func checkPoolInput(_ input: Tensor, _ op: String, allowEmptyChannels: Bool = false) throws -> (planes: Int, height: Int, width: Int) {
    try require(input.dtype == .float32, op, "input must be float32, got \(input.dtype)")
    try require(input.rank == 3 || input.rank == 4, op, "expected a 3-D (CHW) or 4-D (NCHW) input, got shape \(input.shape)")
    let shape = input.shape, rank = input.rank
    let mustBeNonEmpty = allowEmptyChannels ? Array(shape.suffix(2)) : Array(shape[(rank == 4 ? 1 : 0)...])
    try require(mustBeNonEmpty.allSatisfy { $0 > 0 }, op,
                "input \(shape) has an empty dimension (only the batch\(allowEmptyChannels ? " and channel dimensions" : " dimension") may be 0)")
    let height = shape[rank - 2], width = shape[rank - 1]
    try require(height * width <= Int(Int32.max), op, "an input plane of \(height)x\(width) is too large for int32 indices")
    return (shape[..<(rank - 2)].reduce(1, *), height, width)
}

/// Validates kernel, stride, padding and dilation of a max/average pooling and computes its
/// geometry and output shape.
private func resolvePool2d(_ input: Tensor, _ op: String, kernelSize: Size2d, stride: Size2d?, padding: Size2d,
                           dilation: Size2d, ceilMode: Bool) throws -> (geometry: Pool2dGeometry, outputShape: [Int]) {
    let (planes, height, width) = try checkPoolInput(input, op)
    let stride = stride ?? kernelSize
    try require(kernelSize.h > 0 && kernelSize.w > 0, op, "kernelSize must be positive, got \(kernelSize)")
    try require(stride.h > 0 && stride.w > 0, op, "stride must be positive, got \(stride)")
    try require(dilation.h > 0 && dilation.w > 0, op, "dilation must be positive, got \(dilation)")
    try require(padding.h >= 0 && padding.w >= 0, op, "padding must be non-negative, got \(padding)")
    let limit = Int(Int32.max)
    try require(kernelSize.h <= limit && kernelSize.w <= limit && stride.h <= limit && stride.w <= limit
                && dilation.h <= limit && dilation.w <= limit, op,
                "kernelSize \(kernelSize), stride \(stride) and dilation \(dilation) must be at most \(limit)")
    try require(padding.h <= kernelSize.h / 2 && padding.w <= kernelSize.w / 2, op,
                "padding \(padding) must be at most half of kernelSize \(kernelSize)")
    let outH = pooledOutputSize(height, kernel: kernelSize.h, stride: stride.h, padding: padding.h,
                                dilation: dilation.h, ceilMode: ceilMode)
    let outW = pooledOutputSize(width, kernel: kernelSize.w, stride: stride.w, padding: padding.w,
                                dilation: dilation.w, ceilMode: ceilMode)
    try require(outH > 0 && outW > 0, op,
                "output size would be \(outH)x\(outW) for input \(input.shape) (kernelSize \(kernelSize), stride \(stride), padding \(padding), dilation \(dilation), ceilMode \(ceilMode))")
    let geometry = Pool2dGeometry(planes: planes, inputHeight: height, inputWidth: width, outputHeight: outH,
                                  outputWidth: outW, kernel: kernelSize, stride: stride, padding: padding, dilation: dilation)
    return (geometry, input.shape.dropLast(2) + [outH, outW])
}

/// Max pooling and its argmax, recorded for autograd; `wantIndices` forces the indices.
private func maxPool2dImpl(_ input: Tensor, _ op: String, kernelSize: Size2d, stride: Size2d?, padding: Size2d,
                           dilation: Size2d, ceilMode: Bool, wantIndices: Bool) throws -> (output: Tensor, indices: Tensor?) {
    let (geometry, outShape) = try resolvePool2d(input, op, kernelSize: kernelSize, stride: stride, padding: padding,
                                                 dilation: dilation, ceilMode: ceilMode)
    let device = input.device, inputShape = input.shape
    let kernels = try backend(for: device)
    let needsGrad = Autograd.isEnabled && input.requiresGrad
    let output = try Tensor.empty(outShape, on: device)
    // The backward pass reads the backend's compact argmax where it has one (a byte per window
    // instead of an int32); the public indices stay PyTorch's flat int32 positions.
    let compact = needsGrad ? try kernels.maxPool2dCompactArgmax(geometry: geometry) : nil
    let indices = wantIndices || (needsGrad && compact == nil) ? try Tensor.empty(outShape, dtype: .int32, on: device) : nil
    try kernels.maxPool2d(input.storage, output: output.storage, indices: indices?.storage, compactArgmax: compact,
                          geometry: geometry)
    let recorded = try Autograd.record(output, op: op, inputs: [input]) { grad in
        let gradInput = try Tensor.empty(inputShape, on: device)
        if let compact {
            try backend(for: device).maxPool2dBackward(grad.storage, compactArgmax: compact,
                                                       gradInput: gradInput.storage, geometry: geometry)
        } else {
            try backend(for: device).maxPool2dBackward(grad.storage, indices: indices!.storage,
                                                       gradInput: gradInput.storage, geometry: geometry)
        }
        return [gradInput]
    }
    return (recorded, indices)
}

/// 2-D max pooling over an NCHW (or CHW) input, as `torch.nn.functional.max_pool2d`.
///
/// Window `(oh, ow)` covers rows `oh·stride.h − padding.h + k·dilation.h`, `k < kernelSize.h`
/// (columns likewise); padding never wins. A NaN in a window is that window's result. The
/// output has `⌊(H + 2p − d(k−1) − 1)/s⌋ + 1` rows (rounded up with `ceilMode`, as long as the
/// last window starts inside the input or the left padding). The gradient goes to each
/// window's maximum (the first one on ties), computed as a deterministic gather.
///
/// - Parameters:
///   - kernelSize: window size.
///   - stride: step between windows (default: `kernelSize`).
///   - padding: implicit `-∞` padding on each side, at most half the kernel size.
///   - dilation: spacing between window taps.
///   - ceilMode: round the output size up instead of down.
/// - Throws: `ConvKitError.invalidArgument` (op `maxPool2d`) for a non-3-D/4-D or empty input,
///   a non-positive kernel size, stride or dilation, negative padding or padding above half the
///   kernel, or an empty output.
public func maxPool2d(_ input: Tensor, kernelSize: Size2d, stride: Size2d? = nil, padding: Size2d = 0,
                      dilation: Size2d = 1, ceilMode: Bool = false) throws -> Tensor {
    try maxPool2dImpl(input, "maxPool2d", kernelSize: kernelSize, stride: stride, padding: padding,
                      dilation: dilation, ceilMode: ceilMode, wantIndices: false).output
}

/// `maxPool2d` that also returns each window's argmax (`return_indices=True` in PyTorch): an
/// `int32` tensor of the output's shape holding the flat position `h·W + w` of the maximum
/// within its `(n, c)` plane (of a NaN, where the window holds one). Feed it to `maxUnpool2d`.
///
/// - Throws: as `maxPool2d` (op `maxPool2dWithIndices`).
public func maxPool2dWithIndices(_ input: Tensor, kernelSize: Size2d, stride: Size2d? = nil, padding: Size2d = 0,
                                 dilation: Size2d = 1, ceilMode: Bool = false) throws -> (output: Tensor, indices: Tensor) {
    let (output, indices) = try maxPool2dImpl(input, "maxPool2dWithIndices", kernelSize: kernelSize, stride: stride,
                                              padding: padding, dilation: dilation, ceilMode: ceilMode, wantIndices: true)
    return (output, indices!)
}

/// 2-D average pooling over an NCHW (or CHW) input, as `torch.nn.functional.avg_pool2d`.
///
/// Each window is clipped to `[−padding, size + padding)` and summed over the cells inside the
/// input. The sum is divided by `divisorOverride` when given; otherwise by the clipped window's
/// size counting padding cells (`countIncludePad`, the default; a ceil-mode overhang past the
/// padding never counts), or by the number of input cells in it. Output size as `maxPool2d`
/// with dilation 1.
///
/// - Throws: `ConvKitError.invalidArgument` (op `avgPool2d`) for a non-3-D/4-D or empty input,
///   a non-positive kernel size or stride, negative padding or padding above half the kernel,
///   an empty output, or a zero `divisorOverride`.
public func avgPool2d(_ input: Tensor, kernelSize: Size2d, stride: Size2d? = nil, padding: Size2d = 0,
                      ceilMode: Bool = false, countIncludePad: Bool = true, divisorOverride: Int? = nil) throws -> Tensor {
    let op = "avgPool2d"
    let (geometry, outShape) = try resolvePool2d(input, op, kernelSize: kernelSize, stride: stride, padding: padding,
                                                 dilation: 1, ceilMode: ceilMode)
    try require(divisorOverride != 0, op, "divisorOverride must not be zero")
    let divisor = AvgPoolDivisor(countIncludePad: countIncludePad, override: divisorOverride)
    let device = input.device, inputShape = input.shape
    let output = try Tensor.empty(outShape, on: device)
    try backend(for: device).avgPool2d(input.storage, output: output.storage, geometry: geometry, divisor: divisor)
    return try Autograd.record(output, op: op, inputs: [input]) { grad in
        let gradInput = try Tensor.empty(inputShape, on: device)
        try backend(for: device).avgPool2dBackward(grad.storage, gradInput: gradInput.storage,
                                                   geometry: geometry, divisor: divisor)
        return [gradInput]
    }
}

/// Average pooling to a fixed output size, as `torch.nn.functional.adaptive_avg_pool2d`:
/// output row `i` averages input rows `⌊i·H/outH⌋ ..< ⌈(i+1)·H/outH⌉` (columns likewise), so
/// windows may overlap and differ in size.
///
/// - Throws: `ConvKitError.invalidArgument` (op `adaptiveAvgPool2d`) for a non-3-D/4-D input,
///   an empty height or width, or a negative output size.
public func adaptiveAvgPool2d(_ input: Tensor, outputSize: Size2d) throws -> Tensor {
    let op = "adaptiveAvgPool2d"
    let (planes, height, width) = try checkPoolInput(input, op, allowEmptyChannels: true)
    try require(outputSize.h >= 0 && outputSize.w >= 0, op, "outputSize must be non-negative, got \(outputSize)")
    let geometry = Pool2dGeometry(planes: planes, inputHeight: height, inputWidth: width,
                                  outputHeight: outputSize.h, outputWidth: outputSize.w,
                                  kernel: 1, stride: 1, padding: 0)
    let device = input.device, inputShape = input.shape
    let output = try Tensor.empty(input.shape.dropLast(2) + [outputSize.h, outputSize.w], on: device)
    try backend(for: device).adaptiveAvgPool2d(input.storage, output: output.storage, geometry: geometry)
    return try Autograd.record(output, op: op, inputs: [input]) { grad in
        let gradInput = try Tensor.empty(inputShape, on: device)
        try backend(for: device).adaptiveAvgPool2dBackward(grad.storage, gradInput: gradInput.storage, geometry: geometry)
        return [gradInput]
    }
}

/// The inverse of `maxPool2dWithIndices`, as `torch.nn.functional.max_unpool2d`: a zero tensor
/// of the unpooled size with each input value placed at its index within its `(n, c)` plane.
///
/// The default output size is `(H − 1)·stride − 2·padding + kernelSize` per dimension;
/// `outputSize` (`[h, w]`, or a full `[n, c, h, w]` of which the last two count) picks another
/// one strictly within `stride` of it, as PyTorch. The gradient reads `dY` at the indices.
///
/// - Parameters:
///   - indices: `int32` flat positions `h·W + w` within each output plane, shaped like `input`.
/// - Throws: `ConvKitError.invalidArgument` (op `maxUnpool2d`) for a non-3-D/4-D or empty input,
///   indices that are not `int32`, not shaped like the input, on another device or outside the
///   output plane, a non-positive kernel size or stride, negative padding, an `outputSize` of the
///   wrong length or out of range, or an empty output.
public func maxUnpool2d(_ input: Tensor, indices: Tensor, kernelSize: Size2d, stride: Size2d? = nil,
                        padding: Size2d = 0, outputSize: [Int]? = nil) throws -> Tensor {
    let op = "maxUnpool2d"
    let (planes, height, width) = try checkPoolInput(input, op)
    try require(indices.dtype == .int32, op, "indices must be int32, got \(indices.dtype)")
    try require(indices.shape == input.shape, op, "indices shape \(indices.shape) must match input shape \(input.shape)")
    try require(indices.device == input.device, op, "indices are on \(indices.device) but input is on \(input.device)")
    let stride = stride ?? kernelSize
    try require(kernelSize.h > 0 && kernelSize.w > 0, op, "kernelSize must be positive, got \(kernelSize)")
    try require(stride.h > 0 && stride.w > 0, op, "stride must be positive, got \(stride)")
    try require(padding.h >= 0 && padding.w >= 0, op, "padding must be non-negative, got \(padding)")
    let limit = Int(Int32.max)
    try require([kernelSize.h, kernelSize.w, stride.h, stride.w, padding.h, padding.w].allSatisfy { $0 <= limit }, op,
                "kernelSize \(kernelSize), stride \(stride) and padding \(padding) must be at most \(limit)")
    let defaultH = (height - 1) * stride.h - 2 * padding.h + kernelSize.h
    let defaultW = (width - 1) * stride.w - 2 * padding.w + kernelSize.w
    var outH = defaultH, outW = defaultW
    if let outputSize {
        try require(outputSize.count == 2 || outputSize.count == 4, op,
                    "outputSize must have 2 ([h, w]) or 4 ([n, c, h, w]) elements, got \(outputSize)")
        outH = outputSize[outputSize.count - 2]; outW = outputSize[outputSize.count - 1]
        try require(outH <= 2 * limit && outW <= 2 * limit, op, "outputSize \(outputSize) is too large")
        for (name, size, natural, step) in [("height", outH, defaultH, stride.h), ("width", outW, defaultW, stride.w)] {
            try require(size > natural - step && size < natural + step, op,
                        "outputSize \(outputSize): \(name) \(size) must be strictly between \(natural - step) and \(natural + step)")
        }
    }
    try require(outH > 0 && outW > 0, op, "output size would be \(outH)x\(outW) for input \(input.shape) (kernelSize \(kernelSize), stride \(stride), padding \(padding))")
    let (planeSize, overflow) = outH.multipliedReportingOverflow(by: outW)
    try require(!overflow && planeSize <= limit, op, "an output plane of \(outH)x\(outW) is too large for int32 indices")
    let geometry = Pool2dGeometry(planes: planes, inputHeight: height, inputWidth: width, outputHeight: outH,
                                  outputWidth: outW, kernel: kernelSize, stride: stride, padding: padding)
    let device = input.device, inputShape = input.shape
    let output = try Tensor.empty(input.shape.dropLast(2) + [outH, outW], on: device)
    try backend(for: device).maxUnpool2d(input.storage, indices: indices.storage, output: output.storage, geometry: geometry)
    let savedIndices = indices.detach()
    return try Autograd.record(output, op: op, inputs: [input]) { grad in
        let gradInput = try Tensor.empty(inputShape, on: device)
        try backend(for: device).maxUnpool2dBackward(grad.storage, indices: savedIndices.storage,
                                                     gradInput: gradInput.storage, geometry: geometry)
        return [gradInput]
    }
}
