import XCTest
@testable import ConvKit

/// One convolution problem: sizes and arguments, as a user would pass them.
struct ConvCase: CustomStringConvertible {
    var n = 1, channels = 1, height = 5, width = 5, outChannels = 1
    var kernel = Size2d(3), stride = Size2d(1), padding: Padding2d = 0, dilation = Size2d(1), groups = 1
    var unbatched = false
    var bias = true

    var inputShape: [Int] { unbatched ? [channels, height, width] : [n, channels, height, width] }
    var weightShape: [Int] { [outChannels, channels / groups, kernel.h, kernel.w] }
    var geometry: Conv2dGeometry {
        get throws {
            try Conv2dGeometry.resolve(inputShape: [unbatched ? 1 : n, channels, height, width], weightShape: weightShape,
                                       stride: stride, padding: padding, dilation: dilation, groups: groups)
        }
    }
    var description: String {
        "x \(inputShape) w \(weightShape) stride \(stride) padding \(padding) dilation \(dilation) groups \(groups) bias \(bias)"
    }

    /// A random valid case (small enough for debug builds), covering the awkward corners.
    static func random(_ rng: inout TestRNG) -> ConvCase {
        while true {
            var c = ConvCase()
            c.groups = [1, 1, 1, 2, 3][rng.int(0...4)]
            c.channels = c.groups * rng.int(1...3)
            c.outChannels = c.groups * rng.int(1...3)
            if rng.int(0...4) == 0 { c.groups = c.channels; c.outChannels = c.channels * rng.int(1...2) } // depthwise
            c.n = rng.int(1...3)
            c.unbatched = rng.int(0...5) == 0
            c.height = rng.int(1...9); c.width = rng.int(1...9)
            c.kernel = Size2d(rng.int(1...4), rng.int(1...4))
            c.stride = Size2d(rng.int(1...4), rng.int(1...4))
            c.dilation = rng.int(0...2) == 0 ? Size2d(rng.int(1...3), rng.int(1...3)) : 1
            switch rng.int(0...5) {
            case 0: c.padding = .valid
            case 1: c.padding = .same; c.stride = 1
            default: c.padding = .explicit(Size2d(rng.int(0...3), rng.int(0...3)))
            }
            c.bias = rng.bool()
            if (try? c.geometry) != nil { return c }
        }
    }
}

/// Inputs of a case as tensors that require gradients, plus their values in Float64.
struct ConvOperands {
    let x: Tensor, w: Tensor, b: Tensor?
    let xValues: [Double], wValues: [Double], bValues: [Double]?

    init(_ c: ConvCase, seed: UInt64) throws {
        let xs = randomValues(c.inputShape.reduce(1, *), seed: seed)
        let ws = randomValues(c.weightShape.reduce(1, *), seed: seed + 1)
        let bs = randomValues(c.outChannels, seed: seed + 2)
        x = try Tensor(xs, shape: c.inputShape, requiresGrad: true)
        w = try Tensor(ws, shape: c.weightShape, requiresGrad: true)
        b = c.bias ? try Tensor(bs, shape: [c.outChannels], requiresGrad: true) : nil
        xValues = xs.map(Double.init); wValues = ws.map(Double.init); bValues = c.bias ? bs.map(Double.init) : nil
    }
}

/// Forward output and the three gradients for an upstream gradient of 1s·random.
struct ConvResults {
    var output: [Float], gradInput: [Float], gradWeight: [Float], gradBias: [Float]?
}

func runConv(_ c: ConvCase, _ ops: ConvOperands, algorithm: ConvAlgorithm, paddingMode: PaddingMode = .zeros,
             upstreamSeed: UInt64 = 99) throws -> ConvResults {
    ops.x.grad = nil; ops.w.grad = nil; ops.b?.grad = nil
    let y = try conv2d(ops.x, ops.w, bias: ops.b, stride: c.stride, padding: c.padding, dilation: c.dilation,
                       groups: c.groups, paddingMode: paddingMode, algorithm: algorithm)
    try y.backward(gradient: Tensor(randomValues(y.count, seed: upstreamSeed), shape: y.shape))
    return ConvResults(output: try y.toArray(), gradInput: try ops.x.grad!.toArray(),
                       gradWeight: try ops.w.grad!.toArray(), gradBias: try ops.b?.grad!.toArray())
}

/// Every algorithm that can run `c` (`.depthwise` only for depthwise layers, `.winograd` and
/// `.fft` only for the stride-1 undilated ungrouped ones they support).
func algorithms(for c: ConvCase) -> [ConvAlgorithm] {
    ConvAlgorithm.allCases.filter { algorithm in
        switch algorithm {
        case .depthwise: return c.groups == c.channels
        case .winograd: return (try? c.geometry).map(WinogradTiling.supports) ?? false
        case .fft: return (try? c.geometry).map(FFTConvTiling.supports) ?? false
        default: return true
        }
    }
}

final class Conv2dTests: XCTestCase {
    /// Hand-picked corners the issue names, in addition to the random cases.
    static let namedCases: [ConvCase] = [
        ConvCase(n: 2, channels: 3, height: 9, width: 9, outChannels: 4, kernel: 2, stride: 3),                 // stride > kernel
        ConvCase(n: 1, channels: 2, height: 8, width: 7, outChannels: 3, kernel: 3, padding: 2, dilation: 2),   // dilation + padding
        ConvCase(n: 2, channels: 4, height: 6, width: 6, outChannels: 6, kernel: 3, padding: 1, groups: 2),     // groups
        ConvCase(n: 2, channels: 3, height: 7, width: 6, outChannels: 3, kernel: 3, padding: 1, groups: 3),     // depthwise
        ConvCase(n: 1, channels: 2, height: 5, width: 5, outChannels: 6, kernel: 3, stride: 2, groups: 2),     // depthwise ×3
        ConvCase(n: 2, channels: 5, height: 4, width: 6, outChannels: 7, kernel: 1),                           // 1×1 (no X̂)
        ConvCase(n: 3, channels: 4, height: 3, width: 5, outChannels: 6, kernel: 1, groups: 2),                // grouped 1×1
        ConvCase(n: 2, channels: 3, height: 5, width: 6, outChannels: 2, kernel: 1, stride: 2, padding: 1),    // 1×1 strided, padded
        ConvCase(n: 1, channels: 2, height: 6, width: 7, outChannels: 3, kernel: Size2d(2, 4), padding: .same), // asymmetric same
        ConvCase(n: 1, channels: 2, height: 5, width: 6, outChannels: 2, kernel: Size2d(4, 2), padding: .same, dilation: Size2d(1, 3)),
        ConvCase(n: 3, channels: 3, height: 7, width: 10, outChannels: 2, kernel: Size2d(3, 2), stride: Size2d(2, 1),
                 padding: .explicit(Size2d(1, 2)), dilation: Size2d(2, 1)),                                     // non-square everything
        ConvCase(n: 1, channels: 3, height: 6, width: 5, outChannels: 4, kernel: 3, padding: .valid, unbatched: true), // 3-D
        ConvCase(n: 1, channels: 1, height: 1, width: 1, outChannels: 2, kernel: 1),                           // 1×1 image
        ConvCase(n: 2, channels: 2, height: 3, width: 3, outChannels: 2, kernel: 5, padding: 1),               // kernel = padded input
        // Wide rows: the SIMD interiors of the depthwise and direct loops.
        ConvCase(n: 2, channels: 3, height: 5, width: 21, outChannels: 6, kernel: 3, padding: 1, groups: 3),
        ConvCase(n: 1, channels: 2, height: 6, width: 27, outChannels: 2, kernel: Size2d(3, 5), stride: Size2d(2, 1),
                 padding: .explicit(Size2d(1, 3)), dilation: 2, groups: 2),
        ConvCase(n: 1, channels: 2, height: 4, width: 40, outChannels: 3, kernel: Size2d(2, 3), padding: .same),
    ]

    static func randomCases(count: Int, seed: UInt64) -> [ConvCase] {
        var rng = TestRNG(seed: seed)
        return (0..<count).map { _ in ConvCase.random(&rng) }
    }

    func testForwardMatchesReferenceForEveryAlgorithm() throws {
        for (i, c) in (Self.namedCases + Self.randomCases(count: 60, seed: 1)).enumerated() {
            let ops = try ConvOperands(c, seed: UInt64(100 + i))
            let ref = ConvReference.conv2d(input: ops.xValues, weight: ops.wValues, bias: ops.bValues, geometry: try c.geometry)
            for algorithm in algorithms(for: c) {
                let y = try conv2d(ops.x, ops.w, bias: ops.b, stride: c.stride, padding: c.padding, dilation: c.dilation,
                                   groups: c.groups, algorithm: algorithm)
                let g = try c.geometry
                XCTAssertEqual(y.shape, c.unbatched ? Array(g.outputShape.dropFirst()) : g.outputShape, "\(algorithm) \(c)")
                assertClose(try y.toArray(), ref, tolerance: 1e-5, "\(algorithm) \(c)")
            }
        }
    }

    func testOutputSizeFollowsPyTorch() throws {
        // torch.nn.functional.conv2d(torch.zeros(1,1,H,W), torch.zeros(1,1,kH,kW), ...).shape
        let x = try Tensor.zeros([1, 1, 11, 8])
        XCTAssertEqual(try conv2d(x, Tensor.zeros([1, 1, 3, 2]), stride: Size2d(2, 3), padding: .explicit(Size2d(1, 0))).shape, [1, 1, 6, 3])
        XCTAssertEqual(try conv2d(x, Tensor.zeros([1, 1, 3, 3]), dilation: 2).shape, [1, 1, 7, 4])
        XCTAssertEqual(try conv2d(x, Tensor.zeros([1, 1, 4, 4]), padding: .same).shape, [1, 1, 11, 8])
        XCTAssertEqual(try conv2d(x, Tensor.zeros([1, 1, 4, 4]), padding: .valid).shape, [1, 1, 8, 5])
        XCTAssertEqual(try conv2d(Tensor.zeros([0, 1, 5, 5]), Tensor.zeros([2, 1, 3, 3])).shape, [0, 2, 3, 3])
    }

    func testEmptyBatchGivesEmptyOutputAndZeroWeightGradient() throws {
        let x = try Tensor.zeros([0, 2, 5, 5], requiresGrad: true)
        let w = try Tensor(randomValues(3 * 2 * 3 * 3, seed: 1), shape: [3, 2, 3, 3], requiresGrad: true)
        let b = try Tensor([1, 2, 3], shape: [3], requiresGrad: true)
        for algorithm in [ConvAlgorithm.auto, .direct, .im2colGEMM, .sparseMatrix, .implicitGEMM] {
            x.grad = nil; w.grad = nil; b.grad = nil
            let y = try conv2d(x, w, bias: b, padding: 1, algorithm: algorithm)
            XCTAssertEqual(y.shape, [0, 3, 5, 5])
            try y.backward(gradient: Tensor.zeros([0, 3, 5, 5]))
            XCTAssertEqual(x.grad?.shape, [0, 2, 5, 5])
            XCTAssertEqual(try w.grad!.toArray(), [Float](repeating: 0, count: 54), "\(algorithm)")
            XCTAssertEqual(try b.grad!.toArray(), [0, 0, 0], "\(algorithm)")
        }
        XCTAssertEqual(try convTranspose2d(Tensor.zeros([0, 3, 4, 4]), Tensor.zeros([3, 2, 3, 3])).shape, [0, 2, 6, 6])
    }

    func testSamePaddingPutsTheExtraAtBottomRight() throws {
        // A 2×2 kernel picking its bottom-right tap reads x[i+1, j+1]: the last row/column see padding.
        let x = try Tensor((1...9).map(Float.init), shape: [1, 1, 3, 3])
        let w = try Tensor([0, 0, 0, 1], shape: [1, 1, 2, 2])
        for algorithm in [ConvAlgorithm.direct, .im2colGEMM, .depthwise] {
            XCTAssertEqual(try conv2d(x, w, padding: .same, algorithm: algorithm).toArray(), [5, 6, 0, 8, 9, 0, 0, 0, 0], "\(algorithm)")
        }
    }

    func testAlgorithmsAgreeWithEachOtherForwardAndBackward() throws {
        for (i, c) in (Self.namedCases + Self.randomCases(count: 30, seed: 2)).enumerated() {
            let ops = try ConvOperands(c, seed: UInt64(500 + i))
            let all = algorithms(for: c)
            let results = try all.map { try runConv(c, ops, algorithm: $0) }
            for (a, ra) in zip(all, results) {
                for (b, rb) in zip(all, results) where a.rawValue < b.rawValue {
                    let msg = "\(a) vs \(b) \(c)"
                    assertClose(ra.output, rb.output.map(Double.init), tolerance: 1e-5, "output " + msg)
                    assertClose(ra.gradInput, rb.gradInput.map(Double.init), tolerance: 1e-5, "dInput " + msg)
                    assertClose(ra.gradWeight, rb.gradWeight.map(Double.init), tolerance: 1e-5, "dWeight " + msg)
                    if let ga = ra.gradBias, let gb = rb.gradBias { assertClose(ga, gb.map(Double.init), tolerance: 1e-5, "dBias " + msg) }
                }
            }
        }
    }

    func testGradientsMatchFiniteDifferencesOfTheReference() throws {
        let cases = [
            ConvCase(n: 2, channels: 2, height: 5, width: 4, outChannels: 3, kernel: Size2d(3, 2), stride: Size2d(2, 1),
                     padding: .explicit(Size2d(1, 2)), dilation: Size2d(1, 2)),
            ConvCase(n: 1, channels: 4, height: 5, width: 5, outChannels: 2, kernel: 3, padding: .same, groups: 2),
            ConvCase(n: 2, channels: 2, height: 6, width: 5, outChannels: 4, kernel: 3, stride: 2, padding: 1, groups: 2), // depthwise ×2
            ConvCase(n: 1, channels: 3, height: 4, width: 5, outChannels: 2, kernel: 2, stride: 3, unbatched: true),
        ] + Self.randomCases(count: 4, seed: 3)
        for (i, c) in cases.enumerated() {
            let ops = try ConvOperands(c, seed: UInt64(900 + i))
            let g = try c.geometry
            let upstream = randomValues(g.outputShape.reduce(1, *), seed: 99).map(Double.init)
            let dx = numericGradient(at: ops.xValues, upstream: upstream) {
                ConvReference.conv2d(input: $0, weight: ops.wValues, bias: ops.bValues, geometry: g)
            }
            let dw = numericGradient(at: ops.wValues, upstream: upstream) {
                ConvReference.conv2d(input: ops.xValues, weight: $0, bias: ops.bValues, geometry: g)
            }
            let db = ops.bValues.map { b in
                numericGradient(at: b, upstream: upstream) {
                    ConvReference.conv2d(input: ops.xValues, weight: ops.wValues, bias: $0, geometry: g)
                }
            }
            for algorithm in algorithms(for: c) {
                let r = try runConv(c, ops, algorithm: algorithm)
                assertClose(r.gradInput, dx, tolerance: 1e-4, "dInput \(algorithm) \(c)")
                assertClose(r.gradWeight, dw, tolerance: 1e-4, "dWeight \(algorithm) \(c)")
                if let db { assertClose(r.gradBias!, db, tolerance: 1e-4, "dBias \(algorithm) \(c)") }
            }
        }
    }

    func testLargerBatchesUseChunkedIm2colCorrectly() throws {
        // Small planes with a batch: im2col unfolds several images into one X̂ (and a last partial chunk).
        let c = ConvCase(n: 13, channels: 3, height: 6, width: 5, outChannels: 4, kernel: 3, padding: 1)
        XCTAssertGreaterThan(Im2colConv.imagesPerChunk(try c.geometry), 1)
        let ops = try ConvOperands(c, seed: 7)
        let direct = try runConv(c, ops, algorithm: .direct)
        let gemm = try runConv(c, ops, algorithm: .im2colGEMM)
        assertClose(gemm.output, direct.output.map(Double.init))
        assertClose(gemm.gradInput, direct.gradInput.map(Double.init))
        assertClose(gemm.gradWeight, direct.gradWeight.map(Double.init))
        let ref = ConvReference.conv2d(input: ops.xValues, weight: ops.wValues, bias: ops.bValues, geometry: try c.geometry)
        assertClose(gemm.output, ref)
    }

    func testPaddingModesMatchExplicitPadAndTheReference() throws {
        var cases = [
            ConvCase(n: 2, channels: 2, height: 5, width: 6, outChannels: 3, kernel: 3, padding: .explicit(Size2d(1, 2))),
            ConvCase(n: 1, channels: 2, height: 4, width: 5, outChannels: 2, kernel: Size2d(4, 2), padding: .same),
            ConvCase(n: 1, channels: 3, height: 5, width: 5, outChannels: 3, kernel: 3, stride: 2, padding: 2, dilation: 2, groups: 3),
            ConvCase(n: 1, channels: 2, height: 4, width: 4, outChannels: 2, kernel: 3, padding: 1, unbatched: true),
        ]
        cases[3].bias = false
        for (i, c) in cases.enumerated() {
            let g = try c.geometry
            let ops = try ConvOperands(c, seed: UInt64(1300 + i))
            for mode in [PaddingMode.reflect, .replicate, .circular] {
                let ref = ConvReference.conv2d(input: ops.xValues, weight: ops.wValues, bias: ops.bValues, geometry: g, paddingMode: mode)
                let padMode: PadMode = mode == .reflect ? .reflect : mode == .replicate ? .replicate : .circular
                let padded = try pad(ops.x, [g.padLeft, g.padRight, g.padTop, g.padBottom], mode: padMode)
                for algorithm in algorithms(for: c) {
                    let r = try runConv(c, ops, algorithm: algorithm, paddingMode: mode)
                    assertClose(r.output, ref, tolerance: 1e-5, "\(mode) \(algorithm) \(c)")
                    let explicit = try conv2d(padded, ops.w, bias: ops.b, stride: c.stride, padding: 0, dilation: c.dilation,
                                              groups: c.groups, algorithm: algorithm)
                    XCTAssert(r.output == (try explicit.toArray()), "\(mode) \(algorithm) differs from pad + conv \(c)")
                    let dx = numericGradient(at: ops.xValues, upstream: randomValues(ref.count, seed: 99).map(Double.init)) {
                        ConvReference.conv2d(input: $0, weight: ops.wValues, bias: ops.bValues, geometry: g, paddingMode: mode)
                    }
                    assertClose(r.gradInput, dx, tolerance: 1e-4, "dInput \(mode) \(algorithm) \(c)")
                }
            }
        }
    }

    func testZerosPaddingModeIsPlainPadding() throws {
        let c = ConvCase(n: 1, channels: 2, height: 4, width: 4, outChannels: 2, kernel: 3, padding: 1)
        let ops = try ConvOperands(c, seed: 3)
        let a = try conv2d(ops.x, ops.w, padding: 1, paddingMode: .zeros).toArray()
        let b = try conv2d(pad(ops.x, [1, 1, 1, 1]), ops.w).toArray()
        XCTAssertEqual(a, b)
    }

    func testAutoChoosesDepthwiseForDepthwiseLayers() throws {
        let depthwise = try ConvCase(n: 1, channels: 4, height: 5, width: 5, outChannels: 8, groups: 4).geometry
        let dense = try ConvCase(n: 1, channels: 4, height: 5, width: 5, outChannels: 8, groups: 1).geometry
        XCTAssertEqual(CPUBackend.shared.resolvedConvAlgorithm(.auto, geometry: depthwise), .depthwise)
        XCTAssertEqual(CPUBackend.shared.resolvedConvAlgorithm(.auto, geometry: dense), .im2colGEMM)
        XCTAssertEqual(CPUBackend.shared.resolvedConvAlgorithm(.direct, geometry: dense), .direct)
    }

    func testBackwardIsBitwiseReproducible() throws {
        let c = ConvCase(n: 3, channels: 4, height: 7, width: 7, outChannels: 6, kernel: 3, stride: 2, padding: 1, groups: 2)
        let ops = try ConvOperands(c, seed: 11)
        for algorithm in algorithms(for: c) {
            let a = try runConv(c, ops, algorithm: algorithm), b = try runConv(c, ops, algorithm: algorithm)
            XCTAssertEqual(a.gradInput, b.gradInput, "\(algorithm)")
            XCTAssertEqual(a.gradWeight, b.gradWeight, "\(algorithm)")
        }
    }

    func testOnlyTheInputsThatRequireGradGetOne() throws {
        let x = try Tensor(randomValues(2 * 2 * 4 * 4, seed: 1), shape: [2, 2, 4, 4])
        let w = try Tensor(randomValues(3 * 2 * 3 * 3, seed: 2), shape: [3, 2, 3, 3], requiresGrad: true)
        let b = try Tensor([1, 2, 3], shape: [3])
        let y = try conv2d(x, w, bias: b, padding: 1)
        try y.sum().backward()
        XCTAssertNil(x.grad)
        XCTAssertNil(b.grad)
        XCTAssertEqual(w.grad?.shape, [3, 2, 3, 3])
        // With no input requiring a gradient, nothing is recorded.
        XCTAssertFalse(try conv2d(x, w.detach()).requiresGrad)
    }

    func testErrors() throws {
        let x = try Tensor.zeros([2, 3, 5, 5])
        let w = try Tensor.zeros([4, 3, 3, 3])
        assertThrowsConvKitError(try conv2d(Tensor.zeros([3, 5]), w), "conv2d", "3-D", "4-D", "[3, 5]")
        assertThrowsConvKitError(try conv2d(Tensor.zeros([1, 2, 3, 5, 5]), w), "conv2d", "input")
        assertThrowsConvKitError(try conv2d(x, Tensor.zeros([4, 3, 3])), "conv2d", "weight", "4-D")
        assertThrowsConvKitError(try conv2d(x, Tensor.zeros([4, 4, 3, 3])), "conv2d: input has 3 channels but weight expects 4 (groups 1)")
        assertThrowsConvKitError(try conv2d(Tensor.zeros([1, 4, 5, 5]), Tensor.zeros([4, 1, 3, 3]), groups: 2),
                                 "conv2d", "input has 4 channels but weight expects 2 (groups 2)")
        assertThrowsConvKitError(try conv2d(Tensor.zeros([1, 4, 5, 5]), Tensor.zeros([5, 2, 3, 3]), groups: 2),
                                 "conv2d", "5 output channels", "groups 2")
        assertThrowsConvKitError(try conv2d(x, w, groups: 0), "conv2d", "groups")
        assertThrowsConvKitError(try conv2d(x, w, stride: Size2d(1, 0)), "conv2d", "stride")
        assertThrowsConvKitError(try conv2d(x, w, dilation: 0), "conv2d", "dilation")
        assertThrowsConvKitError(try conv2d(x, w, padding: .explicit(Size2d(-1, 0))), "conv2d", "padding", "non-negative")
        assertThrowsConvKitError(try conv2d(x, Tensor.zeros([4, 3, 7, 3])), "conv2d", "padded input size (5 x 5)", "kernel size (7 x 3)")
        assertThrowsConvKitError(try conv2d(x, w, dilation: 3), "conv2d", "dilated kernel size (7 x 7)")
        assertThrowsConvKitError(try conv2d(x, Tensor.zeros([4, 3, 0, 3])), "conv2d", "kernel size")
        assertThrowsConvKitError(try conv2d(x, Tensor.zeros([0, 3, 3, 3])), "conv2d", "output channel")
        assertThrowsConvKitError(try conv2d(Tensor.zeros([2, 0, 5, 5]), Tensor.zeros([4, 0, 3, 3])), "conv2d", "at least 1 channel")
        assertThrowsConvKitError(try conv2d(x, w, stride: 2, padding: .same), "conv2d", "same", "strided")
        assertThrowsConvKitError(try conv2d(x, w, bias: Tensor.zeros([3])), "conv2d", "bias", "[4]")
        assertThrowsConvKitError(try conv2d(x, w, bias: Tensor.zeros([1, 4])), "conv2d", "bias")
        assertThrowsConvKitError(try conv2d(x, w, bias: Tensor(indices: [0, 0, 0, 0])), "conv2d", "bias", "float32")
        assertThrowsConvKitError(try conv2d(Tensor(indices: Array(repeating: 0, count: 150), shape: [2, 3, 5, 5]), w), "conv2d", "input", "float32")
        assertThrowsConvKitError(try conv2d(x, Tensor(indices: Array(repeating: 0, count: 108), shape: [4, 3, 3, 3])), "conv2d", "weight", "float32")
        assertThrowsConvKitError(try conv2d(x, w, algorithm: .depthwise), "conv2d", "depthwise", "groups 1", "3 input channels")
        assertThrowsConvKitError(try conv2d(x, w, padding: 5, paddingMode: .reflect), "conv2d", "reflect", "smaller than the input size")
        assertThrowsConvKitError(try conv2d(x, w, padding: 6, paddingMode: .circular), "conv2d", "circular")
        assertThrowsConvKitError(try conv2d(x, w, padding: .explicit(Size2d(Int.max, 0))), "conv2d", "padding", "too large")
        assertThrowsConvKitError(try conv2d(x, w, stride: Size2d(1, Int.max)), "conv2d", "stride", "too large")
        assertThrowsConvKitError(try conv2d(x, w, dilation: Size2d(Int.max)), "conv2d", "dilation", "too large")
        // Large but representable padding: the output is too large to allocate, a clear error too.
        assertThrowsConvKitError(try conv2d(x, w, padding: .explicit(Size2d(1 << 29))), "too large")
    }
}
