/// The CPU convolution kernels: a dispatcher over the algorithms in `CPU/Conv/`. Each algorithm
/// computes the bias-free convolution and its two gradients; the bias and its gradient are done
/// here, once, for all of them.
extension CPUBackend: ConvolutionKernels {
    /// X̂ larger than this (floats, for the whole batch) makes `.auto` prefer implicit GEMM,
    /// which never materialises it.
    static let implicitGEMMColumnThreshold = 64 << 20

    /// `.auto` → `.depthwise` for depthwise layers, `.implicitGEMM` when X̂ would exceed
    /// `implicitGEMMColumnThreshold`, otherwise `.im2colGEMM`.
    public func resolvedConvAlgorithm(_ algorithm: ConvAlgorithm, geometry g: Conv2dGeometry) -> ConvAlgorithm {
        guard algorithm == .auto else { return algorithm }
        if g.isDepthwise { return .depthwise }
        let columns = Im2colConv.columnFloatsPerImage(g) * min(g.n, Im2colConv.imagesPerChunk(g))
        return columns > Self.implicitGEMMColumnThreshold ? .implicitGEMM : .im2colGEMM
    }

    /// Runs the chosen algorithm, then adds the bias once.
    public func conv2dForward(input: Storage, weight: Storage, bias: Storage?, output: Storage,
                              geometry g: Conv2dGeometry, algorithm: ConvAlgorithm) throws {
        let count = g.n * g.outChannels * g.outHeight * g.outWidth
        guard count > 0 else { return }
        let x = UnsafePointer(input.floats), w = UnsafePointer(weight.floats), y = output.floats
        if g.inChannels == 0 {
            y.update(repeating: 0, count: count)
        } else {
            switch try checkedAlgorithm(algorithm, g) {
            case .direct: DirectConv.forward(input: x, weight: w, output: y, geometry: g)
            case .im2colGEMM: Im2colConv.forward(input: x, weight: w, output: y, geometry: g)
            case .depthwise: DepthwiseConv.forward(input: x, weight: w, output: y, geometry: g)
            case .sparseMatrix: SparseMatrixConv.forward(input: x, weight: w, output: y, geometry: g)
            case .implicitGEMM: ImplicitGEMMConv.forward(input: x, weight: w, output: y, geometry: g)
            case .winograd: WinogradConv.forward(input: x, weight: w, output: y, geometry: g)
            case .fft: FFTConv.forward(input: x, weight: w, output: y, geometry: g)
            case .auto: preconditionFailure("auto is resolved by checkedAlgorithm")
            }
        }
        if let bias {
            try addChannelBias(bias, to: output, n: g.n, channels: g.outChannels, spatial: g.outHeight * g.outWidth)
        }
    }

    /// Runs the chosen algorithm's input-gradient kernel (a gather: deterministic).
    public func conv2dBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage,
                                    geometry g: Conv2dGeometry, algorithm: ConvAlgorithm) throws {
        let count = g.n * g.inChannels * g.inHeight * g.inWidth
        guard count > 0 else { return }
        let dy = UnsafePointer(gradOutput.floats), w = UnsafePointer(weight.floats), dx = gradInput.floats
        if g.outHeight * g.outWidth == 0 { dx.update(repeating: 0, count: count); return }
        switch try checkedAlgorithm(algorithm, g) {
        case .direct: DirectConv.backwardInput(gradOutput: dy, weight: w, gradInput: dx, geometry: g)
        case .im2colGEMM: Im2colConv.backwardInput(gradOutput: dy, weight: w, gradInput: dx, geometry: g)
        case .depthwise: DepthwiseConv.backwardInput(gradOutput: dy, weight: w, gradInput: dx, geometry: g)
        case .sparseMatrix: SparseMatrixConv.backwardInput(gradOutput: dy, weight: w, gradInput: dx, geometry: g)
        case .implicitGEMM: ImplicitGEMMConv.backwardInput(gradOutput: dy, weight: w, gradInput: dx, geometry: g)
        case .winograd: WinogradConv.backwardInput(gradOutput: dy, weight: w, gradInput: dx, geometry: g)
        case .fft: FFTConv.backwardInput(gradOutput: dy, weight: w, gradInput: dx, geometry: g)
        case .auto: preconditionFailure("auto is resolved by checkedAlgorithm")
        }
    }

    /// Runs the chosen algorithm's weight-gradient kernel.
    public func conv2dBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage,
                                     geometry g: Conv2dGeometry, algorithm: ConvAlgorithm) throws {
        let count = g.outChannels * g.patchSize
        guard count > 0 else { return }
        let dy = UnsafePointer(gradOutput.floats), x = UnsafePointer(input.floats), dw = gradWeight.floats
        if g.n * g.outHeight * g.outWidth == 0 { dw.update(repeating: 0, count: count); return }
        switch try checkedAlgorithm(algorithm, g) {
        case .direct: DirectConv.backwardWeight(gradOutput: dy, input: x, gradWeight: dw, geometry: g)
        case .im2colGEMM: Im2colConv.backwardWeight(gradOutput: dy, input: x, gradWeight: dw, geometry: g)
        case .depthwise: DepthwiseConv.backwardWeight(gradOutput: dy, input: x, gradWeight: dw, geometry: g)
        case .sparseMatrix: SparseMatrixConv.backwardWeight(gradOutput: dy, input: x, gradWeight: dw, geometry: g)
        case .implicitGEMM: ImplicitGEMMConv.backwardWeight(gradOutput: dy, input: x, gradWeight: dw, geometry: g)
        case .winograd: WinogradConv.backwardWeight(gradOutput: dy, input: x, gradWeight: dw, geometry: g)
        case .fft: FFTConv.backwardWeight(gradOutput: dy, input: x, gradWeight: dw, geometry: g)
        case .auto: preconditionFailure("auto is resolved by checkedAlgorithm")
        }
    }

    /// Adds `bias[c]` to every element of channel `c`, parallel over (image, channel) planes.
    public func addChannelBias(_ bias: Storage, to output: Storage, n: Int, channels: Int, spatial: Int) throws {
        let b = bias.floats, y = output.floats
        parallelFor(n * channels, grain: max(1, 8192 / max(spatial, 1))) { planes in
            for plane in planes {
                let value = b[plane % channels], row = y + plane * spatial
                for i in 0..<spatial { row[i] += value }
            }
        }
    }

    /// Sums each channel over images and positions (Float32 per plane, Float64 across planes).
    public func channelBiasGradient(gradOutput: Storage, gradBias: Storage, n: Int, channels: Int, spatial: Int) throws {
        let dy = gradOutput.floats, db = gradBias.floats
        parallelFor(channels, grain: max(1, 65536 / max(n * spatial, 1))) { range in
            for c in range {
                var total = 0.0
                for image in 0..<n {
                    let row = dy + (image * channels + c) * spatial
                    var sum: Float = 0
                    for i in 0..<spatial { sum += row[i] }
                    total += Double(sum)
                }
                db[c] = Float(total)
            }
        }
    }

    /// Resolves `.auto` and rejects an algorithm that cannot run this geometry.
    private func checkedAlgorithm(_ algorithm: ConvAlgorithm, _ g: Conv2dGeometry) throws -> ConvAlgorithm {
        let resolved = resolvedConvAlgorithm(algorithm, geometry: g)
        if resolved == .depthwise && !DepthwiseConv.supports(g) {
            throw ConvKitError.invalidArgument(op: "conv2d", message:
                "algorithm depthwise needs groups == input channels, got groups \(g.groups) with \(g.inChannels) input channels")
        }
        if resolved == .winograd && !WinogradTiling.supports(g) {
            throw ConvKitError.unsupported(op: "conv2d", message: WinogradTiling.unsupportedReason(g))
        }
        if resolved == .fft && !FFTConvTiling.supports(g) {
            throw ConvKitError.unsupported(op: "conv2d", message: FFTConvTiling.unsupportedReason(g))
        }
        return resolved
    }
}
