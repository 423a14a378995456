extension CUDABackend {
    /// The built-in tiled SGEMM (`ck_sgemm` in GEMM.cu), used when cuBLAS is not loaded; same
    /// contract as `sgemm` (row-major, transposes, strided batch, `beta` 0 ignores C). Strict fp32
    /// whatever `allowTF32` says.
    ///
    /// To run it on a machine that has cuBLAS (to test it), set `CONVKIT_CUBLAS=none` in the
    /// environment before the first CUDA use: the backend then does not load cuBLAS.
    func builtInSGEMM(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      _ a: GEMMOperand, _ b: GEMMOperand, beta: Float, _ c: GEMMOperand, batch: Int) throws {
        guard m > 0, n > 0, batch > 0 else { return }
        // 64×64 tiles of C on x (columns) and y (rows), batch entries on z; the kernel strides
        // over whatever exceeds the grid limits.
        let tile = 64
        let grid = (min((n + tile - 1) / tile, 65535), min((m + tile - 1) / tile, 65535), min(batch, 65535))
        try launch(.gemm, "ck_sgemm", LaunchShape(grid: grid, block: (256, 1, 1)), [
            .pointer(a.address), .pointer(b.address), .pointer(c.address),
            .int(m), .int(n), .int(k),
            .int(a.leadingDimension), .int(b.leadingDimension), .int(c.leadingDimension),
            .int(a.batchStride), .int(b.batchStride), .int(c.batchStride), .int(batch),
            .flag(transposeA), .flag(transposeB), .float(alpha), .float(beta),
        ])
    }
}
