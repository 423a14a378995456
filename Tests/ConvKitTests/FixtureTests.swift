import Foundation
import XCTest
import ConvKit

/// Replays the cases that `scripts/make_fixtures.py` recorded with PyTorch on the CPU: same
/// inputs, same upstream gradient; ConvKit's output and input gradients (and max-pool indices)
/// must match PyTorch's. The replay itself is `PyTorchFixtures`, which `convkit verify
/// --fixtures` runs on a GPU too.
final class FixtureTests: XCTestCase {
    /// Every case, grouped by file (and convolution algorithm), with the number of cases each
    /// fixture file holds, so a file that loses cases fails here.
    func testEveryFixtureCaseMatchesPyTorch() throws {
        let results = try PyTorchFixtures.replay(directory: fixturesDirectory, on: .cpu)
        for result in results {
            XCTAssertNil(result.failure, "\(result.op) \(result.label)")
        }
        var counts: [String: Int] = [:]
        for result in results { counts[result.op, default: 0] += 1 }
        let conv2dAlgorithms = ConvAlgorithm.allCases.filter(\.runsEveryGeometry)
        for algorithm in conv2dAlgorithms {
            XCTAssertEqual(counts["fixture:conv2d[\(algorithm.rawValue)]"], 11, "conv2d cases with \(algorithm)")
        }
        XCTAssertEqual(counts["fixture:conv_transpose2d"], 4)
        XCTAssertEqual(counts["fixture:pad_pool"], 26)
        XCTAssertEqual(counts["fixture:nn"], 40)
        XCTAssertEqual(results.count, 11 * conv2dAlgorithms.count + 4 + 26 + 40)
    }

    func testAMissingFixtureDirectoryIsAClearError() {
        XCTAssertThrowsError(try PyTorchFixtures.replay(directory: URL(fileURLWithPath: "/nonexistent-fixtures"), on: .cpu)) { error in
            XCTAssertTrue("\(error)".contains("conv2d.safetensors"), "\(error)")
        }
    }
}
