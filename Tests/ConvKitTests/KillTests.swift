import Foundation
import XCTest
@testable import ConvKit

/// `convkit train` killed with SIGKILL at random moments (checkpoint writes included) never loses
/// data: after every kill the last checkpoint loads, its epoch never goes backwards, and resuming
/// from it finishes the run.
final class KillTests: XCTestCase {
    func testTrainingKilledAtRandomMomentsAlwaysLeavesALoadableCheckpoint() throws {
        guard let executable = CLITests.executable else {
            XCTFail("the convkit executable was not found next to the test bundle; build it with swift build")
            return
        }
        let directory = try makeTrainingTemporaryDirectory("kill")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = directory.appendingPathComponent("run")
        let last = run.appendingPathComponent(Trainer.RunFile.lastCheckpoint)
        let epochs = 6
        func train() -> Process {
            let process = Process()
            process.executableURL = executable
            var arguments = ["train", "--limit-train", "320", "--limit-test", "64", "--batch-size", "32",
                             "--epochs", "\(epochs)", "--device", "cpu", "--out", run.path]
            if FileManager.default.fileExists(atPath: last.path) { arguments += ["--resume", last.path] }
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            environment["CONVKIT_MNIST_DIR"] = dataTestMNISTDirectory.path
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            return process
        }

        var generator = Philox(seed: 2026)
        var kills = 0, lastEpoch = 0
        for _ in 0..<10 {
            let process = train()
            try process.run()
            let delay = 0.05 + Double(generator.uniform(count: 1)[0]) * 1.5
            let deadline = Date().addingTimeInterval(delay)
            while process.isRunning && Date() < deadline { usleep(5_000) }
            guard process.isRunning else {
                process.waitUntilExit()
                break  // the run finished before this kill
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            kills += 1
            if FileManager.default.fileExists(atPath: last.path) {
                let checkpoint = try Checkpoint.load(from: last)  // throws on a torn or corrupt file
                XCTAssertGreaterThanOrEqual(checkpoint.epoch, lastEpoch, "the checkpoint went back in time")
                lastEpoch = checkpoint.epoch
            }
        }
        XCTAssertGreaterThan(kills, 3, "too few runs were killed to mean anything")
        print("KillTests: \(kills) SIGKILLs, the last checkpoint loaded after each (last epoch saved before the final resume: \(lastEpoch))")

        let finish = train()
        try finish.run()
        finish.waitUntilExit()
        XCTAssertEqual(finish.terminationStatus, 0, "resuming after \(kills) kills failed")
        let final = try Checkpoint.load(from: last)
        XCTAssertEqual(final.epoch, epochs)
        let metrics = try String(contentsOf: run.appendingPathComponent(Trainer.RunFile.metrics), encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").count, epochs, metrics)
    }
}
