/// Vectorisable float32 math for the NN kernels: `exp` without a library call (so loops over it
/// compile to SIMD) and SIMD8 reductions over contiguous vectors.
///
/// `exp` is Cephes' `expf`: reduction by ln 2, a degree-6 polynomial (about 1 ulp), and the scale
/// 2ⁿ applied in two halves so that results down to the subnormals are right; inf and NaN behave
/// as `expf`. (The same algorithm as `ElementwiseCPU.exp`, kept here so the NN kernels have no
/// dependency on the tensor kernels' internals.) Measured on this machine's baseline x86-64 build,
/// the SIMD8 form is about 2× faster than libm's `expf` and the scalar form slower (LLVM does not
/// vectorise it), so loops go through the SIMD8 helpers below and the scalar form only finishes
/// their tails (keeping every element's result independent of its position); purely strided
/// loops call libm.
enum NNMath {
    private static let lowest: Float = -104, highest: Float = 88.72283

    /// `eˣ` for one value.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let c = x.isNaN ? 0 : Swift.min(Swift.max(x, lowest), highest)
        // Round c·log₂e to an integer with the 1.5·2²³ trick: no conversion that could trap.
        let shifted = c * 1.442695041 + 12_582_912
        let n = shifted - 12_582_912
        let k = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
        let r = c - n * 0.693359375 + n * 2.12194440e-4
        let e = polynomial(r)
        let k1 = k >> 1, k2 = k &- k1
        let s1 = Float(bitPattern: UInt32(bitPattern: k1 &+ 127) << 23)
        let s2 = Float(bitPattern: UInt32(bitPattern: k2 &+ 127) << 23)
        let y = e * s1 * s2
        return x > highest ? .infinity : (x < lowest ? 0 : (x.isNaN ? x : y))
    }

    /// `eˣ` for eight values at once (the same algorithm and results as the scalar one).
    @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let c = x.replacing(with: 0, where: x .!= x)
            .clamped(lowerBound: SIMD8(repeating: lowest), upperBound: SIMD8(repeating: highest))
        let shifted = c * 1.442695041 + 12_582_912
        let n = shifted - 12_582_912
        let k = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let r = c - n * 0.693359375 + n * 2.12194440e-4
        let e = polynomial(r)
        let k1 = k &>> 1, k2 = k &- k1
        let s1 = unsafeBitCast((k1 &+ 127) &<< 23, to: SIMD8<Float>.self)
        let s2 = unsafeBitCast((k2 &+ 127) &<< 23, to: SIMD8<Float>.self)
        var y = e * s1 * s2
        y.replace(with: .infinity, where: x .> highest)
        y.replace(with: 0, where: x .< lowest)
        y.replace(with: x, where: x .!= x)
        return y
    }

    @inline(__always)
    private static func polynomial(_ r: Float) -> Float {
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        return p * r * r + r + 1
    }

    @inline(__always)
    private static func polynomial(_ r: SIMD8<Float>) -> SIMD8<Float> {
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        return p * r * r + r + 1
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    private static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// The largest of `count` contiguous values; NaNs are skipped (they reach the result of a
    /// softmax through `exp` instead), -inf for an empty vector.
    @inline(__always)
    static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= count {
            let v = load(x + i)
            lanes.replace(with: v, where: v .> lanes)
            i += 8
        }
        var m = lanes.max()
        while i < count { if x[i] > m { m = x[i] }; i += 1 }
        return m
    }

    /// `y[i] = exp(x[i] − shift)` for `count` contiguous values; returns `Σ y`.
    @inline(__always)
    static func storeExpAndSum(_ x: UnsafePointer<Float>, shift: Float, _ y: UnsafeMutablePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            let e = exp(load(x + i) - shift)
            store(e, y + i)
            lanes += e
            i += 8
        }
        var sum = lanes.sum()
        while i < count { let e = exp(x[i] - shift); y[i] = e; sum += e; i += 1 }
        return sum
    }

    /// `Σ exp(x[i] − shift)` for `count` contiguous values.
    @inline(__always)
    static func sumOfExp(_ x: UnsafePointer<Float>, shift: Float, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            lanes += exp(load(x + i) - shift)
            i += 8
        }
        var sum = lanes.sum()
        while i < count { sum += exp(x[i] - shift); i += 1 }
        return sum
    }

    /// `Σ a[i]·b[i]` for `count` contiguous values.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            lanes += load(a + i) * load(b + i)
            i += 8
        }
        var sum = lanes.sum()
        while i < count { sum += a[i] * b[i]; i += 1 }
        return sum
    }

    /// `Σ x[i]` for `count` contiguous values.
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            lanes += load(x + i)
            i += 8
        }
        var sum = lanes.sum()
        while i < count { sum += x[i]; i += 1 }
        return sum
    }

    /// `y[i] = exp(x[i] − shift)` for `count` contiguous values.
    @inline(__always)
    static func storeExp(_ x: UnsafePointer<Float>, shift: Float, into y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            store(exp(load(x + i) - shift), y + i)
            i += 8
        }
        while i < count { y[i] = exp(x[i] - shift); i += 1 }
    }

    /// Lane by lane: `e = exp(x[i] − shifts[i])`, `sums[i] += e`, and `y[i] = e` when `y` is given.
    @inline(__always)
    static func accumulateExp(_ x: UnsafePointer<Float>, shifts: UnsafePointer<Float>, sums: UnsafeMutablePointer<Float>,
                              into y: UnsafeMutablePointer<Float>?, count: Int) {
        var i = 0
        while i + 8 <= count {
            let e = exp(load(x + i) - load(shifts + i))
            store(load(sums + i) + e, sums + i)
            if let y { store(e, y + i) }
            i += 8
        }
        while i < count {
            let e = exp(x[i] - shifts[i])
            sums[i] += e
            y?[i] = e
            i += 1
        }
    }
}
