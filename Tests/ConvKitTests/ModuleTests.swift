import XCTest
@testable import ConvKit

/// A two-level module tree built by hand, to test the base class without any layer.
private final class Leaf: Module {
    let weight: Tensor
    let runningMean: Tensor
    init(_ values: [Float]) throws {
        weight = try Tensor(values, requiresGrad: true)
        runningMean = try Tensor.zeros([values.count])
    }
    override func namedOwnParameters() -> [(String, Tensor)] { [("weight", weight)] }
    override func namedOwnBuffers() -> [(String, Tensor)] { [("running_mean", runningMean)] }
    override func forward(_ input: Tensor) throws -> Tensor { try input * weight }
}

private final class Tree: Module {
    let first: Leaf, second: Leaf
    let bias: Tensor
    init(scale: Float = 1) throws {
        first = try Leaf([1, 2]); second = try Leaf([3, 4]); bias = try Tensor([0.5 * scale, 0.5 * scale], requiresGrad: true)
    }
    override func namedOwnParameters() -> [(String, Tensor)] { [("bias", bias)] }
    override func namedChildren() -> [(String, Module)] { [("features", first), ("head", second)] }
    override func forward(_ input: Tensor) throws -> Tensor { try second(first(input)) + bias }
}

final class ModuleTests: XCTestCase {
    func testNamesFollowPyTorchOrder() throws {
        let tree = try Tree()
        XCTAssertEqual(tree.stateDict().map { $0.0 },
                       ["bias", "features.weight", "features.running_mean", "head.weight", "head.running_mean"])
        XCTAssertEqual(tree.namedParameters().map { $0.0 }, ["bias", "features.weight", "head.weight"])
        XCTAssertEqual(tree.parameterCount, 6)
        XCTAssertEqual(tree.namedModules().map { $0.0 }, ["", "features", "head"])
    }

    func testModesGradientsAndForward() throws {
        let tree = try Tree()
        tree.eval()
        XCTAssertFalse(tree.second.isTraining)
        tree.train()
        XCTAssertTrue(tree.first.isTraining)
        let y = try tree(Tensor([1, 1]))
        XCTAssertEqual(try y.toArray(), [3.5, 8.5])
        try y.sum().backward()
        XCTAssertEqual(try tree.first.weight.grad!.toArray(), [3, 4])
        tree.zeroGrad()
        XCTAssertNil(tree.first.weight.grad)
    }

    func testLoadStateDictCopiesInPlaceAndChecksKeys() throws {
        let tree = try Tree(), other = try Tree()
        let weight = tree.first.weight
        var state = Dictionary(uniqueKeysWithValues: other.stateDict())
        state["features.weight"] = try Tensor([9, 9])
        try tree.loadStateDict(state)
        XCTAssert(tree.first.weight === weight)
        XCTAssertEqual(try weight.toArray(), [9, 9])

        var missing = state
        missing["head.weight"] = nil
        assertThrowsConvKitError(try tree.loadStateDict(missing), "loadStateDict", "missing keys", "head.weight")
        var extra = state
        extra["tail.weight"] = try Tensor([1])
        assertThrowsConvKitError(try tree.loadStateDict(extra), "unexpected keys", "tail.weight")
        try tree.loadStateDict(extra, strict: false)
        var wrongShape = state
        wrongShape["bias"] = try Tensor([1, 2, 3])
        assertThrowsConvKitError(try tree.loadStateDict(wrongShape), "bias", "[3]", "[2]")
        XCTAssertEqual(try tree.bias.toArray(), [0.5, 0.5], "a failed load must change nothing")
    }
}
