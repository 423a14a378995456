import Foundation

/// Parameter initialisers, as `torch.nn.init`: each fills an existing tensor in place (its object,
/// device and place in an optimizer stay the same) with values drawn from the default generator
/// (`RandomState`), so a model built after `RandomState.seed(s)` is reproducible from `s`.
public enum Init {
    /// How Kaiming initialisation picks its fan, as PyTorch's `mode`.
    public enum FanMode: String, Sendable {
        /// The number of inputs per output (preserves the forward pass's variance).
        case fanIn
        /// The number of outputs per input (preserves the backward pass's variance).
        case fanOut
    }

    /// `(fan_in, fan_out)` of a weight shape, as PyTorch's `_calculate_fan_in_and_fan_out`:
    /// `fan_in = shape[1]·receptive field`, `fan_out = shape[0]·receptive field`, where the receptive
    /// field is the product of the dimensions after the second. For a transposed convolution's
    /// `[in, out/groups, kH, kW]` weight this gives `fan_in = out/groups·kH·kW`, as in PyTorch.
    ///
    /// - Throws: `ConvKitError.invalidArgument` for fewer than 2 dimensions.
    public static func fans(of shape: [Int]) throws -> (fanIn: Int, fanOut: Int) {
        try require(shape.count >= 2, "Init.fans", "fan in and fan out need a tensor of at least 2 dimensions, got shape \(shape)")
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// Fills `tensor` with values uniform in `[low, high)`, as `torch.nn.init.uniform_`.
    public static func uniform(_ tensor: Tensor, low: Float = 0, high: Float = 1) throws {
        try require(tensor.dtype == .float32, "Init.uniform", "tensor must be float32, got \(tensor.dtype)")
        try tensor.assign(Tensor.uniform(tensor.shape, low: low, high: high))
    }

    /// Fills `tensor` with normal values, as `torch.nn.init.normal_`.
    public static func normal(_ tensor: Tensor, mean: Float = 0, std: Float = 1) throws {
        try require(tensor.dtype == .float32, "Init.normal", "tensor must be float32, got \(tensor.dtype)")
        try tensor.assign(Tensor.normal(tensor.shape, mean: mean, std: std))
    }

    /// Fills `tensor` with `value`, as `torch.nn.init.constant_`.
    public static func constant(_ tensor: Tensor, _ value: Float) throws {
        try require(tensor.dtype == .float32, "Init.constant", "tensor must be float32, got \(tensor.dtype)")
        try backend(for: tensor.device).fill(tensor.storage, count: tensor.count, value: value)
    }

    /// The recommended gain for a nonlinearity after the layer, as `torch.nn.init.calculate_gain`
    /// for `leaky_relu` with negative slope `a` (`a = 0`: ReLU's √2).
    public static func leakyReLUGain(a: Float) -> Float { (2 / (1 + a * a)).squareRoot() }

    /// Kaiming (He) uniform initialisation, as `torch.nn.init.kaiming_uniform_` with
    /// `nonlinearity='leaky_relu'`: `U(−bound, bound)` with `bound = gain·√(3/fan)`,
    /// `gain = √(2/(1 + a²))`. PyTorch's layers use `a = √5`, which gives `bound = 1/√fan_in`.
    ///
    /// - Throws: `ConvKitError.invalidArgument` for a tensor of fewer than 2 dimensions or an empty fan.
    public static func kaimingUniform(_ tensor: Tensor, a: Float = 0, mode: FanMode = .fanIn) throws {
        let (fanIn, fanOut) = try fans(of: tensor.shape)
        let fan = mode == .fanIn ? fanIn : fanOut
        try require(fan > 0, "Init.kaimingUniform", "cannot initialise a tensor of shape \(tensor.shape): its fan is 0")
        let bound = leakyReLUGain(a: a) * (3 / Float(fan)).squareRoot()
        try uniform(tensor, low: -bound, high: bound)
    }

    /// Kaiming (He) normal initialisation, as `torch.nn.init.kaiming_normal_`: `N(0, gain²/fan)`.
    public static func kaimingNormal(_ tensor: Tensor, a: Float = 0, mode: FanMode = .fanIn) throws {
        let (fanIn, fanOut) = try fans(of: tensor.shape)
        let fan = mode == .fanIn ? fanIn : fanOut
        try require(fan > 0, "Init.kaimingNormal", "cannot initialise a tensor of shape \(tensor.shape): its fan is 0")
        try normal(tensor, std: leakyReLUGain(a: a) / Float(fan).squareRoot())
    }

    /// Xavier (Glorot) uniform initialisation, as `torch.nn.init.xavier_uniform_`:
    /// `U(−b, b)`, `b = gain·√(6/(fan_in + fan_out))`.
    public static func xavierUniform(_ tensor: Tensor, gain: Float = 1) throws {
        let (fanIn, fanOut) = try fans(of: tensor.shape)
        try require(fanIn + fanOut > 0, "Init.xavierUniform", "cannot initialise a tensor of shape \(tensor.shape): its fans are 0")
        let bound = gain * (6 / Float(fanIn + fanOut)).squareRoot()
        try uniform(tensor, low: -bound, high: bound)
    }

    @TaskLocal static var skipsLayerDefaults = false

    /// Runs `body` with the layers' default initialisation turned off: convolution and linear layers
    /// built inside keep zero parameters and draw nothing from `RandomState`. For building a large
    /// model only to load a state dict into it (as PyTorch's `skip_init`); explicit `Init` calls
    /// and BatchNorm's constant initial values are unaffected.
    public static func withoutInitialisation<T>(_ body: () throws -> T) rethrows -> T {
        try $skipsLayerDefaults.withValue(true, operation: body)
    }

    /// PyTorch's default for convolution and linear layers (`reset_parameters`): the weight from
    /// `kaiming_uniform_(a=√5)`, i.e. `U(−1/√fan_in, 1/√fan_in)`, then the bias (if any) from
    /// `U(−1/√fan_in, 1/√fan_in)` (0 bound when `fan_in` is 0), in that order. Does nothing inside
    /// `withoutInitialisation`.
    public static func pytorchLayerDefault(weight: Tensor, bias: Tensor?) throws {
        guard !skipsLayerDefaults else { return }
        let fanIn = try fans(of: weight.shape).fanIn
        let bound: Float = fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0
        if fanIn > 0 {
            try kaimingUniform(weight, a: Float(5).squareRoot())
        } else {
            try constant(weight, 0)
        }
        if let bias { try uniform(bias, low: -bound, high: bound) }
    }
}
