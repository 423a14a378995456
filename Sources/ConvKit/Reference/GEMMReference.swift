/// Naive Float64 SGEMM: the test oracle for `GEMM`, written for clarity only.
enum GEMMReference {
    /// `C = alpha · op(A) · op(B) + beta · C` on row-major strided buffers, accumulated in
    /// Float64. Returns the whole C buffer (`c.count` values): elements outside the m×n block
    /// (the padding between `n` and `ldc`) are returned unchanged. When `beta` is 0, C's old
    /// values are not read.
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                      alpha: Double, a: [Float], lda: Int, b: [Float], ldb: Int,
                      beta: Double, c: [Float], ldc: Int) -> [Double] {
        var out = c.map(Double.init)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let aValue = transA ? a[p * lda + i] : a[i * lda + p]
                    let bValue = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(aValue) * Double(bValue)
                }
                let old = beta == 0 ? 0 : beta * Double(c[i * ldc + j])
                out[i * ldc + j] = alpha * sum + old
            }
        }
        return out
    }
}
