import Foundation

extension CPUBackend {
    /// The CPU implementation of `NNKernels.crossEntropyForward`.
    public func crossEntropyForward(logits: Storage, target: Storage, weight: Storage?,
                                    rowLosses: Storage, rowWeights: Storage, logSumExp: Storage,
                                    parameters: CrossEntropyParameters) throws {
        let layout = parameters.layout
        let classes = layout.dim, inner = layout.inner
        let x = logits.floats, w = weight?.floats
        let losses = rowLosses.floats, weights = rowWeights.floats, lses = logSumExp.floats
        let epsilon = parameters.labelSmoothing, smoothing = epsilon / Float(classes)
        let ignoreIndex = parameters.ignoreIndex
        let probabilities = parameters.probabilityTarget
        let indices = target.ints, q = target.floats
        parallelFor(layout.rows, grain: Swift.max(1, 4096 / Swift.max(classes, 1))) { rows in
            for r in rows {
                let base = (r / inner) * classes * inner + r % inner
                let lse = CPUBackend.logSumExp(x + base, count: classes, stride: inner)
                lses[r] = lse
                if probabilities {
                    var loss: Float = 0
                    for c in 0..<classes {
                        let target = (1 - epsilon) * q[base + c * inner] + smoothing
                        loss += (w?[c] ?? 1) * target * (lse - x[base + c * inner])
                    }
                    losses[r] = loss
                    weights[r] = 1
                    continue
                }
                let t = Int(indices[r])
                if t == ignoreIndex {
                    losses[r] = 0
                    weights[r] = 0
                    continue
                }
                let targetWeight = w?[t] ?? 1
                var loss = (1 - epsilon) * targetWeight * (lse - x[base + t * inner])
                if epsilon > 0 {
                    var smooth: Float = 0
                    for c in 0..<classes { smooth += (w?[c] ?? 1) * (lse - x[base + c * inner]) }
                    loss += smoothing * smooth
                }
                losses[r] = loss
                weights[r] = targetWeight
            }
        }
    }

    /// `max + log Σ exp(x − max)` over `count` values `stride` apart (NaN if any is NaN).
    @inline(__always)
    static func logSumExp(_ x: UnsafeMutablePointer<Float>, count: Int, stride: Int) -> Float {
        if stride == 1 {
            let maximum = NNMath.maximum(x, count: count)
            if maximum == -.infinity { return maximum }
            return maximum + Foundation.log(NNMath.sumOfExp(x, shift: maximum, count: count))
        }
        var maximum = -Float.infinity
        for c in 0..<count where x[c * stride] > maximum { maximum = x[c * stride] }
        if maximum == -.infinity { return maximum }
        var sum: Float = 0
        for c in 0..<count { sum += Foundation.exp(x[c * stride] - maximum) }
        return maximum + Foundation.log(sum)
    }

    /// The CPU implementation of `NNKernels.crossEntropyReduce`.
    public func crossEntropyReduce(rowLosses: Storage, rowWeights: Storage, rows: Int,
                                   reduction: Reduction, output: Storage, normaliser: Storage?) throws {
        let losses = rowLosses.floats, weights = rowWeights.floats
        var lossSum = 0.0, weightSum = 0.0
        for r in 0..<rows {
            lossSum += Double(losses[r])
            weightSum += Double(weights[r])
        }
        switch reduction {
        case .sum: output.floats[0] = Float(lossSum)
        case .mean: output.floats[0] = Float(lossSum / weightSum)
        case .none: precondition(false, "crossEntropyReduce is not called for reduction .none")
        }
        normaliser?.floats[0] = Float(weightSum)
    }

    /// The CPU implementation of `NNKernels.crossEntropyBackward`.
    public func crossEntropyBackward(gradOutput: Storage, perRowGradient: Bool, normaliser: Storage?,
                                     logits: Storage, target: Storage, weight: Storage?, logSumExp: Storage,
                                     gradLogits: Storage?, gradTarget: Storage?,
                                     parameters: CrossEntropyParameters) throws {
        let layout = parameters.layout
        let classes = layout.dim, inner = layout.inner
        let x = logits.floats, w = weight?.floats, lses = logSumExp.floats, g = gradOutput.floats
        let dx = gradLogits?.floats, dq = gradTarget?.floats
        let epsilon = parameters.labelSmoothing, smoothing = epsilon / Float(classes)
        let ignoreIndex = parameters.ignoreIndex
        let probabilities = parameters.probabilityTarget
        let indices = target.ints, q = target.floats
        let divisor = normaliser.map { $0.floats[0] } ?? 1
        var totalWeight: Float = 0
        for c in 0..<classes { totalWeight += w?[c] ?? 1 }
        parallelFor(layout.rows, grain: Swift.max(1, 4096 / Swift.max(classes, 1))) { rows in
            for r in rows {
                let base = (r / inner) * classes * inner + r % inner
                let lse = lses[r]
                let scale = (perRowGradient ? g[r] : g[0]) / divisor
                if probabilities {
                    // Loss = Σ a[c]·(lse − x[c]) with a[c] = w[c]·q'[c]; ∂/∂x[c] = p[c]·Σa − a[c].
                    var coefficientSum: Float = 0
                    for c in 0..<classes {
                        coefficientSum += (w?[c] ?? 1) * ((1 - epsilon) * q[base + c * inner] + smoothing)
                    }
                    for c in 0..<classes {
                        let i = base + c * inner
                        let wc = w?[c] ?? 1
                        if let dx {
                            let a = wc * ((1 - epsilon) * q[i] + smoothing)
                            dx[i] = scale * (Foundation.exp(x[i] - lse) * coefficientSum - a)
                        }
                        if let dq { dq[i] = scale * (1 - epsilon) * wc * (lse - x[i]) }
                    }
                    continue
                }
                guard let dx else { continue }
                let t = Int(indices[r])
                if t == ignoreIndex {
                    for c in 0..<classes { dx[base + c * inner] = 0 }
                    continue
                }
                // a[c] = (1−ε)·w[t]·[c = t] + (ε/C)·w[c]; Σa = (1−ε)·w[t] + (ε/C)·Σw.
                let targetWeight = w?[t] ?? 1
                let coefficientSum = (1 - epsilon) * targetWeight + smoothing * totalWeight
                let scaledSum = scale * coefficientSum, scaledSmoothing = scale * smoothing
                if inner == 1 {
                    let row = dx + base
                    NNMath.storeExp(x + base, shift: lse, into: row, count: classes)
                    if let w {
                        for c in 0..<classes { row[c] = row[c] * scaledSum - scaledSmoothing * w[c] }
                    } else {
                        for c in 0..<classes { row[c] = row[c] * scaledSum - scaledSmoothing }
                    }
                } else {
                    for c in 0..<classes {
                        let i = base + c * inner
                        dx[i] = Foundation.exp(x[i] - lse) * scaledSum - scaledSmoothing * (w?[c] ?? 1)
                    }
                }
                dx[base + t * inner] -= scale * (1 - epsilon) * targetWeight
            }
        }
    }
}
