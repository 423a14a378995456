/// CUDA-against-CPU checks of the tensor-core implicit-GEMM convolution (TensorCoreConv.cu): the
/// forward pass, the stride-1 input gradient and the weight gradient, which `.implicitGEMM` runs
/// on tensor cores,
/// in strict fp32 (3xTF32, tolerance 1e-5) and with TF32 allowed (1xTF32, tolerance 1e-3).
/// Geometries: odd sizes, every padding, stride 1/2/4, dilation, groups, K not a multiple of the
/// 32-deep slice, channel counts not a multiple of the 64/128 tile, several tiles in every
/// dimension, padding larger than the kernel's reach (negative padding in the input gradient's
/// convolution), and a NaN input.
enum TensorCoreConvDeviceChecks {
    typealias Case = ConvolutionAlgorithmDeviceChecks.Case

    /// The checks; random geometries are drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        var g = Philox(seed: seed ^ 0x7C_0C0E)
        var cases: [Case] = []
        for _ in 0..<8 { cases.append(ConvolutionAlgorithmDeviceChecks.randomCase(&g)) }
        cases += [
            // AlexNet conv1's kernel (k11 s4 p2, K = 363) on a small image: 4 pixel tiles.
            Case(n: 2, inChannels: 3, height: 67, width: 67, outChannels: 64, kernel: 11, stride: 4, padding: 2,
                 dilation: 1, groups: 1, bias: true),
            // Channel tiles of 128 (260: 3 tiles, the last partial), K = 360 (12 slices), 2 pixel tiles.
            Case(n: 2, inChannels: 40, height: 9, width: 9, outChannels: 260, kernel: 3, stride: 1, padding: 1,
                 dilation: 1, groups: 1, bias: false),
            // 150 output channels: 64-channel tiles (3, the last partial); 5 × 5, K = 500.
            Case(n: 2, inChannels: 20, height: 11, width: 11, outChannels: 150, kernel: 5, stride: 1, padding: 2,
                 dilation: 1, groups: 1, bias: true),
            // Odd channel counts in both GEMM directions, stride 2, non-square kernel.
            Case(n: 3, inChannels: 37, height: 19, width: 23, outChannels: 131, kernel: Size2d(3, 2), stride: 2,
                 padding: .explicit(Size2d(1, 0)), dilation: 1, groups: 1, bias: true),
            // Groups with a partial channel tile each, dilation 2, stride 1.
            Case(n: 2, inChannels: 30, height: 17, width: 15, outChannels: 70, kernel: 3, stride: 1, padding: 2,
                 dilation: 2, groups: 2, bias: false),
            // Stride 4 with dilation and `same`-free odd sizes; many groups.
            Case(n: 2, inChannels: 12, height: 29, width: 31, outChannels: 12, kernel: 3, stride: 4, padding: 1,
                 dilation: Size2d(2, 1), groups: 4, bias: true),
            // Padding beyond the kernel's reach: the input gradient's convolution has negative padding.
            Case(n: 2, inChannels: 5, height: 6, width: 7, outChannels: 9, kernel: 2, stride: 1, padding: 3,
                 dilation: 1, groups: 1, bias: false),
            // `same` padding with an even kernel (asymmetric padding) and dilation.
            Case(n: 2, inChannels: 16, height: 14, width: 9, outChannels: 24, kernel: Size2d(4, 2), stride: 1,
                 padding: .same, dilation: Size2d(1, 2), groups: 1, bias: true),
            // 1 × 1 pointwise with a ragged last pixel tile (M = 3·11·13 = 429).
            Case(n: 3, inChannels: 40, height: 11, width: 13, outChannels: 65, kernel: 1, stride: 1, padding: 0,
                 dilation: 1, groups: 1, bias: false),
            // A single pixel, a single channel.
            Case(n: 1, inChannels: 1, height: 1, width: 1, outChannels: 1, kernel: 1, stride: 3, padding: 2,
                 dilation: 1, groups: 1, bias: true),
        ]
        var result: [DeviceCheck] = []
        for c in cases {
            result.append(check(c, tf32: false))
            result.append(check(c, tf32: true))
        }
        result.append(check(Case(n: 2, inChannels: 6, height: 9, width: 8, outChannels: 10, kernel: 3, stride: 1,
                                 padding: 1, dilation: 1, groups: 1, bias: true, nanInput: true), tf32: false))
        result.append(determinism(Case(n: 2, inChannels: 32, height: 10, width: 10, outChannels: 128, kernel: 3, stride: 1,
                                       padding: 1, dilation: 1, groups: 1, bias: false)))
        return result
    }

    /// conv2d with `.implicitGEMM` on `c` (output, input, weight and bias gradients), with TF32
    /// allowed on the device when `tf32` is set (the CPU always computes in fp32).
    static func check(_ c: Case, tf32: Bool) -> DeviceCheck {
        let inner = ConvolutionAlgorithmDeviceChecks.conv(.implicitGEMM, c)
        return DeviceCheck(op: "conv2d[tensorCore]" + (tf32 ? " tf32" : ""), label: c.description,
                           tolerance: tf32 ? 1e-3 : 1e-5) { device in
            try withTF32(tf32, on: device) { try inner.body(device) }
        }
    }

    /// Runs the forward pass twice on the same inputs: the two results must be bitwise identical
    /// (and the first within fp32's tolerance of the CPU's).
    static func determinism(_ c: Case) -> DeviceCheck {
        runsTwiceAlike(op: "conv2d[tensorCore] determinism", label: c.description, tolerance: 1e-5) { device in
            let x = try Tensor.normal([c.n, c.inChannels, c.height, c.width], on: device)
            let w = try Tensor.normal([c.outChannels, c.inChannels / c.groups, c.kernel.h, c.kernel.w], on: device)
            return {
                try conv2d(x, w, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups,
                           algorithm: .implicitGEMM)
            }
        }
    }

    /// A check that `prepare` (which draws the inputs on the device and returns the computation)
    /// gives bitwise identical results twice, and that the first is within `tolerance` of the CPU's.
    static func runsTwiceAlike(op: String, label: String, tolerance: Double,
                               _ prepare: @escaping (Device) throws -> () throws -> Tensor) -> DeviceCheck {
        DeviceCheck(op: op, label: label, tolerance: tolerance) { device in
            let run = try prepare(device)
            let first = try run(), second = try run()
            let difference = try DeviceVerification.compare(first, second)
            guard difference == 0 else {
                throw ConvKitError.device(message: "\(op): two runs differ (relative \(difference))")
            }
            return [first]
        }
    }

    /// Runs `body` with TF32 allowed (or not) on a CUDA `device`, restoring strict fp32 after.
    static func withTF32<R>(_ allow: Bool, on device: Device, _ body: () throws -> R) throws -> R {
        guard allow, case .cuda = device else { return try body() }
        try CUDA.setAllowTF32(true, on: device)
        defer { try? CUDA.setAllowTF32(false, on: device) }
        return try body()
    }
}
