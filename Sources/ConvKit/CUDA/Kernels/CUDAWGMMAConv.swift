/// The Hopper TF32 convolution on warpgroup tensor cores (`WGMMAConv.cu`): its tile variants and
/// how a geometry picks one (they must match the kernels' names and shared-memory layout).
enum CUDAWGMMATiling {
    /// Pixels (GEMM rows) of one block's tile.
    static let rows = 128
    /// Threads of a block: two warpgroups.
    static let threads = 256
    /// Channels of one 32-deep K slice: the GEMM's input channels must be a multiple of it.
    static let sliceChannels = 32

    /// One compiled kernel variant.
    struct Variant: Equatable {
        /// Output channels (GEMM columns) of a block's tile.
        let columns: Int
        /// K slices held in shared memory.
        let stages: Int
        /// Blocks that fit on one multiprocessor (registers and shared memory).
        let blocksPerMultiprocessor: Int
        /// Measured multiply-add rate of one full wave, relative to the others (TFLOP/s on the
        /// H200, `scripts/kernel_lab/wgmma_lab.cu`, 2026-12-04): only the ratios matter.
        let relativeRate: Double

        /// The kernel's name in WGMMAConv.cu.
        var kernel: String { "ck_wg_conv_tf32_n\(columns)" }
        /// Dynamic shared memory of one block: the stages' A and B tiles (128-byte rows) and
        /// 1024 bytes to align them for the 128-byte swizzle.
        var sharedBytes: Int { stages * (rows + columns) * 128 + 1024 }
    }

    /// The variants, narrowest first.
    static let variants = [
        Variant(columns: 64, stages: 4, blocksPerMultiprocessor: 2, relativeRate: 170),
        Variant(columns: 128, stages: 3, blocksPerMultiprocessor: 2, relativeRate: 217),
        Variant(columns: 256, stages: 4, blocksPerMultiprocessor: 1, relativeRate: 217),
    ]

    /// Fewest K slices a split of K covers when the reduction is split in two.
    static let minimumSlicesPerSplit = 16

    /// The variant and number of K splits (1 or 2) for the GEMM of geometry `d` on a GPU with
    /// `multiprocessors` SMs: the one whose waves of blocks take the least time, modelled as
    /// ⌈tiles · splits ÷ (SMs · blocks an SM)⌉ waves, each as long as one SM's worth of tiles ×
    /// K ÷ splits at the variant's rate. The model picked the fastest measured variant on all
    /// ten AlexNet and 3×3 benchmark layers within 10% (lab, 2026-12-04); ties go to the wider
    /// tile, then to one split (no zeroing, no atomic adds).
    static func plan(_ d: Conv2dGeometry, multiprocessors: Int) -> (variant: Variant, splits: Int) {
        let pixelTiles = (d.n * d.outHeight * d.outWidth + rows - 1) / rows
        let slices = d.kernelHeight * d.kernelWidth * d.inChannels / sliceChannels
        var best: (variant: Variant, splits: Int, cost: Double)?
        for variant in variants.reversed() {
            if d.outChannels <= 64 && variant.columns > 64 { continue }
            let channelTiles = (d.outChannels + variant.columns - 1) / variant.columns
            for splits in [1, 2] where splits == 1 || slices >= 2 * minimumSlicesPerSplit {
                let slots = multiprocessors * variant.blocksPerMultiprocessor
                let waves = (pixelTiles * channelTiles * splits + slots - 1) / slots
                let perWave = Double(variant.blocksPerMultiprocessor * variant.columns) * Double(slices) / Double(splits)
                let cost = Double(waves) * perWave / variant.relativeRate
                if best == nil || cost < best!.cost * 0.999 { best = (variant, splits, cost) }
            }
        }
        return (best!.variant, best!.splits)
    }
}

extension CUDABackend {
    /// Whether this GPU runs the warpgroup (`wgmma`) kernels: compute capability 9.0 (Hopper;
    /// they are compiled for sm_90a, whose code runs on no other architecture).
    var hasWarpgroupTensorCores: Bool { computeCapability == 90 }

    /// Whether the wgmma kernel can compute the forward GEMM of `d`: one group, input channels a
    /// multiple of 32, and every element offset of the input, the output and the packed weight,
    /// and the pixel count, within 32-bit integers.
    static func wgmmaConvSupports(_ d: Conv2dGeometry) -> Bool {
        typealias T = CUDAWGMMATiling
        let limit = Int(Int32.max) - 1024
        let pixels = d.n * d.outHeight * d.outWidth
        let spatial = [d.inHeight, d.inWidth, d.outHeight, d.outWidth, abs(d.padTop), abs(d.padLeft),
                       d.strideH * d.outHeight, d.strideW * d.outWidth,
                       d.dilationH * d.kernelHeight, d.dilationW * d.kernelWidth]
        return d.groups == 1 && d.inChannels > 0 && d.inChannels % T.sliceChannels == 0 && d.outChannels > 0
            && pixels > 0 && spatial.allSatisfy { $0 < 1 << 20 }
            && d.n * d.inChannels * d.inHeight * d.inWidth < limit
            && pixels * d.outChannels < limit
            && (d.outChannels + 255) / 256 * 256 * d.patchSize < 1 << 30  // the packing's loop index stays in 32 bits
    }

    /// Whether the wgmma kernel can compute the input gradient of `g`: stride 1 (the gradient is
    /// then a forward convolution of the output gradient, `backwardInputGeometry`).
    static func wgmmaConvSupportsBackwardInput(_ g: Conv2dGeometry) -> Bool {
        g.strideH == 1 && g.strideW == 1 && wgmmaConvSupports(backwardInputGeometry(g))
    }

    /// `output = conv(input, weight) + bias` in TF32 on Hopper's warpgroup tensor cores; the
    /// kernel adds the bias as it stores.
    func wgmmaConvForward(input: Storage, weight: Storage, bias: Storage?, output: Storage, geometry g: Conv2dGeometry) throws {
        try wgmmaConv(input: input, weight: weight, flipped: false, bias: bias, output: output, gemm: g)
    }

    /// `gradInput = ∂L/∂input` of a stride-1 convolution in TF32 on Hopper's warpgroup tensor
    /// cores: the forward kernel on `gradOutput` with the flipped, transposed weight.
    func wgmmaConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        guard g.strideH == 1 && g.strideW == 1 else {
            throw ConvKitError.unsupported(op: "conv2d", message: "the wgmma input gradient needs stride 1: \(g)")
        }
        try wgmmaConv(input: gradOutput, weight: weight, flipped: true, bias: nil, output: gradInput,
                      gemm: Self.backwardInputGeometry(g))
    }

    /// One launch transposes the input to channels-last, packs the weight (both rounded to TF32)
    /// and, with two K splits, zeroes the output (`ck_wg_prepare`); a second runs the GEMM.
    private func wgmmaConv(input: Storage, weight: Storage, flipped: Bool, bias: Storage?, output: Storage,
                           gemm d: Conv2dGeometry) throws {
        typealias T = CUDAWGMMATiling
        guard hasWarpgroupTensorCores else {
            throw ConvKitError.unsupported(op: "conv2d", message:
                "the wgmma convolution needs a compute capability 9.0 GPU (Hopper); this one is \(computeCapability / 10).\(computeCapability % 10)")
        }
        guard Self.wgmmaConvSupports(d) else {
            throw ConvKitError.unsupported(op: "conv2d", message:
                "the wgmma convolution needs one group, input channels a multiple of 32 and 32-bit offsets: \(d)")
        }
        let (variant, splits) = wgmmaPlanOverride.flatMap { forced in
            T.variants.first { $0.columns == forced.columns }.map { ($0, forced.splits) }
        } ?? T.plan(d, multiprocessors: multiprocessorCount)
        let channelTiles = (d.outChannels + variant.columns - 1) / variant.columns
        let packedRows = channelTiles * variant.columns
        let pixels = d.n * d.outHeight * d.outWidth
        let transposed = try workspace(floats: d.n * d.inChannels * d.inHeight * d.inWidth)
        let packed = try workspace(floats: packedRows * d.patchSize)

        let planeTiles = (d.inHeight * d.inWidth + 31) / 32, channelBlocks = d.inChannels / 32
        let transposeBlocks = d.n * planeTiles * channelBlocks
        let packBlocks = min(1024, (packedRows * d.patchSize + 255) / 256)
        let zeroCount = splits > 1 ? pixels * d.outChannels : 0
        let zeroBlocks = min(1024, (zeroCount + 1023) / 1024)
        try launch(.wgmma, "ck_wg_prepare", LaunchShape(grid: packBlocks + zeroBlocks + transposeBlocks, block: 256),
                   [.storage(input), .storage(transposed), .storage(weight), .storage(packed), .storage(output),
                    d.algorithmKernelArgument, .int(packedRows), .flag(flipped), .int(zeroCount),
                    .int(packBlocks), .int(zeroBlocks)])
        let pixelTiles = (pixels + T.rows - 1) / T.rows
        let shape = LaunchShape(grid: (pixelTiles * channelTiles, splits, 1), block: (T.threads, 1, 1),
                                sharedBytes: variant.sharedBytes)
        try launch(.wgmma, variant.kernel, shape,
                   [.storage(transposed), .storage(packed), .optional(bias), .storage(output), d.algorithmKernelArgument,
                    .int(channelTiles)])
    }
}
