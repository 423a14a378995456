import Foundation

/// The CPU batch-normalisation kernels. Each channel is reduced by one thread, plane by plane
/// (SIMD sums in Float within a plane, Float64 across planes), so results do not depend on the
/// thread split.
extension CPUBackend: NormalizationKernels {
    /// The CPU implementation of `NormalizationKernels.batchNormTrainingForward`: one thread owns a
    /// channel and makes three passes over it (sum, squared deviations, normalise); a channel of a
    /// typical batch fits in L2, so only the first pass reads memory.
    public func batchNormTrainingForward(input: Storage, mean: Storage, variance: Storage, weight: Storage?, bias: Storage?,
                                         output: Storage, layout: ReductionLayout, eps: Float) throws {
        let x = UnsafePointer(input.floats), y = output.floats, meanOut = mean.floats, varOut = variance.floats
        let w = weight?.floats, b = bias?.floats
        let (planes, channels, inner) = (layout.outer, layout.dim, layout.inner)
        let count = Double(planes * inner)
        parallelFor(channels, grain: 1) { range in
            for c in range {
                var sum = 0.0
                for n in 0..<planes { sum += NormalizationMath.sum(x + (n * channels + c) * inner, inner) }
                let m = Float(count > 0 ? sum / count : .nan)
                var squares = 0.0
                for n in 0..<planes {
                    squares += NormalizationMath.squaredDeviations(x + (n * channels + c) * inner, inner, from: m)
                }
                let v = count > 0 ? Float(squares / count) : .nan
                meanOut[c] = m
                varOut[c] = v
                let scale = 1 / (v + eps).squareRoot() * (w?[c] ?? 1)
                let shift = (b?[c] ?? 0) - m * scale
                for n in 0..<planes {
                    let offset = (n * channels + c) * inner
                    NormalizationMath.affine(x + offset, y + offset, inner, scale: scale, shift: shift)
                }
            }
        }
    }

    /// The CPU implementation of `NormalizationKernels.batchNormForward`.
    public func batchNormForward(input: Storage, mean: Storage, variance: Storage, weight: Storage?, bias: Storage?,
                                 output: Storage, layout: ReductionLayout, eps: Float) throws {
        let (planes, channels, inner) = (layout.outer, layout.dim, layout.inner)
        guard channels > 0 else { return }
        let x = UnsafePointer(input.floats), y = output.floats
        Scratch.withFloats(2 * channels) { coefficients in
            let scale = coefficients, shift = coefficients + channels
            for c in 0..<channels {
                let s = 1 / (variance.floats[c] + eps).squareRoot() * (weight?.floats[c] ?? 1)
                scale[c] = s
                shift[c] = (bias?.floats[c] ?? 0) - mean.floats[c] * s
            }
            parallelFor(planes * channels, grain: Swift.max(1, 16384 / Swift.max(inner, 1))) { range in
                for p in range {
                    let c = p % channels
                    NormalizationMath.affine(x + p * inner, y + p * inner, inner, scale: scale[c], shift: shift[c])
                }
            }
        }
    }

    /// The CPU implementation of `NormalizationKernels.batchNormUpdateRunningStatistics`.
    public func batchNormUpdateRunningStatistics(runningMean: Storage, runningVar: Storage, batchMean: Storage,
                                                 batchVariance: Storage, channels: Int, count: Int, momentum: Float) throws {
        let rm = runningMean.floats, rv = runningVar.floats, bm = batchMean.floats, bv = batchVariance.floats
        let correction = Double(count) / Double(count - 1)
        for c in 0..<channels {
            rm[c] = (1 - momentum) * rm[c] + momentum * bm[c]
            rv[c] = (1 - momentum) * rv[c] + momentum * Float(Double(bv[c]) * correction)
        }
    }

    /// The CPU implementation of `NormalizationKernels.batchNormBackward`.
    public func batchNormBackward(gradOutput: Storage, input: Storage, mean: Storage, variance: Storage, weight: Storage?,
                                  gradInput: Storage?, gradWeight: Storage?, gradBias: Storage?,
                                  layout: ReductionLayout, eps: Float, batchStatistics: Bool) throws {
        let (planes, channels, inner) = (layout.outer, layout.dim, layout.inner)
        let g = UnsafePointer(gradOutput.floats), x = UnsafePointer(input.floats)
        let dx = gradInput?.floats, dw = gradWeight?.floats, db = gradBias?.floats
        let meanIn = mean.floats, varIn = variance.floats, w = weight?.floats
        let count = Float(planes * inner)
        parallelFor(channels, grain: 1) { range in
            for c in range {
                let m = meanIn[c]
                let invStd = 1 / (varIn[c] + eps).squareRoot()
                var sumG = 0.0, sumGX = 0.0
                if db != nil || dw != nil || (dx != nil && batchStatistics) {
                    for n in 0..<planes {
                        let offset = (n * channels + c) * inner
                        let (a, b) = NormalizationMath.sumAndCenteredDot(g + offset, x + offset, inner, center: m)
                        sumG += a
                        sumGX += b
                    }
                }
                db?[c] = Float(sumG)
                dw?[c] = Float(sumGX) * invStd
                guard let dx else { continue }
                let scale = (w?[c] ?? 1) * invStd
                if batchStatistics && count > 0 {
                    // dx = scale·(g − Σg/M − (x − mean)·s²·Σg(x − mean)/M)
                    let meanG = Float(sumG) / count
                    let projection = Float(sumGX) / count * invStd * invStd
                    for n in 0..<planes {
                        let offset = (n * channels + c) * inner
                        NormalizationMath.gradientAffine(g + offset, x + offset, dx + offset, inner, gScale: scale,
                                                         center: m, xScale: -scale * projection, shift: -scale * meanG)
                    }
                } else {
                    for n in 0..<planes {
                        let offset = (n * channels + c) * inner
                        NormalizationMath.gradientAffine(g + offset, x + offset, dx + offset, inner, gScale: scale,
                                                         center: 0, xScale: 0, shift: 0)
                    }
                }
            }
        }
    }

    /// The CPU implementation of `NormalizationKernels.incrementCounter`.
    public func incrementCounter(_ counter: Storage) throws {
        counter.ints[0] &+= 1
    }
}

/// SIMD loops over one contiguous plane, shared by the batch-normalisation kernels.
enum NormalizationMath {
    /// `Σ p[i]` (Float SIMD partial sums, returned as Double).
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var acc = SIMD8<Float>.zero
        var i = 0
        while i + 8 <= n {
            acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var tail: Float = 0
        while i < n { tail += p[i]; i += 1 }
        return Double(acc.sum()) + Double(tail)
    }

    /// `Σ (p[i] − m)²`.
    @inline(__always)
    static func squaredDeviations(_ p: UnsafePointer<Float>, _ n: Int, from m: Float) -> Double {
        var acc = SIMD8<Float>.zero
        let center = SIMD8<Float>(repeating: m)
        var i = 0
        while i + 8 <= n {
            let d = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - center
            acc += d * d
            i += 8
        }
        var tail: Float = 0
        while i < n { let d = p[i] - m; tail += d * d; i += 1 }
        return Double(acc.sum()) + Double(tail)
    }

    /// `(Σ g[i], Σ g[i]·(x[i] − center))`.
    @inline(__always)
    static func sumAndCenteredDot(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int,
                                  center: Float) -> (Double, Double) {
        var accG = SIMD8<Float>.zero, accGX = SIMD8<Float>.zero
        let m = SIMD8<Float>(repeating: center)
        var i = 0
        while i + 8 <= n {
            let gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
            let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            accG += gv
            accGX += gv * (xv - m)
            i += 8
        }
        var tailG: Float = 0, tailGX: Float = 0
        while i < n { tailG += g[i]; tailGX += g[i] * (x[i] - center); i += 1 }
        return (Double(accG.sum()) + Double(tailG), Double(accGX.sum()) + Double(tailGX))
    }

    /// `y[i] = x[i]·scale + shift`.
    @inline(__always)
    static func affine(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, scale: Float, shift: Float) {
        let s = SIMD8<Float>(repeating: scale), t = SIMD8<Float>(repeating: shift)
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: v * s + t, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { y[i] = x[i] * scale + shift; i += 1 }
    }

    /// `dx[i] = g[i]·gScale + (x[i] − center)·xScale + shift`.
    @inline(__always)
    static func gradientAffine(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                               _ n: Int, gScale: Float, center: Float, xScale: Float, shift: Float) {
        let gs = SIMD8<Float>(repeating: gScale), xs = SIMD8<Float>(repeating: xScale)
        let t = SIMD8<Float>(repeating: shift), m = SIMD8<Float>(repeating: center)
        var i = 0
        while i + 8 <= n {
            let gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
            let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(dx + i).storeBytes(of: gv * gs + (xv - m) * xs + t, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { dx[i] = g[i] * gScale + (x[i] - center) * xScale + shift; i += 1 }
    }
}
