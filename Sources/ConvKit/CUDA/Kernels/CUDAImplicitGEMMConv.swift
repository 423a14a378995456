extension CUDABackend {
    /// `output = conv(input, weight)` (no bias) with the implicitGEMM algorithm.
    func implicitGEMMConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm implicitGEMM is not yet implemented on CUDA")
    }

    /// `gradInput = ∂L/∂input` with the implicitGEMM algorithm.
    func implicitGEMMConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm implicitGEMM is not yet implemented on CUDA")
    }

    /// `gradWeight = ∂L/∂weight` with the implicitGEMM algorithm.
    func implicitGEMMConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm implicitGEMM is not yet implemented on CUDA")
    }
}
