/// CUDA-against-CPU checks of the convolution kernels (see `DeviceVerification`): conv2d with
/// the im2col, direct and automatic algorithms (forward, input, weight and bias gradients) and
/// convTranspose2d. The implicit-GEMM, depthwise and sparse-matrix algorithms have their own checks.
enum ConvolutionDeviceChecks {
    /// The checks, with random shapes and arguments drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        var g = Philox(seed: seed)
        var checks: [DeviceCheck] = []
        for algorithm in [ConvAlgorithm.im2colGEMM, .direct, .auto] {
            // .auto routes depthwise layers to the depthwise kernels, which are checked elsewhere.
            for index in 0..<12 {
                checks.append(conv(randomCase(&g, index: index, allowDepthwise: algorithm != .auto), algorithm))
            }
            for edge in edgeCases(algorithm) { checks.append(conv(edge, algorithm)) }
        }
        for algorithm in [ConvAlgorithm.im2colGEMM, .direct] {
            checks.append(nanInput(algorithm))
        }
        checks.append(large(.im2colGEMM, n: 8))
        checks.append(large(.direct, n: 4))
        for index in 0..<8 { checks.append(transposed(randomTransposed(&g, batched: index != 7))) }
        return checks
    }

    /// One conv2d case: its sizes and arguments.
    struct ConvCase {
        var n = 1, inChannels = 1, outChannels = 1, groups = 1, height = 1, width = 1
        var kernel = Size2d(1), stride = Size2d(1), dilation = Size2d(1)
        var padding: Padding2d = 0
        var paddingMode = PaddingMode.zeros
        var bias = true
        /// `false`: the input is CHW (one image, no batch dimension).
        var batched = true

        /// The shapes and arguments, for the result table.
        var label: String {
            let input = batched ? "[\(n), \(inChannels), \(height), \(width)]" : "[\(inChannels), \(height), \(width)]"
            let pad: String
            switch padding {
            case let .explicit(p): pad = "\(p)"
            case .valid: pad = "valid"
            case .same: pad = "same"
            }
            return "x \(input) → \(outChannels) ch, k \(kernel) s \(stride) p \(pad) d \(dilation) g \(groups)"
                + (paddingMode == .zeros ? "" : " \(paddingMode.rawValue)") + (bias ? " +bias" : "")
        }
    }

    /// A random conv2d case: batch 1-4, channels 1-12, groups 1-3 (where they divide the channels),
    /// kernels 1-5 (not square), strides 1-3, padding 0-2 or `same`, dilation 1-2, sizes 1-20 (at
    /// least the dilated kernel), every padding mode in turn; every fifth input is unbatched.
    static func randomCase(_ g: inout Philox, index: Int, allowDepthwise: Bool) -> ConvCase {
        func r(_ range: ClosedRange<Int>) -> Int { DeviceCheck.randomInt(range, &g) }
        var c = ConvCase()
        c.n = r(1...4)
        c.inChannels = r(1...12)
        c.outChannels = r(1...12)
        let groupChoices = [1, 2, 3].filter { groups in
            c.inChannels % groups == 0 && c.outChannels % groups == 0
                && (allowDepthwise || !(groups == c.inChannels && groups > 1))
        }
        c.groups = groupChoices[r(0...groupChoices.count - 1)]
        c.kernel = Size2d(r(1...5), r(1...5))
        c.stride = Size2d(r(1...3), r(1...3))
        c.dilation = Size2d(r(1...2), r(1...2))
        c.padding = c.stride == Size2d(1) && r(0...3) == 0 ? .same : .explicit(Size2d(r(0...2), r(0...2)))
        c.paddingMode = PaddingMode.allCases[index % PaddingMode.allCases.count]
        c.bias = r(0...3) != 0
        c.batched = index % 5 != 4
        if !c.batched { c.n = 1 }
        let (top, bottom, left, right) = pads(c)
        c.height = fitted(r(1...20), kernel: c.kernel.h, dilation: c.dilation.h, before: top, after: bottom, mode: c.paddingMode)
        c.width = fitted(r(1...20), kernel: c.kernel.w, dilation: c.dilation.w, before: left, after: right, mode: c.paddingMode)
        return c
    }

    /// The padding of each side (top, bottom, left, right) as `Conv2dGeometry.resolve` sets it.
    static func pads(_ c: ConvCase) -> (Int, Int, Int, Int) {
        switch c.padding {
        case let .explicit(p): return (p.h, p.h, p.w, p.w)
        case .valid: return (0, 0, 0, 0)
        case .same:
            let h = c.dilation.h * (c.kernel.h - 1), w = c.dilation.w * (c.kernel.w - 1)
            return (h / 2, h - h / 2, w / 2, w - w / 2)
        }
    }

    /// `size` raised until the padded input holds the dilated kernel and the padding mode accepts it.
    static func fitted(_ size: Int, kernel: Int, dilation: Int, before: Int, after: Int, mode: PaddingMode) -> Int {
        var size = max(size, dilation * (kernel - 1) + 1 - before - after, 1)
        switch mode {
        case .reflect: size = max(size, max(before, after) + 1)
        case .circular: size = max(size, max(before, after))
        case .zeros, .replicate: break
        }
        return size
    }

    /// Hand-picked conv2d shapes: pointwise (1×1 GEMM without X̂), a 1×1 output, a 1×1 input
    /// read by the centre tap only, asymmetric `same` padding with an even dilated kernel, a
    /// stride larger than the kernel (inputs never read: zero gradient) and large output planes.
    static func edgeCases(_ algorithm: ConvAlgorithm) -> [ConvCase] {
        var pointwise = ConvCase(n: 3, inChannels: 6, outChannels: 4, groups: 2, height: 7, width: 5)
        pointwise.bias = true
        var unbatchedPointwise = ConvCase(n: 1, inChannels: 5, outChannels: 3, height: 4, width: 6)
        unbatchedPointwise.batched = false
        let wholeInput = ConvCase(n: 2, inChannels: 3, outChannels: 5, height: 5, width: 4, kernel: Size2d(5, 4))
        let onePixel = ConvCase(n: 2, inChannels: 4, outChannels: 3, height: 1, width: 1, kernel: Size2d(3), padding: 1)
        let same = ConvCase(n: 2, inChannels: 6, outChannels: 6, groups: 3, height: 9, width: 8,
                            kernel: Size2d(4, 2), dilation: Size2d(1, 2), padding: .same)
        let skipping = ConvCase(n: 2, inChannels: 4, outChannels: 4, groups: 2, height: 10, width: 11,
                                kernel: Size2d(1, 2), stride: Size2d(3), bias: false)
        // Output planes of 1296 positions: the bias gradient sums each plane with a whole block.
        let largePlanes = ConvCase(n: 2, inChannels: 2, outChannels: 3, height: 36, width: 36, kernel: Size2d(3), padding: 1)
        return [pointwise, unbatchedPointwise, wholeInput, onePixel, same, skipping, largePlanes] + fewChannelsStrided
    }

    /// Strided layers with 1-4 input channels, whose input gradient `.auto` computes with the
    /// few-channel kernel: AlexNet's first layer on a small input (20 output channels: a second,
    /// partial weight chunk), 4 column taps per phase (the most), unequal strides, and a stride
    /// above the kernel (phases no tap reads).
    static let fewChannelsStrided: [ConvCase] = [
        ConvCase(n: 2, inChannels: 3, outChannels: 20, height: 35, width: 37, kernel: Size2d(11), stride: Size2d(4), padding: 2),
        ConvCase(n: 3, inChannels: 1, outChannels: 5, height: 9, width: 10, kernel: Size2d(3), stride: Size2d(2), padding: 1),
        ConvCase(n: 2, inChannels: 2, outChannels: 3, height: 13, width: 11, kernel: Size2d(5, 4), stride: Size2d(3, 2),
                 padding: .explicit(Size2d(2, 1))),
        ConvCase(n: 2, inChannels: 4, outChannels: 17, height: 15, width: 16, kernel: Size2d(7), stride: Size2d(2), padding: 3,
                 bias: false),
        ConvCase(n: 2, inChannels: 3, outChannels: 4, height: 10, width: 9, kernel: Size2d(2), stride: Size2d(4)),
    ]

    /// The check of one conv2d case, forward and every gradient.
    static func conv(_ c: ConvCase, _ algorithm: ConvAlgorithm) -> DeviceCheck {
        DeviceCheck(op: "conv2d[\(algorithm.rawValue)]", label: c.label) { device in
            let shape = c.batched ? [c.n, c.inChannels, c.height, c.width] : [c.inChannels, c.height, c.width]
            let x = try Tensor.normal(shape, on: device, requiresGrad: true)
            let w = try Tensor.normal([c.outChannels, c.inChannels / c.groups, c.kernel.h, c.kernel.w],
                                      on: device, requiresGrad: true)
            let b = c.bias ? try Tensor.normal([c.outChannels], on: device, requiresGrad: true) : nil
            let y = try conv2d(x, w, bias: b, stride: c.stride, padding: c.padding, dilation: c.dilation,
                               groups: c.groups, paddingMode: c.paddingMode, algorithm: algorithm)
            return try DeviceCheck.forwardAndGradients(y, [x, w] + (b.map { [$0] } ?? []))
        }
    }

    /// NaN in the input: the outputs whose window covers it and the weight taps that read it
    /// become NaN, at the same places as on the CPU; the input gradient stays finite.
    static func nanInput(_ algorithm: ConvAlgorithm) -> DeviceCheck {
        let c = ConvCase(n: 2, inChannels: 4, outChannels: 6, groups: 2, height: 7, width: 6, kernel: Size2d(3), padding: 1)
        return DeviceCheck(op: "conv2d[\(algorithm.rawValue)]", label: c.label + ", NaN at x[1, 2, 3, 2]") { device in
            var values = try Tensor.normal([c.n, c.inChannels, c.height, c.width]).toArray()
            values[((1 * c.inChannels + 2) * c.height + 3) * c.width + 2] = .nan
            let x = try Tensor(values, shape: [c.n, c.inChannels, c.height, c.width], on: device, requiresGrad: true)
            let w = try Tensor.normal([c.outChannels, c.inChannels / c.groups, 3, 3], on: device, requiresGrad: true)
            let b = try Tensor.normal([c.outChannels], on: device, requiresGrad: true)
            let y = try conv2d(x, w, bias: b, padding: 1, groups: c.groups, algorithm: algorithm)
            return try DeviceCheck.forwardAndGradients(y, [x, w, b])
        }
    }

    /// A larger layer, `[n, 32, 28, 28]` → 48 channels with a 3×3 kernel: many blocks and
    /// grid-stride iterations; for im2col the CUDA workspace budget is lowered to three images
    /// per chunk, so the chunk loop (and the weight gradient's accumulation over chunks with
    /// `beta = 1`) runs with a partial last chunk.
    static func large(_ algorithm: ConvAlgorithm, n: Int) -> DeviceCheck {
        let c = ConvCase(n: n, inChannels: 32, outChannels: 48, height: 28, width: 28, kernel: Size2d(3), padding: 1)
        return DeviceCheck(op: "conv2d[\(algorithm.rawValue)]", label: c.label + (algorithm == .im2colGEMM ? ", 3 images per chunk" : "")) { device in
            let saved = CUDABackend.im2colColumnBudget
            defer { CUDABackend.im2colColumnBudget = saved }
            if algorithm == .im2colGEMM {
                // Per image: X̂ 288 rows × 784 positions, plus 48 × 784 of staged dY (weight gradient).
                CUDABackend.im2colColumnBudget = 3 * (32 * 9 + 48) * 28 * 28
            }
            let x = try Tensor.normal([c.n, c.inChannels, c.height, c.width], on: device, requiresGrad: true)
            let w = try Tensor.normal([c.outChannels, c.inChannels, 3, 3], on: device, requiresGrad: true)
            let b = try Tensor.normal([c.outChannels], on: device, requiresGrad: true)
            let y = try conv2d(x, w, bias: b, padding: 1, algorithm: algorithm)
            return try DeviceCheck.forwardAndGradients(y, [x, w, b])
        }
    }

    /// One convTranspose2d case.
    struct TransposedCase {
        var n = 1, inChannels = 1, outPerGroup = 1, groups = 1, height = 1, width = 1
        var kernel = Size2d(1), stride = Size2d(1), padding = Size2d(0), outputPadding = Size2d(0), dilation = Size2d(1)
        var bias = true
        var batched = true

        /// The shapes and arguments, for the result table.
        var label: String {
            let input = batched ? "[\(n), \(inChannels), \(height), \(width)]" : "[\(inChannels), \(height), \(width)]"
            return "x \(input) → \(outPerGroup * groups) ch, k \(kernel) s \(stride) p \(padding) op \(outputPadding) "
                + "d \(dilation) g \(groups)" + (bias ? " +bias" : "")
        }
    }

    /// A random convTranspose2d case: groups 1-3, 1-4 channels per group on each side (never
    /// depthwise, which `.auto` sends to the depthwise kernels), kernels 1-4, strides 1-3,
    /// padding 0-2, output padding below the stride or the dilation, dilation 1-2, sizes 1-8.
    static func randomTransposed(_ g: inout Philox, batched: Bool) -> TransposedCase {
        func r(_ range: ClosedRange<Int>) -> Int { DeviceCheck.randomInt(range, &g) }
        var c = TransposedCase()
        c.n = batched ? r(1...3) : 1
        c.batched = batched
        c.groups = r(1...3)
        c.inChannels = c.groups * r(1...4)
        c.outPerGroup = r(1...4)
        if c.groups > 1 && c.outPerGroup == 1 { c.outPerGroup = 2 }
        c.kernel = Size2d(r(1...4), r(1...4))
        c.stride = Size2d(r(1...3), r(1...3))
        c.dilation = Size2d(r(1...2), r(1...2))
        c.padding = Size2d(r(0...2), r(0...2))
        c.outputPadding = Size2d(r(0...max(c.stride.h, c.dilation.h) - 1), r(0...max(c.stride.w, c.dilation.w) - 1))
        c.bias = r(0...3) != 0
        func size(_ start: Int, _ k: Int, _ s: Int, _ p: Int, _ op: Int, _ d: Int) -> Int {
            var size = start
            while (size - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1 { size += 1 }
            return size
        }
        c.height = size(r(1...8), c.kernel.h, c.stride.h, c.padding.h, c.outputPadding.h, c.dilation.h)
        c.width = size(r(1...8), c.kernel.w, c.stride.w, c.padding.w, c.outputPadding.w, c.dilation.w)
        return c
    }

    /// The check of one convTranspose2d case, forward and every gradient.
    static func transposed(_ c: TransposedCase) -> DeviceCheck {
        DeviceCheck(op: "convTranspose2d", label: c.label) { device in
            let shape = c.batched ? [c.n, c.inChannels, c.height, c.width] : [c.inChannels, c.height, c.width]
            let x = try Tensor.normal(shape, on: device, requiresGrad: true)
            let w = try Tensor.normal([c.inChannels, c.outPerGroup, c.kernel.h, c.kernel.w], on: device, requiresGrad: true)
            let b = c.bias ? try Tensor.normal([c.outPerGroup * c.groups], on: device, requiresGrad: true) : nil
            let y = try convTranspose2d(x, w, bias: b, stride: c.stride, padding: c.padding, outputPadding: c.outputPadding,
                                        groups: c.groups, dilation: c.dilation)
            return try DeviceCheck.forwardAndGradients(y, [x, w] + (b.map { [$0] } ?? []))
        }
    }
}
