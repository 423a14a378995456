extension CUDABackend {
    /// `output = conv(input, weight)` (no bias) with the im2col algorithm.
    func im2colConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm im2col is not yet implemented on CUDA")
    }

    /// `gradInput = ∂L/∂input` with the im2col algorithm.
    func im2colConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm im2col is not yet implemented on CUDA")
    }

    /// `gradWeight = ∂L/∂weight` with the im2col algorithm.
    func im2colConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm im2col is not yet implemented on CUDA")
    }
}
