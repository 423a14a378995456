/// Batch normalisation over the channel dimension of an `[N, C, *]` input (e.g. NCHW), as
/// `torch.nn.functional.batch_norm`.
///
/// With `training == true`, each channel is normalised with the mean and the biased variance of
/// its `N·H·W` values in this batch, and the running statistics, when given, are updated in place:
/// `running_mean ← (1 − momentum)·running_mean + momentum·mean` and
/// `running_var ← (1 − momentum)·running_var + momentum·unbiased variance` (PyTorch's rule: the
/// batch variance times `count/(count − 1)`). With `training == false` the running statistics are
/// used and left unchanged.
/// `output = (x − mean) / √(var + eps) · weight + bias` (weight 1 and bias 0 when not given).
///
/// Gradients flow to `x`, `weight` and `bias`. In training mode the input gradient goes through the
/// batch statistics (`w·s·(g − mean(g) − x̂·mean(g·x̂))`, `s = 1/√(var + eps)`); in evaluation mode
/// the layer is a fixed per-channel affine map (`w·s·g`). No gradient flows to the running statistics.
///
/// - Parameters:
///   - x: `[N, C]`, `[N, C, L]`, `[N, C, H, W]` or more dimensions; channels are dimension 1.
///   - runningMean, runningVar: `[C]` float32 tensors on `x`'s device, or both nil (then training
///     mode is required, as PyTorch's).
///   - weight, bias: optional `[C]` scale and shift.
///   - training: use (and update) batch statistics instead of the running ones.
///   - momentum: the running statistics' update factor.
///   - eps: added to the variance before the square root (≥ 0).
/// - Throws: `ConvKitError.invalidArgument` (op `batchNorm2d`) for an input of rank < 2 or not
///   float32, a per-channel tensor of the wrong shape, dtype or device, only one of the running
///   statistics, missing running statistics in evaluation mode, a negative `eps`, or a training batch
///   with one value per channel ("Expected more than 1 value per channel when training").
public func batchNorm2d(_ x: Tensor, runningMean: Tensor?, runningVar: Tensor?, weight: Tensor? = nil,
                        bias: Tensor? = nil, training: Bool = false, momentum: Float = 0.1,
                        eps: Float = 1e-5) throws -> Tensor {
    let op = "batchNorm2d"
    try require(x.dtype == .float32, op, "input must be float32, got \(x.dtype)")
    try require(x.rank >= 2, op, "expected an input of at least 2 dimensions [N, C, …], got shape \(x.shape)")
    let channels = x.shape[1]
    for (name, tensor) in [("runningMean", runningMean), ("runningVar", runningVar), ("weight", weight), ("bias", bias)] {
        guard let tensor else { continue }
        try require(tensor.dtype == .float32, op, "\(name) must be float32, got \(tensor.dtype)")
        try require(tensor.shape == [channels], op,
                    "\(name) should contain \(channels) elements (shape [\(channels)]), got shape \(tensor.shape)")
        try require(tensor.device == x.device, op, "\(name) is on \(tensor.device) but input is on \(x.device)")
    }
    try require((runningMean == nil) == (runningVar == nil), op, "runningMean and runningVar must be given together")
    try require(training || runningMean != nil, op, "runningMean and runningVar must be given in evaluation mode (training: false)")
    try require(eps >= 0, op, "eps must be non-negative, got \(eps)")
    try require(momentum.isFinite, op, "momentum must be finite, got \(momentum)")
    let layout = ReductionLayout(outer: x.shape[0], dim: channels, inner: x.shape.dropFirst(2).reduce(1, *))
    let perChannel = layout.outer * layout.inner
    if training {
        try require(perChannel > 1, op, "Expected more than 1 value per channel when training, got input size \(x.shape)")
    }

    let device = x.device
    let kernels = try backend(for: device)
    let mean: Tensor, variance: Tensor
    let output = try Tensor.empty(x.shape, on: device)
    if training {
        mean = try Tensor.empty([channels], on: device)
        variance = try Tensor.empty([channels], on: device)
        try kernels.batchNormTrainingForward(input: x.storage, mean: mean.storage, variance: variance.storage,
                                             weight: weight?.storage, bias: bias?.storage, output: output.storage,
                                             layout: layout, eps: eps)
    } else {
        // Copies, so that a later update of the running statistics cannot change this backward pass.
        mean = try Autograd.copy(runningMean!)
        variance = try Autograd.copy(runningVar!)
        try kernels.batchNormForward(input: x.storage, mean: mean.storage, variance: variance.storage,
                                     weight: weight?.storage, bias: bias?.storage, output: output.storage,
                                     layout: layout, eps: eps)
    }
    if training, let runningMean, let runningVar {
        try kernels.batchNormUpdateRunningStatistics(runningMean: runningMean.storage, runningVar: runningVar.storage,
                                                     batchMean: mean.storage, batchVariance: variance.storage,
                                                     channels: channels, count: perChannel, momentum: momentum)
    }

    var inputs = [x]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    let savedInput = x.detach(), savedWeight = weight?.detach()
    let wantInput = x.requiresGrad, wantWeight = weight?.requiresGrad ?? false, wantBias = bias?.requiresGrad ?? false
    return try Autograd.record(output, op: op, inputs: inputs) { grad in
        let gradInput = wantInput ? try Tensor.empty(savedInput.shape, on: device) : nil
        let gradWeight = wantWeight ? try Tensor.empty([channels], on: device) : nil
        let gradBias = wantBias ? try Tensor.empty([channels], on: device) : nil
        try backend(for: device).batchNormBackward(
            gradOutput: grad.storage, input: savedInput.storage, mean: mean.storage, variance: variance.storage,
            weight: savedWeight?.storage, gradInput: gradInput?.storage, gradWeight: gradWeight?.storage,
            gradBias: gradBias?.storage, layout: layout, eps: eps, batchStatistics: training)
        var grads: [Tensor?] = [gradInput]
        if weight != nil { grads.append(gradWeight) }
        if bias != nil { grads.append(gradBias) }
        return grads
    }
}
