/// CUDA-against-CPU checks of the optimizer kernels (see `DeviceVerification`): three steps of
/// SGD, Adam and AdamW on random parameters with random gradients, comparing the
/// parameters and the optimizer state afterwards. The kernels use the same arithmetic in the same
/// order on both devices, so the results should agree exactly.
enum OptimizerDeviceChecks {
    /// The checks, with random shapes and arguments drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        var g = Philox(seed: seed)
        // Odd sizes (a bias of one element, sizes that are not multiples of anything), one
        // parameter of many blocks, and one large enough for more than one grid-stride round
        // (over a million elements; only for SGD and with one gradient reused for the three
        // steps, to keep the CPU run short).
        let shapes = [[1], [DeviceCheck.randomInt(2...9, &g)], [DeviceCheck.randomInt(3...40, &g), DeviceCheck.randomInt(3...33, &g)]]
        let medium = [[DeviceCheck.randomInt(60_000...90_000, &g)]]
        let large = [[DeviceCheck.randomInt(1_090_000...1_120_000, &g)]]
        let label = "parameters \(shapes.map { "\($0)" }.joined(separator: ", ")), 3 steps"
        let mediumLabel = "parameter \(medium[0]), 3 steps"
        let largeLabel = "parameter \(large[0]), 3 steps"

        func sgd(_ settings: String, _ shapes: [[Int]], _ label: String, learningRate: Float, momentum: Float = 0,
                 dampening: Float = 0, weightDecay: Float = 0, nesterov: Bool = false,
                 freshGradients: Bool = true) -> DeviceCheck {
            DeviceCheck(op: "sgdStep", label: "\(settings); \(label)") { d in
                let parameters = try shapes.map { try Tensor.uniform($0, low: -2, high: 2, on: d, requiresGrad: true) }
                let optimizer = try SGD(parameters: parameters, learningRate: learningRate, momentum: momentum,
                                        dampening: dampening, weightDecay: weightDecay, nesterov: nesterov)
                try run(optimizer, parameters, freshGradients: freshGradients)
                return parameters + optimizer.momentumBuffers.compactMap { $0 }
            }
        }

        func adam(_ settings: String, _ shapes: [[Int]], _ label: String, decoupled: Bool, learningRate: Float,
                  betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8, weightDecay: Float) -> DeviceCheck {
            DeviceCheck(op: decoupled ? "adamWStep" : "adamStep", label: "\(settings); \(label)") { d in
                let parameters = try shapes.map { try Tensor.uniform($0, low: -2, high: 2, on: d, requiresGrad: true) }
                let optimizer: Adam = decoupled
                    ? try AdamW(parameters: parameters, learningRate: learningRate, betas: betas, eps: eps, weightDecay: weightDecay)
                    : try Adam(parameters: parameters, learningRate: learningRate, betas: betas, eps: eps, weightDecay: weightDecay)
                try run(optimizer, parameters)
                return parameters + optimizer.expAvg.compactMap { $0 } + optimizer.expAvgSq.compactMap { $0 }
            }
        }

        return [
            sgd("lr 0.1", shapes, label, learningRate: 0.1),
            sgd("lr 0.05, weight decay 0.01", shapes, label, learningRate: 0.05, weightDecay: 0.01),
            sgd("lr 0.1, momentum 0.9", shapes, label, learningRate: 0.1, momentum: 0.9),
            sgd("lr 0.01, momentum 0.8, dampening 0.3, weight decay 1e-3", shapes, label,
                learningRate: 0.01, momentum: 0.8, dampening: 0.3, weightDecay: 1e-3),
            sgd("lr 0.1, Nesterov momentum 0.9, weight decay 5e-4", shapes, label,
                learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4, nesterov: true),
            sgd("lr 0.1, Nesterov momentum 0.9", medium, mediumLabel, learningRate: 0.1, momentum: 0.9, nesterov: true),
            sgd("lr 0.1, momentum 0.9, weight decay 1e-4, one gradient for all steps", large, largeLabel,
                learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4, freshGradients: false),
            adam("lr 1e-3", shapes, label, decoupled: false, learningRate: 1e-3, weightDecay: 0),
            adam("lr 0.01, betas (0.8, 0.99), eps 1e-6, weight decay 0.01", shapes, label, decoupled: false,
                 learningRate: 0.01, betas: (0.8, 0.99), eps: 1e-6, weightDecay: 0.01),
            // β₁ = 0.3: the lerp weight 0.7 takes PyTorch's other formula.
            adam("lr 0.01, betas (0.3, 0.9)", shapes, label, decoupled: false, learningRate: 0.01, betas: (0.3, 0.9), weightDecay: 0),
            adam("lr 1e-3, weight decay 1e-4", medium, mediumLabel, decoupled: false, learningRate: 1e-3, weightDecay: 1e-4),
            adam("lr 1e-3, weight decay 0.01", shapes, label, decoupled: true, learningRate: 1e-3, weightDecay: 0.01),
            adam("lr 0.02, betas (0.3, 0.95), weight decay 0.1", shapes, label, decoupled: true,
                 learningRate: 0.02, betas: (0.3, 0.95), weightDecay: 0.1),
            adam("lr 1e-3, weight decay 0", shapes, label, decoupled: true, learningRate: 1e-3, weightDecay: 0),
            adam("lr 1e-3, weight decay 0.01", medium, mediumLabel, decoupled: true, learningRate: 1e-3, weightDecay: 0.01),
        ]
    }

    /// Three steps of `optimizer`, with gradients uniform in [-1, 1) from the default generator
    /// (so the same on every device; cheaper to draw than normal ones): fresh ones before each
    /// step, or one per parameter drawn before the first and kept.
    private static func run(_ optimizer: Optimizer, _ parameters: [Tensor], freshGradients: Bool = true) throws {
        for step in 0..<3 {
            if freshGradients || step == 0 {
                for parameter in parameters {
                    parameter.grad = try Tensor.uniform(parameter.shape, low: -1, high: 1, on: parameter.device)
                }
            }
            try optimizer.step()
        }
    }
}
