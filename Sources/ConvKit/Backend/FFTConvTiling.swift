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
/// origin. A frame wraps around (the transform is periodic): of its S rows, the `S − r + 1`
/// (`step`, r the kernel height) after the first `r − 1` are exact, the others mix in wrapped
/// terms. So each pass covers its result planes with frames of `step × stepW` results:
///
///     forward          frame (a, b) holds the padded input from row a·step (input row
///                      a·step − padTop at frame row 0), output rows a·step + [0, step) are its
///                      rows [0, step)
///     input gradient   frame (a, b) holds dY from row a·step + padTop − (r − 1), input rows
///                      a·step + [0, step) are its rows r − 1 + [0, step)
///     weight gradient  frame (a, b) holds the padded input as the forward pass, and dY's rows
///                      a·step + [0, step) (zero below), summed over every frame of every image
///
/// One frame per plane (`tiles` 1) when the output and the input both have at most `step` rows
/// and columns (AlexNet conv2: 27 ≤ 32 − 4), several frames of 32 otherwise (overlap-save:
/// 56 × 56 with 3 × 3 in 2 × 2 frames of 30 × 30 results). The spectra's rows are then
/// (image, frame) pairs and the products' depth in the weight gradient runs over both.
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
    /// Largest kernel side: a frame of 32 then still gives 17 results per frame.
    static let largestKernel = 16

    /// How a pass covers its result planes with frames (see the type's comment).
    struct Tiles: Equatable {
        /// The frame size S.
        let frame: Int
        /// Result rows and columns per frame: S − kernel + 1.
        let stepH: Int, stepW: Int
        /// Frames per plane, down and across.
        let down: Int, across: Int
        /// Frames per plane.
        var count: Int { down * across }

        /// One frame of size `frame` holding a whole plane (the filters and their gradient).
        static func single(frame: Int) -> Tiles {
            Tiles(frame: frame, kernelHeight: 1, kernelWidth: 1, height: frame, width: frame)
        }

        /// The frames of planes of `height × width` results.
        init(frame: Int, kernelHeight: Int, kernelWidth: Int, height: Int, width: Int) {
            self.frame = frame
            stepH = frame - kernelHeight + 1
            stepW = frame - kernelWidth + 1
            down = (height + stepH - 1) / stepH
            across = (width + stepW - 1) / stepW
        }
    }

    /// The frame size of `g`: the smallest with one frame per plane in every pass, otherwise 32
    /// (several frames per plane); `nil` for a kernel larger than `largestKernel`.
    static func frameSize(_ g: Conv2dGeometry) -> Int? {
        guard max(g.kernelHeight, g.kernelWidth) <= largestKernel else { return nil }
        let rows = max(g.outHeight, g.inHeight) + g.kernelHeight - 1
        let columns = max(g.outWidth, g.inWidth) + g.kernelWidth - 1
        return frameSizes.first { $0 >= rows && $0 >= columns } ?? 32
    }

    /// The frames of the forward pass and the weight gradient (over the output planes).
    static func outputTiles(_ g: Conv2dGeometry) -> Tiles {
        Tiles(frame: frameSize(g) ?? 32, kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth,
              height: g.outHeight, width: g.outWidth)
    }

    /// The frames of the input gradient (over the input planes).
    static func inputTiles(_ g: Conv2dGeometry) -> Tiles {
        Tiles(frame: frameSize(g) ?? 32, kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth,
              height: g.inHeight, width: g.inWidth)
    }

    /// Frames per plane of the pass that needs the most (the spectra of a chunk are sized for it).
    static func framesPerPlane(_ g: Conv2dGeometry) -> Int { max(outputTiles(g).count, inputTiles(g).count) }

    /// Frequencies kept per plane for frame size `s`: S·(S/2 + 1).
    static func frequencies(frame s: Int) -> Int { s * (s / 2 + 1) }

    /// Whether the FFT convolution can compute `g`: stride 1, dilation 1, one group, padding of
    /// zero or more on every side, kernels of at most `largestKernel` a side, a non-empty
    /// output, and every matrix within 32-bit GEMM dimensions.
    static func supports(_ g: Conv2dGeometry) -> Bool {
        guard g.strideH == 1, g.strideW == 1, g.dilationH == 1, g.dilationW == 1, g.groups == 1,
              min(g.padTop, g.padBottom, g.padLeft, g.padRight) >= 0,
              g.inChannels > 0, g.outChannels > 0, g.outHeight > 0, g.outWidth > 0, g.inHeight > 0, g.inWidth > 0,
              let s = frameSize(g) else { return false }
        let limit = Int(Int32.max) / 2, tiles = framesPerPlane(g)
        return g.outChannels * g.inChannels * frequencies(frame: s) < limit
            && (g.inChannels + g.outChannels) * frequencies(frame: s) * tiles < limit
    }

    /// Why `.fft` cannot run `g`, for the error a user sees.
    static func unsupportedReason(_ g: Conv2dGeometry) -> String {
        "algorithm fft computes stride-1 convolutions with dilation 1, groups 1, non-negative padding and kernels of "
            + "at most \(largestKernel) × \(largestKernel), got kernel \(g.kernelHeight)×\(g.kernelWidth), "
            + "padding (\(g.padTop), \(g.padBottom), \(g.padLeft), \(g.padRight)), stride (\(g.strideH), \(g.strideW)), "
            + "dilation (\(g.dilationH), \(g.dilationW)), groups \(g.groups)"
    }

    /// Most floats the image spectra of one chunk (X and Y, or X and dY) may use: 32 Mi floats =
    /// 128 MiB, Winograd's budget (AlexNet conv2's batch of 128 in two chunks of 64, its 13 × 13
    /// layers in one). The filter spectrum (`2·K·C·F` floats) comes on top. The tests and device
    /// checks lower it to exercise chunking.
    nonisolated(unsafe) static var workspaceBudget = 32 << 20

    /// Most floats of the filter spectrum (or of the filter gradient's) at once when a batch is
    /// one chunk: 8 Mi floats = 32 MiB. Beyond it the output channels go in groups, one filter
    /// spectrum per group (AlexNet conv4, 384 → 256 at 13 × 13: 113 MB whole, 4 groups of 64
    /// output channels of 28 MB), so that the FFT's workspace stays within Winograd's. The device
    /// checks lower it to exercise the groups.
    nonisolated(unsafe) static var filterBudget = 8 << 20

    /// Output channels per group of the filter spectrum (see `filterBudget`): all of them when
    /// the batch takes more than one chunk (a group per chunk would transform the filters again),
    /// otherwise as even groups as the budget allows.
    static func outputChannelsPerGroup(_ g: Conv2dGeometry) -> Int {
        guard let s = frameSize(g), imagesPerChunk(g) >= g.n else { return g.outChannels }
        let perChannel = 2 * frequencies(frame: s) * g.inChannels
        let most = max(1, min(g.outChannels, filterBudget / max(perChannel, 1)))
        let groups = (g.outChannels + most - 1) / most
        return (g.outChannels + groups - 1) / groups
    }

    /// Images one chunk transforms at once, at least one; the chunks of a batch are as even as
    /// the budget allows (128 images with room for 100: two chunks of 64, not 100 and 28).
    static func imagesPerChunk(_ g: Conv2dGeometry) -> Int {
        guard let s = frameSize(g) else { return 1 }
        let tiles = framesPerPlane(g)
        let perImage = 2 * frequencies(frame: s) * (g.inChannels + g.outChannels) * tiles
        let most = max(1, min(g.n, workspaceBudget / max(perImage, 1)))
        let chunks = (g.n + most - 1) / most
        return (g.n + chunks - 1) / chunks
    }
}
