/// The layout of a tensor seen as `[outer, dim, inner]` around one dimension: softmax's reduction
/// dimension, cross-entropy's class dimension, local response normalisation's channel dimension.
/// Element `(o, d, i)` is at `(o * dim + d) * inner + i`.
public struct ReductionLayout: Hashable, Sendable {
    /// The product of the sizes before the dimension.
    public var outer: Int
    /// The size of the dimension itself.
    public var dim: Int
    /// The product of the sizes after the dimension (1 when it is the last one).
    public var inner: Int

    /// A layout from its three sizes.
    public init(outer: Int, dim: Int, inner: Int) {
        self.outer = outer
        self.dim = dim
        self.inner = inner
    }

    /// The layout of `shape` around dimension `axis` (already made non-negative).
    public init(shape: [Int], axis: Int) {
        outer = shape[..<axis].reduce(1, *)
        dim = shape[axis]
        inner = shape[(axis + 1)...].reduce(1, *)
    }

    /// Number of vectors along the dimension: `outer * inner`.
    public var rows: Int { outer * inner }
    /// Number of elements: `outer * dim * inner`.
    public var count: Int { outer * dim * inner }
}

/// How cross-entropy reduces its per-row losses, as PyTorch's `reduction` argument.
public enum Reduction: String, Sendable, CaseIterable {
    /// One loss per row (the target's shape).
    case none
    /// The (weighted) mean: the sum of the losses divided by the sum of the weights of the
    /// target classes of the rows that are not ignored.
    case mean
    /// The sum of the losses.
    case sum
}

/// The arguments of a cross-entropy kernel, besides its storages.
public struct CrossEntropyParameters: Hashable, Sendable {
    /// Logits as `[batch, classes, spatial]` (`outer`, `dim`, `inner`); one row per `(batch, spatial)`.
    public var layout: ReductionLayout
    /// `true`: the target holds float class probabilities with the logits' layout;
    /// `false`: it holds one `int32` class index per row.
    public var probabilityTarget: Bool
    /// Index targets equal to this contribute no loss, no weight and no gradient.
    public var ignoreIndex: Int
    /// Label smoothing ε in [0, 1]: the target becomes `(1 − ε)·target + ε / classes`.
    public var labelSmoothing: Float

    /// Parameters from their parts.
    public init(layout: ReductionLayout, probabilityTarget: Bool, ignoreIndex: Int, labelSmoothing: Float) {
        self.layout = layout
        self.probabilityTarget = probabilityTarget
        self.ignoreIndex = ignoreIndex
        self.labelSmoothing = labelSmoothing
    }
}

/// Kernels for linear, activations, dropout, local response normalisation, softmax and cross-entropy.
///
/// Every storage holds `float32` values unless stated otherwise; sizes are element counts.
/// Arguments are validated by the ops before a kernel runs.
public protocol NNKernels {
    /// `output[batch, outFeatures] = input[batch, inFeatures] · weightᵀ + bias`, where `weight` is
    /// `[outFeatures, inFeatures]` and `bias` (optional) is `[outFeatures]`.
    func linearForward(input: Storage, weight: Storage, bias: Storage?, output: Storage,
                       batch: Int, inFeatures: Int, outFeatures: Int) throws

    /// The gradients of `linearForward`, each only when its storage is given:
    /// `gradInput = gradOutput · weight`, `gradWeight = gradOutputᵀ · input`, `gradBias = Σ_batch gradOutput`.
    func linearBackward(gradOutput: Storage, input: Storage, weight: Storage,
                        gradInput: Storage?, gradWeight: Storage?, gradBias: Storage?,
                        batch: Int, inFeatures: Int, outFeatures: Int) throws

    /// `output[i] = max(input[i], 0)` (NaN stays NaN).
    func reluForward(input: Storage, output: Storage, count: Int) throws

    /// `gradInput[i] = output[i] > 0 ? gradOutput[i] : 0`, from ReLU's output (gradient 0 at 0).
    func reluBackward(gradOutput: Storage, output: Storage, gradInput: Storage, count: Int) throws

    /// Inverted dropout: `output[i] = input[i] · m(i)`, where `m(i) = 1/(1−p)` when element `i` is
    /// kept and 0 when dropped. Element `i` is kept when `Philox.unitFloat(word) >= p`, where
    /// `word` is word `i % 4` of `Philox.block(seed: seed, counter: i / 4)`; so the mask depends only
    /// on `seed` and `i`, and the backward pass (and any device) can regenerate it.
    func dropoutForward(input: Storage, output: Storage, count: Int, p: Float, seed: UInt64) throws

    /// `gradInput[i] = gradOutput[i] · m(i)` with the same mask as `dropoutForward` for `seed`.
    func dropoutBackward(gradOutput: Storage, gradInput: Storage, count: Int, p: Float, seed: UInt64) throws

    /// Local response normalisation across channels (`layout.dim`), as PyTorch's:
    /// `scale[c] = k + alpha/size · Σ x[c']²` over `c' ∈ [c − size/2, c + (size−1)/2]` (zero outside),
    /// `output = input · scale^(−beta)`. Writes `scale` too (for the backward pass).
    func localResponseNormForward(input: Storage, output: Storage, scale: Storage, layout: ReductionLayout,
                                  size: Int, alpha: Float, beta: Float, k: Float) throws

    /// The input gradient of `localResponseNormForward`, from its input and saved `scale`:
    /// `gradInput[j] = g[j]·scale[j]^(−β) − (2αβ/size)·x[j]·Σ_{c: j ∈ window(c)} g[c]·x[c]·scale[c]^(−β−1)`.
    func localResponseNormBackward(gradOutput: Storage, input: Storage, scale: Storage, gradInput: Storage,
                                   layout: ReductionLayout, size: Int, alpha: Float, beta: Float) throws

    /// Softmax (or log-softmax when `log`) along `layout.dim`, stable: the maximum of each vector is
    /// subtracted first; log-softmax is `x − max − log Σ exp(x − max)`.
    func softmaxForward(input: Storage, output: Storage, layout: ReductionLayout, log: Bool) throws

    /// The input gradient from the forward output `y`: softmax `y ⊙ (g − Σ g⊙y)`;
    /// log-softmax `g − exp(y) · Σ g`.
    func softmaxBackward(gradOutput: Storage, output: Storage, gradInput: Storage,
                         layout: ReductionLayout, log: Bool) throws

    /// Per-row cross-entropy fused with log-softmax. For each row `r` with log-probabilities `ℓ`:
    /// index target `t`: `loss = (1−ε)·w[t]·(−ℓ[t]) + (ε/C)·Σ_c w[c]·(−ℓ[c])`, `rowWeight = w[t]`
    /// (both 0 when `t == ignoreIndex`); probability target `q`: `loss = Σ_c w[c]·q'[c]·(−ℓ[c])` with
    /// `q' = (1−ε)q + ε/C`, `rowWeight = 1`. `w` is 1 when `weight` is nil.
    /// Writes `rowLosses`, `rowWeights` and `logSumExp` (`max + log Σ exp(x − max)`), `rows` each.
    /// Index targets (`int32`) must already be checked to lie in `[0, C)` or equal `ignoreIndex`.
    func crossEntropyForward(logits: Storage, target: Storage, weight: Storage?,
                             rowLosses: Storage, rowWeights: Storage, logSumExp: Storage,
                             parameters: CrossEntropyParameters) throws

    /// Checks that every `int32` class index in `target` (`count` of them) lies in `[0, classes)` or
    /// equals `ignoreIndex`.
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `op`) naming the first index outside the range and
    ///   its position. A device backend may raise it at its next synchronisation instead (a download,
    ///   `item()`), as PyTorch's device-side assertions do, so that checking never stalls the queue;
    ///   the cross-entropy kernels then give NaN for such rows instead of reading out of bounds.
    func validateClassTargets(_ target: Storage, count: Int, classes: Int, ignoreIndex: Int, op: String) throws

    /// The whole forward pass of `crossEntropy`: checks index targets as `validateClassTargets`
    /// (op `op`), writes the rows as `crossEntropyForward` and, unless `reduction` is `.none`,
    /// reduces them into `output` (and `normaliser`) as `crossEntropyReduce`. The default runs
    /// those three; a backend may fuse them into one pass.
    func crossEntropyLoss(logits: Storage, target: Storage, weight: Storage?,
                          rowLosses: Storage, rowWeights: Storage, logSumExp: Storage,
                          parameters: CrossEntropyParameters, reduction: Reduction,
                          output: Storage?, normaliser: Storage?, op: String) throws

    /// Reduces per-row losses into the one-element `output`: `.sum` → `Σ loss`; `.mean` → `Σ loss / Σ rowWeight`
    /// (NaN when the weights sum to 0, e.g. when every row is ignored), and writes `Σ rowWeight` into the
    /// one-element `normaliser` when given. Sums run in Float64. Not called for `.none`.
    func crossEntropyReduce(rowLosses: Storage, rowWeights: Storage, rows: Int,
                            reduction: Reduction, output: Storage, normaliser: Storage?) throws

    /// The gradient of cross-entropy with respect to the logits, computed directly (never through
    /// the softmax Jacobian): with `a[c]` the loss's coefficient of `−ℓ[c]` (see `crossEntropyForward`),
    /// `gradLogits[r, c] = s_r · (p[c]·Σ_c' a[c'] − a[c])`, i.e. `(p − y)·w` for one-hot `y`, and 0 on
    /// ignored rows. `s_r` is `gradOutput[r]` when `perRowGradient`, else `gradOutput[0]`, divided by
    /// `normaliser[0]` when `normaliser` is given (the weight sum of a mean).
    /// For probability targets, `gradTarget` (optional) receives `s_r · (1−ε) · w[c] · (−ℓ[c])`.
    func crossEntropyBackward(gradOutput: Storage, perRowGradient: Bool, normaliser: Storage?,
                              logits: Storage, target: Storage, weight: Storage?, logSumExp: Storage,
                              gradLogits: Storage?, gradTarget: Storage?,
                              parameters: CrossEntropyParameters) throws
}

extension NNKernels {
    /// The default `crossEntropyLoss`: `crossEntropyLossInSteps`.
    public func crossEntropyLoss(logits: Storage, target: Storage, weight: Storage?,
                                 rowLosses: Storage, rowWeights: Storage, logSumExp: Storage,
                                 parameters: CrossEntropyParameters, reduction: Reduction,
                                 output: Storage?, normaliser: Storage?, op: String) throws {
        try crossEntropyLossInSteps(logits: logits, target: target, weight: weight, rowLosses: rowLosses,
                                    rowWeights: rowWeights, logSumExp: logSumExp, parameters: parameters,
                                    reduction: reduction, output: output, normaliser: normaliser, op: op)
    }

    /// `crossEntropyLoss` as its three steps: `validateClassTargets` (index targets),
    /// `crossEntropyForward`, then `crossEntropyReduce` (for `.sum` and `.mean`).
    public func crossEntropyLossInSteps(logits: Storage, target: Storage, weight: Storage?,
                                        rowLosses: Storage, rowWeights: Storage, logSumExp: Storage,
                                        parameters: CrossEntropyParameters, reduction: Reduction,
                                        output: Storage?, normaliser: Storage?, op: String) throws {
        let layout = parameters.layout
        if !parameters.probabilityTarget {
            try validateClassTargets(target, count: layout.rows, classes: layout.dim,
                                     ignoreIndex: parameters.ignoreIndex, op: op)
        }
        try crossEntropyForward(logits: logits, target: target, weight: weight, rowLosses: rowLosses,
                                rowWeights: rowWeights, logSumExp: logSumExp, parameters: parameters)
        guard reduction != .none, let output else { return }
        try crossEntropyReduce(rowLosses: rowLosses, rowWeights: rowWeights, rows: layout.rows,
                               reduction: reduction, output: output, normaliser: normaliser)
    }
}
