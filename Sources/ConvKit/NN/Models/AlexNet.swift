/// AlexNet with torchvision's layout and names, so a torchvision state dict loads unchanged.
///
/// `features`: 0 `Conv2d(3, 64, 11, stride 4, padding 2)`, 1 ReLU, 2 `MaxPool2d(3, 2)`,
/// 3 `Conv2d(64, 192, 5, padding 2)`, 4 ReLU, 5 `MaxPool2d(3, 2)`, 6 `Conv2d(192, 384, 3, padding 1)`,
/// 7 ReLU, 8 `Conv2d(384, 256, 3, padding 1)`, 9 ReLU, 10 `Conv2d(256, 256, 3, padding 1)`, 11 ReLU,
/// 12 `MaxPool2d(3, 2)`; `avgpool`: `AdaptiveAvgPool2d(6)`; flatten; `classifier`: 0 Dropout,
/// 1 `Linear(9216, 4096)`, 2 ReLU, 3 Dropout, 4 `Linear(4096, 4096)`, 5 ReLU, 6 `Linear(4096, classes)`.
///
/// With `localResponseNorm: true`, the original paper's `LocalResponseNorm(size 5, alpha 1e-4,
/// beta 0.75, k 2)` follows each of the first two ReLUs, so the later feature indices shift:
/// 0 conv, 1 ReLU, 2 LRN, 3 pool, 4 conv, 5 ReLU, 6 LRN, 7 pool, 8 conv, … 14 pool (the
/// convolutions are `features.0, 4, 8, 10, 12`); such a model does not load a torchvision state dict.
///
/// `AlexNet.small(…)` builds the same design scaled down for 28×28 or 32×32 images.
public final class AlexNet: Module {
    /// The convolution, ReLU, (LRN) and pooling layers.
    public let features: Sequential
    /// The adaptive average pooling between the features and the classifier.
    public let avgpool: AdaptiveAvgPool2d
    /// The dropout, fully-connected and ReLU layers.
    public let classifier: Sequential
    /// Channels of the input images.
    public let inputChannels: Int
    /// Number of output classes.
    public let classes: Int

    /// The sizes of one AlexNet variant.
    private struct Configuration {
        var inputChannels: Int
        var convChannels: [Int]
        var firstKernel: Int, firstStride: Int, firstPadding: Int
        var secondKernel: Int, secondPadding: Int
        var pool: (kernel: Int, stride: Int, padding: Int)
        var pooledSize: Int
        var hidden: Int
    }

    /// torchvision's AlexNet for 3-channel images (224×224 as usual; at least 63×63).
    ///
    /// - Parameters:
    ///   - classes: number of outputs.
    ///   - dropout: the classifier's dropout probability.
    ///   - localResponseNorm: insert the paper's LRN layers after the first two ReLUs (see above).
    /// - Throws: `ConvKitError.invalidArgument` for a non-positive `classes` or a `dropout` outside [0, 1].
    public convenience init(classes: Int = 1000, dropout: Float = 0.5, localResponseNorm: Bool = false) throws {
        try self.init(Configuration(inputChannels: 3, convChannels: [64, 192, 384, 256, 256],
                                    firstKernel: 11, firstStride: 4, firstPadding: 2, secondKernel: 5, secondPadding: 2,
                                    pool: (3, 2, 0), pooledSize: 6, hidden: 4096),
                      classes: classes, dropout: dropout, localResponseNorm: localResponseNorm)
    }

    /// AlexNet scaled down for small images (28×28 MNIST, 32×32 CIFAR; any size runs, the adaptive
    /// pooling repeating maps smaller than 4×4):
    /// the same 5 convolutions, 3 overlapping max poolings, adaptive average pooling and 3
    /// fully-connected layers with dropout, with torchvision's names and indices.
    ///
    /// `features`: 0 `Conv2d(inputChannels, 16w, 5, padding 2)`, 1 ReLU, 2 `MaxPool2d(3, 2, padding 1)`,
    /// 3 `Conv2d(16w, 48w, 3, padding 1)`, 4 ReLU, 5 `MaxPool2d(3, 2, padding 1)`,
    /// 6 `Conv2d(48w, 96w, 3, padding 1)`, 7 ReLU, 8 `Conv2d(96w, 64w, 3, padding 1)`, 9 ReLU,
    /// 10 `Conv2d(64w, 64w, 3, padding 1)`, 11 ReLU, 12 `MaxPool2d(3, 2, padding 1)` (28 → 14 → 7 → 4,
    /// 32 → 16 → 8 → 4); `avgpool`: `AdaptiveAvgPool2d(4)`; `classifier`: 0 Dropout,
    /// 1 `Linear(64w·16, 512w)`, 2 ReLU, 3 Dropout, 4 `Linear(512w, 512w)`, 5 ReLU, 6 `Linear(512w, classes)`,
    /// where each width `n·w` is `max(1, round(n·widthMultiplier))`. LRN as in `init`.
    ///
    /// - Throws: `ConvKitError.invalidArgument` for a non-positive `inputChannels`, `classes` or
    ///   `widthMultiplier`, or a `dropout` outside [0, 1].
    public static func small(inputChannels: Int = 1, classes: Int = 10, dropout: Float = 0.5,
                             localResponseNorm: Bool = false, widthMultiplier: Float = 1) throws -> AlexNet {
        try require(widthMultiplier > 0 && widthMultiplier.isFinite, "AlexNet", "widthMultiplier must be positive, got \(widthMultiplier)")
        let scaled = { (n: Int) in max(1, Int((Float(n) * widthMultiplier).rounded())) }
        return try AlexNet(Configuration(inputChannels: inputChannels, convChannels: [16, 48, 96, 64, 64].map(scaled),
                                         firstKernel: 5, firstStride: 1, firstPadding: 2, secondKernel: 3, secondPadding: 1,
                                         pool: (3, 2, 1), pooledSize: 4, hidden: scaled(512)),
                           classes: classes, dropout: dropout, localResponseNorm: localResponseNorm)
    }

    private init(_ c: Configuration, classes: Int, dropout: Float, localResponseNorm: Bool) throws {
        try require(classes > 0, "AlexNet", "classes must be positive, got \(classes)")
        try require(c.inputChannels > 0, "AlexNet", "inputChannels must be positive, got \(c.inputChannels)")
        try require(dropout >= 0 && dropout <= 1, "AlexNet", "dropout probability has to be between 0 and 1, but got \(dropout)")
        inputChannels = c.inputChannels
        self.classes = classes
        let ch = c.convChannels
        func pool() throws -> MaxPool2d { try MaxPool2d(kernelSize: Size2d(c.pool.kernel), stride: Size2d(c.pool.stride), padding: Size2d(c.pool.padding)) }
        func lrn() throws -> [Module] { localResponseNorm ? [try LocalResponseNorm(size: 5, alpha: 1e-4, beta: 0.75, k: 2)] : [] }
        var layers: [Module] = [try Conv2d(inChannels: c.inputChannels, outChannels: ch[0], kernelSize: Size2d(c.firstKernel),
                                           stride: Size2d(c.firstStride), padding: .explicit(Size2d(c.firstPadding))), ReLU()]
        layers += try lrn()
        layers += [try pool(), try Conv2d(inChannels: ch[0], outChannels: ch[1], kernelSize: Size2d(c.secondKernel),
                                          padding: .explicit(Size2d(c.secondPadding))), ReLU()]
        layers += try lrn()
        layers += [try pool(),
                   try Conv2d(inChannels: ch[1], outChannels: ch[2], kernelSize: 3, padding: 1), ReLU(),
                   try Conv2d(inChannels: ch[2], outChannels: ch[3], kernelSize: 3, padding: 1), ReLU(),
                   try Conv2d(inChannels: ch[3], outChannels: ch[4], kernelSize: 3, padding: 1), ReLU(),
                   try pool()]
        features = Sequential(layers)
        avgpool = try AdaptiveAvgPool2d(outputSize: Size2d(c.pooledSize))
        classifier = Sequential(
            try Dropout(p: dropout), try Linear(inFeatures: ch[4] * c.pooledSize * c.pooledSize, outFeatures: c.hidden), ReLU(),
            try Dropout(p: dropout), try Linear(inFeatures: c.hidden, outFeatures: c.hidden), ReLU(),
            try Linear(inFeatures: c.hidden, outFeatures: classes))
    }

    /// `features`, `avgpool`, `classifier`.
    public override func namedChildren() -> [(String, Module)] {
        [("features", features), ("avgpool", avgpool), ("classifier", classifier)]
    }

    /// Logits `[N, classes]` for images `[N, inputChannels, H, W]`.
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `AlexNet`) for an input that is not 4-D, has the
    ///   wrong number of channels, or is too small for the feature layers (the message names the
    ///   smallest size accepted).
    public override func forward(_ input: Tensor) throws -> Tensor {
        try ModelInput.requireImages(input, model: "AlexNet", channels: inputChannels)
        try ModelInput.requireLargeEnough(input, model: "AlexNet", features: features)
        return try classifier(avgpool(features(input)).flatten(startDim: 1))
    }
}
