/// CUDA-against-CPU checks of the nn kernels (see `DeviceVerification`): linear, ReLU, dropout,
/// local response normalisation, softmax / log-softmax and cross-entropy, forward and backward.
enum NNDeviceChecks {
    /// The checks, with random shapes and arguments drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        var g = Philox(seed: seed)
        return linearChecks(&g) + reluChecks(&g) + dropoutChecks(&g) + localResponseNormChecks(&g)
            + softmaxChecks(&g) + crossEntropyChecks(&g)
    }

    /// Standard-normal values of `shape` from the default generator, with `specials` (position →
    /// value: NaN, infinities, zeros) written over them; a leaf that requires a gradient.
    static func input(_ shape: [Int], specials: [Int: Float] = [:], on device: Device) throws -> Tensor {
        var values = RandomState.withGenerator { $0.normal(count: shape.reduce(1, *)) }
        for (position, value) in specials { values[position] = value }
        return try Tensor(values, shape: shape, on: device, requiresGrad: true)
    }

    // MARK: Linear

    /// Linear with a 1-D or 2-D weight, with and without bias, on 1-D, 2-D and batched inputs, and
    /// sizes that span several column-sum blocks and GEMM tiles.
    static func linearChecks(_ g: inout Philox) -> [DeviceCheck] {
        /// `input` `[…, inFeatures]`, `outFeatures` nil for a 1-D weight.
        func check(_ inputShape: [Int], out: Int?, bias: Bool) -> DeviceCheck {
            let inFeatures = inputShape.last!
            let label = "input \(inputShape), weight \(out.map { [$0, inFeatures] } ?? [inFeatures]), bias \(bias)"
            return DeviceCheck(op: "linear", label: label) { device in
                let x = try input(inputShape, on: device)
                let w = try input(out.map { [$0, inFeatures] } ?? [inFeatures], on: device)
                let b = bias ? try input(out.map { [$0] } ?? [], on: device) : nil
                let y = try linear(x, w, bias: b)
                return try DeviceCheck.forwardAndGradients(y, [x, w] + (b.map { [$0] } ?? []))
            }
        }
        let batch = DeviceCheck.randomInt(1...40, &g), inFeatures = DeviceCheck.randomInt(1...70, &g)
        let outFeatures = DeviceCheck.randomInt(1...90, &g)
        return [
            check([5], out: 3, bias: true),
            check([4, 7], out: 6, bias: true),
            check([4, 7], out: 6, bias: false),
            check([2, 3, 9], out: 4, bias: true),
            check([6], out: nil, bias: true),
            check([3, 6], out: nil, bias: false),
            check([1, 1], out: 1, bias: true),
            check([batch, inFeatures], out: outFeatures, bias: true),
            check([64, 300], out: 70, bias: true),
            check([300, 33], out: 33, bias: true),
        ]
    }

    // MARK: ReLU and dropout

    /// ReLU on NaN, ±0 and ±inf, a size-1 input and a larger one.
    static func reluChecks(_ g: inout Philox) -> [DeviceCheck] {
        let specials: [Int: Float] = [0: .nan, 1: 0, 2: -0.0, 3: .infinity, 4: -.infinity, 7: .nan, 8: 0]
        let shape = [DeviceCheck.randomInt(2...4, &g), 5, DeviceCheck.randomInt(3...9, &g)]
        return [
            DeviceCheck(op: "relu", label: "\(shape) with NaN, ±0, ±inf") { device in
                let x = try input(shape, specials: specials, on: device)
                return try DeviceCheck.forwardAndGradients(try relu(x), [x])
            },
            DeviceCheck(op: "relu", label: "[1]") { device in
                let x = try input([1], on: device)
                return try DeviceCheck.forwardAndGradients(try relu(x), [x])
            },
            DeviceCheck(op: "relu", label: "[100_001]") { device in
                let x = try input([100_001], specials: [17: .nan, 100_000: 0], on: device)
                return try DeviceCheck.forwardAndGradients(try relu(x), [x])
            },
        ]
    }

    /// Dropout with a fixed seed for p ∈ {0, 0.3, 0.5, 1} on a size that is not a multiple of 4,
    /// a seed with high bits set, NaN inputs, and a large input.
    static func dropoutChecks(_ g: inout Philox) -> [DeviceCheck] {
        /// Dropout of a random `shape` input with mask `seed`: output and input gradient.
        func check(_ shape: [Int], p: Float, seed: UInt64, specials: [Int: Float] = [:]) -> DeviceCheck {
            DeviceCheck(op: "dropout", label: "\(shape), p \(p), seed \(seed)\(specials.isEmpty ? "" : ", NaN")") { device in
                let x = try input(shape, specials: specials, on: device)
                let y = try dropout(x, p: p, training: true, seed: seed)
                return try DeviceCheck.forwardAndGradients(y, [x])
            }
        }
        let shape = [DeviceCheck.randomInt(2...8, &g), 11, 3]
        return [
            check(shape, p: 0, seed: 1234),
            check(shape, p: 0.3, seed: 1234),
            check(shape, p: 0.5, seed: 1234),
            check(shape, p: 1, seed: 1234),
            check([5, 7], p: 0.5, seed: 0xDEAD_BEEF_CAFE_BABE),
            check([9], p: 0.5, seed: 7, specials: [0: .nan, 3: .nan, 8: .infinity]),
            check([9], p: 1, seed: 7, specials: [0: .nan, 4: .infinity]),
            check([1_100_003], p: 0.3, seed: 42),
        ]
    }

    // MARK: Local response normalisation

    /// LRN with sizes 1…5 in AlexNet's setting (alpha 1e-4, beta 0.75, k 2), and strong settings
    /// (large alpha, so that the window terms of the gradient matter; beta ≠ 0.75 takes `pow`),
    /// windows wider than the channel count, 3-D and 5-D inputs.
    static func localResponseNormChecks(_ g: inout Philox) -> [DeviceCheck] {
        /// LRN of a random `shape` input: output and input gradient.
        func check(_ shape: [Int], size: Int, alpha: Float, beta: Float, k: Float) -> DeviceCheck {
            DeviceCheck(op: "localResponseNorm", label: "\(shape), size \(size), alpha \(alpha), beta \(beta), k \(k)") { device in
                let x = try input(shape, on: device)
                let y = try localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k)
                return try DeviceCheck.forwardAndGradients(y, [x])
            }
        }
        let n = DeviceCheck.randomInt(1...3, &g), c = DeviceCheck.randomInt(5...9, &g)
        let h = DeviceCheck.randomInt(3...7, &g), w = DeviceCheck.randomInt(3...7, &g)
        return (1...5).map { check([n, c, h, w], size: $0, alpha: 1e-4, beta: 0.75, k: 2) } + [
            check([2, 8, 5, 6], size: 5, alpha: 2, beta: 0.75, k: 1),
            check([2, 8, 5, 6], size: 4, alpha: 1.5, beta: 0.6, k: 1.5),
            check([2, 3, 4, 4], size: 9, alpha: 1, beta: 0.75, k: 1),
            check([3, 1, 5, 5], size: 3, alpha: 1, beta: 0.75, k: 1),
            check([3, 6, 10], size: 3, alpha: 1, beta: 0.75, k: 1),
            check([2, 5, 3, 2, 2], size: 2, alpha: 1, beta: 0.9, k: 1),
            check([2, 96, 13, 13], size: 5, alpha: 1e-4, beta: 0.75, k: 2),
        ]
    }

    // MARK: Softmax

    /// Softmax and log-softmax along the first, a middle and the last dimension, rows from 1 to
    /// thousands of elements (warp rows, block rows, strided rows), many rows (grid-stride), a
    /// scalar, and rows with NaN, +inf and -inf.
    static func softmaxChecks(_ g: inout Philox) -> [DeviceCheck] {
        /// A softmax and a log-softmax check of a random `shape` input along `dim`.
        func check(_ shape: [Int], dim: Int, specials: [Int: Float] = [:], note: String = "") -> [DeviceCheck] {
            [false, true].map { log in
                DeviceCheck(op: log ? "logSoftmax" : "softmax", label: "\(shape), dim \(dim)\(note)") { device in
                    let x = try input(shape, specials: specials, on: device)
                    let y = log ? try logSoftmax(x, dim: dim) : try softmax(x, dim: dim)
                    return try DeviceCheck.forwardAndGradients(y, [x])
                }
            }
        }
        let shape = [DeviceCheck.randomInt(1...5, &g), DeviceCheck.randomInt(1...9, &g), DeviceCheck.randomInt(1...7, &g)]
        // A [6, 9] matrix whose rows hold: NaN; +inf; all -inf; some -inf; -inf and NaN; nothing special.
        var specials: [Int: Float] = [2: .nan, 9 + 4: .infinity, 9 * 3 + 1: -.infinity, 9 * 3 + 5: -.infinity,
                                      9 * 4 + 0: -.infinity, 9 * 4 + 8: .nan]
        for j in 0..<9 { specials[9 * 2 + j] = -.infinity }
        return check(shape, dim: 0) + check(shape, dim: 1) + check(shape, dim: -1)
            + check([4, 7, 5], dim: 1)
            + check([1], dim: 0) + check([1, 1], dim: 1) + check([], dim: 0)
            + check([3, 2000], dim: -1) + check([2000, 3], dim: 0) + check([7, 1024], dim: 1) + check([5, 1025], dim: 1)
            + check([2, 3000, 2], dim: 1)
            + check([6, 9], dim: 1, specials: specials, note: " with NaN/inf rows")
            + check([9, 6], dim: 0, specials: [0: .nan, 7: .infinity, 13: -.infinity, 19: -.infinity], note: " with NaN/inf")
            + check([40_000, 3], dim: 1, note: " (grid-stride warps)")
            + check([300, 1030], dim: 1, note: " (grid-stride blocks)")
            + registerRowChecks()
    }

    /// Rows for every register-resident variant (thread, warp and block rows, 1, 2, 4 and 8 float4 per
    /// thread), each with 16-byte rows (a multiple of 4 elements) and with scalar rows (odd widths),
    /// and wide rows holding NaN, +inf and -inf.
    static func registerRowChecks() -> [DeviceCheck] {
        func check(_ shape: [Int], specials: [Int: Float] = [:], note: String = "") -> [DeviceCheck] {
            [false, true].map { log in
                DeviceCheck(op: log ? "logSoftmax" : "softmax", label: "\(shape), dim 1, register rows\(note)") { device in
                    let x = try input(shape, specials: specials, on: device)
                    let y = log ? try logSoftmax(x, dim: 1) : try softmax(x, dim: 1)
                    return try DeviceCheck.forwardAndGradients(y, [x])
                }
            }
        }
        let wide = 5000
        var specials: [Int: Float] = [17: .nan, wide + 4001: .infinity, 3 * wide + 2: -.infinity]
        for j in 0..<wide { specials[2 * wide + j] = -.infinity }
        return [[300, 7], [300, 16], [257, 31], [33, 4], [17, 127], [9, 256], [5, 509], [6, 1000], [4, 1022], [3, 4096], [3, 4099],
                [2, 12_000], [2, 16_385], [2, 32_000], [2, 32_767]].flatMap { check($0) }
            + check([4, wide], specials: specials, note: " with NaN/inf rows")
            + check([5, 999], specials: [3: .nan, 999 + 10: .infinity, 2 * 999 + 5: -.infinity], note: " with NaN/inf")
    }

    // MARK: Cross-entropy

    /// `count` class indices in `0..<classes` from the default generator, with `ignored` positions
    /// set to `ignoreIndex`.
    static func indexTarget(_ shape: [Int], classes: Int, ignored: [Int] = [], ignoreIndex: Int = -100,
                            on device: Device) throws -> Tensor {
        let count = shape.reduce(1, *)
        let u = RandomState.withGenerator { $0.uniform(count: count) }
        var indices = u.map { Int32(Swift.min(classes - 1, Int($0 * Float(classes)))) }
        for position in ignored { indices[position] = Int32(ignoreIndex) }
        return try Tensor(indices: indices, shape: shape, on: device)
    }

    /// Class weights in [0.2, 2) from the default generator.
    static func classWeights(_ classes: Int, on device: Device) throws -> Tensor {
        try Tensor.uniform([classes], low: 0.2, high: 2, on: device)
    }

    /// Cross-entropy with index targets (ignored rows, every row ignored, class weights, label
    /// smoothing, every reduction, [N, C], [N, C, H, W] and [C] logits) and probability targets
    /// (gradient with respect to the target too), many rows and wide rows.
    static func crossEntropyChecks(_ g: inout Philox) -> [DeviceCheck] {
        /// Index targets: `logitsShape` [N, C, …] (or [C]); `ignored` row positions.
        func indexCheck(_ logitsShape: [Int], reduction: Reduction, weighted: Bool = false, smoothing: Float = 0,
                        ignored: [Int] = [], ignoreIndex: Int = -100) -> DeviceCheck {
            let classDim = logitsShape.count == 1 ? 0 : 1
            let classes = logitsShape[classDim]
            var targetShape = logitsShape
            targetShape.remove(at: classDim)
            let label = "logits \(logitsShape), index target, \(reduction), weight \(weighted), smoothing \(smoothing)"
                + (ignored.isEmpty ? "" : ", \(ignored.count) ignored (ignoreIndex \(ignoreIndex))")
            return DeviceCheck(op: "crossEntropy", label: label) { device in
                let logits = try input(logitsShape, on: device)
                let target = try indexTarget(targetShape, classes: classes, ignored: ignored, ignoreIndex: ignoreIndex, on: device)
                let weight = weighted ? try classWeights(classes, on: device) : nil
                let loss = try crossEntropy(logits, target, weight: weight, ignoreIndex: ignoreIndex,
                                            reduction: reduction, labelSmoothing: smoothing)
                return try DeviceCheck.forwardAndGradients(loss, [logits])
            }
        }
        /// Probability targets (a softmax of random values, or raw non-negative values), with the
        /// target's gradient.
        func probabilityCheck(_ logitsShape: [Int], reduction: Reduction, weighted: Bool = false,
                              smoothing: Float = 0) -> DeviceCheck {
            let classes = logitsShape[logitsShape.count == 1 ? 0 : 1]
            let label = "logits \(logitsShape), probability target, \(reduction), weight \(weighted), smoothing \(smoothing)"
            return DeviceCheck(op: "crossEntropy", label: label) { device in
                let logits = try input(logitsShape, on: device)
                let target = try Tensor.uniform(logitsShape, on: device, requiresGrad: true)
                let weight = weighted ? try classWeights(classes, on: device) : nil
                let loss = try crossEntropy(logits, target, weight: weight, reduction: reduction, labelSmoothing: smoothing)
                return try DeviceCheck.forwardAndGradients(loss, [logits, target])
            }
        }
        let n = DeviceCheck.randomInt(2...9, &g), c = DeviceCheck.randomInt(2...12, &g)
        let h = DeviceCheck.randomInt(1...4, &g), w = DeviceCheck.randomInt(2...5, &g)
        var checks: [DeviceCheck] = []
        for reduction in [Reduction.none, .sum, .mean] {
            checks.append(indexCheck([n, c], reduction: reduction))
            checks.append(indexCheck([n, c], reduction: reduction, weighted: true, smoothing: 0.1, ignored: [0, n - 1]))
            checks.append(indexCheck([n, c, h, w], reduction: reduction, weighted: true, ignored: [1]))
            checks.append(probabilityCheck([n, c], reduction: reduction, weighted: true, smoothing: 0.2))
        }
        checks += [
            indexCheck([n, c], reduction: .mean, ignored: [1]),
            indexCheck([n, c], reduction: .mean, smoothing: 0.3),
            indexCheck([n, c, h, w], reduction: .mean, smoothing: 0.25, ignored: [0, 2]),
            indexCheck([4, 5], reduction: .mean, ignored: [0, 1, 2, 3]),
            indexCheck([4, 5], reduction: .mean, weighted: true, smoothing: 0.1, ignored: [0, 1, 2, 3]),
            indexCheck([4, 5], reduction: .sum, ignored: [0, 1, 2, 3]),
            indexCheck([6, 5], reduction: .mean, weighted: true, ignored: [2, 3], ignoreIndex: 3),
            indexCheck([7], reduction: .mean),
            indexCheck([7], reduction: .none, smoothing: 0.1),
            indexCheck([3, 1], reduction: .mean),
            indexCheck([4096, 10], reduction: .mean, weighted: true, smoothing: 0.1, ignored: [5, 4000]),
            indexCheck([40_000, 10], reduction: .mean),
            indexCheck([64, 5000], reduction: .mean, weighted: true, smoothing: 0.1, ignored: [3]),
            indexCheck([300, 1100], reduction: .sum),
            indexCheck([2, 1000, 3, 3], reduction: .mean, weighted: true, smoothing: 0.05),
            // Register-resident rows: thread, warp and block rows of each width class, 16-byte and scalar rows.
            indexCheck([33, 4], reduction: .none, weighted: true, smoothing: 0.1, ignored: [2]),
            indexCheck([3000, 7], reduction: .mean, weighted: true, smoothing: 0.1, ignored: [2999]),
            indexCheck([2500, 16], reduction: .sum, ignored: [0]),
            indexCheck([5000, 31], reduction: .mean, smoothing: 0.2),
            indexCheck([17, 127], reduction: .mean, smoothing: 0.2),
            indexCheck([9, 256], reduction: .sum, weighted: true, ignored: [0]),
            indexCheck([5, 509], reduction: .mean, weighted: true, smoothing: 0.1),
            indexCheck([6, 1000], reduction: .mean, ignored: [5]),
            indexCheck([4, 1022], reduction: .none, smoothing: 0.05),
            indexCheck([3, 4096], reduction: .mean, weighted: true, smoothing: 0.1),
            indexCheck([3, 4099], reduction: .sum),
            indexCheck([2, 12_000], reduction: .mean, weighted: true, ignored: [1]),
            indexCheck([3, 32_000], reduction: .mean),
            indexCheck([2, 32_767], reduction: .mean, weighted: true, smoothing: 0.1),
            indexCheck([65_536, 10], reduction: .mean, ignored: [7]),
            probabilityCheck([n, c, h, w], reduction: .mean, weighted: true, smoothing: 0.1),
            probabilityCheck([n, c, h, w], reduction: .none),
            probabilityCheck([c], reduction: .sum, smoothing: 0.1),
            probabilityCheck([64, 5000], reduction: .mean, weighted: true),
            probabilityCheck([4096, 10], reduction: .sum, smoothing: 0.1),
        ]
        return checks
    }
}
