/// The CUDA NormalizationKernels.
extension CUDABackend: NormalizationKernels {
    public func batchNormTrainingForward(input: Storage, mean: Storage, variance: Storage, weight: Storage?, bias: Storage?,
                                  output: Storage, layout: ReductionLayout, eps: Float) throws {
        throw ConvKitError.unsupported(op: "batchNormTrainingForward", message: "not yet implemented on CUDA")
    }

    public func batchNormForward(input: Storage, mean: Storage, variance: Storage, weight: Storage?, bias: Storage?,
                          output: Storage, layout: ReductionLayout, eps: Float) throws {
        throw ConvKitError.unsupported(op: "batchNormForward", message: "not yet implemented on CUDA")
    }

    public func batchNormUpdateRunningStatistics(runningMean: Storage, runningVar: Storage, batchMean: Storage,
                                          batchVariance: Storage, channels: Int, count: Int, momentum: Float) throws {
        throw ConvKitError.unsupported(op: "batchNormUpdateRunningStatistics", message: "not yet implemented on CUDA")
    }

    public func batchNormBackward(gradOutput: Storage, input: Storage, mean: Storage, variance: Storage, weight: Storage?,
                           gradInput: Storage?, gradWeight: Storage?, gradBias: Storage?,
                           layout: ReductionLayout, eps: Float, batchStatistics: Bool) throws {
        throw ConvKitError.unsupported(op: "batchNormBackward", message: "not yet implemented on CUDA")
    }

    public func incrementCounter(_ counter: Storage) throws {
        throw ConvKitError.unsupported(op: "incrementCounter", message: "not yet implemented on CUDA")
    }

}
