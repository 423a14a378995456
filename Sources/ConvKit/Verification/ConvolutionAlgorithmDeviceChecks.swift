/// CUDA-against-CPU checks of the implicit-GEMM, sparse-matrix and depthwise convolution
/// algorithms (forward, input, weight and bias gradients), and of the transposed convolution
/// computed with the implicit-GEMM kernels (see `DeviceVerification`).
enum ConvolutionAlgorithmDeviceChecks {
    /// One conv2d case: every size and argument.
    struct Case: CustomStringConvertible {
        /// Batch, input channels, input size and output channels.
        var n: Int, inChannels: Int, height: Int, width: Int, outChannels: Int
        /// conv2d's arguments.
        var kernel: Size2d, stride: Size2d, padding: Padding2d, dilation: Size2d, groups: Int
        /// Whether the convolution has a bias (and its gradient is checked).
        var bias: Bool
        /// Replaces one input value by NaN (forward and weight gradient must show NaN at the same places).
        var nanInput = false

        /// The case as a label: `n2 c6→4 g2 7x9 k(3, 2) s2 p1 d1 bias`.
        var description: String {
            let pad: String
            switch padding {
            case let .explicit(p): pad = "p\(p)"
            case .valid: pad = "valid"
            case .same: pad = "same"
            }
            return "n\(n) c\(inChannels)→\(outChannels) g\(groups) \(height)x\(width) k\(kernel) s\(stride) \(pad) d\(dilation)"
                + (bias ? " bias" : "") + (nanInput ? " NaN input" : "")
        }
    }

    /// The checks, with random shapes and arguments drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        var g = Philox(seed: seed ^ 0xA1_60C0)
        var result: [DeviceCheck] = []

        // Implicit GEMM: random geometries, then tiles beyond one block in every dimension.
        for _ in 0..<10 { result.append(conv(.implicitGEMM, randomCase(&g))) }
        result.append(conv(.implicitGEMM, Case(n: 4, inChannels: 24, height: 30, width: 30, outChannels: 40,
                                               kernel: 3, stride: 1, padding: 1, dilation: 1, groups: 1, bias: true)))
        result.append(conv(.implicitGEMM, Case(n: 2, inChannels: 20, height: 9, width: 11, outChannels: 130,
                                               kernel: Size2d(3, 2), stride: Size2d(2, 1), padding: 1, dilation: 1,
                                               groups: 2, bias: true)))
        result.append(conv(.implicitGEMM, Case(n: 3, inChannels: 70, height: 6, width: 5, outChannels: 6,
                                               kernel: Size2d(4, 2), stride: 1, padding: .same, dilation: Size2d(1, 2),
                                               groups: 1, bias: false)))
        result.append(conv(.implicitGEMM, Case(n: 1, inChannels: 1, height: 1, width: 1, outChannels: 1,
                                               kernel: 1, stride: 3, padding: 2, dilation: 1, groups: 1, bias: true)))
        result.append(conv(.implicitGEMM, Case(n: 2, inChannels: 4, height: 8, width: 7, outChannels: 5,
                                               kernel: 3, stride: 2, padding: 1, dilation: 1, groups: 1, bias: true,
                                               nanInput: true)))

        // Sparse matrix: random geometries; a layer whose structure needs blocks of output
        // channels (two, then a partial one of one channel).
        for _ in 0..<8 { result.append(conv(.sparseMatrix, randomCase(&g))) }
        result.append(conv(.sparseMatrix, Case(n: 1, inChannels: 48, height: 64, width: 64, outChannels: 3,
                                               kernel: 3, stride: 1, padding: 1, dilation: 1, groups: 1, bias: true)))
        result.append(conv(.sparseMatrix, Case(n: 3, inChannels: 6, height: 5, width: 8, outChannels: 4,
                                               kernel: Size2d(2, 4), stride: 1, padding: .same, dilation: Size2d(2, 1),
                                               groups: 2, bias: false)))
        result.append(conv(.sparseMatrix, Case(n: 1, inChannels: 1, height: 1, width: 1, outChannels: 2,
                                               kernel: 1, stride: 3, padding: 2, dilation: 1, groups: 1, bias: true)))
        result.append(conv(.sparseMatrix, Case(n: 2, inChannels: 3, height: 7, width: 6, outChannels: 4,
                                               kernel: 3, stride: 1, padding: 1, dilation: 1, groups: 1, bias: true,
                                               nanInput: true)))

        // Depthwise: random geometries (channel multiplier 1-2), MobileNet-like blocks.
        for _ in 0..<7 { result.append(conv(.depthwise, randomDepthwiseCase(&g))) }
        for (channels, size, stride) in [(8, 16, 1), (12, 15, 2), (32, 14, 1), (16, 28, 2), (64, 7, 1), (24, 9, 1), (40, 7, 2)] {
            result.append(conv(.depthwise, Case(n: 2, inChannels: channels, height: size, width: size, outChannels: channels,
                                                kernel: 3, stride: Size2d(stride), padding: 1, dilation: 1,
                                                groups: channels, bias: true)))
        }
        result.append(conv(.depthwise, Case(n: 4, inChannels: 24, height: 20, width: 20, outChannels: 48,
                                            kernel: 3, stride: 1, padding: 1, dilation: 1, groups: 24, bias: false)))
        result.append(conv(.depthwise, Case(n: 2, inChannels: 1, height: 9, width: 4, outChannels: 2,
                                            kernel: Size2d(5, 2), stride: 1, padding: .same, dilation: 1, groups: 1,
                                            bias: true)))
        // 3×3 fast paths: several weight-gradient image chunks (the last one partial), many row strips.
        result.append(conv(.depthwise, Case(n: 6, inChannels: 4, height: 60, width: 61, outChannels: 8,
                                            kernel: 3, stride: 1, padding: 1, dilation: 1, groups: 4, bias: false)))
        result.append(conv(.depthwise, Case(n: 9, inChannels: 3, height: 130, width: 129, outChannels: 3,
                                            kernel: 3, stride: 2, padding: 1, dilation: 1, groups: 3, bias: false)))
        result.append(conv(.depthwise, Case(n: 2, inChannels: 5, height: 9, width: 8, outChannels: 5,
                                            kernel: 3, stride: 2, padding: 1, dilation: 1, groups: 5, bias: true,
                                            nanInput: true)))
        // The band kernels cut planes over 4096 elements into bands of rows (stride 1, padding 2, and
        // multiplier 2, whose input gradient then stages whole planes).
        result.append(conv(.depthwise, Case(n: 2, inChannels: 3, height: 70, width: 66, outChannels: 3,
                                            kernel: 3, stride: 1, padding: 2, dilation: 1, groups: 3, bias: false)))
        result.append(conv(.depthwise, Case(n: 2, inChannels: 2, height: 67, width: 71, outChannels: 4,
                                            kernel: 3, stride: 1, padding: 1, dilation: 1, groups: 2, bias: true)))
        // The forward tile kernels' bands of rows (planes beyond about 12k floats): MobileNet's 112 × 112
        // at stride 1 and 2, and a taller plane whose last band is partial.
        result.append(conv(.depthwise, Case(n: 2, inChannels: 3, height: 112, width: 112, outChannels: 3,
                                            kernel: 3, stride: 1, padding: 1, dilation: 1, groups: 3, bias: false)))
        result.append(conv(.depthwise, Case(n: 2, inChannels: 2, height: 112, width: 112, outChannels: 2,
                                            kernel: 3, stride: 2, padding: 1, dilation: 1, groups: 2, bias: true)))
        result.append(conv(.depthwise, Case(n: 2, inChannels: 2, height: 131, width: 112, outChannels: 2,
                                            kernel: 3, stride: 1, padding: 1, dilation: 1, groups: 2, bias: false)))
        // The stride-2 input gradient's phases: every padding parity, odd sizes, multiplier 2.
        result.append(conv(.depthwise, Case(n: 3, inChannels: 4, height: 11, width: 13, outChannels: 8,
                                            kernel: 3, stride: 2, padding: .explicit(Size2d(2, 0)), dilation: 1,
                                            groups: 4, bias: false)))
        result.append(conv(.depthwise, Case(n: 2, inChannels: 3, height: 18, width: 7, outChannels: 3,
                                            kernel: 3, stride: 2, padding: .explicit(Size2d(0, 1)), dilation: 1,
                                            groups: 3, bias: true)))

        // Transposed convolution through the implicit-GEMM kernels.
        for _ in 0..<6 { result.append(transposed(&g)) }
        return result
    }

    // MARK: Cases

    /// A random grouped convolution: batch 1-4, channels up to 12, kernels 1-5 (not square),
    /// stride 1-3, padding 0-2 or `same`, dilation 1-2, sizes 1-20 (raised where the kernel needs it).
    static func randomCase(_ g: inout Philox) -> Case {
        let groups = DeviceCheck.randomInt(1...3, &g)
        let inChannels = groups * DeviceCheck.randomInt(1...4, &g)
        let outChannels = groups * DeviceCheck.randomInt(1...4, &g)
        return randomSpatial(&g, n: DeviceCheck.randomInt(1...4, &g), inChannels: inChannels, outChannels: outChannels,
                             groups: groups)
    }

    /// A random depthwise convolution (groups == channels, multiplier 1-2).
    static func randomDepthwiseCase(_ g: inout Philox) -> Case {
        let channels = DeviceCheck.randomInt(1...12, &g)
        let multiplier = DeviceCheck.randomInt(1...2, &g)
        return randomSpatial(&g, n: DeviceCheck.randomInt(1...4, &g), inChannels: channels,
                             outChannels: channels * multiplier, groups: channels)
    }

    /// Random kernel, stride, padding, dilation and spatial size for the given channels.
    static func randomSpatial(_ g: inout Philox, n: Int, inChannels: Int, outChannels: Int, groups: Int) -> Case {
        let kernel = Size2d(DeviceCheck.randomInt(1...5, &g), DeviceCheck.randomInt(1...5, &g))
        let dilation = Size2d(DeviceCheck.randomInt(1...2, &g), DeviceCheck.randomInt(1...2, &g))
        let same = DeviceCheck.randomInt(0...4, &g) == 0
        let stride = same ? Size2d(1) : Size2d(DeviceCheck.randomInt(1...3, &g), DeviceCheck.randomInt(1...3, &g))
        let pad = Size2d(DeviceCheck.randomInt(0...2, &g), DeviceCheck.randomInt(0...2, &g))
        let padding: Padding2d = same ? .same : .explicit(pad)
        let extent = Size2d(dilation.h * (kernel.h - 1) + 1, dilation.w * (kernel.w - 1) + 1)
        var height = DeviceCheck.randomInt(1...20, &g), width = DeviceCheck.randomInt(1...20, &g)
        if !same {
            height = max(height, extent.h - 2 * pad.h)
            width = max(width, extent.w - 2 * pad.w)
        }
        return Case(n: n, inChannels: inChannels, height: height, width: width, outChannels: outChannels, kernel: kernel,
                    stride: stride, padding: padding, dilation: dilation, groups: groups,
                    bias: DeviceCheck.randomInt(0...1, &g) == 1)
    }

    // MARK: Checks

    /// conv2d with `algorithm` on `c`: output and the input, weight (and bias) gradients.
    static func conv(_ algorithm: ConvAlgorithm, _ c: Case) -> DeviceCheck {
        DeviceCheck(op: "conv2d[\(algorithm.rawValue)]", label: c.description) { device in
            let inputShape = [c.n, c.inChannels, c.height, c.width]
            let input: Tensor
            if c.nanInput {
                var values = RandomState.withGenerator { $0.normal(count: inputShape.reduce(1, *)) }
                values[values.count / 2] = .nan
                input = try Tensor(values, shape: inputShape, on: device, requiresGrad: true)
            } else {
                input = try Tensor.normal(inputShape, on: device, requiresGrad: true)
            }
            let weight = try Tensor.normal([c.outChannels, c.inChannels / c.groups, c.kernel.h, c.kernel.w],
                                           on: device, requiresGrad: true)
            let bias = c.bias ? try Tensor.normal([c.outChannels], on: device, requiresGrad: true) : nil
            let output = try conv2d(input, weight, bias: bias, stride: c.stride, padding: c.padding, dilation: c.dilation,
                                    groups: c.groups, algorithm: algorithm)
            return try DeviceCheck.forwardAndGradients(output, [input, weight] + (bias.map { [$0] } ?? []))
        }
    }

    /// A random transposed convolution run as `convTranspose2d` does (its forward is the
    /// convolution's input gradient, its input gradient the convolution's forward, its weight
    /// gradient the convolution's with input and output gradient swapped), with the kernels'
    /// algorithm set to `.implicitGEMM` (the op itself always asks for `.auto`). Output padding
    /// makes the convolution's output smaller than its input would give, which the kernels must
    /// respect.
    static func transposed(_ g: inout Philox) -> DeviceCheck {
        let groups = DeviceCheck.randomInt(1...2, &g)
        let inChannels = groups * DeviceCheck.randomInt(1...4, &g)
        let outPerGroup = DeviceCheck.randomInt(1...4, &g)
        let n = DeviceCheck.randomInt(1...3, &g)
        let kernel = Size2d(DeviceCheck.randomInt(1...4, &g), DeviceCheck.randomInt(1...4, &g))
        let stride = Size2d(DeviceCheck.randomInt(1...3, &g), DeviceCheck.randomInt(1...3, &g))
        let dilation = Size2d(DeviceCheck.randomInt(1...2, &g), DeviceCheck.randomInt(1...2, &g))
        let outputPadding = Size2d(DeviceCheck.randomInt(0...(max(stride.h, dilation.h) - 1), &g),
                                   DeviceCheck.randomInt(0...(max(stride.w, dilation.w) - 1), &g))
        let size = Size2d(DeviceCheck.randomInt(1...12, &g), DeviceCheck.randomInt(1...12, &g))
        var padding = Size2d(DeviceCheck.randomInt(0...2, &g), DeviceCheck.randomInt(0...2, &g))
        // Keep the output at least 1 × 1.
        let fullH = (size.h - 1) * stride.h + dilation.h * (kernel.h - 1) + outputPadding.h + 1
        let fullW = (size.w - 1) * stride.w + dilation.w * (kernel.w - 1) + outputPadding.w + 1
        padding = Size2d(min(padding.h, (fullH - 1) / 2), min(padding.w, (fullW - 1) / 2))
        let label = "n\(n) c\(inChannels)→\(outPerGroup * groups) g\(groups) \(size.h)x\(size.w) k\(kernel) s\(stride) p\(padding) op\(outputPadding) d\(dilation)"
        return DeviceCheck(op: "convTranspose2d[implicitGEMM]", label: label) { device in
            let input = try Tensor.normal([n, inChannels, size.h, size.w], on: device)
            let weight = try Tensor.normal([inChannels, outPerGroup, kernel.h, kernel.w], on: device)
            let geometry = try Conv2dGeometry.resolveTransposed(inputShape: input.shape, weightShape: weight.shape,
                                                                stride: stride, padding: padding,
                                                                outputPadding: outputPadding, groups: groups,
                                                                dilation: dilation)
            let kernels = try backend(for: device)
            let output = try Tensor.empty(geometry.inputShape, on: device)
            try kernels.conv2dBackwardInput(gradOutput: input.storage, weight: weight.storage, gradInput: output.storage,
                                            geometry: geometry, algorithm: .implicitGEMM)
            let upstream = try Tensor.normal(output.shape, on: device)
            let gradInput = try Tensor.empty(input.shape, on: device)
            try kernels.conv2dForward(input: upstream.storage, weight: weight.storage, bias: nil, output: gradInput.storage,
                                      geometry: geometry, algorithm: .implicitGEMM)
            let gradWeight = try Tensor.empty(weight.shape, on: device)
            try kernels.conv2dBackwardWeight(gradOutput: input.storage, input: upstream.storage, gradWeight: gradWeight.storage,
                                             geometry: geometry, algorithm: .implicitGEMM)
            return [output, gradInput, gradWeight]
        }
    }
}
