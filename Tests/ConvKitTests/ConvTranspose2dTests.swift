import XCTest
@testable import ConvKit

/// One transposed-convolution problem.
struct TransposedCase: CustomStringConvertible {
    var n = 1, inChannels = 2, height = 3, width = 3, outChannels = 2
    var kernel = Size2d(3), stride = Size2d(1), padding = Size2d(0), outputPadding = Size2d(0), dilation = Size2d(1)
    var groups = 1
    var unbatched = false
    var bias = true

    var inputShape: [Int] { unbatched ? [inChannels, height, width] : [n, inChannels, height, width] }
    var weightShape: [Int] { [inChannels, outChannels / groups, kernel.h, kernel.w] }
    var outHeight: Int { ConvReference.transposedOutputSize(height, kernel: kernel.h, stride: stride.h, padding: padding.h, outputPadding: outputPadding.h, dilation: dilation.h) }
    var outWidth: Int { ConvReference.transposedOutputSize(width, kernel: kernel.w, stride: stride.w, padding: padding.w, outputPadding: outputPadding.w, dilation: dilation.w) }
    var outputShape: [Int] { (unbatched ? [] : [n]) + [outChannels, outHeight, outWidth] }
    var description: String {
        "x \(inputShape) w \(weightShape) stride \(stride) padding \(padding) outputPadding \(outputPadding) dilation \(dilation) groups \(groups)"
    }

    static func random(_ rng: inout TestRNG) -> TransposedCase {
        while true {
            var c = TransposedCase()
            c.groups = [1, 1, 2, 3][rng.int(0...3)]
            c.inChannels = c.groups * rng.int(1...3)
            c.outChannels = c.groups * rng.int(1...3)
            c.n = rng.int(1...2)
            c.unbatched = rng.int(0...5) == 0
            c.height = rng.int(1...5); c.width = rng.int(1...5)
            c.kernel = Size2d(rng.int(1...4), rng.int(1...4))
            c.stride = Size2d(rng.int(1...3), rng.int(1...3))
            c.dilation = rng.bool() ? Size2d(rng.int(1...3), rng.int(1...3)) : 1
            c.padding = Size2d(rng.int(0...2), rng.int(0...2))
            c.outputPadding = Size2d(rng.int(0...max(c.stride.h, c.dilation.h) - 1), rng.int(0...max(c.stride.w, c.dilation.w) - 1))
            c.bias = rng.bool()
            if c.outHeight >= 1 && c.outWidth >= 1 { return c }
        }
    }

    func reference(_ x: [Double], _ w: [Double], _ b: [Double]?) -> [Double] {
        ConvReference.convTranspose2d(input: x, weight: w, bias: b, n: unbatched ? 1 : n, inChannels: inChannels,
                                      height: height, width: width, outChannels: outChannels, kernel: kernel,
                                      stride: stride, padding: padding, outputPadding: outputPadding,
                                      dilation: dilation, groups: groups)
    }

    func run(_ x: Tensor, _ w: Tensor, _ b: Tensor?) throws -> Tensor {
        try convTranspose2d(x, w, bias: b, stride: stride, padding: padding, outputPadding: outputPadding,
                            groups: groups, dilation: dilation)
    }
}

final class ConvTranspose2dTests: XCTestCase {
    static let namedCases: [TransposedCase] = [
        TransposedCase(n: 1, inChannels: 2, height: 2, width: 2, outChannels: 3, kernel: 3, stride: 2),                   // the chapter's upsampling
        TransposedCase(n: 2, inChannels: 2, height: 3, width: 4, outChannels: 2, kernel: 3, stride: 2, padding: 1, outputPadding: 1),
        TransposedCase(n: 1, inChannels: 4, height: 3, width: 3, outChannels: 2, kernel: 3, stride: 1, dilation: 2, groups: 2),
        TransposedCase(n: 2, inChannels: 4, height: 3, width: 3, outChannels: 4, kernel: 3, stride: 1, outputPadding: 1, dilation: 2), // outputPadding < dilation only
        TransposedCase(n: 1, inChannels: 3, height: 4, width: 3, outChannels: 3, kernel: Size2d(2, 3), stride: Size2d(3, 1), padding: Size2d(0, 1), groups: 3), // depthwise
        TransposedCase(n: 1, inChannels: 3, height: 3, width: 5, outChannels: 2, kernel: 1, stride: 2, unbatched: true),
    ]

    func testForwardMatchesReference() throws {
        var rng = TestRNG(seed: 21)
        let cases = Self.namedCases + (0..<50).map { _ in TransposedCase.random(&rng) }
        for (i, c) in cases.enumerated() {
            let xs = randomValues(c.inputShape.reduce(1, *), seed: UInt64(i))
            let ws = randomValues(c.weightShape.reduce(1, *), seed: UInt64(i) + 1000)
            let bs = c.bias ? randomValues(c.outChannels, seed: UInt64(i) + 2000) : nil
            let y = try c.run(Tensor(xs, shape: c.inputShape), Tensor(ws, shape: c.weightShape),
                              bs.map { try Tensor($0, shape: [c.outChannels]) })
            XCTAssertEqual(y.shape, c.outputShape, "\(c)")
            assertClose(try y.toArray(), c.reference(xs.map(Double.init), ws.map(Double.init), bs?.map(Double.init)),
                        tolerance: 1e-5, "\(c)")
        }
    }

    func testOutputSizeFollowsPyTorch() throws {
        // torch.nn.functional.conv_transpose2d(torch.zeros(1,4,3,3), torch.zeros(4,2,3,3), stride=1, dilation=2, output_padding=1).shape
        XCTAssertEqual(try convTranspose2d(Tensor.zeros([1, 4, 3, 3]), Tensor.zeros([4, 2, 3, 3]), outputPadding: 1, dilation: 2).shape, [1, 2, 8, 8])
        XCTAssertEqual(try convTranspose2d(Tensor.zeros([2, 6, 3, 3]), Tensor.zeros([6, 2, 3, 3]), groups: 3).shape, [2, 6, 5, 5])
        XCTAssertEqual(try convTranspose2d(Tensor.zeros([2, 4, 1, 1]), Tensor.zeros([4, 2, 3, 3]), padding: 1).shape, [2, 2, 1, 1])
    }

    func testIsTheInputGradientOfConv2d() throws {
        // convTranspose2d(dY, W) == ∂⟨dY, conv2d(x, W)⟩/∂x.
        let x = try Tensor(randomValues(2 * 4 * 7 * 6, seed: 1), shape: [2, 4, 7, 6], requiresGrad: true)
        let w = try Tensor(randomValues(6 * 2 * 3 * 2, seed: 2), shape: [6, 2, 3, 2])
        let y = try conv2d(x, w, stride: 2, padding: 1, dilation: Size2d(1, 2), groups: 2)
        let dy = try Tensor(randomValues(y.count, seed: 3), shape: y.shape)
        try y.backward(gradient: dy)
        let t = try convTranspose2d(dy, w, stride: 2, padding: 1, outputPadding: Size2d(0, 1), groups: 2, dilation: Size2d(1, 2))
        XCTAssertEqual(t.shape, x.shape)
        assertClose(try t.toArray(), try x.grad!.toArray().map(Double.init))
    }

    func testEveryAlgorithmComputesTheTransposedForward() throws {
        // convTranspose2d's forward is the convolution input-gradient kernel on a geometry whose
        // output size may be smaller than the input would give (outputPadding ≥ stride, < dilation):
        // every algorithm must honour geometry.outHeight/outWidth.
        let cases = [Self.namedCases[1], Self.namedCases[3], Self.namedCases[4],
                     TransposedCase(n: 2, inChannels: 2, height: 4, width: 5, outChannels: 3, kernel: Size2d(2, 3),
                                    stride: Size2d(1, 2), padding: Size2d(1, 0), outputPadding: Size2d(1, 1), dilation: Size2d(3, 1))]
        for (i, c) in cases.enumerated() {
            let g = try Conv2dGeometry.resolveTransposed(inputShape: [c.n] + c.inputShape.suffix(3), weightShape: c.weightShape,
                                                         stride: c.stride, padding: c.padding, outputPadding: c.outputPadding,
                                                         groups: c.groups, dilation: c.dilation)
            let xs = randomValues(g.outputShape.reduce(1, *), seed: UInt64(i) + 300)
            let ws = randomValues(c.weightShape.reduce(1, *), seed: UInt64(i) + 400)
            let ref = c.reference(xs.map(Double.init), ws.map(Double.init), nil)
            let x = try Tensor(xs, shape: g.outputShape), w = try Tensor(ws, shape: c.weightShape)
            for algorithm in ConvAlgorithm.allCases
                where (algorithm != .depthwise || g.groups == g.inChannels) && (algorithm != .winograd || WinogradTiling.supports(g))
                    && (algorithm != .fft || FFTConvTiling.supports(g)) {
                let out = try Tensor.empty(g.inputShape, on: .cpu)
                try CPUBackend.shared.conv2dBackwardInput(gradOutput: x.storage, weight: w.storage, gradInput: out.storage,
                                                          geometry: g, algorithm: algorithm)
                assertClose(try out.toArray(), ref, tolerance: 1e-5, "\(algorithm) \(c)")
            }
        }
    }

    func testGradientsMatchFiniteDifferencesOfTheReference() throws {
        var rng = TestRNG(seed: 22)
        let cases = Array(Self.namedCases.prefix(5)) + (0..<4).map { _ in TransposedCase.random(&rng) }
        for (i, c) in cases.enumerated() {
            let xs = randomValues(c.inputShape.reduce(1, *), seed: UInt64(i) + 50).map(Double.init)
            let ws = randomValues(c.weightShape.reduce(1, *), seed: UInt64(i) + 60).map(Double.init)
            let bs = c.bias ? randomValues(c.outChannels, seed: UInt64(i) + 70).map(Double.init) : nil
            let x = try Tensor(xs.map(Float.init), shape: c.inputShape, requiresGrad: true)
            let w = try Tensor(ws.map(Float.init), shape: c.weightShape, requiresGrad: true)
            let b = try bs.map { try Tensor($0.map(Float.init), shape: [c.outChannels], requiresGrad: true) }
            let y = try c.run(x, w, b)
            let upstream = randomValues(y.count, seed: 99)
            try y.backward(gradient: Tensor(upstream, shape: y.shape))
            let up = upstream.map(Double.init)
            assertClose(try x.grad!.toArray(), numericGradient(at: xs, upstream: up) { c.reference($0, ws, bs) }, tolerance: 1e-4, "dInput \(c)")
            assertClose(try w.grad!.toArray(), numericGradient(at: ws, upstream: up) { c.reference(xs, $0, bs) }, tolerance: 1e-4, "dWeight \(c)")
            if let bs, let b {
                assertClose(try b.grad!.toArray(), numericGradient(at: bs, upstream: up) { c.reference(xs, ws, $0) }, tolerance: 1e-4, "dBias \(c)")
            }
        }
    }

    func testErrors() throws {
        let x = try Tensor.zeros([2, 4, 3, 3])
        let w = try Tensor.zeros([4, 2, 3, 3])
        assertThrowsConvKitError(try convTranspose2d(Tensor.zeros([4, 3]), w), "convTranspose2d", "3-D", "4-D")
        assertThrowsConvKitError(try convTranspose2d(x, Tensor.zeros([4, 2, 3])), "convTranspose2d", "weight", "4-D")
        assertThrowsConvKitError(try convTranspose2d(Tensor.zeros([2, 5, 3, 3]), w), "convTranspose2d", "input has 5 channels but weight expects 4")
        assertThrowsConvKitError(try convTranspose2d(x, w, groups: 3), "convTranspose2d", "not divisible by groups 3")
        assertThrowsConvKitError(try convTranspose2d(x, w, groups: 0), "convTranspose2d", "groups")
        assertThrowsConvKitError(try convTranspose2d(x, w, stride: 0), "convTranspose2d", "stride")
        assertThrowsConvKitError(try convTranspose2d(x, w, dilation: Size2d(0, 1)), "convTranspose2d", "dilation")
        assertThrowsConvKitError(try convTranspose2d(x, w, padding: -1), "convTranspose2d", "padding")
        assertThrowsConvKitError(try convTranspose2d(x, w, stride: 2, outputPadding: 2), "convTranspose2d", "outputPadding", "stride", "dilation")
        assertThrowsConvKitError(try convTranspose2d(x, w, outputPadding: -1), "convTranspose2d", "outputPadding")
        assertThrowsConvKitError(try convTranspose2d(Tensor.zeros([2, 4, 1, 1]), Tensor.zeros([4, 2, 1, 1]), padding: 1),
                                 "convTranspose2d", "output size (-1 x -1)", "too small")
        assertThrowsConvKitError(try convTranspose2d(x, w, bias: Tensor.zeros([4])), "convTranspose2d", "bias", "[2]")
        assertThrowsConvKitError(try convTranspose2d(x, w, stride: Size2d(Int.max)), "convTranspose2d", "stride", "too large")
        assertThrowsConvKitError(try convTranspose2d(x, w, dilation: Size2d(Int.max, 1)), "convTranspose2d", "dilation", "too large")
        assertThrowsConvKitError(try convTranspose2d(x, Tensor(indices: Array(repeating: 0, count: 72), shape: [4, 2, 3, 3])),
                                 "convTranspose2d", "weight", "float32")
    }
}
