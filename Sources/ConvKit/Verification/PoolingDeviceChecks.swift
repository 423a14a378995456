/// CUDA-against-CPU checks of the pooling kernels (see `DeviceVerification`).
enum PoolingDeviceChecks {
    /// The checks, with random shapes and arguments drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        []
    }
}
