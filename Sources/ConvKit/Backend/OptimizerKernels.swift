/// The scalars of one SGD update, as PyTorch's `torch.optim.SGD` (single-tensor path) uses them.
///
/// With `g` the gradient and `p` the parameter, the kernel computes, element by element:
/// `d = g + weightDecay·p` (when `weightDecay` ≠ 0); with momentum ≠ 0,
/// `buf = d` on the first step (`initializeMomentum`), else `buf = buf·momentum + dampeningComplement·d`,
/// then `d = d + momentum·buf` (Nesterov) or `d = buf`; finally `p = p + (−learningRate)·d`.
public struct SGDStepParameters: Hashable, Sendable {
    /// The step size.
    public var learningRate: Float
    /// The momentum factor (0: plain SGD, no buffer).
    public var momentum: Float
    /// `1 − dampening`, computed by the caller in Float64 and rounded once (as PyTorch's `alpha`).
    public var dampeningComplement: Float
    /// The L2 penalty added to the gradient.
    public var weightDecay: Float
    /// Nesterov momentum.
    public var nesterov: Bool
    /// `true` on the parameter's first update: the momentum buffer is set to the gradient
    /// instead of being decayed (its previous contents are ignored).
    public var initializeMomentum: Bool

    /// Parameters from their parts.
    public init(learningRate: Float, momentum: Float, dampeningComplement: Float, weightDecay: Float,
                nesterov: Bool, initializeMomentum: Bool) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampeningComplement = dampeningComplement
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.initializeMomentum = initializeMomentum
    }
}

/// The scalars of one Adam / AdamW update, as PyTorch's `torch.optim.Adam` (single-tensor path)
/// uses them. Bias corrections are computed by the caller in Float64 (they depend only on the
/// step number) and rounded once, so every device applies the same numbers.
///
/// With `g` the gradient and `p` the parameter, the kernel computes, element by element:
/// `p = p·decoupledDecayFactor` (AdamW; the factor is 1 − lr·wd) or `g = g + weightDecay·p` (Adam's L2),
/// `m = lerp(m, g, oneMinusBeta1)` (PyTorch's lerp: `m + w·(g − m)` when |w| < 0.5, else `g − (g − m)·(1 − w)`),
/// `v = v·beta2 + oneMinusBeta2·g·g`, `denominator = √v / biasCorrection2Sqrt + eps`,
/// `p = p + negativeStepSize · m / denominator`.
public struct AdamStepParameters: Hashable, Sendable {
    /// `1 − β₁` (the lerp weight of the first moment).
    public var oneMinusBeta1: Float
    /// β₂ (the decay of the second moment).
    public var beta2: Float
    /// `1 − β₂`.
    public var oneMinusBeta2: Float
    /// Added to the bias-corrected root of the second moment.
    public var eps: Float
    /// L2 penalty added to the gradient (Adam); 0 for AdamW.
    public var weightDecay: Float
    /// The factor the parameter is multiplied by before the update (AdamW: `1 − lr·wd`); `nil`: none.
    public var decoupledDecayFactor: Float?
    /// `−lr / (1 − β₁ᵗ)`.
    public var negativeStepSize: Float
    /// `√(1 − β₂ᵗ)`.
    public var biasCorrection2Sqrt: Float

    /// Parameters from their parts.
    public init(oneMinusBeta1: Float, beta2: Float, oneMinusBeta2: Float, eps: Float, weightDecay: Float,
                decoupledDecayFactor: Float?, negativeStepSize: Float, biasCorrection2Sqrt: Float) {
        self.oneMinusBeta1 = oneMinusBeta1
        self.beta2 = beta2
        self.oneMinusBeta2 = oneMinusBeta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupledDecayFactor = decoupledDecayFactor
        self.negativeStepSize = negativeStepSize
        self.biasCorrection2Sqrt = biasCorrection2Sqrt
    }
}

/// Fused optimizer updates: one kernel per parameter per step, reading the gradient and updating
/// the parameter and its state in place (the parameter's storage keeps its identity).
///
/// Every storage holds `count` float32 values. Arguments are validated by the optimizer first.
/// Each element's result depends only on that element, so results do not depend on how the work
/// is split across threads or blocks.
public protocol OptimizerKernels {
    /// One SGD update of `parameter` from `gradient` (see `SGDStepParameters`). `momentumBuffer`
    /// is required when `hyperparameters.momentum` ≠ 0 and ignored otherwise.
    func sgdStep(parameter: Storage, gradient: Storage, momentumBuffer: Storage?, count: Int,
                 hyperparameters: SGDStepParameters) throws

    /// One Adam / AdamW update of `parameter` and its moments `expAvg`, `expAvgSq` from `gradient`
    /// (see `AdamStepParameters`).
    func adamStep(parameter: Storage, gradient: Storage, expAvg: Storage, expAvgSq: Storage, count: Int,
                  hyperparameters: AdamStepParameters) throws
}
