/// Sizes of the tensor-core convolution's tiling (they must match TensorCoreConv.cu).
enum CUDATensorCoreTiling {
    /// Pixels (GEMM rows) of one block's tile.
    static let rows = 128
    /// Depth of one reduction slice; K is padded to a multiple of it.
    static let depth = 32
    /// Slices in flight in the cp.async pipeline.
    static let stages = 3
    /// Floats of padding after each shared-memory row (against bank conflicts).
    static let padding = 8
    /// Largest int32 offset the kernel computes inside one image group (the rest is 64-bit).
    static let offsetLimit = 1 << 30

    /// Output channels (GEMM columns) of one block's tile for `channels` per group: 64 when that
    /// wastes less of the tile (or there are at most 64), else 128.
    static func columns(forChannels channels: Int) -> Int {
        if channels <= 64 { return 64 }
        let waste128 = (channels + 127) / 128 * 128 - channels
        let waste64 = (channels + 63) / 64 * 64 - channels
        return waste128 > waste64 + 32 ? 64 : 128
    }

    /// Bytes of dynamic shared memory of a block with `columns` channels.
    static func sharedBytes(columns: Int) -> Int {
        stages * depth * ((rows + padding) + (columns + padding)) * 4
    }

    /// Bytes of dynamic shared memory of a weight-gradient block with `columns` channels: its
    /// [row][pixel] tiles have rows of `depth + 4` floats.
    static func weightSharedBytes(columns: Int) -> Int {
        stages * (rows + columns) * (depth + 4) * 4
    }

    /// Blocks the weight gradient aims for when it splits its reduction over the pixels (fixed,
    /// so the split, and with it the result, depends only on the geometry).
    static let weightTargetBlocks = 528
    /// Fewest pixels one split of the weight gradient covers.
    static let weightMinimumPixelsPerSplit = 1024
}

extension CUDABackend {
    /// Whether the tensor-core kernel can compute the forward pass of `g`: every offset inside
    /// one image's group of channels, and every padded GEMM size, fits its 32-bit integers.
    static func tensorCoreConvSupports(_ g: Conv2dGeometry) -> Bool {
        typealias T = CUDATensorCoreTiling
        let limit = T.offsetLimit
        let cg = g.inChannelsPerGroup, taps = g.kernelHeight * g.kernelWidth
        let pixels = g.n * g.outHeight * g.outWidth
        let spatial = [g.inHeight, g.inWidth, g.outHeight, g.outWidth, abs(g.padTop), abs(g.padLeft),
                       g.strideH * g.outHeight, g.strideW * g.outWidth,
                       g.dilationH * g.kernelHeight, g.dilationW * g.kernelWidth]
        return g.outChannelsPerGroup > 0 && cg > 0 && pixels > 0
            && spatial.allSatisfy { $0 < 1 << 26 }
            && cg * g.inHeight * g.inWidth < limit && cg * taps < limit
            && (pixels + T.rows - 1) / T.rows < Int(Int32.max)
            && g.groups * ((g.outChannelsPerGroup + 63) / 64) <= 65535
    }

    /// Whether the tensor-core kernel can compute the input gradient of `g`: a stride-1
    /// convolution, whose input gradient is a forward convolution of the output gradient.
    static func tensorCoreConvSupportsBackwardInput(_ g: Conv2dGeometry) -> Bool {
        g.strideH == 1 && g.strideW == 1 && tensorCoreConvSupports(backwardInputGeometry(g))
    }

    /// Whether the tensor-core kernel can compute the weight gradient of `g` (its pixel count
    /// must also fit a 32-bit integer).
    static func tensorCoreConvSupportsBackwardWeight(_ g: Conv2dGeometry) -> Bool {
        tensorCoreConvSupports(g) && g.n * g.outHeight * g.outWidth < Int(Int32.max) - CUDATensorCoreTiling.depth
    }

    /// The forward convolution that is `g`'s input gradient (stride 1; see
    /// `Conv2dGeometry.inputGradientAsForward`).
    static func backwardInputGeometry(_ g: Conv2dGeometry) -> Conv2dGeometry { g.inputGradientAsForward }

    /// `output = conv(input, weight) + bias` on tensor cores: 3xTF32 (about fp32's accuracy)
    /// unless `allowTF32`, then 1xTF32; the kernel adds the bias (when there is one) as it stores.
    func tensorCoreConvForward(input: Storage, weight: Storage, bias: Storage?, output: Storage, geometry g: Conv2dGeometry) throws {
        try tensorCoreConv(input: input, weight: weight, flipped: false, bias: bias, output: output, gemm: g)
    }

    /// `gradInput = ∂L/∂input` of a stride-1 convolution on tensor cores: the forward kernel run
    /// on `gradOutput` with the flipped, transposed weight (see `backwardInputGeometry`).
    func tensorCoreConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        precondition(g.strideH == 1 && g.strideW == 1, "tensorCoreConvBackwardInput needs stride 1")
        try tensorCoreConv(input: gradOutput, weight: weight, flipped: true, bias: nil, output: gradInput,
                           gemm: Self.backwardInputGeometry(g))
    }

    /// `gradWeight = ∂L/∂weight` on tensor cores (3xTF32, or 1xTF32 with `allowTF32`): per group
    /// the GEMM `dWᵀ[(c,kh,kw), co] = Σ_pixels X̂ · dY`, both operands gathered tile by tile. When
    /// its tiles alone cannot fill the GPU, the pixels are split into a fixed number of ranges
    /// whose partial sums go to a workspace and are added in order (`ck_igemm_sum_splits`, Float64).
    func tensorCoreConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        typealias T = CUDATensorCoreTiling
        guard Self.tensorCoreConvSupportsBackwardWeight(g) else {
            throw ConvKitError.unsupported(op: "conv2d", message:
                "the tensor-core weight gradient cannot run this geometry (a size exceeds its 32-bit offsets): \(g)")
        }
        let taps = g.patchSize, channels = g.outChannelsPerGroup
        let columns = T.columns(forChannels: channels)
        let rowTiles = (taps + T.rows - 1) / T.rows, columnTiles = (channels + columns - 1) / columns
        let table = try workspace(floats: 4 * rowTiles * T.rows)
        try launchElementwise(.tensorCore, "ck_tc_taps", count: rowTiles * T.rows,
                              [.storage(table), g.algorithmKernelArgument, .int(rowTiles * T.rows)])
        let (splits, chunk) = Self.tensorCoreWeightSplits(g, tiles: rowTiles * columnTiles * g.groups)
        let count = g.outChannels * taps
        let kernel = "ck_tc_conv_weight_\(allowTF32 ? "tf32" : "3xtf32")_n\(columns)"
        let shape = LaunchShape(grid: (rowTiles, g.groups * columnTiles, splits), block: (2 * columns, 1, 1),
                                sharedBytes: T.weightSharedBytes(columns: columns))
        if splits == 1 {
            try launch(.tensorCore, kernel, shape,
                       [.storage(gradOutput), .storage(input), .storage(table), .storage(gradWeight),
                        g.algorithmKernelArgument, .int(chunk), .int(0)])
            return
        }
        let partials = try workspace(floats: splits * count)
        try launch(.tensorCore, kernel, shape,
                   [.storage(gradOutput), .storage(input), .storage(table), .storage(partials),
                    g.algorithmKernelArgument, .int(chunk), .int(count)])
        try launchElementwise(.implicitGEMM, "ck_igemm_sum_splits", count: count,
                              [.storage(partials), .storage(gradWeight), .int(count), .int(splits)])
    }

    /// How the tensor-core weight gradient splits its pixels: `(splits, chunk)` with `chunk` a
    /// multiple of the slice depth and every split non-empty; depends only on the geometry.
    static func tensorCoreWeightSplits(_ g: Conv2dGeometry, tiles: Int) -> (splits: Int, chunk: Int) {
        typealias T = CUDATensorCoreTiling
        let pixels = g.n * g.outHeight * g.outWidth
        let roundUp = { (value: Int) in (value + T.depth - 1) / T.depth * T.depth }
        let wanted = (T.weightTargetBlocks + tiles - 1) / tiles
        let splits = max(1, min(wanted, pixels / T.weightMinimumPixelsPerSplit, 65535))
        let chunk = roundUp((pixels + splits - 1) / splits)
        return ((pixels + chunk - 1) / chunk, chunk)
    }

    /// Repacks the weight (`ck_tc_prepare`), then runs the tensor-core GEMM of geometry `d`.
    private func tensorCoreConv(input: Storage, weight: Storage, flipped: Bool, bias: Storage?, output: Storage,
                                gemm d: Conv2dGeometry) throws {
        typealias T = CUDATensorCoreTiling
        guard Self.tensorCoreConvSupports(d) else {
            throw ConvKitError.unsupported(op: "conv2d", message:
                "the tensor-core convolution cannot run this geometry (a size exceeds its 32-bit offsets): \(d)")
        }
        let channels = d.outChannelsPerGroup
        let columns = T.columns(forChannels: channels)
        let kPad = (d.patchSize + T.depth - 1) / T.depth * T.depth
        let nPad = (channels + columns - 1) / columns * columns
        let packed = try workspace(floats: d.groups * kPad * nPad)
        let table = try workspace(floats: 4 * kPad)
        try launchElementwise(.tensorCore, "ck_tc_prepare", count: d.groups * kPad * nPad,
                              [.storage(weight), .storage(packed), .storage(table), d.algorithmKernelArgument,
                               .int(kPad), .int(nPad), .flag(flipped)])
        let pixels = d.n * d.outHeight * d.outWidth
        let kernel = "ck_tc_conv_\(allowTF32 ? "tf32" : "3xtf32")_n\(columns)"
        let shape = LaunchShape(grid: ((pixels + T.rows - 1) / T.rows, d.groups * nPad / columns, 1),
                                block: (2 * columns, 1, 1), sharedBytes: T.sharedBytes(columns: columns))
        try launch(.tensorCore, kernel, shape,
                   [.storage(input), .storage(packed), .storage(table), .optional(bias), .storage(output), d.algorithmKernelArgument,
                    .int(kPad), .int(nPad)])
    }
}
