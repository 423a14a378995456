import Foundation
import XCTest
@testable import ConvKit

/// A fresh empty directory under the system's temporary directory.
func makeTrainingTemporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("convkit-\(name)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The first `train` / `test` images of the real MNIST files (cached per size: loading reads the whole files).
enum TrainingTestData {
    private static var cache: [String: MNIST] = [:]
    private static let lock = NSLock()

    static func mnist(_ split: MNIST.Split, limit: Int) throws -> MNIST {
        lock.lock(); defer { lock.unlock() }
        let key = "\(split)-\(limit)"
        if let hit = cache[key] { return hit }
        let data = try MNIST(directory: dataTestMNISTDirectory, split: split, limit: limit)
        cache[key] = data
        return data
    }
}

final class TrainingTests: XCTestCase {
    private func configuration(epochs: Int, batchSize: Int = 32, optimizer: String = "sgd", lr: Float = 0.05,
                               schedule: String = "cosine", train: Int, test: Int, model: String = "lenet5") -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.model = model
        c.epochs = epochs
        c.batchSize = batchSize
        c.optimizer = optimizer
        c.learningRate = lr
        c.schedule = schedule
        c.limitTrain = train
        c.limitTest = test
        c.seed = 7
        c.cropPadding = 0
        return c
    }

    /// Trains LeNet-5 on 3000 real MNIST images for 2 epochs (Adam, cosine schedule); the first
    /// 1000 test images must be over 90% right (PyTorch gets 92.6–93.0% with this recipe over 4 seeds).
    func testShortRunOnRealMNISTSubsetExceeds90Percent() throws {
        let c = configuration(epochs: 2, optimizer: "adam", lr: 0.002, train: 3000, test: 1000)
        let trainer = try Trainer(configuration: c, train: try TrainingTestData.mnist(.train, limit: 3000),
                                  test: try TrainingTestData.mnist(.test, limit: 1000))
        let metrics = try trainer.run()
        XCTAssertEqual(metrics.map(\.epoch), [1, 2])
        XCTAssertLessThan(metrics[1].trainLoss, metrics[0].trainLoss)
        XCTAssertGreaterThan(metrics[1].testAccuracy, 0.90, "test accuracy after 2 epochs on 3000 images: \(metrics[1].testAccuracy)")
        XCTAssertEqual(trainer.globalStep, 2 * 94)
        XCTAssertEqual(metrics[0].learningRate, 0.002, accuracy: 1e-9)
        XCTAssertEqual(metrics[1].learningRate, 0.001, accuracy: 1e-7)  // cosine over 2 epochs, halfway
        XCTAssertGreaterThan(metrics[1].imagesPerSecond, 0)
    }

    /// Two epochs, then a new trainer resumed from checkpoint-last for the third, give bitwise the
    /// parameters and optimizer state of three uninterrupted epochs.
    func testResumeGivesTheParametersOfAnUninterruptedRun() throws {
        let train = try TrainingTestData.mnist(.train, limit: 300), test = try TrainingTestData.mnist(.test, limit: 100)
        for optimizer in ["sgd", "adam"] {
            var c = configuration(epochs: 3, optimizer: optimizer, lr: optimizer == "sgd" ? 0.05 : 1e-3, schedule: "step", train: 300, test: 100)
            c.cropPadding = optimizer == "adam" ? 2 : 0  // random crops continue the same way too
            let whole = try Trainer(configuration: c, train: train, test: test)
            try whole.run()

            let directory = try makeTrainingTemporaryDirectory("resume")
            defer { try? FileManager.default.removeItem(at: directory) }
            let first = try Trainer(configuration: c, train: train, test: test, runDirectory: directory)
            _ = try first.runEpoch()
            _ = try first.runEpoch()
            RandomState.seed(12345)  // the resumed run must not depend on the generator's state before resuming
            let checkpoint = try Checkpoint.load(from: directory.appendingPathComponent(Trainer.RunFile.lastCheckpoint))
            XCTAssertEqual(checkpoint.epoch, 2)
            let resumed = try Trainer(configuration: c, train: train, test: test, runDirectory: directory, resumeFrom: checkpoint)
            XCTAssertEqual(resumed.completedEpochs, 2)
            XCTAssertEqual(resumed.history.map(\.epoch), [1, 2])
            let rest = try resumed.run()
            XCTAssertEqual(rest.map(\.epoch), [3])

            XCTAssertEqual(resumed.globalStep, whole.globalStep)
            XCTAssertEqual(resumed.optimizer.learningRate, whole.optimizer.learningRate)
            let a = whole.model.stateDict(), b = resumed.model.stateDict()
            XCTAssertEqual(a.map(\.0), b.map(\.0))
            for ((name, x), (_, y)) in zip(a, b) {
                XCTAssertEqual(try x.toArray(), try y.toArray(), "\(optimizer): \(name) differs after resuming")
            }
            let sa = whole.optimizer.stateDict(), sb = resumed.optimizer.stateDict()
            XCTAssertEqual(sa.map(\.0), sb.map(\.0))
            for ((name, x), (_, y)) in zip(sa, sb) where x.dtype == .float32 {
                XCTAssertEqual(try x.toArray(), try y.toArray(), "\(optimizer): optimizer \(name) differs after resuming")
            }
            XCTAssertEqual(rest[0].testAccuracy, whole.history[2].testAccuracy)
            XCTAssertEqual(rest[0].trainLoss, whole.history[2].trainLoss)
            // metrics.jsonl holds all three epochs
            let lines = try String(contentsOf: directory.appendingPathComponent(Trainer.RunFile.metrics), encoding: .utf8)
                .split(separator: "\n")
            XCTAssertEqual(try lines.map { try EpochMetrics.parse(jsonLine: String($0)).epoch }, [1, 2, 3])
        }
    }

    /// The run directory holds metrics.jsonl (one object per epoch with the required keys), both
    /// checkpoints (loadable, with the configuration), curves.svg and filters.png.
    func testRunDirectoryFiles() throws {
        let directory = try makeTrainingTemporaryDirectory("rundir")
        defer { try? FileManager.default.removeItem(at: directory) }
        let c = configuration(epochs: 2, train: 128, test: 64)
        let trainer = try Trainer(configuration: c, train: try TrainingTestData.mnist(.train, limit: 128),
                                  test: try TrainingTestData.mnist(.test, limit: 64), runDirectory: directory.appendingPathComponent("run"))
        try trainer.run()
        let run = directory.appendingPathComponent("run")
        let text = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        for (index, line) in lines.enumerated() {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            for key in ["epoch", "train_loss", "test_loss", "test_accuracy", "images_per_second", "seconds", "lr"] {
                XCTAssertNotNil(object[key] as? NSNumber, "metrics line \(index) lacks \(key): \(line)")
            }
            XCTAssertEqual((object["epoch"] as? NSNumber)?.intValue, index + 1)
            let parsed = try EpochMetrics.parse(jsonLine: String(line)), kept = trainer.history[index]
            XCTAssertEqual(parsed.epoch, kept.epoch)
            for (a, b) in [(parsed.trainLoss, kept.trainLoss), (parsed.testLoss, kept.testLoss), (parsed.testAccuracy, kept.testAccuracy),
                           (parsed.learningRate, kept.learningRate), (parsed.imagesPerSecond, kept.imagesPerSecond),
                           (parsed.seconds, kept.seconds), (parsed.trainSeconds, kept.trainSeconds)] {
                XCTAssertEqual(a, b, accuracy: 1e-12 * abs(b))
            }
        }
        for name in ["checkpoint-last.safetensors", "checkpoint-best.safetensors"] {
            let checkpoint = try Checkpoint.load(from: run.appendingPathComponent(name))
            XCTAssertEqual(checkpoint.modelName, "lenet5")
            XCTAssertEqual(try TrainingConfiguration.parse(json: try XCTUnwrap(checkpoint.metadata[Trainer.configurationKey])), c)
            let model = try ModelZoo.make(name: "lenet5")
            try checkpoint.apply(to: model, modelName: "lenet5", modelConfig: try ModelZoo.configuration(name: "lenet5"))
        }
        XCTAssertEqual(try Checkpoint.load(from: run.appendingPathComponent("checkpoint-last.safetensors")).epoch, 2)
        let svg = try String(contentsOf: run.appendingPathComponent("curves.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains("<svg") && svg.contains("</svg>"))
        let png = [UInt8](try Data(contentsOf: run.appendingPathComponent("filters.png")))
        XCTAssertTrue(PNG.isPNG(png))
        let picture = try PNG.decode(png)
        XCTAssertGreaterThan(picture.width, 28)
        XCTAssertGreaterThan(picture.height, 28)
    }

    func testCheckpointOfAnotherModelIsRejectedOnResume() throws {
        let directory = try makeTrainingTemporaryDirectory("othermodel")
        defer { try? FileManager.default.removeItem(at: directory) }
        let train = try TrainingTestData.mnist(.train, limit: 64), test = try TrainingTestData.mnist(.test, limit: 32)
        let lenet = try Trainer(configuration: configuration(epochs: 1, train: 64, test: 32), train: train, test: test, runDirectory: directory)
        try lenet.run()
        let checkpoint = try Checkpoint.load(from: directory.appendingPathComponent(Trainer.RunFile.lastCheckpoint))
        assertThrowsConvKitError(try Trainer(configuration: configuration(epochs: 2, train: 64, test: 32, model: "alexnet"),
                                             train: train, test: test, resumeFrom: checkpoint), "lenet5")
        assertThrowsConvKitError(try Trainer(configuration: configuration(epochs: 2, batchSize: 16, train: 64, test: 32),
                                             train: train, test: test, resumeFrom: checkpoint), "differs")
    }

    func testConfigurationValidation() throws {
        XCTAssertNoThrow(try TrainingConfiguration().validate())
        let cases: [(WritableKeyPath<TrainingConfiguration, Int>, Int, String)] = [
            (\.epochs, 0, "--epochs"), (\.batchSize, -1, "--batch-size"),
        ]
        for (path, value, fragment) in cases {
            var c = TrainingConfiguration()
            c[keyPath: path] = value
            assertThrowsConvKitError(try c.validate(), fragment)
        }
        var c = TrainingConfiguration()
        c.learningRate = 0
        assertThrowsConvKitError(try c.validate(), "--lr")
        c = TrainingConfiguration()
        c.model = "vgg"
        assertThrowsConvKitError(try c.validate(), "lenet5, alexnet, mobilenet")
        c = TrainingConfiguration()
        c.optimizer = "rmsprop"
        assertThrowsConvKitError(try c.validate(), "--optimizer")
        c = TrainingConfiguration()
        c.schedule = "linear"
        assertThrowsConvKitError(try c.validate(), "--schedule")
        c = TrainingConfiguration()
        c.limitTrain = 0
        assertThrowsConvKitError(try c.validate(), "--limit-train")
        c = TrainingConfiguration()
        c.cropPadding = 9
        assertThrowsConvKitError(try c.validate(), "--crop-padding must be in 0...8")
        c = TrainingConfiguration()
        c.limitTest = 5
        c.cropPadding = 2
        c.seed = 99
        XCTAssertEqual(try TrainingConfiguration.parse(json: try c.json()), c)
        assertThrowsConvKitError(try TrainingConfiguration.parse(json: "{\"model\": 3}"), "not a training configuration")
    }

    func testModelZooAndDevices() throws {
        RandomState.seed(3)
        for name in ModelZoo.names {
            let model = try ModelZoo.make(name: name)
            model.eval()
            let out = try withNoGrad { try model(try Tensor.zeros([2, 1, 28, 28])) }
            XCTAssertEqual(out.shape, [2, 10], name)
            let weight = try XCTUnwrap(ModelZoo.firstConvolutionWeight(of: model))
            XCTAssertEqual(weight.shape[1], 1)
        }
        assertThrowsConvKitError(try ModelZoo.make(name: "resnet"), "unknown model 'resnet'")
        XCTAssertEqual(try resolveDevice("cpu"), .cpu)
        XCTAssertEqual(try resolveDevice("auto"), .cpu)
        XCTAssertThrowsError(try resolveDevice("cuda")) { error in
            XCTAssertTrue("\(error)".contains("not available"), "\(error)")
        }
        assertThrowsConvKitError(try resolveDevice("tpu"), "--device")
    }

    func testMetricsLinesAndConfusionMatrix() throws {
        let m = EpochMetrics(epoch: 3, trainLoss: 0.25, testLoss: .nan, testAccuracy: 0.9875, learningRate: 0.01,
                             imagesPerSecond: 1234.5, seconds: 12.5, trainSeconds: 10)
        let line = m.jsonLine()
        XCTAssertFalse(line.contains("\n"))
        XCTAssertTrue(line.contains("\"test_loss\":null"))
        let parsed = try EpochMetrics.parse(jsonLine: line)
        XCTAssertEqual(parsed.epoch, 3)
        XCTAssertTrue(parsed.testLoss.isNaN)
        XCTAssertEqual(parsed.testAccuracy, 0.9875)
        assertThrowsConvKitError(try EpochMetrics.parse(jsonLine: "{\"epoch\": 1}"), "train_loss")
        assertThrowsConvKitError(try EpochMetrics.parse(jsonLine: "[1]"), "not a JSON object")
        assertThrowsConvKitError(try EpochMetrics.parse(jsonLine: line.replacingOccurrences(of: "0.25", with: "abc")), "train_loss")
        // A resumed run rewrites metrics.jsonl from its checkpoint: every value must come back bit for bit.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            func value() -> Double { Double(bitPattern: generator.next() >> 2 | 0x3F00_0000_0000_0000) * 3 }
            let random = EpochMetrics(epoch: Int.random(in: 1...1000), trainLoss: value(), testLoss: value(), testAccuracy: value(),
                                      learningRate: value(), imagesPerSecond: value() * 1e4, seconds: value(), trainSeconds: value())
            XCTAssertEqual(try EpochMetrics.parse(jsonLine: random.jsonLine()).jsonLine(), random.jsonLine())
        }

        var confusion = try ConfusionMatrix(classes: 3)
        for (t, p) in [(0, 0), (0, 1), (1, 1), (1, 1), (2, 0)] { try confusion.add(truth: t, prediction: p) }
        XCTAssertEqual(confusion.total, 5)
        XCTAssertEqual(confusion.correct, 3)
        XCTAssertEqual(confusion.accuracy, 0.6)
        XCTAssertEqual(confusion.perClassAccuracy, [0.5, 1.0, 0.0])
        XCTAssertEqual(confusion.counts, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
        XCTAssertEqual(confusion.table().split(separator: "\n").count, 4)
        XCTAssertEqual(try ConfusionMatrix(classes: 2).perClassAccuracy, [nil, nil])
    }

    func testEvaluateCountsEveryTestImage() throws {
        RandomState.seed(5)
        let model = try ModelZoo.make(name: "lenet5")
        let test = try TrainingTestData.mnist(.test, limit: 100)
        let loader = try DataLoader(dataset: test, batchSize: 32, normalization: .mnist)
        let result = try Trainer.evaluate(model: model, loader: loader, classes: 10)
        XCTAssertEqual(result.count, 100)
        XCTAssertFalse(model.isTraining)
        // batching does not change the result
        let whole = try Trainer.evaluate(model: model, loader: try DataLoader(dataset: test, batchSize: 100, normalization: .mnist), classes: 10)
        XCTAssertTrue(result.loss.isFinite && result.loss > 0)
        XCTAssertEqual(result.loss, whole.loss, accuracy: 1e-5)
        XCTAssertEqual(result.confusion, whole.confusion)
        let truth = try test.labels.toIntArray()
        XCTAssertEqual((0..<10).map { d in result.confusion.counts[d].reduce(0, +) }, (0..<10).map { d in truth.filter { $0 == d }.count })
    }

    func testRunDirectoryThatCannotBeCreated() throws {
        let directory = try makeTrainingTemporaryDirectory("blocked")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("file")
        try Data("x".utf8).write(to: file)
        XCTAssertThrowsError(try Trainer.prepare(runDirectory: file)) { XCTAssertTrue("\($0)".contains("not a directory"), "\($0)") }
        XCTAssertThrowsError(try Trainer.prepare(runDirectory: file.appendingPathComponent("run"))) {
            XCTAssertTrue("\($0)".contains("cannot create the output directory"), "\($0)")
        }
    }

    func testMNISTLocation() throws {
        let explicit = URL(fileURLWithPath: "/somewhere", isDirectory: true)
        XCTAssertEqual(MNISTLocation.directory(explicit: explicit, environment: ["CONVKIT_MNIST_DIR": "/x"]), explicit)
        XCTAssertEqual(MNISTLocation.directory(explicit: nil, environment: ["CONVKIT_MNIST_DIR": "/x"])?.path, "/x")
        let root = try makeTrainingTemporaryDirectory("location")
        defer { try? FileManager.default.removeItem(at: root) }
        let cwd = root.appendingPathComponent("main", isDirectory: true)
        let shared = root.appendingPathComponent("shared/data/mnist", isDirectory: true)
        try FileManager.default.createDirectory(at: cwd, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: true)
        XCTAssertNil(MNISTLocation.directory(explicit: nil, environment: [:], currentDirectory: cwd))
        for file in MNIST.allFiles { try Data().write(to: shared.appendingPathComponent(file.name)) }
        XCTAssertEqual(MNISTLocation.directory(explicit: nil, environment: [:], currentDirectory: cwd)?.standardizedFileURL.path,
                       shared.standardizedFileURL.path)
        XCTAssertNil(MNISTLocation.directory(explicit: nil, environment: [:], currentDirectory: URL(fileURLWithPath: "/")))
        assertThrowsConvKitError(try MNISTLocation.load(split: .test, limit: 10_001, directory: dataTestMNISTDirectory, cacheRoot: nil),
                                 "--limit-test")
    }
}
