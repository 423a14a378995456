import Foundation
import XCTest
@testable import ConvKit

/// The bad-input battery of the `convkit` command line: every subcommand that `convkit --help`
/// lists, each flag with values that cannot be right (not a number, negative, zero, out of range,
/// unknown names, absurdly large), and files that are missing, truncated, corrupt, for another
/// model, a directory, a FIFO, a device or a /proc file. Every case must exit non-zero by
/// itself (never by a signal), print one `convkit: error: …` line naming the problem (or
/// argument-parser's usage error, which starts `Error:`), and leave an earlier run directory's
/// files byte for byte as they were. Cases `CLITests` already covers are not repeated here.
final class CLIBadInputTests: XCTestCase {
    /// What a case must print.
    enum Expected {
        /// One line `convkit: error: …` holding every fragment.
        case error([String])
        /// argument-parser's usage error (`Error: …` and a usage line) holding the fragment.
        case usage(String)
    }

    struct Case {
        let arguments: [String]
        let expected: Expected
    }

    func testEveryBadFlagAndFileGivesOneLineAndLeavesTheRunIntact() throws {
        let directory = try makeTrainingTemporaryDirectory("cli-bad")
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

        // A run with a good checkpoint, made first; every bad command below points at it.
        let run = path("run")
        let made = try CLITests.invoke(["train", "--limit-train", "200", "--limit-test", "100", "--epochs", "1", "--batch-size", "50",
                                        "--device", "cpu", "--crop-padding", "0", "--out", run])
        XCTAssertEqual(made.status, 0, made.stderr)
        let checkpoint = run + "/" + Trainer.RunFile.lastCheckpoint
        let before = try snapshot(run)
        XCTAssertTrue(before.keys.contains(Trainer.RunFile.lastCheckpoint), "\(before.keys)")

        // Damaged and foreign files.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        let truncated = path("truncated.safetensors")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        var flipped = bytes
        flipped[10] ^= 0xff  // inside the JSON header
        let corrupt = path("corrupt.safetensors")
        try flipped.write(to: URL(fileURLWithPath: corrupt))
        let plainTensors = path("plain.safetensors")
        try SafeTensors.write(["weight": Tensor.zeros([2, 2])], to: URL(fileURLWithPath: plainTensors))
        // a checkpoint that says lenet5 but holds another model's tensors
        let foreign = path("foreign.safetensors")
        try Checkpoint(model: Init.withoutInitialisation { try MobileNet() }, modelName: "lenet5",
                       modelConfig: ModelZoo.configuration(name: "lenet5")).save(to: URL(fileURLWithPath: foreign))
        // a checkpoint of another model that convkit eval/predict could load, but train cannot resume
        let mobilenet = path("mobilenet.safetensors")
        try Checkpoint(model: Init.withoutInitialisation { try MobileNet() }, modelName: "mobilenet",
                       modelConfig: ModelZoo.configuration(name: "mobilenet")).save(to: URL(fileURLWithPath: mobilenet))
        let fifo = path("fifo")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let folder = path("folder")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let file = path("file.txt")
        try Data("text\n".utf8).write(to: URL(fileURLWithPath: file))
        let missing = path("missing.safetensors")

        let fileFragments = (fifo: "FIFO", folder: "a directory", device: "a device")
        var cases: [Case] = []
        func add(_ arguments: [String], _ expected: Expected) { cases.append(Case(arguments: arguments, expected: expected)) }
        let out = ["--out", run]

        // train: flag values
        add(["train", "--epochs", "1000000000000"] + out, .error(["--epochs must be at most 10000"]))
        add(["train", "--epochs", "10001"] + out, .error(["--epochs must be at most 10000, got 10001"]))
        add(["train", "--epochs=-3"] + out, .error(["--epochs must be positive, got -3"]))
        add(["train", "--epochs", "-3"] + out, .usage("--epochs"))
        add(["train", "--epochs", "1.5"] + out, .usage("--epochs"))
        add(["train", "--epochs", "99999999999999999999999"] + out, .usage("--epochs"))
        add(["train", "--batch-size", "100000"] + out, .error(["--batch-size must be at most 65536"]))
        add(["train", "--batch-size=-1"] + out, .error(["--batch-size must be positive"]))
        add(["train", "--batch-size", "ten"] + out, .usage("--batch-size"))
        add(["train", "--lr", "nan"] + out, .error(["--lr must be a positive number, got nan"]))
        add(["train", "--lr", "inf"] + out, .error(["--lr must be a positive number, got inf"]))
        add(["train", "--lr=-0.1"] + out, .error(["--lr must be a positive number"]))
        add(["train", "--lr", "fast"] + out, .usage("--lr"))
        add(["train", "--momentum", "1"] + out, .error(["--momentum must be in [0, 1)"]))
        add(["train", "--momentum=-0.5"] + out, .error(["--momentum must be in [0, 1)"]))
        add(["train", "--momentum", "nan"] + out, .error(["--momentum"]))
        add(["train", "--weight-decay=-1"] + out, .error(["--weight-decay must be non-negative"]))
        add(["train", "--weight-decay", "inf"] + out, .error(["--weight-decay"]))
        add(["train", "--crop-padding", "9"] + out, .error(["--crop-padding must be in 0...8, got 9"]))
        add(["train", "--crop-padding=-1"] + out, .error(["--crop-padding must be in 0...8"]))
        add(["train", "--limit-train", "0"] + out, .error(["--limit-train must be positive"]))
        add(["train", "--limit-train=-5"] + out, .error(["--limit-train must be positive"]))
        add(["train", "--limit-test", "0"] + out, .error(["--limit-test must be positive"]))
        add(["train", "--limit-test", "20000", "--out", path("fresh-run")], .error(["--limit-test must be in 1...10000"]))
        add(["train", "--seed=-1"] + out, .usage("--seed"))
        add(["train", "--seed", "abc"] + out, .usage("--seed"))
        add(["train", "--optimizer", "SGD"] + out, .error(["--optimizer must be one of sgd, adam, adamw, got 'SGD'"]))
        add(["train", "--schedule", ""] + out, .error(["--schedule must be one of"]))
        add(["train", "--model", ""] + out, .error(["--model must be one of"]))
        add(["train", "--device", "cuda:0"] + out, .error(["--device must be cpu, cuda or auto"]))
        add(["train", "--bogus"] + out, .usage("--bogus"))
        // train: files
        add(["train", "--resume", fifo] + out, .error([fifo, fileFragments.fifo]))
        add(["train", "--resume", folder] + out, .error([folder, fileFragments.folder]))
        add(["train", "--resume", "/dev/zero"] + out, .error(["/dev/zero", fileFragments.device]))
        add(["train", "--resume", truncated] + out, .error([truncated, "corrupt file"]))
        add(["train", "--resume", corrupt] + out, .error([corrupt]))
        add(["train", "--resume", missing] + out, .error([missing, "No such file"]))
        add(["train", "--resume", plainTensors] + out, .error([plainTensors]))
        add(["train", "--resume", mobilenet] + out, .error([mobilenet, "was not written by convkit train"]))
        add(["train", "--resume", "/proc/self/status"] + out, .error(["/proc/self/status"]))
        add(["train", "--data", fifo] + out, .error([fifo, "--data must name a directory"]))
        add(["train", "--data", file] + out, .error([file, "--data must name a directory"]))
        add(["train", "--data", path("no-such-dir")] + out, .error(["--data", "does not exist"]))
        add(["train", "--data", folder] + out, .error(["missing"]))  // an empty directory: the run directory must stay intact
        add(["train", "--cache-dir", file] + out, .error([file, "--cache-dir must name a directory"]))
        add(["train", "--out", "/dev/null"], .error(["/dev/null", "not a directory"]))
        add(["train", "--out", "/proc/self/convkit-run"], .error(["/proc/self/convkit-run", "cannot create the output directory"]))

        // eval
        add(["eval", "--checkpoint", fifo], .error([fifo, fileFragments.fifo]))
        add(["eval", "--checkpoint", folder], .error([folder, fileFragments.folder]))
        add(["eval", "--checkpoint", "/dev/zero"], .error(["/dev/zero", fileFragments.device]))
        add(["eval", "--checkpoint", "/proc/self/status"], .error(["/proc/self/status"]))
        add(["eval", "--checkpoint", truncated], .error([truncated, "corrupt file"]))
        add(["eval", "--checkpoint", corrupt], .error([corrupt]))
        add(["eval", "--checkpoint", plainTensors], .error([plainTensors]))
        add(["eval", "--checkpoint", foreign], .error([foreign, "is for model 'MobileNet' but 'LeNet5'"]))
        add(["eval", "--checkpoint", checkpoint, "--limit", "0"], .error(["--limit must be positive"]))
        add(["eval", "--checkpoint", checkpoint, "--limit=-1"], .error(["--limit must be positive"]))
        add(["eval", "--checkpoint", checkpoint, "--limit", "20000"], .error(["--limit", "10000"]))
        add(["eval", "--checkpoint", checkpoint, "--batch-size", "100000"], .error(["--batch-size must be at most 65536"]))
        add(["eval", "--checkpoint", checkpoint, "--batch-size=-1"], .error(["--batch-size must be positive"]))
        add(["eval", "--checkpoint", checkpoint, "--device", "tpu"], .error(["--device must be cpu, cuda or auto"]))
        add(["eval", "--checkpoint", checkpoint, "--dataset", "cifar10"], .error(["--dataset must be mnist"]))
        add(["eval", "--checkpoint", checkpoint, "--model", "vgg"], .error(["--model must be one of"]))
        add(["eval", "--checkpoint", checkpoint, "--data", fifo], .error([fifo, "--data must name a directory"]))
        add(["eval", "--checkpoint", checkpoint, "--data", folder], .error(["missing"]))
        add(["eval", "--checkpoint", checkpoint, "--cache-dir", file], .error(["--cache-dir must name a directory"]))
        add(["eval"], .usage("--checkpoint"))
        add(["eval", "--checkpoint", checkpoint, "--batch-size", "x"], .usage("--batch-size"))

        // predict
        let image = path("digit.pgm")
        try PGM.write(try GrayImage(width: 28, height: 28, pixels: [Float](repeating: 0, count: 784)), to: image)
        add(["predict", "--checkpoint", checkpoint, "--top", "0", image], .error(["--top must be in 1...10, got 0"]))
        add(["predict", "--checkpoint", checkpoint, "--top=-1", image], .error(["--top must be in 1...10"]))
        add(["predict", "--checkpoint", checkpoint, "--top", "x", image], .usage("--top"))
        add(["predict", "--checkpoint", checkpoint, "--polarity", "sideways", image], .error(["--polarity must be auto, as-is or invert"]))
        add(["predict", "--checkpoint", checkpoint, "--model", "vgg", image], .error(["--model must be one of"]))
        add(["predict", "--checkpoint", checkpoint], .usage("<images>"))
        add(["predict", image], .usage("--checkpoint"))
        add(["predict", "--checkpoint", checkpoint, fifo], .error([fifo, "not a regular file"]))
        add(["predict", "--checkpoint", checkpoint, folder], .error([folder, "a directory"]))
        add(["predict", "--checkpoint", checkpoint, "/dev/zero"], .error(["/dev/zero", "not a regular file"]))
        add(["predict", "--checkpoint", checkpoint, "/proc/self/status"], .error(["/proc/self/status", "not a supported image format"]))
        add(["predict", "--checkpoint", checkpoint, image, checkpoint], .error([checkpoint, "not a supported image format"]))
        add(["predict", "--checkpoint", truncated, image], .error([truncated, "corrupt file"]))
        add(["predict", "--checkpoint", fifo, image], .error([fifo, fileFragments.fifo]))
        add(["predict", "--checkpoint", folder, image], .error([folder, fileFragments.folder]))
        add(["predict", "--checkpoint", foreign, image], .error([foreign, "is for model 'MobileNet' but 'LeNet5'"]))

        // demo
        add(["demo", "--batch-size", "0"], .error(["--batch-size must be positive"]))
        add(["demo", "--batch-size=-1"], .error(["--batch-size must be positive"]))
        add(["demo", "--batch-size", "100000"], .error(["--batch-size must be at most 4096"]))
        add(["demo", "--batch-size", "x"], .usage("--batch-size"))
        add(["demo", "--seed=-1"], .usage("--seed"))

        // bench
        add(["bench", "--seconds-per-case", "0"], .error(["--seconds-per-case must be positive and at most 3600"]))
        add(["bench", "--seconds-per-case", "nan"], .error(["--seconds-per-case", "nan"]))
        add(["bench", "--seconds-per-case", "inf"], .error(["--seconds-per-case", "inf"]))
        add(["bench", "--seconds-per-case", "1e9"], .error(["--seconds-per-case must be positive and at most 3600"]))
        add(["bench", "--seconds-per-case=-1"], .error(["--seconds-per-case"]))
        add(["bench", "--seconds-per-case", "soon"], .usage("--seconds-per-case"))
        add(["bench", "--runs", "0"], .error(["--runs must be in 1...100000, got 0"]))
        add(["bench", "--runs=-5"], .error(["--runs must be in 1...100000"]))
        add(["bench", "--runs", "1000000"], .error(["--runs must be in 1...100000"]))
        add(["bench", "--device", "tpu"], .error(["unknown device 'tpu'"]))
        add(["bench", "--device", "cuda:-1"], .error(["unknown device 'cuda:-1'"]))
        add(["bench", "--device", "cuda:x"], .error(["unknown device 'cuda:x'"]))
        add(["bench", "--filter", "no-case-is-called-this"], .error(["no case matches the filter 'no-case-is-called-this'"]))
        add(["bench", "--json", folder], .error([folder, "--json names a directory"]))
        add(["bench", "--json", path("no-dir/results.json")], .error(["does not exist"]))

        // verify
        add(["verify", "--device", "cpu"], .error(["--device must be a CUDA device"]))
        add(["verify", "--device", "gpu"], .error(["unknown device 'gpu'"]))
        add(["verify", "--seed", "x"], .usage("--seed"))

        // info and the command itself
        add(["info", "--bogus"], .usage("--bogus"))
        add(["frobnicate"], .usage("frobnicate"))

        // No GPU here: asking for one is an error that names the device (on a GPU machine these would run).
        if CUDA.unavailableReason != nil {
            add(["bench", "--device", "cuda"], .error(["cuda:0 is not available"]))
            add(["verify", "--device", "cuda:7"], .error(["cuda:7 is not available"]))
            add(["verify", "--device", "cuda", "--fixtures", path("nowhere")], .error(["cuda:0 is not available"]))
            add(["eval", "--checkpoint", checkpoint, "--device", "cuda"], .error(["not available"]))
            add(["train", "--device", "cuda"] + out, .error(["not available"]))
        }

        // Every subcommand that --help lists has cases.
        let help = try CLITests.invoke(["--help"])
        let section = help.stdout.components(separatedBy: "SUBCOMMANDS:").last ?? ""
        var listed: [String] = []
        for line in section.split(separator: "\n") where line.hasPrefix("  ") && !line.hasPrefix("   ") {  // not the wrapped abstracts
            if let name = line.split(separator: " ").first.map(String.init), name != "help", name != "See" { listed.append(name) }
        }
        XCTAssertFalse(listed.isEmpty, help.stdout)
        for subcommand in listed {
            XCTAssertTrue(cases.contains { $0.arguments.first == subcommand }, "no bad-input case for 'convkit \(subcommand)'")
        }

        for c in cases {
            let result = try CLITests.invoke(c.arguments, timeout: 60)
            let shown = "convkit \(c.arguments.joined(separator: " "))"
            XCTAssertEqual(result.reason, .exit, "\(shown) ended by signal \(result.status)")
            XCTAssertNotEqual(result.status, 0, "\(shown) exited 0")
            let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            switch c.expected {
            case let .error(fragments):
                XCTAssertEqual(lines.count, 1, "\(shown): stderr is not one line: \(result.stderr)")
                let first = lines.first ?? ""
                XCTAssertTrue(first.hasPrefix("convkit: error: "), "\(shown): \(result.stderr)")
                for fragment in fragments where !first.contains(fragment) {
                    XCTFail("\(shown): expected '\(fragment)' in: \(first)")
                }
            case let .usage(fragment):
                XCTAssertEqual(result.status, 64, "\(shown): a usage error exits 64 (EX_USAGE): \(result.stderr)")
                XCTAssertTrue(result.stderr.hasPrefix("Error: "), "\(shown): \(result.stderr)")
                XCTAssertTrue(result.stderr.contains(fragment), "\(shown): expected '\(fragment)' in: \(result.stderr)")
            }
        }
        print("CLIBadInputTests: \(cases.count) bad command lines tried over \(listed.count) subcommands (\(listed.joined(separator: ", ")))")

        // The earlier run is untouched: the same files with the same bytes, no temporary left.
        let after = try snapshot(run)
        XCTAssertEqual(Set(after.keys), Set(before.keys), "files appeared or vanished in the run directory")
        for (name, data) in before { XCTAssertEqual(after[name], data, "\(name) changed") }
        let fresh = (try? FileManager.default.contentsOfDirectory(atPath: path("fresh-run"))) ?? []
        XCTAssertFalse(fresh.contains { $0.contains("checkpoint") }, "a failed run wrote \(fresh)")
    }

    /// Every file of `directory` (hidden temporaries included) and its bytes.
    private func snapshot(_ directory: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name))
        }
        return files
    }
}
