extension CUDABackend {
    /// Rows of outputs one thread of the 3×3 fast kernels owns (`DW_ROWS` in Depthwise.cu).
    private static let depthwiseRowsPerThread = 8

    /// Output positions one block of the 3×3 weight-gradient kernel aims to cover; images are
    /// grouped into chunks of about this size (a function of the geometry only, so the reduction
    /// order, and with it the result, never changes run to run).
    private static let depthwiseWeightChunkTarget = 16384

    /// The stride (1 or 2) of a geometry the 3×3 fast kernels handle, or nil: a 3×3 filter,
    /// dilation 1, equal strides of 1 or 2, and every tensor small enough for 32-bit indices.
    private func depthwise3x3Stride(_ g: Conv2dGeometry) -> Int? {
        guard g.kernelHeight == 3, g.kernelWidth == 3, g.dilationH == 1, g.dilationW == 1,
              g.strideH == g.strideW, g.strideH == 1 || g.strideH == 2 else { return nil }
        let limit = Int(Int32.max)
        guard g.n * g.inChannels * g.inHeight * g.inWidth < limit, g.n * g.outChannels * g.outHeight * g.outWidth < limit,
              g.padTop <= 2, g.padLeft <= 2, g.padTop >= 0, g.padLeft >= 0 else { return nil }
        return g.strideH
    }

    /// Input floats one block of the 3×3 band kernels aims to stage in shared memory (16 KiB).
    private static let depthwiseBandTarget = 4096

    /// The most input floats a band kernel may stage, alignment slack included (48 KiB, the
    /// shared memory a kernel gets without opting in).
    private static let depthwiseBandLimit = 12 * 1024 - 8

    /// The smallest source plane (elements) the band kernels take; below it the staging and
    /// index arithmetic cost more than they save.
    private static let depthwiseBandMinimumPlane = 100

    /// Output channels whose weight-gradient chunks the partials kernel adds itself
    /// (`DW_ARRIVAL_SLOTS` in Depthwise.cu); above it a second kernel adds them.
    private static let depthwiseArrivalSlots = 65536

    /// How a 3×3 band kernel splits its work into blocks (see `dw3x3_band` in Depthwise.cu): each
    /// block stages `planesPerUnit` whole base planes, or one of the `bands` bands of `bandRows`
    /// output rows of one base plane, in `sharedBytes` of dynamic shared memory.
    private struct DepthwiseBands {
        /// Base planes per block (1 when a plane is cut into bands).
        var planesPerUnit: Int
        /// Output rows per band (all of them when `bands` is 1).
        var bandRows: Int
        /// Bands per base plane.
        var bands: Int
        /// Blocks of the launch.
        var units: Int
        /// Dynamic shared memory per block.
        var sharedBytes: Int

        /// The kernel's trailing arguments: planes per unit, band rows, bands.
        var arguments: [KernelArgument] { [.int(planesPerUnit), .int(bandRows), .int(bands)] }
    }

    /// The band split of `bases` base planes, each reading `sourcesPerBase` source planes of
    /// `inHeight` × `inWidth` and writing planes of `outHeight` rows with `stride`, or nil when a
    /// unit cannot fit in shared memory (the caller then takes the register-strip kernel). Small
    /// planes are packed several to a block (but leave at least 4 blocks per multiprocessor);
    /// larger ones are cut into bands of whole rows (a multiple of `DW_ROWS` = 8, as even as
    /// possible), which needs one source plane per base so that a band's rows are contiguous.
    private func depthwiseBands(bases: Int, sourcesPerBase: Int, inHeight: Int, inWidth: Int, outHeight: Int,
                                stride: Int) -> DepthwiseBands? {
        let target = Self.depthwiseBandTarget, limit = Self.depthwiseBandLimit
        let plane = inHeight * inWidth
        // Planes under 10×10 (measured at 7×7): the register-strip kernel is as fast.
        guard plane >= Self.depthwiseBandMinimumPlane else { return nil }
        if sourcesPerBase * plane <= target || (sourcesPerBase > 1 && sourcesPerBase * plane <= limit) {
            var perUnit = max(1, target / max(1, sourcesPerBase * plane))
            perUnit = min(perUnit, max(1, bases / (4 * multiprocessorCount)))
            return DepthwiseBands(planesPerUnit: perUnit, bandRows: outHeight, bands: 1,
                                  units: (bases + perUnit - 1) / perUnit,
                                  sharedBytes: (perUnit * sourcesPerBase * plane + 6) / 4 * 16)
        }
        guard sourcesPerBase == 1 else { return nil }
        let rowsMax = (max(target / inWidth, 3) - 3) / stride + 1
        var bands = (outHeight + rowsMax - 1) / rowsMax
        let bandRows = ((outHeight + bands - 1) / bands + 7) / 8 * 8
        bands = (outHeight + bandRows - 1) / bandRows
        let floats = min(inHeight, (bandRows - 1) * stride + 3) * inWidth
        guard floats + 6 <= limit, bases * bands < Int(Int32.max) else { return nil }
        return DepthwiseBands(planesPerUnit: 1, bandRows: bandRows, bands: bands, units: bases * bands,
                              sharedBytes: (floats + 6) / 4 * 16)
    }

    /// The smallest output plane (elements) the forward tile kernels take; smaller planes take the
    /// column band kernels. On the H200 (BENCHMARKS.md, FFT section, 2026-12-03) the tile kernels
    /// moved 3.0-3.5 TB/s on MobileNet's 28 × 28 to 112 × 112 planes (the band kernels 2.0-2.4) but
    /// 1.2 and 0.7 TB/s on 14 × 14 and 7 × 7 (the band kernel 1.7, the register-strip kernel 1.5).
    private static let depthwiseTileMinimumPlane = 28 * 28

    /// Work items (threads' tiles) one block of the forward tile kernels aims at: one per thread
    /// of a full block.
    private static let depthwiseTileItemsTarget = 256

    /// The launch of a forward tile kernel (`dw3x3_tile_forward` in Depthwise.cu): its name, the
    /// units (as for the band kernels) and the threads per block.
    private struct DepthwiseForwardTiles {
        var kernel: String
        var bands: DepthwiseBands
        var block: Int
    }

    /// How the forward tile kernel covers `g` (3×3, `stride` 1 or 2), or nil when even one row group
    /// of a plane's rows does not fit in shared memory (rows over ~1200 floats; the caller takes
    /// the register-strip kernel). A thread computes 4 columns (stride 1) or 2 columns (stride 2)
    /// × `rows` output rows, `rows` the one of 8, 7, 4 (stride 2: 4) that leaves the least padded
    /// work (row groups × (rows + 3), the halo rows included). A unit is as many whole base planes
    /// as make about `depthwiseTileItemsTarget` tiles (but at least 4 blocks per multiprocessor),
    /// or, for planes too large to stage, a band of whole row groups of one base plane, as even as
    /// possible. Staged input: the unit's floats + 12 floats of slack (the kernel's branch-free
    /// reads run up to 2 floats before and 5 after), within the 48 KiB of shared memory a kernel
    /// gets without opting in.
    private func depthwiseForwardTiles(_ g: Conv2dGeometry, stride: Int) -> DepthwiseForwardTiles? {
        let cols = stride == 1 ? 4 : 2
        let candidates = stride == 1 ? [8, 7, 4] : [4]
        func cost(_ rows: Int) -> Int { (g.outHeight + rows - 1) / rows * (rows + 3) }
        guard let rows = candidates.min(by: { cost($0) < cost($1) }) else { return nil }
        let kernel = "ck_dw3x3_tile_forward_s\(stride)_c\(cols)_r\(rows)"
        let multiplier = g.outChannels / g.inChannels
        let bases = g.n * g.inChannels
        let plane = g.inHeight * g.inWidth
        let colGroups = (g.outWidth + cols - 1) / cols
        let rowGroups = (g.outHeight + rows - 1) / rows
        let target = Self.depthwiseTileItemsTarget
        let limit = 12 * 1024 - 15  // staged floats that fit, slack included
        func block(_ items: Int) -> Int { min(256, max(32, (items + 31) / 32 * 32)) }
        if plane <= limit {
            let planeItems = multiplier * colGroups * rowGroups
            var perUnit = max(1, min(target / planeItems, limit / plane))
            perUnit = min(perUnit, max(1, bases / (4 * multiprocessorCount)))
            let bands = DepthwiseBands(planesPerUnit: perUnit, bandRows: g.outHeight, bands: 1,
                                       units: (bases + perUnit - 1) / perUnit,
                                       sharedBytes: (perUnit * plane + 15) / 4 * 16)
            return DepthwiseForwardTiles(kernel: kernel, bands: bands, block: block(perUnit * planeItems))
        }
        // Output rows whose input rows fit: ((bandRows − 1)·stride + 3)·inWidth ≤ limit.
        let fittingRows = (limit / g.inWidth - 3) / stride + 1
        let groupsBySharedMemory = fittingRows / rows
        guard limit / g.inWidth >= 3, groupsBySharedMemory >= 1 else { return nil }
        var groups = min(groupsBySharedMemory, max(1, target / (multiplier * colGroups)))
        var bandCount = (rowGroups + groups - 1) / groups
        groups = (rowGroups + bandCount - 1) / bandCount
        bandCount = (rowGroups + groups - 1) / groups
        let bandRows = groups * rows
        let floats = min(g.inHeight, (bandRows - 1) * stride + 3) * g.inWidth
        guard bases * bandCount < Int(Int32.max) else { return nil }
        let bands = DepthwiseBands(planesPerUnit: 1, bandRows: bandRows, bands: bandCount, units: bases * bandCount,
                                   sharedBytes: (floats + 15) / 4 * 16)
        return DepthwiseForwardTiles(kernel: kernel, bands: bands, block: block(multiplier * colGroups * groups))
    }

    /// Input floats one block of the small-plane forward kernel stages, by stride: the best of
    /// 1568–6272 on the H200 (scripts/kernel_lab/depthwise_lab.cu, 2026-12-04): 24 planes of
    /// 14 × 14 at stride 1, 8 at stride 2.
    private static func depthwisePlanesTarget(stride: Int) -> Int { stride == 1 ? 4704 : 1568 }

    /// Output segments one thread of the small-plane forward kernels computes (`DW_SEG`).
    private static let depthwiseSegment = 7

    /// The launch of `ck_dw3x3_planes_forward_s*` (`dw3x3_planes_forward` in Depthwise.cu): planes
    /// per block, blocks, threads per block and dynamic shared memory (staged inputs and outputs).
    private struct DepthwisePlanesLaunch {
        var planesPerUnit: Int
        var shape: LaunchShape
    }

    /// The small-plane forward launch of `g` (channel multiplier 1), or nil when one plane's input
    /// and output do not fit in 48 KiB of shared memory: as many planes a block as make about
    /// `depthwisePlanesTarget` input floats, but at least 4 blocks per multiprocessor.
    private func depthwisePlanesLaunch(_ g: Conv2dGeometry, stride: Int) -> DepthwisePlanesLaunch? {
        let planes = g.n * g.inChannels, inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        let segments = (g.outWidth + Self.depthwiseSegment - 1) / Self.depthwiseSegment
        guard g.outChannels == g.inChannels, planes * g.outHeight * segments < Int(Int32.max) else { return nil }
        func sharedBytes(_ perUnit: Int) -> Int { ((perUnit * inPlane + 3) / 4 + 1 + (perUnit * outPlane + 3) / 4 + 1) * 16 }
        var perUnit = max(1, Self.depthwisePlanesTarget(stride: stride) / max(1, inPlane))
        perUnit = min(perUnit, max(1, planes / (4 * multiprocessorCount)))
        while perUnit > 1 && sharedBytes(perUnit) > 48 * 1024 { perUnit -= 1 }
        guard sharedBytes(perUnit) <= 48 * 1024 else { return nil }
        let items = perUnit * g.outHeight * segments
        let block = min(256, max(32, (items + 31) / 32 * 32))
        return DepthwisePlanesLaunch(planesPerUnit: perUnit,
                                     shape: LaunchShape(grid: (planes + perUnit - 1) / perUnit, block: block,
                                                        sharedBytes: sharedBytes(perUnit)))
    }

    /// Column-strip items of a 3×3 fast kernel over `planes` output planes of `height` × `width`.
    private func depthwiseStripItems(planes: Int, height: Int, width: Int) -> Int {
        planes * ((height + Self.depthwiseRowsPerThread - 1) / Self.depthwiseRowsPerThread) * width
    }

    /// `output = conv(input, weight)` (no bias) with the depthwise algorithm: 3×3 filters with
    /// stride 1 or 2 take the shared-memory tile kernel (whole small planes or bands of rows
    /// staged per block, a thread per tile of 4 × 8/7/4 outputs, stride 2: 2 × 4; output planes
    /// below `depthwiseTileMinimumPlane` with multiplier 1: the small-plane kernel, inputs and
    /// outputs staged whole per block of planes, or for inputs under 10 × 10 at stride 1 its
    /// direct form; with a larger multiplier the band kernel, a thread per column of 8, or below
    /// `depthwiseBandMinimumPlane` the register-strip kernel, as before the tiles), or, for rows
    /// too wide to stage, the register-strip kernel (a thread per column of 8 outputs); others one
    /// thread per output element. Needs groups == input channels; output channels may be a
    /// multiple of them (channel multiplier), as the CPU's `DepthwiseConv`.
    func depthwiseConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        try checkDepthwise(g)
        if let stride = depthwise3x3Stride(g) {
            guard g.n * g.outChannels * g.outHeight * g.outWidth > 0 else { return }
            let small = g.outHeight * g.outWidth < Self.depthwiseTileMinimumPlane
            if small, g.outChannels == g.inChannels {
                let planes = g.n * g.inChannels
                let segments = (g.outWidth + Self.depthwiseSegment - 1) / Self.depthwiseSegment
                // Planes of a few rows (under 10 × 10) read straight from memory: 23 against 26 µs
                // staged on 128 × 1024 × 7 × 7.
                if stride == 1, g.inHeight * g.inWidth < Self.depthwiseBandMinimumPlane,
                   planes * g.outHeight * segments < Int(Int32.max) {
                    try launchElementwise(.depthwise, "ck_dw3x3_planes_forward_direct_s1", count: planes * g.outHeight * segments,
                                          [.storage(input), .storage(weight), .storage(output), g.algorithmKernelArgument])
                    return
                }
                if let launchPlan = depthwisePlanesLaunch(g, stride: stride) {
                    try launch(.depthwise, "ck_dw3x3_planes_forward_s\(stride)", launchPlan.shape,
                               [.storage(input), .storage(weight), .storage(output), g.algorithmKernelArgument,
                                .int(launchPlan.planesPerUnit)])
                    return
                }
            }
            if small, let bands = depthwiseBands(bases: g.n * g.inChannels, sourcesPerBase: 1, inHeight: g.inHeight,
                                                 inWidth: g.inWidth, outHeight: g.outHeight, stride: stride) {
                try launch(.depthwise, "ck_dw3x3_band_forward_s\(stride)",
                           LaunchShape(grid: bands.units, block: 256, sharedBytes: bands.sharedBytes),
                           [.storage(input), .storage(weight), .storage(output), g.algorithmKernelArgument] + bands.arguments)
                return
            }
            // Small planes the band kernels do not take (under `depthwiseBandMinimumPlane`) go to the strip kernel.
            if !small, let tiles = depthwiseForwardTiles(g, stride: stride) {
                try launch(.depthwise, tiles.kernel,
                           LaunchShape(grid: tiles.bands.units, block: tiles.block, sharedBytes: tiles.bands.sharedBytes),
                           [.storage(input), .storage(weight), .storage(output), g.algorithmKernelArgument]
                               + tiles.bands.arguments)
                return
            }
            let items = depthwiseStripItems(planes: g.n * g.outChannels, height: g.outHeight, width: g.outWidth)
            guard items > 0 else { return }
            try launchElementwise(.depthwise, "ck_dw3x3_forward_s\(stride)", count: items,
                                  [.storage(input), .storage(weight), .storage(output), g.algorithmKernelArgument])
            return
        }
        try launchElementwise(.depthwise, "ck_dw_forward", count: g.n * g.outChannels * g.outHeight * g.outWidth,
                              [.storage(input), .storage(weight), .storage(output), g.algorithmKernelArgument])
    }

    /// `gradInput = ∂L/∂input` with the depthwise algorithm: for 3×3 stride 1, the band kernel
    /// (or, where a unit does not fit in shared memory, the register-strip kernel) correlates the
    /// output gradient with the rotated filters; for 3×3 stride 2, a thread per input column strip
    /// gathers the taps of its stride phase (`ck_dw3x3_backward_input_s2`); otherwise one thread
    /// per input element gathers the outputs of its channel's filters that read it.
    func depthwiseConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        try checkDepthwise(g)
        let stride = depthwise3x3Stride(g)
        if stride == 1 {
            guard g.n * g.inChannels * g.inHeight * g.inWidth > 0 else { return }
            if let bands = depthwiseBands(bases: g.n * g.inChannels, sourcesPerBase: g.outChannels / g.inChannels,
                                          inHeight: g.outHeight, inWidth: g.outWidth, outHeight: g.inHeight, stride: 1) {
                let kernel = g.outChannels == g.inChannels ? "ck_dw3x3_band_backward_input_s1"
                                                           : "ck_dw3x3_band_backward_input_fan_s1"
                try launch(.depthwise, kernel,
                           LaunchShape(grid: bands.units, block: 256, sharedBytes: bands.sharedBytes),
                           [.storage(gradOutput), .storage(weight), .storage(gradInput), g.algorithmKernelArgument]
                               + bands.arguments)
                return
            }
            let items = depthwiseStripItems(planes: g.n * g.inChannels, height: g.inHeight, width: g.inWidth)
            guard items > 0 else { return }
            try launchElementwise(.depthwise, "ck_dw3x3_backward_input_s1", count: items,
                                  [.storage(gradOutput), .storage(weight), .storage(gradInput), g.algorithmKernelArgument])
            return
        }
        if stride == 2 {
            // (plane, strip of 8 rows starting at a row of padTop's parity, column parity, column).
            let rowStrips = (g.inHeight + g.padTop % 2 + Self.depthwiseRowsPerThread - 1) / Self.depthwiseRowsPerThread
            let items = g.n * g.inChannels * rowStrips * 2 * ((g.inWidth + 1) / 2)
            if items < Int(Int32.max) {
                guard items > 0 else { return }
                try launchElementwise(.depthwise, "ck_dw3x3_backward_input_s2", count: items,
                                      [.storage(gradOutput), .storage(weight), .storage(gradInput), g.algorithmKernelArgument])
                return
            }
        }
        try launchElementwise(.depthwise, "ck_dw_backward_input", count: g.n * g.inChannels * g.inHeight * g.inWidth,
                              [.storage(gradOutput), .storage(weight), .storage(gradInput), g.algorithmKernelArgument])
    }

    /// `gradWeight = ∂L/∂weight` with the depthwise algorithm. 3×3 with stride 1 or 2: a block per
    /// (output channel, chunk of images) accumulates all 9 taps from one read of the input and the
    /// output gradient, then the last block of each channel to finish adds the chunks in a fixed
    /// order (Float64) in the same launch (above `depthwiseArrivalSlots` channels a second kernel
    /// adds them). Otherwise one block per (output channel, tap) sums over images and positions
    /// (Float64, fixed order).
    func depthwiseConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        try checkDepthwise(g)
        if let stride = depthwise3x3Stride(g) {
            let count = g.outChannels * 9
            guard count > 0 else { return }
            guard g.n > 0, g.outHeight > 0, g.outWidth > 0 else {
                try fill(gradWeight, count: count, value: 0)
                return
            }
            let perImage = g.outHeight * g.outWidth
            var imagesPerChunk = min(g.n, max(1, Self.depthwiseWeightChunkTarget / perImage))
            imagesPerChunk = max(imagesPerChunk, (g.n + 65534) / 65535)
            let chunks = (g.n + imagesPerChunk - 1) / imagesPerChunk
            let partials = try workspace(floats: 2 * chunks * count)
            let folded = g.outChannels <= Self.depthwiseArrivalSlots
            try launch(.depthwise, "ck_dw3x3_weight_partials_s\(stride)",
                       LaunchShape(grid: (g.outChannels, chunks, 1), block: (256, 1, 1)),
                       [.storage(gradOutput), .storage(input), .storage(partials),
                        folded ? .storage(gradWeight) : .pointer(0), g.algorithmKernelArgument, .int(imagesPerChunk)])
            guard !folded else { return }
            try launchElementwise(.depthwise, "ck_dw3x3_weight_reduce", count: count,
                                  [.storage(partials), .storage(gradWeight), .int(count), .int(chunks)])
            return
        }
        let items = g.outChannels * g.kernelHeight * g.kernelWidth
        guard items > 0 else { return }
        try launch(.depthwise, "ck_dw_backward_weight", LaunchShape(grid: min(items, Int(Int32.max)), block: 256),
                   [.storage(gradOutput), .storage(input), .storage(gradWeight), g.algorithmKernelArgument])
    }

    /// Throws unless the depthwise kernels apply (groups == input channels, at least one channel).
    private func checkDepthwise(_ g: Conv2dGeometry) throws {
        guard DepthwiseConv.supports(g), g.outChannels % g.inChannels == 0 else {
            throw ConvKitError.invalidArgument(op: "conv2d", message:
                "algorithm depthwise needs groups == input channels, got groups \(g.groups) with \(g.inChannels) input channels")
        }
    }
}
