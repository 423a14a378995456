/// The CUDA convolution kernels: a dispatcher over the algorithms (each in its own file beside
/// its `.cu`). Each algorithm computes the bias-free convolution and its two gradients; the bias
/// and its gradient are done here, once, for all of them.
extension CUDABackend: ConvolutionKernels {
    /// `.auto` → `.depthwise` for depthwise layers, otherwise `.im2colGEMM` (cuBLAS does the work;
    /// X̂ is built in chunks of images that fit a bounded workspace).
    public func resolvedConvAlgorithm(_ algorithm: ConvAlgorithm, geometry g: Conv2dGeometry) -> ConvAlgorithm {
        guard algorithm == .auto else { return algorithm }
        return g.isDepthwise ? .depthwise : .im2colGEMM
    }

    public func conv2dForward(input: Storage, weight: Storage, bias: Storage?, output: Storage,
                              geometry g: Conv2dGeometry, algorithm: ConvAlgorithm) throws {
        let count = g.n * g.outChannels * g.outHeight * g.outWidth
        guard count > 0 else { return }
        if g.inChannels == 0 {
            try fill(output, count: count, value: 0)
        } else {
            switch try checkedAlgorithm(algorithm, g) {
            case .direct: try directConvForward(input: input, weight: weight, output: output, geometry: g)
            case .im2colGEMM: try im2colConvForward(input: input, weight: weight, output: output, geometry: g)
            case .implicitGEMM: try implicitGEMMConvForward(input: input, weight: weight, output: output, geometry: g)
            case .depthwise: try depthwiseConvForward(input: input, weight: weight, output: output, geometry: g)
            case .sparseMatrix: try sparseMatrixConvForward(input: input, weight: weight, output: output, geometry: g)
            case .auto: preconditionFailure("auto is resolved by checkedAlgorithm")
            }
        }
        if let bias {
            try addChannelBias(bias, to: output, n: g.n, channels: g.outChannels, spatial: g.outHeight * g.outWidth)
        }
    }

    public func conv2dBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage,
                                    geometry g: Conv2dGeometry, algorithm: ConvAlgorithm) throws {
        let count = g.n * g.inChannels * g.inHeight * g.inWidth
        guard count > 0 else { return }
        if g.outHeight * g.outWidth == 0 { try fill(gradInput, count: count, value: 0); return }
        switch try checkedAlgorithm(algorithm, g) {
        case .direct: try directConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
        case .im2colGEMM: try im2colConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
        case .implicitGEMM: try implicitGEMMConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
        case .depthwise: try depthwiseConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
        case .sparseMatrix: try sparseMatrixConvBackwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g)
        case .auto: preconditionFailure("auto is resolved by checkedAlgorithm")
        }
    }

    public func conv2dBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage,
                                     geometry g: Conv2dGeometry, algorithm: ConvAlgorithm) throws {
        let count = g.outChannels * g.patchSize
        guard count > 0 else { return }
        if g.n * g.outHeight * g.outWidth == 0 { try fill(gradWeight, count: count, value: 0); return }
        switch try checkedAlgorithm(algorithm, g) {
        case .direct: try directConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
        case .im2colGEMM: try im2colConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
        case .implicitGEMM: try implicitGEMMConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
        case .depthwise: try depthwiseConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
        case .sparseMatrix: try sparseMatrixConvBackwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g)
        case .auto: preconditionFailure("auto is resolved by checkedAlgorithm")
        }
    }

    public func addChannelBias(_ bias: Storage, to output: Storage, n: Int, channels: Int, spatial: Int) throws {
        throw ConvKitError.unsupported(op: "addChannelBias", message: "not yet implemented on CUDA")
    }

    public func channelBiasGradient(gradOutput: Storage, gradBias: Storage, n: Int, channels: Int, spatial: Int) throws {
        throw ConvKitError.unsupported(op: "channelBiasGradient", message: "not yet implemented on CUDA")
    }

    /// Resolves `.auto` and rejects an algorithm that cannot run this geometry.
    private func checkedAlgorithm(_ algorithm: ConvAlgorithm, _ g: Conv2dGeometry) throws -> ConvAlgorithm {
        let resolved = resolvedConvAlgorithm(algorithm, geometry: g)
        if resolved == .depthwise && g.groups != g.inChannels {
            throw ConvKitError.invalidArgument(op: "conv2d", message:
                "algorithm depthwise needs groups == input channels, got groups \(g.groups) with \(g.inChannels) input channels")
        }
        return resolved
    }
}
