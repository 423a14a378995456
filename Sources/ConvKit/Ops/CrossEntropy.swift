/// Cross-entropy between logits and targets, fused with log-softmax, exactly as
/// `torch.nn.functional.cross_entropy`.
///
/// With `ℓ = logSoftmax(logits, dim: classDim)`, `C` classes, `w` the class weights (1 when
/// `weight` is nil) and `ε = labelSmoothing`, the loss of one row (one sample, or one position of
/// a sample for spatial inputs) is:
/// - class-index target `t`: `(1 − ε)·w[t]·(−ℓ[t]) + (ε/C)·Σ_c w[c]·(−ℓ[c])`, and 0 when `t == ignoreIndex`;
/// - class-probability target `q`: `Σ_c w[c]·q'[c]·(−ℓ[c])` with `q' = (1 − ε)·q + ε/C`.
///
/// Reductions: `.none` returns the per-row losses (the index target's shape); `.sum` their sum;
/// `.mean` their sum divided by `Σ w[t]` over the rows that are not ignored (index targets), or by
/// the number of rows (probability targets), as PyTorch's weighted mean.
///
/// **A mean over no rows** (every target equal to `ignoreIndex`, an empty batch, or weights that
/// sum to zero) **is NaN**, as in PyTorch (0/0); its gradient is zero for ignored rows.
///
/// The gradient with respect to the logits is computed directly as `(p − y)·w / normaliser` in one
/// fused kernel (`p = softmax(logits)`, `y` the smoothed target; for weighted smoothing the exact
/// form is `p·Σa − a` with `a` the coefficients above), zero on ignored rows. A probability target
/// that requires a gradient receives `(1 − ε)·w[c]·(−ℓ[c])` (scaled likewise). `weight` gets no
/// gradient (as in PyTorch's `nll_loss`).
///
/// - Parameters:
///   - logits: `[N, C]`, `[N, C, d1, …]` or unbatched `[C]`, float32.
///   - target: `int32` class indices of shape `[N]` / `[N, d1, …]` / `[]`, or float32 class
///     probabilities with the logits' shape.
///   - weight: optional `[C]` rescaling weight per class.
///   - ignoreIndex: an index target equal to this contributes nothing (index targets only).
///   - reduction: `.none`, `.mean` (default) or `.sum`.
///   - labelSmoothing: ε in [0, 1].
/// - Throws: `ConvKitError.invalidArgument` for mismatched shapes, dtypes or devices, a smoothing
///   outside [0, 1], no classes, or a class index outside `[0, C)` that is not `ignoreIndex`
///   (`crossEntropy: target 7 is out of bounds for 4 classes (at element 3)`).
public func crossEntropy(_ logits: Tensor, _ target: Tensor, weight: Tensor? = nil, ignoreIndex: Int = -100,
                         reduction: Reduction = .mean, labelSmoothing: Float = 0) throws -> Tensor {
    let op = "crossEntropy"
    try NNOpChecks.requireFloat(logits, op, "logits")
    try NNOpChecks.requireDevice(target, logits.device, op, "target")
    try require(logits.rank >= 1, op, "logits must have at least 1 dimension [C], got shape \(logits.shape)")
    try require(labelSmoothing >= 0 && labelSmoothing <= 1, op,
                "labelSmoothing must be between 0 and 1, got \(labelSmoothing)")
    let classDim = logits.rank == 1 ? 0 : 1
    let classes = logits.shape[classDim]
    try require(classes >= 1, op, "logits have no classes (shape \(logits.shape))")
    var rowShape = logits.shape
    rowShape.remove(at: classDim)
    let probabilityTarget = target.dtype == .float32
    if probabilityTarget {
        try require(target.shape == logits.shape, op,
                    "float target (class probabilities) has shape \(target.shape) but must match logits \(logits.shape)")
    } else {
        try require(target.shape == rowShape, op,
                    "target has shape \(target.shape) but logits \(logits.shape) expect class indices of shape \(rowShape) (or probabilities of shape \(logits.shape))")
    }
    if let weight {
        try NNOpChecks.requireFloat(weight, op, "weight")
        try NNOpChecks.requireDevice(weight, logits.device, op, "weight")
        try require(weight.shape == [classes], op, "weight has shape \(weight.shape) but logits have \(classes) classes (expected [\(classes)])")
    }
    let layout = classDim == 0 ? ReductionLayout(outer: 1, dim: classes, inner: 1) : ReductionLayout(shape: logits.shape, axis: 1)
    let parameters = CrossEntropyParameters(layout: layout, probabilityTarget: probabilityTarget,
                                            ignoreIndex: ignoreIndex, labelSmoothing: labelSmoothing)
    let device = logits.device
    let b = try backend(for: device)
    let rowLosses = try Tensor.empty(rowShape, on: device)
    let rowWeights = try Tensor.empty(rowShape, on: device)
    let logSumExp = try Tensor.empty(rowShape, on: device)
    let output = reduction == .none ? rowLosses : try Tensor.empty([], on: device)
    // Σ weight of a mean, for the backward pass; written by the reduction.
    let normaliser = reduction == .mean ? try b.allocateUninitialized(byteCount: DType.float32.size) : nil
    try b.crossEntropyLoss(logits: logits.storage, target: target.storage, weight: weight?.storage,
                           rowLosses: rowLosses.storage, rowWeights: rowWeights.storage, logSumExp: logSumExp.storage,
                           parameters: parameters, reduction: reduction,
                           output: reduction == .none ? nil : output.storage, normaliser: normaliser, op: op)

    let savedLogits = logits.storage, savedTarget = target.storage, savedWeight = weight?.storage
    let savedLogSumExp = logSumExp.storage
    let logitsShape = logits.shape
    let needLogits = logits.requiresGrad, needTarget = probabilityTarget && target.requiresGrad
    return try Autograd.record(output, op: op, inputs: [logits, target]) { grad in
        let gradLogits = needLogits ? try Tensor.empty(logitsShape, on: grad.device) : nil
        let gradTarget = needTarget ? try Tensor.empty(logitsShape, on: grad.device) : nil
        try b.crossEntropyBackward(gradOutput: grad.storage, perRowGradient: reduction == .none, normaliser: normaliser,
                                   logits: savedLogits, target: savedTarget, weight: savedWeight,
                                   logSumExp: savedLogSumExp, gradLogits: gradLogits?.storage,
                                   gradTarget: gradTarget?.storage, parameters: parameters)
        return [gradLogits, gradTarget]
    }
}
