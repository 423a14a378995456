/// An elementwise operation of two operands, applied by `TensorKernels.binary`.
public enum BinaryOp: String, Hashable, Sendable, CaseIterable {
    /// `a + b`
    case add
    /// `a - b`
    case subtract
    /// `a * b`
    case multiply
    /// `a / b`
    case divide
    /// The larger of `a` and `b`; NaN when either is NaN (as `torch.maximum`).
    case maximum
    /// The share of `maximum(a, b)`'s gradient that goes to `a`: 0 where `a < b`, ½ where
    /// `a == b`, otherwise 1 (PyTorch's rule, NaNs included). Swap the operands for `b`'s share.
    case maximumGradientShare
}

/// An elementwise operation of one operand (and possibly a scalar), applied by `TensorKernels.unary`.
public enum UnaryOp: Hashable, Sendable {
    /// `-x`
    case negate
    /// `eˣ`
    case exp
    /// Natural logarithm.
    case log
    /// Square root.
    case sqrt
    /// `|x|`
    case abs
    /// -1, 0 or 1 (0 for ±0; NaN stays NaN).
    case sign
    /// `xᵖ`
    case power(Float)
    /// `x + s`
    case addScalar(Float)
    /// `x · s`
    case multiplyScalar(Float)
    /// `x / s`
    case divideByScalar(Float)
    /// `s - x`
    case subtractFromScalar(Float)
    /// `s / x`
    case divideScalarBy(Float)
}

/// Kernels for elementwise arithmetic with broadcasting, reductions, layout (permute, concatenation, slicing) and matmul.
///
/// Every tensor argument is a `Storage` holding a contiguous row-major array of 4-byte
/// elements; sizes and strides are in elements. Shapes arrive already validated and (for the
/// strided kernels) with mergeable dimensions merged, so a backend only loops. Outputs are fully
/// written by each kernel.
public protocol TensorKernels {
    /// `out[i] = op(a[aOffset(i)], b[bOffset(i)])` for every index `i` of `shape` (row-major,
    /// `out` contiguous), where an operand's offset is `Σ iₖ·strideₖ`; a stride of 0 broadcasts.
    /// `shape` may be empty (one element).
    func binary(_ op: BinaryOp, _ a: Storage, strides aStrides: [Int], _ b: Storage, strides bStrides: [Int],
                into out: Storage, shape: [Int]) throws

    /// `out[i] = op(input[i])` for the first `count` floats.
    func unary(_ op: UnaryOp, _ input: Storage, into out: Storage, count: Int) throws

    /// Views `input` as `[outer, reduced, inner]` and writes `out[o, i] = Σ_r input[o, r, i]`
    /// (`out` is `[outer, inner]`; zero when `reduced` is 0).
    func reduceSum(_ input: Storage, into out: Storage, outer: Int, reduced: Int, inner: Int) throws

    /// Views `input` as `[outer, reduced, inner]` (`reduced` ≥ 1) and writes, for each `(o, i)`,
    /// the largest value to `values[o, i]` and its position `r` to `indices[o, i]` (int32). The
    /// first maximum wins; the first NaN wins over any number (NaN propagates).
    func reduceMax(_ input: Storage, values: Storage, indices: Storage, outer: Int, reduced: Int, inner: Int) throws

    /// The reverse of `reduceMax`'s selection: `out` is `[outer, reduced, inner]`, zero except
    /// `out[o, indices[o, i], i] = source[o, i]`.
    func scatterAlongDim(_ source: Storage, indices: Storage, into out: Storage, outer: Int, reduced: Int, inner: Int) throws

    /// Copies 4-byte elements: for every index `i` of `shape`,
    /// `destination[destinationOffset + Σ iₖ·destinationStridesₖ] = source[sourceOffset + Σ iₖ·sourceStridesₖ]`.
    /// Permute, slice, concatenation, expand (stride 0) and their gradients are all this copy.
    func copyStrided(from source: Storage, offset sourceOffset: Int, strides sourceStrides: [Int],
                     to destination: Storage, offset destinationOffset: Int, strides destinationStrides: [Int],
                     shape: [Int]) throws

    /// For each `p` in `0..<batch`: `C[p] = op(A[p]) · op(B[p])` where `C[p]` is the contiguous
    /// `m×n` matrix at `c + p·m·n`, `A[p]` starts at `a + p·aBatchStride` and is stored `m×k`
    /// (`k×m` when `transposeA`), `B[p]` starts at `b + p·bBatchStride`, stored `k×n` (`n×k`
    /// when `transposeB`). A batch stride of 0 reuses one matrix for every `p`.
    func batchedMatmul(_ a: Storage, _ b: Storage, into c: Storage, batch: Int, m: Int, n: Int, k: Int,
                       transposeA: Bool, transposeB: Bool, aBatchStride: Int, bBatchStride: Int) throws
}
