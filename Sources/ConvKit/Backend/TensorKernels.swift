/// Kernels for elementwise arithmetic with broadcasting, reductions, layout (permute, concatenation, slicing) and matmul.
public protocol TensorKernels {
}
