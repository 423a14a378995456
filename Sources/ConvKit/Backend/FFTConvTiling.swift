/// Convolution through the discrete Fourier transform for small planes (S × S frames, S = 8, 16
/// or 32): the sizes, conventions and workspace both backends share (`CPU/Conv/FFTConv.swift`,
/// `CUDA/Kernels/FFT.cu`).
///
/// Every plane (an image channel, a filter, an output-gradient channel) is placed in an S × S
/// frame of zeros and transformed, `X[p][q] = Σ_{u,v} x[u][v] · e^{−2πi(pu + qv)/S}`, keeping
/// the S·(S/2 + 1) frequencies `f = p·(S/2 + 1) + q` with q ≤ S/2 (a real plane's spectrum is
/// Hermitian; the rest are conjugates). A stride-1 convolution (PyTorch's cross-correlation) is
/// then a product per frequency, summed over channels, the same matrix product for every f:
///
///     forward          Y[f] (N × K) = X[f] (N × C) · W[f]ᴴ (C × K)
///     input gradient  dX[f] (N × C) = dY[f] (N × K) · W[f] (K × C)
///     weight gradient dW[f] (K × C) = dY[f]ᴴ (K × N) · X[f] (N × C)
///
/// for N images, C input and K output channels (ᴴ: conjugate transpose), and the inverse
/// transform of the result, divided by S², gives the planes: the output at the frame's origin,
/// the input gradient at the input's place (the padding offset), the filter gradient at the
/// origin. A frame wraps around (the transform is periodic), so it must hold the padded input's
/// rows and columns that reach an output: `supports` asks for `padTop + inHeight ≤ S` and
/// `outHeight + kernelHeight − 1 ≤ S` (the same across), which keeps every wrapped term zero.
///
/// Spectra are stored `[f][row][column]` as interleaved complex numbers (real, imaginary), row =
/// image (or output channel, for filters), column = channel; so each frequency's matrix is a
/// row-major complex matrix and the products are one strided-batched complex GEMM over f.
///
/// Multiplications: a 27 × 27 plane with a 5 × 5 filter (AlexNet conv2, S = 32) takes 544 complex
/// products per channel pair, 4 real multiply-adds each: 2176 against 729 · 25 = 18 225 direct
/// (8.4× fewer), where Winograd F(2×2, 5×5) needs 196 tiles · 36 = 7056. The transforms' error is
/// about log₂(S²) roundings of the plane's magnitude, so the results stay within fp32's tolerance.
enum FFTConvTiling {
    /// Frame sizes, smallest first.
    static let frameSizes = [8, 16, 32]

    /// The smallest frame that holds `g` (see the type's comment), or `nil` when none does.
    static func frameSize(_ g: Conv2dGeometry) -> Int? {
        let rows = max(g.padTop + g.inHeight, g.outHeight + g.kernelHeight - 1)
        let columns = max(g.padLeft + g.inWidth, g.outWidth + g.kernelWidth - 1)
        return frameSizes.first { $0 >= rows && $0 >= columns }
    }

    /// Frequencies kept per plane for frame size `s`: S·(S/2 + 1).
    static func frequencies(frame s: Int) -> Int { s * (s / 2 + 1) }

    /// Whether the FFT convolution can compute `g`: stride 1, dilation 1, one group, padding of
    /// zero or more on every side, a frame of at most 32 × 32, a non-empty output, and every
    /// matrix within 32-bit GEMM dimensions.
    static func supports(_ g: Conv2dGeometry) -> Bool {
        guard g.strideH == 1, g.strideW == 1, g.dilationH == 1, g.dilationW == 1, g.groups == 1,
              min(g.padTop, g.padBottom, g.padLeft, g.padRight) >= 0,
              g.inChannels > 0, g.outChannels > 0, g.outHeight > 0, g.outWidth > 0,
              let s = frameSize(g) else { return false }
        let limit = Int(Int32.max) / 2
        return g.outChannels * g.inChannels * frequencies(frame: s) < limit
            && (g.inChannels + g.outChannels) * frequencies(frame: s) < limit
    }

    /// Why `.fft` cannot run `g`, for the error a user sees.
    static func unsupportedReason(_ g: Conv2dGeometry) -> String {
        "algorithm fft computes stride-1 convolutions with dilation 1, groups 1 and non-negative padding whose padded "
            + "plane fits 32 × 32, got a \(g.inHeight)×\(g.inWidth) input, kernel \(g.kernelHeight)×\(g.kernelWidth), "
            + "padding (\(g.padTop), \(g.padBottom), \(g.padLeft), \(g.padRight)), stride (\(g.strideH), \(g.strideW)), "
            + "dilation (\(g.dilationH), \(g.dilationW)), groups \(g.groups)"
    }

    /// Most floats the image spectra of one chunk (X and Y, or X and dY) may use: 32 Mi floats =
    /// 128 MiB, Winograd's budget (AlexNet conv2's batch of 128 in two chunks of 64, its 13 × 13
    /// layers in one). The filter spectrum (`2·K·C·F` floats) comes on top. The tests and device
    /// checks lower it to exercise chunking.
    nonisolated(unsafe) static var workspaceBudget = 32 << 20

    /// Images one chunk transforms at once, at least one; the chunks of a batch are as even as
    /// the budget allows (128 images with room for 100: two chunks of 64, not 100 and 28).
    static func imagesPerChunk(_ g: Conv2dGeometry) -> Int {
        guard let s = frameSize(g) else { return 1 }
        let perImage = 2 * frequencies(frame: s) * (g.inChannels + g.outChannels)
        let most = max(1, min(g.n, workspaceBudget / max(perImage, 1)))
        let chunks = (g.n + most - 1) / most
        return (g.n + chunks - 1) / chunks
    }
}
