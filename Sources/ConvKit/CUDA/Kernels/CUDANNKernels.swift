/// The CUDA NNKernels.
extension CUDABackend: NNKernels {
    public func linearForward(input: Storage, weight: Storage, bias: Storage?, output: Storage,
                       batch: Int, inFeatures: Int, outFeatures: Int) throws {
        throw ConvKitError.unsupported(op: "linearForward", message: "not yet implemented on CUDA")
    }

    public func linearBackward(gradOutput: Storage, input: Storage, weight: Storage,
                        gradInput: Storage?, gradWeight: Storage?, gradBias: Storage?,
                        batch: Int, inFeatures: Int, outFeatures: Int) throws {
        throw ConvKitError.unsupported(op: "linearBackward", message: "not yet implemented on CUDA")
    }

    public func reluForward(input: Storage, output: Storage, count: Int) throws {
        throw ConvKitError.unsupported(op: "reluForward", message: "not yet implemented on CUDA")
    }

    public func reluBackward(gradOutput: Storage, output: Storage, gradInput: Storage, count: Int) throws {
        throw ConvKitError.unsupported(op: "reluBackward", message: "not yet implemented on CUDA")
    }

    public func dropoutForward(input: Storage, output: Storage, count: Int, p: Float, seed: UInt64) throws {
        throw ConvKitError.unsupported(op: "dropoutForward", message: "not yet implemented on CUDA")
    }

    public func dropoutBackward(gradOutput: Storage, gradInput: Storage, count: Int, p: Float, seed: UInt64) throws {
        throw ConvKitError.unsupported(op: "dropoutBackward", message: "not yet implemented on CUDA")
    }

    public func localResponseNormForward(input: Storage, output: Storage, scale: Storage, layout: ReductionLayout,
                                  size: Int, alpha: Float, beta: Float, k: Float) throws {
        throw ConvKitError.unsupported(op: "localResponseNormForward", message: "not yet implemented on CUDA")
    }

    public func localResponseNormBackward(gradOutput: Storage, input: Storage, scale: Storage, gradInput: Storage,
                                   layout: ReductionLayout, size: Int, alpha: Float, beta: Float) throws {
        throw ConvKitError.unsupported(op: "localResponseNormBackward", message: "not yet implemented on CUDA")
    }

    public func softmaxForward(input: Storage, output: Storage, layout: ReductionLayout, log: Bool) throws {
        throw ConvKitError.unsupported(op: "softmaxForward", message: "not yet implemented on CUDA")
    }

    public func softmaxBackward(gradOutput: Storage, output: Storage, gradInput: Storage,
                         layout: ReductionLayout, log: Bool) throws {
        throw ConvKitError.unsupported(op: "softmaxBackward", message: "not yet implemented on CUDA")
    }

    public func crossEntropyForward(logits: Storage, target: Storage, weight: Storage?,
                             rowLosses: Storage, rowWeights: Storage, logSumExp: Storage,
                             parameters: CrossEntropyParameters) throws {
        throw ConvKitError.unsupported(op: "crossEntropyForward", message: "not yet implemented on CUDA")
    }

    public func crossEntropyReduce(rowLosses: Storage, rowWeights: Storage, rows: Int,
                            reduction: Reduction, output: Storage, normaliser: Storage?) throws {
        throw ConvKitError.unsupported(op: "crossEntropyReduce", message: "not yet implemented on CUDA")
    }

    public func crossEntropyBackward(gradOutput: Storage, perRowGradient: Bool, normaliser: Storage?,
                              logits: Storage, target: Storage, weight: Storage?, logSumExp: Storage,
                              gradLogits: Storage?, gradTarget: Storage?,
                              parameters: CrossEntropyParameters) throws {
        throw ConvKitError.unsupported(op: "crossEntropyBackward", message: "not yet implemented on CUDA")
    }

}
