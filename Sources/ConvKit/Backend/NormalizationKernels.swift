/// Kernels for batch normalisation: per-channel reductions over the batch and spatial positions.
///
/// Tensors are seen as `[outer, dim, inner]` through a `ReductionLayout`: `outer` is the batch
/// size `N`, `dim` the channel count `C`, `inner` the spatial size `H·W`; element `(n, c, i)` is at
/// `(n·C + c)·inner + i`. Per-channel storages (`mean`, `variance`, `weight`, …) hold `C` floats.
/// Each channel is reduced over its `N·inner` elements. Arguments are validated by the op first.
public protocol NormalizationKernels {
    /// Training-mode forward: writes each channel's batch mean and biased variance
    /// (`Σ (x − mean)² / (N·inner)`) into `mean` and `variance`, and normalises with them as
    /// `batchNormForward` does. (One kernel, so that a CPU can normalise a channel while its values
    /// are still in cache.)
    func batchNormTrainingForward(input: Storage, mean: Storage, variance: Storage, weight: Storage?, bias: Storage?,
                                  output: Storage, layout: ReductionLayout, eps: Float) throws

    /// Evaluation-mode forward with given statistics:
    /// `output = (input − mean[c]) / √(variance[c] + eps) · weight[c] + bias[c]`; a missing `weight`
    /// counts as 1 and a missing `bias` as 0.
    func batchNormForward(input: Storage, mean: Storage, variance: Storage, weight: Storage?, bias: Storage?,
                          output: Storage, layout: ReductionLayout, eps: Float) throws

    /// Updates the running statistics in place, as PyTorch:
    /// `runningMean = (1 − momentum)·runningMean + momentum·batchMean` and
    /// `runningVar = (1 − momentum)·runningVar + momentum·batchVariance·count/(count − 1)`
    /// (the unbiased variance; `count` = `N·inner` > 1), for `channels` channels.
    func batchNormUpdateRunningStatistics(runningMean: Storage, runningVar: Storage, batchMean: Storage,
                                          batchVariance: Storage, channels: Int, count: Int, momentum: Float) throws

    /// The gradients of `batchNormForward`, each written only when its storage is given, with
    /// `s = 1/√(variance + eps)`, `x̂ = (x − mean)·s`, `M = N·inner` and `w = weight` (1 when nil):
    /// `gradBias[c] = Σ g`, `gradWeight[c] = Σ g·x̂`;
    /// `gradInput = w·s·(g − Σg/M − x̂·Σ(g·x̂)/M)` when `batchStatistics` (mean and variance are the
    /// batch's own, so the gradient flows through them), else `gradInput = w·s·g` (fixed statistics).
    func batchNormBackward(gradOutput: Storage, input: Storage, mean: Storage, variance: Storage, weight: Storage?,
                           gradInput: Storage?, gradWeight: Storage?, gradBias: Storage?,
                           layout: ReductionLayout, eps: Float, batchStatistics: Bool) throws

    /// Adds 1 to the `int32` scalar in `counter` (BatchNorm's `num_batches_tracked`).
    func incrementCounter(_ counter: Storage) throws
}
