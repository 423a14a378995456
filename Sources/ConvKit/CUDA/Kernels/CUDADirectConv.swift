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

    /// Output channels whose weights a block of the few-channel input gradient stages at once
    /// (at most; fewer when the kernel is large).
    static let fewChannelsWeightChunk = 16
    /// Bytes of shared memory the few-channel input gradient stages its weights in (the default
    /// limit of a block, so it needs no opt-in).
    static let fewChannelsWeightBytes = 48 * 1024

    /// Whether `fewChannelsConvBackwardInput` computes the input gradient of `g`: one group of
    /// 1-4 input channels, a stride above 1, dilation 1, at most 4 column taps per stride phase
    /// (kW ≤ 4·strideW), one output channel's weights in `fewChannelsWeightBytes`, and sizes in 32-bit integers.
    static func fewChannelsBackwardInputSupports(_ g: Conv2dGeometry) -> Bool {
        let sizes = [g.inHeight, g.inWidth, g.outHeight, g.outWidth, g.outChannels, g.padTop, g.padLeft]
        return g.groups == 1 && (1...4).contains(g.inChannels) && (g.strideH > 1 || g.strideW > 1)
            && g.dilationH == 1 && g.dilationW == 1 && g.padTop >= 0 && g.padLeft >= 0
            && g.kernelWidth <= 4 * g.strideW && g.kernelHeight * g.kernelWidth * 16 <= fewChannelsWeightBytes
            && sizes.allSatisfy { $0 < 1 << 28 } && fewChannelsThreads(g) / 256 < Int(Int32.max)
    }

    /// Threads of the few-channel input gradient: one per (image, row phase, column phase, row of
    /// the phase, strip of 8 columns of the phase).
    private static func fewChannelsThreads(_ g: Conv2dGeometry) -> Int {
        let rowsPerPhase = (g.inHeight + g.strideH - 1) / g.strideH
        let strips = ((g.inWidth + g.strideW - 1) / g.strideW + 7) / 8
        return g.n * g.strideH * g.strideW * rowsPerPhase * strips
    }

    /// `gradInput = ∂L/∂input` of a strided convolution with few input channels (AlexNet's first
    /// layer) on CUDA cores, each thread 8 same-phase columns of one input row and every channel
    /// (`ck_conv_dgrad_few_channels_c<C>` in Convolution.cu). The seven-loop kernel and im2col
    /// with col2im both spend most of their time on taps that do not meet the stride.
    func fewChannelsConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        precondition(Self.fewChannelsBackwardInputSupports(g), "fewChannelsConvBackwardInput: unsupported geometry \(g)")
        let taps = g.kernelHeight * g.kernelWidth
        let chunk = min(Self.fewChannelsWeightChunk, g.outChannels, Self.fewChannelsWeightBytes / (16 * taps))
        let threads = Self.fewChannelsThreads(g)
        try launch(.convolution, "ck_conv_dgrad_few_channels_c\(g.inChannels)",
                   LaunchShape(grid: (threads + 255) / 256, block: 256, sharedBytes: chunk * taps * 16),
                   [.storage(gradOutput), .storage(weight), .storage(gradInput), .convShape(g), .int(chunk)])
    }
}
