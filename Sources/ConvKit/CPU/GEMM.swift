/// Single-precision matrix multiply on the CPU, row-major:
/// `C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C`, where `op(X)` is `X` or `Xᵀ`.
///
/// `lda`, `ldb` and `ldc` are the row strides of A, B and C as stored (so for `transA` A is
/// stored k×m with row stride `lda`).
///
/// Runs on the CBLAS found at run time (see `BLASInfo.current`) or, without one, on the
/// built-in packed, cache-blocked SIMD SGEMM below. BLAS semantics in both: when `beta` is 0,
/// C is written without being read (a NaN there does not survive); every product of A and B is
/// computed, so a NaN or infinity in A or B reaches C even where the other factor (or alpha)
/// is 0.
enum GEMM {
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                      alpha: Float, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative size \(m)×\(n)×\(k)")
        guard m > 0, n > 0 else { return }
        precondition(ldc >= n, "sgemm: ldc \(ldc) < n \(n)")
        if k == 0 {
            scale(m: m, n: n, beta: beta, c: c, ldc: ldc)
            return
        }
        precondition(lda >= (transA ? m : k) && ldb >= (transB ? k : n), "sgemm: lda/ldb smaller than a row")
        let limit = Int(Int32.max)
        // A CBLAS returns early when alpha is 0, which would drop NaNs of A and B: keep those here.
        if alpha != 0, let blas = CBLAS.shared, max(m, n, k, lda, ldb, ldc) <= limit {
            blas.sgemm(CBLAS.rowMajor, transA ? CBLAS.transpose : CBLAS.noTranspose,
                       transB ? CBLAS.transpose : CBLAS.noTranspose,
                       Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
            return
        }
        swiftSGEMM(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                   a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// `C = beta · C` (C = 0 when beta is 0, whatever C held).
    private static func scale(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 {
                row.update(repeating: 0, count: n)
            } else if beta != 1 {
                for j in 0..<n { row[j] *= beta }
            }
        }
    }

    // MARK: - Built-in SGEMM

    #if CONVKIT_AVX2
    /// One row of a micro-tile. Builds for AVX2+FMA CPUs (`-target-cpu haswell` or newer, with
    /// `-D CONVKIT_AVX2`) use 16 floats: twelve 256-bit accumulators and fused multiply-adds.
    typealias Vector = SIMD16<Float>
    /// Columns of C per micro-kernel call (one `Vector`).
    static let nr = 16
    #else
    /// One row of a micro-tile. Baseline x86-64 has 16 SSE registers: 6×8 floats of
    /// accumulators fill twelve of them.
    typealias Vector = SIMD8<Float>
    /// Columns of C per micro-kernel call (one `Vector`).
    static let nr = 8
    #endif

    /// `accumulator += a · b`. Fused only where the build targets FMA hardware: on baseline
    /// x86-64 an FMA intrinsic would become a slow library call per lane.
    @inline(__always)
    private static func multiplyAdd(_ accumulator: inout Vector, _ a: Float, _ b: Vector) {
        #if CONVKIT_AVX2
        accumulator.addProduct(Vector(repeating: a), b)
        #else
        accumulator += Vector(repeating: a) * b
        #endif
    }

    /// Rows of C per micro-kernel call.
    static let mr = 6

    /// Depth of one packed block: an mr×kc sliver of A and a kc×nr sliver of B stay in L1.
    static let kc = 256
    /// Rows of A packed at once (kept in L2).
    static let mc = 120
    /// Columns of B packed at once (kept in L3).
    static let nc = 2048

    /// The built-in SGEMM, whatever CBLAS is loaded (the tests call it directly).
    /// Splits C between the CPU backend's threads along its longer side, then runs the blocked
    /// single-threaded algorithm on each part.
    static func swiftSGEMM(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                           alpha: Float, a: UnsafePointer<Float>, lda: Int,
                           b: UnsafePointer<Float>, ldb: Int,
                           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            scale(m: m, n: n, beta: beta, c: c, ldc: ldc)
            return
        }
        let splitRows = m >= n
        let units = splitRows ? (m + mr - 1) / mr : (n + nr - 1) / nr
        let work = Double(m) * Double(n) * Double(k)
        let parts = work < 64 * 64 * 64 ? 1 : min(CPUBackend.shared.threadCount, units)
        CPUBackend.shared.parallelFor(parts, grain: 1) { range in
            for part in range {
                let first = units * part / parts, last = units * (part + 1) / parts
                if splitRows {
                    let i0 = first * mr, i1 = min(m, last * mr)
                    guard i0 < i1 else { continue }
                    blocked(transA: transA, transB: transB, m: i1 - i0, n: n, k: k, alpha: alpha,
                            a: transA ? a + i0 : a + i0 * lda, lda: lda, b: b, ldb: ldb,
                            beta: beta, c: c + i0 * ldc, ldc: ldc)
                } else {
                    let j0 = first * nr, j1 = min(n, last * nr)
                    guard j0 < j1 else { continue }
                    blocked(transA: transA, transB: transB, m: m, n: j1 - j0, k: k, alpha: alpha,
                            a: a, lda: lda, b: transB ? b + j0 * ldb : b + j0, ldb: ldb,
                            beta: beta, c: c + j0, ldc: ldc)
                }
            }
        }
    }

    /// Single-threaded GotoBLAS-style loop nest: B in nc×kc panels, A in mc×kc blocks, both
    /// packed into micro-panels, then the mr×nr micro-kernel over every tile.
    private static func blocked(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int,
                                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let kcMax = min(kc, k)
        let ncMax = (min(nc, n) + nr - 1) / nr * nr
        let mcMax = (min(mc, m) + mr - 1) / mr * mr
        Scratch.withFloats(kcMax * ncMax) { packedB in
            Scratch.withFloats(kcMax * mcMax) { packedA in
                var jc = 0
                while jc < n {
                    let nb = min(nc, n - jc)
                    var pc = 0
                    while pc < k {
                        let kb = min(kc, k - pc)
                        packB(transB: transB, b: b, ldb: ldb, row0: pc, col0: jc, kb: kb, nb: nb, into: packedB)
                        let blockBeta: Float = pc == 0 ? beta : 1
                        var ic = 0
                        while ic < m {
                            let mb = min(mc, m - ic)
                            packA(transA: transA, a: a, lda: lda, row0: ic, col0: pc, mb: mb, kb: kb, into: packedA)
                            var jr = 0
                            while jr < nb {
                                var ir = 0
                                while ir < mb {
                                    microKernel(kb: kb, a: packedA + ir * kb, b: packedB + jr * kb,
                                                c: c + (ic + ir) * ldc + jc + jr, ldc: ldc,
                                                rows: min(mr, mb - ir), cols: min(nr, nb - jr),
                                                alpha: alpha, beta: blockBeta)
                                    ir += mr
                                }
                                jr += nr
                            }
                            ic += mc
                        }
                        pc += kc
                    }
                    jc += nc
                }
            }
        }
    }

    /// Packs op(A)[row0 ..< row0+mb, col0 ..< col0+kb] as mr-row slivers, each stored
    /// column by column (`mr` consecutive values per k); rows past `mb` are zero.
    @inline(__always)
    private static func packA(transA: Bool, a: UnsafePointer<Float>, lda: Int, row0: Int, col0: Int,
                              mb: Int, kb: Int, into packed: UnsafeMutablePointer<Float>) {
        var i = 0
        while i < mb {
            let rows = min(mr, mb - i)
            let sliver = packed + i * kb
            if transA {
                // A is stored k×m: the mr values of one k are contiguous.
                for p in 0..<kb {
                    let source = a + (col0 + p) * lda + row0 + i
                    let target = sliver + p * mr
                    for r in 0..<rows { target[r] = source[r] }
                    for r in rows..<mr { target[r] = 0 }
                }
            } else {
                for r in 0..<rows {
                    let source = a + (row0 + i + r) * lda + col0
                    for p in 0..<kb { sliver[p * mr + r] = source[p] }
                }
                for r in rows..<mr {
                    for p in 0..<kb { sliver[p * mr + r] = 0 }
                }
            }
            i += mr
        }
    }

    /// Packs op(B)[row0 ..< row0+kb, col0 ..< col0+nb] as nr-column slivers, each stored row by
    /// row (`nr` consecutive values per k); columns past `nb` are zero.
    @inline(__always)
    private static func packB(transB: Bool, b: UnsafePointer<Float>, ldb: Int, row0: Int, col0: Int,
                              kb: Int, nb: Int, into packed: UnsafeMutablePointer<Float>) {
        var j = 0
        while j < nb {
            let cols = min(nr, nb - j)
            let sliver = packed + j * kb
            if transB {
                // B is stored n×k: one column of op(B) is a contiguous row.
                for col in 0..<cols {
                    let source = b + (col0 + j + col) * ldb + row0
                    for p in 0..<kb { sliver[p * nr + col] = source[p] }
                }
                for col in cols..<nr {
                    for p in 0..<kb { sliver[p * nr + col] = 0 }
                }
            } else if cols == nr {
                for p in 0..<kb {
                    let source = UnsafeRawPointer(b + (row0 + p) * ldb + col0 + j)
                    UnsafeMutableRawPointer(sliver + p * nr).storeBytes(of: source.loadUnaligned(as: Vector.self),
                                                                        as: Vector.self)
                }
            } else {
                for p in 0..<kb {
                    let source = b + (row0 + p) * ldb + col0 + j
                    let target = sliver + p * nr
                    for col in 0..<cols { target[col] = source[col] }
                    for col in cols..<nr { target[col] = 0 }
                }
            }
            j += nr
        }
    }

    /// C[rows×cols] = alpha · Apanel · Bpanel + beta · C over one mr×nr tile (beta 0: C not read).
    @inline(__always)
    private static func microKernel(kb: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                    c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                                    alpha: Float, beta: Float) {
        var c0 = Vector(), c1 = Vector(), c2 = Vector()
        var c3 = Vector(), c4 = Vector(), c5 = Vector()
        let bRaw = UnsafeRawPointer(b)
        var ap = a
        for p in 0..<kb {
            let bv = bRaw.loadUnaligned(fromByteOffset: p * MemoryLayout<Vector>.stride, as: Vector.self)
            multiplyAdd(&c0, ap[0], bv)
            multiplyAdd(&c1, ap[1], bv)
            multiplyAdd(&c2, ap[2], bv)
            multiplyAdd(&c3, ap[3], bv)
            multiplyAdd(&c4, ap[4], bv)
            multiplyAdd(&c5, ap[5], bv)
            ap += 6
        }
        if rows == mr && cols == nr {
            store(c0, to: c, alpha: alpha, beta: beta)
            store(c1, to: c + ldc, alpha: alpha, beta: beta)
            store(c2, to: c + 2 * ldc, alpha: alpha, beta: beta)
            store(c3, to: c + 3 * ldc, alpha: alpha, beta: beta)
            store(c4, to: c + 4 * ldc, alpha: alpha, beta: beta)
            store(c5, to: c + 5 * ldc, alpha: alpha, beta: beta)
            return
        }
        withUnsafeTemporaryAllocation(of: Vector.self, capacity: 6) { tile in
            tile[0] = c0; tile[1] = c1; tile[2] = c2; tile[3] = c3; tile[4] = c4; tile[5] = c5
            for r in 0..<rows {
                let row = c + r * ldc
                for j in 0..<cols {
                    let value = alpha * tile[r][j]
                    row[j] = beta == 0 ? value : beta * row[j] + value
                }
            }
        }
    }

    @inline(__always)
    private static func store(_ accumulator: Vector, to c: UnsafeMutablePointer<Float>, alpha: Float, beta: Float) {
        let raw = UnsafeMutableRawPointer(c)
        var value = accumulator * alpha
        if beta != 0 { value += raw.loadUnaligned(as: Vector.self) * beta }
        raw.storeBytes(of: value, as: Vector.self)
    }
}
