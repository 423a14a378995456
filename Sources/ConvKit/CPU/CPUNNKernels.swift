import Foundation

/// The CPU NN kernels. Linear, ReLU and dropout are here; local response normalisation, softmax
/// and cross-entropy are in `CPU/NN/`.
extension CPUBackend: NNKernels {
    /// Checks the targets on the host and throws at once.
    public func validateClassTargets(_ target: Storage, count: Int, classes: Int, ignoreIndex: Int, op: String) throws {
        let t = target.ints
        for position in 0..<count where Int(t[position]) != ignoreIndex && (t[position] < 0 || Int(t[position]) >= classes) {
            throw ConvKitError.invalidArgument(op: op, message: "target \(t[position]) is out of bounds for \(classes) classes (at element \(position))")
        }
    }

    /// The CPU implementation of `NNKernels.linearForward`.
    public func linearForward(input: Storage, weight: Storage, bias: Storage?, output: Storage,
                              batch: Int, inFeatures: Int, outFeatures: Int) throws {
        guard batch > 0, outFeatures > 0 else { return }
        let y = output.floats
        if let bias {
            let b = bias.floats
            parallelFor(batch, grain: Swift.max(1, 4096 / outFeatures)) { rows in
                for r in rows { (y + r * outFeatures).update(from: b, count: outFeatures) }
            }
        } else {
            try fill(output, count: batch * outFeatures, value: 0)
        }
        guard inFeatures > 0 else { return }
        GEMM.sgemm(transA: false, transB: true, m: batch, n: outFeatures, k: inFeatures,
                   alpha: 1, a: input.floats, lda: inFeatures, b: weight.floats, ldb: inFeatures,
                   beta: 1, c: y, ldc: outFeatures)
    }

    /// The CPU implementation of `NNKernels.linearBackward`.
    public func linearBackward(gradOutput: Storage, input: Storage, weight: Storage,
                               gradInput: Storage?, gradWeight: Storage?, gradBias: Storage?,
                               batch: Int, inFeatures: Int, outFeatures: Int) throws {
        let dy = gradOutput.floats
        if let gradInput {
            if batch > 0, inFeatures > 0, outFeatures > 0 {
                GEMM.sgemm(transA: false, transB: false, m: batch, n: inFeatures, k: outFeatures,
                           alpha: 1, a: dy, lda: outFeatures, b: weight.floats, ldb: inFeatures,
                           beta: 0, c: gradInput.floats, ldc: inFeatures)
            } else {
                try fill(gradInput, count: batch * inFeatures, value: 0)
            }
        }
        if let gradWeight {
            if batch > 0, inFeatures > 0, outFeatures > 0 {
                GEMM.sgemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: batch,
                           alpha: 1, a: dy, lda: outFeatures, b: input.floats, ldb: inFeatures,
                           beta: 0, c: gradWeight.floats, ldc: inFeatures)
            } else {
                try fill(gradWeight, count: outFeatures * inFeatures, value: 0)
            }
        }
        if let gradBias {
            let db = gradBias.floats
            // Each chunk owns a range of columns and sums them over the batch in row order,
            // so the result does not depend on the thread split.
            parallelFor(outFeatures, grain: 256) { columns in
                for j in columns { db[j] = 0 }
                for r in 0..<batch {
                    let row = dy + r * outFeatures
                    for j in columns { db[j] += row[j] }
                }
            }
        }
    }

    /// The CPU implementation of `NNKernels.reluForward`.
    public func reluForward(input: Storage, output: Storage, count: Int) throws {
        let x = input.floats, y = output.floats
        parallelFor(count, grain: 1 << 15) { range in
            for i in range {
                let v = x[i]
                y[i] = v < 0 ? 0 : v
            }
        }
    }

    /// The CPU implementation of `NNKernels.reluBackward`.
    public func reluBackward(gradOutput: Storage, output: Storage, gradInput: Storage, count: Int) throws {
        let g = gradOutput.floats, y = output.floats, dx = gradInput.floats
        // PyTorch's threshold_backward: zero where y <= 0, so a NaN output passes its gradient.
        // A SIMD select, because a per-element branch mispredicts on ReLU's random sign pattern.
        parallelFor(count, grain: 1 << 15) { range in
            var i = range.lowerBound
            let zero = SIMD8<Float>(repeating: 0)
            while i + 8 <= range.upperBound {
                let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
                let gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dx + i).storeBytes(of: gv.replacing(with: zero, where: yv .<= zero), as: SIMD8<Float>.self)
                i += 8
            }
            while i < range.upperBound { dx[i] = y[i] <= 0 ? 0 : g[i]; i += 1 }
        }
    }

    /// The CPU implementation of `NNKernels.dropoutForward`.
    public func dropoutForward(input: Storage, output: Storage, count: Int, p: Float, seed: UInt64) throws {
        applyDropoutMask(input.floats, output.floats, count: count, p: p, seed: seed)
    }

    /// The CPU implementation of `NNKernels.dropoutBackward`.
    public func dropoutBackward(gradOutput: Storage, gradInput: Storage, count: Int, p: Float, seed: UInt64) throws {
        applyDropoutMask(gradOutput.floats, gradInput.floats, count: count, p: p, seed: seed)
    }

    /// `destination[i] = source[i] · m(i)` with dropout's Philox mask (see `NNKernels.dropoutForward`).
    private func applyDropoutMask(_ source: UnsafeMutablePointer<Float>, _ destination: UnsafeMutablePointer<Float>,
                                  count: Int, p: Float, seed: UInt64) {
        let keptScale: Float = p < 1 ? 1 / (1 - p) : 0
        let blocks = (count + 3) / 4
        parallelFor(blocks, grain: 1 << 12) { range in
            for b in range {
                let (w0, w1, w2, w3) = Philox.block(seed: seed, counter: UInt64(b))
                let base = 4 * b
                if base + 4 <= count {
                    destination[base] = source[base] * (Philox.unitFloat(w0) >= p ? keptScale : 0)
                    destination[base + 1] = source[base + 1] * (Philox.unitFloat(w1) >= p ? keptScale : 0)
                    destination[base + 2] = source[base + 2] * (Philox.unitFloat(w2) >= p ? keptScale : 0)
                    destination[base + 3] = source[base + 3] * (Philox.unitFloat(w3) >= p ? keptScale : 0)
                } else {
                    let words = (w0, w1, w2, w3)
                    for j in 0..<(count - base) {
                        let word = j == 0 ? words.0 : j == 1 ? words.1 : words.2
                        destination[base + j] = source[base + j] * (Philox.unitFloat(word) >= p ? keptScale : 0)
                    }
                }
            }
        }
    }
}
