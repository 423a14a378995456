/// Kernels for convolution (every algorithm), transposed convolution and their gradients.
///
/// Every tensor is a contiguous NCHW `float32` storage whose sizes `geometry` gives: input
/// `geometry.inputShape`, weight `geometry.weightShape`, output `geometry.outputShape`. The
/// kernels trust the geometry (the ops validate user input before calling them) and always
/// overwrite their destination. A transposed convolution is computed with the same kernels:
/// its forward is `conv2dBackwardInput`, its input gradient `conv2dForward`, its weight
/// gradient `conv2dBackwardWeight` with input and output gradient swapped.
public protocol ConvolutionKernels {
    /// `output = conv(input, weight) (+ bias[outChannel])`, computed with `algorithm`
    /// (`.auto` lets the backend choose).
    func conv2dForward(input: Storage, weight: Storage, bias: Storage?, output: Storage,
                       geometry: Conv2dGeometry, algorithm: ConvAlgorithm) throws

    /// `gradInput = ∂L/∂input` from `gradOutput` (the transposed convolution of `gradOutput`).
    func conv2dBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage,
                             geometry: Conv2dGeometry, algorithm: ConvAlgorithm) throws

    /// `gradWeight = ∂L/∂weight`, summed over the batch.
    func conv2dBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage,
                              geometry: Conv2dGeometry, algorithm: ConvAlgorithm) throws

    /// `output[n, c, p] += bias[c]` for an `[n, channels, spatial]` tensor.
    func addChannelBias(_ bias: Storage, to output: Storage, n: Int, channels: Int, spatial: Int) throws

    /// `gradBias[c] = Σ_{n, p} gradOutput[n, c, p]` for an `[n, channels, spatial]` gradient.
    func channelBiasGradient(gradOutput: Storage, gradBias: Storage, n: Int, channels: Int, spatial: Int) throws

    /// The algorithm `.auto` resolves to for `geometry` on this backend (other values are
    /// returned unchanged).
    func resolvedConvAlgorithm(_ algorithm: ConvAlgorithm, geometry: Conv2dGeometry) -> ConvAlgorithm
}
