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

    /// Kills aimed at the writes themselves: the test watches the run directory and sends SIGKILL
    /// the moment a temporary file appears (a checkpoint, the metrics, the plots being written).
    /// Every time the last checkpoint still loads and never goes back, the temporary file the
    /// kill left is hidden and is removed by the next run, and the final resume completes.
    func testKillsDuringFileWritesNeverTearACheckpoint() throws {
        guard let executable = CLITests.executable else {
            return XCTFail("the convkit executable was not found next to the test bundle; build it with swift build")
        }
        let directory = try makeTrainingTemporaryDirectory("kill-write")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = directory.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let last = run.appendingPathComponent(Trainer.RunFile.lastCheckpoint)
        let epochs = 12
        func train() throws -> Process {
            let process = Process()
            process.executableURL = executable
            // Two steps an epoch: the run is mostly its per-epoch writes.
            var arguments = ["train", "--limit-train", "64", "--limit-test", "32", "--batch-size", "32",
                             "--epochs", "\(epochs)", "--device", "cpu", "--out", run.path]
            if FileManager.default.fileExists(atPath: last.path) { arguments += ["--resume", last.path] }
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            environment["CONVKIT_MNIST_DIR"] = dataTestMNISTDirectory.path
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        func temporaries() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: run.path)) ?? []).filter { $0.contains(".tmp-") }
        }

        var killsDuringWrites = 0, lastEpoch = 0, attempts = 0
        var leftBehind = Set<String>()
        while killsDuringWrites < 8 && attempts < 30 {
            attempts += 1
            let process = try train()
            // Kill at the n-th write seen (n from 1 to 6), so the kills land in different files and epochs.
            let target = 1 + attempts % 6
            var seenWrites = Set<String>(), caught: [String] = []
            while process.isRunning {
                caught = temporaries().filter { !leftBehind.contains($0) }
                seenWrites.formUnion(caught)
                if seenWrites.count >= target && !caught.isEmpty { break }
            }
            guard process.isRunning else {
                process.waitUntilExit()
                if (try? Checkpoint.load(from: last))?.epoch == epochs { break }  // finished before a kill landed
                continue
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if Set(temporaries()).isSuperset(of: caught) { killsDuringWrites += 1 }  // died with the file open
            leftBehind.formUnion(temporaries())
            if FileManager.default.fileExists(atPath: last.path) {
                let checkpoint = try Checkpoint.load(from: last)  // throws on a torn or corrupt file
                XCTAssertGreaterThanOrEqual(checkpoint.epoch, lastEpoch, "the checkpoint went back in time")
                lastEpoch = checkpoint.epoch
            }
        }
        XCTAssertGreaterThanOrEqual(killsDuringWrites, 4, "too few kills landed during a write to mean anything")
        print("KillTests: \(killsDuringWrites) SIGKILLs during file writes in \(attempts) runs; the last checkpoint loaded after "
            + "each (epoch \(lastEpoch) before the final resume); \(leftBehind.count) temporary files left by the kills")

        let finish = try train()
        finish.waitUntilExit()
        XCTAssertEqual(finish.terminationStatus, 0, "resuming after the kills failed")
        XCTAssertEqual(try Checkpoint.load(from: last).epoch, epochs)
        XCTAssertEqual(temporaries(), [], "the temporary files of killed runs were not removed")
        let metrics = try String(contentsOf: run.appendingPathComponent(Trainer.RunFile.metrics), encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").count, epochs, metrics)
    }
}
