import Foundation

/// The models the `convkit` command line can train, by name, with the input they expect.
///
/// A model's name and `configuration` string are stored in every checkpoint, so `eval`,
/// `predict` and `--resume` rebuild exactly the architecture that was saved.
public enum ModelZoo {
    /// The names `make(name:)` accepts: `lenet5`, `alexnet` (AlexNet sized for 28×28) and `mobilenet`.
    public static let names = ["lenet5", "alexnet", "mobilenet"]

    /// The input every model of the zoo takes: one channel of 28×28 pixels (MNIST).
    public static let inputChannels = 1
    /// The height and width of the zoo's inputs.
    public static let inputSize = 28
    /// The number of classes (digits 0–9).
    public static let classes = 10

    /// The configuration string stored with a checkpoint of model `name` (a short JSON object
    /// of the constructor arguments), checked when the checkpoint is loaded.
    public static func configuration(name: String) throws -> String {
        try requireKnown(name)
        return "{\"name\":\"\(name)\",\"input_channels\":\(inputChannels),\"input_size\":\(inputSize),\"classes\":\(classes)}"
    }

    /// A freshly initialised model (weights drawn from `RandomState`).
    /// - Throws: `ConvKitError.invalidArgument` naming the known models for an unknown `name`.
    public static func make(name: String) throws -> Module {
        try requireKnown(name)
        switch name {
        case "lenet5": return try LeNet5(classes: classes, inputChannels: inputChannels)
        case "alexnet": return try AlexNet.small(inputChannels: inputChannels, classes: classes)
        default: return try MobileNet(inputChannels: inputChannels, classes: classes)
        }
    }

    /// The weight `[outC, inC, kH, kW]` of the first `Conv2d` in `model` (state-dict order), or nil.
    public static func firstConvolutionWeight(of model: Module) -> Tensor? {
        for (_, module) in model.namedModules() {
            if let conv = module as? Conv2d { return conv.weight }
        }
        return nil
    }

    private static func requireKnown(_ name: String) throws {
        try require(names.contains(name), "model", "unknown model '\(name)'; expected one of \(names.joined(separator: ", "))")
    }
}
