extension CPUBackend: NNKernels {
}
