/// CUDA-against-CPU checks of the FFT convolution (`.fft`: FFT.cu and the cuBLAS complex GEMMs):
/// the output and the input, weight and bias gradients, in strict fp32 (tolerance 1e-5) and
/// with TF32 allowed (1e-3). Geometries: each frame size (8, 16, 32), frames filled exactly,
/// planes covered by several frames,
/// per-side padding, rectangular and 1×1 kernels, a kernel as large as the plane, more than one
/// block of 16 planes per row, several chunks of images, and a NaN input (which reaches every
/// output plane of its image on both devices).
enum FFTConvDeviceChecks {
    typealias Case = ConvolutionAlgorithmDeviceChecks.Case

    /// The checks; random geometries are drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        var g = Philox(seed: seed ^ 0xFF7_C0)
        var cases: [Case] = []
        for _ in 0..<6 {
            let k = DeviceCheck.randomInt(1...5, &g)
            let pad = Size2d(DeviceCheck.randomInt(0...k - 1, &g), DeviceCheck.randomInt(0...k - 1, &g))
            cases.append(Case(n: DeviceCheck.randomInt(1...4, &g), inChannels: DeviceCheck.randomInt(1...40, &g),
                              height: DeviceCheck.randomInt(k...26, &g), width: DeviceCheck.randomInt(k...26, &g),
                              outChannels: DeviceCheck.randomInt(1...40, &g), kernel: Size2d(k), stride: 1,
                              padding: .explicit(pad), dilation: 1, groups: 1, bias: DeviceCheck.randomInt(0...1, &g) == 1))
        }
        cases += [
            // AlexNet conv2's plane and padding (frame 32, filled), fewer channels.
            Case(n: 3, inChannels: 64, height: 27, width: 27, outChannels: 48, kernel: 5, stride: 1, padding: 2,
                 dilation: 1, groups: 1, bias: true),
            // AlexNet conv2 and conv3 with all their channels, two images (the TF32 error at full depth).
            Case(n: 2, inChannels: 64, height: 27, width: 27, outChannels: 192, kernel: 5, stride: 1, padding: 2,
                 dilation: 1, groups: 1, bias: true),
            Case(n: 2, inChannels: 192, height: 13, width: 13, outChannels: 384, kernel: 3, stride: 1, padding: 1,
                 dilation: 1, groups: 1, bias: false),
            // AlexNet's 13×13 layers (frame 16) and 256 @ 14 × 14 (frame 16, filled).
            Case(n: 2, inChannels: 96, height: 13, width: 13, outChannels: 80, kernel: 3, stride: 1, padding: 1,
                 dilation: 1, groups: 1, bias: true),
            Case(n: 2, inChannels: 33, height: 14, width: 14, outChannels: 17, kernel: 3, stride: 1, padding: 1,
                 dilation: 1, groups: 1, bias: false),
            // Frame 8, one channel each way; a 1×1 kernel; a kernel as large as the plane.
            Case(n: 3, inChannels: 1, height: 5, width: 6, outChannels: 1, kernel: 3, stride: 1, padding: 1,
                 dilation: 1, groups: 1, bias: true),
            Case(n: 2, inChannels: 20, height: 9, width: 7, outChannels: 19, kernel: 1, stride: 1, padding: 0,
                 dilation: 1, groups: 1, bias: true),
            Case(n: 2, inChannels: 3, height: 7, width: 7, outChannels: 4, kernel: 7, stride: 1, padding: 0,
                 dilation: 1, groups: 1, bias: false),
            // Planes beyond one frame of 32: 2 × 2 frames of 30 × 30 (the ResNet-style 64 @ 56 layer,
            // fewer channels), 3 × 2 frames of 28 × 28 with a 5 × 5 kernel, padding beyond the kernel.
            Case(n: 2, inChannels: 64, height: 56, width: 56, outChannels: 48, kernel: 3, stride: 1, padding: 1,
                 dilation: 1, groups: 1, bias: true),
            Case(n: 2, inChannels: 7, height: 61, width: 33, outChannels: 9, kernel: 5, stride: 1, padding: 2,
                 dilation: 1, groups: 1, bias: false),
            Case(n: 1, inChannels: 3, height: 40, width: 45, outChannels: 5, kernel: 7, stride: 1, padding: 6,
                 dilation: 1, groups: 1, bias: true),
            // Rectangular kernel and `same` padding on a non-square plane (asymmetric per side).
            Case(n: 2, inChannels: 5, height: 11, width: 20, outChannels: 6, kernel: Size2d(2, 4), stride: 1,
                 padding: .same, dilation: 1, groups: 1, bias: true),
        ]
        var result: [DeviceCheck] = []
        for c in cases {
            result.append(check(c, tf32: false))
            result.append(check(c, tf32: true))
        }
        // Chunks of 3 images (3, 3, 3, 1), the weight gradient accumulated across them; then tiled.
        result.append(check(Case(n: 7, inChannels: 5, height: 40, width: 35, outChannels: 6, kernel: 3, stride: 1,
                                 padding: 1, dilation: 1, groups: 1, bias: true), tf32: false, imagesPerChunk: 3))
        result.append(check(Case(n: 10, inChannels: 12, height: 13, width: 12, outChannels: 20, kernel: 3, stride: 1,
                                 padding: 1, dilation: 1, groups: 1, bias: true), tf32: false, imagesPerChunk: 3))
        result.append(check(Case(n: 2, inChannels: 6, height: 9, width: 8, outChannels: 10, kernel: 3, stride: 1,
                                 padding: 1, dilation: 1, groups: 1, bias: true, nanInput: true), tf32: false))
        // The filter spectrum in groups of 3 output channels (3, 3, 3, 1), in both precisions.
        for tf32 in [false, true] {
            result.append(check(Case(n: 3, inChannels: 7, height: 13, width: 13, outChannels: 10, kernel: 3, stride: 1,
                                     padding: 1, dilation: 1, groups: 1, bias: true), tf32: tf32, outputChannelsPerGroup: 3))
        }
        // `.auto` takes the FFT from 64 channels each way in a 16 × 16 frame, in both precisions.
        let auto = Case(n: 2, inChannels: 64, height: 12, width: 11, outChannels: 72, kernel: 3, stride: 1, padding: 1,
                        dilation: 1, groups: 1, bias: true)
        result.append(ConvolutionAlgorithmDeviceChecks.conv(.auto, auto))
        let autoTF32 = ConvolutionAlgorithmDeviceChecks.conv(.auto, auto)
        result.append(DeviceCheck(op: "conv2d[auto] tf32", label: auto.description, tolerance: 1e-3) { device in
            try TensorCoreConvDeviceChecks.withTF32(true, on: device) { try autoTF32.body(device) }
        })
        return result
    }

    /// conv2d with `.fft` on `c`, with TF32 allowed on the device when `tf32` is set (the CPU
    /// always computes in fp32), and with the workspace lowered to `imagesPerChunk` images when
    /// given (for a case with padding 1, whose frame the budget is computed for).
    static func check(_ c: Case, tf32: Bool, imagesPerChunk: Int? = nil, outputChannelsPerGroup: Int? = nil) -> DeviceCheck {
        let inner = ConvolutionAlgorithmDeviceChecks.conv(.fft, c)
        let label = c.description + (imagesPerChunk.map { ", \($0) images per chunk" } ?? "")
            + (outputChannelsPerGroup.map { ", filters in groups of \($0)" } ?? "")
        return DeviceCheck(op: "conv2d[fft]" + (tf32 ? " tf32" : ""), label: label, tolerance: tf32 ? 1e-3 : 1e-5) { device in
            let saved = (FFTConvTiling.workspaceBudget, FFTConvTiling.filterBudget)
            defer { (FFTConvTiling.workspaceBudget, FFTConvTiling.filterBudget) = saved }
            if let outputChannelsPerGroup {
                let frame = FFTConvTiling.frameSize(Conv2dGeometry(n: c.n, inChannels: c.inChannels, inHeight: c.height,
                                                                   inWidth: c.width, outChannels: c.outChannels,
                                                                   kernelHeight: c.kernel.h, kernelWidth: c.kernel.w,
                                                                   padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)) ?? 32
                FFTConvTiling.filterBudget = outputChannelsPerGroup * 2 * FFTConvTiling.frequencies(frame: frame) * c.inChannels
            }
            if let imagesPerChunk {
                let geometry = Conv2dGeometry(n: c.n, inChannels: c.inChannels, inHeight: c.height, inWidth: c.width,
                                              outChannels: c.outChannels, kernelHeight: c.kernel.h, kernelWidth: c.kernel.w,
                                              padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
                let frame = FFTConvTiling.frameSize(geometry) ?? 32
                FFTConvTiling.workspaceBudget = imagesPerChunk * 2 * FFTConvTiling.frequencies(frame: frame)
                    * (c.inChannels + c.outChannels) * FFTConvTiling.framesPerPlane(geometry)
            }
            return try TensorCoreConvDeviceChecks.withTF32(tf32, on: device) { try inner.body(device) }
        }
    }
}
