import Foundation

/// The elementwise functions of the CPU tensor kernels as types, so that each loop is
/// specialised (and vectorised) for its function even inside a `parallelFor` closure.
enum ElementwiseCPU {
    /// Elementwise work below this many elements per chunk runs on one thread.
    static let grain = 1 << 15

    protocol Binary { func callAsFunction(_ a: Float, _ b: Float) -> Float }
    protocol Unary { func callAsFunction(_ x: Float) -> Float }

    struct Add: Binary { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b } }
    struct Subtract: Binary { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b } }
    struct Multiply: Binary { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b } }
    struct Divide: Binary { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b } }
    struct Maximum: Binary {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a.isNaN ? a : (b.isNaN ? b : (a > b ? a : b)) }
    }
    struct MaximumGradientShare: Binary {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a < b ? 0 : (a == b ? 0.5 : 1) }
    }

    struct Negate: Unary { @inline(__always) func callAsFunction(_ x: Float) -> Float { -x } }
    struct Exp: Unary { @inline(__always) func callAsFunction(_ x: Float) -> Float { ElementwiseCPU.exp(x) } }
    struct Log: Unary { @inline(__always) func callAsFunction(_ x: Float) -> Float { ElementwiseCPU.log(x) } }
    struct Sqrt: Unary { @inline(__always) func callAsFunction(_ x: Float) -> Float { x.squareRoot() } }
    struct Abs: Unary { @inline(__always) func callAsFunction(_ x: Float) -> Float { Swift.abs(x) } }
    struct Sign: Unary {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : (x.isNaN ? x : 0)) }
    }
    struct Square: Unary { @inline(__always) func callAsFunction(_ x: Float) -> Float { x * x } }
    struct Identity: Unary { @inline(__always) func callAsFunction(_ x: Float) -> Float { x } }
    struct Power: Unary {
        let p: Float
        @inline(__always) func callAsFunction(_ x: Float) -> Float { Foundation.pow(x, p) }
    }
    struct AddScalar: Unary { let s: Float; @inline(__always) func callAsFunction(_ x: Float) -> Float { x + s } }
    struct MultiplyScalar: Unary { let s: Float; @inline(__always) func callAsFunction(_ x: Float) -> Float { x * s } }
    struct DivideByScalar: Unary { let s: Float; @inline(__always) func callAsFunction(_ x: Float) -> Float { x / s } }
    struct SubtractFromScalar: Unary { let s: Float; @inline(__always) func callAsFunction(_ x: Float) -> Float { s - x } }
    struct DivideScalarBy: Unary { let s: Float; @inline(__always) func callAsFunction(_ x: Float) -> Float { s / x } }

    /// `eˣ` in float32 without a library call, so loops over it vectorise: Cephes' `expf`
    /// (range reduction by ln 2, degree-6 polynomial, about 1 ulp), with the scale 2ⁿ applied
    /// in two halves so that results down to the subnormals are right. inf/NaN behave as `expf`.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let c = x.isNaN ? 0 : Swift.min(Swift.max(x, -104), 88.72283)
        // Round c·log₂e to an integer with the 1.5·2²³ trick: no conversion that could trap.
        let shifted = c * 1.442695041 + 12_582_912
        let n = shifted - 12_582_912
        let k = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
        let r = c - n * 0.693359375 + n * 2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let e = p * r * r + r + 1
        let k1 = k >> 1, k2 = k &- k1
        let s1 = Float(bitPattern: UInt32(bitPattern: k1 &+ 127) << 23)
        let s2 = Float(bitPattern: UInt32(bitPattern: k2 &+ 127) << 23)
        let y = e * s1 * s2
        return x > 88.72283 ? .infinity : (x < -104 ? 0 : (x.isNaN ? x : y))
    }

    /// Natural logarithm in float32 without a library call (vectorises): Cephes' `logf`
    /// (mantissa in [√½, √2), polynomial, about 1 ulp); subnormals are scaled up first.
    /// Negative → NaN, ±0 → -inf, inf → inf, NaN → NaN, as `logf`.
    @inline(__always)
    static func log(_ x: Float) -> Float {
        let subnormal = x < Float.leastNormalMagnitude
        let scaled = subnormal ? x * 8_388_608 : x // 2²³
        let bits = Int32(bitPattern: scaled.bitPattern)
        var e = Float((bits >> 23) &- 126) - (subnormal ? 23 : 0)
        // Mantissa m in [0.5, 1).
        var m = Float(bitPattern: UInt32(bitPattern: (bits & 0x007F_FFFF) | 0x3F00_0000))
        let small = m < 0.707106781186547524
        e = small ? e - 1 : e
        m = small ? m + m - 1 : m - 1
        let z = m * m
        var y: Float = 7.0376836292e-2
        y = y * m - 1.1514610310e-1
        y = y * m + 1.1676998740e-1
        y = y * m - 1.2420140846e-1
        y = y * m + 1.4249322787e-1
        y = y * m - 1.6668057665e-1
        y = y * m + 2.0000714765e-1
        y = y * m - 2.4999993993e-1
        y = y * m + 3.3333331174e-1
        y = y * m * z
        y += -2.12194440e-4 * e
        y += -0.5 * z
        let result = m + y + 0.693359375 * e
        return x > 0 ? (x == .infinity ? x : result) : (x == 0 ? -.infinity : .nan)
    }

    /// `out[i] = f(a[·], b[·])` over `shape` (see `TensorKernels.binary`). Rows of the innermost
    /// dimension are the unit of work; a few long rows are split into column chunks so both
    /// cores share them.
    static func binary<F: Binary>(_ f: F, _ a: UnsafePointer<Float>, _ aStrides: [Int], _ b: UnsafePointer<Float>,
                                  _ bStrides: [Int], _ out: UnsafeMutablePointer<Float>, _ shape: [Int]) {
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        guard let inner = shape.last else { out[0] = f(a[0], b[0]); return }
        let sa = aStrides.last!, sb = bStrides.last!
        let rows = count / inner
        let threads = CPUBackend.shared.threadCount
        let split = rows >= threads ? 1 : Swift.max(1, Swift.min(threads, inner / grain))
        let chunk = (inner + split - 1) / split
        let outerShape = Array(shape.dropLast())
        let outerA = Array(aStrides.dropLast()), outerB = Array(bStrides.dropLast())
        CPUBackend.shared.parallelFor(rows * split, grain: Swift.max(1, grain / chunk)) { range in
            for item in range {
                let row = item / split, start = (item % split) * chunk
                let width = Swift.min(chunk, inner - start)
                var rem = row, offA = 0, offB = 0
                for d in stride(from: outerShape.count - 1, through: 0, by: -1) {
                    let i = rem % outerShape[d]
                    rem /= outerShape[d]
                    offA += i * outerA[d]
                    offB += i * outerB[d]
                }
                let ra = a + offA + start * sa, rb = b + offB + start * sb, ro = out + row * inner + start
                if sa == 1 && sb == 1 {
                    for j in 0..<width { ro[j] = f(ra[j], rb[j]) }
                } else if sa == 1 && sb == 0 {
                    let y = rb[0]
                    for j in 0..<width { ro[j] = f(ra[j], y) }
                } else if sa == 0 && sb == 1 {
                    let x = ra[0]
                    for j in 0..<width { ro[j] = f(x, rb[j]) }
                } else {
                    for j in 0..<width { ro[j] = f(ra[j * sa], rb[j * sb]) }
                }
            }
        }
    }

    /// `y[i] = f(x[i])` for `count` elements, split across threads.
    static func unary<F: Unary>(_ f: F, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        CPUBackend.shared.parallelFor(count, grain: grain) { range in
            let xs = x + range.lowerBound, ys = y + range.lowerBound
            for i in 0..<range.count { ys[i] = f(xs[i]) }
        }
    }
}
