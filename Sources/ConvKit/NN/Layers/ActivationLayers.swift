/// The rectified linear unit as a layer, as `torch.nn.ReLU`: `max(x, 0)`.
public final class ReLU: Module {
    /// Creates the layer.
    public override init() { super.init() }

    /// `relu(input)`.
    public override func forward(_ input: Tensor) throws -> Tensor { try relu(input) }
}

/// Inverted dropout as a layer, as `torch.nn.Dropout`: active in training mode, the identity in
/// evaluation mode. Each call draws a fresh mask seed from the default generator (`RandomState`),
/// so a run is reproducible from `RandomState.seed(_:)`.
public final class Dropout: Module {
    /// The probability of zeroing an element.
    public let p: Float

    /// Creates the layer (`p`, the drop probability).
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `Dropout`) when `p` is outside [0, 1].
    public init(p: Float = 0.5) throws {
        try require(p >= 0 && p <= 1, "Dropout", "dropout probability has to be between 0 and 1, but got \(p)")
        self.p = p
    }

    /// `dropout(input, p:, training: isTraining)`.
    public override func forward(_ input: Tensor) throws -> Tensor {
        try dropout(input, p: p, training: isTraining)
    }
}

/// Local response normalisation across channels as a layer, as `torch.nn.LocalResponseNorm`.
public final class LocalResponseNorm: Module {
    /// Number of neighbouring channels in each sum.
    public let size: Int
    /// Multiplicative factor.
    public let alpha: Float
    /// Exponent.
    public let beta: Float
    /// Additive factor.
    public let k: Float

    /// Creates the layer (`size`, `alpha`, `beta`, `k`, with PyTorch's defaults).
    ///
    /// - Throws: `ConvKitError.invalidArgument` (op `LocalResponseNorm`) for a non-positive size.
    public init(size: Int, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) throws {
        try require(size > 0, "LocalResponseNorm", "size must be positive, got \(size)")
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k
    }

    /// `localResponseNorm(input, size:, alpha:, beta:, k:)`.
    public override func forward(_ input: Tensor) throws -> Tensor {
        try localResponseNorm(input, size: size, alpha: alpha, beta: beta, k: k)
    }
}
