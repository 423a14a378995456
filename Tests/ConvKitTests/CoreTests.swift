import XCTest
@testable import ConvKit

final class CoreTests: XCTestCase {
    func testCreationAndReadBack() throws {
        let t = try Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.count, 6)
        XCTAssertEqual(try t.toArray(), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try Tensor.zeros([2, 2]).toArray(), [0, 0, 0, 0])
        XCTAssertEqual(try Tensor.ones([3]).toArray(), [1, 1, 1])
        XCTAssertEqual(try Tensor.full([2], 7).toArray(), [7, 7])
        // −0 keeps its sign (torch.full([2], -0.0) is −0), though −0 == 0.
        XCTAssertEqual(try Tensor.full([2], -0.0).toArray().map(\.sign), [.minus, .minus])
        XCTAssertEqual(try Tensor.zeros([2]).toArray().map(\.sign), [.plus, .plus])
        XCTAssertEqual(try Tensor.arange(0, 5).toArray(), [0, 1, 2, 3, 4])
        XCTAssertEqual(try Tensor.arange(1, 2, step: 0.25).toArray(), [1, 1.25, 1.5, 1.75])
        XCTAssertEqual(try Tensor(scalar: 3).item(), 3)
        XCTAssertEqual(try Tensor(indices: [1, 2]).toIntArray(), [1, 2])
    }

    func testSeededRandomIsReproducible() throws {
        var g1 = Philox(seed: 42), g2 = Philox(seed: 42)
        let a = try Tensor.uniform([100], low: -2, high: 3, generator: &g1).toArray()
        let b = try Tensor.uniform([100], low: -2, high: 3, generator: &g2).toArray()
        XCTAssertEqual(a, b)
        XCTAssert(a.allSatisfy { $0 >= -2 && $0 < 3 })
        var g3 = Philox(seed: 7)
        let n = try Tensor.normal([20000], mean: 1, std: 2, generator: &g3).toArray()
        let mean = n.reduce(0, +) / Float(n.count)
        let variance = n.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(n.count)
        XCTAssertEqual(mean, 1, accuracy: 0.05)
        XCTAssertEqual(variance.squareRoot(), 2, accuracy: 0.05)
        RandomState.seed(5)
        let c = try Tensor.normal([10]).toArray()
        RandomState.seed(5)
        XCTAssertEqual(try Tensor.normal([10]).toArray(), c)
    }

    func testCreationErrors() {
        assertThrowsConvKitError(try Tensor([1, 2, 3], shape: [2, 2]), "Tensor", "3 values", "[2, 2]")
        assertThrowsConvKitError(try Tensor.zeros([2, -1]), "negative dimension")
        assertThrowsConvKitError(try Tensor.arange(0, 1, step: 0), "arange", "step")
        assertThrowsConvKitError(try Tensor([1, 2]).item(), "item", "2 elements")
        assertThrowsConvKitError(try Tensor.zeros([1]).to(.cuda), "cuda:0")
        assertThrowsConvKitError(try Tensor([1]).toIntArray(), "toIntArray")
    }

    func testBackwardErrors() throws {
        let x = try Tensor([1, 2])
        assertThrowsConvKitError(try x.backward(), "does not require grad")
    }

    func testNoGradScope() throws {
        XCTAssertTrue(Autograd.isEnabled)
        withNoGrad { XCTAssertFalse(Autograd.isEnabled) }
        XCTAssertTrue(Autograd.isEnabled)
    }
}

final class RandomStateTests: XCTestCase {
    func testGeneratorStateRestoresTheStream() throws {
        RandomState.seed(11)
        _ = try Tensor.uniform([5])
        let saved = RandomState.generatorState
        let expected = try Tensor.uniform([7]).toArray()
        _ = try Tensor.normal([3])
        RandomState.generatorState = saved
        XCTAssertEqual(try Tensor.uniform([7]).toArray(), expected)
    }
}
