import XCTest
@testable import ConvKit

final class NNSoftmaxTests: XCTestCase {
    func testForwardAndGradientMatchReferenceOverRandomShapesAndDims() throws {
        var rng = TestRNG(seed: 21)
        for trial in 0..<40 {
            let shape = (0..<rng.int(1...4)).map { _ in rng.int(1...5) }
            let dim = rng.int(-shape.count...(shape.count - 1))
            let log = rng.bool()
            let axis = dim < 0 ? dim + shape.count : dim
            let layout = ReductionLayout(shape: shape, axis: axis)
            let x = try nnRandomTensor(shape, seed: UInt64(300 + trial), scale: 4)
            let y = log ? try logSoftmax(x, dim: dim) : try softmax(x, dim: dim)
            let xs = nnDoubles(try x.toArray())
            let f = { (v: [Double]) in NNReference.softmax(v, outer: layout.outer, dim: layout.dim, inner: layout.inner, log: log) }
            assertClose(try y.toArray(), f(xs), "shape \(shape) dim \(dim) log \(log)")
            let upstream = randomValues(y.count, seed: UInt64(400 + trial))
            try nnBackward(y, upstream: upstream)
            assertClose(try x.grad!.toArray(), numericGradient(at: xs, upstream: nnDoubles(upstream), f), tolerance: 1e-4,
                        "gradient shape \(shape) dim \(dim) log \(log)")
        }
    }

    func testWideInnerDimensionUsesTiles() throws {
        // inner = 260 spans two tiles of the strided kernel.
        for log in [false, true] {
            let x = try nnRandomTensor([1, 2, 260], seed: 7, scale: 3)
            let y = log ? try logSoftmax(x, dim: 1) : try softmax(x, dim: 1)
            let ref = NNReference.softmax(nnDoubles(try x.toArray()), outer: 1, dim: 2, inner: 260, log: log)
            assertClose(try y.toArray(), ref)
            let upstream = randomValues(520, seed: 8)
            try nnBackward(y, upstream: upstream)
            let numeric = numericGradient(at: nnDoubles(try x.toArray()), upstream: nnDoubles(upstream)) {
                NNReference.softmax($0, outer: 1, dim: 2, inner: 260, log: log)
            }
            assertClose(try x.grad!.toArray(), numeric, tolerance: 1e-4)
        }
    }

    func testHugeLogitsAreStable() throws {
        let x = try Tensor([1e4, 0, -1e4, 1e4 - 1, 5e3, 1e4], shape: [2, 3])
        for dim in [0, 1] {
            let p = try softmax(x, dim: dim).toArray(), l = try logSoftmax(x, dim: dim).toArray()
            XCTAssertFalse(p.contains { !$0.isFinite }, "softmax dim \(dim): \(p)")
            XCTAssertFalse(l.contains { $0.isNaN }, "logSoftmax dim \(dim): \(l)")
            let layout = ReductionLayout(shape: [2, 3], axis: dim)
            let xs = nnDoubles(try x.toArray())
            assertClose(p, NNReference.softmax(xs, outer: layout.outer, dim: layout.dim, inner: layout.inner))
            assertClose(l, NNReference.softmax(xs, outer: layout.outer, dim: layout.dim, inner: layout.inner, log: true))
        }
        let row = try softmax(try Tensor([1e4, 1e4 - 1], shape: [2]), dim: 0).toArray()
        XCTAssertEqual(Double(row[0]), 1 / (1 + exp(-1.0)), accuracy: 1e-6)
    }

    func testInfinitiesScalarsAndEmpty() throws {
        XCTAssertEqual(try softmax(try Tensor([-.infinity, 0], shape: [2]), dim: 0).toArray(), [0, 1])
        XCTAssertEqual(try logSoftmax(try Tensor([-.infinity, 0], shape: [2]), dim: 0).toArray(), [-.infinity, 0])
        XCTAssertEqual(try softmax(try Tensor(scalar: 3), dim: 0).toArray(), [1])
        XCTAssertEqual(try logSoftmax(try Tensor(scalar: 3), dim: -1).toArray(), [0])
        XCTAssertEqual(try softmax(try Tensor.zeros([0, 3]), dim: 1).shape, [0, 3])
        XCTAssertTrue(try softmax(try Tensor([1, .nan], shape: [2]), dim: 0).toArray().allSatisfy { $0.isNaN })
    }

    func testMatchesPyTorch() throws {
        // torch.softmax / log_softmax of sin(0.7i+0.3)·3 as [3, 2], upstream sin(0.2i+0.4).
        let upstream = nnPinnedValues(6, 0.2, 0.4, 1)
        let x = try Tensor(nnPinnedValues(6), shape: [3, 2], requiresGrad: true)
        let y = try softmax(x, dim: 0)
        assertClose(try nnBackward(y, upstream: upstream),
                    [0.104831921, 0.617089962, 0.84623079, 0.375024518, 0.0489372898, 0.0078855202])
        assertClose(try x.grad!.toArray(), [-0.0318757608, -0.066112404, 0.0202015092, 0.0636389411, 0.0116742516, 0.0024734629], tolerance: 1e-5)
        let x2 = try Tensor(nnPinnedValues(6), shape: [3, 2], requiresGrad: true)
        let l = try logSoftmax(x2, dim: -1)
        assertClose(try nnBackward(l, upstream: upstream),
                    [-1.81549387, -0.177641534, -0.327345678, -1.27595057, -0.131742012, -2.09205767])
        assertClose(try x2.grad!.toArray(), [0.234137782, -0.234137782, -0.406300282, 0.406300282, -0.748768544, 0.748768544])
    }

    func testErrors() throws {
        let x = try Tensor.zeros([2, 3])
        assertThrowsConvKitError(try softmax(x, dim: 2), "softmax", "dim 2", "[-2, 1]")
        assertThrowsConvKitError(try logSoftmax(x, dim: -3), "logSoftmax", "dim -3")
        assertThrowsConvKitError(try softmax(try Tensor(indices: [1, 2]), dim: 0), "softmax", "float32")
    }
}
