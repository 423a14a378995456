/// CUDA-against-CPU checks of the normalization kernels (see `DeviceVerification`): `batchNorm2d`
/// in training and evaluation modes, with and without affine parameters and running statistics,
/// and the `BatchNorm2d` module (running statistics and `num_batches_tracked` over several steps).
enum NormalizationDeviceChecks {
    /// The checks, with random shapes and arguments drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        var g = Philox(seed: seed)
        let shape = [DeviceCheck.randomInt(2...4, &g), DeviceCheck.randomInt(1...6, &g),
                     DeviceCheck.randomInt(1...7, &g), DeviceCheck.randomInt(1...7, &g)]
        let channels = DeviceCheck.randomInt(1...9, &g)
        return [
            check(shape, training: true, affine: true, running: true),
            check(shape, training: true, affine: false, running: true),
            check(shape, training: true, affine: true, running: false),
            check(shape, training: true, affine: false, running: false),
            check(shape, training: true, affine: true, running: true, weightGrad: false),
            check(shape, training: false, affine: true, running: true),
            check(shape, training: false, affine: false, running: true),
            check(shape, training: false, affine: true, running: true, weightGrad: false),
            check([16, channels], training: true, affine: true, running: true),
            // Three values per channel: with two, the training-mode input gradient is 0 up to rounding
            // (the normalised output is ±1 whatever the input), so no relative error is meaningful.
            check([3, 1], training: true, affine: true, running: true),
            check([1, 3, 1, 3], training: true, affine: true, running: true),
            check([5, channels, 11], training: true, affine: true, running: true, momentum: 0.3, eps: 1e-3),
            check([3, channels, 11], training: false, affine: true, running: true, eps: 1e-3),
            check([4, 3, 16, 16], training: true, affine: true, running: true, mean: 3, std: 2, note: " (offset mean)"),
            check([8, 3, 64, 64], training: true, affine: true, running: true, note: " (long reductions)"),
            check([8, 3, 64, 64], training: false, affine: true, running: true, note: " (long)"),
            check([2, 3, 2, 2], training: false, affine: true, running: true,
                  specials: [0: .infinity, 5: .nan, 9: -.infinity], note: " with NaN/inf"),
            moduleCheck(momentum: 0.1),
            moduleCheck(momentum: nil),
        ]
    }

    /// `batchNorm2d` on a random `shape` input: returns the output, the gradients of the input
    /// (and of the weight and bias when affine) and, with running statistics, the running mean
    /// and variance after the call.
    static func check(_ shape: [Int], training: Bool, affine: Bool, running: Bool, weightGrad: Bool = true,
                      momentum: Float = 0.1, eps: Float = 1e-5, mean: Float = 0, std: Float = 1,
                      specials: [Int: Float] = [:], note: String = "") -> DeviceCheck {
        let label = "\(shape), \(training ? "training" : "eval"), affine \(affine)\(affine && !weightGrad ? " (weight without grad)" : ""), "
            + "running \(running), momentum \(momentum), eps \(eps)\(note)"
        return DeviceCheck(op: "batchNorm2d", label: label) { device in
            let channels = shape[1]
            var values = RandomState.withGenerator { $0.normal(count: shape.reduce(1, *)) }.map { mean + std * $0 }
            for (position, value) in specials { values[position] = value }
            let x = try Tensor(values, shape: shape, on: device, requiresGrad: true)
            let weight = affine ? try Tensor.normal([channels], mean: 1, std: 0.5, on: device, requiresGrad: weightGrad) : nil
            let bias = affine ? try Tensor.normal([channels], on: device, requiresGrad: true) : nil
            let runningMean = running ? try Tensor.normal([channels], std: 0.5, on: device) : nil
            let runningVar = running ? try Tensor.uniform([channels], low: 0.5, high: 2, on: device) : nil
            let y = try batchNorm2d(x, runningMean: runningMean, runningVar: runningVar, weight: weight, bias: bias,
                                    training: training, momentum: momentum, eps: eps)
            var inputs = [x]
            if let weight, weightGrad { inputs.append(weight) }
            if let bias { inputs.append(bias) }
            var results = try DeviceCheck.forwardAndGradients(y, inputs)
            if let runningMean, let runningVar { results += [runningMean, runningVar] }
            return results
        }
    }

    /// The `BatchNorm2d` module moved to the device: a training step with gradients, a second
    /// training step, then an evaluation step; returns the outputs, the first step's gradients,
    /// the running statistics and `num_batches_tracked` (momentum nil: a cumulative average that
    /// reads the counter).
    static func moduleCheck(momentum: Float?) -> DeviceCheck {
        DeviceCheck(op: "BatchNorm2d", label: "module [3, 4, 5, 5], momentum \(momentum.map { "\($0)" } ?? "nil"), 2 training steps, then eval") { device in
            let layer = try BatchNorm2d(numFeatures: 4, momentum: momentum)
            try layer.to(device)
            try layer.weight!.assign(Tensor.normal([4], mean: 1, std: 0.5))
            try layer.bias!.assign(Tensor.normal([4]))
            layer.train()
            let x1 = try Tensor.normal([3, 4, 5, 5], on: device, requiresGrad: true)
            let first = try DeviceCheck.forwardAndGradients(try layer.forward(x1), [x1, layer.weight!, layer.bias!])
            let second = try layer.forward(try Tensor.normal([3, 4, 5, 5], mean: 0.5, std: 2, on: device))
            layer.eval()
            let third = try layer.forward(try Tensor.normal([3, 4, 5, 5], on: device))
            return first + [second, third, layer.runningMean!, layer.runningVar!, layer.numBatchesTracked!]
        }
    }
}
