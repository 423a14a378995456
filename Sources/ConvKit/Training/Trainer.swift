import Foundation
import Synchronization

/// Receives a training run's progress (the command line draws a progress bar from it).
public protocol TrainingProgress: AnyObject {
    /// Epoch `epoch` (from 1) of `totalEpochs` starts: `batches` steps over `images` images.
    func epochStarted(epoch: Int, totalEpochs: Int, batches: Int, images: Int)
    /// Step `batch` (from 1) of the epoch ended; `imagesSoFar` images in `elapsed` seconds, and the running mean loss.
    func batchFinished(batch: Int, batches: Int, imagesSoFar: Int, meanLoss: Double, elapsed: Double)
    /// The epoch's training steps are done; evaluation on the test set follows.
    func evaluationStarted(epoch: Int)
    /// The epoch is complete and its files are written.
    func epochFinished(_ metrics: EpochMetrics)
}

/// Trains a `ModelZoo` model on a data set: the loop, evaluation, checkpoints, metrics and plots.
///
/// Each step is `zeroGrad`, forward, `crossEntropy`, `backward`, optimizer `step`; the schedule
/// steps once per epoch. Everything random comes from the seed: the weights (`RandomState`
/// seeded with it), the batch order (`DataLoader` seeded with it, a function of the epoch) and
/// dropout (the default generator). A checkpoint holds the model, optimizer, schedule, epoch and
/// generator position, so a run resumed from it computes what the uninterrupted run computes.
///
/// With a run directory, after every epoch the trainer (re)writes `metrics.jsonl`,
/// `checkpoint-last.safetensors`, `checkpoint-best.safetensors` (best test accuracy so far),
/// `curves.svg` and `filters.png` (the first convolution layer's filters).
public final class Trainer {
    /// The file names written into the run directory.
    public enum RunFile {
        /// One JSON object per epoch.
        public static let metrics = "metrics.jsonl"
        /// The checkpoint after the latest epoch.
        public static let lastCheckpoint = "checkpoint-last.safetensors"
        /// The checkpoint of the epoch with the best test accuracy.
        public static let bestCheckpoint = "checkpoint-best.safetensors"
        /// Loss and accuracy curves.
        public static let curves = "curves.svg"
        /// The first convolution layer's filters.
        public static let filters = "filters.png"
    }

    /// Checkpoint metadata key of the training configuration (JSON).
    public static let configurationKey = "train.config"
    /// Checkpoint metadata key of the metrics of the epochs so far (JSON lines).
    public static let historyKey = "train.history"
    /// Checkpoint metadata key of the data set name.
    public static let datasetKey = "train.dataset"
    /// Checkpoint metadata key of a stopped epoch's position: the steps of epoch `epoch + 1`
    /// already done, their summed loss, images and seconds (JSON). Absent at an epoch's end.
    public static let partialEpochKey = "train.partial_epoch"

    /// The run's settings.
    public let configuration: TrainingConfiguration
    /// The model being trained.
    public let model: Module
    /// The optimizer over the model's parameters.
    public let optimizer: Optimizer
    /// The learning-rate schedule, if any.
    public let schedule: LearningRateSchedule?
    /// Shuffled training batches (seeded with `configuration.seed`), normalised as `Normalization.mnist`.
    public let trainLoader: DataLoader
    /// Test batches in order.
    public let testLoader: DataLoader
    /// Where the run's files go (nil: nowhere).
    public let runDirectory: URL?
    /// Epochs completed (including those before a resume).
    public private(set) var completedEpochs = 0
    /// Optimizer steps completed.
    public private(set) var globalStep = 0
    /// The metrics of every completed epoch.
    public private(set) var history: [EpochMetrics] = []
    /// Receives progress; may be nil.
    public var progress: TrainingProgress?
    /// Check every op's output and every gradient for NaN and infinity (`Autograd.withAnomalyDetection`)
    /// and stop at the first with its op's name; slow, for finding where a run diverges.
    public var detectAnomaly = false
    /// Set by `requestStop()` (from any thread or a signal handler's queue).
    private let stopRequested = Atomic<Bool>(false)
    /// Where the epoch in progress resumes: steps already done and their loss, images and seconds.
    private var partialEpoch = PartialEpoch()

    /// A trainer for `configuration` on `train`/`test`, optionally continuing `checkpoint`.
    ///
    /// Seeds `RandomState` with the configuration's seed and builds the model on `device`; a
    /// checkpoint then overwrites the model, optimizer, schedule, epoch and generator position.
    /// - Throws: `ConvKitError.invalidArgument` for an invalid configuration or a checkpoint of
    ///   another model or configuration; `ConvKitError.io` when the run directory cannot be created.
    public init(configuration: TrainingConfiguration, train: any Dataset, test: any Dataset, device: Device = .cpu,
                runDirectory: URL? = nil, resumeFrom checkpoint: Checkpoint? = nil) throws {
        try configuration.validate()
        self.configuration = configuration
        self.runDirectory = runDirectory
        if let runDirectory { try Trainer.prepare(runDirectory: runDirectory) }
        RandomState.seed(configuration.seed)
        model = try ModelZoo.make(name: configuration.model)
        try model.to(device)
        optimizer = try configuration.makeOptimizer(parameters: model.parameters())
        schedule = try configuration.makeSchedule(optimizer: optimizer)
        trainLoader = try DataLoader(dataset: train, batchSize: configuration.batchSize, shuffle: true, seed: configuration.seed,
                                     normalization: .mnist, augmentation: Augmentation(randomCropPadding: configuration.cropPadding),
                                     device: device)
        testLoader = try DataLoader(dataset: test, batchSize: max(configuration.batchSize, 256), normalization: .mnist, device: device)
        if let checkpoint {
            if let stored = checkpoint.metadata[Trainer.configurationKey] {
                var saved = try TrainingConfiguration.parse(json: stored)
                saved.epochs = configuration.epochs
                var given = configuration
                given.epochs = saved.epochs
                if saved != given {
                    throw ConvKitError.invalidArgument(op: "resume", message: "the checkpoint was trained with \(try saved.json()), which differs from \(try given.json())")
                }
            }
            try checkpoint.apply(to: model, modelName: configuration.model, modelConfig: try ModelZoo.configuration(name: configuration.model),
                                 optimizer: optimizer, schedule: schedule, restoreRandomState: true)
            completedEpochs = checkpoint.epoch
            globalStep = checkpoint.globalStep
            if let lines = checkpoint.metadata[Trainer.historyKey] {
                history = try lines.split(separator: "\n").map { try EpochMetrics.parse(jsonLine: String($0)) }
            }
            if let partial = checkpoint.metadata[Trainer.partialEpochKey] {
                partialEpoch = try PartialEpoch.parse(json: partial)
                try require(partialEpoch.steps < trainLoader.batchCount, "resume",
                            "the checkpoint stopped after step \(partialEpoch.steps) of an epoch that has \(trainLoader.batchCount) steps")
            }
            // The checkpoint is written before the metrics and curves, so a run killed between the
            // two left them an epoch short: make them agree with the checkpoint again.
            if let runDirectory, !history.isEmpty {
                try writeMetrics(runDirectory)
                try writeCurves(runDirectory)
            }
        }
    }

    /// Creates `url` (with parents), checks that files can be written in it, and deletes the
    /// temporary files that runs killed in the middle of a write left there.
    /// - Throws: `ConvKitError.io` naming the directory.
    public static func prepare(runDirectory url: URL) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ConvKitError.io(path: url.path, message: "the output path exists and is not a directory") }
        } else {
            do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
                throw ConvKitError.io(path: url.path, message: "cannot create the output directory (\(error.localizedDescription))")
            }
        }
        guard access(url.path, W_OK) == 0 else {
            throw ConvKitError.io(path: url.path, message: "the output directory is not writable: \(AtomicFile.reason())")
        }
        AtomicFile.removeStaleTemporaries(in: url)
    }

    /// Asks the run to stop at the end of the current training step: `runEpoch()` then writes
    /// `checkpoint-last.safetensors` at that step (a resume continues from the next one, computing
    /// exactly what the uninterrupted run computes) and throws `TrainingStopped`. Safe to call from
    /// any thread; a request made while the test set is evaluated stops before the next epoch's
    /// first step.
    public func requestStop() {
        stopRequested.store(true, ordering: .relaxed)
    }

    /// Steps of epoch `completedEpochs + 1` already done (non-zero after resuming a stopped run).
    public var stepsDoneInCurrentEpoch: Int { partialEpoch.steps }

    /// Whether `requestStop()` was called.
    public var isStopRequested: Bool { stopRequested.load(ordering: .relaxed) }

    /// Trains until `configuration.epochs` epochs are complete (nothing when a resumed run already is).
    /// - Returns: the metrics of the epochs run by this call.
    /// - Throws: `TrainingStopped` after `requestStop()`, once the checkpoint is written.
    @discardableResult
    public func run() throws -> [EpochMetrics] {
        var results: [EpochMetrics] = []
        while completedEpochs < configuration.epochs { results.append(try runEpoch()) }
        return results
    }

    /// Trains one epoch (or the rest of a stopped one), evaluates on the test set, steps the
    /// schedule and writes the run directory.
    /// - Throws: `TrainingStopped` after `requestStop()`, once the checkpoint of the step reached is written.
    public func runEpoch() throws -> EpochMetrics {
        let epochStart = DispatchTime.now().uptimeNanoseconds
        let epoch = completedEpochs + 1
        let learningRate = Double("\(optimizer.learningRate)") ?? Double(optimizer.learningRate)  // 0.05, not 0.0500000007
        let (trainLoss, images, trainSeconds) = try trainOneEpoch(epoch: epoch)
        if let stoppedAfter = partialEpoch.stoppedAfterStep {
            var saved: URL?
            if let runDirectory {
                saved = runDirectory.appendingPathComponent(RunFile.lastCheckpoint)
                try checkpoint().save(to: saved!)
            }
            partialEpoch.stoppedAfterStep = nil
            stopRequested.store(false, ordering: .relaxed)  // honoured: a later runEpoch() continues from here
            throw TrainingStopped(epoch: epoch, step: stoppedAfter, stepsPerEpoch: trainLoader.batchCount, checkpoint: saved)
        }
        progress?.evaluationStarted(epoch: epoch)
        let evaluation = try Trainer.evaluate(model: model, loader: testLoader, classes: ModelZoo.classes)
        schedule?.step()
        completedEpochs = epoch
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9
        let metrics = EpochMetrics(epoch: epoch, trainLoss: trainLoss, testLoss: evaluation.loss, testAccuracy: evaluation.accuracy,
                                   learningRate: learningRate, imagesPerSecond: Double(images) / max(trainSeconds, 1e-9),
                                   seconds: seconds, trainSeconds: trainSeconds)
        let bestBefore = history.map(\.testAccuracy).filter { $0.isFinite }.max()
        history.append(metrics)
        if let runDirectory {
            try writeRunFiles(runDirectory, isBest: bestBefore.map { evaluation.accuracy > $0 } ?? true)
            try writeMetrics(runDirectory)
        }
        progress?.epochFinished(metrics)
        return metrics
    }

    /// The training steps of one epoch (from `partialEpoch.steps` on a resumed one): mean loss,
    /// images and seconds. After `requestStop()` it returns early with `partialEpoch` holding the
    /// position reached and `partialEpoch.stoppedAfterStep` set.
    private func trainOneEpoch(epoch: Int) throws -> (loss: Double, images: Int, seconds: Double) {
        model.train()
        let first = partialEpoch.steps
        let batches = trainLoader.epoch(epoch - 1, startingAt: first)
        progress?.epochStarted(epoch: epoch, totalEpochs: configuration.epochs, batches: batches.count,
                               images: trainLoader.dataset.count)
        let start = DispatchTime.now().uptimeNanoseconds
        let earlierSeconds = partialEpoch.seconds
        var lossSum = partialEpoch.lossSum, images = partialEpoch.images, index = first, imagesInLossSum = images
        func elapsed() -> Double { earlierSeconds + Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        // On a GPU, reading the loss back each step would stall the queue: sum it on the device
        // and read the sum only when the progress display or the epoch's end needs it.
        let readEveryStep = model.device == .cpu
        var deviceLossSum: Tensor?
        var lastRead = DispatchTime.now().uptimeNanoseconds
        while !isStopRequested, let batch = try batches.next() {
            model.zeroGrad()
            optimizer.zeroGrad()
            let step = {
                let loss = try crossEntropy(try self.model(batch.images), batch.labels)
                try loss.backward()
                try self.optimizer.step()
                return loss
            }
            let loss = detectAnomaly ? try Autograd.withAnomalyDetection(step) : try step()
            let count = batch.labels.count
            index += 1
            if readEveryStep {
                let value = try loss.item()
                try Trainer.requireFinite(value, epoch: epoch, step: index)
                lossSum += Double(value) * Double(count)
                imagesInLossSum += count
            } else {
                let weighted = try loss.detach() * Float(count)
                deviceLossSum = try deviceLossSum.map { try $0 + weighted } ?? weighted
                let now = DispatchTime.now().uptimeNanoseconds
                if index == batches.count || now - lastRead > 500_000_000 {
                    let value = try deviceLossSum!.item()
                    try Trainer.requireFinite(value, epoch: epoch, step: index)
                    lossSum = partialEpoch.lossSum + Double(value)
                    imagesInLossSum = images + count
                    lastRead = now
                }
            }
            images += count
            globalStep += 1
            if let progress {
                progress.batchFinished(batch: index, batches: batches.count, imagesSoFar: images,
                                       meanLoss: lossSum / Double(max(imagesInLossSum, 1)), elapsed: elapsed())
            }
        }
        if let deviceLossSum, isStopRequested {  // the sum may not have been read since the last step
            let value = try deviceLossSum.item()
            try Trainer.requireFinite(value, epoch: epoch, step: index)
            lossSum = partialEpoch.lossSum + Double(value)
        }
        if index < batches.count {
            partialEpoch = PartialEpoch(steps: index, lossSum: lossSum, images: images, seconds: elapsed(), stoppedAfterStep: index)
            return (.nan, images, elapsed())
        }
        partialEpoch = PartialEpoch()
        return (images > 0 ? lossSum / Double(images) : .nan, images, elapsed())
    }

    /// Stops training when the loss (or, on a GPU, the loss summed so far) is NaN or infinite:
    /// nothing more is learnt from there, and the checkpoints already written stay as they were.
    static func requireFinite(_ value: Float, epoch: Int, step: Int) throws {
        guard !value.isFinite else { return }
        throw ConvKitError.invalidArgument(op: "train", message:
            "the training loss became \(value) in epoch \(epoch) by step \(step); the checkpoints of earlier epochs are kept. "
            + "Lower the learning rate, or rerun with --detect-anomaly to find the op that produced it")
    }

    /// Evaluates `model` (in evaluation mode, without recording gradients) on every batch of
    /// `loader`: mean cross-entropy and the confusion matrix. Leaves the model in evaluation mode.
    public static func evaluate(model: Module, loader: DataLoader, classes: Int) throws -> EvaluationResult {
        model.eval()
        var confusion = try ConfusionMatrix(classes: classes)
        var lossSum = 0.0
        try withNoGrad {
            try loader.forEachBatch(epoch: 0) { batch in
                let logits = try model(batch.images)
                try require(logits.rank == 2 && logits.shape[1] == classes, "evaluate",
                            "the model gives outputs of shape \(logits.shape), expected [N, \(classes)]")
                lossSum += Double(try crossEntropy(logits, batch.labels, reduction: .sum).item())
                let predictions = try logits.argmax(dim: 1).toIntArray()
                let truth = try batch.labels.toIntArray()
                for (t, p) in zip(truth, predictions) { try confusion.add(truth: Int(t), prediction: Int(p)) }
            }
        }
        let total = confusion.total
        return EvaluationResult(loss: total > 0 ? lossSum / Double(total) : .nan, confusion: confusion)
    }

    /// A checkpoint of the current state (model, optimizer, schedule, epoch, generator, configuration
    /// and history, and the position inside an epoch stopped by `requestStop()`).
    public func checkpoint() throws -> Checkpoint {
        var metadata = [Trainer.configurationKey: try configuration.json(),
                        Trainer.historyKey: history.map { $0.jsonLine() }.joined(separator: "\n"),
                        Trainer.datasetKey: configuration.dataset]
        if partialEpoch.steps > 0 { metadata[Trainer.partialEpochKey] = try partialEpoch.json() }
        return try Checkpoint(model: model, modelName: configuration.model,
                              modelConfig: try ModelZoo.configuration(name: configuration.model),
                              optimizer: optimizer, schedule: schedule, epoch: completedEpochs, globalStep: globalStep,
                              generator: RandomState.generatorState, metadata: metadata)
    }

    private func writeRunFiles(_ directory: URL, isBest: Bool) throws {
        let checkpoint = try self.checkpoint()
        try checkpoint.save(to: directory.appendingPathComponent(RunFile.lastCheckpoint))
        if isBest { try checkpoint.save(to: directory.appendingPathComponent(RunFile.bestCheckpoint)) }
        try writeCurves(directory)
        if let weight = ModelZoo.firstConvolutionWeight(of: model) {
            try Trainer.write(Data(try Plots.filterGridPNG(weights: weight)), to: directory.appendingPathComponent(RunFile.filters))
        }
    }

    private func writeCurves(_ directory: URL) throws {
        let svg = Plots.trainingCurvesSVG(epochs: history.map(\.epoch), trainLoss: history.map(\.trainLoss),
                                          testLoss: history.map(\.testLoss), testAccuracy: history.map(\.testAccuracy))
        try Trainer.write(Data(svg.utf8), to: directory.appendingPathComponent(RunFile.curves))
    }

    private func writeMetrics(_ directory: URL) throws {
        let text = history.map { $0.jsonLine() + "\n" }.joined()
        try Trainer.write(Data(text.utf8), to: directory.appendingPathComponent(RunFile.metrics))
    }

    private static func write(_ data: Data, to url: URL) throws {
        try AtomicFile.write(data, to: url.path)
    }
}

/// Thrown by `Trainer.runEpoch()` and `Trainer.run()` after `Trainer.requestStop()`, once the
/// checkpoint of the step reached is written (like Swift's `CancellationError`, it is the normal
/// end of a stopped run, not a failure).
public struct TrainingStopped: Error, Equatable, CustomStringConvertible {
    /// The epoch (from 1) that was stopped.
    public let epoch: Int
    /// Its steps completed before the stop.
    public let step: Int
    /// The steps of a whole epoch.
    public let stepsPerEpoch: Int
    /// The checkpoint written at the stop (nil when the trainer has no run directory).
    public let checkpoint: URL?

    /// A one-line account: where training stopped and how to continue.
    public var description: String {
        let position = "training stopped in epoch \(epoch) after step \(step) of \(stepsPerEpoch)"
        guard let checkpoint else { return position }
        return position + "; checkpoint saved to \(checkpoint.path) (continue with --resume \(checkpoint.path))"
    }
}

/// The position inside an epoch that `requestStop()` interrupted, kept in the checkpoint so that a
/// resume starts at the next batch with the epoch's loss so far.
struct PartialEpoch: Codable, Equatable {
    /// Training steps of the epoch already done (0: the epoch starts from its first batch).
    var steps = 0
    /// Their loss summed over images (per-batch mean loss × batch size).
    var lossSum = 0.0
    /// Images they covered.
    var images = 0
    /// Seconds they took.
    var seconds = 0.0
    /// Set when this run stopped after that step (not stored).
    var stoppedAfterStep: Int?

    private enum CodingKeys: String, CodingKey { case steps, lossSum = "loss_sum", images, seconds }

    func json() throws -> String {
        String(decoding: try JSONEncoder().encode(self), as: UTF8.self)
    }

    static func parse(json: String) throws -> PartialEpoch {
        do {
            let value = try JSONDecoder().decode(PartialEpoch.self, from: Data(json.utf8))
            try require(value.steps >= 0 && value.images >= 0 && value.lossSum.isFinite && value.seconds >= 0,
                        "resume", "the checkpoint's epoch position is out of range: \(json)")
            return value
        } catch let error as ConvKitError {
            throw error
        } catch {
            throw ConvKitError.invalidArgument(op: "resume", message: "the checkpoint's epoch position is not valid JSON: \(json)")
        }
    }
}
