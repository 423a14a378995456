/// LeNet-5 for 28×28 images (MNIST), with ReLU and max pooling as is usual today.
///
/// `features`: 0 `Conv2d(inputChannels, 6, 5, padding 2)`, 1 ReLU, 2 `MaxPool2d(2)`,
/// 3 `Conv2d(6, 16, 5)`, 4 ReLU, 5 `MaxPool2d(2)`; then flatten to 400;
/// `classifier`: 0 `Linear(400, 120)`, 1 ReLU, 2 `Linear(120, 84)`, 3 ReLU, 4 `Linear(84, classes)`.
/// State-dict names (`features.0.weight`, `classifier.4.bias`, …) match the PyTorch class of the
/// same layout in `scripts/make_model_fixtures.py`.
public final class LeNet5: Module {
    /// The convolution and pooling layers.
    public let features: Sequential
    /// The fully-connected layers.
    public let classifier: Sequential
    /// Channels of the input images.
    public let inputChannels: Int
    /// Number of output classes.
    public let classes: Int

    /// Creates the network with PyTorch's default initialisation (from `RandomState`).
    ///
    /// - Throws: `ConvKitError.invalidArgument` for a non-positive `classes` or `inputChannels`.
    public init(classes: Int = 10, inputChannels: Int = 1) throws {
        try require(classes > 0, "LeNet5", "classes must be positive, got \(classes)")
        try require(inputChannels > 0, "LeNet5", "inputChannels must be positive, got \(inputChannels)")
        self.classes = classes
        self.inputChannels = inputChannels
        features = Sequential(
            try Conv2d(inChannels: inputChannels, outChannels: 6, kernelSize: 5, padding: 2), ReLU(),
            try MaxPool2d(kernelSize: 2),
            try Conv2d(inChannels: 6, outChannels: 16, kernelSize: 5), ReLU(),
            try MaxPool2d(kernelSize: 2))
        classifier = Sequential(
            try Linear(inFeatures: 400, outFeatures: 120), ReLU(),
            try Linear(inFeatures: 120, outFeatures: 84), ReLU(),
            try Linear(inFeatures: 84, outFeatures: classes))
    }

    /// `features`, `classifier`.
    public override func namedChildren() -> [(String, Module)] {
        [("features", features), ("classifier", classifier)]
    }

    /// Logits `[N, classes]` for images `[N, inputChannels, 28, 28]`.
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `LeNet5`) for any other input shape.
    public override func forward(_ input: Tensor) throws -> Tensor {
        try ModelInput.requireImages(input, model: "LeNet5", channels: inputChannels)
        try require(input.shape[2] == 28 && input.shape[3] == 28, "LeNet5",
                    "expected 28x28 images (shape [N, \(inputChannels), 28, 28]), got input of shape \(input.shape)")
        return try classifier(features(input).flatten(startDim: 1))
    }
}
