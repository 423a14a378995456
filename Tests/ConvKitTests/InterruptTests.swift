import Foundation
import XCTest
@testable import ConvKit

/// Stopping a run (`Trainer.requestStop()`, Ctrl-C or SIGTERM in `convkit train`) saves a
/// checkpoint at the step reached, and resuming from it computes what the uninterrupted run computes.
final class InterruptTests: XCTestCase {
    /// Asks its trainer to stop once `step` steps of epoch `epoch` are done.
    private final class StopAt: TrainingProgress {
        weak var trainer: Trainer?
        let epoch: Int, step: Int
        private var currentEpoch = 0
        init(epoch: Int, step: Int) { self.epoch = epoch; self.step = step }
        func epochStarted(epoch: Int, totalEpochs: Int, batches: Int, images: Int) { currentEpoch = epoch }
        func batchFinished(batch: Int, batches: Int, imagesSoFar: Int, meanLoss: Double, elapsed: Double) {
            if currentEpoch == epoch && batch == step { trainer?.requestStop() }
        }
        func evaluationStarted(epoch: Int) {}
        func epochFinished(_ metrics: EpochMetrics) {}
    }

    private func configuration() -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.epochs = 2
        c.batchSize = 32
        c.limitTrain = 320
        c.limitTest = 64
        c.seed = 3
        c.cropPadding = 2  // the random crops of the steps after the stop must be the same crops
        c.schedule = "step"
        return c
    }

    /// Stopped in the middle of epoch 2 and resumed by a new trainer: the parameters, optimizer
    /// state, step count and the epoch's metrics are bitwise those of an uninterrupted run.
    func testStoppedAndResumedRunMatchesTheUninterruptedRun() throws {
        let c = configuration()
        let train = try TrainingTestData.mnist(.train, limit: 320), test = try TrainingTestData.mnist(.test, limit: 64)
        let whole = try Trainer(configuration: c, train: train, test: test)
        try whole.run()

        let directory = try makeTrainingTemporaryDirectory("interrupt")
        defer { try? FileManager.default.removeItem(at: directory) }
        let stopper = StopAt(epoch: 2, step: 4)
        let first = try Trainer(configuration: c, train: train, test: test, runDirectory: directory)
        stopper.trainer = first
        first.progress = stopper
        XCTAssertThrowsError(try first.run()) { error in
            guard let stopped = error as? TrainingStopped else { return XCTFail("expected TrainingStopped, got \(error)") }
            XCTAssertEqual(stopped.epoch, 2)
            XCTAssertEqual(stopped.step, 4)
            XCTAssertEqual(stopped.stepsPerEpoch, 10)
            XCTAssertEqual(stopped.checkpoint?.lastPathComponent, Trainer.RunFile.lastCheckpoint)
            XCTAssertTrue(stopped.description.contains("--resume"), stopped.description)
        }
        XCTAssertEqual(first.completedEpochs, 1)
        XCTAssertEqual(first.globalStep, 14)

        RandomState.seed(999)  // the resumed run must not depend on the generator before resuming
        let checkpoint = try Checkpoint.load(from: directory.appendingPathComponent(Trainer.RunFile.lastCheckpoint))
        XCTAssertEqual(checkpoint.epoch, 1)
        XCTAssertEqual(checkpoint.globalStep, 14)
        XCTAssertNotNil(checkpoint.metadata[Trainer.partialEpochKey])
        let resumed = try Trainer(configuration: c, train: train, test: test, runDirectory: directory, resumeFrom: checkpoint)
        XCTAssertEqual(resumed.stepsDoneInCurrentEpoch, 4)
        let rest = try resumed.run()
        XCTAssertEqual(rest.map(\.epoch), [2])
        XCTAssertEqual(resumed.globalStep, whole.globalStep)
        for ((name, x), (_, y)) in zip(whole.model.stateDict(), resumed.model.stateDict()) {
            XCTAssertEqual(try x.toArray(), try y.toArray(), "\(name) differs after stopping and resuming")
        }
        for ((name, x), (_, y)) in zip(whole.optimizer.stateDict(), resumed.optimizer.stateDict()) where x.dtype == .float32 {
            XCTAssertEqual(try x.toArray(), try y.toArray(), "optimizer \(name) differs after stopping and resuming")
        }
        XCTAssertEqual(rest[0].trainLoss, whole.history[1].trainLoss)
        XCTAssertEqual(rest[0].testAccuracy, whole.history[1].testAccuracy)
        // The epoch-end checkpoint no longer carries a position inside an epoch.
        let final = try Checkpoint.load(from: directory.appendingPathComponent(Trainer.RunFile.lastCheckpoint))
        XCTAssertNil(final.metadata[Trainer.partialEpochKey])
        XCTAssertEqual(final.epoch, 2)
    }

    /// A trainer can go on in the same process after a stop: the request is honoured once.
    func testTrainingContinuesInProcessAfterAStop() throws {
        let c = configuration()
        let train = try TrainingTestData.mnist(.train, limit: 320), test = try TrainingTestData.mnist(.test, limit: 64)
        let whole = try Trainer(configuration: c, train: train, test: test)
        try whole.run()
        let trainer = try Trainer(configuration: c, train: train, test: test)
        let stopper = StopAt(epoch: 1, step: 7)
        stopper.trainer = trainer
        trainer.progress = stopper
        XCTAssertThrowsError(try trainer.runEpoch()) { XCTAssertTrue($0 is TrainingStopped, "\($0)") }
        trainer.progress = nil
        try trainer.run()
        XCTAssertEqual(trainer.history.map(\.trainLoss), whole.history.map(\.trainLoss))
        for ((name, x), (_, y)) in zip(whole.model.stateDict(), trainer.model.stateDict()) {
            XCTAssertEqual(try x.toArray(), try y.toArray(), "\(name) differs after continuing")
        }
    }

    /// `convkit train` given SIGINT (Ctrl-C) or SIGTERM: exits with 130 after saving a checkpoint
    /// that loads, says how to continue, and `--resume` finishes the run.
    func testSigintAndSigtermSaveACheckpointAndResumeFinishes() throws {
        guard let executable = CLITests.executable else {
            return XCTFail("the convkit executable was not found next to the test bundle; build it with swift build")
        }
        for signalNumber in [SIGINT, SIGTERM] {
            let directory = try makeTrainingTemporaryDirectory("sigint")
            defer { try? FileManager.default.removeItem(at: directory) }
            let run = directory.appendingPathComponent("run")
            let last = run.appendingPathComponent(Trainer.RunFile.lastCheckpoint)
            func train(resume: Bool) throws -> (Process, Pipe, Pipe) {
                let process = Process()
                process.executableURL = executable
                process.arguments = ["train", "--limit-train", "640", "--limit-test", "64", "--batch-size", "32", "--epochs", "1",
                                     "--device", "cpu", "--out", run.path] + (resume ? ["--resume", last.path] : [])
                var environment = ProcessInfo.processInfo.environment
                environment["CONVKIT_MNIST_DIR"] = dataTestMNISTDirectory.path
                process.environment = environment
                let out = Pipe(), err = Pipe()
                process.standardOutput = out
                process.standardError = err
                try process.run()
                return (process, out, err)
            }
            let (process, _, err) = try train(resume: false)
            // Wait for the first progress output (training has started), then interrupt.
            let errors = err.fileHandleForReading
            var seen = Data()
            while process.isRunning, !String(decoding: seen, as: UTF8.self).contains("epoch 1/1  10%") {
                seen.append(errors.availableData)
            }
            kill(process.processIdentifier, signalNumber)
            seen.append(errors.readDataToEndOfFile())
            process.waitUntilExit()
            let message = String(decoding: seen, as: UTF8.self)
            XCTAssertEqual(process.terminationStatus, 130, "signal \(signalNumber): \(message.suffix(400))")
            XCTAssertTrue(message.contains("training stopped in epoch 1 after step"), message.suffix(400).description)
            XCTAssertTrue(message.contains("--resume \(last.path)"), message.suffix(400).description)
            let checkpoint = try Checkpoint.load(from: last)
            XCTAssertEqual(checkpoint.epoch, 0)
            XCTAssertGreaterThan(checkpoint.globalStep, 0)
            XCTAssertLessThan(checkpoint.globalStep, 20)

            let (finish, out, _) = try train(resume: true)
            let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            finish.waitUntilExit()
            XCTAssertEqual(finish.terminationStatus, 0, printed)
            XCTAssertTrue(printed.contains("resuming in epoch 1 after step \(checkpoint.globalStep) of 20"), printed)
            XCTAssertEqual(try Checkpoint.load(from: last).epoch, 1)
        }
    }
}
