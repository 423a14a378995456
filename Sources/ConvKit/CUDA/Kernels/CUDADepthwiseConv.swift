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

    /// Column-strip items of a 3×3 fast kernel over `planes` output planes of `height` × `width`.
    private func depthwiseStripItems(planes: Int, height: Int, width: Int) -> Int {
        planes * ((height + Self.depthwiseRowsPerThread - 1) / Self.depthwiseRowsPerThread) * width
    }

    /// `output = conv(input, weight)` (no bias) with the depthwise algorithm: 3×3 filters with
    /// stride 1 or 2 take the register-strip kernel (a thread per column of 8 outputs), others one
    /// thread per output element. Needs groups == input channels; output channels may be a
    /// multiple of them (channel multiplier), as the CPU's `DepthwiseConv`.
    func depthwiseConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        try checkDepthwise(g)
        if let stride = depthwise3x3Stride(g) {
            let items = depthwiseStripItems(planes: g.n * g.outChannels, height: g.outHeight, width: g.outWidth)
            guard items > 0 else { return }
            try launchElementwise(.depthwise, "ck_dw3x3_forward_s\(stride)", count: items,
                                  [.storage(input), .storage(weight), .storage(output), g.algorithmKernelArgument])
            return
        }
        try launchElementwise(.depthwise, "ck_dw_forward", count: g.n * g.outChannels * g.outHeight * g.outWidth,
                              [.storage(input), .storage(weight), .storage(output), g.algorithmKernelArgument])
    }

    /// `gradInput = ∂L/∂input` with the depthwise algorithm: for 3×3 stride 1, the register-strip
    /// kernel correlates the output gradient with the rotated filters; for 3×3 stride 2, a thread
    /// per input column strip gathers the taps of its stride phase (`ck_dw3x3_backward_input_s2`);
    /// otherwise one thread per input element gathers the outputs of its channel's filters that read it.
    func depthwiseConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        try checkDepthwise(g)
        let stride = depthwise3x3Stride(g)
        if stride == 1 {
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
    /// output gradient, then the chunks are added in order (Float64). Otherwise one block per
    /// (output channel, tap) sums over images and positions (Float64, fixed order).
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
            try launch(.depthwise, "ck_dw3x3_weight_partials_s\(stride)",
                       LaunchShape(grid: (g.outChannels, chunks, 1), block: (256, 1, 1)),
                       [.storage(gradOutput), .storage(input), .storage(partials), g.algorithmKernelArgument,
                        .int(imagesPerChunk)])
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
