extension CUDABackend {
    /// `output = conv(input, weight)` (no bias) with the sparseMatrix algorithm.
    func sparseMatrixConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm sparseMatrix is not yet implemented on CUDA")
    }

    /// `gradInput = ∂L/∂input` with the sparseMatrix algorithm.
    func sparseMatrixConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm sparseMatrix is not yet implemented on CUDA")
    }

    /// `gradWeight = ∂L/∂weight` with the sparseMatrix algorithm.
    func sparseMatrixConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        throw ConvKitError.unsupported(op: "conv2d", message: "algorithm sparseMatrix is not yet implemented on CUDA")
    }
}
