/// CUDA-against-CPU checks of the convolution kernels (see `DeviceVerification`).
enum ConvolutionDeviceChecks {
    /// The checks, with random shapes and arguments drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        []
    }
}
