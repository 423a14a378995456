import XCTest
@testable import ConvKit

final class NNActivationTests: XCTestCase {
    func testReluForwardAndGradient() throws {
        var rng = TestRNG(seed: 3)
        for trial in 0..<10 {
            let shape = (0..<rng.int(1...4)).map { _ in rng.int(1...5) }
            let x = try nnRandomTensor(shape, seed: UInt64(100 + trial))
            let y = try relu(x)
            let xs = nnDoubles(try x.toArray())
            assertClose(try y.toArray(), NNReference.relu(xs))
            let upstream = randomValues(y.count, seed: UInt64(200 + trial))
            try nnBackward(y, upstream: upstream)
            assertClose(try x.grad!.toArray(), numericGradient(at: xs, upstream: nnDoubles(upstream)) { NNReference.relu($0) }, tolerance: 1e-4)
        }
    }

    func testReluGradientIsZeroAtZeroAndNaNPropagates() throws {
        let x = try Tensor([0, -1, 2, .nan], requiresGrad: true)
        let y = try relu(x)
        let values = try y.toArray()
        XCTAssertEqual(Array(values[0..<3]), [0, 0, 2])
        XCTAssertTrue(values[3].isNaN)
        try y.backward(gradient: try Tensor([5, 5, 5, 5]))
        // PyTorch passes the gradient where the output is NaN (it zeroes only where y <= 0).
        XCTAssertEqual(try x.grad!.toArray(), [0, 0, 5, 5])
        // The same across the vectorised path (lengths past 8, with a tail).
        let long = try Tensor((0..<19).map { Float($0 % 3) - 1 }, requiresGrad: true)
        try relu(long).backward(gradient: try Tensor.ones([19]))
        XCTAssertEqual(try long.grad!.toArray(), (0..<19).map { $0 % 3 == 2 ? 1 : 0 })
    }

    func testDropoutMatchesReferenceMaskAndIsDeterministic() throws {
        for (count, p) in [(1, 0.5), (7, 0.3), (1000, 0.5), (4097, 0.9), (33, 0.0), (32, 0.5), (70_001, 0.25)] as [(Int, Float)] {
            let x = try Tensor(randomValues(count, seed: 5), shape: [count])
            let a = try dropout(x, p: p, seed: 1234), b = try dropout(x, p: p, seed: 1234)
            XCTAssertEqual(try a.toArray(), try b.toArray())
            assertClose(try a.toArray(), NNReference.dropout(nnDoubles(try x.toArray()), p: Double(p), seed: 1234), "count \(count) p \(p)")
        }
        let x = try Tensor.ones([256])
        XCTAssertNotEqual(try dropout(x, seed: 1).toArray(), try dropout(x, seed: 2).toArray())
        XCTAssertNotEqual(try dropout(x).toArray(), try dropout(x).toArray(), "seed nil draws a fresh seed each call")
    }

    func testDropoutPreservesTheMeanAndDropsAboutP() throws {
        let n = 100_000
        let x = try Tensor.ones([n])
        for p: Float in [0.1, 0.5, 0.8] {
            let y = try dropout(x, p: p, seed: 42).toArray()
            let mean = y.reduce(0.0) { $0 + Double($1) } / Double(n)
            let dropped = Double(y.filter { $0 == 0 }.count) / Double(n)
            // Standard errors: mean √(p/(1−p)/n) ≤ 0.007, fraction √(p(1−p)/n) ≤ 0.0016.
            XCTAssertEqual(mean, 1, accuracy: 0.03, "p \(p)")
            XCTAssertEqual(dropped, Double(p), accuracy: 0.01, "p \(p)")
            XCTAssertTrue(y.allSatisfy { $0 == 0 || abs($0 - 1 / (1 - p)) < 1e-6 })
        }
    }

    func testDropoutGradientUsesTheSameMask() throws {
        let x = try nnRandomTensor([3, 50], seed: 8)
        let y = try dropout(x, p: 0.4, seed: 99)
        let upstream = randomValues(150, seed: 9)
        try nnBackward(y, upstream: upstream)
        let xs = nnDoubles(try x.toArray())
        let expected = numericGradient(at: xs, upstream: nnDoubles(upstream)) { NNReference.dropout($0, p: 0.4, seed: 99) }
        assertClose(try x.grad!.toArray(), expected, tolerance: 1e-5)
        let grad = try x.grad!.toArray(), out = try y.toArray()
        for i in 0..<150 { XCTAssertEqual(grad[i] == 0, out[i] == 0 && xs[i] != 0) }
    }

    func testDropoutEdgeCases() throws {
        let x = try Tensor([1, .nan, -2, 3])
        XCTAssertTrue(try dropout(x, p: 0.5, training: false) === x)
        XCTAssertEqual(try dropout(x, p: 0, seed: 3).toArray()[0], 1)
        let zeros = try dropout(x, p: 1, seed: 3).toArray()
        XCTAssertEqual(zeros[0], 0); XCTAssertEqual(zeros[2], 0); XCTAssertEqual(zeros[3], 0)
        XCTAssertTrue(zeros[1].isNaN, "NaN · 0 stays NaN, as in PyTorch")
        XCTAssertEqual(try dropout(try Tensor.zeros([0]), seed: 1).shape, [0])
    }

    func testDropoutErrors() throws {
        let x = try Tensor.ones([4])
        assertThrowsConvKitError(try dropout(x, p: 1.5), "dropout", "p", "1.5")
        assertThrowsConvKitError(try dropout(x, p: -0.1), "dropout", "p")
        assertThrowsConvKitError(try dropout(x, p: .nan), "dropout", "p")
        assertThrowsConvKitError(try relu(try Tensor(indices: [1])), "relu", "float32")
    }
}
