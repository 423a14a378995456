/// The CUDA OptimizerKernels.
extension CUDABackend: OptimizerKernels {
    public func sgdStep(parameter: Storage, gradient: Storage, momentumBuffer: Storage?, count: Int,
                 hyperparameters: SGDStepParameters) throws {
        throw ConvKitError.unsupported(op: "sgdStep", message: "not yet implemented on CUDA")
    }

    public func adamStep(parameter: Storage, gradient: Storage, expAvg: Storage, expAvgSq: Storage, count: Int,
                  hyperparameters: AdamStepParameters) throws {
        throw ConvKitError.unsupported(op: "adamStep", message: "not yet implemented on CUDA")
    }

}
