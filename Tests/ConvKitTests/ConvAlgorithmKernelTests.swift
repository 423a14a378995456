import XCTest
@testable import ConvKit

/// The sparse-matrix and implicit-GEMM convolution kernels, called directly (pointers and a
/// `Conv2dGeometry`), against a naive Float64 convolution and against each other.
final class ConvAlgorithmKernelTests: XCTestCase {
    // MARK: Naive Float64 oracle

    /// Calls `body(outputIndex, inputIndex, weightIndex)` for every multiply-add of the convolution.
    private static func forEachTap(_ g: Conv2dGeometry, _ body: (Int, Int, Int) -> Void) {
        let inPerGroup = g.inChannelsPerGroup, outPerGroup = g.outChannelsPerGroup
        for n in 0..<g.n {
            for co in 0..<g.outChannels {
                let group = co / outPerGroup
                for oh in 0..<g.outHeight {
                    for ow in 0..<g.outWidth {
                        let y = ((n * g.outChannels + co) * g.outHeight + oh) * g.outWidth + ow
                        for c in 0..<inPerGroup {
                            for kh in 0..<g.kernelHeight {
                                let ih = oh * g.strideH - g.padTop + kh * g.dilationH
                                guard ih >= 0 && ih < g.inHeight else { continue }
                                for kw in 0..<g.kernelWidth {
                                    let iw = ow * g.strideW - g.padLeft + kw * g.dilationW
                                    guard iw >= 0 && iw < g.inWidth else { continue }
                                    let x = ((n * g.inChannels + group * inPerGroup + c) * g.inHeight + ih) * g.inWidth + iw
                                    let w = ((co * inPerGroup + c) * g.kernelHeight + kh) * g.kernelWidth + kw
                                    body(y, x, w)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private static func naiveForward(_ x: [Float], _ w: [Float], _ g: Conv2dGeometry) -> [Double] {
        var y = [Double](repeating: 0, count: g.outputShape.reduce(1, *))
        forEachTap(g) { yi, xi, wi in y[yi] += Double(x[xi]) * Double(w[wi]) }
        return y
    }

    private static func naiveInputGradient(_ dy: [Float], _ w: [Float], _ g: Conv2dGeometry) -> [Double] {
        var dx = [Double](repeating: 0, count: g.inputShape.reduce(1, *))
        forEachTap(g) { yi, xi, wi in dx[xi] += Double(dy[yi]) * Double(w[wi]) }
        return dx
    }

    private static func naiveWeightGradient(_ dy: [Float], _ x: [Float], _ g: Conv2dGeometry) -> [Double] {
        var dw = [Double](repeating: 0, count: g.weightShape.reduce(1, *))
        forEachTap(g) { yi, xi, wi in dw[wi] += Double(dy[yi]) * Double(x[xi]) }
        return dw
    }

    // MARK: The kernels under test

    private struct Algorithm {
        let name: String
        let forward: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Conv2dGeometry) -> Void
        let backwardInput: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Conv2dGeometry) -> Void
        let backwardWeight: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Conv2dGeometry) -> Void
    }

    private static let sparse = Algorithm(
        name: "sparseMatrix",
        forward: { SparseMatrixConv.forward(input: $0, weight: $1, output: $2, geometry: $3) },
        backwardInput: { SparseMatrixConv.backwardInput(gradOutput: $0, weight: $1, gradInput: $2, geometry: $3) },
        backwardWeight: { SparseMatrixConv.backwardWeight(gradOutput: $0, input: $1, gradWeight: $2, geometry: $3) })

    private static let implicit = Algorithm(
        name: "implicitGEMM",
        forward: { ImplicitGEMMConv.forward(input: $0, weight: $1, output: $2, geometry: $3) },
        backwardInput: { ImplicitGEMMConv.backwardInput(gradOutput: $0, weight: $1, gradInput: $2, geometry: $3) },
        backwardWeight: { ImplicitGEMMConv.backwardWeight(gradOutput: $0, input: $1, gradWeight: $2, geometry: $3) })

    private static let winograd = Algorithm(
        name: "winograd",
        forward: { WinogradConv.forward(input: $0, weight: $1, output: $2, geometry: $3) },
        backwardInput: { WinogradConv.backwardInput(gradOutput: $0, weight: $1, gradInput: $2, geometry: $3) },
        backwardWeight: { WinogradConv.backwardWeight(gradOutput: $0, input: $1, gradWeight: $2, geometry: $3) })

    private static let fft = Algorithm(
        name: "fft",
        forward: { FFTConv.forward(input: $0, weight: $1, output: $2, geometry: $3) },
        backwardInput: { FFTConv.backwardInput(gradOutput: $0, weight: $1, gradInput: $2, geometry: $3) },
        backwardWeight: { FFTConv.backwardWeight(gradOutput: $0, input: $1, gradWeight: $2, geometry: $3) })

    /// Runs `kernel(a, b, out)` on an output pre-filled with NaN, so a value it fails to
    /// overwrite fails the comparison.
    private static func run(_ kernel: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Conv2dGeometry) -> Void,
                            _ a: [Float], _ b: [Float], outputCount: Int, _ g: Conv2dGeometry) -> [Float] {
        var out = [Float](repeating: .nan, count: outputCount)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { po in kernel(pa.baseAddress!, pb.baseAddress!, po.baseAddress!, g) }
            }
        }
        return out
    }

    private struct Case {
        let g: Conv2dGeometry
        let x: [Float], w: [Float], dy: [Float]
        init(_ g: Conv2dGeometry, seed: UInt64) {
            self.g = g
            x = randomValues(g.inputShape.reduce(1, *), seed: seed)
            w = randomValues(g.weightShape.reduce(1, *), seed: seed &+ 1)
            dy = randomValues(g.outputShape.reduce(1, *), seed: seed &+ 2)
        }
        var description: String {
            "n \(g.n) c \(g.inChannels)x\(g.inHeight)x\(g.inWidth) -> \(g.outChannels)x\(g.outHeight)x\(g.outWidth) "
                + "k \(g.kernelHeight)x\(g.kernelWidth) s \(g.strideH),\(g.strideW) "
                + "pad t\(g.padTop) b\(g.padBottom) l\(g.padLeft) r\(g.padRight) "
                + "dil \(g.dilationH),\(g.dilationW) groups \(g.groups)"
        }
    }

    /// Checks all three passes of `algorithm` on `c` against the naive oracle.
    private func check(_ algorithm: Algorithm, _ c: Case, file: StaticString = #filePath, line: UInt = #line) {
        let g = c.g
        let y = Self.run(algorithm.forward, c.x, c.w, outputCount: c.dy.count, g)
        assertClose(y, Self.naiveForward(c.x, c.w, g), tolerance: 1e-5, "\(algorithm.name) forward \(c.description)",
                    file: file, line: line)
        let dx = Self.run(algorithm.backwardInput, c.dy, c.w, outputCount: c.x.count, g)
        assertClose(dx, Self.naiveInputGradient(c.dy, c.w, g), tolerance: 1e-5,
                    "\(algorithm.name) backwardInput \(c.description)", file: file, line: line)
        let dw = Self.run(algorithm.backwardWeight, c.dy, c.x, outputCount: c.w.count, g)
        assertClose(dw, Self.naiveWeightGradient(c.dy, c.x, g), tolerance: 1e-5,
                    "\(algorithm.name) backwardWeight \(c.description)", file: file, line: line)
    }

    // MARK: Geometries

    private static func geometry(n: Int = 1, c: Int, h: Int, w: Int, out: Int, k: (Int, Int),
                                 stride: (Int, Int) = (1, 1), pad: (Int, Int, Int, Int) = (0, 0, 0, 0),
                                 dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Conv2dGeometry {
        Conv2dGeometry(n: n, inChannels: c, inHeight: h, inWidth: w, outChannels: out,
                       kernelHeight: k.0, kernelWidth: k.1, strideH: stride.0, strideW: stride.1,
                       padTop: pad.0, padBottom: pad.1, padLeft: pad.2, padRight: pad.3,
                       dilationH: dilation.0, dilationW: dilation.1, groups: groups)
    }

    /// A random small geometry: any stride, per-side padding, dilation, groups (depthwise and
    /// channel multipliers included), batch and non-square sizes.
    private static func randomGeometry(_ rng: inout TestRNG) -> Conv2dGeometry {
        let groups: Int, inPerGroup: Int
        switch rng.int(0...4) {
        case 0: groups = rng.int(2...4); inPerGroup = 1  // depthwise
        case 1: groups = rng.int(2...3); inPerGroup = rng.int(1...3)
        default: groups = 1; inPerGroup = rng.int(1...5)
        }
        let outPerGroup = rng.int(1...5)
        let k = (rng.int(1...4), rng.int(1...4))
        let stride = (rng.int(1...3), rng.int(1...3))
        let dilation = (rng.int(1...2), rng.int(1...2))
        let pad = (rng.int(0...2), rng.int(0...2), rng.int(0...2), rng.int(0...2))
        let extent = (dilation.0 * (k.0 - 1) + 1, dilation.1 * (k.1 - 1) + 1)
        let h = max(rng.int(1...9), extent.0 - pad.0 - pad.1, 1)
        let w = max(rng.int(1...9), extent.1 - pad.2 - pad.3, 1)
        return geometry(n: rng.int(1...3), c: groups * inPerGroup, h: h, w: w, out: groups * outPerGroup, k: k,
                         stride: stride, pad: pad, dilation: dilation, groups: groups)
    }

    /// Named edge cases, plus sizes that span several pixel tiles, reduction blocks and
    /// partial register tiles.
    private static let namedGeometries: [Conv2dGeometry] = [
        geometry(n: 2, c: 3, h: 5, w: 7, out: 4, k: (1, 1)),                                    // 1×1
        geometry(n: 2, c: 2, h: 4, w: 6, out: 3, k: (1, 1), stride: (2, 3)),                    // strided 1×1
        geometry(n: 1, c: 3, h: 5, w: 4, out: 2, k: (5, 4)),                                    // kernel == input
        geometry(n: 3, c: 2, h: 3, w: 3, out: 5, k: (3, 3), pad: (1, 1, 1, 1)),                 // tiny, padded
        geometry(n: 1, c: 4, h: 6, w: 9, out: 8, k: (3, 3), pad: (1, 1, 1, 1), groups: 4),      // depthwise ×2
        geometry(n: 2, c: 3, h: 7, w: 5, out: 3, k: (3, 3), pad: (0, 1, 2, 0), groups: 3),      // depthwise, asymmetric
        geometry(n: 1, c: 2, h: 9, w: 8, out: 4, k: (2, 3), pad: (0, 1, 1, 1)),                 // 'same'-like asymmetric
        geometry(n: 2, c: 3, h: 8, w: 11, out: 2, k: (3, 2), stride: (2, 3), pad: (2, 0, 1, 2), dilation: (2, 3)),
        geometry(n: 2, c: 30, h: 12, w: 13, out: 33, k: (3, 3), pad: (1, 1, 1, 1)),            // several tiles and K blocks
        geometry(n: 1, c: 20, h: 15, w: 14, out: 30, k: (3, 3), stride: (2, 2), pad: (1, 1, 1, 1), groups: 2),
        geometry(n: 2, c: 3, h: 19, w: 18, out: 7, k: (3, 3), pad: (1, 1, 1, 1)),               // several pixel blocks per image
        geometry(n: 1, c: 6, h: 1, w: 19, out: 5, k: (1, 5), pad: (0, 0, 2, 2)),               // a single row
        geometry(n: 1, c: 2, h: 4, w: 4, out: 3, k: (2, 2), stride: (3, 3), pad: (2, 2, 2, 2)), // taps all in padding
    ]

    // MARK: Tests

    func testSparseMatrixMatchesNaiveOnNamedGeometries() {
        for (i, g) in Self.namedGeometries.enumerated() { check(Self.sparse, Case(g, seed: UInt64(100 + i))) }
    }

    func testImplicitGEMMMatchesNaiveOnNamedGeometries() {
        for (i, g) in Self.namedGeometries.enumerated() { check(Self.implicit, Case(g, seed: UInt64(100 + i))) }
    }

    func testSparseMatrixMatchesNaiveOnRandomGeometries() {
        var rng = TestRNG(seed: 71)
        for i in 0..<80 { check(Self.sparse, Case(Self.randomGeometry(&rng), seed: UInt64(1000 + i))) }
    }

    func testImplicitGEMMMatchesNaiveOnRandomGeometries() {
        var rng = TestRNG(seed: 72)
        for i in 0..<80 { check(Self.implicit, Case(Self.randomGeometry(&rng), seed: UInt64(2000 + i))) }
    }

    /// 3×3 stride-1 geometries for Winograd: odd and even sizes (partial tiles), planes smaller
    /// than one tile, per-side padding from 0 to 3 (the input gradient's padding 2 − p is then
    /// negative), one channel and many.
    private static let winogradGeometries: [Conv2dGeometry] = [
        geometry(n: 2, c: 3, h: 5, w: 7, out: 4, k: (3, 3), pad: (1, 1, 1, 1)),
        geometry(n: 1, c: 1, h: 3, w: 3, out: 1, k: (3, 3)),                              // one output
        geometry(n: 3, c: 2, h: 4, w: 6, out: 3, k: (3, 3)),                              // even, valid
        geometry(n: 1, c: 4, h: 1, w: 2, out: 2, k: (3, 3), pad: (1, 1, 1, 1)),           // smaller than a tile
        geometry(n: 2, c: 3, h: 6, w: 5, out: 5, k: (3, 3), pad: (0, 2, 1, 3)),           // asymmetric
        geometry(n: 1, c: 2, h: 4, w: 4, out: 3, k: (3, 3), pad: (3, 3, 2, 0)),           // pad 3: negative in dX
        geometry(n: 2, c: 17, h: 9, w: 10, out: 23, k: (3, 3), pad: (1, 1, 1, 1)),
        geometry(n: 1, c: 40, h: 13, w: 13, out: 36, k: (3, 3), pad: (1, 1, 1, 1)),        // AlexNet's 13×13
        geometry(n: 2, c: 3, h: 7, w: 8, out: 4, k: (5, 5), pad: (2, 2, 2, 2)),            // 5×5
        geometry(n: 1, c: 2, h: 5, w: 5, out: 3, k: (5, 5)),                              // 5×5, one output
        geometry(n: 2, c: 24, h: 11, w: 9, out: 19, k: (5, 5), pad: (2, 1, 0, 3)),        // 5×5 asymmetric
        geometry(n: 1, c: 64, h: 9, w: 9, out: 20, k: (5, 5), pad: (2, 2, 2, 2)),          // AlexNet conv2's depth
    ]

    func testWinogradMatchesNaive() {
        for (i, g) in Self.winogradGeometries.enumerated() {
            XCTAssertTrue(WinogradTiling.supports(g), "\(g)")
            check(Self.winograd, Case(g, seed: UInt64(300 + i)))
        }
        var rng = TestRNG(seed: 73)
        for i in 0..<40 {
            let pad = (rng.int(0...2), rng.int(0...2), rng.int(0...2), rng.int(0...2))
            let g = Self.geometry(n: rng.int(1...3), c: rng.int(1...6), h: max(rng.int(1...9), 3 - pad.0 - pad.1),
                                  w: max(rng.int(1...9), 3 - pad.2 - pad.3), out: rng.int(1...6), k: (3, 3), pad: pad)
            check(Self.winograd, Case(g, seed: UInt64(3000 + i)))
        }
        for i in 0..<15 {
            let pad = (rng.int(0...4), rng.int(0...4), rng.int(0...4), rng.int(0...4))
            let g = Self.geometry(n: rng.int(1...2), c: rng.int(1...6), h: max(rng.int(1...9), 5 - pad.0 - pad.1),
                                  w: max(rng.int(1...9), 5 - pad.2 - pad.3), out: rng.int(1...6), k: (5, 5), pad: pad)
            check(Self.winograd, Case(g, seed: UInt64(4000 + i)))
        }
    }

    /// A workspace budget of a few images' tiles: several chunks, the last one partial, and
    /// the weight gradient accumulated across them.
    func testWinogradChunksMatchNaive() {
        let saved = WinogradTiling.workspaceBudget
        defer { WinogradTiling.workspaceBudget = saved }
        let g = Self.geometry(n: 7, c: 5, h: 7, w: 6, out: 4, k: (3, 3), pad: (1, 1, 1, 1))
        WinogradTiling.workspaceBudget = 16 * (5 + 4) * WinogradTiling.tilesPerImage(g) * 3
        XCTAssertEqual(WinogradTiling.imagesPerChunk(g), 3)
        check(Self.winograd, Case(g, seed: 77))
    }

    func testWinogradSupportsOnlyItsGeometries() {
        XCTAssertTrue(WinogradTiling.supports(Self.geometry(c: 2, h: 5, w: 5, out: 2, k: (3, 3))))
        XCTAssertTrue(WinogradTiling.supports(Self.geometry(c: 2, h: 5, w: 5, out: 2, k: (5, 5))))
        XCTAssertFalse(WinogradTiling.supports(Self.geometry(c: 2, h: 5, w: 5, out: 2, k: (3, 2))))
        XCTAssertFalse(WinogradTiling.supports(Self.geometry(c: 2, h: 7, w: 7, out: 2, k: (7, 7))))
        XCTAssertFalse(WinogradTiling.supports(Self.geometry(c: 2, h: 5, w: 5, out: 2, k: (3, 3), stride: (1, 2))))
        XCTAssertFalse(WinogradTiling.supports(Self.geometry(c: 2, h: 5, w: 5, out: 2, k: (3, 3), dilation: (2, 1))))
        XCTAssertFalse(WinogradTiling.supports(Self.geometry(c: 2, h: 5, w: 5, out: 2, k: (3, 3), groups: 2)))
    }

    /// Geometries for the FFT convolution: every frame size (8, 16, 32), a frame filled exactly
    /// (padded 27 × 27 with 5 × 5 in 32; 14 × 14 with 3 × 3 in 16), asymmetric padding, 1×1 and
    /// rectangular kernels, a kernel as large as the plane, one channel and many.
    private static let fftGeometries: [Conv2dGeometry] = [
        geometry(n: 2, c: 3, h: 5, w: 7, out: 4, k: (3, 3), pad: (1, 1, 1, 1)),          // frame 8
        geometry(n: 1, c: 1, h: 3, w: 3, out: 1, k: (3, 3)),                              // one output
        geometry(n: 2, c: 5, h: 27, w: 27, out: 6, k: (5, 5), pad: (2, 2, 2, 2)),         // AlexNet conv2: frame 32, full
        geometry(n: 3, c: 4, h: 14, w: 14, out: 5, k: (3, 3), pad: (1, 1, 1, 1)),         // frame 16, full
        geometry(n: 2, c: 3, h: 6, w: 5, out: 5, k: (3, 3), pad: (0, 2, 1, 3)),           // asymmetric
        geometry(n: 1, c: 2, h: 9, w: 11, out: 3, k: (2, 4), pad: (0, 1, 3, 0)),          // rectangular kernel
        geometry(n: 2, c: 6, h: 10, w: 12, out: 4, k: (1, 1)),                            // 1×1
        geometry(n: 1, c: 3, h: 7, w: 7, out: 2, k: (7, 7)),                              // kernel = plane
        geometry(n: 2, c: 17, h: 13, w: 13, out: 23, k: (3, 3), pad: (1, 1, 1, 1)),        // AlexNet's 13×13
        geometry(n: 1, c: 2, h: 20, w: 29, out: 3, k: (3, 3), pad: (2, 2, 1, 1)),          // 32 wide, 24 high
        geometry(n: 2, c: 3, h: 40, w: 37, out: 4, k: (3, 3), pad: (1, 1, 1, 1)),          // 2 × 2 frames of 30 × 30
        geometry(n: 1, c: 2, h: 61, w: 33, out: 3, k: (5, 5), pad: (2, 2, 2, 2)),          // 3 × 2 frames of 28 × 28
        geometry(n: 2, c: 3, h: 31, w: 45, out: 2, k: (3, 2), pad: (0, 2, 1, 0)),          // asymmetric, tiled
        geometry(n: 1, c: 2, h: 50, w: 50, out: 2, k: (7, 7), pad: (6, 6, 6, 6)),          // padding beyond the kernel
    ]

    func testFFTMatchesNaive() {
        for (i, g) in Self.fftGeometries.enumerated() {
            XCTAssertTrue(FFTConvTiling.supports(g), "\(g)")
            check(Self.fft, Case(g, seed: UInt64(500 + i)))
        }
        var rng = TestRNG(seed: 74)
        for i in 0..<30 {
            let k = (rng.int(1...5), rng.int(1...5))
            let pad = (rng.int(0...k.0 - 1), rng.int(0...k.0 - 1), rng.int(0...k.1 - 1), rng.int(0...k.1 - 1))
            let g = Self.geometry(n: rng.int(1...3), c: rng.int(1...6), h: max(rng.int(1...20), k.0 - pad.0 - pad.1),
                                  w: max(rng.int(1...20), k.1 - pad.2 - pad.3), out: rng.int(1...6), k: k, pad: pad)
            check(Self.fft, Case(g, seed: UInt64(5000 + i)))
        }
    }

    /// A budget of three images' spectra: chunks of 3, 3 and 1 images, and the weight gradient
    /// accumulated across them; then a budget of five: 4 and 3 (even chunks, not 5 and 2).
    func testFFTChunksMatchNaive() {
        let saved = FFTConvTiling.workspaceBudget
        defer { FFTConvTiling.workspaceBudget = saved }
        let g = Self.geometry(n: 7, c: 5, h: 7, w: 6, out: 4, k: (3, 3), pad: (1, 1, 1, 1))
        let perImage = 2 * FFTConvTiling.frequencies(frame: FFTConvTiling.frameSize(g)!) * (5 + 4)
        FFTConvTiling.workspaceBudget = perImage * 3
        XCTAssertEqual(FFTConvTiling.imagesPerChunk(g), 3)
        check(Self.fft, Case(g, seed: 78))
        FFTConvTiling.workspaceBudget = perImage * 5
        XCTAssertEqual(FFTConvTiling.imagesPerChunk(g), 4)
        check(Self.fft, Case(g, seed: 79))
    }

    /// The filter spectrum's groups of output channels: even groups within the budget when the
    /// batch is one chunk, one group otherwise.
    func testFFTFilterGroups() {
        let saved = (FFTConvTiling.workspaceBudget, FFTConvTiling.filterBudget)
        defer { (FFTConvTiling.workspaceBudget, FFTConvTiling.filterBudget) = saved }
        let conv4 = Self.geometry(n: 128, c: 384, h: 13, w: 13, out: 256, k: (3, 3), pad: (1, 1, 1, 1))
        XCTAssertEqual(FFTConvTiling.imagesPerChunk(conv4), 128)
        XCTAssertEqual(FFTConvTiling.outputChannelsPerGroup(conv4), 64)   // 113 MB in 4 groups
        let conv2 = Self.geometry(n: 128, c: 64, h: 27, w: 27, out: 192, k: (5, 5), pad: (2, 2, 2, 2))
        XCTAssertEqual(FFTConvTiling.imagesPerChunk(conv2), 64)
        XCTAssertEqual(FFTConvTiling.outputChannelsPerGroup(conv2), 192)  // two chunks: one group
        let small = Self.geometry(n: 3, c: 7, h: 13, w: 13, out: 10, k: (3, 3), pad: (1, 1, 1, 1))
        FFTConvTiling.filterBudget = 3 * 2 * FFTConvTiling.frequencies(frame: 16) * 7
        XCTAssertEqual(FFTConvTiling.outputChannelsPerGroup(small), 3)
    }

    func testFFTSupportsOnlyItsGeometries() {
        XCTAssertEqual(FFTConvTiling.frameSize(Self.geometry(c: 2, h: 27, w: 27, out: 2, k: (5, 5), pad: (2, 2, 2, 2))), 32)
        XCTAssertEqual(FFTConvTiling.frameSize(Self.geometry(c: 2, h: 13, w: 13, out: 2, k: (3, 3), pad: (1, 1, 1, 1))), 16)
        XCTAssertEqual(FFTConvTiling.frameSize(Self.geometry(c: 2, h: 6, w: 6, out: 2, k: (3, 3), pad: (1, 1, 1, 1))), 8)
        let tiled = Self.geometry(c: 2, h: 56, w: 56, out: 2, k: (3, 3), pad: (1, 1, 1, 1))
        XCTAssertEqual(FFTConvTiling.frameSize(tiled), 32)
        XCTAssertEqual(FFTConvTiling.outputTiles(tiled), FFTConvTiling.Tiles(frame: 32, kernelHeight: 3, kernelWidth: 3,
                                                                              height: 56, width: 56))
        XCTAssertEqual(FFTConvTiling.outputTiles(tiled).count, 4)
        XCTAssertFalse(FFTConvTiling.supports(Self.geometry(c: 2, h: 31, w: 31, out: 2, k: (17, 17))))
        XCTAssertFalse(FFTConvTiling.supports(Self.geometry(c: 2, h: 9, w: 9, out: 2, k: (3, 3), stride: (2, 1))))
        XCTAssertFalse(FFTConvTiling.supports(Self.geometry(c: 2, h: 9, w: 9, out: 2, k: (3, 3), dilation: (1, 2))))
        XCTAssertFalse(FFTConvTiling.supports(Self.geometry(c: 2, h: 9, w: 9, out: 2, k: (3, 3), groups: 2)))
        // The input gradient's padding of a transposed convolution can be negative.
        XCTAssertFalse(FFTConvTiling.supports(Self.geometry(c: 2, h: 9, w: 9, out: 2, k: (3, 3), pad: (-1, 0, 0, 0))))
    }

    /// A transposed convolution's geometry has fewer output rows than its input would give
    /// (output padding): the kernels must use `outHeight`/`outWidth` as given.
    func testGeometryWithFewerOutputsThanTheInputAllows() {
        var g = Self.geometry(n: 2, c: 3, h: 9, w: 8, out: 4, k: (3, 3), stride: (2, 2), pad: (1, 1, 1, 1), dilation: (3, 3))
        g.outHeight -= 1
        g.outWidth -= 1
        let c = Case(g, seed: 9)
        check(Self.sparse, c)
        check(Self.implicit, c)
    }

    func testSparseAndImplicitAgree() {
        var rng = TestRNG(seed: 73)
        for i in 0..<20 {
            let c = Case(Self.randomGeometry(&rng), seed: UInt64(3000 + i))
            let g = c.g
            let pairs: [([Float], [Float])] = [
                (Self.run(Self.sparse.forward, c.x, c.w, outputCount: c.dy.count, g),
                 Self.run(Self.implicit.forward, c.x, c.w, outputCount: c.dy.count, g)),
                (Self.run(Self.sparse.backwardInput, c.dy, c.w, outputCount: c.x.count, g),
                 Self.run(Self.implicit.backwardInput, c.dy, c.w, outputCount: c.x.count, g)),
                (Self.run(Self.sparse.backwardWeight, c.dy, c.x, outputCount: c.w.count, g),
                 Self.run(Self.implicit.backwardWeight, c.dy, c.x, outputCount: c.w.count, g)),
            ]
            for (pass, (a, b)) in pairs.enumerated() {
                assertClose(a, b.map(Double.init), tolerance: 1e-5, "pass \(pass) \(c.description)")
            }
        }
    }

    /// Ŵ built in blocks of two output channels (five per group, so the last block is partial).
    func testSparseMatrixInBlocksOfOutputChannels() {
        let g = Self.geometry(n: 2, c: 4, h: 6, w: 5, out: 10, k: (3, 2), stride: (1, 2), pad: (1, 0, 1, 1), groups: 2)
        let perChannel = SparseMatrixConv.Structure.nonzerosPerChannel(g)
        let budget = SparseMatrixConv.Structure.bytes(g, channels: 2, nonzerosPerChannel: perChannel)
        XCTAssertEqual(SparseMatrixConv.StructureCache.shared.structure(for: g, budget: budget).channelsPerBlock, 2)
        let c = Case(g, seed: 11)
        let blocked = Algorithm(
            name: "sparseMatrix (blocks of 2)",
            forward: { SparseMatrixConv.forward(input: $0, weight: $1, output: $2, geometry: $3, structureBudget: budget) },
            backwardInput: { SparseMatrixConv.backwardInput(gradOutput: $0, weight: $1, gradInput: $2, geometry: $3,
                                                            structureBudget: budget) },
            backwardWeight: { SparseMatrixConv.backwardWeight(gradOutput: $0, input: $1, gradWeight: $2, geometry: $3,
                                                              structureBudget: budget) })
        check(blocked, c)
    }

    /// The cached structure is reused with new weights and a new batch size: only values change.
    func testSparseStructureCacheRefillsValues() {
        let g1 = Self.geometry(n: 1, c: 3, h: 7, w: 7, out: 4, k: (3, 3), pad: (1, 1, 1, 1))
        var g2 = g1
        g2.n = 3
        let first = SparseMatrixConv.StructureCache.shared.structure(for: g1, budget: SparseMatrixConv.defaultStructureBudget)
        check(Self.sparse, Case(g1, seed: 21))
        check(Self.sparse, Case(g1, seed: 22))
        check(Self.sparse, Case(g2, seed: 23))
        let again = SparseMatrixConv.StructureCache.shared.structure(for: g2, budget: SparseMatrixConv.defaultStructureBudget)
        XCTAssert(first === again, "the structure should be shared across calls and batch sizes")
    }

    /// The implicit GEMM's extra memory is a few small tiles, far below the im2col matrix X̂.
    func testImplicitGEMMUsesLessScratchThanIm2col() {
        let g = Self.geometry(n: 2, c: 16, h: 20, w: 20, out: 16, k: (3, 3), pad: (1, 1, 1, 1))
        let c = Case(g, seed: 31)
        Scratch.resetPeak()
        let before = Scratch.peakBytes
        _ = Self.run(Self.implicit.forward, c.x, c.w, outputCount: c.dy.count, g)
        let extra = Scratch.peakBytes - before
        let im2colBytes = g.n * g.outHeight * g.outWidth * g.patchSize * MemoryLayout<Float>.stride
        XCTAssertGreaterThan(extra, 0)
        XCTAssertLessThan(extra, im2colBytes / 2, "implicit GEMM scratch \(extra) B vs X̂ \(im2colBytes) B")
    }
}
