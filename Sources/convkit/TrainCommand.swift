import ArgumentParser
import ConvKit
import Foundation

/// `convkit train`: trains a model on MNIST, printing a progress bar per epoch (standard error)
/// and a summary line per epoch (standard output), and writing metrics, checkpoints and plots
/// into the run directory. The defaults train LeNet-5 to about 99% test accuracy.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on MNIST (the default command).",
        discussion: """
        Writes RUN_DIR/metrics.jsonl (one JSON object per epoch), checkpoint-last.safetensors, \
        checkpoint-best.safetensors, curves.svg and filters.png after every epoch. MNIST is read from --data, \
        else $CONVKIT_MNIST_DIR, else ../shared/data/mnist, else downloaded into the cache. \
        With --resume the run continues exactly where the checkpoint left off, with the checkpoint's \
        settings (only --epochs may raise the total).
        """
    )

    @Option(help: "Model: lenet5, alexnet or mobilenet. (default: lenet5)")
    var model: String?

    @Option(help: "Data set: mnist.")
    var dataset = "mnist"

    @Option(help: "Directory holding the four MNIST .gz files.")
    var data: String?

    @Option(help: "Cache directory for downloaded data (default: $CONVKIT_CACHE_DIR or ~/.cache/convkit).")
    var cacheDir: String?

    @Option(help: "Total number of epochs. (default: 10)")
    var epochs: Int?

    @Option(help: "Training images per step. (default: 64)")
    var batchSize: Int?

    @Option(help: "Initial learning rate. (default: 0.05 for sgd, 0.001 for adam/adamw)")
    var lr: Float?

    @Option(help: "Optimizer: sgd, adam or adamw. (default: sgd)")
    var optimizer: String?

    @Option(help: "SGD momentum. (default: 0.9)")
    var momentum: Float?

    @Option(help: "Weight decay. (default: 0.0005)")
    var weightDecay: Float?

    @Option(help: "Learning-rate schedule: none, step or cosine. (default: cosine)")
    var schedule: String?

    @Option(help: "Augmentation: zero-pad training images by N pixels and crop a random 28×28 window (0: none). (default: 2)")
    var cropPadding: Int?

    @Option(help: "Device: cpu, cuda or auto.")
    var device = "auto"

    @Option(help: "Seed of the weights, the batch order and dropout. (default: 1)")
    var seed: UInt64?

    @Option(help: "Run directory for metrics, checkpoints and plots.")
    var out = "runs/latest"

    @Flag(help: "Check every op's output and gradient for NaN or infinity and stop at the first, naming the op (slow).")
    var detectAnomaly = false

    @Option(help: "Continue from this checkpoint (e.g. RUN_DIR/checkpoint-last.safetensors).")
    var resume: String?

    @Option(help: "Train on the first N training images only.")
    var limitTrain: Int?

    @Option(help: "Test on the first N test images only.")
    var limitTest: Int?

    func validate() throws {
        try runReportingErrors {
            _ = try freshConfiguration()  // the flags given, in range (on resume they are compared with the checkpoint in run())
            try requireDirectory("--data", data, mustExist: true)
            try requireDirectory("--cache-dir", cacheDir, mustExist: false)
            if !["cpu", "cuda", "auto"].contains(device) {
                throw ConvKitError.invalidArgument(op: "train", message: "--device must be cpu, cuda or auto, got '\(device)'")
            }
        }
    }

    /// The configuration of a new run: the defaults with the flags given.
    func freshConfiguration() throws -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.dataset = dataset
        if let model { c.model = model }
        if let epochs { c.epochs = epochs }
        if let batchSize { c.batchSize = batchSize }
        if let optimizer { c.optimizer = optimizer }
        c.learningRate = lr ?? (c.optimizer == "sgd" ? 0.05 : 1e-3)
        if let momentum { c.momentum = momentum }
        if let weightDecay { c.weightDecay = weightDecay }
        if let schedule { c.schedule = schedule }
        if let seed { c.seed = seed }
        if let cropPadding { c.cropPadding = cropPadding }
        c.limitTrain = limitTrain
        c.limitTest = limitTest
        try c.validate()
        return c
    }

    /// The checkpoint's configuration with `--epochs` applied; any other flag given must agree with it.
    static func checkOverrides(_ command: TrainCommand, _ saved: TrainingConfiguration) throws -> TrainingConfiguration {
        var c = saved
        if let epochs = command.epochs { c.epochs = epochs }
        func same<T: Equatable>(_ flag: String, _ given: T?, _ stored: T) throws {
            if let given, given != stored {
                throw ConvKitError.invalidArgument(op: "train", message: "--\(flag) \(given) differs from the checkpoint's \(stored); "
                    + "a resumed run keeps the checkpoint's settings (only --epochs may change)")
            }
        }
        try same("dataset", command.dataset, saved.dataset)
        try same("batch-size", command.batchSize, saved.batchSize)
        try same("optimizer", command.optimizer, saved.optimizer)
        try same("lr", command.lr, saved.learningRate)
        try same("momentum", command.momentum, saved.momentum)
        try same("weight-decay", command.weightDecay, saved.weightDecay)
        try same("schedule", command.schedule, saved.schedule)
        try same("seed", command.seed, saved.seed)
        try same("crop-padding", command.cropPadding, saved.cropPadding)
        try same("limit-train", command.limitTrain, saved.limitTrain ?? 60_000)
        try same("limit-test", command.limitTest, saved.limitTest ?? 10_000)
        if let given = command.model, given != saved.model {
            throw ConvKitError.invalidArgument(op: "train", message: "the checkpoint is for model '\(saved.model)' but --model \(given) was given")
        }
        try c.validate()
        return c
    }

    func run() throws {
        try runReportingErrors { try train() }
    }

    private func train() throws {
        var configuration = try freshConfiguration()
        var checkpoint: Checkpoint?
        if let resume {
            let loaded = try Checkpoint.load(from: URL(fileURLWithPath: resume))
            guard let stored = loaded.metadata[Trainer.configurationKey] else {
                throw ConvKitError.invalidArgument(op: "train", message: "\(resume) was not written by convkit train (it has no training configuration)")
            }
            configuration = try TrainCommand.checkOverrides(self, try TrainingConfiguration.parse(json: stored))
            checkpoint = loaded
        }
        let device = try resolveDevice(device)
        let outURL = URL(fileURLWithPath: out, isDirectory: true)
        try Trainer.prepare(runDirectory: outURL)
        let dataDirectory = data.map { URL(fileURLWithPath: $0, isDirectory: true) }
        let cacheRoot = cacheDir.map { URL(fileURLWithPath: $0, isDirectory: true) }
        let trainSet = try MNISTLocation.load(split: .train, limit: configuration.limitTrain, directory: dataDirectory, cacheRoot: cacheRoot)
        let testSet = try MNISTLocation.load(split: .test, limit: configuration.limitTest, directory: dataDirectory, cacheRoot: cacheRoot)
        let trainer = try Trainer(configuration: configuration, train: trainSet, test: testSet, device: device,
                                  runDirectory: outURL, resumeFrom: checkpoint)
        trainer.progress = ProgressBar()
        trainer.detectAnomaly = detectAnomaly
        let c = configuration
        print("convkit train: \(c.model) (\(trainer.model.parameterCount) parameters) on \(c.dataset), \(trainSet.count) train / "
            + "\(testSet.count) test images, \(device); \(c.optimizer) lr \(c.learningRate)"
            + (c.optimizer == "sgd" ? " momentum \(c.momentum)" : "") + " weight decay \(c.weightDecay), schedule \(c.schedule), "
            + (c.cropPadding > 0 ? "random crops (padding \(c.cropPadding)), " : "") + "batch \(c.batchSize), \(c.epochs) epochs, seed \(c.seed); run directory \(out)")
        if let checkpoint {
            let steps = trainer.stepsDoneInCurrentEpoch
            print(steps > 0 ? "resuming in epoch \(checkpoint.epoch + 1) after step \(steps) of \(trainer.trainLoader.batchCount) from \(resume!)"
                            : "resuming after epoch \(checkpoint.epoch) from \(resume!)")
        }
        if trainer.completedEpochs >= c.epochs {
            print("the checkpoint has already completed \(trainer.completedEpochs) of \(c.epochs) epochs; raise --epochs to train further")
        }
        fflush(stdout)
        let interrupts = StopOnInterrupt(trainer)
        defer { interrupts.restore() }
        while trainer.completedEpochs < c.epochs {
            let m: EpochMetrics
            do { m = try trainer.runEpoch() } catch let stopped as TrainingStopped {
                FileHandle.standardError.write(Data("\nconvkit: \(stopped.description)\n".utf8))
                throw ExitCode(130)  // the shell's code for a run ended by Ctrl-C
            }
            print(String(format: "epoch %d/%d  train loss %.4f  test loss %.4f  test accuracy %.2f%%  lr %.5g  %.0f img/s  %.1f s",
                         m.epoch, c.epochs, m.trainLoss, m.testLoss, m.testAccuracy * 100, m.learningRate, m.imagesPerSecond, m.seconds))
            fflush(stdout)
        }
        if let best = trainer.history.max(by: { $0.testAccuracy < $1.testAccuracy }) {
            print(String(format: "best test accuracy %.2f%% (epoch %d); checkpoints, metrics.jsonl, curves.svg and filters.png in %@",
                         best.testAccuracy * 100, best.epoch, out))
        }
    }
}

/// While it lives, the first SIGINT (Ctrl-C) or SIGTERM asks the trainer to stop after the current
/// step and save a checkpoint; a second one ends the process at once (checkpoint writes are
/// atomic, so even then no file is left half-written).
final class StopOnInterrupt {
    private var sources: [DispatchSourceSignal] = []
    private static let signals = [SIGINT, SIGTERM]

    init(_ trainer: Trainer) {
        for signalNumber in StopOnInterrupt.signals {
            signal(signalNumber, SIG_IGN)  // delivered to the dispatch source instead
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                if trainer.isStopRequested {
                    signal(signalNumber, SIG_DFL)
                    kill(getpid(), signalNumber)
                    return
                }
                trainer.requestStop()
                FileHandle.standardError.write(Data(("\nconvkit: stopping after this step and saving a checkpoint "
                    + "(press Ctrl-C again to quit at once)\n").utf8))
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Gives the signals back their default meaning.
    func restore() {
        for source in sources { source.cancel() }
        sources.removeAll()
        for signalNumber in StopOnInterrupt.signals { signal(signalNumber, SIG_DFL) }
    }
}
