/// Winograd F(2×2, 3×3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural
/// Networks", 2015): the sizes and workspace both backends share (`CPU/Conv/WinogradConv.swift`,
/// `CUDA/Kernels/Winograd.cu`).
///
/// Each 2×2 block of outputs (a tile) of an image plane comes from the 4×4 block of inputs
/// under it, d: with `V = Bᵀ d B`, `U = G g Gᵀ` for a 3×3 filter g, and M the elementwise
/// product `U ⊙ V` summed over the input channels, the outputs are `Aᵀ M A`. The sum over
/// channels for every tile at once is 16 GEMMs, one per position ξ of the 4×4 transformed tile:
///
///     M[ξ] (K × T) = U[ξ] (K × C) · V[ξ] (C × T)
///
/// for K output channels, C input channels and T tiles: 16·K·C·T multiplications where the
/// other algorithms need 36·K·C·T (2.25× fewer), plus the transforms, which only add and halve.
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
/// The transformed matrices:
///
///     Bᵀ = [1  0 −1  0]    G = [ 1    0    0 ]    Aᵀ = [1  1  1  0]
///          [0  1  1  0]        [1/2  1/2  1/2]         [0  1 −1 −1]
///          [0 −1  1  0]        [1/2 −1/2  1/2]
///          [0  1  0 −1]        [ 0    0    1 ]
enum WinogradTiling {
    /// Positions of a transformed tile (4×4): the number of GEMMs.
    static let positions = 16

    /// Most floats of V and M (or Ŷ) one chunk of images may use: 32 Mi floats = 128 MiB.
    /// The tests and device checks lower it to exercise chunking.
    nonisolated(unsafe) static var workspaceBudget = 32 << 20

    /// Whether Winograd F(2×2, 3×3) can compute `g`: a 3×3 kernel, stride 1, no dilation, one
    /// group, a non-empty output, and every size within 32-bit GEMM dimensions.
    static func supports(_ g: Conv2dGeometry) -> Bool {
        let limit = Int(Int32.max) / positions
        return g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideH == 1 && g.strideW == 1
            && g.dilationH == 1 && g.dilationW == 1 && g.groups == 1
            && g.inChannels > 0 && g.outChannels > 0 && g.outHeight > 0 && g.outWidth > 0
            && (g.inChannels + g.outChannels) * tilesPerImage(g) < limit
            && g.inChannels * g.outChannels < limit
    }

    /// Why `.winograd` cannot run `g`, for the error a user sees.
    static func unsupportedReason(_ g: Conv2dGeometry) -> String {
        "algorithm winograd computes 3×3 convolutions with stride 1, dilation 1 and groups 1, got kernel "
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
        let perImage = positions * (g.inChannels + g.outChannels) * tilesPerImage(g)
        return max(1, min(g.n, workspaceBudget / max(perImage, 1)))
    }
}
