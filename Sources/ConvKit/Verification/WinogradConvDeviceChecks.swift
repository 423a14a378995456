/// CUDA-against-CPU checks of Winograd F(2×2, 3×3) and F(2×2, 5×5) convolution (`.winograd`:
/// Winograd.cu and the cuBLAS GEMMs): the output and the input, weight and bias gradients, in
/// strict fp32 (tolerance 1e-5) and with TF32 allowed (1e-3). Geometries: odd and even sizes,
/// planes smaller than a tile, per-side padding from 0 to beyond the kernel's reach (negative in
/// the input gradient's convolution), channel counts from 1 to a few hundred, several chunks of
/// images and ranges of tiles, and a NaN input.
enum WinogradConvDeviceChecks {
    typealias Case = ConvolutionAlgorithmDeviceChecks.Case

    /// The checks; random geometries are drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        var g = Philox(seed: seed ^ 0x3_3A0D)
        var cases: [Case] = []
        for _ in 0..<6 {
            let pad = Size2d(DeviceCheck.randomInt(0...2, &g), DeviceCheck.randomInt(0...2, &g))
            cases.append(Case(n: DeviceCheck.randomInt(1...4, &g), inChannels: DeviceCheck.randomInt(1...12, &g),
                              height: DeviceCheck.randomInt(3...20, &g), width: DeviceCheck.randomInt(3...20, &g),
                              outChannels: DeviceCheck.randomInt(1...12, &g), kernel: 3, stride: 1, padding: .explicit(pad),
                              dilation: 1, groups: 1, bias: DeviceCheck.randomInt(0...1, &g) == 1))
        }
        cases += [
            // AlexNet's 13×13 layers, fewer channels: 7×7 tiles, the last row and column half outside.
            Case(n: 3, inChannels: 96, height: 13, width: 13, outChannels: 80, kernel: 3, stride: 1, padding: 1,
                 dilation: 1, groups: 1, bias: true),
            // Even planes, more output channels than input ones.
            Case(n: 2, inChannels: 16, height: 28, width: 28, outChannels: 130, kernel: 3, stride: 1, padding: 1,
                 dilation: 1, groups: 1, bias: false),
            // No padding; padding 3 (the input gradient's convolution pads by −1).
            Case(n: 2, inChannels: 7, height: 9, width: 12, outChannels: 5, kernel: 3, stride: 1, padding: 0,
                 dilation: 1, groups: 1, bias: true),
            Case(n: 2, inChannels: 4, height: 5, width: 6, outChannels: 6, kernel: 3, stride: 1, padding: 3,
                 dilation: 1, groups: 1, bias: false),
            // A plane smaller than one tile, one channel each way.
            Case(n: 3, inChannels: 1, height: 1, width: 2, outChannels: 1, kernel: 3, stride: 1, padding: 1,
                 dilation: 1, groups: 1, bias: true),
            // 5×5: AlexNet conv2's padding on 27×27 (14×14 tiles), an odd plane, padding 0 and 4.
            Case(n: 2, inChannels: 64, height: 27, width: 27, outChannels: 48, kernel: 5, stride: 1, padding: 2,
                 dilation: 1, groups: 1, bias: true),
            Case(n: 3, inChannels: 5, height: 9, width: 12, outChannels: 7, kernel: 5, stride: 1, padding: 0,
                 dilation: 1, groups: 1, bias: false),
            Case(n: 2, inChannels: 3, height: 6, width: 5, outChannels: 4, kernel: 5, stride: 1, padding: 4,
                 dilation: 1, groups: 1, bias: true),
            // `same` padding on a non-square plane.
            Case(n: 2, inChannels: 10, height: 11, width: 6, outChannels: 9, kernel: 3, stride: 1, padding: .same,
                 dilation: 1, groups: 1, bias: true),
        ]
        var result: [DeviceCheck] = []
        for c in cases {
            result.append(check(c, tf32: false))
            result.append(check(c, tf32: true))
        }
        // The weight gradient's tile ranges: 8 × 196 tiles in 3 ranges (the last one padded by a tile).
        result.append(check(Case(n: 8, inChannels: 16, height: 28, width: 28, outChannels: 24, kernel: 3, stride: 1,
                                 padding: 1, dilation: 1, groups: 1, bias: false), tf32: false))
        // 5×5 weight gradient in 2 ranges of tiles (6 × 196 = 1176 tiles).
        result.append(check(Case(n: 6, inChannels: 8, height: 28, width: 28, outChannels: 16, kernel: 5, stride: 1,
                                 padding: 2, dilation: 1, groups: 1, bias: false), tf32: false))
        // Chunks of 6 images in 2 ranges each, then a last chunk of 2 images in one range.
        result.append(check(Case(n: 14, inChannels: 8, height: 28, width: 27, outChannels: 12, kernel: 3, stride: 1,
                                 padding: 1, dilation: 1, groups: 1, bias: true), tf32: false, imagesPerChunk: 6))
        // Seven chunks of 3 images (the last one of 2), on both devices.
        result.append(check(Case(n: 20, inChannels: 12, height: 10, width: 9, outChannels: 20, kernel: 3, stride: 1,
                                 padding: 1, dilation: 1, groups: 1, bias: true), tf32: false, imagesPerChunk: 3))
        result.append(check(Case(n: 2, inChannels: 6, height: 9, width: 8, outChannels: 10, kernel: 3, stride: 1,
                                 padding: 1, dilation: 1, groups: 1, bias: true, nanInput: true), tf32: false))
        // `.auto` takes Winograd from 64 channels each way on planes beyond the FFT's four frames of 32.
        result.append(ConvolutionAlgorithmDeviceChecks.conv(.auto, Case(n: 1, inChannels: 64, height: 62, width: 61,
                                                                        outChannels: 72, kernel: 3, stride: 1, padding: 1,
                                                                        dilation: 1, groups: 1, bias: true)))
        return result
    }

    /// conv2d with `.winograd` on `c`, with TF32 allowed on the device when `tf32` is set (the CPU
    /// always computes in fp32), and with the workspace lowered to `imagesPerChunk` images when given.
    static func check(_ c: Case, tf32: Bool, imagesPerChunk: Int? = nil) -> DeviceCheck {
        let inner = ConvolutionAlgorithmDeviceChecks.conv(.winograd, c)
        let label = c.description + (imagesPerChunk.map { ", \($0) images per chunk" } ?? "")
        return DeviceCheck(op: "conv2d[winograd]" + (tf32 ? " tf32" : ""), label: label,
                           tolerance: tf32 ? 1e-3 : 1e-5) { device in
            let saved = WinogradTiling.workspaceBudget
            defer { WinogradTiling.workspaceBudget = saved }
            if let imagesPerChunk {
                let tiles = ((c.height + 1) / 2) * ((c.width + 1) / 2)
                WinogradTiling.workspaceBudget = imagesPerChunk * (c.kernel.h + 1) * (c.kernel.h + 1) * (c.inChannels + c.outChannels) * tiles
            }
            return try TensorCoreConvDeviceChecks.withTF32(tf32, on: device) { try inner.body(device) }
        }
    }
}
