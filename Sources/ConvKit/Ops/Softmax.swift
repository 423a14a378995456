/// Softmax along `dim`, `exp(x) / Σ exp(x)`, as `torch.softmax`; numerically stable (the maximum
/// along `dim` is subtracted first, so huge logits give no overflow). A vector holding NaN gives NaN.
///
/// - Parameter dim: the dimension to normalise (negative counts from the end).
/// - Throws: `ConvKitError.invalidArgument` when `dim` is out of range or `x` is not float32.
public func softmax(_ x: Tensor, dim: Int) throws -> Tensor {
    try softmaxOp(x, dim: dim, log: false)
}

/// Log-softmax along `dim`, `x − log Σ exp(x)`, as `torch.log_softmax`, computed with
/// log-sum-exp (`x − max − log Σ exp(x − max)`), so it is finite wherever the inputs are.
///
/// - Parameter dim: the dimension to normalise (negative counts from the end).
/// - Throws: `ConvKitError.invalidArgument` when `dim` is out of range or `x` is not float32.
public func logSoftmax(_ x: Tensor, dim: Int) throws -> Tensor {
    try softmaxOp(x, dim: dim, log: true)
}

private func softmaxOp(_ x: Tensor, dim: Int, log: Bool) throws -> Tensor {
    let op = log ? "logSoftmax" : "softmax"
    try NNOpChecks.requireFloat(x, op, "input")
    let axis = try NNOpChecks.normalizedDim(dim, rank: x.rank, op)
    let layout = x.rank == 0 ? ReductionLayout(outer: 1, dim: 1, inner: 1) : ReductionLayout(shape: x.shape, axis: axis)
    let b = try backend(for: x.device)
    let output = try Tensor.empty(x.shape, on: x.device)
    try b.softmaxForward(input: x.storage, output: output.storage, layout: layout, log: log)
    let saved = output.storage
    return try Autograd.record(output, op: op, inputs: [x]) { grad in
        let gradInput = try Tensor.empty(grad.shape, on: grad.device)
        try b.softmaxBackward(gradOutput: grad.storage, output: saved, gradInput: gradInput.storage, layout: layout, log: log)
        return [gradInput]
    }
}
