/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2
/// weight decay: PyTorch's `torch.optim.SGD` algorithm, step for step.
///
/// For each parameter with a gradient `g`: `d = g + weightDecay·p`; with momentum,
/// `buf = d` on the parameter's first step, else `buf = momentum·buf + (1 − dampening)·d`, and
/// `d = d + momentum·buf` (Nesterov) or `d = buf`; then `p = p − lr·d`.
public final class SGD: Optimizer, StateDictChecking {
    /// The step size.
    public var learningRate: Float
    /// The momentum factor (0: none).
    public private(set) var momentum: Float
    /// Dampening of the gradient added to the momentum buffer.
    public private(set) var dampening: Float
    /// L2 penalty: `weightDecay·p` is added to the gradient.
    public private(set) var weightDecay: Float
    /// Whether Nesterov momentum is used.
    public private(set) var nesterov: Bool
    /// The tensors updated by `step()`.
    public let parameters: [Tensor]
    /// The momentum buffer of each parameter (nil until its first step with momentum).
    public private(set) var momentumBuffers: [Tensor?]

    /// An SGD optimizer over `parameters` (PyTorch's defaults and checks).
    /// - Throws: `ConvKitError.invalidArgument` for an empty or repeated parameter list, a
    ///   negative or non-finite learning rate, momentum or weight decay, and Nesterov without a
    ///   positive momentum or with dampening.
    public init(parameters: [Tensor], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false) throws {
        try OptimizerChecks.checkParameters(parameters, "SGD")
        try SGD.checkHyperparameters(learningRate: learningRate, momentum: momentum, dampening: dampening,
                                     weightDecay: weightDecay, nesterov: nesterov, "SGD")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        momentumBuffers = Array(repeating: nil, count: parameters.count)
    }

    static func checkHyperparameters(learningRate: Float, momentum: Float, dampening: Float, weightDecay: Float,
                                     nesterov: Bool, _ op: String) throws {
        try OptimizerChecks.checkNonNegative(learningRate, "learning rate", op)
        try OptimizerChecks.checkNonNegative(momentum, "momentum", op)
        try OptimizerChecks.checkNonNegative(weightDecay, "weight decay", op)
        try require(dampening.isFinite, op, "invalid dampening \(dampening): must be finite")
        try require(!nesterov || (momentum > 0 && dampening == 0), op,
                    "Nesterov momentum requires a momentum and zero dampening (momentum \(momentum), dampening \(dampening))")
    }

    /// Updates every parameter that has a gradient.
    /// - Throws: `ConvKitError.invalidArgument` when `learningRate` was set to a negative or
    ///   non-finite value, or a gradient's shape, dtype or device does not match its parameter
    ///   (checked for all parameters before any is updated).
    public func step() throws {
        try OptimizerChecks.checkNonNegative(learningRate, "learning rate", "SGD.step")
        for (index, parameter) in parameters.enumerated() {
            try OptimizerChecks.checkGradient(of: parameter, index: index, "SGD.step")
        }
        let dampeningComplement = Float(1 - Double(dampening))
        for (index, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            var buffer: Tensor?
            var first = false
            if momentum != 0 {
                if let existing = momentumBuffers[index] {
                    try OptimizerChecks.follow(existing, parameter)
                    buffer = existing
                } else {
                    buffer = try OptimizerChecks.stateTensor(like: parameter)
                    first = true
                }
            }
            let hyperparameters = SGDStepParameters(learningRate: learningRate, momentum: momentum,
                                                    dampeningComplement: dampeningComplement, weightDecay: weightDecay,
                                                    nesterov: nesterov, initializeMomentum: first)
            try backend(for: parameter.device).sgdStep(parameter: parameter.storage, gradient: grad.storage,
                                                       momentumBuffer: buffer?.storage, count: parameter.count,
                                                       hyperparameters: hyperparameters)
            if first { momentumBuffers[index] = buffer }
        }
    }

    /// `param_groups.0.{lr, momentum, dampening, weight_decay, nesterov, parameter_count}` and
    /// `state.<i>.momentum_buffer` for each parameter that has one.
    public func stateDict() -> [(String, Tensor)] {
        var state: [(String, Tensor)] = [
            ("param_groups.0.lr", hostScalar(learningRate)),
            ("param_groups.0.momentum", hostScalar(momentum)),
            ("param_groups.0.dampening", hostScalar(dampening)),
            ("param_groups.0.weight_decay", hostScalar(weightDecay)),
            ("param_groups.0.nesterov", hostScalar(nesterov ? 1 : 0)),
            ("param_groups.0.parameter_count", hostScalar(int: Int32(parameters.count))),
        ]
        for (index, buffer) in momentumBuffers.enumerated() {
            if let buffer { state.append(("state.\(index).momentum_buffer", buffer)) }
        }
        return state
    }

    private struct Loaded {
        var learningRate, momentum, dampening, weightDecay: Float
        var nesterov: Bool
        var buffers: [Tensor?]
    }

    private func parse(_ state: [String: Tensor]) throws -> Loaded {
        let op = "SGD.loadStateDict"
        let groupKeys = ["lr", "momentum", "dampening", "weight_decay", "nesterov", "parameter_count"].map { "param_groups.0.\($0)" }
        var reader = try StateDictReader(state, op: op, allowedKeys: Set(groupKeys + parameters.indices.map { "state.\($0).momentum_buffer" }))
        try reader.checkParameterCount(parameters.count)
        let nesterovFlag = try reader.float("param_groups.0.nesterov")
        try require(nesterovFlag == 0 || nesterovFlag == 1, op, "param_groups.0.nesterov must be 0 or 1, got \(nesterovFlag)")
        let loaded = Loaded(learningRate: try reader.float("param_groups.0.lr"),
                            momentum: try reader.float("param_groups.0.momentum"),
                            dampening: try reader.float("param_groups.0.dampening"),
                            weightDecay: try reader.float("param_groups.0.weight_decay"),
                            nesterov: nesterovFlag == 1,
                            buffers: try parameters.indices.map {
                                try reader.optionalTensor("state.\($0).momentum_buffer", shape: parameters[$0].shape)
                            })
        try reader.finish()
        try SGD.checkHyperparameters(learningRate: loaded.learningRate, momentum: loaded.momentum, dampening: loaded.dampening,
                                     weightDecay: loaded.weightDecay, nesterov: loaded.nesterov, op)
        return loaded
    }

    /// Throws what `loadStateDict(_:)` would throw, changing nothing.
    func checkStateDict(_ state: [String: Tensor]) throws { _ = try parse(state) }

    /// Restores hyperparameters and momentum buffers from `stateDict()`'s output (see `Optimizer`).
    public func loadStateDict(_ state: [String: Tensor]) throws {
        let loaded = try parse(state)
        let buffers = try parameters.indices.map { index in
            try loaded.buffers[index].map { try StateDictReader.copy($0, like: parameters[index]) }
        }
        learningRate = loaded.learningRate
        momentum = loaded.momentum
        dampening = loaded.dampening
        weightDecay = loaded.weightDecay
        nesterov = loaded.nesterov
        momentumBuffers = buffers
    }
}
