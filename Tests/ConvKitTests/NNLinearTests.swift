import XCTest
@testable import ConvKit

// Helpers shared by the NN*Tests files.

/// `Double(x)` for every element.
func nnDoubles(_ values: [Float]) -> [Double] { values.map(Double.init) }

/// A float tensor of random values in [-scale, scale) that requires a gradient.
func nnRandomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) throws -> Tensor {
    try Tensor(randomValues(shape.reduce(1, *), seed: seed).map { $0 * scale }, shape: shape, requiresGrad: true)
}

/// Runs `y = f()` then `y.backward(gradient: upstream)` and returns the forward values.
@discardableResult
func nnBackward(_ y: Tensor, upstream: [Float]) throws -> [Float] {
    try y.backward(gradient: Tensor(upstream, shape: y.shape))
    return try y.toArray()
}

/// Deterministic inputs shared with the PyTorch script that produced the pinned values:
/// `sin(a·i + b)·s` computed in Float64.
func nnPinnedValues(_ count: Int, _ a: Double = 0.7, _ b: Double = 0.3, _ s: Double = 3) -> [Float] {
    (0..<count).map { Float(sin(a * Double($0) + b) * s) }
}

final class NNLinearTests: XCTestCase {
    func testForwardAndGradientsMatchReferenceOverRandomShapes() throws {
        var rng = TestRNG(seed: 11)
        for trial in 0..<30 {
            let leading = (0..<rng.int(0...2)).map { _ in rng.int(1...4) }
            let inFeatures = rng.int(1...9), outFeatures = rng.int(1...7)
            let useBias = rng.bool()
            let seed = UInt64(trial * 10)
            let x = try nnRandomTensor(leading + [inFeatures], seed: seed)
            let w = try nnRandomTensor([outFeatures, inFeatures], seed: seed + 1)
            let b = useBias ? try nnRandomTensor([outFeatures], seed: seed + 2) : nil
            let batch = leading.reduce(1, *)
            let y = try linear(x, w, bias: b)
            XCTAssertEqual(y.shape, leading + [outFeatures])
            let xs = nnDoubles(try x.toArray()), ws = nnDoubles(try w.toArray())
            let bs = try b.map { nnDoubles(try $0.toArray()) }
            let ref = NNReference.linear(xs, ws, bs, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
            assertClose(try y.toArray(), ref, "shape \(leading) \(inFeatures)->\(outFeatures)")

            let upstream = randomValues(y.count, seed: seed + 3)
            try nnBackward(y, upstream: upstream)
            let up = nnDoubles(upstream)
            let gx = numericGradient(at: xs, upstream: up) { NNReference.linear($0, ws, bs, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures) }
            let gw = numericGradient(at: ws, upstream: up) { NNReference.linear(xs, $0, bs, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures) }
            assertClose(try x.grad!.toArray(), gx, tolerance: 1e-4, "dX")
            assertClose(try w.grad!.toArray(), gw, tolerance: 1e-4, "dW")
            if let b, let bs {
                let gb = numericGradient(at: bs, upstream: up) { NNReference.linear(xs, ws, $0, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures) }
                assertClose(try b.grad!.toArray(), gb, tolerance: 1e-4, "db")
            }
        }
    }

    func testOneDimensionalInputGivesOneDimensionalOutput() throws {
        let x = try Tensor([1, 2], shape: [2])
        let w = try Tensor([1, 0, 0, 1, 1, 1], shape: [3, 2])
        let y = try linear(x, w, bias: try Tensor([10, 20, 30], shape: [3]))
        XCTAssertEqual(y.shape, [3])
        XCTAssertEqual(try y.toArray(), [11, 22, 33])
    }

    func testOneDimensionalWeightDropsTheOutputDimension() throws {
        let x = try Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3], requiresGrad: true)
        let w = try Tensor([1, 0, -1], shape: [3], requiresGrad: true)
        let b = try Tensor([0.5], shape: [], requiresGrad: true)
        let y = try linear(x, w, bias: b)
        XCTAssertEqual(y.shape, [2])
        XCTAssertEqual(try y.toArray(), [-1.5, -1.5])
        try y.backward(gradient: try Tensor([1, 2]))
        XCTAssertEqual(try x.grad!.toArray(), [1, 0, -1, 2, 0, -2])
        XCTAssertEqual(try w.grad!.toArray(), [9, 12, 15])
        XCTAssertEqual(b.grad!.shape, [])
        XCTAssertEqual(try b.grad!.toArray(), [3])
    }

    func testEmptyBatchAndZeroFeatures() throws {
        let y = try linear(try Tensor.zeros([0, 3]), try Tensor.ones([2, 3]))
        XCTAssertEqual(y.shape, [0, 2])
        let z = try linear(try Tensor.zeros([2, 0]), try Tensor.zeros([3, 0]), bias: try Tensor([1, 2, 3]))
        XCTAssertEqual(try z.toArray(), [1, 2, 3, 1, 2, 3])
    }

    func testOnlyRequestedGradientsAreComputed() throws {
        let x = try Tensor([1, 2, 3, 4], shape: [2, 2])
        let w = try Tensor([1, 1], shape: [1, 2], requiresGrad: true)
        let b = try Tensor([0], shape: [1])
        let y = try linear(x, w, bias: b)
        try y.backward(gradient: try Tensor([1, 1], shape: [2, 1]))
        XCTAssertEqual(try w.grad!.toArray(), [4, 6])
        XCTAssertNil(x.grad)
        XCTAssertNil(b.grad)
    }

    func testErrors() throws {
        let x = try Tensor.zeros([2, 5])
        assertThrowsConvKitError(try linear(x, try Tensor.zeros([3, 4])), "linear", "input has 5 features but weight expects 4")
        assertThrowsConvKitError(try linear(x, try Tensor.zeros([1, 3, 5])), "linear", "weight", "2-D")
        assertThrowsConvKitError(try linear(x, try Tensor.zeros([3, 5]), bias: try Tensor(scalar: 1)), "linear", "bias", "[3]")
        assertThrowsConvKitError(try linear(x, try Tensor.zeros([3, 5]), bias: try Tensor.zeros([4])), "linear", "bias", "[3]")
        assertThrowsConvKitError(try linear(try Tensor.zeros([]), try Tensor.zeros([3, 5])), "linear", "input")
        assertThrowsConvKitError(try linear(try Tensor(indices: [1, 2], shape: [1, 2]), try Tensor.zeros([3, 2])), "linear", "input", "float32")
    }
}
