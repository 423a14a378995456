import XCTest
@testable import ConvKit

final class BatchNormTests: XCTestCase {
    private func doubles(_ t: Tensor?) throws -> [Double]? { try t.map { try $0.toArray().map(Double.init) } }

    /// Forward output and running statistics against the Float64 reference, over random shapes,
    /// ranks, modes and optional arguments.
    func testForwardMatchesReference() throws {
        var rng = TestRNG(seed: 11)
        for trial in 0..<60 {
            let rank = rng.int(2...4)
            var shape = [rng.int(1...4), rng.int(1...5)]
            for _ in 2..<rank { shape.append(rng.int(1...6)) }
            let channels = shape[1], count = shape.reduce(1, *)
            let training = rng.bool() && count / channels > 1
            let withRunning = !training || rng.bool()
            let affine = rng.bool()
            let momentum = Float(rng.int(0...10)) / 10
            let eps: Float = [1e-5, 1e-3, 0.1][rng.int(0...2)]
            let xValues = randomValues(count, seed: UInt64(trial)).map { $0 * 3 + 0.5 }
            let x = try Tensor(xValues, shape: shape)
            let rm = withRunning ? try Tensor(randomValues(channels, seed: 100 + UInt64(trial)).map { $0 * 0.2 }) : nil
            let rv = withRunning ? try Tensor(randomValues(channels, seed: 200 + UInt64(trial)).map { $0 * 0.4 + 1 }) : nil
            let w = affine ? try Tensor(randomValues(channels, seed: 300 + UInt64(trial)).map { $0 + 1.5 }) : nil
            let b = affine ? try Tensor(randomValues(channels, seed: 400 + UInt64(trial))) : nil
            let ref = NormalizationReference.batchNorm(xValues.map(Double.init), shape: shape, runningMean: try doubles(rm),
                                                       runningVar: try doubles(rv), weight: try doubles(w), bias: try doubles(b),
                                                       training: training, momentum: Double(momentum), eps: Double(eps))
            let y = try batchNorm2d(x, runningMean: rm, runningVar: rv, weight: w, bias: b, training: training,
                                    momentum: momentum, eps: eps)
            let context = "trial \(trial) shape \(shape) training \(training) running \(withRunning) affine \(affine)"
            XCTAssertEqual(y.shape, shape)
            assertClose(try y.toArray(), ref.output, tolerance: 1e-5, context)
            if let rm, let rv {
                assertClose(try rm.toArray(), ref.runningMean!, tolerance: 1e-6, context)
                assertClose(try rv.toArray(), ref.runningVar!, tolerance: 1e-6, context)
            }
        }
    }

    /// The running variance is updated with the unbiased batch variance, as PyTorch.
    func testRunningVarianceUsesUnbiasedVariance() throws {
        let x = try Tensor([1, 2, 3, 4], shape: [4, 1])
        let rm = try Tensor.zeros([1]), rv = try Tensor.ones([1])
        let y = try batchNorm2d(x, runningMean: rm, runningVar: rv, training: true, momentum: 0.1, eps: 0)
        XCTAssertEqual(try rm.item(), 0.25, accuracy: 1e-7)
        XCTAssertEqual(try rv.item(), 0.9 + 0.1 * 5 / 3, accuracy: 1e-6)
        // Normalised with the biased variance 1.25.
        let expected = [1, 2, 3, 4].map { (Double($0) - 2.5) / 1.25.squareRoot() }
        assertClose(try y.toArray(), expected, tolerance: 1e-6)
        // Evaluation mode leaves them alone.
        _ = try batchNorm2d(x, runningMean: rm, runningVar: rv, training: false)
        XCTAssertEqual(try rm.item(), 0.25, accuracy: 1e-7)
    }

    /// Gradients of x, weight and bias against finite differences of the Float64 reference, in
    /// training mode (through the batch statistics) and evaluation mode (affine map).
    func testGradientsMatchNumericGradient() throws {
        var rng = TestRNG(seed: 5)
        for trial in 0..<16 {
            let shape = [rng.int(1...3), rng.int(1...3), rng.int(1...4), rng.int(2...4)]
            let channels = shape[1], count = shape.reduce(1, *)
            let training = trial % 2 == 0
            let eps: Float = 1e-3
            let xValues = randomValues(count, seed: 50 + UInt64(trial)).map { $0 * 2 }
            let wValues = randomValues(channels, seed: 60 + UInt64(trial)).map { $0 + 1.5 }
            let bValues = randomValues(channels, seed: 70 + UInt64(trial))
            let rmValues = randomValues(channels, seed: 80 + UInt64(trial)).map { $0 * 0.3 }
            let rvValues = randomValues(channels, seed: 90 + UInt64(trial)).map { $0 * 0.4 + 1 }
            let upstream = randomValues(count, seed: 99 + UInt64(trial)).map(Double.init)
            let x = try Tensor(xValues, shape: shape, requiresGrad: true)
            let w = try Tensor(wValues, requiresGrad: true), b = try Tensor(bValues, requiresGrad: true)
            let y = try batchNorm2d(x, runningMean: Tensor(rmValues), runningVar: Tensor(rvValues), weight: w, bias: b,
                                    training: training, momentum: 0.1, eps: eps)
            try y.backward(gradient: Tensor(upstream.map(Float.init), shape: shape))

            let (xd, wd, bd) = (xValues.map(Double.init), wValues.map(Double.init), bValues.map(Double.init))
            func forward(_ x: [Double], _ w: [Double], _ b: [Double]) -> [Double] {
                NormalizationReference.batchNorm(x, shape: shape, runningMean: rmValues.map(Double.init),
                                                 runningVar: rvValues.map(Double.init), weight: w, bias: b,
                                                 training: training, momentum: 0.1, eps: Double(eps)).output
            }
            let context = "trial \(trial) shape \(shape) training \(training)"
            assertClose(try x.grad!.toArray(), numericGradient(at: xd, upstream: upstream) { forward($0, wd, bd) },
                        tolerance: 1e-4, "x " + context)
            assertClose(try w.grad!.toArray(), numericGradient(at: wd, upstream: upstream) { forward(xd, $0, bd) },
                        tolerance: 1e-4, "weight " + context)
            assertClose(try b.grad!.toArray(), numericGradient(at: bd, upstream: upstream) { forward(xd, wd, $0) },
                        tolerance: 1e-4, "bias " + context)
        }
    }

    /// Only the inputs that require a gradient get one; no affine parameters works too.
    func testGradientWithoutAffineParameters() throws {
        let shape = [2, 3, 2, 2]
        let values = randomValues(24, seed: 3)
        let x = try Tensor(values, shape: shape, requiresGrad: true)
        let y = try batchNorm2d(x, runningMean: nil, runningVar: nil, training: true)
        let upstream = randomValues(24, seed: 4).map(Double.init)
        try y.backward(gradient: Tensor(upstream.map(Float.init), shape: shape))
        let numeric = numericGradient(at: values.map(Double.init), upstream: upstream) {
            NormalizationReference.batchNorm($0, shape: shape, runningMean: nil, runningVar: nil, weight: nil, bias: nil,
                                             training: true, momentum: 0.1, eps: 1e-5).output
        }
        assertClose(try x.grad!.toArray(), numeric, tolerance: 1e-4)
    }

    /// PyTorch's F.batch_norm values (outputs, running statistics, gradients), from the fixture.
    func testMatchesPyTorch() throws {
        let t = try SafeTensors.read(from: fixturesDirectory.appendingPathComponent("models_batchnorm.safetensors"))
        let shape = t["x"]!.shape
        for mode in ["train", "eval"] {
            let x = try Tensor(t["x"]!.toArray(), shape: shape, requiresGrad: true)
            let w = try Tensor(t["weight"]!.toArray(), requiresGrad: true)
            let b = try Tensor(t["bias"]!.toArray(), requiresGrad: true)
            let rm = try Tensor(t["running_mean"]!.toArray()), rv = try Tensor(t["running_var"]!.toArray())
            let y = try batchNorm2d(x, runningMean: rm, runningVar: rv, weight: w, bias: b, training: mode == "train",
                                    momentum: 0.3, eps: 1e-3)
            try y.backward(gradient: t["upstream"]!)
            func expect(_ name: String) throws -> [Double] { try t["\(mode).\(name)"]!.toArray().map(Double.init) }
            assertClose(try y.toArray(), try expect("output"), tolerance: 1e-5, mode)
            assertClose(try rm.toArray(), try expect("running_mean"), tolerance: 1e-6, mode)
            assertClose(try rv.toArray(), try expect("running_var"), tolerance: 1e-6, mode)
            assertClose(try x.grad!.toArray(), try expect("grad_x"), tolerance: 1e-5, mode)
            assertClose(try w.grad!.toArray(), try expect("grad_weight"), tolerance: 1e-5, mode)
            assertClose(try b.grad!.toArray(), try expect("grad_bias"), tolerance: 1e-5, mode)
        }
    }

    func testFunctionalErrors() throws {
        let x = try Tensor.zeros([2, 3, 2, 2])
        let c3 = try Tensor.ones([3])
        assertThrowsConvKitError(try batchNorm2d(Tensor.zeros([3]), runningMean: c3, runningVar: c3), "batchNorm2d", "at least 2 dimensions")
        assertThrowsConvKitError(try batchNorm2d(x, runningMean: c3, runningVar: c3, weight: Tensor.ones([4])),
                                 "batchNorm2d", "weight should contain 3 elements")
        assertThrowsConvKitError(try batchNorm2d(x, runningMean: Tensor.ones([2]), runningVar: c3),
                                 "batchNorm2d", "runningMean should contain 3 elements")
        assertThrowsConvKitError(try batchNorm2d(x, runningMean: c3, runningVar: nil, training: true),
                                 "batchNorm2d", "given together")
        assertThrowsConvKitError(try batchNorm2d(x, runningMean: nil, runningVar: nil, training: false),
                                 "batchNorm2d", "evaluation mode")
        assertThrowsConvKitError(try batchNorm2d(Tensor.zeros([1, 3, 1, 1]), runningMean: c3, runningVar: c3, training: true),
                                 "batchNorm2d", "Expected more than 1 value per channel when training")
        assertThrowsConvKitError(try batchNorm2d(Tensor(indices: [0, 1, 2, 3, 4, 5], shape: [2, 3]), runningMean: c3, runningVar: c3),
                                 "batchNorm2d", "input must be float32")
        assertThrowsConvKitError(try batchNorm2d(x, runningMean: c3, runningVar: c3, eps: -1), "batchNorm2d", "eps")
        assertThrowsConvKitError(try batchNorm2d(x, runningMean: Tensor(indices: [0, 0, 0]), runningVar: c3),
                                 "batchNorm2d", "runningMean must be float32")
        // One value per channel is fine in evaluation mode.
        XCTAssertEqual(try batchNorm2d(Tensor.zeros([1, 3, 1, 1]), runningMean: c3, runningVar: c3).shape, [1, 3, 1, 1])
    }

    // MARK: The BatchNorm2d layer

    func testLayerInitialStateAndNames() throws {
        let bn = try BatchNorm2d(numFeatures: 3)
        XCTAssertEqual(bn.stateDict().map { $0.0 }, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
        XCTAssertEqual(try bn.weight!.toArray(), [1, 1, 1])
        XCTAssertEqual(try bn.bias!.toArray(), [0, 0, 0])
        XCTAssertEqual(try bn.runningMean!.toArray(), [0, 0, 0])
        XCTAssertEqual(try bn.runningVar!.toArray(), [1, 1, 1])
        XCTAssertEqual(bn.numBatchesTracked!.shape, [])
        XCTAssertEqual(try bn.numBatchesTracked!.toIntArray(), [0])
        XCTAssertEqual(bn.parameters().count, 2)
        let plain = try BatchNorm2d(numFeatures: 2, affine: false, trackRunningStats: false)
        XCTAssertTrue(plain.stateDict().isEmpty)
    }

    /// Training updates the running statistics and the batch counter; evaluation uses and keeps them.
    func testLayerTrainAndEval() throws {
        let bn = try BatchNorm2d(numFeatures: 2, momentum: 0.25)
        let shape = [3, 2, 2, 3]
        let values = randomValues(36, seed: 8).map { $0 * 2 + 1 }
        let x = try Tensor(values, shape: shape)
        let y = try bn(x)
        let ref = NormalizationReference.batchNorm(values.map(Double.init), shape: shape, runningMean: [0, 0], runningVar: [1, 1],
                                                   weight: [1, 1], bias: [0, 0], training: true, momentum: 0.25, eps: 1e-5)
        assertClose(try y.toArray(), ref.output)
        assertClose(try bn.runningMean!.toArray(), ref.runningMean!, tolerance: 1e-6)
        assertClose(try bn.runningVar!.toArray(), ref.runningVar!, tolerance: 1e-6)
        XCTAssertEqual(try bn.numBatchesTracked!.toIntArray(), [1])

        bn.eval()
        let yEval = try bn(x)
        let refEval = NormalizationReference.batchNorm(values.map(Double.init), shape: shape, runningMean: ref.runningMean,
                                                       runningVar: ref.runningVar, weight: [1, 1], bias: [0, 0],
                                                       training: false, momentum: 0.25, eps: 1e-5)
        assertClose(try yEval.toArray(), refEval.output)
        XCTAssertEqual(try bn.numBatchesTracked!.toIntArray(), [1])
        assertClose(try bn.runningMean!.toArray(), ref.runningMean!, tolerance: 1e-6)
    }

    /// `momentum: nil` keeps a cumulative average of the batch statistics, as PyTorch.
    func testCumulativeMovingAverage() throws {
        let bn = try BatchNorm2d(numFeatures: 1, momentum: nil)
        _ = try bn(Tensor([1, 2, 3, 4], shape: [4, 1, 1, 1]))
        XCTAssertEqual(try bn.runningMean!.item(), 2.5, accuracy: 1e-6)
        XCTAssertEqual(try bn.runningVar!.item(), 5.0 / 3, accuracy: 1e-6)
        _ = try bn(Tensor([10, 12], shape: [2, 1, 1, 1]))
        XCTAssertEqual(try bn.runningMean!.item(), (2.5 + 11) / 2, accuracy: 1e-5)
        XCTAssertEqual(try bn.runningVar!.item(), (5.0 / 3 + 2) / 2, accuracy: 1e-5)
        XCTAssertEqual(try bn.numBatchesTracked!.toIntArray(), [2])
    }

    /// Without running statistics the batch's are used even in evaluation mode.
    func testLayerWithoutRunningStatistics() throws {
        let bn = try BatchNorm2d(numFeatures: 2, trackRunningStats: false)
        bn.eval()
        let values = randomValues(16, seed: 2)
        let y = try bn(Tensor(values, shape: [2, 2, 2, 2]))
        let ref = NormalizationReference.batchNorm(values.map(Double.init), shape: [2, 2, 2, 2], runningMean: nil, runningVar: nil,
                                                   weight: [1, 1], bias: [0, 0], training: true, momentum: 0.1, eps: 1e-5)
        assertClose(try y.toArray(), ref.output)
        XCTAssertEqual(bn.stateDict().map { $0.0 }, ["weight", "bias"])
    }

    /// The layer's forward and gradients are the functional op's.
    func testLayerMatchesFunctional() throws {
        let bn = try BatchNorm2d(numFeatures: 3, eps: 1e-3, momentum: 0.2)
        try bn.weight!.assign(Tensor([0.5, 1.5, 2]))
        try bn.bias!.assign(Tensor([0.1, -0.2, 0.3]))
        let shape = [2, 3, 3, 2]
        let values = randomValues(36, seed: 21)
        let upstream = try Tensor(randomValues(36, seed: 22), shape: shape)
        for training in [true, false] {
            bn.train(training)
            let rm = try Tensor(bn.runningMean!.toArray()), rv = try Tensor(bn.runningVar!.toArray())
            let w = try Tensor(bn.weight!.toArray(), requiresGrad: true), b = try Tensor(bn.bias!.toArray(), requiresGrad: true)
            let x1 = try Tensor(values, shape: shape, requiresGrad: true), x2 = try Tensor(values, shape: shape, requiresGrad: true)
            bn.zeroGrad()
            let y1 = try bn(x1)
            let y2 = try batchNorm2d(x2, runningMean: rm, runningVar: rv, weight: w, bias: b, training: training, momentum: 0.2, eps: 1e-3)
            XCTAssertEqual(try y1.toArray(), try y2.toArray())
            XCTAssertEqual(try bn.runningMean!.toArray(), try rm.toArray())
            XCTAssertEqual(try bn.runningVar!.toArray(), try rv.toArray())
            try y1.backward(gradient: upstream)
            try y2.backward(gradient: upstream)
            XCTAssertEqual(try x1.grad!.toArray(), try x2.grad!.toArray())
            XCTAssertEqual(try bn.weight!.grad!.toArray(), try w.grad!.toArray())
            XCTAssertEqual(try bn.bias!.grad!.toArray(), try b.grad!.toArray())
        }
    }

    /// A PyTorch state dict (int64 `num_batches_tracked`, read as int32) loads unchanged.
    func testLoadsPyTorchStateDictWithInt64Counter() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("convkit-bn-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let source = try BatchNorm2d(numFeatures: 2)
        _ = try source(Tensor(randomValues(16, seed: 1), shape: [2, 2, 2, 2]))
        try SafeTensors.write(Dictionary(uniqueKeysWithValues: source.stateDict()), to: url)
        let target = try BatchNorm2d(numFeatures: 2)
        try target.loadStateDict(SafeTensors.read(from: url))
        XCTAssertEqual(try target.runningMean!.toArray(), try source.runningMean!.toArray())
        XCTAssertEqual(try target.numBatchesTracked!.toIntArray(), [1])
        // The MobileNet fixture was written by PyTorch with an int64 counter.
        let pytorch = try SafeTensors.read(from: fixturesDirectory.appendingPathComponent("models_mobilenet.safetensors"))
        let counter = try XCTUnwrap(pytorch["features.0.1.num_batches_tracked"])
        XCTAssertEqual(counter.dtype, .int32)
        XCTAssertEqual(counter.shape, [])
        XCTAssertEqual(try counter.toIntArray(), [3])
    }

    func testLayerErrors() throws {
        assertThrowsConvKitError(try BatchNorm2d(numFeatures: 0), "BatchNorm2d", "numFeatures")
        assertThrowsConvKitError(try BatchNorm2d(numFeatures: 2, eps: -1), "BatchNorm2d", "eps")
        let bn = try BatchNorm2d(numFeatures: 3)
        assertThrowsConvKitError(try bn(Tensor.zeros([2, 3, 4])), "BatchNorm2d", "expected 4D input (got 3D input")
        assertThrowsConvKitError(try bn(Tensor.zeros([2, 4, 2, 2])), "BatchNorm2d", "expected input with 3 channels", "[2, 4, 2, 2]")
        assertThrowsConvKitError(try bn(Tensor.zeros([1, 3, 1, 1])), "Expected more than 1 value per channel")
        // A failed call does not count as a tracked batch.
        XCTAssertEqual(try bn.numBatchesTracked!.toIntArray(), [0])
    }
}
