/// Winograd F(2×2, r×r) convolution (r = 3 or 5) on the GPU (the algorithm and its layouts:
/// `WinogradTiling`): the transforms are the kernels of Winograd.cu, the α² GEMMs one
/// strided-batched `sgemm` per chunk of images (cuBLAS, strict fp32 or TF32 as `allowTF32`
/// says).
///
/// The weight gradient's GEMMs are K × C with all of a chunk's tiles as their depth: 16 of them
/// alone can leave most of the GPU idle (64 × 64 filters: 16 blocks). It splits the tiles into ranges
/// (`winogradWeightSplits`), one GEMM per (range, ξ) into its own partial dU, and adds the
/// partials and the chunks in a fixed order (`ck_wino_sum_splits`, Float64), so the result
/// depends on the geometry only.
extension CUDABackend {
    /// Blocks the weight gradient's GEMMs aim for (about two per multiprocessor of an H200),
    /// counting one per 128 × 128 tile of K × C.
    static let winogradWeightTargetBlocks = 264
    /// Fewest tiles one range of the weight gradient covers.
    static let winogradWeightMinimumTiles = 512
    /// Most floats of the weight gradient's partial dU (all ranges): 8 Mi floats = 32 MiB.
    static let winogradWeightPartialBudget = 8 << 20

    /// `(splits, splitTiles)`: the tile ranges of one weight-gradient chunk of `tiles` tiles.
    static func winogradWeightSplits(_ g: Conv2dGeometry, tiles: Int) -> (splits: Int, splitTiles: Int) {
        let blocks = WinogradTiling.positions(g) * ((g.outChannels + 127) / 128) * ((g.inChannels + 127) / 128)
        let wanted = (winogradWeightTargetBlocks + blocks - 1) / blocks
        let affordable = winogradWeightPartialBudget / (WinogradTiling.positions(g) * g.outChannels * g.inChannels)
        let splits = max(1, min(wanted, tiles / winogradWeightMinimumTiles, affordable))
        let splitTiles = (tiles + splits - 1) / splits
        return ((tiles + splitTiles - 1) / splitTiles, splitTiles)
    }

    /// `output = conv(input, weight)` (no bias) with Winograd F(2×2, r×r).
    func winogradConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        try withWinogradPrecision(g) {
            try winogradConv(input: input, weight: weight, flipped: false, output: output, geometry: g)
        }
    }

    /// `gradInput = ∂L/∂input` with Winograd: the forward pass of the stride-1 input gradient.
    func winogradConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        try withWinogradPrecision(g) {
            try winogradConv(input: gradOutput, weight: weight, flipped: true, output: gradInput,
                             geometry: g.inputGradientAsForward)
        }
    }

    /// `gradWeight = ∂L/∂weight` with Winograd: `dU[ξ] = Σ Ŷ[ξ] · V[ξ]ᵀ` over the chunks and
    /// their tile ranges, then `dW = Gᵀ dU G` (`ck_wino_filter_grad`).
    func winogradConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        try checkWinograd(g)
        try withWinogradPrecision(g) { try winogradWeightGradient(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g) }
    }

    /// The weight gradient's chunks, tile ranges and GEMMs (see `winogradConvBackwardWeight`).
    private func winogradWeightGradient(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        let k = g.outChannels, c = g.inChannels, positions = WinogradTiling.positions(g), r = g.kernelHeight
        let chunk = WinogradTiling.imagesPerChunk(g), perImage = WinogradTiling.tilesPerImage(g)
        let largest = Self.winogradWeightSplits(g, tiles: chunk * perImage)
        let du = try workspace(floats: positions * k * c)
        let partials = try workspace(floats: largest.splits * positions * k * c)
        // A smaller last chunk may pad its ranges by up to `splits − 1` tiles more than the largest.
        let workspace = try workspace(floats: positions * (c + k) * (chunk * perImage + largest.splits))
        var first = 0
        while first < g.n {
            let count = min(chunk, g.n - first), tiles = count * perImage
            let (splits, splitTiles) = Self.winogradWeightSplits(g, tiles: tiles)
            let shape = winogradShape(g, firstImage: first, count: count, splits: splits, splitTiles: splitTiles)
            let padded = splits * splitTiles, yhatOffset = positions * c * padded
            try launchElementwise(.winograd, "ck_wino_input_r\(r)", count: c * padded,
                                  [.storage(input), .storage(workspace), shape])
            try launchElementwise(.winograd, "ck_wino_grad_output_r\(r)", count: k * padded,
                                  [.storage(gradOutput), .pointer(workspace.deviceAddress + CUdeviceptr(yhatOffset * 4)), shape])
            // One GEMM per (range, ξ): batch entry s·α² + ξ of every operand is one stride apart.
            let single = splits == 1 && first == 0
            try sgemm(transposeA: false, transposeB: true, m: k, n: c, k: splitTiles,
                      GEMMOperand(workspace, offset: yhatOffset, leadingDimension: splitTiles, batchStride: k * splitTiles),
                      GEMMOperand(workspace, leadingDimension: splitTiles, batchStride: c * splitTiles),
                      beta: 0,
                      GEMMOperand(single ? du : partials, leadingDimension: c, batchStride: k * c),
                      batch: positions * splits)
            if !single {
                try launchElementwise(.winograd, "ck_wino_sum_splits", count: positions * k * c,
                                      [.storage(partials), .storage(du), .int(positions * k * c), .int(splits),
                                       .flag(first > 0)])
            }
            first += count
        }
        try launchElementwise(.winograd, "ck_wino_filter_grad_r\(r)", count: k * c,
                              [.storage(du), .storage(gradWeight), .int(k), .int(c)])
    }

    /// The forward pass of stride-1 geometry `g` (the input gradient's when `flipped`): U once,
    /// then per chunk of images V, the α² GEMMs into M, and the output transform.
    private func winogradConv(input: Storage, weight: Storage, flipped: Bool, output: Storage, geometry g: Conv2dGeometry) throws {
        try checkWinograd(g)
        let k = g.outChannels, c = g.inChannels, positions = WinogradTiling.positions(g), r = g.kernelHeight
        let chunk = WinogradTiling.imagesPerChunk(g), perImage = WinogradTiling.tilesPerImage(g)
        let u = try workspace(floats: positions * k * c)
        // The weight is [outChannels][inChannels] of the layer; flipped, that is [c][k] of this GEMM.
        try launchElementwise(.winograd, "ck_wino_filter_r\(r)", count: k * c,
                              [.storage(weight), .storage(u), .int(flipped ? c : k), .int(flipped ? k : c), .flag(flipped)])
        let workspace = try workspace(floats: positions * (c + k) * chunk * perImage)
        var first = 0
        while first < g.n {
            let count = min(chunk, g.n - first), tiles = count * perImage
            let shape = winogradShape(g, firstImage: first, count: count)
            let mOffset = positions * c * tiles
            try launchElementwise(.winograd, "ck_wino_input_r\(r)", count: c * tiles,
                                  [.storage(input), .storage(workspace), shape])
            try sgemm(transposeA: false, transposeB: false, m: k, n: tiles, k: c,
                      GEMMOperand(u, leadingDimension: c, batchStride: k * c),
                      GEMMOperand(workspace, leadingDimension: tiles, batchStride: c * tiles),
                      beta: 0,
                      GEMMOperand(workspace, offset: mOffset, leadingDimension: tiles, batchStride: k * tiles),
                      batch: positions)
            try launchElementwise(.winograd, "ck_wino_output_r\(r)", count: k * tiles,
                                  [.pointer(workspace.deviceAddress + CUdeviceptr(mOffset * 4)), .storage(output), shape])
            first += count
        }
    }

    /// Runs `body` (a Winograd call's GEMMs) with TF32 as `allowTF32` says, except for 5×5 filters,
    /// whose transforms magnify the operands' rounding: with TF32 GEMMs the 5×5 forward pass missed
    /// TF32's 1e-3 tolerance on the H200 (relative error 2.3e-3 at 64 channels, 2026-12-03), so
    /// F(2×2, 5×5) always multiplies in strict fp32.
    private func withWinogradPrecision<R>(_ g: Conv2dGeometry, _ body: () throws -> R) rethrows -> R {
        guard allowTF32 && g.kernelHeight == 5 else { return try body() }
        allowTF32 = false
        defer { allowTF32 = true }
        return try body()
    }

    /// Throws `unsupported` when Winograd cannot compute `g`.
    private func checkWinograd(_ g: Conv2dGeometry) throws {
        guard WinogradTiling.supports(g) else {
            throw ConvKitError.unsupported(op: "conv2d", message: WinogradTiling.unsupportedReason(g))
        }
    }

    /// The `CkWinoShape` struct of Winograd.cu for images `firstImage ..< firstImage + count`,
    /// their tiles in `splits` ranges of `splitTiles` (one range of all of them by default).
    private func winogradShape(_ g: Conv2dGeometry, firstImage: Int, count: Int, splits: Int = 1,
                               splitTiles: Int? = nil) -> KernelArgument {
        let perImage = WinogradTiling.tilesPerImage(g)
        return .intArray([g.inChannels, g.inHeight, g.inWidth, g.outChannels, g.outHeight, g.outWidth, g.padTop, g.padLeft,
                          WinogradTiling.tileColumns(g), perImage, firstImage, count, splits, splitTiles ?? count * perImage],
                         count: 14)
    }
}
