// Matrix products as torch.matmul: vectors, matrices and batches with broadcast batch dims.

/// The matrix product of `a` and `b`, as `torch.matmul`:
/// - 1-D · 1-D: the dot product (a scalar);
/// - 2-D · 2-D: the matrix product;
/// - a 1-D operand is treated as a row (left) or column (right) vector and that dimension is
///   removed from the result;
/// - higher ranks: batches of matrices, the batch dimensions broadcast against each other.
public func matmul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try TensorOps.requireSameDevice([a, b], "matmul")
    try TensorOps.requireFloat(a, "matmul", "left operand")
    try TensorOps.requireFloat(b, "matmul", "right operand")
    try require(a.rank >= 1 && b.rank >= 1, "matmul",
                "both arguments need at least 1 dimension, got shapes \(a.shape) and \(b.shape)")
    let inner = (a.shape[a.rank - 1], b.rank == 1 ? b.shape[0] : b.shape[b.rank - 2])
    try require(inner.0 == inner.1, "matmul",
                "shapes \(a.shape) and \(b.shape) cannot be multiplied (inner sizes \(inner.0) and \(inner.1) differ)")
    let a2 = a.rank == 1 ? try a.reshape([1, a.shape[0]]) : a
    let b2 = b.rank == 1 ? try b.reshape([b.shape[0], 1]) : b
    let product = try TensorOps.batchedMatmul(a2, b2, transposeA: false, transposeB: false, name: "matmul")
    guard a.rank == 1 || b.rank == 1 else { return product }
    var shape = product.shape
    if b.rank == 1 { shape.removeLast() }
    if a.rank == 1 { shape.remove(at: shape.count - (b.rank == 1 ? 1 : 2)) }
    return try product.reshape(shape)
}

extension TensorOps {
    /// `op(a) · op(b)` for operands of rank ≥ 2 with broadcast batch dimensions, where `op`
    /// transposes the last two dimensions when asked. Records its own backward.
    static func batchedMatmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool, name: String) throws -> Tensor {
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (kb, n) = transposeB ? (bc, br) : (br, bc)
        try require(k == kb, name, "shapes \(a.shape) and \(b.shape) cannot be multiplied (\(m)x\(k) and \(kb)x\(n))")
        let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
        let batchShape = try TensorOps.broadcastShape(aBatch, bBatch, name)
        let batch = batchShape.reduce(1, *)
        // An operand whose batch is not the full batch and not a single matrix is expanded first.
        func operand(_ t: Tensor, _ own: [Int]) throws -> (Tensor, Int) {
            let size = t.shape[t.rank - 2] * t.shape[t.rank - 1]
            if own.reduce(1, *) == 1 { return (t, 0) }
            if own == batchShape { return (t, size) }
            return (try withNoGrad { try t.expand(to: batchShape + Array(t.shape.suffix(2))) }, size)
        }
        let (ea, aStride) = try operand(a, aBatch)
        let (eb, bStride) = try operand(b, bBatch)
        let out = try Tensor.empty(batchShape + [m, n], on: a.device)
        if out.count > 0 {
            try backend(for: a.device).batchedMatmul(ea.storage, eb.storage, into: out.storage, batch: batch, m: m, n: n, k: k,
                                                     transposeA: transposeA, transposeB: transposeB,
                                                     aBatchStride: aStride, bBatchStride: bStride)
        }
        let da = a.detach(), db = b.detach()
        return try Autograd.record(out, op: name, inputs: [a, b]) { g in
            // C = op(A)·op(B): dA = G·op(B)ᵀ (transposed back if A was), dB = op(A)ᵀ·G likewise.
            let ga: Tensor? = a.requiresGrad
                ? try (transposeA
                    ? batchedMatmul(db, g, transposeA: transposeB, transposeB: true, name: name)
                    : batchedMatmul(g, db, transposeA: false, transposeB: !transposeB, name: name)).sum(to: a.shape)
                : nil
            let gb: Tensor? = b.requiresGrad
                ? try (transposeB
                    ? batchedMatmul(g, da, transposeA: true, transposeB: transposeA, name: name)
                    : batchedMatmul(da, g, transposeA: !transposeA, transposeB: false, name: name)).sum(to: b.shape)
                : nil
            return [ga, gb]
        }
    }
}
