import ArgumentParser
import ConvKit
import Foundation

/// Loads a checkpoint written by `convkit train` and rebuilds its model from the checkpoint's
/// metadata; `requested`, when given, must be the checkpoint's model.
func loadTrainedModel(checkpointPath: String, requested: String?, device: Device = .cpu) throws -> (Module, Checkpoint) {
    let checkpoint = try Checkpoint.load(from: URL(fileURLWithPath: checkpointPath))
    let name = checkpoint.modelName
    if let requested, requested != name {
        throw ConvKitError.invalidArgument(op: "checkpoint", message: "\(checkpointPath) is for model '\(name)' but --model \(requested) was given")
    }
    guard ModelZoo.names.contains(name) else {
        throw ConvKitError.invalidArgument(op: "checkpoint", message: "\(checkpointPath) holds model '\(name)', which is not one of \(ModelZoo.names.joined(separator: ", "))")
    }
    let model = try ModelZoo.make(name: name)
    do {
        try checkpoint.apply(to: model, modelName: name, modelConfig: try ModelZoo.configuration(name: name), restoreRandomState: false)
    } catch let ConvKitError.invalidArgument(op, message) {
        // The user gave a path: say which file does not fit the model.
        throw ConvKitError.invalidArgument(op: checkpointPath, message: "\(op): \(message)")
    }
    try model.to(device)
    model.eval()
    return (model, checkpoint)
}

/// `convkit eval`: the test accuracy of a checkpoint, per class, and the confusion matrix.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint on the MNIST test set: accuracy, per-class accuracy and confusion matrix."
    )

    @Option(help: "Checkpoint written by convkit train.")
    var checkpoint: String

    @Option(help: "Data set: mnist.")
    var dataset = "mnist"

    @Option(help: "Directory holding the MNIST .gz files (else $CONVKIT_MNIST_DIR, ../shared/data/mnist or the download cache).")
    var data: String?

    @Option(help: "Cache directory for downloaded data.")
    var cacheDir: String?

    @Option(help: "When given, the checkpoint must be of this model.")
    var model: String?

    @Option(help: "Evaluate the first N test images only.")
    var limit: Int?

    @Option(help: "Images per batch.")
    var batchSize = 256

    @Option(help: "Device: cpu, cuda or auto.")
    var device = "auto"

    func validate() throws {
        try runReportingErrors {
            guard dataset == "mnist" else { throw ConvKitError.invalidArgument(op: "eval", message: "--dataset must be mnist, got '\(dataset)'") }
            guard batchSize > 0 else { throw ConvKitError.invalidArgument(op: "eval", message: "--batch-size must be positive, got \(batchSize)") }
            guard batchSize <= TrainingConfiguration.maximumBatchSize else {
                throw ConvKitError.invalidArgument(op: "eval", message: "--batch-size must be at most \(TrainingConfiguration.maximumBatchSize), got \(batchSize)")
            }
            try requireDirectory("--data", data, mustExist: true)
            try requireDirectory("--cache-dir", cacheDir, mustExist: false)
            if let limit, limit <= 0 { throw ConvKitError.invalidArgument(op: "eval", message: "--limit must be positive, got \(limit)") }
            if let model, !ModelZoo.names.contains(model) {
                throw ConvKitError.invalidArgument(op: "eval", message: "--model must be one of \(ModelZoo.names.joined(separator: ", ")), got '\(model)'")
            }
            if !["cpu", "cuda", "auto"].contains(device) {
                throw ConvKitError.invalidArgument(op: "eval", message: "--device must be cpu, cuda or auto, got '\(device)'")
            }
        }
    }

    func run() throws {
        try runReportingErrors {
            let device = try resolveDevice(device)
            let (model, checkpoint) = try loadTrainedModel(checkpointPath: self.checkpoint, requested: model, device: device)
            let test = try MNISTLocation.load(split: .test, limit: limit, directory: data.map { URL(fileURLWithPath: $0, isDirectory: true) },
                                              cacheRoot: cacheDir.map { URL(fileURLWithPath: $0, isDirectory: true) })
            let loader = try DataLoader(dataset: test, batchSize: batchSize, normalization: .mnist, device: device)
            let result = try Trainer.evaluate(model: model, loader: loader, classes: ModelZoo.classes)
            print("checkpoint \(self.checkpoint): \(checkpoint.modelName), epoch \(checkpoint.epoch)")
            print(String(format: "test accuracy %.2f%% (%d/%d), test loss %.4f", result.accuracy * 100,
                         result.confusion.correct, result.count, result.loss))
            print("\nper-class accuracy:")
            for (digit, accuracy) in result.confusion.perClassAccuracy.enumerated() {
                let samples = result.confusion.counts[digit].reduce(0, +)
                print("  \(digit): " + (accuracy.map { String(format: "%6.2f%%", $0 * 100) } ?? "     -") + "  (\(samples) images)")
            }
            print("\nconfusion matrix (rows: true digit, columns: predicted digit):")
            print(result.confusion.table())
        }
    }
}
