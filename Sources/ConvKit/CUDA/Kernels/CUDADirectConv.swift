/// The direct convolution on the GPU (the seven loops of `DirectConv`): one thread per output
/// element forward, one thread per input element for the input gradient (a gather over the
/// taps and outputs that read it), one block per weight element for the weight gradient (a
/// block reduction over images and output positions). Kernels in Convolution.cu.
extension CUDABackend {
    /// Threads per block of the weight-gradient reduction.
    static let directWeightGradientBlock = 256

    /// `output = conv(input, weight)` (no bias) with the direct algorithm.
    func directConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        let count = g.n * g.outChannels * g.outHeight * g.outWidth
        try launchElementwise(.convolution, "ck_conv_direct_forward", count: count,
                              [.storage(input), .storage(weight), .storage(output), .convShape(g)])
    }

    /// `gradInput = ∂L/∂input` with the direct algorithm.
    func directConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        let count = g.n * g.inChannels * g.inHeight * g.inWidth
        try launchElementwise(.convolution, "ck_conv_direct_backward_input", count: count,
                              [.storage(gradOutput), .storage(weight), .storage(gradInput), .convShape(g)])
    }

    /// `gradWeight = ∂L/∂weight` with the direct algorithm.
    func directConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        let count = g.outChannels * g.patchSize
        guard count > 0 else { return }
        let block = Self.directWeightGradientBlock
        try launch(.convolution, "ck_conv_direct_backward_weight",
                   LaunchShape(grid: min(count, multiprocessorCount * 64), block: block),
                   [.storage(gradOutput), .storage(input), .storage(gradWeight), .convShape(g)])
    }
}
