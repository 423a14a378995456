import Foundation
import XCTest
@testable import ConvKit

/// Numeric faults: anomaly detection names the op whose output or gradient first holds a NaN or
/// an infinity, and training stops (keeping earlier checkpoints) when its loss stops being finite.
final class AnomalyTests: XCTestCase {
    func testAnomalyDetectionNamesTheForwardOp() throws {
        let x = try Tensor([1, -1, 4], requiresGrad: true)
        XCTAssertNoThrow(try x.log())  // off by default: NaN flows on, as in PyTorch
        XCTAssertThrowsError(try Autograd.withAnomalyDetection { try (x * 2).log() }) { error in
            XCTAssertEqual("\(error)", "autograd: anomaly: the output of log holds nan at element 1 (shape [3])")
        }
        XCTAssertFalse(Autograd.isDetectingAnomalies)
    }

    func testAnomalyDetectionNamesTheBackwardOp() throws {
        let x = try Tensor([0, 4], requiresGrad: true)
        let y = try Autograd.withAnomalyDetection { try x.sqrt().sum() }
        XCTAssertThrowsError(try Autograd.withAnomalyDetection { try y.backward() }) { error in
            XCTAssertTrue("\(error)".contains("the gradient that sqrt's backward computed for its input 0 holds inf at element 0"), "\(error)")
        }
        // Without detection the same backward runs and leaves the infinity in the gradient.
        let z = try Tensor([0, 4], requiresGrad: true)
        try z.sqrt().sum().backward()
        XCTAssertEqual(try z.grad!.toArray()[0], .infinity)
    }

    func testAFiniteComputationPassesUnderDetection() throws {
        let w = try Tensor.normal([4, 3, 3, 3], std: 0.1, requiresGrad: true)
        let x = try Tensor.normal([2, 3, 8, 8])
        try Autograd.withAnomalyDetection {
            let loss = try crossEntropy(try conv2d(x, w, padding: 1).flatten(startDim: 1), try Tensor(indices: [1, 7]))
            try loss.backward()
        }
        XCTAssertNotNil(w.grad)
    }

    func testTrainingStopsWhenTheLossIsNoLongerFinite() throws {
        var c = TrainingConfiguration()
        c.model = "lenet5"; c.epochs = 1; c.batchSize = 64; c.optimizer = "sgd"; c.learningRate = 1e30
        c.limitTrain = 640; c.limitTest = 64; c.cropPadding = 0
        let trainer = try Trainer(configuration: c, train: try TrainingTestData.mnist(.train, limit: 640),
                                  test: try TrainingTestData.mnist(.test, limit: 64))
        XCTAssertThrowsError(try trainer.run()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("train: the training loss became"), text)
            XCTAssertTrue(text.contains("in epoch 1 by step") && text.contains("--detect-anomaly"), text)
        }
        XCTAssertEqual(trainer.completedEpochs, 0)
    }
}
