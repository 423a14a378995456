import XCTest
@testable import ConvKit

final class LayerTests: XCTestCase {
    /// Runs `layer` and `functional` on the same input, upstream gradient and random state and requires equal
    /// outputs, input gradients and parameter gradients (the functional op gets the layer's
    /// parameters, so its gradients land in the same tensors: they are compared run by run).
    private func assertLayerMatchesFunctional(_ layer: Module, shape: [Int], seed: UInt64 = 1,
                                              file: StaticString = #filePath, line: UInt = #line,
                                              _ functional: (Tensor) throws -> Tensor) throws {
        let values = randomValues(shape.reduce(1, *), seed: seed)
        func run(_ f: (Tensor) throws -> Tensor) throws -> (output: [Float], input: [Float], parameters: [[Float]]) {
            layer.zeroGrad()
            RandomState.seed(seed)  // layers that draw (Dropout) draw the same numbers in both runs
            let x = try Tensor(values, shape: shape, requiresGrad: true)
            let y = try f(x)
            try y.backward(gradient: Tensor(randomValues(y.count, seed: seed + 1), shape: y.shape))
            return (try y.toArray(), try x.grad!.toArray(), try layer.parameters().map { try $0.grad!.toArray() })
        }
        let fromLayer = try run { try layer($0) }
        let fromOp = try run(functional)
        XCTAssertEqual(fromLayer.output, fromOp.output, "output", file: file, line: line)
        XCTAssertEqual(fromLayer.input, fromOp.input, "input gradient", file: file, line: line)
        XCTAssertEqual(fromLayer.parameters, fromOp.parameters, "parameter gradients", file: file, line: line)
        XCTAssertFalse(fromLayer.output.isEmpty, file: file, line: line)
    }

    func testConv2dMatchesFunctional() throws {
        let configs: [(Int, Int, Size2d, Size2d, Padding2d, Size2d, Int, Bool, PaddingMode)] = [
            (3, 4, 3, 1, 1, 1, 1, true, .zeros),
            (4, 6, Size2d(3, 2), Size2d(2, 1), .explicit(Size2d(1, 0)), 1, 2, false, .zeros),
            (4, 4, 3, 1, 1, 2, 4, true, .reflect),
            (2, 3, 3, 1, .same, 1, 1, true, .circular),
            (2, 2, 2, 1, .valid, 1, 1, true, .replicate),
            (2, 3, 3, 1, 2, 1, 1, true, .replicate),
        ]
        for (cin, cout, k, s, p, d, g, bias, mode) in configs {
            let conv = try Conv2d(inChannels: cin, outChannels: cout, kernelSize: k, stride: s, padding: p, dilation: d,
                                  groups: g, bias: bias, paddingMode: mode)
            XCTAssertEqual(conv.weight.shape, [cout, cin / g, k.h, k.w])
            XCTAssertEqual(conv.bias?.shape, bias ? [cout] : nil)
            XCTAssertEqual(conv.namedParameters().map { $0.0 }, bias ? ["weight", "bias"] : ["weight"])
            try assertLayerMatchesFunctional(conv, shape: [2, cin, 6, 7]) {
                try conv2d($0, conv.weight, bias: conv.bias, stride: s, padding: p, dilation: d, groups: g, paddingMode: mode)
            }
        }
        // The algorithm is a setting of the layer.
        let conv = try Conv2d(inChannels: 2, outChannels: 3, kernelSize: 3, algorithm: .direct)
        conv.algorithm = .im2colGEMM
        try assertLayerMatchesFunctional(conv, shape: [1, 2, 5, 5]) {
            try conv2d($0, conv.weight, bias: conv.bias, algorithm: .im2colGEMM)
        }
    }

    func testConvTranspose2dMatchesFunctional() throws {
        let layer = try ConvTranspose2d(inChannels: 4, outChannels: 6, kernelSize: 3, stride: 2, padding: 1,
                                        outputPadding: 1, groups: 2, dilation: 1)
        XCTAssertEqual(layer.weight.shape, [4, 3, 3, 3])
        try assertLayerMatchesFunctional(layer, shape: [2, 4, 3, 4]) {
            try convTranspose2d($0, layer.weight, bias: layer.bias, stride: 2, padding: 1, outputPadding: 1, groups: 2)
        }
        // Choosing the output size picks the output padding, as PyTorch's forward(x, output_size).
        let plain = try ConvTranspose2d(inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, padding: 1, bias: false)
        let x = try Tensor(randomValues(2 * 4 * 5, seed: 3), shape: [1, 2, 4, 5])
        XCTAssertEqual(try plain(x).shape, [1, 3, 7, 9])
        let sized = try plain(x, outputSize: [8, 9])
        XCTAssertEqual(sized.shape, [1, 3, 8, 9])
        XCTAssertEqual(try sized.toArray(), try convTranspose2d(x, plain.weight, stride: 2, padding: 1, outputPadding: Size2d(1, 0)).toArray())
        assertThrowsConvKitError(try plain(x, outputSize: [10, 9]), "ConvTranspose2d", "valid sizes range from 7 to 8")
    }

    func testLinearMatchesFunctional() throws {
        let layer = try Linear(inFeatures: 5, outFeatures: 3)
        XCTAssertEqual(layer.weight.shape, [3, 5])
        try assertLayerMatchesFunctional(layer, shape: [4, 5]) { try linear($0, layer.weight, bias: layer.bias) }
        let noBias = try Linear(inFeatures: 5, outFeatures: 2, bias: false)
        XCTAssertNil(noBias.bias)
        try assertLayerMatchesFunctional(noBias, shape: [2, 3, 5]) { try linear($0, noBias.weight) }
    }

    func testPoolingLayersMatchFunctional() throws {
        let maxPool = try MaxPool2d(kernelSize: 3, stride: 2, padding: 1, dilation: 1, ceilMode: true)
        XCTAssertEqual(maxPool.stride, Size2d(2))
        try assertLayerMatchesFunctional(maxPool, shape: [2, 3, 7, 6]) {
            try maxPool2d($0, kernelSize: 3, stride: 2, padding: 1, ceilMode: true)
        }
        XCTAssertEqual(try MaxPool2d(kernelSize: Size2d(2, 3)).stride, Size2d(2, 3))
        let avgPool = try AvgPool2d(kernelSize: 3, stride: 1, padding: 1, countIncludePad: false)
        try assertLayerMatchesFunctional(avgPool, shape: [1, 2, 5, 4]) {
            try avgPool2d($0, kernelSize: 3, stride: 1, padding: 1, countIncludePad: false)
        }
        let divisor = try AvgPool2d(kernelSize: 2, divisorOverride: 3)
        try assertLayerMatchesFunctional(divisor, shape: [1, 2, 4, 4]) { try avgPool2d($0, kernelSize: 2, divisorOverride: 3) }
        let adaptive = try AdaptiveAvgPool2d(outputSize: Size2d(3, 2))
        try assertLayerMatchesFunctional(adaptive, shape: [2, 2, 7, 5]) { try adaptiveAvgPool2d($0, outputSize: Size2d(3, 2)) }
    }

    func testMaxPoolIndicesAndUnpool() throws {
        let pool = try MaxPool2d(kernelSize: 2)
        let unpool = try MaxUnpool2d(kernelSize: 2)
        let x = try Tensor(randomValues(2 * 3 * 5 * 4, seed: 9), shape: [2, 3, 5, 4], requiresGrad: true)
        let (y, indices) = try pool.forwardWithIndices(x)
        let (yRef, indicesRef) = try maxPool2dWithIndices(x, kernelSize: 2)
        XCTAssertEqual(try y.toArray(), try yRef.toArray())
        XCTAssertEqual(try indices.toIntArray(), try indicesRef.toIntArray())
        XCTAssertEqual(try y.toArray(), try pool(x).toArray())
        let restored = try unpool(y, indices: indices)
        XCTAssertEqual(restored.shape, [2, 3, 4, 4])
        XCTAssertEqual(try restored.toArray(), try maxUnpool2d(y, indices: indices, kernelSize: 2).toArray())
        let sized = try unpool(y, indices: indices, outputSize: [5, 4])
        XCTAssertEqual(sized.shape, [2, 3, 5, 4])
        XCTAssertEqual(try sized.toArray(), try maxUnpool2d(y, indices: indices, kernelSize: 2, outputSize: [5, 4]).toArray())
        try sized.backward(gradient: Tensor.ones(sized.shape))
        XCTAssertEqual(x.grad?.shape, x.shape)
        assertThrowsConvKitError(try unpool(y), "MaxUnpool2d", "indices")
    }

    func testActivationAndShapeLayers() throws {
        try assertLayerMatchesFunctional(ReLU(), shape: [3, 4]) { try relu($0) }
        let lrn = try LocalResponseNorm(size: 3, alpha: 0.01, beta: 0.5, k: 2)
        try assertLayerMatchesFunctional(lrn, shape: [2, 5, 3, 3]) { try localResponseNorm($0, size: 3, alpha: 0.01, beta: 0.5, k: 2) }
        let flatten = Flatten()
        try assertLayerMatchesFunctional(flatten, shape: [2, 3, 4, 5]) { try $0.flatten(startDim: 1) }
        XCTAssertEqual(try flatten(Tensor.zeros([2, 3, 4, 5])).shape, [2, 60])
        XCTAssertEqual(try Flatten(startDim: 0, endDim: 1)(Tensor.zeros([2, 3, 4])).shape, [6, 4])
        XCTAssertTrue(ReLU().stateDict().isEmpty)
    }

    /// Dropout follows the module's mode and draws a fresh seed from RandomState on every call.
    func testDropout() throws {
        let layer = try Dropout(p: 0.4)
        let x = try Tensor(randomValues(200, seed: 4), shape: [10, 20])
        RandomState.seed(77)
        let a = try layer(x).toArray()
        RandomState.seed(77)
        let b = try dropout(x, p: 0.4).toArray()
        XCTAssertEqual(a, b)
        let c = try layer(x).toArray()
        XCTAssertNotEqual(b, c, "each call draws a new mask")
        let zeros = a.filter { $0 == 0 }.count
        XCTAssertGreaterThan(zeros, 40)
        XCTAssertLessThan(zeros, 120)
        layer.eval()
        XCTAssertEqual(try layer(x).toArray(), try x.toArray())
        try assertLayerMatchesFunctional(Dropout(p: 0.5), shape: [4, 4], seed: 3) { try dropout($0, p: 0.5) }
    }

    func testSequentialNamesAndForward() throws {
        let model = Sequential(try Linear(inFeatures: 4, outFeatures: 3), ReLU(),
                               Sequential(try Linear(inFeatures: 3, outFeatures: 2, bias: false)))
        XCTAssertEqual(model.count, 3)
        XCTAssertEqual(model.stateDict().map { $0.0 }, ["0.weight", "0.bias", "2.0.weight"])
        XCTAssertEqual(model.namedModules().map { $0.0 }, ["", "0", "1", "2", "2.0"])
        XCTAssertTrue(try model[1] is ReLU)
        let first = try model[0] as! Linear, last = try (model[2] as! Sequential)[0] as! Linear
        try assertLayerMatchesFunctional(model, shape: [5, 4]) {
            try linear(relu(linear($0, first.weight, bias: first.bias)), last.weight)
        }
        model.append(Flatten())
        XCTAssertEqual(model.namedChildren().map { $0.0 }, ["0", "1", "2", "3"])
        let empty = Sequential([])
        let x = try Tensor([1, 2])
        XCTAssert(try empty(x) === x)
        model.eval()
        XCTAssertFalse(try model[2].isTraining)
        XCTAssertFalse(last.isTraining)
    }

    // MARK: Initialisation

    /// Values must lie in [−bound, bound), fill it (max near the bound) and have U(−b, b)'s moments.
    private func assertUniform(_ t: Tensor, bound: Float, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let v = try t.toArray()
        XCTAssertTrue(v.allSatisfy { abs($0) <= bound }, "\(name) exceeds \(bound)", file: file, line: line)
        XCTAssertGreaterThan(v.map { abs($0) }.max()!, 0.9 * bound, name, file: file, line: line)
        guard v.count >= 500 else { return }
        let mean = v.reduce(0, +) / Float(v.count)
        let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(v.count)
        XCTAssertEqual(mean, 0, accuracy: 0.1 * bound, name, file: file, line: line)
        XCTAssertEqual(variance, bound * bound / 3, accuracy: 0.1 * bound * bound / 3, name, file: file, line: line)
    }

    /// PyTorch's reset_parameters: weight and bias U(−1/√fan_in, 1/√fan_in).
    func testDefaultInitialisationBounds() throws {
        RandomState.seed(123)
        let conv = try Conv2d(inChannels: 8, outChannels: 32, kernelSize: 3, groups: 2)
        try assertUniform(conv.weight, bound: 1 / Float(4 * 9).squareRoot(), "conv weight")
        try assertUniform(conv.bias!, bound: 1 / Float(4 * 9).squareRoot(), "conv bias")
        // ConvTranspose2d: fan_in from the weight's dimension 1 (outChannels/groups), as PyTorch.
        let transposed = try ConvTranspose2d(inChannels: 40, outChannels: 6, kernelSize: Size2d(3, 2), groups: 2)
        XCTAssertEqual(try Init.fans(of: transposed.weight.shape).fanIn, 3 * 6)
        try assertUniform(transposed.weight, bound: 1 / Float(18).squareRoot(), "transposed weight")
        try assertUniform(transposed.bias!, bound: 1 / Float(18).squareRoot(), "transposed bias")
        let fc = try Linear(inFeatures: 50, outFeatures: 40)
        try assertUniform(fc.weight, bound: 1 / Float(50).squareRoot(), "linear weight")
        try assertUniform(fc.bias!, bound: 1 / Float(50).squareRoot(), "linear bias")
        XCTAssertEqual(try fc.weight.toArray().filter { $0 == 0 }.count, 0)
        XCTAssertTrue(fc.weight.requiresGrad && fc.bias!.requiresGrad)
        XCTAssertTrue(fc.weight.isLeaf)
    }

    func testInitFunctions() throws {
        XCTAssertTrue(try Init.fans(of: [16, 3, 5, 5]) == (75, 400))
        XCTAssertTrue(try Init.fans(of: [7, 9]) == (9, 7))
        assertThrowsConvKitError(try Init.fans(of: [4]), "Init.fans", "at least 2 dimensions")
        let t = try Tensor.zeros([64, 48])
        try Init.kaimingUniform(t)
        try assertUniform(t, bound: (6 / Float(48)).squareRoot(), "kaiming a=0")
        try Init.kaimingUniform(t, a: Float(5).squareRoot(), mode: .fanOut)
        try assertUniform(t, bound: 1 / Float(64).squareRoot(), "kaiming a=√5 fan out")
        try Init.xavierUniform(t, gain: 2)
        try assertUniform(t, bound: 2 * (6 / Float(112)).squareRoot(), "xavier")
        try Init.kaimingNormal(t)
        let v = try t.toArray()
        let std = (v.map { $0 * $0 }.reduce(0, +) / Float(v.count)).squareRoot()
        XCTAssertEqual(std, (2 / Float(48)).squareRoot(), accuracy: 0.01)
        try Init.constant(t, 0.5)
        XCTAssertTrue(try t.toArray().allSatisfy { $0 == 0.5 })
        assertThrowsConvKitError(try Init.kaimingUniform(Tensor.zeros([3, 0])), "Init.kaimingUniform", "fan is 0")
        assertThrowsConvKitError(try Init.uniform(Tensor(indices: [1, 2])), "Init.uniform", "float32")
    }

    /// Layers draw from RandomState: the same seed gives the same parameters.
    func testInitialisationIsReproducibleFromSeed() throws {
        func build() throws -> [Float] {
            let model = Sequential(try Conv2d(inChannels: 2, outChannels: 3, kernelSize: 3), try Linear(inFeatures: 4, outFeatures: 5))
            return try model.parameters().flatMap { try $0.toArray() }
        }
        RandomState.seed(9)
        let a = try build()
        RandomState.seed(9)
        XCTAssertEqual(a, try build())
        RandomState.seed(10)
        XCTAssertNotEqual(a, try build())
    }

    func testConstructorErrors() throws {
        assertThrowsConvKitError(try Conv2d(inChannels: 3, outChannels: 4, kernelSize: 3, groups: 2), "Conv2d", "inChannels (3) must be divisible by groups (2)")
        assertThrowsConvKitError(try Conv2d(inChannels: 4, outChannels: 3, kernelSize: 3, groups: 2), "Conv2d", "outChannels (3)")
        assertThrowsConvKitError(try Conv2d(inChannels: 4, outChannels: 4, kernelSize: 3, groups: 0), "Conv2d", "groups")
        assertThrowsConvKitError(try Conv2d(inChannels: 4, outChannels: 4, kernelSize: 0), "Conv2d", "kernelSize")
        assertThrowsConvKitError(try Conv2d(inChannels: 4, outChannels: 4, kernelSize: 3, stride: 2, padding: .same), "Conv2d", "strided")
        assertThrowsConvKitError(try Conv2d(inChannels: 4, outChannels: 4, kernelSize: 3, padding: -1), "Conv2d", "padding")
        assertThrowsConvKitError(try Conv2d(inChannels: 0, outChannels: 4, kernelSize: 3), "Conv2d", "positive")
        assertThrowsConvKitError(try ConvTranspose2d(inChannels: 2, outChannels: 2, kernelSize: 3, stride: 2, outputPadding: 2),
                                 "ConvTranspose2d", "outputPadding")
        assertThrowsConvKitError(try ConvTranspose2d(inChannels: 3, outChannels: 2, kernelSize: 3, groups: 2), "ConvTranspose2d", "divisible")
        assertThrowsConvKitError(try Linear(inFeatures: -1, outFeatures: 2), "Linear", "non-negative")
        assertThrowsConvKitError(try MaxPool2d(kernelSize: 2, padding: 2), "MaxPool2d", "half of kernel size")
        assertThrowsConvKitError(try MaxPool2d(kernelSize: 2, stride: 0), "MaxPool2d", "stride")
        assertThrowsConvKitError(try AvgPool2d(kernelSize: 2, divisorOverride: 0), "AvgPool2d", "divisorOverride")
        assertThrowsConvKitError(try AdaptiveAvgPool2d(outputSize: -1), "AdaptiveAvgPool2d", "non-negative")
        assertThrowsConvKitError(try MaxUnpool2d(kernelSize: 0), "MaxUnpool2d", "kernelSize")
        assertThrowsConvKitError(try Dropout(p: 1.5), "Dropout", "between 0 and 1")
        assertThrowsConvKitError(try LocalResponseNorm(size: 0), "LocalResponseNorm", "size")
    }

    /// Wrong inputs reach the functional ops' checks, which name the op and the problem.
    func testLayerForwardErrors() throws {
        let conv = try Conv2d(inChannels: 3, outChannels: 2, kernelSize: 3)
        assertThrowsConvKitError(try conv(Tensor.zeros([1, 4, 5, 5])), "conv2d", "channels")
        let fc = try Linear(inFeatures: 4, outFeatures: 2)
        assertThrowsConvKitError(try fc(Tensor.zeros([2, 5])), "linear")
    }
}
