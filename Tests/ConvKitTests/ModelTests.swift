import XCTest
@testable import ConvKit

final class ModelTests: XCTestCase {
    /// The state-dict listing PyTorch printed for each model (`scripts/make_model_fixtures.py`).
    private func pytorchListing(_ model: String) throws -> [(name: String, shape: [Int], dtype: String)] {
        let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent("models.json"))
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: [[Any]]])
        let entries = try XCTUnwrap(json[model], "no listing for \(model)")
        return entries.map { ($0[0] as! String, ($0[1] as! [Int]), $0[2] as! String) }
    }

    /// Names, order and shapes as PyTorch's `state_dict()`; dtypes float32, and int32 where
    /// PyTorch has int64 (`num_batches_tracked`).
    private func assertStateDictMatches(_ model: Module, _ listing: String,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try pytorchListing(listing)
        let ours = model.stateDict()
        XCTAssertEqual(ours.map { $0.0 }, expected.map { $0.name }, listing, file: file, line: line)
        XCTAssertEqual(ours.map { $0.1.shape }, expected.map { $0.shape }, listing, file: file, line: line)
        XCTAssertEqual(ours.map { $0.1.dtype == .int32 ? "int64" : "float32" }, expected.map { $0.dtype }, listing, file: file, line: line)
    }

    func testLeNet5StateDictNames() throws {
        try assertStateDictMatches(LeNet5(), "lenet5")
    }

    func testAlexNetStateDictNames() throws {
        // The full-size networks are large (61M parameters): build them without the random draws.
        try Init.withoutInitialisation {
            try assertStateDictMatches(AlexNet(), "alexnet")
            try assertStateDictMatches(AlexNet(localResponseNorm: true), "alexnet_lrn")
        }
        let lrn = try Init.withoutInitialisation { try AlexNet(classes: 10, localResponseNorm: true) }
        XCTAssertTrue(try lrn.features[2] is LocalResponseNorm && lrn.features[6] is LocalResponseNorm)
        let norm = try lrn.features[2] as! LocalResponseNorm
        XCTAssertEqual([norm.alpha, norm.beta, norm.k], [1e-4, 0.75, 2])
        XCTAssertEqual(norm.size, 5)
        try assertStateDictMatches(AlexNet.small(), "alexnet_small")
        try assertStateDictMatches(AlexNet.small(inputChannels: 3, localResponseNorm: true), "alexnet_small_lrn_rgb")
    }

    func testMobileNetStateDictNames() throws {
        try assertStateDictMatches(MobileNet(), "mobilenet")
        try assertStateDictMatches(MobileNet(inputChannels: 3, classes: 7, widthMultiplier: 0.5), "mobilenet_width_0.5")
        let model = try MobileNet()
        let block = try model.features[2] as! Sequential
        let depthwise = try block[0] as! Conv2d
        XCTAssertEqual(depthwise.groups, depthwise.inChannels)
        XCTAssertEqual(depthwise.stride, Size2d(2))
        XCTAssertEqual(MobileNet.makeDivisible(32 * 0.25), 8)
        XCTAssertEqual(MobileNet.makeDivisible(64 * 0.75), 48)
        XCTAssertEqual(MobileNet.makeDivisible(20), 24)
    }

    /// Loads a PyTorch state dict (the fixture minus its "input", "output", "upstream", "output_*",
    /// "grad.*" and "after_train.*" entries) into `model` and compares the eval-mode output for the
    /// stored input. Returns the output and the other entries.
    private func assertPyTorchOutput(_ model: Module, fixture: String, file: StaticString = #filePath,
                                     line: UInt = #line) throws -> (output: Tensor, extras: [String: Tensor]) {
        var tensors = try SafeTensors.read(from: fixturesDirectory.appendingPathComponent(fixture))
        let output = try XCTUnwrap(tensors.removeValue(forKey: "output"))
        let extraKeys = tensors.keys.filter {
            $0 == "input" || $0 == "upstream" || $0.hasPrefix("output_") || $0.hasPrefix("grad.") || $0.hasPrefix("after_train.")
        }
        var extras: [String: Tensor] = [:]
        for key in extraKeys { extras[key] = tensors.removeValue(forKey: key) }
        try model.loadStateDict(tensors)
        model.eval()
        let y = try model(XCTUnwrap(extras["input"]))
        XCTAssertEqual(y.shape, output.shape, file: file, line: line)
        assertClose(try y.toArray(), try output.toArray().map(Double.init), tolerance: 1e-5, fixture, file: file, line: line)
        return (y, extras)
    }

    /// Backpropagates `upstream` from `output` and compares every parameter's gradient with PyTorch's.
    private func assertPyTorchGradients(_ model: Module, output: Tensor, extras: [String: Tensor],
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        model.zeroGrad()
        try output.backward(gradient: XCTUnwrap(extras["upstream"]))
        let parameters = model.namedParameters()
        XCTAssertEqual(Set(parameters.map { "grad." + $0.0 }), Set(extras.keys.filter { $0.hasPrefix("grad.") }), file: file, line: line)
        for (name, p) in parameters {
            let expected = try XCTUnwrap(extras["grad." + name], name)
            let ours = try XCTUnwrap(p.grad, "\(name) has no gradient")
            assertClose(try ours.toArray(), try expected.toArray().map(Double.init), tolerance: 1e-4, name, file: file, line: line)
        }
    }

    func testLeNet5WithPyTorchWeightsGivesPyTorchOutput() throws {
        _ = try assertPyTorchOutput(LeNet5(), fixture: "models_lenet5.safetensors")
    }

    func testSmallAlexNetWithPyTorchWeightsGivesPyTorchOutputAndGradients() throws {
        let model = try AlexNet.small(widthMultiplier: 0.125)
        let (output, extras) = try assertPyTorchOutput(model, fixture: "models_alexnet_small.safetensors")
        try assertPyTorchGradients(model, output: output, extras: extras)
    }

    /// MobileNet: eval output, then one training-mode pass (batch statistics): its output, the
    /// parameter gradients, and the running statistics and counters it leaves, all as PyTorch's.
    func testMobileNetWithPyTorchWeightsGivesPyTorchOutputsAndGradients() throws {
        let model = try MobileNet(widthMultiplier: 0.25, dropout: 0)
        let extras = try assertPyTorchOutput(model, fixture: "models_mobilenet.safetensors").extras
        model.train()
        let y = try model(extras["input"]!)
        assertClose(try y.toArray(), try extras["output_train"]!.toArray().map(Double.init), tolerance: 1e-5, "train")
        try assertPyTorchGradients(model, output: y, extras: extras)
        let buffers = Dictionary(uniqueKeysWithValues: model.namedBuffers())
        for (key, expected) in extras where key.hasPrefix("after_train.") {
            let ours = try XCTUnwrap(buffers[String(key.dropFirst("after_train.".count))], key)
            if expected.dtype == .int32 {
                XCTAssertEqual(try ours.toIntArray(), try expected.toIntArray(), key)
            } else {
                assertClose(try ours.toArray(), try expected.toArray().map(Double.init), tolerance: 1e-5, key)
            }
        }
        XCTAssertEqual(extras.keys.filter { $0.hasPrefix("after_train.") }.count, 11 * 3)
    }

    /// Every model trains: a backward pass reaches every parameter with a finite gradient.
    func testGradientsReachEveryParameter() throws {
        RandomState.seed(1)
        let models: [(Module, [Int])] = [
            (try LeNet5(), [2, 1, 28, 28]),
            (try AlexNet.small(widthMultiplier: 0.25), [2, 1, 28, 28]),
            (try AlexNet.small(inputChannels: 3, localResponseNorm: true, widthMultiplier: 0.25), [2, 3, 32, 32]),
            (try MobileNet(widthMultiplier: 0.25), [2, 1, 28, 28]),
        ]
        for (model, shape) in models {
            let x = try Tensor(randomValues(shape.reduce(1, *), seed: 2), shape: shape)
            let logits = try model(x)
            XCTAssertEqual(logits.shape, [2, 10])
            let loss = try crossEntropy(logits, Tensor(indices: [3, 7]))
            try loss.backward()
            for (name, p) in model.namedParameters() {
                let g = try XCTUnwrap(p.grad, "\(type(of: model)) \(name) has no gradient")
                XCTAssertTrue(try g.toArray().allSatisfy { $0.isFinite }, name)
            }
        }
    }

    /// The same seed builds the same model.
    func testModelsAreReproducibleFromSeed() throws {
        func weights(_ build: () throws -> Module) throws -> [Float] {
            RandomState.seed(2024)
            return try build().parameters().flatMap { try $0.toArray() }
        }
        XCTAssertEqual(try weights { try LeNet5() }, try weights { try LeNet5() })
        XCTAssertEqual(try weights { try MobileNet(widthMultiplier: 0.25) }, try weights { try MobileNet(widthMultiplier: 0.25) })
        RandomState.seed(1)
        let other = try LeNet5().parameters().flatMap { try $0.toArray() }
        XCTAssertNotEqual(try weights { try LeNet5() }, other)
    }

    func testWrongInputGivesClearError() throws {
        let lenet = try LeNet5()
        assertThrowsConvKitError(try lenet(Tensor.zeros([2, 1, 32, 32])), "LeNet5", "28x28", "[2, 1, 32, 32]")
        assertThrowsConvKitError(try lenet(Tensor.zeros([2, 3, 28, 28])), "LeNet5", "1 input channel")
        assertThrowsConvKitError(try lenet(Tensor.zeros([1, 28, 28])), "LeNet5", "[N, 1, H, W]")
        let small = try AlexNet.small(widthMultiplier: 0.25)
        // The small variant's padded poolings accept any size (the adaptive pooling repeats small maps).
        XCTAssertEqual(try small(Tensor.zeros([1, 1, 4, 4])).shape, [1, 10])
        assertThrowsConvKitError(try small(Tensor.zeros([1, 3, 28, 28])), "AlexNet", "1 input channel")
        XCTAssertEqual(try small(Tensor.zeros([1, 1, 32, 32])).shape, [1, 10])
        let mobile = try MobileNet(widthMultiplier: 0.25)
        assertThrowsConvKitError(try mobile(Tensor.zeros([2, 3, 28, 28])), "MobileNet", "1 input channel")
        assertThrowsConvKitError(try mobile(Tensor.zeros([28, 28])), "MobileNet", "expected input of shape")
        let alexnet = try Init.withoutInitialisation { try AlexNet() }
        assertThrowsConvKitError(try alexnet(Tensor.zeros([1, 3, 32, 32])), "AlexNet", "too small", "63x63")
        alexnet.eval()
        XCTAssertEqual(try alexnet(Tensor.zeros([1, 3, 63, 63])).shape, [1, 1000])
        assertThrowsConvKitError(try LeNet5(classes: 0), "LeNet5", "classes")
        assertThrowsConvKitError(try AlexNet.small(widthMultiplier: 0), "AlexNet", "widthMultiplier")
        assertThrowsConvKitError(try AlexNet(dropout: 2), "AlexNet", "dropout")
        assertThrowsConvKitError(try MobileNet(widthMultiplier: -1), "MobileNet", "widthMultiplier")
    }
}
