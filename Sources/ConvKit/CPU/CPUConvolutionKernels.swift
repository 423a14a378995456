extension CPUBackend: ConvolutionKernels {
}
