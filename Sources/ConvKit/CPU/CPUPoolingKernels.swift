extension CPUBackend: PoolingKernels {
}
