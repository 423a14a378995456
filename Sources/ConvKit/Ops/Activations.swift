/// Argument checks shared by the NN ops (linear, activations, normalisation, softmax, losses).
enum NNOpChecks {
    /// Requires a `float32` tensor, naming the op and argument.
    static func requireFloat(_ t: Tensor, _ op: String, _ argument: String) throws {
        try require(t.dtype == .float32, op, "\(argument) must be float32, got \(t.dtype)")
    }

    /// Requires `t` to live on `device`, naming the op and argument.
    static func requireDevice(_ t: Tensor, _ device: Device, _ op: String, _ argument: String) throws {
        try require(t.device == device, op, "\(argument) is on \(t.device) but input is on \(device)")
    }

    /// `dim` made non-negative for a tensor of `rank` (a scalar accepts 0 and -1, as PyTorch).
    static func normalizedDim(_ dim: Int, rank: Int, _ op: String) throws -> Int {
        let extent = Swift.max(rank, 1)
        try require(dim >= -extent && dim < extent, op,
                    "dim \(dim) is out of range for a tensor of rank \(rank) (expected in [\(-extent), \(extent - 1)])")
        return dim < 0 ? dim + extent : dim
    }
}

/// Rectified linear unit, `max(x, 0)` elementwise (NaN stays NaN), as `torch.relu`.
///
/// The gradient is `g` where the output is positive and 0 elsewhere (0 at exactly 0, as PyTorch).
public func relu(_ x: Tensor) throws -> Tensor {
    try NNOpChecks.requireFloat(x, "relu", "input")
    let b = try backend(for: x.device)
    let output = try Tensor.empty(x.shape, on: x.device)
    try b.reluForward(input: x.storage, output: output.storage, count: x.count)
    let saved = output.storage
    return try Autograd.record(output, op: "relu", inputs: [x]) { grad in
        let gradInput = try Tensor.empty(grad.shape, on: grad.device)
        try b.reluBackward(gradOutput: grad.storage, output: saved, gradInput: gradInput.storage, count: grad.count)
        return [gradInput]
    }
}

/// Inverted dropout, as `torch.nn.functional.dropout`: while `training`, each element is zeroed
/// with probability `p` and the kept ones are scaled by `1 / (1 − p)`, so the expected value is
/// unchanged; `p = 1` gives zeros (NaN inputs stay NaN, since they are multiplied by 0, as in PyTorch).
/// With `training == false` the input itself is returned.
///
/// The mask comes from the counter-based `Philox` stream for `seed`: element `i` is kept when
/// `Philox.unitFloat(word) >= p`, `word` being word `i % 4` of `Philox.block(seed:counter: i / 4)`.
/// It therefore depends only on the seed and the element's position, never on how the work is
/// split across threads or devices; the backward pass regenerates the same mask.
///
/// - Parameters:
///   - p: the probability of dropping an element, in [0, 1].
///   - seed: the mask's seed; `nil` draws a fresh one from the default generator (`RandomState`).
/// - Throws: `ConvKitError.invalidArgument` when `p` is outside [0, 1] or `x` is not float32.
public func dropout(_ x: Tensor, p: Float = 0.5, training: Bool = true, seed: UInt64? = nil) throws -> Tensor {
    try require(p >= 0 && p <= 1, "dropout", "probability p has to be between 0 and 1, but got \(p)")
    try NNOpChecks.requireFloat(x, "dropout", "input")
    guard training else { return x }
    let b = try backend(for: x.device)
    let maskSeed = seed ?? RandomState.nextSeed()
    let output = try Tensor.empty(x.shape, on: x.device)
    try b.dropoutForward(input: x.storage, output: output.storage, count: x.count, p: p, seed: maskSeed)
    return try Autograd.record(output, op: "dropout", inputs: [x]) { grad in
        let gradInput = try Tensor.empty(grad.shape, on: grad.device)
        try b.dropoutBackward(gradOutput: grad.storage, gradInput: gradInput.storage, count: grad.count, p: p, seed: maskSeed)
        return [gradInput]
    }
}
