/// Local response normalisation across channels (AlexNet's LRN), exactly as
/// `torch.nn.functional.local_response_norm`:
///
///     y[n, c, …] = x[n, c, …] / (k + alpha/size · Σ_{c'} x[n, c', …]²)^beta
///
/// where `c'` runs over the window `[c − size/2, c + (size−1)/2]` (integer division) and channels
/// outside `[0, C)` count as zero. Note that `alpha` is divided by `size`, as PyTorch does.
///
/// - Parameters:
///   - x: `[N, C, …]` with at least 3 dimensions (dimension 1 holds the channels).
///   - size: the number of channels in the window, at least 1.
/// - Throws: `ConvKitError.invalidArgument` for fewer than 3 dimensions, `size < 1`, or a non-float32 input.
public func localResponseNorm(_ x: Tensor, size: Int, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) throws -> Tensor {
    let op = "localResponseNorm"
    try NNOpChecks.requireFloat(x, op, "input")
    try require(x.rank >= 3, op, "expected an input with 3 or more dimensions [N, C, …], got shape \(x.shape)")
    try require(size >= 1, op, "size must be at least 1, got \(size)")
    let layout = ReductionLayout(shape: x.shape, axis: 1)
    let b = try backend(for: x.device)
    let output = try Tensor.empty(x.shape, on: x.device)
    let scale = try Tensor.empty(x.shape, on: x.device)
    try b.localResponseNormForward(input: x.storage, output: output.storage, scale: scale.storage, layout: layout,
                                   size: size, alpha: alpha, beta: beta, k: k)
    let savedInput = x.storage, savedScale = scale.storage
    return try Autograd.record(output, op: op, inputs: [x]) { grad in
        let gradInput = try Tensor.empty(grad.shape, on: grad.device)
        try b.localResponseNormBackward(gradOutput: grad.storage, input: savedInput, scale: savedScale,
                                        gradInput: gradInput.storage, layout: layout, size: size, alpha: alpha, beta: beta)
        return [gradInput]
    }
}
