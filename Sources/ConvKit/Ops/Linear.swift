/// A fully-connected layer, `y = x · Wᵀ + b`, as `torch.nn.functional.linear`.
///
/// - Parameters:
///   - input: `[*, inFeatures]` (any number of leading dimensions, or just `[inFeatures]`).
///   - weight: `[outFeatures, inFeatures]`, or `[inFeatures]` for one output that is not kept as a
///     dimension (as PyTorch).
///   - bias: `[outFeatures]` (or `[]` when there is one output feature), optional.
/// - Returns: `[*, outFeatures]` (`[*]` for a 1-D weight).
/// - Throws: `ConvKitError.invalidArgument` for wrong ranks, mismatched features, dtypes or devices,
///   e.g. `linear: input has 5 features but weight expects 4`.
public func linear(_ input: Tensor, _ weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
    let op = "linear"
    try NNOpChecks.requireFloat(input, op, "input")
    try NNOpChecks.requireFloat(weight, op, "weight")
    try NNOpChecks.requireDevice(weight, input.device, op, "weight")
    try require(input.rank >= 1, op, "input must have at least 1 dimension, got shape \(input.shape)")
    try require(weight.rank == 2 || weight.rank == 1, op,
                "weight must be 2-D [outFeatures, inFeatures] (or 1-D [inFeatures]), got shape \(weight.shape)")
    let inFeatures = input.shape[input.rank - 1]
    let outFeatures = weight.rank == 2 ? weight.shape[0] : 1
    let weightFeatures = weight.shape[weight.rank - 1]
    try require(weightFeatures == inFeatures, op,
                "input has \(inFeatures) features but weight expects \(weightFeatures) (input \(input.shape), weight \(weight.shape))")
    if let bias {
        try NNOpChecks.requireFloat(bias, op, "bias")
        try NNOpChecks.requireDevice(bias, input.device, op, "bias")
        try require(bias.shape == [outFeatures] || (bias.shape == [] && outFeatures == 1), op,
                    "bias has shape \(bias.shape) but weight \(weight.shape) expects [\(outFeatures)]")
    }
    let batch = input.shape.dropLast().reduce(1, *)
    let b = try backend(for: input.device)
    let output = try Tensor.empty(Array(input.shape.dropLast()) + (weight.rank == 2 ? [outFeatures] : []), on: input.device)
    try b.linearForward(input: input.storage, weight: weight.storage, bias: bias?.storage, output: output.storage,
                        batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
    let savedInput = input.storage, savedWeight = weight.storage
    let inputShape = input.shape, weightShape = weight.shape, biasShape = bias?.shape ?? []
    let needInput = input.requiresGrad, needWeight = weight.requiresGrad, needBias = bias?.requiresGrad ?? false
    let inputs = [input, weight] + (bias.map { [$0] } ?? [])
    return try Autograd.record(output, op: op, inputs: inputs) { grad in
        let gradInput = needInput ? try Tensor.empty(inputShape, on: grad.device) : nil
        let gradWeight = needWeight ? try Tensor.empty(weightShape, on: grad.device) : nil
        let gradBias = needBias ? try Tensor.empty(biasShape, on: grad.device) : nil
        try b.linearBackward(gradOutput: grad.storage, input: savedInput, weight: savedWeight,
                             gradInput: gradInput?.storage, gradWeight: gradWeight?.storage, gradBias: gradBias?.storage,
                             batch: batch, inFeatures: inFeatures, outFeatures: outFeatures)
        return [gradInput, gradWeight] + (inputs.count == 3 ? [gradBias] : [])
    }
}
