/// A MobileNet-v1-style network for small images (28×28 MNIST): a stem convolution, then
/// depthwise-separable blocks, global average pooling and a classifier.
///
/// `features.0`: `Conv2d(inputChannels, 32α, 3, stride 2, padding 1, bias: false)`, `BatchNorm2d`,
/// ReLU (the stem halves the image, as MobileNet-v1's); `features.1` … `features.5`: each a
/// depthwise-separable block `Sequential(Conv2d(C, C, 3, stride s, padding 1, groups C, bias: false),
/// BatchNorm2d(C), ReLU, Conv2d(C, C', 1, bias: false), BatchNorm2d(C'), ReLU)` with `(C', s)` =
/// (64α, 1), (128α, 2), (128α, 1), (256α, 2), (256α, 1) (28 → 14 → 7 → 4);
/// `avgpool`: `AdaptiveAvgPool2d(1)`; flatten; `classifier`: 0 Dropout,
/// 1 `Linear(256α, classes)`. Channel counts `nα` are rounded as torchvision's `_make_divisible(n·α, 8)`
/// (a multiple of 8, at least 8, never below 90% of `n·α`). State-dict names match the PyTorch class
/// in `scripts/make_model_fixtures.py` (e.g. `features.1.3.weight` is block 1's pointwise filter).
public final class MobileNet: Module {
    /// The stem and the depthwise-separable blocks.
    public let features: Sequential
    /// Global average pooling.
    public let avgpool: AdaptiveAvgPool2d
    /// Dropout and the final fully-connected layer.
    public let classifier: Sequential
    /// Channels of the input images.
    public let inputChannels: Int
    /// Number of output classes.
    public let classes: Int

    /// The block outputs and strides, before the width multiplier.
    static let blocks: [(channels: Int, stride: Int)] = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1)]

    /// Creates the network with PyTorch's default initialisation (from `RandomState`).
    ///
    /// - Parameters:
    ///   - inputChannels: channels of the input images.
    ///   - classes: number of outputs.
    ///   - widthMultiplier: MobileNet's α, scaling every layer's channel count.
    ///   - dropout: the classifier's dropout probability.
    /// - Throws: `ConvKitError.invalidArgument` for a non-positive `inputChannels`, `classes` or
    ///   `widthMultiplier`, or a `dropout` outside [0, 1].
    public init(inputChannels: Int = 1, classes: Int = 10, widthMultiplier: Float = 1, dropout: Float = 0.2) throws {
        let op = "MobileNet"
        try require(inputChannels > 0, op, "inputChannels must be positive, got \(inputChannels)")
        try require(classes > 0, op, "classes must be positive, got \(classes)")
        try require(widthMultiplier > 0 && widthMultiplier.isFinite, op, "widthMultiplier must be positive, got \(widthMultiplier)")
        try require(dropout >= 0 && dropout <= 1, op, "dropout probability has to be between 0 and 1, but got \(dropout)")
        self.inputChannels = inputChannels
        self.classes = classes
        let width = { (n: Int) in MobileNet.makeDivisible(Float(n) * widthMultiplier) }
        var channels = width(32)
        var stages: [Module] = [Sequential(
            try Conv2d(inChannels: inputChannels, outChannels: channels, kernelSize: 3, stride: 2, padding: 1, bias: false),
            try BatchNorm2d(numFeatures: channels), ReLU())]
        for block in MobileNet.blocks {
            let out = width(block.channels)
            stages.append(Sequential(
                try Conv2d(inChannels: channels, outChannels: channels, kernelSize: 3, stride: Size2d(block.stride),
                           padding: 1, groups: channels, bias: false),
                try BatchNorm2d(numFeatures: channels), ReLU(),
                try Conv2d(inChannels: channels, outChannels: out, kernelSize: 1, bias: false),
                try BatchNorm2d(numFeatures: out), ReLU()))
            channels = out
        }
        features = Sequential(stages)
        avgpool = try AdaptiveAvgPool2d(outputSize: 1)
        classifier = Sequential(try Dropout(p: dropout), try Linear(inFeatures: channels, outFeatures: classes))
    }

    /// torchvision's `_make_divisible(value, 8)`.
    static func makeDivisible(_ value: Float, divisor: Int = 8) -> Int {
        var rounded = max(divisor, Int(value + Float(divisor) / 2) / divisor * divisor)
        if Float(rounded) < 0.9 * value { rounded += divisor }
        return rounded
    }

    /// `features`, `avgpool`, `classifier`.
    public override func namedChildren() -> [(String, Module)] {
        [("features", features), ("avgpool", avgpool), ("classifier", classifier)]
    }

    /// Logits `[N, classes]` for images `[N, inputChannels, H, W]` (any size; 28×28 is the design point).
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `MobileNet`) for an input that is not 4-D or has
    ///   the wrong number of channels; BatchNorm's error for a training batch of one 1×1 value.
    public override func forward(_ input: Tensor) throws -> Tensor {
        try ModelInput.requireImages(input, model: "MobileNet", channels: inputChannels)
        try ModelInput.requireLargeEnough(input, model: "MobileNet", features: features)
        return try classifier(avgpool(features(input)).flatten(startDim: 1))
    }
}
