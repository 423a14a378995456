import Foundation
import XCTest
@testable import ConvKit

/// Two runs with the same seed, device and settings give bitwise the same parameters: the
/// kernels are gathers and fixed-order reductions, the data order, augmentation and dropout come
/// from counter-based Philox streams, and the data loader's prefetch thread changes no result.
final class DeterminismTests: XCTestCase {
    func testTwoRunsWithTheSameSeedGiveIdenticalParameters() throws {
        let train = try TrainingTestData.mnist(.train, limit: 320), test = try TrainingTestData.mnist(.test, limit: 64)
        for model in ["lenet5", "alexnet"] {
            var c = TrainingConfiguration()
            c.model = model; c.epochs = 1; c.batchSize = 32; c.seed = 11; c.cropPadding = 2
            c.limitTrain = 320; c.limitTest = 64
            let first = try Trainer(configuration: c, train: train, test: test)
            try first.run()
            let second = try Trainer(configuration: c, train: train, test: test)
            try second.run()
            let a = first.model.namedParameters(), b = second.model.namedParameters()
            XCTAssertEqual(a.map(\.0), b.map(\.0))
            for ((name, x), (_, y)) in zip(a, b) {
                XCTAssertEqual(try x.toArray().map(\.bitPattern), try y.toArray().map(\.bitPattern), "\(model): \(name) differs between two runs")
            }
            XCTAssertEqual(first.history.map(\.trainLoss), second.history.map(\.trainLoss))
        }
    }
}
