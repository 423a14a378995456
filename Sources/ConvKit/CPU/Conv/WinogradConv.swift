/// Winograd F(2×2, 3×3) convolution on the CPU (the algorithm and its layouts:
/// `WinogradTiling`): transform the filters into U, a chunk of images into V, run the 16 GEMMs,
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
        let k = g.outChannels, c = g.inChannels, positions = WinogradTiling.positions
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
            filterGradient(du, into: gradWeight, outChannels: k, inChannels: c)
        }
    }

    /// The forward pass of stride-1 geometry `g` (the input gradient's when `flipped`).
    private static func transformedConvolution(input: UnsafePointer<Float>, weight: UnsafePointer<Float>, flipped: Bool,
                                               output: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let k = g.outChannels, c = g.inChannels, positions = WinogradTiling.positions
        let chunk = WinogradTiling.imagesPerChunk(g), perImage = WinogradTiling.tilesPerImage(g)
        Scratch.withFloats(positions * k * c) { u in
            // The weight is [outChannels][inChannels] of the layer; flipped, that is [c][k] of this GEMM.
            transformFilters(weight, into: u, outChannels: flipped ? c : k, inChannels: flipped ? k : c, flipped: flipped)
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

    /// `Bᵀ d B` of a 4×4 tile given as its rows.
    @inline(__always)
    static func inputTile(_ d0: SIMD4<Float>, _ d1: SIMD4<Float>, _ d2: SIMD4<Float>, _ d3: SIMD4<Float>)
        -> (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>) {
        let rows = (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
        func columns(_ e: SIMD4<Float>) -> SIMD4<Float> { SIMD4(e[0] - e[2], e[1] + e[2], e[2] - e[1], e[1] - e[3]) }
        return (columns(rows.0), columns(rows.1), columns(rows.2), columns(rows.3))
    }

    /// `U[ξ][k][c] = (G g Gᵀ)[ξ]` for every filter (`[outChannels][inChannels][3][3]`). With
    /// `flipped` (the input gradient) the GEMM's rows are the weight's input channels: the
    /// filter is rotated by 180° and stored at `U[ξ][c][k]`.
    static func transformFilters(_ weight: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>,
                                 outChannels: Int, inChannels: Int, flipped: Bool) {
        let count = outChannels * inChannels
        CPUBackend.shared.parallelFor(count, grain: 256) { range in
            for filter in range {
                let k = filter / inChannels, c = filter % inChannels
                let w = weight + filter * 9
                func tap(_ i: Int) -> Float { flipped ? w[8 - i] : w[i] }
                let f0 = SIMD4(tap(0), tap(1), tap(2), 0), f1 = SIMD4(tap(3), tap(4), tap(5), 0)
                let f2 = SIMD4(tap(6), tap(7), tap(8), 0)
                // G f (4 rows of 3), then each row times Gᵀ.
                let rows = [f0, 0.5 * (f0 + f1 + f2), 0.5 * (f0 - f1 + f2), f2]
                let at = flipped ? c * outChannels + k : filter
                for (row, r) in rows.enumerated() {
                    u[(4 * row + 0) * count + at] = r[0]
                    u[(4 * row + 1) * count + at] = 0.5 * (r[0] + r[1] + r[2])
                    u[(4 * row + 2) * count + at] = 0.5 * (r[0] - r[1] + r[2])
                    u[(4 * row + 3) * count + at] = r[2]
                }
            }
        }
    }

    /// `V[ξ][c][t] = (Bᵀ d B)[ξ]` for the 4×4 input tile d of every tile t of images
    /// `firstImage ..< firstImage + count` (zero outside the input).
    static func transformInput(_ input: UnsafePointer<Float>, into v: UnsafeMutablePointer<Float>,
                               geometry g: Conv2dGeometry, firstImage: Int, count: Int) {
        let perImage = WinogradTiling.tilesPerImage(g), columns = WinogradTiling.tileColumns(g)
        let tiles = count * perImage, stride = g.inChannels * tiles, plane = g.inHeight * g.inWidth
        CPUBackend.shared.parallelFor(g.inChannels * count) { planes in
            for index in planes {
                let c = index / count, image = index % count
                let source = input + ((firstImage + image) * g.inChannels + c) * plane
                for r in 0..<perImage {
                    let y0 = (r / columns) * 2 - g.padTop, x0 = (r % columns) * 2 - g.padLeft
                    func row(_ a: Int) -> SIMD4<Float> {
                        let y = y0 + a
                        guard y >= 0 && y < g.inHeight else { return .zero }
                        var d = SIMD4<Float>.zero
                        for b in 0..<4 where x0 + b >= 0 && x0 + b < g.inWidth { d[b] = source[y * g.inWidth + x0 + b] }
                        return d
                    }
                    let t = inputTile(row(0), row(1), row(2), row(3))
                    let out = v + c * tiles + image * perImage + r
                    for (a, e) in [t.0, t.1, t.2, t.3].enumerated() {
                        for b in 0..<4 { out[(4 * a + b) * stride] = e[b] }
                    }
                }
            }
        }
    }

    /// The output tiles `Aᵀ M A` of M (`[ξ][k][t]`) into the output planes of images
    /// `firstImage ..< firstImage + count` (a tile's rows and columns beyond the plane are dropped).
    static func transformOutput(_ m: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>,
                                geometry g: Conv2dGeometry, firstImage: Int, count: Int) {
        let perImage = WinogradTiling.tilesPerImage(g), columns = WinogradTiling.tileColumns(g)
        let tiles = count * perImage, stride = g.outChannels * tiles, plane = g.outHeight * g.outWidth
        CPUBackend.shared.parallelFor(g.outChannels * count) { planes in
            for index in planes {
                let k = index / count, image = index % count
                let destination = output + ((firstImage + image) * g.outChannels + k) * plane
                for r in 0..<perImage {
                    let source = m + k * tiles + image * perImage + r
                    func mRow(_ a: Int) -> SIMD4<Float> {
                        SIMD4(source[(4 * a) * stride], source[(4 * a + 1) * stride],
                              source[(4 * a + 2) * stride], source[(4 * a + 3) * stride])
                    }
                    let m0 = mRow(0), m1 = mRow(1), m2 = mRow(2), m3 = mRow(3)
                    // Aᵀ M (2 rows of 4), then each row times A.
                    let y0 = (r / columns) * 2, x0 = (r % columns) * 2
                    for (i, e) in [m0 + m1 + m2, m1 - m2 - m3].enumerated() where y0 + i < g.outHeight {
                        let line = destination + (y0 + i) * g.outWidth + x0
                        line[0] = e[0] + e[1] + e[2]
                        if x0 + 1 < g.outWidth { line[1] = e[1] - e[2] - e[3] }
                    }
                }
            }
        }
    }

    /// `Ŷ[ξ][k][t] = (A dY Aᵀ)[ξ]` for the 2×2 output-gradient tile of every tile t (zero beyond the plane).
    static func transformGradOutput(_ gradOutput: UnsafePointer<Float>, into yhat: UnsafeMutablePointer<Float>,
                                    geometry g: Conv2dGeometry, firstImage: Int, count: Int) {
        let perImage = WinogradTiling.tilesPerImage(g), columns = WinogradTiling.tileColumns(g)
        let tiles = count * perImage, stride = g.outChannels * tiles, plane = g.outHeight * g.outWidth
        CPUBackend.shared.parallelFor(g.outChannels * count) { planes in
            for index in planes {
                let k = index / count, image = index % count
                let source = gradOutput + ((firstImage + image) * g.outChannels + k) * plane
                for r in 0..<perImage {
                    let y0 = (r / columns) * 2, x0 = (r % columns) * 2
                    func dy(_ i: Int, _ j: Int) -> Float {
                        y0 + i < g.outHeight && x0 + j < g.outWidth ? source[(y0 + i) * g.outWidth + x0 + j] : 0
                    }
                    // A dY (4 rows of 2; A's rows are (1, 0), (1, 1), (1, −1), (0, −1)), then each row times Aᵀ.
                    let top = SIMD2(dy(0, 0), dy(0, 1)), bottom = SIMD2(dy(1, 0), dy(1, 1))
                    let out = yhat + k * tiles + image * perImage + r
                    for (a, p) in [top, top + bottom, top - bottom, -bottom].enumerated() {
                        out[(4 * a) * stride] = p[0]
                        out[(4 * a + 1) * stride] = p[0] + p[1]
                        out[(4 * a + 2) * stride] = p[0] - p[1]
                        out[(4 * a + 3) * stride] = -p[1]
                    }
                }
            }
        }
    }

    /// `dW[k][c] = Gᵀ dU[·][k][c] G` (3×3) for every filter.
    static func filterGradient(_ du: UnsafePointer<Float>, into gradWeight: UnsafeMutablePointer<Float>,
                               outChannels: Int, inChannels: Int) {
        let count = outChannels * inChannels
        CPUBackend.shared.parallelFor(count, grain: 256) { range in
            for filter in range {
                func duRow(_ a: Int) -> SIMD4<Float> {
                    SIMD4(du[(4 * a) * count + filter], du[(4 * a + 1) * count + filter],
                          du[(4 * a + 2) * count + filter], du[(4 * a + 3) * count + filter])
                }
                let u0 = duRow(0), u1 = duRow(1), u2 = duRow(2), u3 = duRow(3)
                // Gᵀ dU (3 rows of 4; Gᵀ's rows are (1, ½, ½, 0), (0, ½, −½, 0), (0, ½, ½, 1)), then each row times G.
                let w = gradWeight + filter * 9
                for (row, t) in [u0 + 0.5 * (u1 + u2), 0.5 * (u1 - u2), 0.5 * (u1 + u2) + u3].enumerated() {
                    w[3 * row] = t[0] + 0.5 * (t[1] + t[2])
                    w[3 * row + 1] = 0.5 * (t[1] - t[2])
                    w[3 * row + 2] = 0.5 * (t[1] + t[2]) + t[3]
                }
            }
        }
    }
}
