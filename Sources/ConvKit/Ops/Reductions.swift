// Reductions along dimensions: sum, mean, max (values and gradient), argmax.

/// The sorted, non-negative form of `dims` (all dimensions when `nil` or empty, as PyTorch).
private func reductionDims(_ dims: [Int]?, rank: Int, _ op: String) throws -> [Int] {
    guard let dims, !dims.isEmpty else { return Array(0..<rank) }
    let normalized = try dims.map { try TensorOps.normalizeDim($0, rank: rank, op) }
    try require(Set(normalized).count == normalized.count, op, "dim \(dims) appears multiple times in the list of dims")
    return normalized.sorted().filter { $0 < rank }
}

/// `shape` with `dims` set to 1 (`keepDims`) or removed.
private func reducedShape(_ shape: [Int], _ dims: [Int], keepDims: Bool) -> [Int] {
    var out: [Int] = []
    for (d, size) in shape.enumerated() {
        if dims.contains(d) { if keepDims { out.append(1) } } else { out.append(size) }
    }
    return out
}

/// `(outer, reduced, inner)` element counts around dimension `d`.
private func splitSizes(_ shape: [Int], at d: Int) -> (Int, Int, Int) {
    (shape[..<d].reduce(1, *), shape[d], shape[(d + 1)...].reduce(1, *))
}

/// Sums over `dims` (sorted, valid) with keep-dims shape, no graph. Runs of adjacent reduced
/// dimensions are reduced in one kernel call.
private func sumKeepingDims(_ x: Tensor, _ dims: [Int]) throws -> Tensor {
    var runs: [(first: Int, last: Int)] = []
    for d in dims {
        if let run = runs.last, run.last == d - 1 { runs[runs.count - 1].last = d } else { runs.append((d, d)) }
    }
    var current = x
    var shape = x.shape
    for run in runs.reversed() {
        let outer = shape[..<run.first].reduce(1, *)
        let reduced = shape[run.first...run.last].reduce(1, *)
        let inner = shape[(run.last + 1)...].reduce(1, *)
        for d in run.first...run.last { shape[d] = 1 }
        let out = try Tensor.empty(shape, on: x.device)
        if out.count > 0 {
            try backend(for: x.device).reduceSum(current.storage, into: out.storage, outer: outer, reduced: reduced, inner: inner)
        }
        current = out
    }
    return current
}

extension Tensor {
    /// The sum over `dims` (every dimension when `nil` or empty, giving a scalar), as `torch.sum`.
    /// Reduced dimensions are dropped unless `keepDims`. The sum over no elements is 0.
    public func sum(dims: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
        try TensorOps.requireFloat(self, "sum")
        let d = try reductionDims(dims, rank: rank, "sum")
        let kept = d.isEmpty ? Tensor(shape: shape, storage: try Autograd.copy(self).storage) : try sumKeepingDims(self, d)
        let out = Tensor(shape: reducedShape(shape, d, keepDims: keepDims), storage: kept.storage)
        let inputShape = shape, keptShape = kept.shape
        return try Autograd.record(out, op: "sum", inputs: [self]) { g in
            [try g.reshape(keptShape).expand(to: inputShape)]
        }
    }

    /// The mean over `dims` (every dimension when `nil`), as `torch.mean`; NaN over no elements.
    public func mean(dims: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
        try TensorOps.requireFloat(self, "mean")
        let d = try reductionDims(dims, rank: rank, "mean")
        let n = d.reduce(1) { $0 * shape[$1] }
        return try sum(dims: dims, keepDims: keepDims) / Float(n)
    }

    /// The largest value along `dim` (as `torch.max(x, dim).values`). NaN propagates; the
    /// gradient goes to the first maximum, as in PyTorch.
    ///
    /// Spelled `maxValues` rather than `max`: a `Tensor` member named `max` would hide Swift's
    /// global `max(_:_:)` inside `Tensor`'s own code (Core/Tensor.swift uses it).
    public func maxValues(dim: Int, keepDims: Bool = false) throws -> Tensor {
        try maxWithIndices(dim: dim, keepDims: keepDims).values
    }

    /// The largest values along `dim` and their positions (int32), as `torch.max(x, dim)`.
    /// NaN propagates (its first position is returned); the gradient of `values` goes to the
    /// first maximum.
    public func maxWithIndices(dim: Int, keepDims: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        try TensorOps.requireFloat(self, "max")
        let (values, indices, outer, reduced, inner) = try maxAlong(dim, keepDims: keepDims, "max")
        let inputShape = shape
        let recorded = try Autograd.record(values, op: "max", inputs: [self]) { g in
            let out = try Tensor.empty(inputShape, on: g.device)
            if out.count > 0 {
                try backend(for: g.device).scatterAlongDim(g.storage, indices: indices.storage, into: out.storage,
                                                           outer: outer, reduced: reduced, inner: inner)
            }
            return [out]
        }
        return (recorded, indices)
    }

    /// The position (int32) of the largest value along `dim`, the first one when tied; NaN
    /// counts as largest (as `torch.argmax`). With `dim` nil, the position in the flattened tensor.
    public func argmax(dim: Int? = nil, keepDims: Bool = false) throws -> Tensor {
        try TensorOps.requireFloat(self, "argmax")
        guard let dim else {
            let flat = try detach().reshape([-1]).maxAlong(0, keepDims: false, "argmax").indices
            return keepDims ? try flat.reshape([Int](repeating: 1, count: rank)) : flat
        }
        return try maxAlong(dim, keepDims: keepDims, "argmax").indices
    }

    /// Values and int32 indices of the maximum along `dim`, and the kernel's view sizes.
    private func maxAlong(_ dim: Int, keepDims: Bool, _ op: String)
        throws -> (values: Tensor, indices: Tensor, outer: Int, reduced: Int, inner: Int) {
        let d = try TensorOps.normalizeDim(dim, rank: rank, op)
        let (outer, reduced, inner) = rank == 0 ? (1, 1, 1) : splitSizes(shape, at: d)
        try require(reduced > 0, op, "expected reduction dim \(d) to have non-zero size (shape \(shape))")
        let outShape = rank == 0 ? [] : reducedShape(shape, [d], keepDims: keepDims)
        let values = try Tensor.empty(outShape, on: device)
        let indices = try Tensor.empty(outShape, dtype: .int32, on: device)
        if values.count > 0 {
            try backend(for: device).reduceMax(storage, values: values.storage, indices: indices.storage,
                                         outer: outer, reduced: reduced, inner: inner)
        }
        return (values, indices, outer, reduced, inner)
    }

    /// Sums this (broadcast) gradient down to `target` shape: leading dimensions are summed
    /// away and dimensions where `target` has size 1 are summed with keep-dims.
    func sum(to target: [Int]) throws -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        precondition(lead >= 0, "sum(to:): \(shape) does not broadcast from \(target)")
        var dims = Array(0..<lead)
        for d in 0..<target.count where target[d] == 1 && shape[lead + d] != 1 { dims.append(lead + d) }
        let reduced = dims.isEmpty ? self : try sumKeepingDims(self, dims)
        return Tensor(shape: target, storage: reduced.storage)
    }
}
