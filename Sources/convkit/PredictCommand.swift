import ArgumentParser
import ConvKit
import Foundation

/// `convkit predict`: classifies greyscale PNG or PGM images of any size with a checkpoint.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify PNG or PGM images with a trained checkpoint (top classes with probabilities).",
        discussion: """
        Each image is converted to grey, resized to the model's 28×28 input and normalised as in training. \
        MNIST digits are light on a dark background: with --polarity auto (the default) an image whose border \
        is mostly light is inverted first.
        """
    )

    @Option(help: "Checkpoint written by convkit train.")
    var checkpoint: String

    @Option(help: "When given, the checkpoint must be of this model.")
    var model: String?

    @Option(help: "How many classes to print per image.")
    var top = 3

    @Option(help: "auto, as-is or invert: whether to invert images (dark digits on light paper) first.")
    var polarity = "auto"

    @Argument(help: "PNG or PGM images.")
    var images: [String]

    func validate() throws {
        try runReportingErrors {
            guard !images.isEmpty else { throw ConvKitError.invalidArgument(op: "predict", message: "give at least one image file") }
            guard (1...ModelZoo.classes).contains(top) else {
                throw ConvKitError.invalidArgument(op: "predict", message: "--top must be in 1...\(ModelZoo.classes), got \(top)")
            }
            guard ["auto", "as-is", "invert"].contains(polarity) else {
                throw ConvKitError.invalidArgument(op: "predict", message: "--polarity must be auto, as-is or invert, got '\(polarity)'")
            }
            if let model, !ModelZoo.names.contains(model) {
                throw ConvKitError.invalidArgument(op: "predict", message: "--model must be one of \(ModelZoo.names.joined(separator: ", ")), got '\(model)'")
            }
        }
    }

    func run() throws {
        try runReportingErrors {
            let (model, _) = try loadTrainedModel(checkpointPath: checkpoint, requested: model)
            for path in images {
                let (probabilities, inverted) = try classify(path, model: model)
                let ranked = probabilities.enumerated().sorted { $0.element > $1.element }.prefix(top)
                let text = ranked.map { String(format: "%d (%.3g%%)", $0.offset, Double($0.element) * 100) }.joined(separator: ", ")
                print("\(path): \(text)" + (inverted ? "  [inverted]" : ""))
            }
        }
    }

    /// The class probabilities of the image at `path`, and whether it was inverted.
    private func classify(_ path: String, model: Module) throws -> ([Float], Bool) {
        var image = try loadImage(path)
        let invert = polarity == "invert" || (polarity == "auto" && PredictCommand.borderMean(image) > 0.5)
        if invert { image = image.inverted() }
        let size = ModelZoo.inputSize
        let resized = (image.width, image.height) == (size, size) ? image : try image.resized(to: Size2d(size))
        let input = try (resized.toTensor() - MNIST.mean) / MNIST.std
        let logits = try withNoGrad { try model(input) }
        return (try softmax(logits, dim: 1).toArray(), invert)
    }

    /// The mean intensity of the image's outermost rows and columns.
    static func borderMean(_ image: GrayImage) -> Float {
        var sum: Float = 0, count = 0
        for y in 0..<image.height {
            for x in 0..<image.width where y == 0 || y == image.height - 1 || x == 0 || x == image.width - 1 {
                sum += image.pixels[y * image.width + x]
                count += 1
            }
        }
        return count == 0 ? 0 : sum / Float(count)
    }
}
