/// The CUDA PoolingKernels.
extension CUDABackend: PoolingKernels {
    public func pad2d(_ input: Storage, output: Storage, geometry: PadGeometry) throws {
        throw ConvKitError.unsupported(op: "pad2d", message: "not yet implemented on CUDA")
    }

    public func pad2dBackward(_ gradOutput: Storage, gradInput: Storage, geometry: PadGeometry) throws {
        throw ConvKitError.unsupported(op: "pad2dBackward", message: "not yet implemented on CUDA")
    }

    public func maxPool2d(_ input: Storage, output: Storage, indices: Storage?, geometry: Pool2dGeometry) throws {
        throw ConvKitError.unsupported(op: "maxPool2d", message: "not yet implemented on CUDA")
    }

    public func maxPool2dBackward(_ gradOutput: Storage, indices: Storage, gradInput: Storage,
                           geometry: Pool2dGeometry) throws {
        throw ConvKitError.unsupported(op: "maxPool2dBackward", message: "not yet implemented on CUDA")
    }

    public func avgPool2d(_ input: Storage, output: Storage, geometry: Pool2dGeometry, divisor: AvgPoolDivisor) throws {
        throw ConvKitError.unsupported(op: "avgPool2d", message: "not yet implemented on CUDA")
    }

    public func avgPool2dBackward(_ gradOutput: Storage, gradInput: Storage, geometry: Pool2dGeometry,
                           divisor: AvgPoolDivisor) throws {
        throw ConvKitError.unsupported(op: "avgPool2dBackward", message: "not yet implemented on CUDA")
    }

    public func adaptiveAvgPool2d(_ input: Storage, output: Storage, geometry: Pool2dGeometry) throws {
        throw ConvKitError.unsupported(op: "adaptiveAvgPool2d", message: "not yet implemented on CUDA")
    }

    public func adaptiveAvgPool2dBackward(_ gradOutput: Storage, gradInput: Storage, geometry: Pool2dGeometry) throws {
        throw ConvKitError.unsupported(op: "adaptiveAvgPool2dBackward", message: "not yet implemented on CUDA")
    }

    public func maxUnpool2d(_ input: Storage, indices: Storage, output: Storage, geometry: Pool2dGeometry) throws {
        throw ConvKitError.unsupported(op: "maxUnpool2d", message: "not yet implemented on CUDA")
    }

    public func maxUnpool2dBackward(_ gradOutput: Storage, indices: Storage, gradInput: Storage,
                             geometry: Pool2dGeometry) throws {
        throw ConvKitError.unsupported(op: "maxUnpool2dBackward", message: "not yet implemented on CUDA")
    }

}
