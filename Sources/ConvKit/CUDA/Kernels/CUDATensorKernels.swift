/// The CUDA TensorKernels.
extension CUDABackend: TensorKernels {
    public func binary(_ op: BinaryOp, _ a: Storage, strides aStrides: [Int], _ b: Storage, strides bStrides: [Int],
                into out: Storage, shape: [Int]) throws {
        throw ConvKitError.unsupported(op: "binary", message: "not yet implemented on CUDA")
    }

    public func unary(_ op: UnaryOp, _ input: Storage, into out: Storage, count: Int) throws {
        throw ConvKitError.unsupported(op: "unary", message: "not yet implemented on CUDA")
    }

    public func reduceSum(_ input: Storage, into out: Storage, outer: Int, reduced: Int, inner: Int) throws {
        throw ConvKitError.unsupported(op: "reduceSum", message: "not yet implemented on CUDA")
    }

    public func reduceMax(_ input: Storage, values: Storage, indices: Storage, outer: Int, reduced: Int, inner: Int) throws {
        throw ConvKitError.unsupported(op: "reduceMax", message: "not yet implemented on CUDA")
    }

    public func scatterAlongDim(_ source: Storage, indices: Storage, into out: Storage, outer: Int, reduced: Int, inner: Int) throws {
        throw ConvKitError.unsupported(op: "scatterAlongDim", message: "not yet implemented on CUDA")
    }

    public func copyStrided(from source: Storage, offset sourceOffset: Int, strides sourceStrides: [Int],
                     to destination: Storage, offset destinationOffset: Int, strides destinationStrides: [Int],
                     shape: [Int]) throws {
        throw ConvKitError.unsupported(op: "copyStrided", message: "not yet implemented on CUDA")
    }

    public func batchedMatmul(_ a: Storage, _ b: Storage, into c: Storage, batch: Int, m: Int, n: Int, k: Int,
                       transposeA: Bool, transposeB: Bool, aBatchStride: Int, bBatchStride: Int) throws {
        throw ConvKitError.unsupported(op: "batchedMatmul", message: "not yet implemented on CUDA")
    }

}
