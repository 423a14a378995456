import Foundation
import XCTest
@testable import ConvKit

/// Runs the built `convkit` executable as a subprocess: a short training run, `eval` and
/// `predict` on its checkpoint, and the errors a user can make (one line on stderr, non-zero exit).
final class CLITests: XCTestCase {
    struct Outcome {
        var status: Int32
        /// Whether the process exited by itself (`.exit`) or was ended by a signal.
        var reason: Process.TerminationReason
        var stdout: String
        var stderr: String
        var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
        /// The lines of stderr that are errors (progress lines also go to stderr).
        var errorLines: [String] { stderrLines.filter { $0.hasPrefix("convkit: error:") } }
    }

    /// The `convkit` executable beside the test bundle (same build products directory).
    static let executable: URL? = {
        var directories = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
                           Bundle.main.bundleURL.deletingLastPathComponent(), Bundle.main.bundleURL]
        directories += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for directory in directories {
            let candidate = directory.appendingPathComponent("convkit")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
        }
        return nil
    }()

    /// Runs `convkit ARGS` (killed, and the test failed, after `timeout` seconds: a hang is a
    /// failure, not a stuck suite), optionally under `bash -c 'ulimit -f KB; trap "" XFSZ; exec
    /// convkit …'` so that writes past `fileSizeLimitKB` fail with EFBIG.
    static func invoke(_ arguments: [String], timeout: TimeInterval = 300, fileSizeLimitKB: Int? = nil) throws -> Outcome {
        guard let executable else {
            XCTFail("the convkit executable was not found next to the test bundle (\(CommandLine.arguments[0])); build it with swift build")
            throw ConvKitError.io(path: "convkit", message: "not built")
        }
        let directory = try makeTrainingTemporaryDirectory("cli-output")
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("stdout"), errURL = directory.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        if let limit = fileSizeLimitKB {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", "ulimit -f \(limit); trap '' XFSZ; exec \"$0\" \"$@\"", executable.path] + arguments
        } else {
            process.executableURL = executable
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment["CONVKIT_MNIST_DIR"] = dataTestMNISTDirectory.path
        environment["CONVKIT_MNIST_URL"] = "http://127.0.0.1:9/"  // never download from the internet in tests
        process.environment = environment
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            // SIGKILL: SIGTERM only asks `convkit train` to stop after its current step.
            kill(process.processIdentifier, SIGKILL)
            XCTFail("convkit \(arguments) ran longer than \(timeout) s")
        }
        process.waitUntilExit()
        try out.close()
        try err.close()
        return Outcome(status: process.terminationStatus, reason: process.terminationReason,
                       stdout: try String(contentsOf: outURL, encoding: .utf8),
                       stderr: try String(contentsOf: errURL, encoding: .utf8))
    }

    /// A tiny LeNet-5 run made once for all tests: its run directory.
    static let trainedRun: Swift.Result<URL, Error> = Swift.Result {
        let directory = try makeTrainingTemporaryDirectory("cli-run")
        let run = directory.appendingPathComponent("run")
        let result = try CLITests.invoke(["train", "--limit-train", "1000", "--limit-test", "200", "--epochs", "1", "--batch-size", "32",
                                       "--optimizer", "adam", "--device", "cpu", "--seed", "3", "--out", run.path])
        guard result.status == 0 else {
            throw ConvKitError.io(path: run.path, message: "convkit train failed (\(result.status)): \(result.stderr)")
        }
        return run
    }

    private func checkpoint() throws -> URL {
        try CLITests.trainedRun.get().appendingPathComponent("checkpoint-last.safetensors")
    }

    /// Exactly one line on stderr, starting `convkit: error:` and containing `fragment`, and a non-zero exit.
    private func assertOneLineError(_ arguments: [String], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try CLITests.invoke(arguments)
        XCTAssertNotEqual(result.status, 0, "convkit \(arguments) exited 0", file: file, line: line)
        XCTAssertEqual(result.stderrLines.count, 1, "convkit \(arguments) stderr: \(result.stderr)", file: file, line: line)
        let first = result.stderrLines.first ?? ""
        XCTAssertTrue(first.hasPrefix("convkit: error: "), "convkit \(arguments) stderr: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(first.contains(fragment), "convkit \(arguments): expected '\(fragment)' in: \(first)", file: file, line: line)
    }

    func testTrainWritesTheRunDirectoryAndPrintsEpochLines() throws {
        let run = try CLITests.trainedRun.get()
        for name in ["metrics.jsonl", "checkpoint-last.safetensors", "checkpoint-best.safetensors", "curves.svg", "filters.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent(name).path), name)
        }
        let metrics = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        let epoch = try EpochMetrics.parse(jsonLine: String(try XCTUnwrap(metrics.split(separator: "\n").first)))
        XCTAssertEqual(epoch.epoch, 1)
        XCTAssertGreaterThan(epoch.testAccuracy, 0.5)
    }

    func testTrainOutputAndResumeExtendingTheRun() throws {
        let directory = try makeTrainingTemporaryDirectory("cli-resume")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = directory.appendingPathComponent("run").path
        let common = ["--limit-train", "200", "--limit-test", "100", "--batch-size", "50", "--device", "cpu", "--out", run]
        let first = try CLITests.invoke(["train", "--epochs", "1"] + common)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("epoch 1/1"), first.stdout)
        XCTAssertTrue(first.stdout.contains("test accuracy"), first.stdout)
        // not a terminal: progress lines (no carriage returns) with loss, images/s and ETA
        XCTAssertFalse(first.stderr.contains("\r"))
        XCTAssertTrue(first.stderr.contains("img/s") && first.stderr.contains("ETA") && first.stderr.contains("loss"), first.stderr)
        let second = try CLITests.invoke(["train", "--epochs", "2", "--limit-train", "200", "--limit-test", "100", "--device", "cpu",
                                       "--out", run, "--resume", run + "/checkpoint-last.safetensors"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("resuming after epoch 1"), second.stdout)
        XCTAssertTrue(second.stdout.contains("epoch 2/2"), second.stdout)
        XCTAssertFalse(second.stdout.contains("epoch 1/2"), second.stdout)
        let lines = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(try lines.map { try EpochMetrics.parse(jsonLine: String($0)).epoch }, [1, 2])
    }

    func testEvalPrintsAccuracyPerClassAndConfusionMatrix() throws {
        let result = try CLITests.invoke(["eval", "--checkpoint", try checkpoint().path, "--limit", "300", "--device", "cpu"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("test accuracy"), result.stdout)
        XCTAssertTrue(result.stdout.contains("(300 images)") || result.stdout.contains("/300)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("per-class accuracy"), result.stdout)
        XCTAssertTrue(result.stdout.contains("confusion matrix"), result.stdout)
        let rows = result.stdout.split(separator: "\n").drop { !$0.hasPrefix("confusion matrix") }.dropFirst(2)
        XCTAssertEqual(rows.count, 10, result.stdout)
        let total = rows.map { $0.split(separator: " ").dropFirst().compactMap { Int($0) }.reduce(0, +) }.reduce(0, +)
        XCTAssertEqual(total, 300)
    }

    func testPredictOnPGMAndPNGImagesOfAnySize() throws {
        let checkpointURL = try checkpoint()
        let directory = try makeTrainingTemporaryDirectory("cli-predict")
        defer { try? FileManager.default.removeItem(at: directory) }
        let test = try TrainingTestData.mnist(.test, limit: 3)
        let digits = try test.images.toArray()
        let first = try GrayImage(width: 28, height: 28, pixels: Array(digits[0..<784]))
        let pgm = directory.appendingPathComponent("digit.pgm").path
        try PGM.write(first, to: pgm)
        let png = directory.appendingPathComponent("big.png").path
        try PNG.write(try GrayImage(width: 28, height: 28, pixels: Array(digits[784..<1568])).resized(width: 61, height: 45), to: png)
        let paper = directory.appendingPathComponent("paper.pgm").path  // dark digit on light paper
        try PGM.write(first.inverted(), to: paper)

        let result = try CLITests.invoke(["predict", "--checkpoint", checkpointURL.path, pgm, png, paper])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, result.stdout)
        for line in lines {
            XCTAssertEqual(line.components(separatedBy: "%)").count - 1, 3, line)
        }
        // the top class is the model's answer for the normalised image, as computed in process
        let checkpoint = try Checkpoint.load(from: checkpointURL)
        let model = try ModelZoo.make(name: checkpoint.modelName)
        try checkpoint.apply(to: model, restoreRandomState: false)
        model.eval()
        let logits = try withNoGrad { try model((try first.toTensor() - MNIST.mean) / MNIST.std) }
        let expected = Int(try logits.argmax(dim: 1).toIntArray()[0])
        XCTAssertTrue(lines[0].hasPrefix("\(pgm): \(expected) ("), "\(lines[0]) (expected class \(expected))")
        XCTAssertTrue(lines[2].hasPrefix("\(paper): \(expected) ("), "\(lines[2]) (expected class \(expected))")
        XCTAssertTrue(lines[2].hasSuffix("[inverted]"), lines[2])
        XCTAssertFalse(lines[0].hasSuffix("[inverted]"), lines[0])
    }

    func testFlagValueErrorsGiveOneLine() throws {
        try assertOneLineError(["train", "--epochs", "0"], "--epochs must be positive")
        try assertOneLineError(["train", "--batch-size", "0"], "--batch-size must be positive")
        try assertOneLineError(["train", "--lr", "0"], "--lr must be a positive number")
        try assertOneLineError(["train", "--model", "vgg"], "--model must be one of lenet5, alexnet, mobilenet")
        try assertOneLineError(["train", "--optimizer", "rmsprop"], "--optimizer")
        try assertOneLineError(["train", "--schedule", "linear"], "--schedule")
        try assertOneLineError(["train", "--device", "tpu"], "--device must be cpu, cuda or auto")
        try assertOneLineError(["train", "--dataset", "cifar10"], "--dataset must be mnist")
        try assertOneLineError(["train", "--limit-train", "70000", "--out", NSTemporaryDirectory() + "convkit-cli-limit"], "--limit-train")
        try assertOneLineError(["eval", "--checkpoint", "x", "--batch-size", "0"], "--batch-size")
        try assertOneLineError(["predict", "--checkpoint", "x", "--top", "11", "a.png"], "--top")
        // values the parser itself rejects still end with a non-zero exit and no crash
        let unparsable = try CLITests.invoke(["train", "--epochs", "many"])
        XCTAssertNotEqual(unparsable.status, 0)
        XCTAssertTrue(unparsable.stderr.hasPrefix("Error:"), unparsable.stderr)
    }

    func testDeviceDataAndOutputErrorsGiveOneLine() throws {
        let directory = try makeTrainingTemporaryDirectory("cli-errors")
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("run").path
        try assertOneLineError(["train", "--device", "cuda", "--out", out], "not available")
        let empty = directory.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try assertOneLineError(["train", "--data", empty.path, "--out", out], "missing")
        // a damaged copy of the training images (the other files intact)
        let damaged = directory.appendingPathComponent("damaged")
        try FileManager.default.createDirectory(at: damaged, withIntermediateDirectories: true)
        for file in MNIST.allFiles {
            var bytes = try Data(contentsOf: dataTestMNISTDirectory.appendingPathComponent(file.name))
            if file == MNIST.trainImages { bytes = bytes.prefix(bytes.count / 2) }
            try bytes.write(to: damaged.appendingPathComponent(file.name))
        }
        try assertOneLineError(["train", "--data", damaged.path, "--out", out], "corrupt file")
        let blocker = directory.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        try assertOneLineError(["train", "--out", blocker.path], "not a directory")
        try assertOneLineError(["train", "--out", blocker.appendingPathComponent("run").path], "cannot create the output directory")
    }

    func testCheckpointAndImageErrorsGiveOneLine() throws {
        let checkpointPath = try checkpoint().path
        let directory = try makeTrainingTemporaryDirectory("cli-ckpt-errors")
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing.safetensors").path
        try assertOneLineError(["eval", "--checkpoint", missing], "missing.safetensors")
        try assertOneLineError(["predict", "--checkpoint", missing, "a.png"], "missing.safetensors")
        let text = directory.appendingPathComponent("notes.txt")
        try Data("not a checkpoint, not an image\n".utf8).write(to: text)
        try assertOneLineError(["eval", "--checkpoint", text.path], "notes.txt")
        try assertOneLineError(["eval", "--checkpoint", checkpointPath, "--model", "alexnet"], "is for model 'lenet5' but --model alexnet")
        try assertOneLineError(["predict", "--checkpoint", checkpointPath, "--model", "mobilenet", text.path], "is for model 'lenet5'")
        try assertOneLineError(["train", "--resume", checkpointPath, "--model", "alexnet", "--out", directory.appendingPathComponent("r").path],
                               "the checkpoint is for model 'lenet5' but --model alexnet")
        try assertOneLineError(["train", "--resume", checkpointPath, "--batch-size", "7", "--out", directory.appendingPathComponent("r").path],
                               "--batch-size 7 differs from the checkpoint's 32")
        try assertOneLineError(["predict", "--checkpoint", checkpointPath, text.path], "not a supported image format")
        try assertOneLineError(["predict", "--checkpoint", checkpointPath, directory.appendingPathComponent("nothing.png").path], "nothing.png")
        let truncated = directory.appendingPathComponent("truncated.png")
        try Data(PNG.signature + [0, 0, 0, 13]).write(to: truncated)
        try assertOneLineError(["predict", "--checkpoint", checkpointPath, truncated.path], "truncated.png")
    }
}
