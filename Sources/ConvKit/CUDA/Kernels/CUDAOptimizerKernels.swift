/// The CUDA OptimizerKernels (Optimizer.cu): one fused elementwise kernel per update, with the
/// CPU's arithmetic in the CPU's order, so both devices produce the same bits.
extension CUDABackend: OptimizerKernels {
    /// One SGD update (`ck_optim_sgd`).
    /// - Throws: `ConvKitError.invalidArgument` when momentum is set but no buffer is given.
    public func sgdStep(parameter: Storage, gradient: Storage, momentumBuffer: Storage?, count: Int,
                        hyperparameters h: SGDStepParameters) throws {
        guard count > 0 else { return }
        let useMomentum = h.momentum != 0
        guard !useMomentum || momentumBuffer != nil else {
            throw ConvKitError.invalidArgument(op: "sgdStep", message: "momentum \(h.momentum) needs a momentum buffer")
        }
        try launchElementwise(.optimizer, "ck_optim_sgd", count: count, [
            .storage(parameter), .storage(gradient), .optional(useMomentum ? momentumBuffer : nil), .int(count),
            .float(-h.learningRate), .float(h.weightDecay), .flag(h.weightDecay != 0),
            .float(h.momentum), .float(h.dampeningComplement), .flag(useMomentum),
            .flag(h.nesterov), .flag(h.initializeMomentum),
        ])
    }

    /// One Adam / AdamW update (`ck_optim_adam`); PyTorch's lerp formula is chosen here from the
    /// weight, as on the CPU.
    public func adamStep(parameter: Storage, gradient: Storage, expAvg: Storage, expAvgSq: Storage, count: Int,
                         hyperparameters h: AdamStepParameters) throws {
        guard count > 0 else { return }
        let weight = h.oneMinusBeta1
        try launchElementwise(.optimizer, "ck_optim_adam", count: count, [
            .storage(parameter), .storage(gradient), .storage(expAvg), .storage(expAvgSq), .int(count),
            .float(h.weightDecay), .flag(h.weightDecay != 0),
            .float(h.decoupledDecayFactor ?? 1), .flag(h.decoupledDecayFactor != nil),
            .float(weight), .float(1 - weight), .flag(Swift.abs(weight) < 0.5),
            .float(h.beta2), .float(h.oneMinusBeta2), .float(h.eps), .float(h.biasCorrection2Sqrt),
            .float(h.negativeStepSize),
        ])
    }
}
