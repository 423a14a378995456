import Foundation

/// Adam: PyTorch's `torch.optim.Adam` algorithm (bias-corrected moments, `eps` added after the
/// square root of the bias-corrected second moment, L2 weight decay added to the gradient).
///
/// For each parameter with a gradient `g`, at its step `t` (counted per parameter):
/// `g = g + weightDecay·p`, `m = β₁·m + (1 − β₁)·g`, `v = β₂·v + (1 − β₂)·g²`,
/// `p = p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps)`.
public class Adam: Optimizer, StateDictChecking {
    /// The step size.
    public var learningRate: Float
    /// The decay rates (β₁, β₂) of the first and second moments.
    public private(set) var betas: (Float, Float)
    /// Added to the denominator for numerical stability.
    public private(set) var eps: Float
    /// The weight decay: an L2 penalty added to the gradient (Adam) or a decoupled decay (AdamW).
    public private(set) var weightDecay: Float
    /// The tensors updated by `step()`.
    public let parameters: [Tensor]
    /// Each parameter's first moment (`exp_avg`), nil until its first step.
    public private(set) var expAvg: [Tensor?]
    /// Each parameter's second moment (`exp_avg_sq`), nil until its first step.
    public private(set) var expAvgSq: [Tensor?]
    /// How many updates each parameter has received.
    public private(set) var steps: [Int]
    /// AdamW's decay `p = p·(1 − lr·weightDecay)` instead of Adam's L2 gradient term.
    let decoupledWeightDecay: Bool
    private var op: String { decoupledWeightDecay ? "AdamW" : "Adam" }

    /// An Adam optimizer over `parameters` (PyTorch's defaults and checks).
    /// - Throws: `ConvKitError.invalidArgument` for an empty or repeated parameter list, a
    ///   negative or non-finite learning rate, eps or weight decay, or a beta outside [0, 1).
    public convenience init(parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                            eps: Float = 1e-8, weightDecay: Float = 0) throws {
        try self.init(parameters: parameters, learningRate: learningRate, betas: betas, eps: eps,
                      weightDecay: weightDecay, decoupled: false)
    }

    init(parameters: [Tensor], learningRate: Float, betas: (Float, Float), eps: Float, weightDecay: Float,
         decoupled: Bool) throws {
        let op = decoupled ? "AdamW" : "Adam"
        try OptimizerChecks.checkParameters(parameters, op)
        try Adam.checkHyperparameters(learningRate: learningRate, betas: betas, eps: eps, weightDecay: weightDecay, op)
        self.parameters = parameters
        self.learningRate = learningRate
        self.betas = betas
        self.eps = eps
        self.weightDecay = weightDecay
        decoupledWeightDecay = decoupled
        expAvg = Array(repeating: nil, count: parameters.count)
        expAvgSq = Array(repeating: nil, count: parameters.count)
        steps = Array(repeating: 0, count: parameters.count)
    }

    static func checkHyperparameters(learningRate: Float, betas: (Float, Float), eps: Float, weightDecay: Float,
                                     _ op: String) throws {
        try OptimizerChecks.checkNonNegative(learningRate, "learning rate", op)
        try OptimizerChecks.checkNonNegative(eps, "epsilon", op)
        try OptimizerChecks.checkBeta(betas.0, 0, op)
        try OptimizerChecks.checkBeta(betas.1, 1, op)
        try OptimizerChecks.checkNonNegative(weightDecay, "weight decay", op)
    }

    /// The kernel scalars for a parameter's update number `step` (≥ 1), with the bias corrections
    /// computed in Float64 as PyTorch computes them in Python.
    func stepParameters(step: Int) -> AdamStepParameters {
        let beta1 = Double(betas.0), beta2 = Double(betas.1), lr = Double(learningRate)
        let t = Double(step)
        let biasCorrection1 = 1 - Foundation.pow(beta1, t)
        let biasCorrection2 = 1 - Foundation.pow(beta2, t)
        let decoupledFactor: Float? = decoupledWeightDecay && weightDecay != 0 ? Float(1 - lr * Double(weightDecay)) : nil
        return AdamStepParameters(oneMinusBeta1: Float(1 - beta1), beta2: betas.1, oneMinusBeta2: Float(1 - beta2),
                                  eps: eps, weightDecay: decoupledWeightDecay ? 0 : weightDecay,
                                  decoupledDecayFactor: decoupledFactor,
                                  negativeStepSize: Float(-(lr / biasCorrection1)),
                                  biasCorrection2Sqrt: Float(biasCorrection2.squareRoot()))
    }

    /// Updates every parameter that has a gradient.
    /// - Throws: `ConvKitError.invalidArgument` when `learningRate` was set to a negative or
    ///   non-finite value, or a gradient's shape, dtype or device does not match its parameter
    ///   (checked for all parameters before any is updated).
    public func step() throws {
        try OptimizerChecks.checkNonNegative(learningRate, "learning rate", "\(op).step")
        for (index, parameter) in parameters.enumerated() {
            try OptimizerChecks.checkGradient(of: parameter, index: index, "\(op).step")
        }
        for (index, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            let first: Tensor, second: Tensor
            if let m = expAvg[index], let v = expAvgSq[index] {
                try OptimizerChecks.follow(m, parameter)
                try OptimizerChecks.follow(v, parameter)
                (first, second) = (m, v)
            } else {
                first = try Tensor.zeros(parameter.shape, on: parameter.device)
                second = try Tensor.zeros(parameter.shape, on: parameter.device)
                expAvg[index] = first
                expAvgSq[index] = second
            }
            steps[index] += 1
            try backend(for: parameter.device).adamStep(parameter: parameter.storage, gradient: grad.storage,
                                                        expAvg: first.storage, expAvgSq: second.storage,
                                                        count: parameter.count,
                                                        hyperparameters: stepParameters(step: steps[index]))
        }
    }

    /// `param_groups.0.{lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, parameter_count}`
    /// and, for each parameter that has taken a step, `state.<i>.{step, exp_avg, exp_avg_sq}`
    /// (`step` as an int32 scalar).
    public func stateDict() -> [(String, Tensor)] {
        var state: [(String, Tensor)] = [
            ("param_groups.0.lr", hostScalar(learningRate)),
            ("param_groups.0.beta1", hostScalar(betas.0)),
            ("param_groups.0.beta2", hostScalar(betas.1)),
            ("param_groups.0.eps", hostScalar(eps)),
            ("param_groups.0.weight_decay", hostScalar(weightDecay)),
            ("param_groups.0.decoupled_weight_decay", hostScalar(decoupledWeightDecay ? 1 : 0)),
            ("param_groups.0.parameter_count", hostScalar(int: Int32(parameters.count))),
        ]
        for index in parameters.indices {
            guard let m = expAvg[index], let v = expAvgSq[index] else { continue }
            state.append(("state.\(index).step", hostScalar(int: Int32(clamping: steps[index]))))
            state.append(("state.\(index).exp_avg", m))
            state.append(("state.\(index).exp_avg_sq", v))
        }
        return state
    }

    private struct Loaded {
        var learningRate, beta1, beta2, eps, weightDecay: Float
        var moments: [(step: Int, expAvg: Tensor, expAvgSq: Tensor)?]
    }

    private func parse(_ state: [String: Tensor]) throws -> Loaded {
        let op = "\(self.op).loadStateDict"
        let groupKeys = ["lr", "beta1", "beta2", "eps", "weight_decay", "decoupled_weight_decay", "parameter_count"]
            .map { "param_groups.0.\($0)" }
        let stateKeys = parameters.indices.flatMap { index in ["step", "exp_avg", "exp_avg_sq"].map { "state.\(index).\($0)" } }
        var reader = try StateDictReader(state, op: op, allowedKeys: Set(groupKeys + stateKeys))
        try reader.checkParameterCount(parameters.count)
        let decoupled = try reader.float("param_groups.0.decoupled_weight_decay")
        try require(decoupled == (decoupledWeightDecay ? 1 : 0), op,
                    "the state dict is for \(decoupled == 1 ? "AdamW" : "Adam") but this optimizer is \(self.op)")
        var loaded = Loaded(learningRate: try reader.float("param_groups.0.lr"), beta1: try reader.float("param_groups.0.beta1"),
                            beta2: try reader.float("param_groups.0.beta2"), eps: try reader.float("param_groups.0.eps"),
                            weightDecay: try reader.float("param_groups.0.weight_decay"), moments: [])
        for (index, parameter) in parameters.enumerated() {
            let names = ["step", "exp_avg", "exp_avg_sq"].map { "state.\(index).\($0)" }
            let present = names.filter { reader.contains($0) }
            if present.isEmpty { loaded.moments.append(nil); continue }
            try require(present.count == 3, op, "parameter \(index) has \(present) but not all of \(names)")
            let step = try reader.integer(names[0])
            try require(step >= 1, op, "\(names[0]) is \(step), expected at least 1")
            let m = try reader.optionalTensor(names[1], shape: parameter.shape)!
            let v = try reader.optionalTensor(names[2], shape: parameter.shape)!
            loaded.moments.append((step, m, v))
        }
        try reader.finish()
        try Adam.checkHyperparameters(learningRate: loaded.learningRate, betas: (loaded.beta1, loaded.beta2),
                                      eps: loaded.eps, weightDecay: loaded.weightDecay, op)
        return loaded
    }

    /// Throws what `loadStateDict(_:)` would throw, changing nothing.
    func checkStateDict(_ state: [String: Tensor]) throws { _ = try parse(state) }

    /// Restores hyperparameters, step counts and moments from `stateDict()`'s output (see `Optimizer`).
    public func loadStateDict(_ state: [String: Tensor]) throws {
        let loaded = try parse(state)
        var first: [Tensor?] = [], second: [Tensor?] = [], counts: [Int] = []
        for (index, parameter) in parameters.enumerated() {
            if let moments = loaded.moments[index] {
                first.append(try StateDictReader.copy(moments.expAvg, like: parameter))
                second.append(try StateDictReader.copy(moments.expAvgSq, like: parameter))
                counts.append(moments.step)
            } else {
                first.append(nil)
                second.append(nil)
                counts.append(0)
            }
        }
        learningRate = loaded.learningRate
        betas = (loaded.beta1, loaded.beta2)
        eps = loaded.eps
        weightDecay = loaded.weightDecay
        expAvg = first
        expAvgSq = second
        steps = counts
    }
}

/// AdamW: Adam with decoupled weight decay (`p = p·(1 − lr·weightDecay)` before the Adam update
/// instead of an L2 term in the gradient), as PyTorch's `torch.optim.AdamW`.
public final class AdamW: Adam {
    /// An AdamW optimizer over `parameters` (PyTorch's defaults, weight decay 0.01, and checks).
    /// - Throws: `ConvKitError.invalidArgument` as `Adam.init`.
    public init(parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                eps: Float = 1e-8, weightDecay: Float = 0.01) throws {
        try super.init(parameters: parameters, learningRate: learningRate, betas: betas, eps: eps,
                       weightDecay: weightDecay, decoupled: true)
    }
}
