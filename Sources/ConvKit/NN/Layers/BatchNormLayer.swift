/// Batch normalisation over the channels of an NCHW input, as `torch.nn.BatchNorm2d`.
///
/// State-dict names as PyTorch's: parameters `weight` (init 1) and `bias` (init 0) when `affine`;
/// buffers `running_mean` (init 0), `running_var` (init 1) and `num_batches_tracked` when
/// `trackRunningStats`. `num_batches_tracked` is stored as an `int32` tensor of shape `[]`
/// (PyTorch's is `int64`; a PyTorch state dict read with `SafeTensors` arrives converted to
/// `int32`, so it loads unchanged).
///
/// In training mode the batch's statistics normalise the input and update the running ones
/// (with `momentum`, or a cumulative average when `momentum` is nil); in evaluation mode the
/// running statistics are used. Without running statistics the batch's are always used.
public final class BatchNorm2d: Module {
    /// Number of channels `C`.
    public let numFeatures: Int
    /// Added to the variance before the square root.
    public let eps: Float
    /// The running statistics' update factor; nil for a cumulative moving average (factor
    /// `1/num_batches_tracked`; reading the counter then costs a device-to-host copy per call).
    public let momentum: Float?
    /// Whether the layer has a learnable per-channel scale and shift.
    public let affine: Bool
    /// Whether the layer keeps running statistics.
    public let trackRunningStats: Bool
    /// Learnable per-channel scale `[C]` (when `affine`).
    public let weight: Tensor?
    /// Learnable per-channel shift `[C]` (when `affine`).
    public let bias: Tensor?
    /// Running mean `[C]` (when `trackRunningStats`).
    public let runningMean: Tensor?
    /// Running (unbiased) variance `[C]` (when `trackRunningStats`).
    public let runningVar: Tensor?
    /// Number of training batches seen, an `int32` scalar (when `trackRunningStats`).
    public let numBatchesTracked: Tensor?

    /// Creates the layer (`num_features`, `eps`, `momentum`, `affine`, `track_running_stats`, with
    /// PyTorch's defaults and initial values).
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `BatchNorm2d`) for a non-positive `numFeatures`
    ///   or a negative `eps`.
    public init(numFeatures: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true,
                trackRunningStats: Bool = true) throws {
        try require(numFeatures > 0, "BatchNorm2d", "numFeatures must be positive, got \(numFeatures)")
        try require(eps >= 0, "BatchNorm2d", "eps must be non-negative, got \(eps)")
        self.numFeatures = numFeatures
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.trackRunningStats = trackRunningStats
        weight = affine ? try Tensor.ones([numFeatures], requiresGrad: true) : nil
        bias = affine ? try Tensor.zeros([numFeatures], requiresGrad: true) : nil
        runningMean = trackRunningStats ? try Tensor.zeros([numFeatures]) : nil
        runningVar = trackRunningStats ? try Tensor.ones([numFeatures]) : nil
        numBatchesTracked = trackRunningStats ? try Tensor(indices: [0], shape: []) : nil
    }

    /// Resets the running statistics to mean 0, variance 1 and no batches seen.
    public func resetRunningStats() throws {
        guard let runningMean, let runningVar, let numBatchesTracked else { return }
        try Init.constant(runningMean, 0)
        try Init.constant(runningVar, 1)
        try numBatchesTracked.assign(Tensor(indices: [0], shape: []))
    }

    /// Resets the running statistics and the parameters (weight 1, bias 0).
    public func resetParameters() throws {
        try resetRunningStats()
        if let weight { try Init.constant(weight, 1) }
        if let bias { try Init.constant(bias, 0) }
    }

    /// `weight`, `bias` (when `affine`).
    public override func namedOwnParameters() -> [(String, Tensor)] {
        guard let weight, let bias else { return [] }
        return [("weight", weight), ("bias", bias)]
    }

    /// `running_mean`, `running_var`, `num_batches_tracked` (when `trackRunningStats`).
    public override func namedOwnBuffers() -> [(String, Tensor)] {
        guard let runningMean, let runningVar, let numBatchesTracked else { return [] }
        return [("running_mean", runningMean), ("running_var", runningVar), ("num_batches_tracked", numBatchesTracked)]
    }

    /// Normalises `input` (`[N, numFeatures, H, W]`) with `batchNorm2d`, updating the running
    /// statistics in training mode.
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `BatchNorm2d`) for an input that is not 4-D
    ///   or has a channel count other than `numFeatures`, and `batchNorm2d`'s errors (one value per
    ///   channel in training).
    public override func forward(_ input: Tensor) throws -> Tensor {
        try require(input.rank == 4, "BatchNorm2d", "expected 4D input (got \(input.rank)D input of shape \(input.shape))")
        try require(input.shape[1] == numFeatures, "BatchNorm2d",
                    "expected input with \(numFeatures) channels (shape [N, \(numFeatures), H, W]), got input of shape \(input.shape)")
        let useBatchStatistics = isTraining || runningMean == nil
        let updating = isTraining && trackRunningStats
        var factor = momentum ?? 0
        if updating, momentum == nil, let numBatchesTracked {
            factor = 1 / Float(try numBatchesTracked.toIntArray()[0] + 1)
        }
        let output = try batchNorm2d(input, runningMean: updating || !isTraining ? runningMean : nil,
                                     runningVar: updating || !isTraining ? runningVar : nil,
                                     weight: weight, bias: bias, training: useBatchStatistics,
                                     momentum: factor, eps: eps)
        if updating, let numBatchesTracked {
            try backend(for: numBatchesTracked.device).incrementCounter(numBatchesTracked.storage)
        }
        return output
    }
}
