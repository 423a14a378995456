extension CUDABackend {
    /// `output = conv(input, weight)` (no bias) with the direct algorithm.
    func directConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm direct is not yet implemented on CUDA")
    }

    /// `gradInput = ∂L/∂input` with the direct algorithm.
    func directConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm direct is not yet implemented on CUDA")
    }

    /// `gradWeight = ∂L/∂weight` with the direct algorithm.
    func directConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm direct is not yet implemented on CUDA")
    }
}
