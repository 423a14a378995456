/// CUDA-against-CPU checks of the Hopper TF32 convolution (WGMMAConv.cu), which `.implicitGEMM`
/// runs with TF32 allowed on a compute capability 9.0 GPU for the forward pass and the stride-1
/// input gradient (tolerance 1e-3). Every tile variant (64, 128 and 256 output channels) runs with
/// one and with two K splits (`CUDABackend.wgmmaPlanOverride`), then `.auto` with its own choice.
/// Geometries: ragged pixel and channel tiles, stride 2, dilation, 5×5, 1×1, `same` padding
/// with an even kernel, padding beyond the kernel's reach (negative padding in the input
/// gradient's convolution), a NaN input, and a layer whose K is split for real. On other GPUs the
/// same calls run the other kernels, and the checks test those.
enum WGMMAConvDeviceChecks {
    typealias Case = ConvolutionAlgorithmDeviceChecks.Case

    /// The geometries (input channels, and for the input gradient output channels, are
    /// multiples of 32 where the wgmma kernel should take them).
    static let cases: [Case] = [
        Case(n: 2, inChannels: 64, height: 9, width: 11, outChannels: 40, kernel: 3, stride: 1, padding: 1,
             dilation: 1, groups: 1, bias: true, nanInput: true),
        Case(n: 3, inChannels: 32, height: 7, width: 5, outChannels: 200, kernel: 3, stride: 1, padding: 1,
             dilation: 1, groups: 1, bias: false),
        Case(n: 3, inChannels: 32, height: 10, width: 10, outChannels: 64, kernel: 3, stride: 2, padding: 1,
             dilation: 1, groups: 1, bias: true),
        Case(n: 2, inChannels: 64, height: 12, width: 12, outChannels: 96, kernel: 3, stride: 1, padding: 2,
             dilation: 2, groups: 1, bias: false),
        Case(n: 2, inChannels: 96, height: 9, width: 9, outChannels: 128, kernel: 5, stride: 1, padding: 0,
             dilation: 1, groups: 1, bias: true),
        Case(n: 2, inChannels: 32, height: 6, width: 7, outChannels: 32, kernel: 2, stride: 1, padding: 3,
             dilation: 1, groups: 1, bias: false),
        Case(n: 2, inChannels: 64, height: 14, width: 9, outChannels: 64, kernel: Size2d(4, 2), stride: 1,
             padding: .same, dilation: Size2d(1, 2), groups: 1, bias: true),
        Case(n: 3, inChannels: 64, height: 11, width: 13, outChannels: 128, kernel: 1, stride: 1, padding: 0,
             dilation: 1, groups: 1, bias: false),
        Case(n: 2, inChannels: 128, height: 13, width: 13, outChannels: 256, kernel: 3, stride: 1, padding: 1,
             dilation: 1, groups: 1, bias: true),
    ]

    /// The checks.
    static func checks() -> [DeviceCheck] {
        var result: [DeviceCheck] = []
        for columns in [64, 128, 256] {
            for splits in [1, 2] {
                for c in cases { result.append(check(c, algorithm: .implicitGEMM, plan: (columns, splits))) }
            }
        }
        for c in cases { result.append(check(c, algorithm: .auto, plan: nil)) }
        let layer = cases[cases.count - 1]
        result.append(determinism(layer, plan: (256, 2)))
        result.append(determinism(layer, plan: (64, 2)))
        return result
    }

    /// conv2d with `algorithm` on `c` (output, input, weight and bias gradients) with TF32 allowed
    /// on the device and the wgmma plan forced to `plan` (the CPU computes in fp32).
    static func check(_ c: Case, algorithm: ConvAlgorithm, plan: (columns: Int, splits: Int)?) -> DeviceCheck {
        let inner = ConvolutionAlgorithmDeviceChecks.conv(algorithm, c)
        let planLabel = plan.map { " n\($0.columns)×\($0.splits)" } ?? ""
        return DeviceCheck(op: "conv2d[wgmma \(algorithm.rawValue)] tf32", label: c.description + planLabel,
                           tolerance: 1e-3) { device in
            try withPlan(plan, on: device) {
                try TensorCoreConvDeviceChecks.withTF32(true, on: device) { try inner.body(device) }
            }
        }
    }

    /// Runs the forward pass twice on the same inputs with `plan`: the results must be bitwise
    /// identical (two K splits add into the output atomically, in either order).
    static func determinism(_ c: Case, plan: (columns: Int, splits: Int)) -> DeviceCheck {
        TensorCoreConvDeviceChecks.runsTwiceAlike(op: "conv2d[wgmma] tf32 determinism",
                                                  label: c.description + " n\(plan.columns)×\(plan.splits)",
                                                  tolerance: 1e-3) { device in
            let x = try Tensor.normal([c.n, c.inChannels, c.height, c.width], on: device)
            let w = try Tensor.normal([c.outChannels, c.inChannels, c.kernel.h, c.kernel.w], on: device)
            let b = try Tensor.normal([c.outChannels], on: device)
            return {
                try withPlan(plan, on: device) {
                    try TensorCoreConvDeviceChecks.withTF32(true, on: device) {
                        try conv2d(x, w, bias: b, stride: c.stride, padding: c.padding, dilation: c.dilation,
                                   algorithm: .implicitGEMM)
                    }
                }
            }
        }
    }

    /// Runs `body` with the wgmma plan forced to `plan` on a CUDA `device`, restoring the model after.
    static func withPlan<R>(_ plan: (columns: Int, splits: Int)?, on device: Device, _ body: () throws -> R) throws -> R {
        guard let plan, case .cuda = device else { return try body() }
        let backend = try CUDA.backend(device)
        backend.wgmmaPlanOverride = plan
        defer { backend.wgmmaPlanOverride = nil }
        return try body()
    }
}
