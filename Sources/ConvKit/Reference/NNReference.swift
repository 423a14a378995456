import Foundation

/// Naive Float64 versions of the NN ops: the test oracle, written for clarity only.
/// Tensors are flat row-major `[Double]` arrays with their sizes passed alongside.
enum NNReference {
    /// `y[r, o] = Σ_i x[r, i]·w[o, i] + b[o]`.
    static func linear(_ x: [Double], _ w: [Double], _ b: [Double]?, batch: Int, inFeatures: Int, outFeatures: Int) -> [Double] {
        var y = [Double](repeating: 0, count: batch * outFeatures)
        for r in 0..<batch {
            for o in 0..<outFeatures {
                var s = b?[o] ?? 0
                for i in 0..<inFeatures { s += x[r * inFeatures + i] * w[o * inFeatures + i] }
                y[r * outFeatures + o] = s
            }
        }
        return y
    }

    /// `max(x, 0)`.
    static func relu(_ x: [Double]) -> [Double] {
        x.map { $0 < 0 ? 0 : $0 }
    }

    /// Whether dropout keeps element `i` for `seed` (the rule documented on `NNKernels.dropoutForward`).
    static func dropoutKeeps(_ i: Int, p: Double, seed: UInt64) -> Bool {
        let (w0, w1, w2, w3) = Philox.block(seed: seed, counter: UInt64(i / 4))
        let word = [w0, w1, w2, w3][i % 4]
        return Double(Philox.unitFloat(word)) >= p
    }

    /// Inverted dropout: kept elements scaled by `1/(1−p)`, dropped ones multiplied by 0.
    static func dropout(_ x: [Double], p: Double, seed: UInt64) -> [Double] {
        x.indices.map { i in x[i] * (dropoutKeeps(i, p: p, seed: seed) ? 1 / (1 - p) : 0) }
    }

    /// PyTorch's local response norm over dimension 1 of `[outer, channels, inner]`.
    static func localResponseNorm(_ x: [Double], outer: Int, channels: Int, inner: Int,
                                  size: Int, alpha: Double, beta: Double, k: Double) -> [Double] {
        var y = x
        for o in 0..<outer {
            for c in 0..<channels {
                for i in 0..<inner {
                    var sumOfSquares = 0.0
                    for c2 in (c - size / 2)...(c + (size - 1) / 2) where c2 >= 0 && c2 < channels {
                        let v = x[(o * channels + c2) * inner + i]
                        sumOfSquares += v * v
                    }
                    let index = (o * channels + c) * inner + i
                    y[index] = x[index] / pow(k + alpha / Double(size) * sumOfSquares, beta)
                }
            }
        }
        return y
    }

    /// Softmax (or log-softmax) along the middle dimension of `[outer, dim, inner]`, max-shifted.
    static func softmax(_ x: [Double], outer: Int, dim: Int, inner: Int, log: Bool = false) -> [Double] {
        var y = x
        for o in 0..<outer {
            for i in 0..<inner {
                let indices = (0..<dim).map { (o * dim + $0) * inner + i }
                let m = indices.map { x[$0] }.max() ?? 0
                let logSum = Foundation.log(indices.reduce(0.0) { $0 + exp(x[$1] - m) })
                for j in indices {
                    y[j] = log ? x[j] - m - logSum : exp(x[j] - m - logSum)
                }
            }
        }
        return y
    }

    /// A cross-entropy target: class indices (one per row) or class probabilities (logits' layout).
    enum Target {
        /// One class index per row, in row order (`outer × inner`).
        case indices([Int])
        /// Probabilities with the logits' `[outer, classes, inner]` layout.
        case probabilities([Double])
    }

    /// PyTorch's `cross_entropy`, composed as PyTorch composes it: log-softmax, then `nll_loss`
    /// with weights and ignore index, plus the label-smoothing term, each reduced and combined.
    /// Returns the per-row losses for `.none`, else one value.
    static func crossEntropy(_ logits: [Double], outer: Int, classes: Int, inner: Int, target: Target,
                             weight: [Double]?, ignoreIndex: Int, reduction: Reduction, labelSmoothing: Double) -> [Double] {
        let logp = softmax(logits, outer: outer, dim: classes, inner: inner, log: true)
        let w = weight ?? [Double](repeating: 1, count: classes)
        let eps = labelSmoothing
        func at(_ r: Int, _ c: Int) -> Int { (r / inner * classes + c) * inner + r % inner }
        let rows = outer * inner
        switch target {
        case let .indices(t):
            var nll = [Double](repeating: 0, count: rows), smooth = nll
            var weightSum = 0.0
            for r in 0..<rows where t[r] != ignoreIndex {
                nll[r] = -w[t[r]] * logp[at(r, t[r])]
                smooth[r] = -(0..<classes).reduce(0.0) { $0 + w[$1] * logp[at(r, $1)] }
                weightSum += w[t[r]]
            }
            let combined = (0..<rows).map { (1 - eps) * nll[$0] + eps / Double(classes) * smooth[$0] }
            switch reduction {
            case .none: return combined
            case .sum: return [combined.reduce(0, +)]
            case .mean: return [combined.reduce(0, +) / weightSum]
            }
        case let .probabilities(q):
            var losses = [Double](repeating: 0, count: rows)
            for r in 0..<rows {
                for c in 0..<classes {
                    let smoothed = q[at(r, c)] * (1 - eps) + eps / Double(classes)
                    losses[r] -= logp[at(r, c)] * smoothed * w[c]
                }
            }
            switch reduction {
            case .none: return losses
            case .sum: return [losses.reduce(0, +)]
            case .mean: return [losses.reduce(0, +) / Double(rows)]
            }
        }
    }
}
