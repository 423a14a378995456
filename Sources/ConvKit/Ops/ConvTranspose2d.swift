/// 2-D transposed convolution ("deconvolution"), as `torch.nn.functional.conv_transpose2d`: the
/// gradient of `conv2d` with respect to its input, used for upsampling.
///
/// - Parameters:
///   - input: `[n, inChannels, h, w]` or `[inChannels, h, w]`.
///   - weight: `[inChannels, outChannels/groups, kH, kW]`.
///   - bias: optional `[outChannels]`.
///   - stride, padding, dilation: those of the convolution this one transposes.
///   - outputPadding: extra rows/columns at the bottom/right of the output; each must be smaller
///     than the stride or the dilation of its dimension.
///   - groups: channel groups; `inChannels` must be divisible by it.
/// - Returns: `[n, outChannels, hOut, wOut]` with
///   `hOut = (h-1)·stride - 2·padding + dilation·(kH-1) + outputPadding + 1`.
/// - Throws: `ConvKitError.invalidArgument` naming `convTranspose2d` and the argument at fault.
public func convTranspose2d(_ input: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Size2d = 1,
                            padding: Size2d = 0, outputPadding: Size2d = 0, groups: Int = 1,
                            dilation: Size2d = 1) throws -> Tensor {
    let op = "convTranspose2d"
    let batchedShape = try checkConvolutionOperands(op, input, weight, bias)
    // `geometry` is the convolution whose input gradient this is: its input is our output.
    let geometry = try Conv2dGeometry.resolveTransposed(op: op, inputShape: batchedShape, weightShape: weight.shape,
                                                        stride: stride, padding: padding, outputPadding: outputPadding,
                                                        groups: groups, dilation: dilation)
    let outChannels = geometry.inChannels, outSpatial = geometry.inHeight * geometry.inWidth
    if let bias {
        try require(bias.shape == [outChannels], op, "bias must have shape [\(outChannels)], got \(bias.shape)")
    }
    let kernels = try backend(for: input.device)
    let outputShape = input.rank == 3 ? Array(geometry.inputShape.dropFirst()) : geometry.inputShape
    let output = try Tensor.empty(outputShape, on: input.device)
    try kernels.conv2dBackwardInput(gradOutput: input.storage, weight: weight.storage, gradInput: output.storage,
                                    geometry: geometry, algorithm: .auto)
    if let bias {
        try kernels.addChannelBias(bias.storage, to: output.storage, n: geometry.n, channels: outChannels, spatial: outSpatial)
    }
    let inputs = bias.map { [input, weight, $0] } ?? [input, weight]
    return try Autograd.record(output, op: op, inputs: inputs) { grad in
        let gradInput = try gradientIfRequired(input) {
            try kernels.conv2dForward(input: grad.storage, weight: weight.storage, bias: nil, output: $0,
                                      geometry: geometry, algorithm: .auto)
        }
        // The convolution's weight gradient with its output gradient = our input and its
        // input = our output gradient.
        let gradWeight = try gradientIfRequired(weight) {
            try kernels.conv2dBackwardWeight(gradOutput: input.storage, input: grad.storage, gradWeight: $0,
                                             geometry: geometry, algorithm: .auto)
        }
        guard let bias else { return [gradInput, gradWeight] }
        let gradBias = try gradientIfRequired(bias) {
            try kernels.channelBiasGradient(gradOutput: grad.storage, gradBias: $0, n: geometry.n,
                                            channels: outChannels, spatial: outSpatial)
        }
        return [gradInput, gradWeight, gradBias]
    }
}
