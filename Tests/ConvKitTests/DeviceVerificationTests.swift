import ConvKit
import Foundation
import XCTest

/// The GPU verification's checks, run here with the CPU standing in for the GPU: every check's
/// body must run on the CPU (valid shapes and arguments for every op), be deterministic (two runs
/// with the same seed agree exactly), and the comparison and table must report it.
final class DeviceVerificationTests: XCTestCase {
    func testEveryCheckRunsAndIsDeterministicOnTheCPU() {
        let checks = DeviceVerification.allChecks(seed: 1)
        XCTAssertGreaterThan(checks.count, 4)
        let results = DeviceVerification.runAll(checks, on: .cpu, seed: 1)
        for result in results {
            XCTAssertNil(result.failure, "\(result.op) [\(result.label)]")
            XCTAssertEqual(result.worstError, 0, "\(result.op) [\(result.label)] is not deterministic on the CPU")
        }
        let table = DeviceVerification.table(results)
        XCTAssertTrue(table.contains("\(results.count) passed, 0 failed"), table)
    }

    func testComparisonCatchesMismatches() throws {
        let a = try Tensor([1, 2, 3, .nan]), b = try Tensor([1, 2, 3.5, .nan])
        XCTAssertEqual(try DeviceVerification.compare(a, a), 0)
        XCTAssertGreaterThan(try DeviceVerification.compare(a, b), 0.1)
        XCTAssertThrowsError(try DeviceVerification.compare(a, try Tensor([1, 2, 3, 4])))
        XCTAssertThrowsError(try DeviceVerification.compare(a, try Tensor([1, 2, 3])))
        XCTAssertThrowsError(try DeviceVerification.compare(try Tensor(indices: [1, 2]), try Tensor(indices: [1, 3])))
    }

    func testAFailingCheckIsReported() {
        var calls = 0
        let check = DeviceCheck(op: "planted", label: "differs on the second run") { _ in
            calls += 1
            return [try Tensor([Float(calls)])]
        }
        let result = DeviceVerification.run(check, on: .cpu, seed: 3)
        XCTAssertNotNil(result.failure)
        XCTAssertTrue(DeviceVerification.table([result]).contains("FAIL planted"))
    }
}
