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
        // As PyTorch: a vector of only -inf, or one holding +inf, gives NaN everywhere.
        for op in [softmax, logSoftmax] {
            XCTAssertTrue(try op(try Tensor([-.infinity, -.infinity]), 0).toArray().allSatisfy { $0.isNaN })
            XCTAssertTrue(try op(try Tensor([.infinity, 1]), 0).toArray().allSatisfy { $0.isNaN })
            XCTAssertTrue(try op(try Tensor([-.infinity, 1, -.infinity, .infinity], shape: [2, 2]), 0).toArray().allSatisfy { $0.isNaN })
        }
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

final class NNMathTests: XCTestCase {
    /// The vectorisable `exp` of the NN kernels against Float64 `exp`, scalar and SIMD8 alike.
    func testExpMatchesFloat64WithinTwoUlpsIncludingEdgeCases() {
        var inputs: [Float] = [0, -0.0, 1, -1, 1e-8, -1e-8, 88.7, -87.3, -100, -103.9, -104.5, -1e4, 88.8, 1e4,
                               .infinity, -.infinity, .nan, .leastNonzeroMagnitude]
        inputs += randomValues(400, seed: 77).map { $0 * 90 }
        while inputs.count % 8 != 0 { inputs.append(0.5) }
        for start in stride(from: 0, to: inputs.count, by: 8) {
            let lanes = SIMD8<Float>(inputs[start..<start + 8])
            let vector = NNMath.exp(lanes)
            for j in 0..<8 {
                let x = lanes[j], scalar = NNMath.exp(x)
                let expected = Float(Foundation.exp(Double(x)))
                XCTAssertEqual(scalar.bitPattern, vector[j].bitPattern, "scalar and SIMD differ at \(x)")
                if expected.isNaN {
                    XCTAssertTrue(scalar.isNaN, "exp(\(x))")
                } else if expected.isInfinite || expected == 0 || expected.isSubnormal {
                    XCTAssertEqual(Double(scalar), Double(expected), accuracy: 1e-44, "exp(\(x))")
                } else {
                    XCTAssertLessThanOrEqual(abs(scalar - expected), 2 * expected.ulp, "exp(\(x)) = \(scalar), expected \(expected)")
                }
            }
        }
    }

    func testReductionsOverLongVectors() {
        let a = randomValues(45, seed: 1), b = randomValues(45, seed: 2)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                let x = pa.baseAddress!, y = pb.baseAddress!
                XCTAssertEqual(NNMath.maximum(x, count: 45), a.max()!)
                XCTAssertEqual(Double(NNMath.sum(x, count: 45)), a.reduce(0.0) { $0 + Double($1) }, accuracy: 1e-5)
                XCTAssertEqual(Double(NNMath.dot(x, y, count: 45)), zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }, accuracy: 1e-5)
                XCTAssertEqual(Double(NNMath.sumOfExp(x, shift: 0.5, count: 45)), a.reduce(0.0) { $0 + exp(Double($1) - 0.5) }, accuracy: 1e-4)
            }
        }
    }
}

final class NNLongRowTests: XCTestCase {
    /// Rows longer than one SIMD8 vector (with a remainder), where the vector paths run.
    func testLongRowsSoftmaxAndCrossEntropy() throws {
        for (shape, dim) in [([3, 37], 1), ([2, 64], -1), ([37, 3], 0), ([2, 19, 3], 1)] as [([Int], Int)] {
            let axis = dim < 0 ? dim + shape.count : dim
            let layout = ReductionLayout(shape: shape, axis: axis)
            for log in [false, true] {
                let x = try nnRandomTensor(shape, seed: 55, scale: 5)
                let y = log ? try logSoftmax(x, dim: dim) : try softmax(x, dim: dim)
                let xs = nnDoubles(try x.toArray())
                let f = { (v: [Double]) in NNReference.softmax(v, outer: layout.outer, dim: layout.dim, inner: layout.inner, log: log) }
                assertClose(try y.toArray(), f(xs), "shape \(shape) dim \(dim) log \(log)")
                let upstream = randomValues(y.count, seed: 56)
                try nnBackward(y, upstream: upstream)
                assertClose(try x.grad!.toArray(), numericGradient(at: xs, upstream: nnDoubles(upstream), f), tolerance: 1e-4)
            }
        }
        for (shape, weighted) in [([3, 37], true), ([3, 37], false), ([2, 19, 3], true)] as [([Int], Bool)] {
            let layout = ReductionLayout(shape: shape, axis: 1)
            let logits = try nnRandomTensor(shape, seed: 57, scale: 4)
            let weight = weighted ? randomValues(layout.dim, seed: 58).map { $0 + 1.5 } : nil
            var rng = TestRNG(seed: 59)
            var t = (0..<layout.rows).map { _ in rng.int(0...(layout.dim - 1)) }
            t[1] = -100
            let rowShape = [shape[0]] + shape.dropFirst(2)
            let loss = try crossEntropy(logits, try Tensor(indices: t.map { Int32($0) }, shape: rowShape),
                                        weight: try weight.map { try Tensor($0) }, labelSmoothing: 0.15)
            let xs = nnDoubles(try logits.toArray())
            let f = { (v: [Double]) in
                NNReference.crossEntropy(v, outer: layout.outer, classes: layout.dim, inner: layout.inner, target: .indices(t),
                                         weight: weight.map(nnDoubles), ignoreIndex: -100, reduction: .mean, labelSmoothing: 0.15)
            }
            assertClose([try loss.item()], f(xs), "shape \(shape)")
            try loss.backward()
            assertClose(try logits.grad!.toArray(), numericGradient(at: xs, upstream: [1], f), tolerance: 1e-4, "shape \(shape)")
        }
    }

    func testNaNAndInfinityInLongRows() throws {
        var values = randomValues(20, seed: 3)
        values[13] = .nan
        XCTAssertTrue(try softmax(try Tensor(values), dim: 0).toArray().allSatisfy { $0.isNaN })
        XCTAssertTrue(try logSoftmax(try Tensor(values), dim: 0).toArray().allSatisfy { $0.isNaN })
        var masked = [Float](repeating: -.infinity, count: 20)
        masked[17] = 2
        let p = try softmax(try Tensor(masked), dim: 0).toArray()
        XCTAssertEqual(p, (0..<20).map { $0 == 17 ? 1 : 0 })
        XCTAssertTrue(try crossEntropy(try Tensor(values, shape: [1, 20]), try Tensor(indices: [0])).item().isNaN)
    }
}
