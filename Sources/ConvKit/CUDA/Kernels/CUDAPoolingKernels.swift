/// The CUDA PoolingKernels: one thread per destination element (grid-stride), backward passes
/// as gathers in the CPU's order, so results match `CPUBackend` (see `Pooling.cu`).
extension CUDABackend: PoolingKernels {
    /// The kernel code of a padding mode (`ck_pool_pad_source` in `Pooling.cu`).
    private static func padModeCode(_ mode: PadMode) -> Int {
        switch mode {
        case .constant: return 0
        case .reflect: return 1
        case .replicate: return 2
        case .circular: return 3
        }
    }

    /// The arguments every padding kernel takes after its pointers.
    private static func padArguments(_ g: PadGeometry) -> [KernelArgument] {
        [.int(g.planes), .int(g.inputHeight), .int(g.inputWidth), .int(g.top), .int(g.bottom),
         .int(g.left), .int(g.right), .int(padModeCode(g.mode))]
    }

    /// The plane and size arguments of a pooling kernel, after its pointers.
    private static func planeArguments(_ g: Pool2dGeometry) -> [KernelArgument] {
        [.int(g.planes), .int(g.inputHeight), .int(g.inputWidth), .int(g.outputHeight), .int(g.outputWidth)]
    }

    /// The window arguments of a pooling kernel: kernel, stride, padding (and dilation).
    private static func windowArguments(_ g: Pool2dGeometry, dilation: Bool) -> [KernelArgument] {
        var arguments: [KernelArgument] = [.int(g.kernel.h), .int(g.kernel.w), .int(g.stride.h), .int(g.stride.w),
                                           .int(g.padding.h), .int(g.padding.w)]
        if dilation { arguments += [.int(g.dilation.h), .int(g.dilation.w)] }
        return arguments
    }

    /// The divisor arguments of the average-pooling kernels.
    private static func divisorArguments(_ divisor: AvgPoolDivisor) -> [KernelArgument] {
        [.flag(divisor.countIncludePad), .flag(divisor.override != nil), .int(divisor.override ?? 1)]
    }

    /// `PoolingKernels.pad2d`: one thread per output cell.
    public func pad2d(_ input: Storage, output: Storage, geometry g: PadGeometry) throws {
        guard g.planes > 0 && g.outputHeight > 0 && g.outputWidth > 0 else { return }
        try launchElementwise(.pooling, "ck_pool_pad2d", count: g.planes * g.outputHeight * g.outputWidth,
                              [.storage(input), .storage(output)] + Self.padArguments(g) + [.float(g.value)])
    }

    /// `PoolingKernels.pad2dBackward`: one thread per input cell, gathering its copies.
    public func pad2dBackward(_ gradOutput: Storage, gradInput: Storage, geometry g: PadGeometry) throws {
        guard g.planes > 0 && g.inputHeight > 0 && g.inputWidth > 0 else { return }
        try launchElementwise(.pooling, "ck_pool_pad2d_backward", count: g.planes * g.inputHeight * g.inputWidth,
                              [.storage(gradOutput), .storage(gradInput)] + Self.padArguments(g))
    }

    /// Floats of shared memory a forward band may stage (24 KiB; one output row may take 48 KiB).
    private static let bandStageFloats = 6144, bandStageLimit = 12288

    /// Input rows that `outputRows` output rows of `g` read (at most the input's height).
    private static func bandInputRows(_ g: Pool2dGeometry, outputRows: Int) -> Int {
        min(g.inputHeight, (outputRows - 1) * g.stride.h + (g.kernel.h - 1) * g.dilation.h + 1)
    }

    /// Output rows per block of `ck_pool_max2d_band`, or nil when one output row's input rows do
    /// not fit in shared memory (the per-window kernel runs).
    private static func forwardBandRows(_ g: Pool2dGeometry) -> Int? {
        // The kernel's 32-bit window arithmetic: strides, spans and padding well inside Int32.
        let small = 1 << 16
        guard g.stride.h <= small, g.stride.w <= small, (g.kernel.h - 1) * g.dilation.h <= small,
              (g.kernel.w - 1) * g.dilation.w <= small, g.padding.h <= small, g.padding.w <= small,
              bandInputRows(g, outputRows: 1) * g.inputWidth + 8 <= bandStageLimit else { return nil }
        var rows = 1
        while rows < g.outputHeight && bandInputRows(g, outputRows: rows + 1) * g.inputWidth + 8 <= bandStageFloats { rows += 1 }
        return rows
    }

    /// Whether the compact argmax applies: taps numbered in a byte, the forward band kernel, and
    /// column tables of the backward kernel within 32 KiB.
    private static func compactArgmaxApplies(_ g: Pool2dGeometry) -> Bool {
        g.kernel.h * g.kernel.w <= 255 && g.inputWidth <= 4096 && forwardBandRows(g) != nil
    }

    /// `PoolingKernels.maxPool2dCompactArgmax`: a byte per window where the band kernels apply.
    public func maxPool2dCompactArgmax(geometry g: Pool2dGeometry) throws -> Storage? {
        guard Self.compactArgmaxApplies(g), g.planes * g.outputPlaneSize > 0 else { return nil }
        return try workspace(floats: (g.planes * g.outputPlaneSize + 3) / 4)
    }

    /// `PoolingKernels.maxPool2d`: one thread per window, scanning it in row-major order.
    public func maxPool2d(_ input: Storage, output: Storage, indices: Storage?, geometry g: Pool2dGeometry) throws {
        try maxPool2d(input, output: output, indices: indices, compactArgmax: nil, geometry: g)
    }

    /// `PoolingKernels.maxPool2d(…compactArgmax:…)`: bands of output rows with their input rows
    /// staged in shared memory (`ck_pool_max2d_band`), or one thread per window for planes too
    /// wide for that.
    public func maxPool2d(_ input: Storage, output: Storage, indices: Storage?, compactArgmax: Storage?,
                          geometry g: Pool2dGeometry) throws {
        guard g.planes * g.outputPlaneSize > 0 else { return }
        if Self.isVectorK2S2(g), input.deviceAddress % 16 == 0, output.deviceAddress % 16 == 0,
           (indices?.deviceAddress ?? 0) % 16 == 0 {
            try launch(.pooling, "ck_pool_max2d_k2s2_vec4",
                       LaunchShape(grid: gridSize(g.planes * g.outputPlaneSize / 4), block: 256),
                       [.storage(input), .storage(output), .optional(indices), .optional(compactArgmax)]
                        + Self.planeArguments(g))
            return
        }
        if let bandRows = Self.forwardBandRows(g) {
            let bands = (g.outputHeight + bandRows - 1) / bandRows
            let staged = Self.bandInputRows(g, outputRows: bandRows) * g.inputWidth
            let shared = ((staged + 3) / 4 + 1) * 16
            if let window = Self.fixedWindow(g) {
                // k3 s2 as column strips (Pooling.cu, ck_pool_max2d_strips): the same outputs, fewer instructions a window.
                let kernel = window == "k3s2" ? "ck_pool_max2d_strips_k3s2" : "ck_pool_max2d_band_\(window)"
                try launch(.pooling, kernel,
                           LaunchShape(grid: min(g.planes * bands, 1 << 24), block: 256, sharedBytes: shared),
                           [.storage(input), .storage(output), .optional(indices), .optional(compactArgmax)]
                            + Self.planeArguments(g) + [.int(g.padding.h), .int(g.padding.w), .int(bandRows), .int(bands)])
                return
            }
            try launch(.pooling, "ck_pool_max2d_band",
                       LaunchShape(grid: min(g.planes * bands, 1 << 24), block: 256, sharedBytes: shared),
                       [.storage(input), .storage(output), .optional(indices), .optional(compactArgmax)]
                        + Self.planeArguments(g) + Self.windowArguments(g, dilation: true) + [.int(bandRows), .int(bands)])
            return
        }
        guard compactArgmax == nil else {
            throw ConvKitError.unsupported(op: "maxPool2d", message: "no compact argmax for input planes of width \(g.inputWidth)")
        }
        try launchElementwise(.pooling, "ck_pool_max2d", count: g.planes * g.outputPlaneSize,
                              [.storage(input), .storage(output), .optional(indices)] + Self.planeArguments(g)
                                + Self.windowArguments(g, dilation: true))
    }

    /// `PoolingKernels.maxPool2dBackward(…compactArgmax:…)`: for k2 s2 without padding on rows
    /// of a multiple of 8, a thread per 8 cells of a row (each cell lies in one window); otherwise
    /// a block per band of input rows, each cell gathering the windows over it whose argmax byte
    /// names it: with dilation 1 and at most two candidate windows per dimension (k3 s2, k2 s2)
    /// from the band's gradients and argmax bytes staged in shared memory
    /// (`ck_pool_max2d_backward_staged2`), otherwise from global memory (`ck_pool_max2d_backward_compact`).
    public func maxPool2dBackward(_ gradOutput: Storage, compactArgmax: Storage, gradInput: Storage,
                                  geometry g: Pool2dGeometry) throws {
        guard g.planes * g.inputPlaneSize > 0 else { return }
        if Self.isVectorK2S2(g), gradOutput.deviceAddress % 16 == 0, gradInput.deviceAddress % 16 == 0 {
            try launch(.pooling, "ck_pool_max2d_backward_k2s2_vec4",
                       LaunchShape(grid: gridSize(g.planes * g.inputPlaneSize / 8), block: 256),
                       [.storage(gradOutput), .storage(compactArgmax), .storage(gradInput)] + Self.planeArguments(g))
            return
        }
        let bandRows = max(1, min(g.inputHeight, 4096 / g.inputWidth))
        let twoCandidates = g.dilation.h == 1 && g.dilation.w == 1
            && (g.kernel.h + g.stride.h - 1) / g.stride.h <= 2 && (g.kernel.w + g.stride.w - 1) / g.stride.w <= 2
        guard twoCandidates else {
            let bands = (g.inputHeight + bandRows - 1) / bandRows
            try launch(.pooling, "ck_pool_max2d_backward_compact",
                       LaunchShape(grid: min(g.planes * bands, 1 << 24), block: 256, sharedBytes: 8 * (g.inputWidth + bandRows)),
                       [.storage(gradOutput), .storage(compactArgmax), .storage(gradInput)] + Self.planeArguments(g)
                        + Self.windowArguments(g, dilation: true) + [.int(bandRows), .int(bands)])
            return
        }
        // The most windows (whole output rows) whose gradients a band reads: with two candidates
        // and bandRows · inputWidth ≤ 4096, about 8192 at most (72 KiB of shared memory).
        let windows = min(g.outputHeight, (bandRows - 1 + g.kernel.h - 1) / g.stride.h + 1) * g.outputWidth
        let bands = (g.inputHeight + bandRows - 1) / bandRows
        let shared = 8 * ((g.inputWidth + bandRows + 1) & ~1) + 16 * ((windows + 3) / 4 + 1) + 16 * ((windows + 18) / 16 + 2)
        try launch(.pooling, "ck_pool_max2d_backward_staged2",
                   LaunchShape(grid: min(g.planes * bands, 1 << 24), block: 256, sharedBytes: shared),
                   [.storage(gradOutput), .storage(compactArgmax), .storage(gradInput)] + Self.planeArguments(g)
                    + Self.windowArguments(g, dilation: false) + [.int(bandRows), .int(bands), .int(windows)])
    }

    /// Whether the non-overlapping k2 s2 kernels apply: a 2×2 window with stride 2, no padding and
    /// dilation 1, rows of a multiple of 8 floats, and no partial window (16-byte loads and stores).
    private static func isVectorK2S2(_ g: Pool2dGeometry) -> Bool {
        g.kernel.h == 2 && g.kernel.w == 2 && g.stride.h == 2 && g.stride.w == 2 && g.padding.h == 0 && g.padding.w == 0
            && g.dilation.h == 1 && g.dilation.w == 1 && g.inputWidth % 8 == 0 && g.outputWidth * 2 == g.inputWidth
            && g.outputHeight * 2 <= g.inputHeight
    }

    /// The suffix of the band kernel unrolled for `g`'s window (`k3s2`: a 3×3 window with stride
    /// 2 and dilation 1), or nil for windows without one.
    private static func fixedWindow(_ g: Pool2dGeometry) -> String? {
        guard g.kernel.h == g.kernel.w, g.stride.h == g.stride.w, g.dilation.h == 1, g.dilation.w == 1 else { return nil }
        let window = "k\(g.kernel.h)s\(g.stride.h)"
        return ["k2s2", "k3s2", "k3s1"].contains(window) ? window : nil
    }

    /// `PoolingKernels.maxPool2dBackward`: one thread per input cell, gathering from the windows over it.
    public func maxPool2dBackward(_ gradOutput: Storage, indices: Storage, gradInput: Storage,
                                  geometry g: Pool2dGeometry) throws {
        try launchElementwise(.pooling, "ck_pool_max2d_backward", count: g.planes * g.inputPlaneSize,
                              [.storage(gradOutput), .storage(indices), .storage(gradInput)] + Self.planeArguments(g)
                                + Self.windowArguments(g, dilation: true))
    }

    /// `PoolingKernels.avgPool2d`: one thread per window.
    public func avgPool2d(_ input: Storage, output: Storage, geometry g: Pool2dGeometry, divisor: AvgPoolDivisor) throws {
        try launchElementwise(.pooling, "ck_pool_avg2d", count: g.planes * g.outputPlaneSize,
                              [.storage(input), .storage(output)] + Self.planeArguments(g)
                                + Self.windowArguments(g, dilation: false) + Self.divisorArguments(divisor))
    }

    /// `PoolingKernels.avgPool2dBackward`: one thread per input cell, gathering the windows' shares.
    public func avgPool2dBackward(_ gradOutput: Storage, gradInput: Storage, geometry g: Pool2dGeometry,
                                  divisor: AvgPoolDivisor) throws {
        try launchElementwise(.pooling, "ck_pool_avg2d_backward", count: g.planes * g.inputPlaneSize,
                              [.storage(gradOutput), .storage(gradInput)] + Self.planeArguments(g)
                                + Self.windowArguments(g, dilation: false) + Self.divisorArguments(divisor))
    }

    /// `PoolingKernels.adaptiveAvgPool2d`: one thread per output cell.
    public func adaptiveAvgPool2d(_ input: Storage, output: Storage, geometry g: Pool2dGeometry) throws {
        try launchElementwise(.pooling, "ck_pool_adaptive_avg2d", count: g.planes * g.outputPlaneSize,
                              [.storage(input), .storage(output)] + Self.planeArguments(g))
    }

    /// `PoolingKernels.adaptiveAvgPool2dBackward`: one thread per input cell.
    public func adaptiveAvgPool2dBackward(_ gradOutput: Storage, gradInput: Storage, geometry g: Pool2dGeometry) throws {
        try launchElementwise(.pooling, "ck_pool_adaptive_avg2d_backward", count: g.planes * g.inputPlaneSize,
                              [.storage(gradOutput), .storage(gradInput)] + Self.planeArguments(g))
    }

    /// `PoolingKernels.maxUnpool2d`: validates every index first (one small download), then
    /// picks each output cell's latest input with integer `atomicMax` and gathers the values, so
    /// duplicates resolve deterministically as on the CPU.
    public func maxUnpool2d(_ input: Storage, indices: Storage, output: Storage, geometry g: Pool2dGeometry) throws {
        let inPlane = g.inputPlaneSize, outPlane = g.outputPlaneSize
        let count = g.planes * inPlane
        if count > 0 {
            // [lowest bad position, its index] as two UInt64s, preset to all ones.
            let status = try workspace(floats: 4)
            try fill(status, count: 4, value: Float(bitPattern: UInt32.max))
            try launchElementwise(.pooling, "ck_pool_unpool_check", count: count,
                                  [.storage(indices), .storage(status), .int(count), .int(outPlane)])
            try launch(.pooling, "ck_pool_unpool_fetch", LaunchShape(grid: 1, block: 1), [.storage(indices), .storage(status)])
            var found = [UInt64](repeating: 0, count: 2)
            try found.withUnsafeMutableBytes { try download(status, into: $0) }
            if found[0] != UInt64.max {
                let index = Int32(truncatingIfNeeded: found[1])
                throw ConvKitError.invalidArgument(
                    op: "maxUnpool2d",
                    message: "index \(index) at flat position \(found[0]) is outside the output plane of \(g.outputHeight)x\(g.outputWidth) (valid: 0..<\(outPlane))")
            }
        }
        let outCount = g.planes * outPlane
        guard outCount > 0 else { return }
        let winner = try workspace(floats: outCount)
        try fill(winner, count: outCount, value: Float(bitPattern: UInt32.max))  // int32 -1: no input yet
        try launchElementwise(.pooling, "ck_pool_unpool_claim", count: count,
                              [.storage(indices), .storage(winner), .int(g.planes), .int(inPlane), .int(outPlane)])
        try launchElementwise(.pooling, "ck_pool_unpool_write", count: outCount,
                              [.storage(input), .storage(winner), .storage(output), .int(g.planes), .int(inPlane),
                               .int(outPlane)])
    }

    /// `PoolingKernels.maxUnpool2dBackward`: one thread per input cell reading `dY` at its index.
    public func maxUnpool2dBackward(_ gradOutput: Storage, indices: Storage, gradInput: Storage,
                                    geometry g: Pool2dGeometry) throws {
        try launchElementwise(.pooling, "ck_pool_unpool_backward", count: g.planes * g.inputPlaneSize,
                              [.storage(gradOutput), .storage(indices), .storage(gradInput), .int(g.planes),
                               .int(g.inputPlaneSize), .int(g.outputPlaneSize)])
    }
}
