/// Convolution through the discrete Fourier transform on the GPU (the algorithm and its layouts:
/// `FFTConvTiling`): the transforms are the kernels of FFT.cu, the products one strided-batched
/// complex GEMM per chunk of images over the frequencies (cuBLAS `cublasGemmStridedBatchedEx`,
/// `CUDA_C_32F`, strict fp32 or TF32 as `allowTF32` says). Without cuBLAS (or without that
/// function) `.fft` throws `unsupported`.
extension CUDABackend {
    /// `output = conv(input, weight) + bias`: `Y[f] = X[f] · W[f]ᴴ` per frame, the output
    /// channels in groups of `FFTConvTiling.outputChannelsPerGroup` (one filter spectrum each); the
    /// inverse transform adds the bias (when there is one) as it writes the output.
    func fftConvForward(input: Storage, weight: Storage, bias: Storage?, output: Storage, geometry g: Conv2dGeometry) throws {
        let (tiles, f) = try fftFrames(g, FFTConvTiling.outputTiles)
        let k = g.outChannels, c = g.inChannels, chunk = FFTConvTiling.imagesPerChunk(g)
        let group = FFTConvTiling.outputChannelsPerGroup(g)
        let w = try workspace(floats: 2 * f * group * c)
        let spectra = try workspace(floats: 2 * f * chunk * tiles.count * (c + k))
        var first = 0
        while first < g.n {
            let count = min(chunk, g.n - first), rows = count * tiles.count
            let x = spectra.deviceAddress, y = x + CUdeviceptr(8 * f * rows * c)
            try fftTransform(.pointer(input.deviceAddress + CUdeviceptr(4 * first * c * g.inHeight * g.inWidth)),
                             images: count, columns: c, height: g.inHeight, width: g.inWidth, top: g.padTop, left: g.padLeft,
                             tiles: tiles, into: x)
            for k0 in stride(from: 0, to: k, by: group) {
                let kg = min(group, k - k0)
                if first == 0 || group < k { try fftFilterSpectrum(weight, g, outputChannels: k0..<(k0 + kg), frame: tiles.frame, into: w) }
                try complexGEMM(conjugateTransposeB: true, m: rows, n: kg, k: c,
                                a: x, lda: c, strideA: rows * c, b: w.deviceAddress, ldb: c, strideB: kg * c,
                                c: y + CUdeviceptr(8 * k0), ldc: k, strideC: rows * k, batch: f)
            }
            try fftInverse(y, images: count, columns: k, top: 0, left: 0, height: g.outHeight, width: g.outWidth,
                           tiles: tiles, bias: bias, into: output.deviceAddress + CUdeviceptr(4 * first * k * g.outHeight * g.outWidth))
            first += count
        }
    }

    /// `gradInput = ∂L/∂input`: `dX[f] = dY[f] · W[f]` per frame of the input (dY placed
    /// `kernelHeight − 1 − padTop` rows down, the results read from row `kernelHeight − 1`), summed
    /// over the groups of output channels.
    func fftConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        let (tiles, f) = try fftFrames(g, FFTConvTiling.inputTiles)
        let k = g.outChannels, c = g.inChannels, chunk = FFTConvTiling.imagesPerChunk(g)
        let group = FFTConvTiling.outputChannelsPerGroup(g)
        let reach = g.kernelHeight - 1, reachW = g.kernelWidth - 1
        let w = try workspace(floats: 2 * f * group * c)
        let spectra = try workspace(floats: 2 * f * chunk * tiles.count * (c + k))
        var first = 0
        while first < g.n {
            let count = min(chunk, g.n - first), rows = count * tiles.count
            let dy = spectra.deviceAddress, dx = dy + CUdeviceptr(8 * f * rows * k)
            try fftTransform(.pointer(gradOutput.deviceAddress + CUdeviceptr(4 * first * k * g.outHeight * g.outWidth)),
                             images: count, columns: k, height: g.outHeight, width: g.outWidth,
                             top: reach - g.padTop, left: reachW - g.padLeft, tiles: tiles, into: dy)
            for k0 in stride(from: 0, to: k, by: group) {
                let kg = min(group, k - k0)
                if first == 0 || group < k { try fftFilterSpectrum(weight, g, outputChannels: k0..<(k0 + kg), frame: tiles.frame, into: w) }
                try complexGEMM(m: rows, n: c, k: kg, a: dy + CUdeviceptr(8 * k0), lda: k, strideA: rows * k,
                                b: w.deviceAddress, ldb: c, strideB: kg * c, accumulate: k0 > 0,
                                c: dx, ldc: c, strideC: rows * c, batch: f)
            }
            try fftInverse(dx, images: count, columns: c, top: reach, left: reachW, height: g.inHeight, width: g.inWidth,
                           tiles: tiles, into: gradInput.deviceAddress + CUdeviceptr(4 * first * c * g.inHeight * g.inWidth))
            first += count
        }
    }

    /// `gradWeight = ∂L/∂weight`: `dW[f] = Σ dY[f]ᴴ · X[f]` over every frame of the chunks in
    /// order (the GEMM accumulates from the second chunk on), then the inverse transform; with one
    /// chunk, group by group of output channels.
    func fftConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        let (tiles, f) = try fftFrames(g, FFTConvTiling.outputTiles)
        let k = g.outChannels, c = g.inChannels, chunk = FFTConvTiling.imagesPerChunk(g)
        let group = FFTConvTiling.outputChannelsPerGroup(g), oneChunk = chunk >= g.n
        let dw = try workspace(floats: 2 * f * group * c)
        let spectra = try workspace(floats: 2 * f * chunk * tiles.count * (c + k))
        var first = 0
        while first < g.n {
            let count = min(chunk, g.n - first), rows = count * tiles.count
            let x = spectra.deviceAddress, dy = x + CUdeviceptr(8 * f * rows * c)
            try fftTransform(.pointer(input.deviceAddress + CUdeviceptr(4 * first * c * g.inHeight * g.inWidth)),
                             images: count, columns: c, height: g.inHeight, width: g.inWidth, top: g.padTop, left: g.padLeft,
                             tiles: tiles, into: x)
            try fftTransform(.pointer(gradOutput.deviceAddress + CUdeviceptr(4 * first * k * g.outHeight * g.outWidth)),
                             images: count, columns: k, height: g.outHeight, width: g.outWidth, top: 0, left: 0,
                             tiles: tiles, clipToStep: true, into: dy)
            // One chunk: groups of output channels (`outputChannelsPerGroup`); several: one group.
            for k0 in stride(from: 0, to: k, by: group) {
                let kg = min(group, k - k0)
                try complexGEMM(conjugateTransposeA: true, m: kg, n: c, k: rows, a: dy + CUdeviceptr(8 * k0), lda: k,
                                strideA: rows * k, b: x, ldb: c, strideB: rows * c, accumulate: first > 0,
                                c: dw.deviceAddress, ldc: c, strideC: kg * c, batch: f)
                if oneChunk {
                    try fftInverse(dw.deviceAddress, images: kg, columns: c, top: 0, left: 0, height: g.kernelHeight,
                                   width: g.kernelWidth, tiles: .single(frame: tiles.frame),
                                   into: gradWeight.deviceAddress + CUdeviceptr(4 * k0 * c * g.kernelHeight * g.kernelWidth))
                }
            }
            first += count
        }
        if !oneChunk {
            try fftInverse(dw.deviceAddress, images: k, columns: c, top: 0, left: 0, height: g.kernelHeight, width: g.kernelWidth,
                           tiles: .single(frame: tiles.frame), into: gradWeight.deviceAddress)
        }
    }

    /// The spectrum `[f][k − k0][c]` of the filters of output channels `outputChannels` (one frame
    /// each, at the origin) into `w`.
    private func fftFilterSpectrum(_ weight: Storage, _ g: Conv2dGeometry, outputChannels: Range<Int>, frame s: Int,
                                   into w: Storage) throws {
        let taps = g.inChannels * g.kernelHeight * g.kernelWidth
        try fftTransform(.pointer(weight.deviceAddress + CUdeviceptr(4 * outputChannels.lowerBound * taps)),
                         images: outputChannels.count, columns: g.inChannels, height: g.kernelHeight,
                         width: g.kernelWidth, top: 0, left: 0, tiles: .single(frame: s), into: w.deviceAddress)
    }

    /// Whether `.fft` can run `g` on this backend (`fftUnsupportedReason` is nil).
    func fftRuns(_ g: Conv2dGeometry) -> Bool { fftUnsupportedReason(g) == nil }

    /// Why `.fft` cannot run `g` on this backend, or nil: it needs `FFTConvTiling.supports(g)`, at
    /// most `fftMostRows` output channels and frames per chunk, and cuBLAS's complex GEMM loaded.
    private func fftUnsupportedReason(_ g: Conv2dGeometry) -> String? {
        guard FFTConvTiling.supports(g) else { return FFTConvTiling.unsupportedReason(g) }
        guard g.outChannels <= Self.fftMostRows,
              FFTConvTiling.imagesPerChunk(g) * FFTConvTiling.framesPerPlane(g) <= Self.fftMostRows else {
            return "algorithm fft takes at most \(Self.fftMostRows) output channels and frames per chunk of images"
        }
        guard blas?.library.gemmStridedBatchedEx != nil else {
            return "algorithm fft needs cuBLAS's cublasGemmStridedBatchedEx on CUDA: \(blasDescription)"
        }
        return nil
    }

    /// A pass's frames and the frequencies per frame of `g`; throws `unsupported` when `.fft`
    /// cannot run it here.
    private func fftFrames(_ g: Conv2dGeometry, _ tiles: (Conv2dGeometry) -> FFTConvTiling.Tiles) throws
        -> (tiles: FFTConvTiling.Tiles, frequencies: Int) {
        if let reason = fftUnsupportedReason(g) { throw ConvKitError.unsupported(op: "conv2d", message: reason) }
        let t = tiles(g)
        return (t, FFTConvTiling.frequencies(frame: t.frame))
    }

    /// Most rows (output channels, or frames of a chunk of images) of one transform launch: its grid's y.
    static let fftMostRows = 65_535

    /// `ck_fft_forward_s{S}`: the spectra (`[f][row][column]`) of `images × columns` planes at
    /// `planes` in their frames (`FFTConv.transform` on the CPU says how).
    private func fftTransform(_ planes: KernelArgument, images: Int, columns: Int, height: Int, width: Int,
                              top: Int, left: Int, tiles: FFTConvTiling.Tiles, clipToStep: Bool = false,
                              into spectrum: CUdeviceptr) throws {
        let s = tiles.frame
        try launch(.fft, "ck_fft_forward_s\(s)", fftLaunchShape(rows: images * tiles.count, columns: columns, frame: s),
                   [planes, .pointer(spectrum),
                    fftPlanes(images: images, columns: columns, height: height, width: width, top: top, left: left,
                              limitH: clipToStep ? tiles.stepH : s, limitW: clipToStep ? tiles.stepW : s, tiles: tiles)])
    }

    /// `ck_fft_inverse_s{S}`: each frame's inverse transform (divided by S²), its `stepH × stepW`
    /// results from (`top`, `left`) written to `images × columns` planes of `height × width`, plus
    /// `bias[column]` when a bias is given.
    private func fftInverse(_ spectrum: CUdeviceptr, images: Int, columns: Int, top: Int, left: Int,
                            height: Int, width: Int, tiles: FFTConvTiling.Tiles, bias: Storage? = nil,
                            into planes: CUdeviceptr) throws {
        let s = tiles.frame
        try launch(.fft, "ck_fft_inverse_s\(s)", fftLaunchShape(rows: images * tiles.count, columns: columns, frame: s),
                   [.pointer(spectrum), .pointer(planes), .optional(bias),
                    fftPlanes(images: images, columns: columns, height: height, width: width, top: top, left: left,
                              limitH: s, limitW: s, tiles: tiles)])
    }

    /// The `CkFFTPlanes` struct of FFT.cu.
    private func fftPlanes(images: Int, columns: Int, height: Int, width: Int, top: Int, left: Int,
                           limitH: Int, limitW: Int, tiles: FFTConvTiling.Tiles) -> KernelArgument {
        .intArray([images * tiles.count, columns, height, width, top, left, limitH, limitW, tiles.count, tiles.across,
                   tiles.stepH, tiles.stepW], count: 12)
    }

    /// A block of 256 threads per 16 planes of a row (`CK_FFT_GROUP`, `CK_FFT_THREADS`), with the
    /// dynamic shared memory of `CkFFT<S>::SHARED_BYTES`: a scratch of 2·(S/2 + 1)·(S + 1) floats
    /// for each of the 8 warps' 32 / S planes, then a stage of S·(S/2 + 1) × 17 complex numbers.
    private func fftLaunchShape(rows: Int, columns: Int, frame s: Int) -> LaunchShape {
        let q = s / 2 + 1
        let shared = 8 * (32 / s) * 2 * q * (s + 1) * 4 + s * q * 17 * 8
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
