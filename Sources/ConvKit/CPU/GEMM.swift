/// Single-precision matrix multiply on the CPU, row-major:
/// `C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C`, where `op(X)` is `X` or `Xᵀ`.
///
/// `lda`, `ldb` and `ldc` are the row strides of A, B and C as stored (so for `transA` A is
/// stored k×m with row stride `lda`).
enum GEMM {
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                      alpha: Float, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        CPUBackend.shared.parallelFor(m, grain: 4) { rows in
            var rowBuffer = [Float](repeating: 0, count: n)
            for i in rows {
                for j in 0..<n { rowBuffer[j] = 0 }
                for p in 0..<k {
                    let aip = transA ? a[p * lda + i] : a[i * lda + p]
                    if transB {
                        for j in 0..<n { rowBuffer[j] += aip * b[j * ldb + p] }
                    } else {
                        let brow = b + p * ldb
                        for j in 0..<n { rowBuffer[j] += aip * brow[j] }
                    }
                }
                let crow = c + i * ldc
                for j in 0..<n { crow[j] = alpha * rowBuffer[j] + (beta == 0 ? 0 : beta * crow[j]) }
            }
        }
    }
}
