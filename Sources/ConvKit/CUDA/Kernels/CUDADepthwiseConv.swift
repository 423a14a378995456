extension CUDABackend {
    /// `output = conv(input, weight)` (no bias) with the depthwise algorithm.
    func depthwiseConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm depthwise is not yet implemented on CUDA")
    }

    /// `gradInput = ∂L/∂input` with the depthwise algorithm.
    func depthwiseConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm depthwise is not yet implemented on CUDA")
    }

    /// `gradWeight = ∂L/∂weight` with the depthwise algorithm.
    func depthwiseConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm depthwise is not yet implemented on CUDA")
    }
}
