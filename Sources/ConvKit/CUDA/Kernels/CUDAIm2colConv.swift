/// Explicit GEMM convolution on the GPU (the chapter's version 2): unfold a chunk of images into
/// X̂ (`ck_conv_im2col`), then cuBLAS (through `sgemm`) per group, batched over the chunk's
/// images with strided batches.
///
/// X̂ row `(c, ky, kx)` (all input channels; group `g` owns rows `g·patchSize ..< (g+1)·patchSize`),
/// column `p = (oy, ox)`. The forward pass and the input gradient lay X̂ out per image,
/// `[image][row][P]`; the weight gradient lays it out `[row][image·P]` so one GEMM reduces over
/// the whole chunk.
/// - forward: `Y_g = W_g · X̂_g` per image
/// - input gradient: `dX̂_g = W_gᵀ · dY_g` per image, then col2im as a gather (`ck_conv_col2im`:
///   each input element summed by one thread from the entries that read it; no atomics)
/// - weight gradient: `dW_g = Σ_chunks dY_g · X̂_gᵀ` with dY staged as `[Cout][image·P]`
///   (`ck_conv_stage`), the chunks accumulated in order with `beta = 1` (deterministic)
///
/// A pointwise layer (1×1, stride 1, no padding) uses the NCHW tensors themselves as X̂ and
/// dX̂. X̂ of a chunk is kept within `im2colColumnBudget` floats; a chunk is at least one image.
extension CUDABackend {
    /// Most floats of X̂ (plus the staged output gradient, for the weight gradient) one chunk of
    /// images may use: 64 Mi floats = 256 MiB. The device checks lower it to test chunking.
    nonisolated(unsafe) static var im2colColumnBudget = 64 << 20

    /// Most images one strided-batched GEMM covers.
    static let im2colMaxBatch = 65_535

    /// Images per chunk when each image needs `floatsPerImage` floats of workspace (at least 1).
    private func im2colImagesPerChunk(_ g: Conv2dGeometry, floatsPerImage: Int) -> Int {
        max(1, min(g.n, Self.im2colMaxBatch, Self.im2colColumnBudget / max(floatsPerImage, 1)))
    }

    /// Rows of X̂: every input channel's taps.
    private func im2colRows(_ g: Conv2dGeometry) -> Int { g.inChannels * g.kernelHeight * g.kernelWidth }

    /// Throws when a GEMM size or leading dimension of this layer does not fit cuBLAS's 32-bit integers.
    private func im2colCheckGEMMSizes(_ g: Conv2dGeometry, columns: Int) throws {
        let largest = max(columns, g.patchSize, g.outChannelsPerGroup, g.outHeight * g.outWidth)
        if largest > Int(Int32.max) {
            throw ConvKitError.unsupported(op: "conv2d", message:
                "algorithm im2colGEMM: a GEMM dimension of \(largest) exceeds 2^31 - 1 on CUDA")
        }
    }

    /// `output = conv(input, weight)` (no bias) with the im2col algorithm.
    func im2colConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        let spatial = g.outHeight * g.outWidth, rows = im2colRows(g)
        let opg = g.outChannelsPerGroup
        let (chunk, columns) = try perImageColumns(g)
        var first = 0
        while first < g.n {
            let count = min(chunk, g.n - first)
            if let columns {
                try im2col(input, into: columns, g, firstImage: first, count: count,
                           imageStride: rows * spatial, rowStride: spatial)
            }
            for group in 0..<g.groups {
                let xhat = columnOperand(columns, orTensor: input, g, group: group, firstImage: first)
                try sgemm(transposeA: false, transposeB: false, m: opg, n: spatial, k: g.patchSize,
                          GEMMOperand(weight, offset: group * opg * g.patchSize, leadingDimension: g.patchSize),
                          xhat, beta: 0,
                          GEMMOperand(output, offset: (first * g.outChannels + group * opg) * spatial,
                                      leadingDimension: spatial, batchStride: g.outChannels * spatial),
                          batch: count)
            }
            first += count
        }
    }

    /// `gradInput = ∂L/∂input` with the im2col algorithm.
    func im2colConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        let spatial = g.outHeight * g.outWidth, rows = im2colRows(g)
        let opg = g.outChannelsPerGroup
        let (chunk, columns) = try perImageColumns(g)
        var first = 0
        while first < g.n {
            let count = min(chunk, g.n - first)
            for group in 0..<g.groups {
                let dxhat = columnOperand(columns, orTensor: gradInput, g, group: group, firstImage: first)
                try sgemm(transposeA: true, transposeB: false, m: g.patchSize, n: spatial, k: opg,
                          GEMMOperand(weight, offset: group * opg * g.patchSize, leadingDimension: g.patchSize),
                          GEMMOperand(gradOutput, offset: (first * g.outChannels + group * opg) * spatial,
                                      leadingDimension: spatial, batchStride: g.outChannels * spatial),
                          beta: 0, dxhat, batch: count)
            }
            if let columns {
                try col2im(columns, into: gradInput, g, firstImage: first, count: count,
                           imageStride: rows * spatial, rowStride: spatial)
            }
            first += count
        }
    }

    /// `gradWeight = ∂L/∂weight` with the im2col algorithm.
    func im2colConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        let spatial = g.outHeight * g.outWidth, rows = im2colRows(g)
        let opg = g.outChannelsPerGroup
        let chunk = im2colImagesPerChunk(g, floatsPerImage: (rows + g.outChannels) * spatial)
        try im2colCheckGEMMSizes(g, columns: chunk * spatial)
        let columns = try workspace(floats: chunk * rows * spatial)
        // With one image per chunk dY is already [Cout][P]: nothing to stage.
        let staged = chunk > 1 ? try workspace(floats: chunk * g.outChannels * spatial) : nil
        var first = 0
        while first < g.n {
            let count = min(chunk, g.n - first)
            let width = count * spatial
            try im2col(input, into: columns, g, firstImage: first, count: count, imageStride: spatial, rowStride: width)
            if let staged {
                try launchElementwise(.convolution, "ck_conv_stage", count: g.outChannels * width,
                                      [.storage(gradOutput), .storage(staged), .int(first), .int(count),
                                       .int(g.outChannels), .int(spatial)])
            }
            for group in 0..<g.groups {
                let dy = staged.map { GEMMOperand($0, offset: group * opg * width, leadingDimension: width) }
                    ?? GEMMOperand(gradOutput, offset: (first * g.outChannels + group * opg) * spatial, leadingDimension: spatial)
                try sgemm(transposeA: false, transposeB: true, m: opg, n: g.patchSize, k: width,
                          dy, GEMMOperand(columns, offset: group * g.patchSize * width, leadingDimension: width),
                          beta: first == 0 ? 0 : 1,
                          GEMMOperand(gradWeight, offset: group * opg * g.patchSize, leadingDimension: g.patchSize))
            }
            first += count
        }
    }

    /// The per-image X̂ of the forward pass and the input gradient (`[image][row][P]`): images per
    /// chunk, and the workspace — `nil` for a pointwise layer, whose NCHW tensor is X̂ itself.
    private func perImageColumns(_ g: Conv2dGeometry) throws -> (chunk: Int, columns: Storage?) {
        let spatial = g.outHeight * g.outWidth, rows = im2colRows(g)
        try im2colCheckGEMMSizes(g, columns: spatial)
        if Im2colConv.isPointwise(g) { return (min(g.n, Self.im2colMaxBatch), nil) }
        let chunk = im2colImagesPerChunk(g, floatsPerImage: rows * spatial)
        return (chunk, try workspace(floats: chunk * rows * spatial))
    }

    /// Group `group`'s X̂ (or dX̂) for the chunk starting at `firstImage`, batched over its images:
    /// the workspace from `perImageColumns`, or without one the NCHW `tensor` itself.
    private func columnOperand(_ columns: Storage?, orTensor tensor: Storage, _ g: Conv2dGeometry,
                               group: Int, firstImage: Int) -> GEMMOperand {
        let spatial = g.outHeight * g.outWidth
        if let columns {
            return GEMMOperand(columns, offset: group * g.patchSize * spatial,
                               leadingDimension: spatial, batchStride: im2colRows(g) * spatial)
        }
        return GEMMOperand(tensor, offset: (firstImage * g.inChannels + group * g.inChannelsPerGroup) * spatial,
                           leadingDimension: spatial, batchStride: g.inChannels * spatial)
    }

    /// Fills X̂ of images `firstImage ..< firstImage + count` (`ck_conv_im2col`); element
    /// (image, row, p) goes to `image·imageStride + row·rowStride + p`.
    private func im2col(_ input: Storage, into columns: Storage, _ g: Conv2dGeometry, firstImage: Int, count: Int,
                        imageStride: Int, rowStride: Int) throws {
        try launchElementwise(.convolution, "ck_conv_im2col", count: count * im2colRows(g) * g.outHeight * g.outWidth,
                              [.storage(input), .storage(columns), .convShape(g), .int(firstImage), .int(count),
                               .int(imageStride), .int(rowStride)])
    }

    /// Writes the input gradient of images `firstImage ..< firstImage + count` from dX̂ laid out
    /// as `im2col` does (`ck_conv_col2im`, a gather).
    private func col2im(_ columns: Storage, into gradInput: Storage, _ g: Conv2dGeometry, firstImage: Int, count: Int,
                        imageStride: Int, rowStride: Int) throws {
        try launchElementwise(.convolution, "ck_conv_col2im", count: count * g.inChannels * g.inHeight * g.inWidth,
                              [.storage(columns), .storage(gradInput), .convShape(g), .int(firstImage), .int(count),
                               .int(imageStride), .int(rowStride)])
    }
}
