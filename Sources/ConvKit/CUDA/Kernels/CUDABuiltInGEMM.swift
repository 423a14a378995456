extension CUDABackend {
    /// The built-in tiled SGEMM (`ck_sgemm` in GEMM.cu), used when cuBLAS is not loaded; same
    /// contract as `sgemm`.
    func builtInSGEMM(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      _ a: GEMMOperand, _ b: GEMMOperand, beta: Float, _ c: GEMMOperand, batch: Int) throws {
        throw ConvKitError.unsupported(op: "sgemm", message: "the built-in SGEMM kernel is not yet implemented")
    }
}
