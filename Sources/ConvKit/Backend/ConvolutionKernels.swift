/// Kernels for convolution (every algorithm), transposed convolution and their gradients.
public protocol ConvolutionKernels {
}
