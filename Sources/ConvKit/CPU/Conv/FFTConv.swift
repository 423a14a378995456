import Foundation

/// Convolution through the discrete Fourier transform on the CPU (the algorithm, its conditions
/// and layouts: `FFTConvTiling`): transform the filters and a chunk of images, multiply the
/// spectra frequency by frequency, transform back. A plain implementation, parallel over planes
/// and frequencies: it is the CPU side of the CUDA backend's `.fft` checks and runs every layer
/// `FFTConvTiling.supports`, without a speed claim of its own.
enum FFTConv {
    /// `output = conv(input, weight)` (overwrites; no bias): `Y[f] = X[f] · W[f]ᴴ` per frame.
    static func forward(input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let (tiles, f) = frames(g, FFTConvTiling.outputTiles)
        let k = g.outChannels, c = g.inChannels, chunk = FFTConvTiling.imagesPerChunk(g)
        Scratch.withFloats(2 * f * k * c) { w in
            transform(weight, images: k, channels: c, height: g.kernelHeight, width: g.kernelWidth, top: 0, left: 0,
                      tiles: .single(frame: tiles.frame), into: w)
            Scratch.withFloats(2 * f * chunk * tiles.count * (c + k)) { workspace in
                var first = 0
                while first < g.n {
                    let count = min(chunk, g.n - first), rows = count * tiles.count
                    let x = workspace, y = workspace + 2 * f * rows * c
                    transform(input + first * c * g.inHeight * g.inWidth, images: count, channels: c, height: g.inHeight,
                              width: g.inWidth, top: g.padTop, left: g.padLeft, tiles: tiles, into: x)
                    // Y[f][n][k] = Σ_c X[f][n][c] · conj(W[f][k][c])
                    product(frequencies: f, m: rows, n: k, depth: c, conjugateB: true) { fr, i, j, d in
                        (x + 2 * ((fr * rows + i) * c + d), w + 2 * ((fr * k + j) * c + d))
                    } into: { fr, i, j in y + 2 * ((fr * rows + i) * k + j) }
                    inverse(y, images: count, channels: k, top: 0, left: 0, height: g.outHeight, width: g.outWidth,
                            tiles: tiles, into: output + first * k * g.outHeight * g.outWidth)
                    first += count
                }
            }
        }
    }

    /// `gradInput = ∂L/∂input` (overwrites): `dX[f] = dY[f] · W[f]` per frame of the input.
    static func backwardInput(gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let (tiles, f) = frames(g, FFTConvTiling.inputTiles)
        let k = g.outChannels, c = g.inChannels, chunk = FFTConvTiling.imagesPerChunk(g)
        let reach = g.kernelHeight - 1, reachW = g.kernelWidth - 1
        Scratch.withFloats(2 * f * k * c) { w in
            transform(weight, images: k, channels: c, height: g.kernelHeight, width: g.kernelWidth, top: 0, left: 0,
                      tiles: .single(frame: tiles.frame), into: w)
            Scratch.withFloats(2 * f * chunk * tiles.count * (c + k)) { workspace in
                var first = 0
                while first < g.n {
                    let count = min(chunk, g.n - first), rows = count * tiles.count
                    let dy = workspace, dx = workspace + 2 * f * rows * k
                    transform(gradOutput + first * k * g.outHeight * g.outWidth, images: count, channels: k,
                              height: g.outHeight, width: g.outWidth, top: reach - g.padTop, left: reachW - g.padLeft,
                              tiles: tiles, into: dy)
                    // dX[f][n][c] = Σ_k dY[f][n][k] · W[f][k][c]
                    product(frequencies: f, m: rows, n: c, depth: k, conjugateB: false) { fr, i, j, d in
                        (dy + 2 * ((fr * rows + i) * k + d), w + 2 * ((fr * k + d) * c + j))
                    } into: { fr, i, j in dx + 2 * ((fr * rows + i) * c + j) }
                    inverse(dx, images: count, channels: c, top: reach, left: reachW, height: g.inHeight, width: g.inWidth,
                            tiles: tiles, into: gradInput + first * c * g.inHeight * g.inWidth)
                    first += count
                }
            }
        }
    }

    /// `gradWeight = ∂L/∂weight` summed over the batch (overwrites): `dW[f] = Σ dY[f]ᴴ · X[f]`
    /// over every frame of the chunks in order, then one inverse transform.
    static func backwardWeight(gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
                               gradWeight: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let (tiles, f) = frames(g, FFTConvTiling.outputTiles)
        let k = g.outChannels, c = g.inChannels, chunk = FFTConvTiling.imagesPerChunk(g)
        Scratch.withFloats(2 * f * k * c) { dw in
            Scratch.withFloats(2 * f * chunk * tiles.count * (c + k)) { workspace in
                var first = 0
                while first < g.n {
                    let count = min(chunk, g.n - first), rows = count * tiles.count
                    let x = workspace, dy = workspace + 2 * f * rows * c
                    transform(input + first * c * g.inHeight * g.inWidth, images: count, channels: c, height: g.inHeight,
                              width: g.inWidth, top: g.padTop, left: g.padLeft, tiles: tiles, into: x)
                    transform(gradOutput + first * k * g.outHeight * g.outWidth, images: count, channels: k,
                              height: g.outHeight, width: g.outWidth, top: 0, left: 0, tiles: tiles, clipToStep: true, into: dy)
                    // dW[f][k][c] += Σ_n conj(dY[f][n][k]) · X[f][n][c]
                    product(frequencies: f, m: k, n: c, depth: rows, conjugateA: true, accumulate: first > 0) { fr, i, j, d in
                        (dy + 2 * ((fr * rows + d) * k + i), x + 2 * ((fr * rows + d) * c + j))
                    } into: { fr, i, j in dw + 2 * ((fr * k + i) * c + j) }
                    first += count
                }
            }
            inverse(dw, images: k, channels: c, top: 0, left: 0, height: g.kernelHeight, width: g.kernelWidth,
                    tiles: .single(frame: tiles.frame), into: gradWeight)
        }
    }

    /// A pass's frames and the frequencies per frame of a supported geometry.
    private static func frames(_ g: Conv2dGeometry, _ tiles: (Conv2dGeometry) -> FFTConvTiling.Tiles)
        -> (tiles: FFTConvTiling.Tiles, frequencies: Int) {
        precondition(FFTConvTiling.supports(g), FFTConvTiling.unsupportedReason(g))
        let t = tiles(g)
        return (t, FFTConvTiling.frequencies(frame: t.frame))
    }

    /// For every frequency, `C[i][j] (+)= Σ_d op(A)[i][d] · op(B)[d][j]` over complex numbers, where
    /// `operands(f, i, j, d)` locates the two factors and `result(f, i, j)` the output;
    /// `conjugateA` / `conjugateB` conjugate that factor. Float32 sums in order of d.
    private static func product(frequencies: Int, m: Int, n: Int, depth: Int, conjugateA: Bool = false,
                                conjugateB: Bool = false, accumulate: Bool = false,
                                _ operands: (Int, Int, Int, Int) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>),
                                into result: (Int, Int, Int) -> UnsafeMutablePointer<Float>) {
        let signA: Float = conjugateA ? -1 : 1, signB: Float = conjugateB ? -1 : 1
        CPUBackend.shared.parallelFor(frequencies * m) { range in
            for index in range {
                let f = index / m, i = index % m
                for j in 0..<n {
                    var re: Float = 0, im: Float = 0
                    for d in 0..<depth {
                        let (a, b) = operands(f, i, j, d)
                        let ar = a[0], ai = signA * a[1], br = b[0], bi = signB * b[1]
                        re += ar * br - ai * bi
                        im += ar * bi + ai * br
                    }
                    let c = result(f, i, j)
                    if accumulate { c[0] += re; c[1] += im } else { c[0] = re; c[1] = im }
                }
            }
        }
    }

    /// The spectra of `images × channels` planes (`height × width` each, contiguous, row-major)
    /// into `spectrum` (`[f][row][channel]`, interleaved complex, row = image · frames + frame):
    /// frame (a, b) holds the plane placed at (`top − a·stepH`, `left − b·stepW`), zero outside
    /// it, and with `clipToStep` only its first `stepH × stepW` rows and columns (the weight
    /// gradient's dY).
    static func transform(_ planes: UnsafePointer<Float>, images: Int, channels: Int, height: Int, width: Int,
                          top: Int, left: Int, tiles: FFTConvTiling.Tiles, clipToStep: Bool = false,
                          into spectrum: UnsafeMutablePointer<Float>) {
        let s = tiles.frame, half = s / 2 + 1, plane = height * width, rows = images * tiles.count
        let limitH = clipToStep ? tiles.stepH : s, limitW = clipToStep ? tiles.stepW : s
        CPUBackend.shared.parallelFor(rows * channels) { range in
            var re = [Float](repeating: 0, count: s * s), im = re
            let twiddles = Twiddles(size: s)
            for index in range {
                let row = index / channels, channel = index % channels
                let image = row / tiles.count, tile = row % tiles.count
                let frameTop = top - (tile / tiles.across) * tiles.stepH, frameLeft = left - (tile % tiles.across) * tiles.stepW
                let source = planes + (image * channels + channel) * plane
                for u in 0..<s {
                    for v in 0..<s {
                        let h = u - frameTop, w = v - frameLeft
                        let inside = u < limitH && v < limitW && h >= 0 && h < height && w >= 0 && w < width
                        re[u * s + v] = inside ? source[h * width + w] : 0
                        im[u * s + v] = 0
                    }
                }
                for u in 0..<s { twiddles.fft(&re, &im, start: u * s, stride: 1, inverse: false) }
                for q in 0..<half { twiddles.fft(&re, &im, start: q, stride: s, inverse: false) }
                for p in 0..<s {
                    for q in 0..<half {
                        let out = spectrum + 2 * ((p * half + q) * rows * channels + index)
                        out[0] = re[p * s + q]
                        out[1] = im[p * s + q]
                    }
                }
            }
        }
    }

    /// The inverse of `transform` for `images × channels` planes of `height × width`: each
    /// frame's inverse transform divided by S²; frame (a, b)'s rows and columns from (`top`,
    /// `left`), `stepH × stepW` of them, are the plane's from (a·stepH, b·stepW) (cut at its edge).
    static func inverse(_ spectrum: UnsafePointer<Float>, images: Int, channels: Int, top: Int, left: Int,
                        height: Int, width: Int, tiles: FFTConvTiling.Tiles, into planes: UnsafeMutablePointer<Float>) {
        let s = tiles.frame, half = s / 2 + 1, scale = 1 / Float(s * s), rows = images * tiles.count
        CPUBackend.shared.parallelFor(rows * channels) { range in
            var re = [Float](repeating: 0, count: s * s), im = re
            let twiddles = Twiddles(size: s)
            for index in range {
                for p in 0..<s {
                    for q in 0..<half {
                        let value = spectrum + 2 * ((p * half + q) * rows * channels + index)
                        re[p * s + q] = value[0]
                        im[p * s + q] = value[1]
                    }
                }
                for q in 0..<half { twiddles.fft(&re, &im, start: q, stride: s, inverse: true) }
                for u in 0..<s {
                    // The row's other half from Hermitian symmetry: Z[u][S − q] = conj(Z[u][q]).
                    for q in half..<s { re[u * s + q] = re[u * s + s - q]; im[u * s + q] = -im[u * s + s - q] }
                    twiddles.fft(&re, &im, start: u * s, stride: 1, inverse: true)
                }
                let row = index / channels, channel = index % channels
                let image = row / tiles.count, tile = row % tiles.count
                let h0 = (tile / tiles.across) * tiles.stepH, w0 = (tile % tiles.across) * tiles.stepW
                let destination = planes + (image * channels + channel) * height * width
                for u in 0..<min(tiles.stepH, height - h0) {
                    for v in 0..<min(tiles.stepW, width - w0) {
                        destination[(h0 + u) * width + w0 + v] = re[(u + top) * s + v + left] * scale
                    }
                }
            }
        }
    }

    /// `e^{−2πik/S}` for one transform size, and the radix-2 transform that uses them.
    struct Twiddles {
        let size: Int
        let cosines: [Float], sines: [Float]

        init(size: Int) {
            self.size = size
            cosines = (0..<size).map { Float(cos(2 * Double.pi * Double($0) / Double(size))) }
            sines = (0..<size).map { Float(sin(2 * Double.pi * Double($0) / Double(size))) }
        }

        /// In place, the S-point DFT of `re[start + t·stride] + i·im[…]` (inverse: the conjugate
        /// exponent, unscaled): decimation in time, bit-reversed order in, natural order out.
        func fft(_ re: inout [Float], _ im: inout [Float], start: Int, stride: Int, inverse: Bool) {
            let n = size
            var j = 0
            for i in 1..<n {
                var bit = n >> 1
                while j & bit != 0 { j ^= bit; bit >>= 1 }
                j |= bit
                if i < j {
                    re.swapAt(start + i * stride, start + j * stride)
                    im.swapAt(start + i * stride, start + j * stride)
                }
            }
            var half = 1
            while half < n {
                let step = n / (2 * half)
                for first in Swift.stride(from: 0, to: n, by: 2 * half) {
                    for t in 0..<half {
                        let c = cosines[t * step], s = inverse ? sines[t * step] : -sines[t * step]
                        let a = start + (first + t) * stride, b = a + half * stride
                        let tr = re[b] * c - im[b] * s, ti = re[b] * s + im[b] * c
                        re[b] = re[a] - tr; im[b] = im[a] - ti
                        re[a] += tr; im[a] += ti
                    }
                }
                half *= 2
            }
        }
    }
}
