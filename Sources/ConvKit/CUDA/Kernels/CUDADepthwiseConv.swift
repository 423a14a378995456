extension CUDABackend {
    /// `output = conv(input, weight)` (no bias) with the depthwise algorithm: one thread per output
    /// element. Needs groups == input channels; output channels may be a multiple of them (channel
    /// multiplier), as the CPU's `DepthwiseConv`.
    func depthwiseConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        try checkDepthwise(g)
        try launchElementwise(.depthwise, "ck_dw_forward", count: g.n * g.outChannels * g.outHeight * g.outWidth,
                              [.storage(input), .storage(weight), .storage(output), g.algorithmKernelArgument])
    }

    /// `gradInput = ∂L/∂input` with the depthwise algorithm: one thread per input element gathers
    /// the outputs of its channel's filters that read it.
    func depthwiseConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        try checkDepthwise(g)
        try launchElementwise(.depthwise, "ck_dw_backward_input", count: g.n * g.inChannels * g.inHeight * g.inWidth,
                              [.storage(gradOutput), .storage(weight), .storage(gradInput), g.algorithmKernelArgument])
    }

    /// `gradWeight = ∂L/∂weight` with the depthwise algorithm: one block per (output channel, tap)
    /// sums over images and positions (Float64, fixed order).
    func depthwiseConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        try checkDepthwise(g)
        let items = g.outChannels * g.kernelHeight * g.kernelWidth
        guard items > 0 else { return }
        try launch(.depthwise, "ck_dw_backward_weight", LaunchShape(grid: min(items, Int(Int32.max)), block: 256),
                   [.storage(gradOutput), .storage(input), .storage(gradWeight), g.algorithmKernelArgument])
    }

    /// Throws unless the depthwise kernels apply (groups == input channels, at least one channel).
    private func checkDepthwise(_ g: Conv2dGeometry) throws {
        guard DepthwiseConv.supports(g), g.outChannels % g.inChannels == 0 else {
            throw ConvKitError.invalidArgument(op: "conv2d", message:
                "algorithm depthwise needs groups == input channels, got groups \(g.groups) with \(g.inChannels) input channels")
        }
    }
}
