/// Winograd convolution F(2×2, r×r) for r = 3 and r = 5 (Lavin & Gray, "Fast Algorithms for
/// Convolutional Neural Networks", 2015): the sizes, matrices and workspace both backends share
/// (`CPU/Conv/WinogradConv.swift`, `CUDA/Kernels/Winograd.cu`).
///
/// Each 2×2 block of outputs (a tile) of an image plane comes from the α×α block of inputs
/// under it, d, with α = r + 1: with `V = Bᵀ d B`, `U = G g Gᵀ` for an r×r filter g, and M the
/// elementwise product `U ⊙ V` summed over the input channels, the outputs are `Aᵀ M A`. The
/// sum over channels for every tile at once is α² GEMMs, one per position ξ of the α×α
/// transformed tile:
///
///     M[ξ] (K × T) = U[ξ] (K × C) · V[ξ] (C × T)
///
/// for K output channels, C input channels and T tiles: α²/4 multiplications per output and
/// input channel where the other algorithms need r² (3×3: 4 against 9; 5×5: 9 against 25), plus
/// the transforms, which only scale and add.
/// - input gradient: the forward pass of `Conv2dGeometry.inputGradientAsForward` with the
///   filters flipped and transposed;
/// - weight gradient: `dU[ξ] (K × C) = Σ_T Ŷ[ξ] · V[ξ]ᵀ` with `Ŷ = A dY Aᵀ` per output tile,
///   then `dW = Gᵀ dU G`.
///
/// Matrices are stored `[ξ][row][column]`, row-major. Tiles run over a chunk of images, image
/// by image, then tile row, then tile column; a tile beyond the output (odd sizes) reads zero
/// padding and writes nothing. Padding of any size, negative included, is a bounds test on the
/// input tile.
///
/// F(2×2, 3×3) uses the points 0, 1, −1 (and ∞):
///
///     Bᵀ = [1  0 −1  0]    G = [ 1    0    0 ]    Aᵀ = [1  1  1  0]
///          [0  1  1  0]        [1/2  1/2  1/2]         [0  1 −1 −1]
///          [0 −1  1  0]        [1/2 −1/2  1/2]
///          [0  1  0 −1]        [ 0    0    1 ]
///
/// F(2×2, 5×5) uses 0, 1, −1, 2, −1/2 (and ∞), the set whose rounding errors were smallest in a
/// Float32 simulation (`scripts/winograd_points.py`: about 2·10⁻⁶ largest relative error at 384
/// channels; 0, ±1, ±2 gave 4·10⁻⁶); its matrices are `matrices(kernel: 5)`.
enum WinogradTiling {
    /// The matrices of F(2, r), row-major: Bᵀ (α × α), G (α × r), Aᵀ (2 × α).
    struct Matrices {
        /// The filter size r.
        let kernel: Int
        /// The input tile size α = r + 1.
        var alpha: Int { kernel + 1 }
        let bt: [Float], g: [Float], at: [Float]
    }

    /// F(2, 3) and F(2, 5) (see the type's comment).
    static func matrices(kernel: Int) -> Matrices {
        if kernel == 3 {
            return Matrices(kernel: 3,
                            bt: [1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1],
                            g: [1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1],
                            at: [1, 1, 1, 0, 0, 1, -1, -1])
        }
        precondition(kernel == 5, "Winograd F(2, r) is defined here for r = 3 and 5, not \(kernel)")
        let third: Float = 1.0 / 3, fifteenth: Float = 1.0 / 15
        return Matrices(kernel: 5,
                        bt: [1, 1.5, -2, -1.5, 1, 0,
                             0, -1, -2.5, -0.5, 1, 0,
                             0, 1, 0.5, -2.5, 1, 0,
                             0, -0.5, -1, 0.5, 1, 0,
                             0, 2, -1, -2, 1, 0,
                             0, 1, 1.5, -2, -1.5, 1],
                        g: [1, 0, 0, 0, 0,
                            -third, -third, -third, -third, -third,
                            third, -third, third, -third, third,
                            fifteenth, 2 * fifteenth, 4 * fifteenth, 8 * fifteenth, 16 * fifteenth,
                            -16 * fifteenth, 8 * fifteenth, -4 * fifteenth, 2 * fifteenth, -fifteenth,
                            0, 0, 0, 0, 1],
                        at: [1, 1, 1, 1, 1, 0,
                             0, 1, -1, 2, -0.5, 1])
    }

    /// Most floats of V and M (or Ŷ) one chunk of images may use: 32 Mi floats = 128 MiB.
    /// The tests and device checks lower it to exercise chunking.
    nonisolated(unsafe) static var workspaceBudget = 32 << 20

    /// Positions of a transformed tile, α²: the number of GEMMs of `g`.
    static func positions(_ g: Conv2dGeometry) -> Int { (g.kernelHeight + 1) * (g.kernelHeight + 1) }

    /// Whether Winograd can compute `g`: a 3×3 or 5×5 kernel, stride 1, no dilation, one group,
    /// a non-empty output, and every size within 32-bit GEMM dimensions.
    static func supports(_ g: Conv2dGeometry) -> Bool {
        guard g.kernelHeight == g.kernelWidth, g.kernelHeight == 3 || g.kernelHeight == 5 else { return false }
        let limit = Int(Int32.max) / positions(g)
        return g.strideH == 1 && g.strideW == 1 && g.dilationH == 1 && g.dilationW == 1 && g.groups == 1
            && g.inChannels > 0 && g.outChannels > 0 && g.outHeight > 0 && g.outWidth > 0
            && (g.inChannels + g.outChannels) * tilesPerImage(g) < limit
            && g.inChannels * g.outChannels < limit
    }

    /// Why `.winograd` cannot run `g`, for the error a user sees.
    static func unsupportedReason(_ g: Conv2dGeometry) -> String {
        "algorithm winograd computes 3×3 and 5×5 convolutions with stride 1, dilation 1 and groups 1, got kernel "
            + "\(g.kernelHeight)×\(g.kernelWidth), stride (\(g.strideH), \(g.strideW)), dilation "
            + "(\(g.dilationH), \(g.dilationW)), groups \(g.groups)"
    }

    /// Tile rows of an output plane.
    static func tileRows(_ g: Conv2dGeometry) -> Int { (g.outHeight + 1) / 2 }
    /// Tile columns of an output plane.
    static func tileColumns(_ g: Conv2dGeometry) -> Int { (g.outWidth + 1) / 2 }
    /// Tiles of one output plane.
    static func tilesPerImage(_ g: Conv2dGeometry) -> Int { tileRows(g) * tileColumns(g) }

    /// Images one chunk transforms at once: V and M (or Ŷ) of the chunk within
    /// `workspaceBudget`, at least one image.
    static func imagesPerChunk(_ g: Conv2dGeometry) -> Int {
        let perImage = positions(g) * (g.inChannels + g.outChannels) * tilesPerImage(g)
        return max(1, min(g.n, workspaceBudget / max(perImage, 1)))
    }
}
