/// A fully-connected layer, as `torch.nn.Linear`: `y = x·weightᵀ + bias` over the last dimension,
/// with `weight` `[outFeatures, inFeatures]` and optional `bias` `[outFeatures]`.
///
/// Initialised as PyTorch's: both `U(−1/√inFeatures, 1/√inFeatures)`, drawn from `RandomState`.
public final class Linear: Module {
    /// Size of each input vector.
    public let inFeatures: Int
    /// Size of each output vector.
    public let outFeatures: Int
    /// The learnable matrix, `[outFeatures, inFeatures]`.
    public let weight: Tensor
    /// The learnable offset `[outFeatures]`, if the layer has one.
    public let bias: Tensor?

    /// Creates the layer with PyTorch's default initialisation (`in_features`, `out_features`, `bias`).
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `Linear`) for a negative size.
    public init(inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        try require(inFeatures >= 0 && outFeatures >= 0, "Linear",
                    "inFeatures and outFeatures must be non-negative, got \(inFeatures) and \(outFeatures)")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = try Tensor.zeros([outFeatures, inFeatures], requiresGrad: true)
        self.bias = bias ? try Tensor.zeros([outFeatures], requiresGrad: true) : nil
        super.init()
        try resetParameters()
    }

    /// Re-draws the parameters as PyTorch's `reset_parameters` (see `Init.pytorchLayerDefault`).
    public func resetParameters() throws {
        try withNoGrad { try Init.pytorchLayerDefault(weight: weight, bias: bias) }
    }

    /// `weight`, then `bias` when present.
    public override func namedOwnParameters() -> [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// `linear(input, weight, bias)` for `input` of shape `[…, inFeatures]`.
    public override func forward(_ input: Tensor) throws -> Tensor {
        try linear(input, weight, bias: bias)
    }
}
