/// Winograd F(2×2, 3×3) convolution on the GPU (the algorithm and its layouts:
/// `WinogradTiling`): the transforms are the kernels of Winograd.cu, the 16 GEMMs one
/// strided-batched `sgemm` per chunk of images (cuBLAS, strict fp32 or TF32 as `allowTF32`
/// says). The weight gradient accumulates dU over the chunks in order (`beta = 1`), so the result
/// depends on the geometry only.
extension CUDABackend {
    /// `output = conv(input, weight)` (no bias) with Winograd F(2×2, 3×3).
    func winogradConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        try winogradConv(input: input, weight: weight, flipped: false, output: output, geometry: g)
    }

    /// `gradInput = ∂L/∂input` with Winograd: the forward pass of the stride-1 input gradient.
    func winogradConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        try checkWinograd(g)
        try winogradConv(input: gradOutput, weight: weight, flipped: true, output: gradInput, geometry: g.inputGradientAsForward)
    }

    /// `gradWeight = ∂L/∂weight` with Winograd: `dU[ξ] = Σ Ŷ[ξ] · V[ξ]ᵀ` over the chunks, then
    /// `dW = Gᵀ dU G` (`ck_wino_filter_grad`).
    func winogradConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        try checkWinograd(g)
        let k = g.outChannels, c = g.inChannels, positions = WinogradTiling.positions
        let chunk = WinogradTiling.imagesPerChunk(g), perImage = WinogradTiling.tilesPerImage(g)
        let du = try workspace(floats: positions * k * c)
        let workspace = try workspace(floats: positions * (c + k) * chunk * perImage)
        var first = 0
        while first < g.n {
            let count = min(chunk, g.n - first), tiles = count * perImage
            let shape = winogradShape(g, firstImage: first, count: count)
            try launchElementwise(.winograd, "ck_wino_input", count: c * tiles,
                                  [.storage(input), .storage(workspace), shape])
            let yhatOffset = positions * c * tiles
            try launchElementwise(.winograd, "ck_wino_grad_output", count: k * tiles,
                                  [.storage(gradOutput), .pointer(workspace.deviceAddress + CUdeviceptr(yhatOffset * 4)), shape])
            try sgemm(transposeA: false, transposeB: true, m: k, n: c, k: tiles,
                      GEMMOperand(workspace, offset: yhatOffset, leadingDimension: tiles, batchStride: k * tiles),
                      GEMMOperand(workspace, leadingDimension: tiles, batchStride: c * tiles),
                      beta: first == 0 ? 0 : 1,
                      GEMMOperand(du, leadingDimension: c, batchStride: k * c), batch: positions)
            first += count
        }
        try launchElementwise(.winograd, "ck_wino_filter_grad", count: k * c,
                              [.storage(du), .storage(gradWeight), .int(k), .int(c)])
    }

    /// The forward pass of stride-1 geometry `g` (the input gradient's when `flipped`): U once,
    /// then per chunk of images V, the 16 GEMMs into M, and the output transform.
    private func winogradConv(input: Storage, weight: Storage, flipped: Bool, output: Storage, geometry g: Conv2dGeometry) throws {
        try checkWinograd(g)
        let k = g.outChannels, c = g.inChannels, positions = WinogradTiling.positions
        let chunk = WinogradTiling.imagesPerChunk(g), perImage = WinogradTiling.tilesPerImage(g)
        let u = try workspace(floats: positions * k * c)
        // The weight is [outChannels][inChannels] of the layer; flipped, that is [c][k] of this GEMM.
        try launchElementwise(.winograd, "ck_wino_filter", count: k * c,
                              [.storage(weight), .storage(u), .int(flipped ? c : k), .int(flipped ? k : c), .flag(flipped)])
        let workspace = try workspace(floats: positions * (c + k) * chunk * perImage)
        var first = 0
        while first < g.n {
            let count = min(chunk, g.n - first), tiles = count * perImage
            let shape = winogradShape(g, firstImage: first, count: count)
            let mOffset = positions * c * tiles
            try launchElementwise(.winograd, "ck_wino_input", count: c * tiles,
                                  [.storage(input), .storage(workspace), shape])
            try sgemm(transposeA: false, transposeB: false, m: k, n: tiles, k: c,
                      GEMMOperand(u, leadingDimension: c, batchStride: k * c),
                      GEMMOperand(workspace, leadingDimension: tiles, batchStride: c * tiles),
                      beta: 0,
                      GEMMOperand(workspace, offset: mOffset, leadingDimension: tiles, batchStride: k * tiles),
                      batch: positions)
            try launchElementwise(.winograd, "ck_wino_output", count: k * tiles,
                                  [.pointer(workspace.deviceAddress + CUdeviceptr(mOffset * 4)), .storage(output), shape])
            first += count
        }
    }

    /// Throws `unsupported` when Winograd F(2×2, 3×3) cannot compute `g`.
    private func checkWinograd(_ g: Conv2dGeometry) throws {
        guard WinogradTiling.supports(g) else {
            throw ConvKitError.unsupported(op: "conv2d", message: WinogradTiling.unsupportedReason(g))
        }
    }

    /// The `CkWinoShape` struct of Winograd.cu for images `firstImage ..< firstImage + count`.
    private func winogradShape(_ g: Conv2dGeometry, firstImage: Int, count: Int) -> KernelArgument {
        .intArray([g.inChannels, g.inHeight, g.inWidth, g.outChannels, g.outHeight, g.outWidth, g.padTop, g.padLeft,
                   WinogradTiling.tileColumns(g), WinogradTiling.tilesPerImage(g), firstImage, count], count: 12)
    }
}
