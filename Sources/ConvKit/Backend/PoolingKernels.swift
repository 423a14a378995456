/// Kernels for padding, max/average/adaptive pooling, unpooling and their gradients.
public protocol PoolingKernels {
}
