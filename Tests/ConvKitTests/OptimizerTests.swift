import XCTest
@testable import ConvKit

/// A small two-layer perceptron for optimizer tests (the real models are elsewhere).
final class OptimizerTestNet: Module {
    let weight1: Tensor, bias1: Tensor, weight2: Tensor, bias2: Tensor
    init(seed: UInt64) throws {
        weight1 = try Tensor(randomValues(6 * 4, seed: seed).map { $0 * 0.5 }, shape: [6, 4], requiresGrad: true)
        bias1 = try Tensor(randomValues(6, seed: seed + 1).map { $0 * 0.1 }, shape: [6], requiresGrad: true)
        weight2 = try Tensor(randomValues(3 * 6, seed: seed + 2).map { $0 * 0.5 }, shape: [3, 6], requiresGrad: true)
        bias2 = try Tensor(randomValues(3, seed: seed + 3).map { $0 * 0.1 }, shape: [3], requiresGrad: true)
    }
    override func namedOwnParameters() -> [(String, Tensor)] {
        [("fc1.weight", weight1), ("fc1.bias", bias1), ("fc2.weight", weight2), ("fc2.bias", bias2)]
    }
    override func forward(_ input: Tensor) throws -> Tensor {
        try linear(relu(linear(input, weight1, bias: bias1)), weight2, bias: bias2)
    }
}

/// One random optimizer configuration with the matching Float64 reference update.
private enum OptimizerKind {
    case sgd(lr: Float, momentum: Float, dampening: Float, weightDecay: Float, nesterov: Bool)
    case adam(lr: Float, betas: (Float, Float), eps: Float, weightDecay: Float, decoupled: Bool)

    func make(_ parameters: [Tensor]) throws -> Optimizer {
        switch self {
        case let .sgd(lr, momentum, dampening, weightDecay, nesterov):
            return try SGD(parameters: parameters, learningRate: lr, momentum: momentum, dampening: dampening,
                           weightDecay: weightDecay, nesterov: nesterov)
        case let .adam(lr, betas, eps, weightDecay, decoupled):
            return decoupled
                ? try AdamW(parameters: parameters, learningRate: lr, betas: betas, eps: eps, weightDecay: weightDecay)
                : try Adam(parameters: parameters, learningRate: lr, betas: betas, eps: eps, weightDecay: weightDecay)
        }
    }

    static func random(_ rng: inout TestRNG) -> OptimizerKind {
        if rng.bool() {
            let momentum: Float = [0, 0.5, 0.9][rng.int(0...2)]
            let nesterov = momentum > 0 && rng.bool()
            return .sgd(lr: [0.001, 0.05, 0.3][rng.int(0...2)], momentum: momentum,
                        dampening: nesterov ? 0 : [0, 0.25][rng.int(0...1)],
                        weightDecay: [0, 0.01, 0.3][rng.int(0...2)], nesterov: nesterov)
        }
        return .adam(lr: [0.001, 0.01, 0.1][rng.int(0...2)],
                     betas: [(0.9, 0.999), (0.5, 0.9), (0.2, 0.5), (0, 0.99)][rng.int(0...3)],
                     eps: [1e-8, 1e-3][rng.int(0...1)], weightDecay: [0, 0.05][rng.int(0...1)], decoupled: rng.bool())
    }
}

/// The Float64 reference state of one parameter.
private struct ReferenceState {
    var parameter: [Double]
    var momentumBuffer: [Double]?
    var expAvg: [Double]
    var expAvgSq: [Double]
    var step = 0

    init(_ values: [Float]) {
        parameter = values.map(Double.init)
        expAvg = Array(repeating: 0, count: values.count)
        expAvgSq = expAvg
    }

    mutating func update(_ kind: OptimizerKind, gradient: [Float]) {
        let g = gradient.map(Double.init)
        switch kind {
        case let .sgd(lr, momentum, dampening, weightDecay, nesterov):
            OptimizerReference.sgdStep(parameter: &parameter, gradient: g, momentumBuffer: &momentumBuffer,
                                       learningRate: Double(lr), momentum: Double(momentum), dampening: Double(dampening),
                                       weightDecay: Double(weightDecay), nesterov: nesterov)
        case let .adam(lr, betas, eps, weightDecay, decoupled):
            step += 1
            OptimizerReference.adamStep(parameter: &parameter, gradient: g, expAvg: &expAvg, expAvgSq: &expAvgSq,
                                        step: step, learningRate: Double(lr), beta1: Double(betas.0), beta2: Double(betas.1),
                                        eps: Double(eps), weightDecay: Double(weightDecay), decoupled: decoupled)
        }
    }
}

final class OptimizerTests: XCTestCase {
    // MARK: Against the Float64 reference

    func testEveryOptimizerMatchesTheFloat64ReferenceOverRandomConfigurations() throws {
        var rng = TestRNG(seed: 2024)
        for trial in 0..<40 {
            let kind = OptimizerKind.random(&rng)
            var shapes = (0..<rng.int(1...3)).map { _ in (0..<rng.int(1...3)).map { _ in rng.int(1...9) } }
            // Large enough to be split across both cores, at a boundary that is not a multiple of 8.
            if trial % 8 == 0 { shapes.append([40_003]) }
            let initial = shapes.enumerated().map { randomValues($1.reduce(1, *), seed: UInt64(trial * 10 + $0)) }
            let parameters = try zip(initial, shapes).map { try Tensor($0, shape: $1, requiresGrad: true) }
            var reference = initial.map(ReferenceState.init)
            let optimizer = try kind.make(parameters)
            for step in 0..<5 {
                for (index, parameter) in parameters.enumerated() {
                    // Now and then a parameter has no gradient: it must be skipped.
                    if rng.int(0...5) == 0 { parameter.grad = nil; continue }
                    let gradient = randomValues(parameter.count, seed: UInt64(1000 * trial + 10 * step + index))
                    parameter.grad = try Tensor(gradient, shape: parameter.shape)
                    reference[index].update(kind, gradient: gradient)
                }
                try optimizer.step()
            }
            for (index, parameter) in parameters.enumerated() {
                let context = "trial \(trial) \(kind) parameter \(index) \(parameter.shape)"
                assertClose(try parameter.toArray(), reference[index].parameter, tolerance: 1e-5, context)
                if let sgd = optimizer as? SGD, let buffer = reference[index].momentumBuffer {
                    assertClose(try XCTUnwrap(sgd.momentumBuffers[index], context).toArray(), buffer, tolerance: 1e-5, context)
                } else if let sgd = optimizer as? SGD {
                    XCTAssertNil(sgd.momentumBuffers[index], context)
                }
                if let adam = optimizer as? Adam {
                    XCTAssertEqual(adam.steps[index], reference[index].step, context)
                    if reference[index].step > 0 {
                        assertClose(try XCTUnwrap(adam.expAvg[index], context).toArray(), reference[index].expAvg, tolerance: 1e-5, context)
                        assertClose(try XCTUnwrap(adam.expAvgSq[index], context).toArray(), reference[index].expAvgSq, tolerance: 1e-5, context)
                    } else {
                        XCTAssertNil(adam.expAvg[index], context)
                    }
                }
            }
        }
    }

    func testHandWorkedFirstSteps() throws {
        // SGD, momentum 0.9: the first step uses the gradient itself as the buffer.
        let p = try Tensor([1, -2], requiresGrad: true)
        let sgd = try SGD(parameters: [p], learningRate: 0.5, momentum: 0.9)
        p.grad = try Tensor([0.5, 1])
        try sgd.step()
        XCTAssertEqual(try p.toArray(), [0.75, -2.5])
        try sgd.step()  // buffer = 0.9·g + g = 1.9·g
        XCTAssertEqual(try p.toArray(), [0.75 - 0.5 * 0.95, -2.5 - 0.5 * 1.9], accuracy: 1e-6)
        // Adam's first step moves every element by lr·g/(|g| + eps') ≈ lr·sign(g).
        let q = try Tensor([1, -2, 0], requiresGrad: true)
        let adam = try Adam(parameters: [q], learningRate: 0.1)
        q.grad = try Tensor([3, -0.001, 0])
        try adam.step()
        XCTAssertEqual(try q.toArray(), [0.9, -1.9, 0], accuracy: 1e-5)
        // AdamW decays the parameter even where the gradient is 0.
        let r = try Tensor([2], requiresGrad: true)
        let adamw = try AdamW(parameters: [r], learningRate: 0.1, weightDecay: 0.5)
        r.grad = try Tensor([0])
        try adamw.step()
        XCTAssertEqual(try r.item(), 2 * (1 - 0.05), accuracy: 1e-6)
    }

    // MARK: Identity, skipping, zeroing

    func testUpdatesInPlaceSkipsMissingGradientsAndZeroes() throws {
        let net = try OptimizerTestNet(seed: 1)
        let storages = net.parameters().map { ObjectIdentifier($0.storage) }
        let optimizer = try Adam(parameters: net.parameters(), learningRate: 0.01)
        XCTAssert(optimizer.parameters.elementsAreIdentical(to: net.parameters()))
        let x = try Tensor(randomValues(8 * 4, seed: 9), shape: [8, 4])
        let target = try Tensor(indices: [0, 1, 2, 0, 1, 2, 0, 1])
        try crossEntropy(net(x), target).backward()
        net.bias2.grad = nil
        let frozen = try net.bias2.toArray(), before = try net.weight1.toArray()
        try optimizer.step()
        XCTAssertEqual(net.parameters().map { ObjectIdentifier($0.storage) }, storages)
        XCTAssertEqual(try net.bias2.toArray(), frozen)
        XCTAssertNotEqual(try net.weight1.toArray(), before)
        XCTAssertEqual(optimizer.steps, [1, 1, 1, 0])
        XCTAssertNil(optimizer.expAvg[3])
        XCTAssertFalse(optimizer.stateDict().contains { $0.0.hasPrefix("state.3.") })
        optimizer.zeroGrad()
        XCTAssert(net.parameters().allSatisfy { $0.grad == nil })
    }

    func testTrainingLowersTheLossWithEveryOptimizer() throws {
        let x = try Tensor(randomValues(16 * 4, seed: 5), shape: [16, 4])
        // A learnable rule: the class counts the positive features among the first two.
        let features = try x.toArray()
        let target = try Tensor(indices: (0..<16).map { Int32((features[4 * $0] > 0 ? 1 : 0) + (features[4 * $0 + 1] > 0 ? 1 : 0)) })
        let makers: [(String, ([Tensor]) throws -> Optimizer)] = [
            ("SGD", { try SGD(parameters: $0, learningRate: 0.2, momentum: 0.9, nesterov: true) }),
            ("Adam", { try Adam(parameters: $0, learningRate: 0.02) }),
            ("AdamW", { try AdamW(parameters: $0, learningRate: 0.02) }),
        ]
        for (name, make) in makers {
            let net = try OptimizerTestNet(seed: 3)
            let optimizer = try make(net.parameters())
            let initial = try crossEntropy(net(x), target).item()
            for _ in 0..<30 {
                optimizer.zeroGrad()
                try crossEntropy(net(x), target).backward()
                try optimizer.step()
            }
            let final = try crossEntropy(net(x), target).item()
            XCTAssertLessThan(final, initial * 0.7, name)
        }
    }

    // MARK: Invalid arguments

    func testInvalidArgumentsGiveClearErrors() throws {
        let p = try Tensor([1, 2], requiresGrad: true)
        assertThrowsConvKitError(try SGD(parameters: [p], learningRate: -0.1), "SGD", "learning rate", "-0.1")
        assertThrowsConvKitError(try SGD(parameters: [p], learningRate: .nan), "SGD", "learning rate")
        assertThrowsConvKitError(try SGD(parameters: [p], learningRate: 0.1, momentum: -0.5), "SGD", "momentum", "-0.5")
        assertThrowsConvKitError(try SGD(parameters: [p], learningRate: 0.1, weightDecay: -1), "SGD", "weight decay")
        assertThrowsConvKitError(try SGD(parameters: [p], learningRate: 0.1, dampening: .infinity), "SGD", "dampening")
        assertThrowsConvKitError(try SGD(parameters: [p], learningRate: 0.1, nesterov: true), "SGD", "Nesterov", "momentum")
        assertThrowsConvKitError(try SGD(parameters: [p], learningRate: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true),
                                 "Nesterov", "zero dampening")
        assertThrowsConvKitError(try SGD(parameters: [], learningRate: 0.1), "SGD", "empty parameter list")
        assertThrowsConvKitError(try SGD(parameters: [p, p], learningRate: 0.1), "SGD", "parameter 1", "more than once")
        let computed = try p * 2
        assertThrowsConvKitError(try SGD(parameters: [computed], learningRate: 0.1), "SGD", "not a leaf")
        assertThrowsConvKitError(try SGD(parameters: [Tensor(indices: [1])], learningRate: 0.1), "SGD", "int32")
        assertThrowsConvKitError(try Adam(parameters: [p], learningRate: -1), "Adam", "learning rate")
        assertThrowsConvKitError(try Adam(parameters: [p], betas: (1.0, 0.999)), "Adam", "beta parameter at index 0", "[0, 1)")
        assertThrowsConvKitError(try Adam(parameters: [p], betas: (0.9, -0.1)), "Adam", "beta parameter at index 1")
        assertThrowsConvKitError(try Adam(parameters: [p], eps: -1e-8), "Adam", "epsilon")
        assertThrowsConvKitError(try Adam(parameters: [p], weightDecay: -0.1), "Adam", "weight decay")
        assertThrowsConvKitError(try AdamW(parameters: [p], betas: (0.9, 1)), "AdamW", "beta parameter at index 1")
        assertThrowsConvKitError(try AdamW(parameters: [p], learningRate: .infinity), "AdamW", "learning rate")
    }

    func testStepChecksEveryGradientBeforeUpdatingAny() throws {
        let a = try Tensor([1, 2], requiresGrad: true), b = try Tensor([3, 4, 5], requiresGrad: true)
        for optimizer in [try SGD(parameters: [a, b], learningRate: 0.1, momentum: 0.5) as Optimizer,
                          try Adam(parameters: [a, b]), try AdamW(parameters: [a, b])] {
            a.grad = try Tensor([1, 1])
            b.grad = try Tensor([1, 1], shape: [2])
            assertThrowsConvKitError(try optimizer.step(), "step", "parameter 1", "[2]", "[3]")
            b.grad = try Tensor(indices: [1, 1, 1])
            assertThrowsConvKitError(try optimizer.step(), "step", "parameter 1", "int32")
            XCTAssertEqual(try a.toArray(), [1, 2])
            b.grad = nil
            optimizer.learningRate = -1
            assertThrowsConvKitError(try optimizer.step(), "step", "learning rate", "-1")
            XCTAssertEqual(try a.toArray(), [1, 2])
        }
    }

    // MARK: State dicts

    private func runSteps(_ optimizer: Optimizer, _ parameters: [Tensor], steps: Range<Int>, seed: UInt64) throws {
        for step in steps {
            for (index, parameter) in parameters.enumerated() {
                parameter.grad = (step + index) % 4 == 3 ? nil
                    : try Tensor(randomValues(parameter.count, seed: seed + UInt64(100 * step + index)), shape: parameter.shape)
            }
            try optimizer.step()
        }
    }

    func testResumingFromAStateDictGivesTheUninterruptedTrajectoryBitForBit() throws {
        let makers: [(String, ([Tensor]) throws -> Optimizer)] = [
            ("SGD momentum", { try SGD(parameters: $0, learningRate: 0.1, momentum: 0.9, dampening: 0.2, weightDecay: 0.01) }),
            ("SGD nesterov", { try SGD(parameters: $0, learningRate: 0.1, momentum: 0.9, nesterov: true) }),
            ("Adam", { try Adam(parameters: $0, learningRate: 0.01, weightDecay: 0.1) }),
            ("AdamW", { try AdamW(parameters: $0, learningRate: 0.01, betas: (0.3, 0.9)) }),
        ]
        for (name, make) in makers {
            let full = try OptimizerTestNet(seed: 7)
            let fullOptimizer = try make(full.parameters())
            try runSteps(fullOptimizer, full.parameters(), steps: 0..<8, seed: 77)

            let first = try OptimizerTestNet(seed: 7)
            let firstOptimizer = try make(first.parameters())
            try runSteps(firstOptimizer, first.parameters(), steps: 0..<3, seed: 77)
            let state = Dictionary(uniqueKeysWithValues: firstOptimizer.stateDict())

            let resumed = try OptimizerTestNet(seed: 99)
            try resumed.loadStateDict(Dictionary(uniqueKeysWithValues: first.stateDict()))
            // Different hyperparameters at creation: the state dict's win (as in PyTorch).
            let resumedOptimizer = name.hasPrefix("SGD")
                ? try SGD(parameters: resumed.parameters(), learningRate: 5) as Optimizer
                : try make(resumed.parameters())
            try resumedOptimizer.loadStateDict(state)
            // The loaded state is a copy: changing the source afterwards changes nothing.
            try runSteps(firstOptimizer, first.parameters(), steps: 3..<4, seed: 1)
            try runSteps(resumedOptimizer, resumed.parameters(), steps: 3..<8, seed: 77)
            for ((parameterName, expected), actual) in zip(full.namedParameters(), resumed.parameters()) {
                XCTAssertEqual(try actual.toArray().map(\.bitPattern), try expected.toArray().map(\.bitPattern), "\(name) \(parameterName)")
            }
            XCTAssertEqual(resumedOptimizer.learningRate, fullOptimizer.learningRate, name)
        }
    }

    func testStateDictNamesFollowPyTorch() throws {
        let a = try Tensor([1, 2], requiresGrad: true), b = try Tensor([3], requiresGrad: true)
        let sgd = try SGD(parameters: [a, b], learningRate: 0.1, momentum: 0.9)
        a.grad = try Tensor([1, 1])
        try sgd.step()
        XCTAssertEqual(sgd.stateDict().map { $0.0 }, [
            "param_groups.0.lr", "param_groups.0.momentum", "param_groups.0.dampening", "param_groups.0.weight_decay",
            "param_groups.0.nesterov", "param_groups.0.parameter_count", "state.0.momentum_buffer",
        ])
        let adam = try Adam(parameters: [a, b])
        b.grad = try Tensor([1])
        try adam.step()
        try adam.step()
        let state = Dictionary(uniqueKeysWithValues: adam.stateDict())
        XCTAssertEqual(try state["state.0.step"]?.toIntArray(), [2])
        XCTAssertEqual(state["state.1.exp_avg"]?.shape, [1])
        XCTAssertEqual(state["state.1.exp_avg_sq"]?.shape, [1])
        XCTAssertEqual(try state["param_groups.0.beta2"]?.item(), 0.999)
        XCTAssertEqual(try state["param_groups.0.decoupled_weight_decay"]?.item(), 0)
    }

    func testLoadStateDictRejectsMismatchesAndChangesNothing() throws {
        let a = try Tensor([1, 2], requiresGrad: true), b = try Tensor([3], requiresGrad: true)
        let adam = try Adam(parameters: [a, b], learningRate: 0.01)
        a.grad = try Tensor([1, 1]); b.grad = try Tensor([1])
        try adam.step()
        let good = Dictionary(uniqueKeysWithValues: adam.stateDict())

        let other = try Adam(parameters: [try Tensor([0, 0], requiresGrad: true), try Tensor([0], requiresGrad: true)], learningRate: 0.5)
        func rejects(_ state: [String: Tensor], _ fragments: String...) {
            do {
                try other.loadStateDict(state)
                XCTFail("expected an error containing \(fragments)")
            } catch let error as ConvKitError {
                for fragment in fragments { XCTAssert(error.description.contains(fragment), "\(error) lacks \(fragment)") }
            } catch { XCTFail("\(error)") }
            XCTAssertEqual(other.learningRate, 0.5)
            XCTAssertEqual(other.steps, [0, 0])
        }
        var state = good
        state["state.0.exp_avg"] = try Tensor([1, 2, 3])
        rejects(state, "Adam.loadStateDict", "state.0.exp_avg", "[3]", "[2]")
        state = good
        state["state.1.exp_avg_sq"] = nil
        rejects(state, "parameter 1", "state.1.exp_avg_sq")
        state = good
        state["state.2.exp_avg"] = try Tensor([1])
        rejects(state, "unexpected keys", "state.2.exp_avg")
        state = good
        state["param_groups.0.parameter_count"] = hostScalar(int: 3)
        rejects(state, "3 parameters", "has 2")
        state = good
        state["param_groups.0.lr"] = nil
        rejects(state, "no param_groups.0.lr")
        state = good
        state["param_groups.0.beta1"] = hostScalar(1.5)
        rejects(state, "beta parameter at index 0")
        state = good
        state["state.0.step"] = hostScalar(int: 0)
        rejects(state, "state.0.step", "at least 1")
        state = good
        state["state.0.step"] = hostScalar(3)
        rejects(state, "state.0.step", "int32")
        rejects(Dictionary(uniqueKeysWithValues: try SGD(parameters: [a, b], learningRate: 0.1).stateDict()), "unexpected keys", "nesterov")

        let adamw = try AdamW(parameters: [try Tensor([0, 0], requiresGrad: true), try Tensor([0], requiresGrad: true)])
        assertThrowsConvKitError(try adamw.loadStateDict(good), "AdamW.loadStateDict", "for Adam but this optimizer is AdamW")
        let sgd = try SGD(parameters: [try Tensor([0, 0], requiresGrad: true), try Tensor([0], requiresGrad: true)], learningRate: 0.1)
        assertThrowsConvKitError(try sgd.loadStateDict(good), "SGD.loadStateDict", "unexpected keys", "beta1")
        var sgdState = Dictionary(uniqueKeysWithValues: sgd.stateDict())
        sgdState["param_groups.0.nesterov"] = hostScalar(1)
        assertThrowsConvKitError(try sgd.loadStateDict(sgdState), "SGD.loadStateDict", "Nesterov")
        sgdState["param_groups.0.nesterov"] = hostScalar(0.5)
        assertThrowsConvKitError(try sgd.loadStateDict(sgdState), "nesterov must be 0 or 1")
    }
}

private extension Array where Element == Tensor {
    func elementsAreIdentical(to other: [Tensor]) -> Bool {
        count == other.count && zip(self, other).allSatisfy { $0 === $1 }
    }
}

private func XCTAssertEqual(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, "\(a) vs \(b)", file: file, line: line) }
}
