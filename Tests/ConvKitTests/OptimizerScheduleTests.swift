import XCTest
@testable import ConvKit

final class OptimizerScheduleTests: XCTestCase {
    private func makeOptimizer(lr: Float) throws -> SGD {
        try SGD(parameters: [Tensor([1], requiresGrad: true)], learningRate: lr)
    }

    /// Steps `schedule` `epochs` times and returns the optimizer's rate at epochs 0…epochs.
    private func rates(_ schedule: LearningRateSchedule, epochs: Int) -> [Float] {
        var rates = [schedule.optimizer.learningRate]
        for _ in 0..<epochs {
            schedule.step()
            rates.append(schedule.optimizer.learningRate)
            XCTAssertEqual(schedule.lastLearningRate, schedule.optimizer.learningRate)
        }
        return rates
    }

    func testStepLRMatchesPyTorchsRecursiveRule() throws {
        var rng = TestRNG(seed: 17)
        for _ in 0..<12 {
            let base: Float = [0.1, 0.05, 1, 3e-4][rng.int(0...3)]
            let stepSize = rng.int(1...6), gamma: Float = [0.1, 0.5, 0.9, 1, 0][rng.int(0...4)]
            let optimizer = try makeOptimizer(lr: base)
            let schedule = try StepLR(optimizer: optimizer, stepSize: stepSize, gamma: gamma)
            XCTAssertEqual(schedule.lastEpoch, 0)
            XCTAssertEqual(optimizer.learningRate, base)
            let reference = OptimizerReference.stepLR(base: Double(base), stepSize: stepSize, gamma: Double(gamma), epochs: 30)
            assertClose(rates(schedule, epochs: 30), reference, tolerance: 1e-6, "stepSize \(stepSize) gamma \(gamma)")
            XCTAssertEqual(schedule.lastEpoch, 30)
        }
    }

    func testCosineAnnealingMatchesPyTorchsRecursiveRuleBeyondTMax() throws {
        var rng = TestRNG(seed: 18)
        for _ in 0..<12 {
            let base: Float = [0.1, 0.05, 1][rng.int(0...2)]
            let tMax = rng.int(1...10), etaMin: Float = [0, 1e-3, 0.01][rng.int(0...2)]
            let optimizer = try makeOptimizer(lr: base)
            let schedule = try CosineAnnealingLR(optimizer: optimizer, tMax: tMax, etaMin: etaMin)
            let reference = OptimizerReference.cosineAnnealing(base: Double(base), tMax: tMax, etaMin: Double(etaMin), epochs: 3 * tMax + 2)
            let ours = rates(schedule, epochs: 3 * tMax + 2)
            // Compared element by element: the rates pass through etaMin, where a norm would hide errors.
            for (epoch, (rate, expected)) in zip(ours, reference).enumerated() {
                XCTAssertEqual(Double(rate), expected, accuracy: 1e-6 * Double(base), "tMax \(tMax) etaMin \(etaMin) epoch \(epoch)")
            }
            XCTAssertEqual(Double(ours[tMax]), Double(etaMin), accuracy: 1e-7)
        }
    }

    func testStateDictRoundTripContinuesExactly() throws {
        let makers: [(Optimizer) throws -> LearningRateSchedule] = [
            { try StepLR(optimizer: $0, stepSize: 3, gamma: 0.3) },
            { try CosineAnnealingLR(optimizer: $0, tMax: 7, etaMin: 0.002) },
        ]
        for make in makers {
            let full = try make(makeOptimizer(lr: 0.1))
            let expected = rates(full, epochs: 12)
            let first = try make(makeOptimizer(lr: 0.1))
            _ = rates(first, epochs: 5)
            let optimizer = try makeOptimizer(lr: 0.7)
            let resumed = try make(optimizer)
            try resumed.loadStateDict(first.stateDict())
            XCTAssertEqual(resumed.lastEpoch, 5)
            XCTAssertEqual(resumed.baseLearningRate, 0.1)
            XCTAssertEqual(optimizer.learningRate, 0.7, "the optimizer's rate comes from the optimizer's own state")
            optimizer.learningRate = resumed.lastLearningRate
            XCTAssertEqual(Array(rates(resumed, epochs: 7)), Array(expected[5...]))
        }
    }

    func testInvalidArgumentsAndStatesGiveClearErrors() throws {
        let optimizer = try makeOptimizer(lr: 0.1)
        assertThrowsConvKitError(try StepLR(optimizer: optimizer, stepSize: 0), "StepLR", "stepSize", "0")
        assertThrowsConvKitError(try StepLR(optimizer: optimizer, stepSize: 2, gamma: -0.5), "StepLR", "gamma", "-0.5")
        assertThrowsConvKitError(try StepLR(optimizer: optimizer, stepSize: 2, gamma: .nan), "StepLR", "gamma")
        assertThrowsConvKitError(try CosineAnnealingLR(optimizer: optimizer, tMax: 0), "CosineAnnealingLR", "tMax")
        assertThrowsConvKitError(try CosineAnnealingLR(optimizer: optimizer, tMax: 5, etaMin: -1), "CosineAnnealingLR", "etaMin")
        XCTAssertEqual(optimizer.learningRate, 0.1)

        let step = try StepLR(optimizer: optimizer, stepSize: 2)
        var state = step.stateDict()
        state["last_epoch"] = 2.5
        assertThrowsConvKitError(try step.loadStateDict(state), "StepLR.loadStateDict", "last_epoch", "integer")
        state = step.stateDict()
        state["T_max"] = 4
        assertThrowsConvKitError(try step.loadStateDict(state), "unexpected entries", "T_max")
        state = step.stateDict()
        state["gamma"] = nil
        assertThrowsConvKitError(try step.loadStateDict(state), "no gamma")
        state = step.stateDict()
        state["step_size"] = 0
        assertThrowsConvKitError(try step.loadStateDict(state), "step_size")
        let cosine = try CosineAnnealingLR(optimizer: optimizer, tMax: 3)
        assertThrowsConvKitError(try cosine.loadStateDict(step.stateDict()), "CosineAnnealingLR.loadStateDict", "unexpected entries")
        var cosineState = cosine.stateDict()
        cosineState["base_lr"] = 0.1  // not a float32 value
        assertThrowsConvKitError(try cosine.loadStateDict(cosineState), "base_lr", "float32")
        XCTAssertEqual(step.lastEpoch, 0)
        XCTAssertEqual(cosine.lastEpoch, 0)
    }
}
