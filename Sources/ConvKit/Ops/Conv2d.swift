/// 2-D convolution over an NCHW input (or an unbatched CHW input), as `torch.nn.functional.conv2d`
/// with the `padding_mode` of `torch.nn.Conv2d`.
///
/// - Parameters:
///   - input: `[n, c, h, w]` or `[c, h, w]`.
///   - weight: `[outChannels, c/groups, kH, kW]`.
///   - bias: optional `[outChannels]`.
///   - stride: step of the kernel (≥ 1).
///   - padding: explicit sizes (≥ 0, both sides), `.valid` (none) or `.same` (stride 1 only;
///     an odd total puts the extra row/column at the bottom/right).
///   - dilation: spacing of the kernel taps (≥ 1).
///   - groups: channel groups; `c` and `outChannels` must be divisible by it.
///   - paddingMode: how the padded border is filled; non-zero modes pad the input with `pad`
///     first and then convolve without padding, as PyTorch does.
///   - algorithm: how to compute it (`.auto` picks per shape and backend).
/// - Returns: `[n, outChannels, hOut, wOut]` (`[outChannels, hOut, wOut]` for a CHW input) with
///   `hOut = floor((h + padTop + padBottom - dilation·(kH-1) - 1)/stride) + 1`.
/// - Throws: `ConvKitError.invalidArgument` naming `conv2d` and the argument at fault.
public func conv2d(_ input: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Size2d = 1,
                   padding: Padding2d = 0, dilation: Size2d = 1, groups: Int = 1,
                   paddingMode: PaddingMode = .zeros, algorithm: ConvAlgorithm = .auto) throws -> Tensor {
    let op = "conv2d"
    let batchedShape = try checkConvolutionOperands(op, input, weight, bias)
    var geometry = try Conv2dGeometry.resolve(op: op, inputShape: batchedShape, weightShape: weight.shape,
                                              stride: stride, padding: padding, dilation: dilation, groups: groups)
    if let bias {
        try require(bias.shape == [geometry.outChannels], op,
                    "bias must have shape [\(geometry.outChannels)], got \(bias.shape)")
    }
    try require(algorithm != .depthwise || geometry.groups == geometry.inChannels, op,
                "algorithm depthwise needs groups == input channels, got groups \(geometry.groups) with \(geometry.inChannels) input channels")

    var source = input
    let pads = [geometry.padLeft, geometry.padRight, geometry.padTop, geometry.padBottom]
    if paddingMode != .zeros && pads.contains(where: { $0 > 0 }) {
        let (h, w) = (geometry.inHeight, geometry.inWidth)
        switch paddingMode {
        case .reflect:
            try require(geometry.padTop < h && geometry.padBottom < h && geometry.padLeft < w && geometry.padRight < w, op,
                        "padding \(pads) (left, right, top, bottom) with paddingMode reflect must be smaller than the input size (\(h) x \(w))")
        case .circular:
            try require(geometry.padTop <= h && geometry.padBottom <= h && geometry.padLeft <= w && geometry.padRight <= w, op,
                        "padding \(pads) (left, right, top, bottom) with paddingMode circular must not exceed the input size (\(h) x \(w))")
        case .replicate, .zeros:
            break
        }
        let mode: PadMode = paddingMode == .reflect ? .reflect : paddingMode == .replicate ? .replicate : .circular
        let batched = input.rank == 3 ? try input.reshape(batchedShape) : input
        source = try pad(batched, pads, mode: mode, value: 0)
        geometry = Conv2dGeometry(n: geometry.n, inChannels: geometry.inChannels, inHeight: source.shape[2],
                                  inWidth: source.shape[3], outChannels: geometry.outChannels,
                                  kernelHeight: geometry.kernelHeight, kernelWidth: geometry.kernelWidth,
                                  strideH: geometry.strideH, strideW: geometry.strideW,
                                  dilationH: geometry.dilationH, dilationW: geometry.dilationW, groups: geometry.groups)
    }
    let outputShape = input.rank == 3 ? Array(geometry.outputShape.dropFirst()) : geometry.outputShape
    return try convolve(source, weight, bias: bias, geometry: geometry, outputShape: outputShape, algorithm: algorithm)
}

/// Runs a validated convolution and records its backward pass. `input` may be unbatched or
/// padded already; `geometry` describes it as one batched NCHW tensor.
func convolve(_ input: Tensor, _ weight: Tensor, bias: Tensor?, geometry: Conv2dGeometry,
              outputShape: [Int], algorithm: ConvAlgorithm) throws -> Tensor {
    let kernels = try backend(for: input.device)
    let output = try Tensor.empty(outputShape, on: input.device)
    try kernels.conv2dForward(input: input.storage, weight: weight.storage, bias: bias?.storage,
                              output: output.storage, geometry: geometry, algorithm: algorithm)
    let inputs = bias.map { [input, weight, $0] } ?? [input, weight]
    return try Autograd.record(output, op: "conv2d", inputs: inputs) { grad in
        let gradInput = try gradientIfRequired(input) {
            try kernels.conv2dBackwardInput(gradOutput: grad.storage, weight: weight.storage, gradInput: $0,
                                            geometry: geometry, algorithm: algorithm)
        }
        let gradWeight = try gradientIfRequired(weight) {
            try kernels.conv2dBackwardWeight(gradOutput: grad.storage, input: input.storage, gradWeight: $0,
                                             geometry: geometry, algorithm: algorithm)
        }
        guard let bias else { return [gradInput, gradWeight] }
        let gradBias = try gradientIfRequired(bias) {
            try kernels.channelBiasGradient(gradOutput: grad.storage, gradBias: $0, n: geometry.n,
                                            channels: geometry.outChannels, spatial: geometry.outHeight * geometry.outWidth)
        }
        return [gradInput, gradWeight, gradBias]
    }
}

/// A new gradient tensor shaped like `tensor`, written by `compute` into its storage, or `nil`
/// (no work done) when `tensor` does not require a gradient.
func gradientIfRequired(_ tensor: Tensor, _ compute: (Storage) throws -> Void) throws -> Tensor? {
    guard tensor.requiresGrad else { return nil }
    let gradient = try Tensor.empty(tensor.shape, on: tensor.device)
    try compute(gradient.storage)
    return gradient
}

/// The checks conv2d and convTranspose2d share: float32 operands on one device and a 3-D
/// (unbatched) or 4-D input. Returns the input's shape as a batch (`[1] + shape` for 3-D).
func checkConvolutionOperands(_ op: String, _ input: Tensor, _ weight: Tensor, _ bias: Tensor?) throws -> [Int] {
    try require(input.dtype == .float32, op, "input must be float32, got \(input.dtype)")
    try require(weight.dtype == .float32, op, "weight must be float32, got \(weight.dtype)")
    try require(weight.device == input.device, op, "weight is on \(weight.device) but input is on \(input.device)")
    if let bias {
        try require(bias.dtype == .float32, op, "bias must be float32, got \(bias.dtype)")
        try require(bias.device == input.device, op, "bias is on \(bias.device) but input is on \(input.device)")
    }
    try require(input.rank == 3 || input.rank == 4, op,
                "expected 3-D (unbatched) or 4-D (batched) input, got input of shape \(input.shape)")
    return input.rank == 3 ? [1] + input.shape : input.shape
}
