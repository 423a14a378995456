/// The CUDA convolution kernels: a dispatcher over the algorithms (each in its own file beside
/// its `.cu`). Each algorithm computes the bias-free convolution and its two gradients; the bias
/// and its gradient are done here, once, for all of them.
extension CUDABackend: ConvolutionKernels {
    /// `.auto` → `.depthwise` for depthwise layers, otherwise `.im2colGEMM` (cuBLAS does the work;
    /// X̂ is built in chunks of images that fit a bounded workspace).
    ///
    /// Beyond that resolution, `.auto` runs stride-1 3×3 and 5×5 layers on planes of up to four
    /// frames of 32 (60 × 60 for 3×3), with at least `fftMinimumChannels` channels each way, with
    /// `.fft` (`runsOnFFT`), the other 3×3 and 5×5 stride-1 layers of at least
    /// `winogradMinimumChannels` channels each way with `.winograd` (`runsOnWinograd`; the TF32
    /// weight gradient from `winogradMinimumChannelsTF32WeightGradient`), and
    /// `.auto` and `.implicitGEMM` run the forward pass, the input
    /// gradient of stride-1 layers and the weight gradient on tensor cores (`.auto` the two
    /// gradients from `tensorCoreMinimumGradientOutputChannels` output channels)
    /// (`CUDATensorCoreConv.swift`: 3xTF32 in strict fp32, 1xTF32 with `allowTF32`; see
    /// `runsOnTensorCores`); `.implicitGEMM` runs the rest on the CUDA-core kernels
    /// (`CUDAImplicitGEMMConv.swift`), `.auto` on im2col, except the input gradient of a strided
    /// layer with 1-4 input channels, which `.auto` runs on `fewChannelsConvBackwardInput`.
    /// Ahead of all of these, with `allowTF32` on a Hopper GPU, the forward pass and stride-1
    /// input gradient of 3×3 layers (`.auto`) or of every supported layer (`.implicitGEMM`) run on
    /// the warpgroup tensor cores (`runsOnWarpgroupTensorCores`, `CUDAWGMMAConv.swift`).
    public func resolvedConvAlgorithm(_ algorithm: ConvAlgorithm, geometry g: Conv2dGeometry) -> ConvAlgorithm {
        guard algorithm == .auto else { return algorithm }
        return g.isDepthwise ? .depthwise : .im2colGEMM
    }

    public func conv2dForward(input: Storage, weight: Storage, bias: Storage?, output: Storage,
                              geometry g: Conv2dGeometry, algorithm: ConvAlgorithm) throws {
        let count = g.n * g.outChannels * g.outHeight * g.outWidth
        guard count > 0 else { return }
        if g.inChannels == 0 {
            try fill(output, count: count, value: 0)
        } else if runsOnWarpgroupTensorCores(algorithm, g, pass: .forward) {
            try wgmmaConvForward(input: input, weight: weight, bias: bias, output: output, geometry: g)
            return
        } else if runsOnFFT(algorithm, g) {
            // The FFT's inverse transform and the tensor-core kernel add the bias as they write
            // the output: one pass over it fewer.
            try fftConvForward(input: input, weight: weight, bias: bias, output: output, geometry: g)
            return
        } else if runsOnWinograd(algorithm, g, pass: .forward) {
            try winogradConvForward(input: input, weight: weight, output: output, geometry: g)
        } else if runsOnTensorCores(algorithm, g, pass: .forward) {
            try tensorCoreConvForward(input: input, weight: weight, bias: bias, output: output, geometry: g)
            return
        } else {
            switch try checkedAlgorithm(algorithm, g) {
            case .direct: try directConvForward(input: input, weight: weight, output: output, geometry: g)
            case .im2colGEMM: try im2colConvForward(input: input, weight: weight, output: output, geometry: g)
            case .implicitGEMM: try implicitGEMMConvForward(input: input, weight: weight, output: output, geometry: g)
            case .depthwise: try depthwiseConvForward(input: input, weight: weight, output: output, geometry: g)
            case .winograd: try winogradConvForward(input: input, weight: weight, output: output, geometry: g)
            case .fft:
                try fftConvForward(input: input, weight: weight, bias: bias, output: output, geometry: g)
                return
            case .sparseMatrix: try sparseMatrixConvForward(input: input, weight: weight, output: output, geometry: g)
            case .auto: preconditionFailure("auto is resolved by checkedAlgorithm")
            }
        }
        if let bias {
            try addChannelBias(bias, to: output, n: g.n, channels: g.outChannels, spatial: g.outHeight * g.outWidth)
        }
    }

    public func conv2dBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage,
                                    geometry g: Conv2dGeometry, algorithm: ConvAlgorithm) throws {
        let count = g.n * g.inChannels * g.inHeight * g.inWidth
        guard count > 0 else { return }
        if g.outHeight * g.outWidth == 0 { try fill(gradInput, count: count, value: 0); return }
        if runsOnWarpgroupTensorCores(algorithm, g, pass: .input) {
            try wgmmaConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
            return
        }
        if runsOnFFT(algorithm, g) {
            try fftConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
            return
        }
        if runsOnWinograd(algorithm, g, pass: .input) {
            try winogradConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
            return
        }
        if runsOnTensorCores(algorithm, g, pass: .input) {
            try tensorCoreConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
            return
        }
        if algorithm == .auto && Self.fewChannelsBackwardInputSupports(g) {
            try fewChannelsConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
            return
        }
        switch try checkedAlgorithm(algorithm, g) {
        case .direct: try directConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
        case .im2colGEMM: try im2colConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
        case .implicitGEMM: try implicitGEMMConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
        case .depthwise: try depthwiseConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
        case .winograd: try winogradConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
        case .fft: try fftConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
        case .sparseMatrix: try sparseMatrixConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
        case .auto: preconditionFailure("auto is resolved by checkedAlgorithm")
        }
    }

    public func conv2dBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage,
                                     geometry g: Conv2dGeometry, algorithm: ConvAlgorithm) throws {
        let count = g.outChannels * g.patchSize
        guard count > 0 else { return }
        if g.n * g.outHeight * g.outWidth == 0 { try fill(gradWeight, count: count, value: 0); return }
        if runsOnFFT(algorithm, g) {
            try fftConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
            return
        }
        if runsOnWinograd(algorithm, g, pass: .weight) {
            try winogradConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
            return
        }
        if runsOnTensorCores(algorithm, g, pass: .weight) {
            try tensorCoreConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
            return
        }
        switch try checkedAlgorithm(algorithm, g) {
        case .direct: try directConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
        case .im2colGEMM: try im2colConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
        case .implicitGEMM: try implicitGEMMConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
        case .depthwise: try depthwiseConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
        case .winograd: try winogradConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
        case .fft: try fftConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
        case .sparseMatrix: try sparseMatrixConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
        case .auto: preconditionFailure("auto is resolved by checkedAlgorithm")
        }
    }

    /// Adds `bias[c]` to every element of channel `c` (`ck_conv_add_channel_bias`, one thread per element).
    public func addChannelBias(_ bias: Storage, to output: Storage, n: Int, channels: Int, spatial: Int) throws {
        let total = n * channels * spatial
        guard total > 0 else { return }
        try launchElementwise(.convolution, "ck_conv_add_channel_bias", count: total,
                              [.storage(output), .storage(bias), .int(total), .int(channels), .int(spatial)])
    }

    /// Sums each channel over images and positions, Float32 per plane and Float64 across planes
    /// as the CPU: large planes, or fewer channels than multiprocessors, a block per plane into
    /// per-plane sums, which a block per channel adds (`ck_conv_bias_plane_sums`,
    /// `ck_conv_bias_sum_planes`); small planes of many channels a warp each, one block per
    /// channel (`ck_conv_bias_grad_warp`: a block per channel alone would leave most of the GPU
    /// idle, 69 µs for LeNet conv1's 6 channels of 256 × 28 × 28 under Nsight Compute).
    public func channelBiasGradient(gradOutput: Storage, gradBias: Storage, n: Int, channels: Int, spatial: Int) throws {
        guard channels > 0 else { return }
        if n * spatial == 0 { try fill(gradBias, count: channels, value: 0); return }
        guard spatial >= Self.biasGradientBlockPlane || channels < multiprocessorCount else {
            try launch(.convolution, "ck_conv_bias_grad_warp", LaunchShape(grid: min(channels, 1 << 16), block: 256),
                       [.storage(gradOutput), .storage(gradBias), .int(n), .int(channels), .int(spatial)])
            return
        }
        let planes = n * channels, planeSums = try workspace(floats: planes)
        try launch(.convolution, "ck_conv_bias_plane_sums", LaunchShape(grid: min(planes, multiprocessorCount * 16), block: 256),
                   [.storage(gradOutput), .storage(planeSums), .int(planes), .int(spatial)])
        try launch(.convolution, "ck_conv_bias_sum_planes", LaunchShape(grid: min(channels, 1 << 16), block: 256),
                   [.storage(planeSums), .storage(gradBias), .int(n), .int(channels)])
    }

    /// Planes at least this large are summed by a whole block in the bias gradient, smaller ones by a warp.
    static let biasGradientBlockPlane = 1024

    /// The three passes of a convolution, for `runsOnTensorCores`.
    private enum ConvPass { case forward, input, weight }

    /// Whether `algorithm` runs `pass` on tensor cores: `.implicitGEMM` wherever the tensor-core
    /// kernel supports the geometry (the input gradient: stride-1 layers), and `.auto` likewise
    /// for every layer but a depthwise one. Measured on the H200 (BENCHMARKS.md), the tensor-core
    /// forward pass and stride-1 input gradient beat im2col + cuBLAS on all six benchmark layers,
    /// in strict fp32 (3xTF32 against cuBLAS SGEMM) and in TF32.
    /// `.auto` leaves the gradients of layers with fewer output channels than
    /// `tensorCoreMinimumGradientOutputChannels` to im2col.
    private func runsOnTensorCores(_ algorithm: ConvAlgorithm, _ g: Conv2dGeometry, pass: ConvPass) -> Bool {
        guard algorithm == .implicitGEMM || (algorithm == .auto && !g.isDepthwise) else { return false }
        let narrow = algorithm == .auto && g.outChannels < Self.tensorCoreMinimumGradientOutputChannels
        switch pass {
        case .forward: return Self.tensorCoreConvSupports(g)
        case .input: return !narrow && Self.tensorCoreConvSupportsBackwardInput(g)
        case .weight: return !narrow && Self.tensorCoreConvSupportsBackwardWeight(g)
        }
    }

    /// Whether `algorithm` runs `pass` (the forward pass or the input gradient) with TF32 on
    /// Hopper's warpgroup tensor cores (`CUDAWGMMAConv.swift`): only with `allowTF32` on a
    /// compute capability 9.0 GPU, for geometries the kernel supports (one group, input channels
    /// of the GEMM a multiple of 32; the input gradient of stride-1 layers). `.implicitGEMM` takes
    /// it for every such layer; `.auto` for 3×3 layers, where it beat the FFT, Winograd and the
    /// `mma.sync` kernels on all ten benchmark passes on the H200 (BENCHMARKS.md, 2026-12-04;
    /// AlexNet's 5×5 conv2 stays on the FFT, which was as fast forward and faster backward).
    private func runsOnWarpgroupTensorCores(_ algorithm: ConvAlgorithm, _ g: Conv2dGeometry, pass: ConvPass) -> Bool {
        guard allowTF32, hasWarpgroupTensorCores else { return false }
        switch algorithm {
        case .implicitGEMM: break
        case .auto where !g.isDepthwise && g.kernelHeight == 3 && g.kernelWidth == 3: break
        default: return false
        }
        switch pass {
        case .forward: return Self.wgmmaConvSupports(g)
        case .input: return Self.wgmmaConvSupportsBackwardInput(g)
        case .weight: return false
        }
    }

    /// Fewest output channels for which `.auto` runs a layer's gradients on tensor cores (its
    /// forward pass runs there at any width). The kernels' output tiles are 64 channels wide:
    /// LeNet-5's layers (6 and 16 output channels, batch 256) took, input gradient and weight
    /// gradient, 0.140 / 0.149 and 0.111 / 0.095 ms on them against im2col's 0.052 / 0.125 and
    /// 0.055 / 0.087 ms on the H200 (`lenet-layer` cases of `convkit bench`, 2026-12-04), while
    /// the tensor cores won from 64 channels (AlexNet's layers). 32 lies between, not measured.
    static let tensorCoreMinimumGradientOutputChannels = 32

    /// Fewest input and output channels for which `.auto` runs a 3×3 or 5×5 stride-1 layer with
    /// Winograd. Measured on the H200 (BENCHMARKS.md, 2026-12-03): at 64-384 channels Winograd's
    /// 3×3 forward pass and input gradient beat the tensor-core kernels in strict fp32 (1.2-2.2×)
    /// and in TF32 (1.05-2.2×), and its 5×5 passes (AlexNet conv2, 64 → 192) in strict fp32
    /// (1.5-1.8×). With fewer channels the transforms' memory traffic is expected to outweigh the
    /// multiplications saved (not measured).
    static let winogradMinimumChannels = 64
    /// The same for the weight gradient with TF32 allowed: at 64 × 64 channels (56 × 56) the
    /// tensor-core kernel took 0.64 ms against Winograd's 0.95; at 192-384 Winograd won (1.2-1.6×).
    static let winogradMinimumChannelsTF32WeightGradient = 128

    /// Whether `.auto` runs `pass` of `g` with Winograd (F(2×2, 3×3) or F(2×2, 5×5)). With TF32
    /// allowed, 5×5 layers stay on the tensor cores: F(2×2, 5×5) multiplies in strict fp32 (see
    /// `withWinogradPrecision`), no faster there (AlexNet conv2 on the H200: 1.16 / 1.00 / 1.30 ms
    /// against the TF32 tensor-core kernel's 1.13 / 1.10 / 1.40).
    private func runsOnWinograd(_ algorithm: ConvAlgorithm, _ g: Conv2dGeometry, pass: ConvPass) -> Bool {
        if allowTF32 && g.kernelHeight == 5 { return false }
        let minimum = pass == .weight && allowTF32 ? Self.winogradMinimumChannelsTF32WeightGradient : Self.winogradMinimumChannels
        return algorithm == .auto && WinogradTiling.supports(g) && min(g.inChannels, g.outChannels) >= minimum
    }

    /// Fewest input and output channels for which `.auto` runs a layer with `.fft`.
    static let fftMinimumChannels = 64

    /// Whether `.auto` runs every pass of `g` with the FFT convolution: a 3×3 or 5×5 layer `.fft`
    /// runs here (`fftRuns`) in frames of 16 or 32, at most `fftMostAutoFrames` per plane, with
    /// at least `fftMinimumChannels` channels each way. Measured on the H200 (BENCHMARKS.md,
    /// 2026-12-03, FFT section): on AlexNet conv2 (27 × 27, 5 × 5, one frame of 32) 0.43 / 0.36 /
    /// 0.37 ms (forward, input gradient, weight gradient) against Winograd's 1.14 / 1.00 / 1.30 in
    /// strict fp32 and 0.33 / 0.27 / 0.29 against the tensor cores' 1.13 / 1.13 / 1.41 in TF32; on
    /// the 13 × 13 and 14 × 14 layers (one frame of 16, 192-384 channels) it beat Winograd in every
    /// pass, 1.0-1.6×, in both precisions; on 64 → 64 at 56 × 56 (2 × 2 frames of 32) 0.73 / 0.73 /
    /// 0.60 against Winograd's 0.80 / 0.79 / 1.02 (fp32) and 0.56 / 0.58 / 0.49 against 0.57 / 0.57
    /// / 0.95 (TF32). Other kernels (1×1 is a plain GEMM), larger planes and frames of 8 are not
    /// measured and stay on the other algorithms.
    private func runsOnFFT(_ algorithm: ConvAlgorithm, _ g: Conv2dGeometry) -> Bool {
        guard algorithm == .auto, g.kernelHeight == g.kernelWidth, g.kernelHeight == 3 || g.kernelHeight == 5,
              min(g.inChannels, g.outChannels) >= Self.fftMinimumChannels,
              let frame = FFTConvTiling.frameSize(g), frame >= 16,
              FFTConvTiling.framesPerPlane(g) <= Self.fftMostAutoFrames
        else { return false }
        return fftRuns(g)
    }

    /// Most frames per plane for which `.auto` takes the FFT (4: planes up to 60 × 60 with 3×3).
    static let fftMostAutoFrames = 4

    /// Resolves `.auto` and rejects an algorithm that cannot run this geometry.
    private func checkedAlgorithm(_ algorithm: ConvAlgorithm, _ g: Conv2dGeometry) throws -> ConvAlgorithm {
        let resolved = resolvedConvAlgorithm(algorithm, geometry: g)
        if resolved == .depthwise && g.groups != g.inChannels {
            throw ConvKitError.invalidArgument(op: "conv2d", message:
                "algorithm depthwise needs groups == input channels, got groups \(g.groups) with \(g.inChannels) input channels")
        }
        return resolved
    }
}

extension KernelArgument {
    /// The sizes of a convolution as the `CkConvShape` struct of Convolution.cu (16 `long long`s:
    /// n, inC, inH, inW, outC, kH, kW, strideH, strideW, padTop, padLeft, dilationH, dilationW,
    /// groups, outH, outW). The bottom/right padding is implied by the output size.
    static func convShape(_ g: Conv2dGeometry) -> KernelArgument {
        .intArray([g.n, g.inChannels, g.inHeight, g.inWidth, g.outChannels, g.kernelHeight, g.kernelWidth,
                   g.strideH, g.strideW, g.padTop, g.padLeft, g.dilationH, g.dilationW, g.groups,
                   g.outHeight, g.outWidth], count: 16)
    }
}
