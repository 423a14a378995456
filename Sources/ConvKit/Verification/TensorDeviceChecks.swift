/// CUDA-against-CPU checks of the tensor kernels (see `DeviceVerification`).
enum TensorDeviceChecks {
    /// The checks, with random shapes and arguments drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        []
    }
}
