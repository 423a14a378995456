/// CUDA-against-CPU checks of the normalization kernels (see `DeviceVerification`).
enum NormalizationDeviceChecks {
    /// The checks, with random shapes and arguments drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        []
    }
}
