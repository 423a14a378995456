/// The CUDA NormalizationKernels (`Normalization.cu`): one block per channel for the reductions
/// (Float64 sums, deterministic block reductions), elementwise kernels for the rest.
extension CUDABackend: NormalizationKernels {
    /// Threads per block of the per-channel reduction kernels.
    static let batchNormBlock = 512

    /// The CUDA implementation of `NormalizationKernels.batchNormTrainingForward`: one block per
    /// channel computes the mean, the biased variance (two passes) and normalises the channel.
    public func batchNormTrainingForward(input: Storage, mean: Storage, variance: Storage, weight: Storage?, bias: Storage?,
                                         output: Storage, layout: ReductionLayout, eps: Float) throws {
        guard layout.dim > 0 else { return }
        try launch(.normalization, "ck_bn_training_forward", LaunchShape(grid: layout.dim, block: Self.batchNormBlock),
                   [.storage(input), .storage(mean), .storage(variance), .optional(weight), .optional(bias), .storage(output),
                    .int(layout.outer), .int(layout.dim), .int(layout.inner), .float(eps)])
    }

    /// The CUDA implementation of `NormalizationKernels.batchNormForward`.
    public func batchNormForward(input: Storage, mean: Storage, variance: Storage, weight: Storage?, bias: Storage?,
                                 output: Storage, layout: ReductionLayout, eps: Float) throws {
        guard layout.count > 0 else { return }
        try launchElementwise(.normalization, "ck_bn_forward", count: layout.count,
                              [.storage(input), .storage(mean), .storage(variance), .optional(weight), .optional(bias),
                               .storage(output), .int(layout.dim), .int(layout.inner), .int(layout.count), .float(eps)])
    }

    /// The CUDA implementation of `NormalizationKernels.batchNormUpdateRunningStatistics`.
    public func batchNormUpdateRunningStatistics(runningMean: Storage, runningVar: Storage, batchMean: Storage,
                                                 batchVariance: Storage, channels: Int, count: Int, momentum: Float) throws {
        guard channels > 0 else { return }
        let correction = Double(count) / Double(count - 1)
        try launchElementwise(.normalization, "ck_bn_update_running", count: channels,
                              [.storage(runningMean), .storage(runningVar), .storage(batchMean), .storage(batchVariance),
                               .int(channels), .float(momentum), .double(correction)])
    }

    /// The CUDA implementation of `NormalizationKernels.batchNormBackward`: one block per channel
    /// reduces Σg and Σg·(x − mean), then writes the channel's input gradient.
    public func batchNormBackward(gradOutput: Storage, input: Storage, mean: Storage, variance: Storage, weight: Storage?,
                                  gradInput: Storage?, gradWeight: Storage?, gradBias: Storage?,
                                  layout: ReductionLayout, eps: Float, batchStatistics: Bool) throws {
        guard layout.dim > 0, gradInput != nil || gradWeight != nil || gradBias != nil else { return }
        try launch(.normalization, "ck_bn_backward", LaunchShape(grid: layout.dim, block: Self.batchNormBlock),
                   [.storage(gradOutput), .storage(input), .storage(mean), .storage(variance), .optional(weight),
                    .optional(gradInput), .optional(gradWeight), .optional(gradBias),
                    .int(layout.outer), .int(layout.dim), .int(layout.inner), .float(eps), .flag(batchStatistics)])
    }

    /// The CUDA implementation of `NormalizationKernels.incrementCounter`.
    public func incrementCounter(_ counter: Storage) throws {
        try launch(.normalization, "ck_bn_increment", LaunchShape(grid: 1, block: 1), [.storage(counter)])
    }
}
