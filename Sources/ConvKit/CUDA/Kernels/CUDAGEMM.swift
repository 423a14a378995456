/// One operand of a strided-batched GEMM: a device address, its leading dimension and the
/// distance between consecutive matrices of the batch (0 reuses one matrix), all in floats.
struct GEMMOperand {
    /// Address of the first matrix (already offset as needed).
    var address: CUdeviceptr
    /// Row pitch of the row-major matrix as stored (columns of the stored matrix, or more).
    var leadingDimension: Int
    /// Floats between matrix `p` and matrix `p + 1` of the batch.
    var batchStride: Int

    /// `storage` offset by `offset` floats.
    init(_ storage: Storage, offset: Int = 0, leadingDimension: Int, batchStride: Int = 0) {
        address = storage.deviceAddress + CUdeviceptr(offset * 4)
        self.leadingDimension = leadingDimension
        self.batchStride = batchStride
    }
}

extension CUDABackend {
    /// Row-major strided-batched SGEMM: for `p` in `0..<batch`,
    /// `C[p] = alpha · op(A[p]) · op(B[p]) + beta · C[p]`, where `C[p]` is `m×n`, `op(A[p])` is
    /// `m×k` (A stored `k×m` when `transposeA`), `op(B[p])` is `k×n` (B stored `n×k` when
    /// `transposeB`). With `beta` 0, C's previous contents are ignored (NaN included).
    ///
    /// Runs on cuBLAS when it is loaded (a row-major product is the column-major product of the
    /// transposes, so the operands swap), otherwise on the built-in tiled kernel `ck_sgemm`.
    /// Strict fp32 unless `allowTF32` is set.
    func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
               _ a: GEMMOperand, _ b: GEMMOperand, beta: Float = 0, _ c: GEMMOperand, batch: Int = 1) throws {
        guard m > 0, n > 0, batch > 0 else { return }
        try makeCurrent()
        if let blas {
            // Column-major view: Cᵀ (n×m) = op(B)ᵀ (n×k) · op(A)ᵀ (k×m).
            var alphaValue = alpha, betaValue = beta
            let status = blas.library.sgemmStridedBatched(
                blas.handle, transposeB ? CUBLAS.transpose : CUBLAS.noTranspose,
                transposeA ? CUBLAS.transpose : CUBLAS.noTranspose,
                Int32(n), Int32(m), Int32(k), &alphaValue,
                b.address, Int32(b.leadingDimension), Int64(b.batchStride),
                a.address, Int32(a.leadingDimension), Int64(a.batchStride),
                &betaValue, c.address, Int32(c.leadingDimension), Int64(c.batchStride), Int32(batch))
            try blas.library.check(status, "cublasSgemmStridedBatched (m \(m), n \(n), k \(k), batch \(batch))")
            if synchronousLaunches { try synchronize("cublasSgemmStridedBatched") }
            return
        }
        try builtInSGEMM(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                         a, b, beta: beta, c, batch: batch)
    }
}
