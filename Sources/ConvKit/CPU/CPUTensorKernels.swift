extension CPUBackend: TensorKernels {
}
