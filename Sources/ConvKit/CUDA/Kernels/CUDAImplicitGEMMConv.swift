extension Conv2dGeometry {
    /// The geometry as the algorithm kernels (ImplicitGEMM.cu, Depthwise.cu, SparseMatrix.cu) take it:
    /// `struct { long long n, c, h, w, co, kh, kw, sh, sw, pt, pl, dh, dw, groups, oh, ow; }` by value.
    /// `padBottom`/`padRight` are not needed: the output size already accounts for them.
    var algorithmKernelArgument: KernelArgument {
        .intArray([n, inChannels, inHeight, inWidth, outChannels, kernelHeight, kernelWidth, strideH, strideW,
                   padTop, padLeft, dilationH, dilationW, groups, outHeight, outWidth], count: 16)
    }
}

/// Sizes of the implicit-GEMM kernels' tiling (they must match ImplicitGEMM.cu).
enum CUDAImplicitGEMMTiling {
    /// Rows and columns of one block's output tile.
    static let tile = 64
    /// Threads per block (each a 4×4 micro-tile).
    static let threads = 256
    /// Depth of one reduction slice; the weight gradient's split length is a multiple of it.
    static let depth = 16
    /// Fewest pixels one split of the weight gradient's reduction covers.
    static let minimumPixelsPerSplit = 256
    /// Blocks the weight gradient aims for when it splits its reduction (fixed, so the split, and
    /// with it the result, depends only on the geometry).
    static let targetBlocks = 512

    /// The launch of a tiled GEMM with `rows` × `columns` outputs per group: x over column tiles,
    /// y over (group, row tile), capped at the grid limits (the kernels loop over the rest).
    static func shape(rows: Int, columns: Int, groups: Int, splits: Int = 1) -> LaunchShape {
        let columnTiles = (columns + tile - 1) / tile
        let rowTiles = (rows + tile - 1) / tile * groups
        return LaunchShape(grid: (min(columnTiles, Int(Int32.max)), min(rowTiles, 65535), splits),
                           block: (threads, 1, 1))
    }
}

extension CUDABackend {
    /// `output = conv(input, weight)` (no bias) with the implicitGEMM algorithm: per group a GEMM
    /// `M = outChannels/groups`, `N = n·outH·outW`, `K = (C/groups)·kH·kW`, X̂ gathered tile by tile.
    func implicitGEMMConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        let columns = g.n * g.outHeight * g.outWidth
        guard g.outChannelsPerGroup > 0, columns > 0 else { return }
        try launch(.implicitGEMM, "ck_igemm_forward",
                   CUDAImplicitGEMMTiling.shape(rows: g.outChannelsPerGroup, columns: columns, groups: g.groups),
                   [.storage(input), .storage(weight), .storage(output), g.algorithmKernelArgument])
    }

    /// `gradInput = ∂L/∂input` with the implicitGEMM algorithm: per group a GEMM `M = C/groups`,
    /// `N = n·H·W`, `K = (outChannels/groups)·kH·kW`, each input pixel gathering the output
    /// positions that read it.
    func implicitGEMMConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        let columns = g.n * g.inHeight * g.inWidth
        guard g.inChannelsPerGroup > 0, columns > 0 else { return }
        if g.outChannelsPerGroup == 0 || g.outHeight * g.outWidth == 0 {
            try fill(gradInput, count: g.n * g.inChannels * g.inHeight * g.inWidth, value: 0)
            return
        }
        try launch(.implicitGEMM, "ck_igemm_backward_input",
                   CUDAImplicitGEMMTiling.shape(rows: g.inChannelsPerGroup, columns: columns, groups: g.groups),
                   [.storage(gradOutput), .storage(weight), .storage(gradInput), g.algorithmKernelArgument])
    }

    /// `gradWeight = ∂L/∂weight` with the implicitGEMM algorithm: per group a GEMM
    /// `M = outChannels/groups`, `N = (C/groups)·kH·kW` reducing over the `n·outH·outW` pixels.
    /// When the output tiles alone cannot fill the GPU, the pixels are split into a fixed number
    /// of ranges whose partial sums go to a workspace and are added in order by a second kernel.
    func implicitGEMMConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        let rows = g.outChannelsPerGroup, columns = g.patchSize
        let count = g.outChannels * columns
        guard rows > 0, columns > 0 else { return }
        let pixels = g.n * g.outHeight * g.outWidth
        guard pixels > 0 else { try fill(gradWeight, count: count, value: 0); return }
        let (splits, chunk) = Self.implicitGEMMWeightSplits(g)
        let shape = CUDAImplicitGEMMTiling.shape(rows: rows, columns: columns, groups: g.groups, splits: splits)
        if splits == 1 {
            try launch(.implicitGEMM, "ck_igemm_backward_weight", shape,
                       [.storage(gradOutput), .storage(input), .storage(gradWeight), g.algorithmKernelArgument,
                        .int(chunk), .int(0)])
            return
        }
        let partials = try workspace(floats: splits * count)
        try launch(.implicitGEMM, "ck_igemm_backward_weight", shape,
                   [.storage(gradOutput), .storage(input), .storage(partials), g.algorithmKernelArgument,
                    .int(chunk), .int(count)])
        try launchElementwise(.implicitGEMM, "ck_igemm_sum_splits", count: count,
                              [.storage(partials), .storage(gradWeight), .int(count), .int(splits)])
    }

    /// How the weight gradient splits its reduction over the pixels: `(splits, chunk)` with
    /// `chunk` a multiple of the slice depth and `splits · chunk ≥ pixels` (every split non-empty).
    /// Depends only on the geometry, so the summation order, and the result, is reproducible.
    static func implicitGEMMWeightSplits(_ g: Conv2dGeometry) -> (splits: Int, chunk: Int) {
        typealias T = CUDAImplicitGEMMTiling
        let pixels = g.n * g.outHeight * g.outWidth
        let roundUp = { (value: Int) in (value + T.depth - 1) / T.depth * T.depth }
        let tiles = (g.outChannelsPerGroup + T.tile - 1) / T.tile * ((g.patchSize + T.tile - 1) / T.tile) * g.groups
        let wanted = (T.targetBlocks + tiles - 1) / tiles
        let splits = max(1, min(wanted, pixels / T.minimumPixelsPerSplit, 65535))
        guard splits > 1 else { return (1, roundUp(pixels)) }
        let chunk = roundUp((pixels + splits - 1) / splits)
        return ((pixels + chunk - 1) / chunk, chunk)
    }
}
