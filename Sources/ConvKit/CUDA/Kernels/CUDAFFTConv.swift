/// Convolution through the discrete Fourier transform on the GPU (the algorithm and its layouts:
/// `FFTConvTiling`): the transforms are the kernels of FFT.cu, the products one strided-batched
/// complex GEMM per chunk of images over the frequencies (cuBLAS `cublasGemmStridedBatchedEx`,
/// `CUDA_C_32F`, strict fp32 or TF32 as `allowTF32` says). Without cuBLAS (or without that
/// function) `.fft` throws `unsupported`.
extension CUDABackend {
    /// `output = conv(input, weight)` (no bias): `Y[f] = X[f] · W[f]ᴴ`.
    func fftConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        let (s, f) = try fftFrame(g)
        let k = g.outChannels, c = g.inChannels, chunk = FFTConvTiling.imagesPerChunk(g)
        let w = try workspace(floats: 2 * f * k * c)
        try fftTransform(.storage(weight), rows: k, columns: c, height: g.kernelHeight, width: g.kernelWidth,
                         top: 0, left: 0, frame: s, into: w.deviceAddress)
        let spectra = try workspace(floats: 2 * f * chunk * (c + k))
        var first = 0
        while first < g.n {
            let count = min(chunk, g.n - first)
            let x = spectra.deviceAddress, y = x + CUdeviceptr(8 * f * count * c)
            try fftTransform(.pointer(input.deviceAddress + CUdeviceptr(4 * first * c * g.inHeight * g.inWidth)),
                             rows: count, columns: c, height: g.inHeight, width: g.inWidth, top: g.padTop, left: g.padLeft,
                             frame: s, into: x)
            try complexGEMM(conjugateTransposeB: true, m: count, n: k, k: c,
                            a: x, lda: c, strideA: count * c, b: w.deviceAddress, ldb: c, strideB: k * c,
                            c: y, ldc: k, strideC: count * k, batch: f)
            try fftInverse(y, rows: count, columns: k, frame: s, top: 0, left: 0, height: g.outHeight, width: g.outWidth,
                           into: output.deviceAddress + CUdeviceptr(4 * first * k * g.outHeight * g.outWidth))
            first += count
        }
    }

    /// `gradInput = ∂L/∂input`: `dX[f] = dY[f] · W[f]`, read at the input's place in the frame.
    func fftConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        let (s, f) = try fftFrame(g)
        let k = g.outChannels, c = g.inChannels, chunk = FFTConvTiling.imagesPerChunk(g)
        let w = try workspace(floats: 2 * f * k * c)
        try fftTransform(.storage(weight), rows: k, columns: c, height: g.kernelHeight, width: g.kernelWidth,
                         top: 0, left: 0, frame: s, into: w.deviceAddress)
        let spectra = try workspace(floats: 2 * f * chunk * (c + k))
        var first = 0
        while first < g.n {
            let count = min(chunk, g.n - first)
            let dy = spectra.deviceAddress, dx = dy + CUdeviceptr(8 * f * count * k)
            try fftTransform(.pointer(gradOutput.deviceAddress + CUdeviceptr(4 * first * k * g.outHeight * g.outWidth)),
                             rows: count, columns: k, height: g.outHeight, width: g.outWidth, top: 0, left: 0,
                             frame: s, into: dy)
            try complexGEMM(m: count, n: c, k: k, a: dy, lda: k, strideA: count * k, b: w.deviceAddress, ldb: c,
                            strideB: k * c, c: dx, ldc: c, strideC: count * c, batch: f)
            try fftInverse(dx, rows: count, columns: c, frame: s, top: g.padTop, left: g.padLeft,
                           height: g.inHeight, width: g.inWidth,
                           into: gradInput.deviceAddress + CUdeviceptr(4 * first * c * g.inHeight * g.inWidth))
            first += count
        }
    }

    /// `gradWeight = ∂L/∂weight`: `dW[f] = Σ dY[f]ᴴ · X[f]` over the chunks in order (the GEMM
    /// accumulates from the second chunk on), then one inverse transform.
    func fftConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        let (s, f) = try fftFrame(g)
        let k = g.outChannels, c = g.inChannels, chunk = FFTConvTiling.imagesPerChunk(g)
        let dw = try workspace(floats: 2 * f * k * c)
        let spectra = try workspace(floats: 2 * f * chunk * (c + k))
        var first = 0
        while first < g.n {
            let count = min(chunk, g.n - first)
            let x = spectra.deviceAddress, dy = x + CUdeviceptr(8 * f * count * c)
            try fftTransform(.pointer(input.deviceAddress + CUdeviceptr(4 * first * c * g.inHeight * g.inWidth)),
                             rows: count, columns: c, height: g.inHeight, width: g.inWidth, top: g.padTop, left: g.padLeft,
                             frame: s, into: x)
            try fftTransform(.pointer(gradOutput.deviceAddress + CUdeviceptr(4 * first * k * g.outHeight * g.outWidth)),
                             rows: count, columns: k, height: g.outHeight, width: g.outWidth, top: 0, left: 0,
                             frame: s, into: dy)
            try complexGEMM(conjugateTransposeA: true, m: k, n: c, k: count, a: dy, lda: k, strideA: count * k,
                            b: x, ldb: c, strideB: count * c, accumulate: first > 0,
                            c: dw.deviceAddress, ldc: c, strideC: k * c, batch: f)
            first += count
        }
        try fftInverse(dw.deviceAddress, rows: k, columns: c, frame: s, top: 0, left: 0,
                       height: g.kernelHeight, width: g.kernelWidth, into: gradWeight.deviceAddress)
    }

    /// Whether `.fft` can run `g` on this backend: `FFTConvTiling.supports(g)`, at most
    /// `fftMostRows` output channels and images per chunk, and cuBLAS's complex GEMM loaded.
    func fftRuns(_ g: Conv2dGeometry) -> Bool {
        FFTConvTiling.supports(g) && g.outChannels <= Self.fftMostRows && FFTConvTiling.imagesPerChunk(g) <= Self.fftMostRows
            && blas?.library.gemmStridedBatchedEx != nil
    }

    /// The frame size and frequencies of `g`; throws `unsupported` when `.fft` cannot run it here.
    private func fftFrame(_ g: Conv2dGeometry) throws -> (size: Int, frequencies: Int) {
        guard FFTConvTiling.supports(g), g.outChannels <= Self.fftMostRows,
              FFTConvTiling.imagesPerChunk(g) <= Self.fftMostRows, let s = FFTConvTiling.frameSize(g) else {
            throw ConvKitError.unsupported(op: "conv2d", message: FFTConvTiling.unsupportedReason(g)
                                           + (FFTConvTiling.supports(g) ? " (and at most \(Self.fftMostRows) output channels)" : ""))
        }
        guard blas?.library.gemmStridedBatchedEx != nil else {
            throw ConvKitError.unsupported(op: "conv2d", message:
                "algorithm fft needs cuBLAS's cublasGemmStridedBatchedEx on CUDA: \(blasDescription)")
        }
        return (s, FFTConvTiling.frequencies(frame: s))
    }

    /// Most rows (images of a chunk, or output channels) of one transform launch: its grid's y.
    static let fftMostRows = 65_535

    /// `ck_fft_forward_s{S}`: the spectra (`[f][row][column]`) of `rows × columns` planes at
    /// `planes`, each placed at (`top`, `left`) of the frame.
    private func fftTransform(_ planes: KernelArgument, rows: Int, columns: Int, height: Int, width: Int,
                              top: Int, left: Int, frame s: Int, into spectrum: CUdeviceptr) throws {
        try launch(.fft, "ck_fft_forward_s\(s)", fftLaunchShape(rows: rows, columns: columns, frame: s),
                   [planes, .pointer(spectrum), .intArray([rows, columns, height, width, top, left], count: 6)])
    }

    /// `ck_fft_inverse_s{S}`: the `height × width` window at (`top`, `left`) of each plane's
    /// inverse transform (divided by S²), written to `rows × columns` planes at `planes`.
    private func fftInverse(_ spectrum: CUdeviceptr, rows: Int, columns: Int, frame s: Int, top: Int, left: Int,
                            height: Int, width: Int, into planes: CUdeviceptr) throws {
        try launch(.fft, "ck_fft_inverse_s\(s)", fftLaunchShape(rows: rows, columns: columns, frame: s),
                   [.pointer(spectrum), .pointer(planes), .intArray([rows, columns, height, width, top, left], count: 6)])
    }

    /// A block of 256 threads per 16 planes of a row (`CK_FFT_GROUP`, `CK_FFT_THREADS`), with the
    /// dynamic shared memory of `CkFFT<S>::SHARED_BYTES`: 8 warps' scratch of 2·(S/2 + 1)·(S + 1)
    /// floats, then a stage of S·(S/2 + 1) × 17 complex numbers.
    private func fftLaunchShape(rows: Int, columns: Int, frame s: Int) -> LaunchShape {
        let q = s / 2 + 1
        let shared = 8 * 2 * q * (s + 1) * 4 + s * q * 17 * 8
        return LaunchShape(grid: ((columns + 15) / 16, rows, 1), block: (256, 1, 1), sharedBytes: shared)
    }

    /// Row-major strided-batched complex GEMM on interleaved `CUDA_C_32F` matrices (addresses,
    /// leading dimensions and strides in complex numbers): for `p` in `0..<batch`,
    /// `C[p] (+)= op(A[p]) · op(B[p])` with `C[p]` `m×n`, `op(A)` `m×k` (A stored `k×m` and
    /// conjugated when `conjugateTransposeA`), `op(B)` `k×n` (likewise). As `sgemm`, the row-major
    /// product is the column-major one of the transposes, with the operands swapped; a
    /// conjugate transpose keeps its flag. Strict fp32 unless `allowTF32` is set.
    private func complexGEMM(conjugateTransposeA: Bool = false, conjugateTransposeB: Bool = false,
                             m: Int, n: Int, k: Int, a: CUdeviceptr, lda: Int, strideA: Int,
                             b: CUdeviceptr, ldb: Int, strideB: Int, accumulate: Bool = false,
                             c: CUdeviceptr, ldc: Int, strideC: Int, batch: Int) throws {
        guard m > 0, n > 0, batch > 0, let blas, let gemm = blas.library.gemmStridedBatchedEx else {
            if m > 0 && n > 0 && batch > 0 { throw ConvKitError.unsupported(op: "conv2d", message: "algorithm fft needs cuBLAS") }
            return
        }
        try makeCurrent()
        var alpha: (Float, Float) = (1, 0), beta: (Float, Float) = (accumulate ? 1 : 0, 0)
        let type = CUBLAS.complexFloat
        let status = withUnsafeBytes(of: &alpha) { alphaBytes in
            withUnsafeBytes(of: &beta) { betaBytes in
                gemm(blas.handle, conjugateTransposeB ? CUBLAS.conjugateTranspose : CUBLAS.noTranspose,
                     conjugateTransposeA ? CUBLAS.conjugateTranspose : CUBLAS.noTranspose,
                     Int32(n), Int32(m), Int32(k), alphaBytes.baseAddress!,
                     b, type, Int32(ldb), Int64(strideB), a, type, Int32(lda), Int64(strideA),
                     betaBytes.baseAddress!, c, type, Int32(ldc), Int64(strideC), Int32(batch),
                     allowTF32 ? CUBLAS.computeTF32 : CUBLAS.computeFloat, CUBLAS.defaultAlgorithm)
            }
        }
        try blas.library.check(status, "cublasGemmStridedBatchedEx (complex, m \(m), n \(n), k \(k), batch \(batch))")
        if synchronousLaunches { try synchronize("cublasGemmStridedBatchedEx") }
    }
}
