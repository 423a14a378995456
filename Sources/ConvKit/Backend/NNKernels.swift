/// Kernels for linear, activations, dropout, local response normalisation, softmax and cross-entropy.
public protocol NNKernels {
}
