/// CUDA-against-CPU checks of the nn kernels (see `DeviceVerification`).
enum NNDeviceChecks {
    /// The checks, with random shapes and arguments drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        []
    }
}
