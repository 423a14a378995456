/// Winograd F(2×2, r×r) convolution (r = 3 or 5) on the CPU (the algorithm and its layouts:
/// `WinogradTiling`): transform the filters into U, a chunk of images into V, run the α² GEMMs,
/// transform M back into the output. The transforms are parallel over channels; the GEMMs run
/// on `GEMM.sgemm`.
enum WinogradConv {
    /// `output = conv(input, weight)` (overwrites; no bias).
    static func forward(input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        precondition(WinogradTiling.supports(g), WinogradTiling.unsupportedReason(g))
        transformedConvolution(input: input, weight: weight, flipped: false, output: output, geometry: g)
    }

    /// `gradInput = ∂L/∂input` (overwrites): the forward pass of the stride-1 input gradient.
    static func backwardInput(gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        precondition(WinogradTiling.supports(g), WinogradTiling.unsupportedReason(g))
        transformedConvolution(input: gradOutput, weight: weight, flipped: true, output: gradInput,
                               geometry: g.inputGradientAsForward)
    }

    /// `gradWeight = ∂L/∂weight` summed over the batch (overwrites): `dU` accumulated over the
    /// chunks in order, then `dW = Gᵀ dU G`.
    static func backwardWeight(gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
                               gradWeight: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        precondition(WinogradTiling.supports(g), WinogradTiling.unsupportedReason(g))
        let k = g.outChannels, c = g.inChannels, positions = WinogradTiling.positions(g)
        let chunk = WinogradTiling.imagesPerChunk(g), perImage = WinogradTiling.tilesPerImage(g)
        Scratch.withFloats(positions * k * c) { du in
            Scratch.withFloats(positions * (c + k) * chunk * perImage) { workspace in
                var first = 0
                while first < g.n {
                    let count = min(chunk, g.n - first), tiles = count * perImage
                    let v = workspace, yhat = workspace + positions * c * tiles
                    transformInput(input, into: v, geometry: g, firstImage: first, count: count)
                    transformGradOutput(gradOutput, into: yhat, geometry: g, firstImage: first, count: count)
                    for xi in 0..<positions {
                        GEMM.sgemm(transA: false, transB: true, m: k, n: c, k: tiles, alpha: 1,
                                   a: yhat + xi * k * tiles, lda: tiles, b: v + xi * c * tiles, ldb: tiles,
                                   beta: first == 0 ? 0 : 1, c: du + xi * k * c, ldc: c)
                    }
                    first += count
                }
            }
            filterGradient(du, into: gradWeight, outChannels: k, inChannels: c, kernel: g.kernelHeight)
        }
    }

    /// The forward pass of stride-1 geometry `g` (the input gradient's when `flipped`).
    private static func transformedConvolution(input: UnsafePointer<Float>, weight: UnsafePointer<Float>, flipped: Bool,
                                               output: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let k = g.outChannels, c = g.inChannels, positions = WinogradTiling.positions(g)
        let chunk = WinogradTiling.imagesPerChunk(g), perImage = WinogradTiling.tilesPerImage(g)
        Scratch.withFloats(positions * k * c) { u in
            // The weight is [outChannels][inChannels] of the layer; flipped, that is [c][k] of this GEMM.
            transformFilters(weight, into: u, outChannels: flipped ? c : k, inChannels: flipped ? k : c, kernel: g.kernelHeight,
                             flipped: flipped)
            Scratch.withFloats(positions * (c + k) * chunk * perImage) { workspace in
                var first = 0
                while first < g.n {
                    let count = min(chunk, g.n - first), tiles = count * perImage
                    let v = workspace, m = workspace + positions * c * tiles
                    transformInput(input, into: v, geometry: g, firstImage: first, count: count)
                    for xi in 0..<positions {
                        GEMM.sgemm(transA: false, transB: false, m: k, n: tiles, k: c, alpha: 1,
                                   a: u + xi * k * c, lda: c, b: v + xi * c * tiles, ldb: tiles,
                                   beta: 0, c: m + xi * k * tiles, ldc: tiles)
                    }
                    transformOutput(m, into: output, geometry: g, firstImage: first, count: count)
                    first += count
                }
            }
        }
    }

    // MARK: Transforms

    /// `out = L · X · Rᵀ` for row-major `L` (p × q), `X` (q × q') and `R` (p' × q'): the
    /// two-sided product every transform is; `middle` holds at least p·q' floats of scratch.
    @inline(__always)
    private static func sandwich(_ l: [Float], _ x: [Float], _ r: [Float], p: Int, q: Int, q2: Int, p2: Int,
                                 middle: inout [Float], into out: inout [Float]) {
        for i in 0..<p {
            for j in 0..<q2 {
                var sum: Float = 0
                for a in 0..<q { sum += l[i * q + a] * x[a * q2 + j] }
                middle[i * q2 + j] = sum
            }
        }
        for i in 0..<p {
            for j in 0..<p2 {
                var sum: Float = 0
                for b in 0..<q2 { sum += middle[i * q2 + b] * r[j * q2 + b] }
                out[i * p2 + j] = sum
            }
        }
    }

    /// The transpose of a row-major `rows × columns` matrix.
    private static func transposed(_ m: [Float], rows: Int, columns: Int) -> [Float] {
        (0..<(rows * columns)).map { index in m[(index % rows) * columns + index / rows] }
    }

    /// `U[ξ][k][c] = (G g Gᵀ)[ξ]` for every filter (`[outChannels][inChannels][r][r]`). With
    /// `flipped` (the input gradient) the GEMM's rows are the weight's input channels: the
    /// filter is rotated by 180° and stored at `U[ξ][c][k]`.
    static func transformFilters(_ weight: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>,
                                 outChannels: Int, inChannels: Int, kernel: Int, flipped: Bool) {
        let m = WinogradTiling.matrices(kernel: kernel), alpha = m.alpha, taps = kernel * kernel
        let count = outChannels * inChannels
        CPUBackend.shared.parallelFor(count, grain: 64) { range in
            var f = [Float](repeating: 0, count: taps), out = [Float](repeating: 0, count: alpha * alpha), middle = out
            let g = m.g.map { $0 }  // this worker's own copy: no reference count shared between threads
            for filter in range {
                let k = filter / inChannels, c = filter % inChannels
                let w = weight + filter * taps
                for i in 0..<taps { f[i] = flipped ? w[taps - 1 - i] : w[i] }
                sandwich(g, f, g, p: alpha, q: kernel, q2: kernel, p2: alpha, middle: &middle, into: &out)
                let at = flipped ? c * outChannels + k : filter
                for xi in 0..<(alpha * alpha) { u[xi * count + at] = out[xi] }
            }
        }
    }

    /// `V[ξ][c][t] = (Bᵀ d B)[ξ]` for the α×α input tile d of every tile t of images
    /// `firstImage ..< firstImage + count` (zero outside the input).
    static func transformInput(_ input: UnsafePointer<Float>, into v: UnsafeMutablePointer<Float>,
                               geometry g: Conv2dGeometry, firstImage: Int, count: Int) {
        let m = WinogradTiling.matrices(kernel: g.kernelHeight), alpha = m.alpha
        let perImage = WinogradTiling.tilesPerImage(g), columns = WinogradTiling.tileColumns(g)
        let tiles = count * perImage, stride = g.inChannels * tiles, plane = g.inHeight * g.inWidth
        CPUBackend.shared.parallelFor(g.inChannels * count) { planes in
            var d = [Float](repeating: 0, count: alpha * alpha), out = d, middle = d
            let bt = m.bt.map { $0 }  // this worker's own copy: no reference count shared between threads
            for index in planes {
                let c = index / count, image = index % count
                let source = input + ((firstImage + image) * g.inChannels + c) * plane
                for r in 0..<perImage {
                    let y0 = (r / columns) * 2 - g.padTop, x0 = (r % columns) * 2 - g.padLeft
                    for a in 0..<alpha {
                        for b in 0..<alpha {
                            let y = y0 + a, x = x0 + b
                            d[a * alpha + b] = y >= 0 && y < g.inHeight && x >= 0 && x < g.inWidth ? source[y * g.inWidth + x] : 0
                        }
                    }
                    sandwich(bt, d, bt, p: alpha, q: alpha, q2: alpha, p2: alpha, middle: &middle, into: &out)
                    let destination = v + c * tiles + image * perImage + r
                    for xi in 0..<(alpha * alpha) { destination[xi * stride] = out[xi] }
                }
            }
        }
    }

    /// The output tiles `Aᵀ M A` of M (`[ξ][k][t]`) into the output planes of images
    /// `firstImage ..< firstImage + count` (a tile's rows and columns beyond the plane are dropped).
    static func transformOutput(_ mt: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>,
                                geometry g: Conv2dGeometry, firstImage: Int, count: Int) {
        let m = WinogradTiling.matrices(kernel: g.kernelHeight), alpha = m.alpha
        let perImage = WinogradTiling.tilesPerImage(g), columns = WinogradTiling.tileColumns(g)
        let tiles = count * perImage, stride = g.outChannels * tiles, plane = g.outHeight * g.outWidth
        CPUBackend.shared.parallelFor(g.outChannels * count) { planes in
            var tile = [Float](repeating: 0, count: alpha * alpha), out = [Float](repeating: 0, count: 4), middle = tile
            let at = m.at.map { $0 }  // this worker's own copy: no reference count shared between threads
            for index in planes {
                let k = index / count, image = index % count
                let destination = output + ((firstImage + image) * g.outChannels + k) * plane
                for r in 0..<perImage {
                    let source = mt + k * tiles + image * perImage + r
                    for xi in 0..<(alpha * alpha) { tile[xi] = source[xi * stride] }
                    sandwich(at, tile, at, p: 2, q: alpha, q2: alpha, p2: 2, middle: &middle, into: &out)
                    let y0 = (r / columns) * 2, x0 = (r % columns) * 2
                    for i in 0..<2 where y0 + i < g.outHeight {
                        for j in 0..<2 where x0 + j < g.outWidth { destination[(y0 + i) * g.outWidth + x0 + j] = out[2 * i + j] }
                    }
                }
            }
        }
    }

    /// `Ŷ[ξ][k][t] = (A dY Aᵀ)[ξ]` for the 2×2 output-gradient tile of every tile t (zero beyond the plane).
    static func transformGradOutput(_ gradOutput: UnsafePointer<Float>, into yhat: UnsafeMutablePointer<Float>,
                                    geometry g: Conv2dGeometry, firstImage: Int, count: Int) {
        let m = WinogradTiling.matrices(kernel: g.kernelHeight), alpha = m.alpha
        let a = transposed(m.at, rows: 2, columns: alpha)
        let perImage = WinogradTiling.tilesPerImage(g), columns = WinogradTiling.tileColumns(g)
        let tiles = count * perImage, stride = g.outChannels * tiles, plane = g.outHeight * g.outWidth
        CPUBackend.shared.parallelFor(g.outChannels * count) { planes in
            var dy = [Float](repeating: 0, count: 4), out = [Float](repeating: 0, count: alpha * alpha), middle = out
            let a = a.map { $0 }  // this worker's own copy: no reference count shared between threads
            for index in planes {
                let k = index / count, image = index % count
                let source = gradOutput + ((firstImage + image) * g.outChannels + k) * plane
                for r in 0..<perImage {
                    let y0 = (r / columns) * 2, x0 = (r % columns) * 2
                    for i in 0..<2 {
                        for j in 0..<2 {
                            dy[2 * i + j] = y0 + i < g.outHeight && x0 + j < g.outWidth ? source[(y0 + i) * g.outWidth + x0 + j] : 0
                        }
                    }
                    sandwich(a, dy, a, p: alpha, q: 2, q2: 2, p2: alpha, middle: &middle, into: &out)
                    let destination = yhat + k * tiles + image * perImage + r
                    for xi in 0..<(alpha * alpha) { destination[xi * stride] = out[xi] }
                }
            }
        }
    }

    /// `dW[k][c] = Gᵀ dU[·][k][c] G` (r × r) for every filter.
    static func filterGradient(_ du: UnsafePointer<Float>, into gradWeight: UnsafeMutablePointer<Float>,
                               outChannels: Int, inChannels: Int, kernel: Int) {
        let m = WinogradTiling.matrices(kernel: kernel), alpha = m.alpha, taps = kernel * kernel
        let gt = transposed(m.g, rows: alpha, columns: kernel)
        let count = outChannels * inChannels
        CPUBackend.shared.parallelFor(count, grain: 64) { range in
            var tile = [Float](repeating: 0, count: alpha * alpha), out = [Float](repeating: 0, count: taps), middle = tile
            let gt = gt.map { $0 }  // this worker's own copy: no reference count shared between threads
            for filter in range {
                for xi in 0..<(alpha * alpha) { tile[xi] = du[xi * count + filter] }
                sandwich(gt, tile, gt, p: kernel, q: alpha, q2: alpha, p2: kernel, middle: &middle, into: &out)
                let w = gradWeight + filter * taps
                for i in 0..<taps { w[i] = out[i] }
            }
        }
    }
}
