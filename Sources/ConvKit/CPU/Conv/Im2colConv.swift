/// Explicit GEMM convolution (the chapter's version 2): unfold the input into X̂ (im2col), then
/// one GEMM per group. Several images share one X̂ when their output planes are small, so the
/// GEMM has enough columns to run at full speed.
///
/// X̂ for a chunk of `b` images is `[inChannels·kH·kW] × [b·outH·outW]`: row `(c, ky, kx)`,
/// column `(image, oy, ox)`. Group `g` owns rows `g·patchSize ..< (g+1)·patchSize`.
/// - forward: `Y_g = W_g · X̂_g`
/// - input gradient: `dX̂_g = W_gᵀ · dY_g`, then col2im as a gather (each input row is
///   produced by one thread from the columns that read it; no scatter, no atomics)
/// - weight gradient: `dW_g += dY_g · X̂_gᵀ`, accumulated over the chunks.
enum Im2colConv {
    /// GEMM columns wanted per chunk: below this, images are batched into one X̂.
    static let targetColumns = 2048
    /// Largest X̂ (in floats) that batching may build: 32 Mi floats = 128 MiB.
    static let columnBudget = 32 << 20

    /// Whether X̂ of one image is the image itself (1×1 kernel, stride 1, no padding): then
    /// the GEMMs read and write the NCHW tensors directly and no X̂ is built.
    static func isPointwise(_ g: Conv2dGeometry) -> Bool {
        g.kernelHeight == 1 && g.kernelWidth == 1 && g.strideH == 1 && g.strideW == 1
            && g.padTop == 0 && g.padBottom == 0 && g.padLeft == 0 && g.padRight == 0
            && g.outHeight == g.inHeight && g.outWidth == g.inWidth
    }

    /// Images unfolded together (at least 1).
    static func imagesPerChunk(_ g: Conv2dGeometry) -> Int {
        if isPointwise(g) { return 1 }
        let spatial = max(g.outHeight * g.outWidth, 1)
        let rows = max(g.inChannels * g.kernelHeight * g.kernelWidth, 1)
        let wanted = (targetColumns + spatial - 1) / spatial
        let affordable = max(1, columnBudget / (rows * spatial))
        return max(1, min(g.n, wanted, affordable))
    }

    /// Floats of X̂ for one image (the memory this algorithm needs per image).
    static func columnFloatsPerImage(_ g: Conv2dGeometry) -> Int {
        g.inChannels * g.kernelHeight * g.kernelWidth * g.outHeight * g.outWidth
    }

    /// `output = conv(input, weight)` (overwrites; no bias).
    static func forward(input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let spatial = g.outHeight * g.outWidth
        let chunk = imagesPerChunk(g)
        let columns = chunk * spatial, rows = g.inChannels * g.kernelHeight * g.kernelWidth
        let pointwise = isPointwise(g)
        Scratch.withFloats(pointwise ? 0 : rows * columns) { columnBuffer in
            Scratch.withFloats(chunk > 1 ? g.outChannels * columns : 0) { staged in
                var first = 0
                while first < g.n {
                    let count = min(chunk, g.n - first)
                    let width = count * spatial
                    let xhat = pointwise ? UnsafePointer(input + first * g.inChannels * spatial) : UnsafePointer(columnBuffer)
                    if !pointwise { im2col(input: input, firstImage: first, count: count, columns: columnBuffer, geometry: g) }
                    // With one image, Y lands in the output directly; otherwise in [Cout × width].
                    let y = count == 1 ? output + first * g.outChannels * spatial : staged
                    for group in 0..<g.groups {
                        GEMM.sgemm(transA: false, transB: false,
                                   m: g.outChannelsPerGroup, n: width, k: g.patchSize, alpha: 1,
                                   a: weight + group * g.outChannelsPerGroup * g.patchSize, lda: g.patchSize,
                                   b: xhat + group * g.patchSize * width, ldb: width,
                                   beta: 0, c: y + group * g.outChannelsPerGroup * width, ldc: width)
                    }
                    if count > 1 {
                        unstage(staged, into: output, firstImage: first, count: count, channels: g.outChannels, spatial: spatial)
                    }
                    first += count
                }
            }
        }
    }

    /// `gradInput = ∂L/∂input` (overwrites).
    static func backwardInput(gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let spatial = g.outHeight * g.outWidth
        let chunk = imagesPerChunk(g)
        let columns = chunk * spatial, rows = g.inChannels * g.kernelHeight * g.kernelWidth
        let pointwise = isPointwise(g)
        Scratch.withFloats(pointwise ? 0 : rows * columns) { columnBuffer in
            Scratch.withFloats(chunk > 1 ? g.outChannels * columns : 0) { staged in
                var first = 0
                while first < g.n {
                    let count = min(chunk, g.n - first)
                    let width = count * spatial
                    let dy: UnsafePointer<Float>
                    if count == 1 {
                        dy = gradOutput + first * g.outChannels * spatial
                    } else {
                        stage(gradOutput, into: staged, firstImage: first, count: count, channels: g.outChannels, spatial: spatial)
                        dy = UnsafePointer(staged)
                    }
                    // For a pointwise layer dX̂ is dX itself.
                    let dxhat = pointwise ? gradInput + first * g.inChannels * spatial : columnBuffer
                    for group in 0..<g.groups {
                        GEMM.sgemm(transA: true, transB: false,
                                   m: g.patchSize, n: width, k: g.outChannelsPerGroup, alpha: 1,
                                   a: weight + group * g.outChannelsPerGroup * g.patchSize, lda: g.patchSize,
                                   b: dy + group * g.outChannelsPerGroup * width, ldb: width,
                                   beta: 0, c: dxhat + group * g.patchSize * width, ldc: width)
                    }
                    if !pointwise { col2im(columns: dxhat, gradInput: gradInput, firstImage: first, count: count, geometry: g) }
                    first += count
                }
            }
        }
    }

    /// `gradWeight = ∂L/∂weight` summed over the batch (overwrites).
    static func backwardWeight(gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
                               gradWeight: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let spatial = g.outHeight * g.outWidth
        let chunk = imagesPerChunk(g)
        let columns = chunk * spatial, rows = g.inChannels * g.kernelHeight * g.kernelWidth
        if g.n == 0 { gradWeight.update(repeating: 0, count: g.outChannels * g.patchSize); return }
        let pointwise = isPointwise(g)
        Scratch.withFloats(pointwise ? 0 : rows * columns) { columnBuffer in
            Scratch.withFloats(chunk > 1 ? g.outChannels * columns : 0) { staged in
                var first = 0
                while first < g.n {
                    let count = min(chunk, g.n - first)
                    let width = count * spatial
                    let xhat = pointwise ? UnsafePointer(input + first * g.inChannels * spatial) : UnsafePointer(columnBuffer)
                    if !pointwise { im2col(input: input, firstImage: first, count: count, columns: columnBuffer, geometry: g) }
                    let dy: UnsafePointer<Float>
                    if count == 1 {
                        dy = gradOutput + first * g.outChannels * spatial
                    } else {
                        stage(gradOutput, into: staged, firstImage: first, count: count, channels: g.outChannels, spatial: spatial)
                        dy = UnsafePointer(staged)
                    }
                    for group in 0..<g.groups {
                        GEMM.sgemm(transA: false, transB: true,
                                   m: g.outChannelsPerGroup, n: g.patchSize, k: width, alpha: 1,
                                   a: dy + group * g.outChannelsPerGroup * width, lda: width,
                                   b: xhat + group * g.patchSize * width, ldb: width,
                                   beta: first == 0 ? 0 : 1,
                                   c: gradWeight + group * g.outChannelsPerGroup * g.patchSize, ldc: g.patchSize)
                    }
                    first += count
                }
            }
        }
    }

    /// Fills X̂ for images `firstImage ..< firstImage + count`; zeros where the kernel reads padding.
    static func im2col(input: UnsafePointer<Float>, firstImage: Int, count: Int,
                       columns: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let (oh, ow, ih, iw) = (g.outHeight, g.outWidth, g.inHeight, g.inWidth)
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let spatial = oh * ow, width = count * spatial
        let rowCount = g.inChannels * kh * kw
        CPUBackend.shared.parallelFor(rowCount * count, grain: max(1, 4096 / max(spatial, 1))) { tasks in
            for task in tasks {
                let row = task / count, image = task % count
                let c = row / (kh * kw), ky = (row / kw) % kh, kx = row % kw
                let x = input + ((firstImage + image) * g.inChannels + c) * ih * iw
                let dst = columns + row * width + image * spatial
                let offsetY = ky * g.dilationH - g.padTop, offsetX = kx * g.dilationW - g.padLeft
                let rows = ConvIndexing.validOutputs(offset: offsetY, stride: g.strideH, inSize: ih, outSize: oh)
                let cols = ConvIndexing.validOutputs(offset: offsetX, stride: g.strideW, inSize: iw, outSize: ow)
                for y in 0..<oh {
                    let dstRow = dst + y * ow
                    guard rows.contains(y), !cols.isEmpty else { dstRow.update(repeating: 0, count: ow); continue }
                    if cols.lowerBound > 0 { dstRow.update(repeating: 0, count: cols.lowerBound) }
                    if cols.upperBound < ow { (dstRow + cols.upperBound).update(repeating: 0, count: ow - cols.upperBound) }
                    let xRow = x + (y * g.strideH + offsetY) * iw + offsetX
                    if g.strideW == 1 {
                        (dstRow + cols.lowerBound).update(from: xRow + cols.lowerBound, count: cols.count)
                    } else {
                        for xo in cols { dstRow[xo] = xRow[xo * g.strideW] }
                    }
                }
            }
        }
    }

    /// col2im as a gather: each input row of images `firstImage ..< firstImage + count` is
    /// written once, by one thread, as the sum of the X̂ entries that read it.
    static func col2im(columns: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>,
                       firstImage: Int, count: Int, geometry g: Conv2dGeometry) {
        let (oh, ow, ih, iw) = (g.outHeight, g.outWidth, g.inHeight, g.inWidth)
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let spatial = oh * ow, width = count * spatial
        CPUBackend.shared.parallelFor(count * g.inChannels * ih, grain: 8) { tasks in
            for task in tasks {
                let y = task % ih, plane = task / ih
                let image = plane / g.inChannels, c = plane % g.inChannels
                let dxRow = gradInput + (((firstImage + image) * g.inChannels + c) * ih + y) * iw
                dxRow.update(repeating: 0, count: iw)
                for ky in 0..<kh {
                    guard let yo = ConvIndexing.outputReading(input: y, pad: g.padTop, tapOffset: ky * g.dilationH,
                                                              stride: g.strideH, outSize: oh) else { continue }
                    for kx in 0..<kw {
                        let offsetX = kx * g.dilationW - g.padLeft
                        let cols = ConvIndexing.validOutputs(offset: offsetX, stride: g.strideW, inSize: iw, outSize: ow)
                        let src = columns + ((c * kh + ky) * kw + kx) * width + image * spatial + yo * ow
                        let dst = dxRow + offsetX
                        if g.strideW == 1 {
                            for xo in cols { dst[xo] += src[xo] }
                        } else {
                            for xo in cols { dst[xo * g.strideW] += src[xo] }
                        }
                    }
                }
            }
        }
    }

    /// Copies `[count images][channels][spatial]` of `source` into `[channels][count·spatial]`.
    static func stage(_ source: UnsafePointer<Float>, into staged: UnsafeMutablePointer<Float>,
                      firstImage: Int, count: Int, channels: Int, spatial: Int) {
        CPUBackend.shared.parallelFor(channels * count, grain: max(1, 4096 / max(spatial, 1))) { tasks in
            for task in tasks {
                let c = task / count, image = task % count
                (staged + (c * count + image) * spatial)
                    .update(from: source + ((firstImage + image) * channels + c) * spatial, count: spatial)
            }
        }
    }

    /// The inverse of `stage`: `[channels][count·spatial]` back into NCHW images.
    static func unstage(_ staged: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>,
                        firstImage: Int, count: Int, channels: Int, spatial: Int) {
        CPUBackend.shared.parallelFor(channels * count, grain: max(1, 4096 / max(spatial, 1))) { tasks in
            for task in tasks {
                let c = task / count, image = task % count
                (destination + ((firstImage + image) * channels + c) * spatial)
                    .update(from: staged + (c * count + image) * spatial, count: spatial)
            }
        }
    }
}
