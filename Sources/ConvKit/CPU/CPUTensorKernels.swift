import Foundation

/// Work below this many elements per chunk runs on one thread.
private let elementwiseGrain = ElementwiseCPU.grain

extension CPUBackend: TensorKernels {
    /// Broadcast elementwise op; loops specialised per op, rows split across cores.
    public func binary(_ op: BinaryOp, _ a: Storage, strides aStrides: [Int], _ b: Storage, strides bStrides: [Int],
                       into out: Storage, shape: [Int]) throws {
        let pa = UnsafePointer(a.floats), pb = UnsafePointer(b.floats), po = out.floats
        typealias E = ElementwiseCPU
        switch op {
        case .add: E.binary(E.Add(), pa, aStrides, pb, bStrides, po, shape)
        case .subtract: E.binary(E.Subtract(), pa, aStrides, pb, bStrides, po, shape)
        case .multiply: E.binary(E.Multiply(), pa, aStrides, pb, bStrides, po, shape)
        case .divide: E.binary(E.Divide(), pa, aStrides, pb, bStrides, po, shape)
        case .maximum: E.binary(E.Maximum(), pa, aStrides, pb, bStrides, po, shape)
        case .maximumGradientShare: E.binary(E.MaximumGradientShare(), pa, aStrides, pb, bStrides, po, shape)
        }
    }

    /// Elementwise op; exp and log are computed inline so the loops vectorise.
    public func unary(_ op: UnaryOp, _ input: Storage, into out: Storage, count: Int) throws {
        let x = UnsafePointer(input.floats), y = out.floats
        typealias E = ElementwiseCPU
        switch op {
        case .negate: E.unary(E.Negate(), x, y, count)
        case .exp: E.unary(E.Exp(), x, y, count)
        case .log: E.unary(E.Log(), x, y, count)
        case .sqrt: E.unary(E.Sqrt(), x, y, count)
        case .abs: E.unary(E.Abs(), x, y, count)
        case .sign: E.unary(E.Sign(), x, y, count)
        case let .power(p):
            if p == 2 { E.unary(E.Square(), x, y, count) }
            else if p == 1 { E.unary(E.Identity(), x, y, count) }
            else { E.unary(E.Power(p: p), x, y, count) }
        case let .addScalar(s): E.unary(E.AddScalar(s: s), x, y, count)
        case let .multiplyScalar(s): E.unary(E.MultiplyScalar(s: s), x, y, count)
        case let .divideByScalar(s): E.unary(E.DivideByScalar(s: s), x, y, count)
        case let .subtractFromScalar(s): E.unary(E.SubtractFromScalar(s: s), x, y, count)
        case let .divideScalarBy(s): E.unary(E.DivideScalarBy(s: s), x, y, count)
        }
    }

    /// Sums with 32 partial sums per row (inner = 1) or by adding whole rows (inner > 1).
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

    /// Maximum and its first position; NaN wins and stops the scan.
    public func reduceMax(_ input: Storage, values: Storage, indices: Storage, outer: Int, reduced: Int, inner: Int) throws {
        let x = UnsafePointer(input.floats), v = values.floats, ix = indices.ints
        guard outer > 0, inner > 0, reduced > 0 else { return }
        if inner == 1 {
            parallelFor(outer, grain: max(1, elementwiseGrain / reduced)) { range in
                for o in range {
                    let p = x + o * reduced
                    var best = p[0], at = 0
                    var r = 1
                    while r < reduced && !best.isNaN {
                        let value = p[r]
                        if value > best || value.isNaN { best = value; at = r }
                        r += 1
                    }
                    v[o] = best
                    ix[o] = Int32(at)
                }
            }
            return
        }
        // Whole rows are compared against the running maximum, a block of columns at a time.
        let block = 1024
        let blocks = (inner + block - 1) / block
        parallelFor(outer * blocks, grain: max(1, elementwiseGrain / max(1, reduced * min(inner, block)))) { range in
            for item in range {
                let o = item / blocks, start = (item % blocks) * block
                let width = min(block, inner - start)
                let bestValues = v + o * inner + start, bestIndices = ix + o * inner + start
                var row = x + o * reduced * inner + start
                for j in 0..<width { bestValues[j] = row[j]; bestIndices[j] = 0 }
                for r in 1..<reduced {
                    row += inner
                    for j in 0..<width {
                        let value = row[j], best = bestValues[j]
                        if value > best || (value.isNaN && !best.isNaN) {
                            bestValues[j] = value
                            bestIndices[j] = Int32(r)
                        }
                    }
                }
            }
        }
    }

    /// Zero-fills `out`, then writes each source value at its recorded position.
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

    /// Row copies (memcpy when both sides are contiguous), broadcast fills, and 32×32 tiles for transposes.
    public func copyStrided(from source: Storage, offset sourceOffset: Int, strides sourceStrides: [Int],
                            to destination: Storage, offset destinationOffset: Int, strides destinationStrides: [Int],
                            shape: [Int]) throws {
        let src = UnsafePointer(source.ints) + sourceOffset, dst = destination.ints + destinationOffset
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        guard let inner = shape.last else { dst[0] = src[0]; return }
        let ss = sourceStrides.last!, ds = destinationStrides.last!
        if ss != 1, ds == 1, inner >= 16,
           let t = shape.indices.dropLast().last(where: { sourceStrides[$0] == 1 && shape[$0] >= 16 }) {
            StridedCopyCPU.transposed(src, sourceStrides, dst, destinationStrides, shape, tiledDim: t)
            return
        }
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

    /// One `GEMM.sgemm` per batch entry (zero-filled when k is 0).
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
