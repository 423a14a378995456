import Foundation

/// Elementwise work below this many elements per chunk runs on one thread.
private let elementwiseGrain = 1 << 15

extension CPUBackend: TensorKernels {
    public func binary(_ op: BinaryOp, _ a: Storage, strides aStrides: [Int], _ b: Storage, strides bStrides: [Int],
                       into out: Storage, shape: [Int]) throws {
        let pa = UnsafePointer(a.floats), pb = UnsafePointer(b.floats), po = out.floats
        switch op {
        case .add: binaryLoop(pa, aStrides, pb, bStrides, po, shape) { $0 + $1 }
        case .subtract: binaryLoop(pa, aStrides, pb, bStrides, po, shape) { $0 - $1 }
        case .multiply: binaryLoop(pa, aStrides, pb, bStrides, po, shape) { $0 * $1 }
        case .divide: binaryLoop(pa, aStrides, pb, bStrides, po, shape) { $0 / $1 }
        case .maximum:
            binaryLoop(pa, aStrides, pb, bStrides, po, shape) { x, y in x.isNaN ? x : (y.isNaN ? y : (x > y ? x : y)) }
        case .maximumGradientShare:
            binaryLoop(pa, aStrides, pb, bStrides, po, shape) { x, y in x < y ? 0 : (x == y ? 0.5 : 1) }
        }
    }

    /// Rows of the innermost dimension, split across threads; contiguous and scalar-operand
    /// rows get loops the compiler vectorises.
    @inline(__always)
    private func binaryLoop(_ a: UnsafePointer<Float>, _ aStrides: [Int], _ b: UnsafePointer<Float>, _ bStrides: [Int],
                            _ out: UnsafeMutablePointer<Float>, _ shape: [Int], _ f: (Float, Float) -> Float) {
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        guard let inner = shape.last else { out[0] = f(a[0], b[0]); return }
        let sa = aStrides.last!, sb = bStrides.last!
        let rows = count / inner
        let outerShape = Array(shape.dropLast())
        let outerA = Array(aStrides.dropLast()), outerB = Array(bStrides.dropLast())
        parallelFor(rows, grain: max(1, elementwiseGrain / inner)) { range in
            for row in range {
                var rem = row, offA = 0, offB = 0
                for d in stride(from: outerShape.count - 1, through: 0, by: -1) {
                    let i = rem % outerShape[d]
                    rem /= outerShape[d]
                    offA += i * outerA[d]
                    offB += i * outerB[d]
                }
                let ra = a + offA, rb = b + offB, ro = out + row * inner
                if sa == 1 && sb == 1 {
                    for j in 0..<inner { ro[j] = f(ra[j], rb[j]) }
                } else if sa == 1 && sb == 0 {
                    let y = rb[0]
                    for j in 0..<inner { ro[j] = f(ra[j], y) }
                } else if sa == 0 && sb == 1 {
                    let x = ra[0]
                    for j in 0..<inner { ro[j] = f(x, rb[j]) }
                } else {
                    for j in 0..<inner { ro[j] = f(ra[j * sa], rb[j * sb]) }
                }
            }
        }
    }

    public func unary(_ op: UnaryOp, _ input: Storage, into out: Storage, count: Int) throws {
        let x = UnsafePointer(input.floats), y = out.floats
        switch op {
        case .negate: unaryLoop(x, y, count) { -$0 }
        case .exp: unaryLoop(x, y, count) { Foundation.exp($0) }
        case .log: unaryLoop(x, y, count) { Foundation.log($0) }
        case .sqrt: unaryLoop(x, y, count) { $0.squareRoot() }
        case .abs: unaryLoop(x, y, count) { Swift.abs($0) }
        case .sign: unaryLoop(x, y, count) { $0 > 0 ? 1 : ($0 < 0 ? -1 : ($0.isNaN ? $0 : 0)) }
        case let .power(p):
            if p == 2 { unaryLoop(x, y, count) { $0 * $0 } }
            else if p == 1 { unaryLoop(x, y, count) { $0 } }
            else if p == 0.5 { unaryLoop(x, y, count) { Foundation.pow($0, 0.5) } }
            else { unaryLoop(x, y, count) { Foundation.pow($0, p) } }
        case let .addScalar(s): unaryLoop(x, y, count) { $0 + s }
        case let .multiplyScalar(s): unaryLoop(x, y, count) { $0 * s }
        case let .divideByScalar(s): unaryLoop(x, y, count) { $0 / s }
        case let .subtractFromScalar(s): unaryLoop(x, y, count) { s - $0 }
        case let .divideScalarBy(s): unaryLoop(x, y, count) { s / $0 }
        }
    }

    @inline(__always)
    private func unaryLoop(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int, _ f: (Float) -> Float) {
        parallelFor(count, grain: elementwiseGrain) { range in
            for i in range { y[i] = f(x[i]) }
        }
    }

    public func reduceSum(_ input: Storage, into out: Storage, outer: Int, reduced: Int, inner: Int) throws {
        let x = UnsafePointer(input.floats), y = out.floats
        guard outer > 0, inner > 0 else { return }
        if inner == 1 {
            if outer >= threadCount || reduced < elementwiseGrain {
                parallelFor(outer, grain: max(1, elementwiseGrain / max(reduced, 1))) { range in
                    for o in range { y[o] = Self.contiguousSum(x + o * reduced, reduced) }
                }
            } else {
                // Few long rows: each thread sums a slice of every row, then slices are added.
                let parts = threadCount
                Scratch.withFloats(outer * parts) { partial in
                    parallelFor(outer * parts, grain: 1) { range in
                        for item in range {
                            let o = item / parts, p = item % parts
                            let start = reduced * p / parts, end = reduced * (p + 1) / parts
                            partial[item] = Self.contiguousSum(x + o * reduced + start, end - start)
                        }
                    }
                    for o in 0..<outer {
                        var s: Float = 0
                        for p in 0..<parts { s += partial[o * parts + p] }
                        y[o] = s
                    }
                }
            }
            return
        }
        // Rows of `inner` values are added into the output row, a block of columns at a time.
        let block = 1024
        let blocks = (inner + block - 1) / block
        parallelFor(outer * blocks, grain: max(1, elementwiseGrain / max(1, reduced * min(inner, block)))) { range in
            for item in range {
                let o = item / blocks, start = (item % blocks) * block
                let width = min(block, inner - start)
                let acc = y + o * inner + start
                for j in 0..<width { acc[j] = 0 }
                var row = x + o * reduced * inner + start
                for _ in 0..<reduced {
                    for j in 0..<width { acc[j] += row[j] }
                    row += inner
                }
            }
        }
    }

    /// Sum of `n` contiguous floats with 32 independent partial sums (fast and more accurate
    /// than one running sum).
    @inline(__always)
    static func contiguousSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 32 <= n {
            s0 += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            s1 += raw.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self)
            s2 += raw.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD8<Float>.self)
            s3 += raw.loadUnaligned(fromByteOffset: (i + 24) * 4, as: SIMD8<Float>.self)
            i += 32
        }
        var tail: Float = 0
        while i < n { tail += p[i]; i += 1 }
        return ((s0 + s1) + (s2 + s3)).sum() + tail
    }

    public func reduceMax(_ input: Storage, values: Storage, indices: Storage, outer: Int, reduced: Int, inner: Int) throws {
        let x = UnsafePointer(input.floats), v = values.floats, ix = indices.ints
        guard outer > 0, inner > 0, reduced > 0 else { return }
        parallelFor(outer * inner, grain: max(1, elementwiseGrain / reduced)) { range in
            for item in range {
                let o = item / inner, i = item % inner
                var p = x + o * reduced * inner + i
                var best = p[0], at = 0
                if !best.isNaN {
                    for r in 1..<reduced {
                        p += inner
                        let value = p[0]
                        if value > best || value.isNaN {
                            best = value; at = r
                            if value.isNaN { break }
                        }
                    }
                }
                v[item] = best
                ix[item] = Int32(at)
            }
        }
    }

    public func scatterAlongDim(_ source: Storage, indices: Storage, into out: Storage, outer: Int, reduced: Int, inner: Int) throws {
        let s = UnsafePointer(source.floats), ix = UnsafePointer(indices.ints), y = out.floats
        let total = outer * reduced * inner
        parallelFor(total, grain: elementwiseGrain) { range in
            for i in range { y[i] = 0 }
        }
        parallelFor(outer * inner, grain: elementwiseGrain) { range in
            for item in range {
                let o = item / inner, i = item % inner
                y[(o * reduced + Int(ix[item])) * inner + i] = s[item]
            }
        }
    }

    public func copyStrided(from source: Storage, offset sourceOffset: Int, strides sourceStrides: [Int],
                            to destination: Storage, offset destinationOffset: Int, strides destinationStrides: [Int],
                            shape: [Int]) throws {
        let src = UnsafePointer(source.ints) + sourceOffset, dst = destination.ints + destinationOffset
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        guard let inner = shape.last else { dst[0] = src[0]; return }
        let ss = sourceStrides.last!, ds = destinationStrides.last!
        let rows = count / inner
        let outerShape = Array(shape.dropLast())
        let outerS = Array(sourceStrides.dropLast()), outerD = Array(destinationStrides.dropLast())
        parallelFor(rows, grain: max(1, elementwiseGrain / inner)) { range in
            for row in range {
                var rem = row, offS = 0, offD = 0
                for d in stride(from: outerShape.count - 1, through: 0, by: -1) {
                    let i = rem % outerShape[d]
                    rem /= outerShape[d]
                    offS += i * outerS[d]
                    offD += i * outerD[d]
                }
                let rs = src + offS, rd = dst + offD
                if ss == 1 && ds == 1 {
                    rd.update(from: rs, count: inner)
                } else if ss == 0 {
                    let value = rs[0]
                    for j in 0..<inner { rd[j * ds] = value }
                } else {
                    for j in 0..<inner { rd[j * ds] = rs[j * ss] }
                }
            }
        }
    }

    public func batchedMatmul(_ a: Storage, _ b: Storage, into c: Storage, batch: Int, m: Int, n: Int, k: Int,
                              transposeA: Bool, transposeB: Bool, aBatchStride: Int, bBatchStride: Int) throws {
        let pa = UnsafePointer(a.floats), pb = UnsafePointer(b.floats), pc = c.floats
        guard m > 0, n > 0 else { return }
        if k == 0 {
            fill(pc, count: batch * m * n)
            return
        }
        let lda = transposeA ? m : k, ldb = transposeB ? k : n
        for p in 0..<batch {
            GEMM.sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k, alpha: 1,
                       a: pa + p * aBatchStride, lda: lda, b: pb + p * bBatchStride, ldb: ldb,
                       beta: 0, c: pc + p * m * n, ldc: n)
        }
    }

    private func fill(_ p: UnsafeMutablePointer<Float>, count: Int) {
        parallelFor(count, grain: elementwiseGrain) { range in
            for i in range { p[i] = 0 }
        }
    }
}
