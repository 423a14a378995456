import XCTest
@testable import ConvKit

/// Replays the PyTorch trajectories of `scripts/make_optimizer_fixtures.py` (optim.safetensors):
/// the same initial parameters and gradient sequences (with missing gradients) through our
/// optimizers and schedules, compared after every step.
final class OptimizerFixtureTests: XCTestCase {
    private static let steps = 6
    private static let parameterCount = 3

    private var fixture: [String: Tensor]!

    override func setUpWithError() throws {
        fixture = try SafeTensors.read(from: fixturesDirectory.appendingPathComponent("optim.safetensors"))
    }

    private func tensor(_ name: String) throws -> Tensor { try XCTUnwrap(fixture[name], "fixture has no \(name)") }

    /// Runs `make`'s optimizer over the fixture's gradients and compares each step with `name`'s
    /// PyTorch parameters; also runs the Float64 reference when given and compares it too.
    private func replay(_ name: String, tolerance: Double = 1e-6, schedule: ((Optimizer) throws -> LearningRateSchedule)? = nil,
                        _ make: ([Tensor]) throws -> Optimizer) throws {
        let parameters = try (0..<Self.parameterCount).map { index -> Tensor in
            let initial = try tensor("init.\(index)")
            return try Tensor(initial.toArray(), shape: initial.shape, requiresGrad: true)
        }
        let optimizer = try make(parameters)
        let scheduler = try schedule?(optimizer)
        for step in 0..<Self.steps {
            for (index, parameter) in parameters.enumerated() {
                parameter.grad = fixture["grad.\(step).\(index)"]
            }
            try optimizer.step()
            scheduler?.step()
            for (index, parameter) in parameters.enumerated() {
                let expected = try tensor("\(name).\(step).\(index)").toArray().map(Double.init)
                assertClose(try parameter.toArray(), expected, tolerance: tolerance, "\(name) step \(step) parameter \(index)")
            }
        }
    }

    func testFixtureHasTheMissingGradients() throws {
        XCTAssertNil(fixture["grad.0.2"])
        XCTAssertNil(fixture["grad.3.2"])
        XCTAssertNotNil(fixture["grad.1.2"])
        // Parameter 2 did not move at step 0 in PyTorch either.
        XCTAssertEqual(try tensor("adam.0.2").toArray(), try tensor("init.2").toArray())
    }

    func testSGDMatchesPyTorch() throws {
        try replay("sgd") { try SGD(parameters: $0, learningRate: 0.1) }
        try replay("sgd_momentum") { try SGD(parameters: $0, learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01) }
        try replay("sgd_nesterov") { try SGD(parameters: $0, learningRate: 0.05, momentum: 0.8, weightDecay: 0.001, nesterov: true) }
    }

    func testAdamMatchesPyTorch() throws {
        try replay("adam") { try Adam(parameters: $0, learningRate: 0.01) }
        try replay("adam_l2") { try Adam(parameters: $0, learningRate: 0.02, betas: (0.8, 0.99), eps: 1e-6, weightDecay: 0.1) }
        try replay("adam_big_eps") { try Adam(parameters: $0, learningRate: 0.05, betas: (0.9, 0.99), eps: 0.1) }
    }

    func testAdamWMatchesPyTorch() throws {
        try replay("adamw") { try AdamW(parameters: $0, learningRate: 0.01) }
        try replay("adamw_low_beta") { try AdamW(parameters: $0, learningRate: 0.03, betas: (0.3, 0.9), eps: 1e-5, weightDecay: 0.5) }
    }

    func testSGDUnderStepLRMatchesPyTorch() throws {
        try replay("sgd_steplr", schedule: { try StepLR(optimizer: $0, stepSize: 2, gamma: 0.5) }) {
            try SGD(parameters: $0, learningRate: 0.1, momentum: 0.9)
        }
    }

    func testSchedulesMatchPyTorch() throws {
        let cases: [(String, (Optimizer) throws -> LearningRateSchedule)] = [
            ("steplr", { try StepLR(optimizer: $0, stepSize: 3, gamma: 0.5) }),
            ("cosine", { try CosineAnnealingLR(optimizer: $0, tMax: 5, etaMin: 0.001) }),
        ]
        for (name, make) in cases {
            let expected = try tensor("\(name).lr").toArray()
            XCTAssertEqual(expected.count, 13, name)
            let optimizer = try SGD(parameters: [Tensor([0], requiresGrad: true)], learningRate: 0.1)
            let schedule = try make(optimizer)
            var ours = [optimizer.learningRate]
            for _ in 1..<expected.count {
                schedule.step()
                ours.append(optimizer.learningRate)
            }
            for (epoch, (rate, reference)) in zip(ours, expected).enumerated() {
                XCTAssertEqual(rate, reference, accuracy: 1e-7 * 0.1, "\(name) epoch \(epoch)")
            }
        }
    }

    func testFloat64ReferenceMatchesPyTorch() throws {
        // The oracle itself follows PyTorch: replay Adam (L2) and Nesterov SGD in Float64.
        for name in ["adam_l2", "sgd_nesterov"] {
            var parameters = try (0..<Self.parameterCount).map { try tensor("init.\($0)").toArray().map(Double.init) }
            var buffers = [[Double]?](repeating: nil, count: Self.parameterCount)
            var first = parameters.map { [Double](repeating: 0, count: $0.count) }, second = first
            var steps = [Int](repeating: 0, count: Self.parameterCount)
            for step in 0..<Self.steps {
                for index in 0..<Self.parameterCount {
                    guard let gradient = try fixture["grad.\(step).\(index)"]?.toArray().map(Double.init) else { continue }
                    if name == "adam_l2" {
                        steps[index] += 1
                        OptimizerReference.adamStep(parameter: &parameters[index], gradient: gradient, expAvg: &first[index],
                                                    expAvgSq: &second[index], step: steps[index], learningRate: 0.02,
                                                    beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, decoupled: false)
                    } else {
                        OptimizerReference.sgdStep(parameter: &parameters[index], gradient: gradient, momentumBuffer: &buffers[index],
                                                   learningRate: 0.05, momentum: 0.8, dampening: 0, weightDecay: 0.001, nesterov: true)
                    }
                }
                for index in 0..<Self.parameterCount {
                    let pytorch = try tensor("\(name).\(step).\(index)").toArray()
                    assertClose(pytorch, parameters[index], tolerance: 1e-6, "\(name) step \(step) parameter \(index)")
                }
            }
        }
    }
}
