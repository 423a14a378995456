// Shape-only operations (reshape, flatten, permute, transpose, slice, cat, expand) and the
// shape helpers the other tensor ops share.

/// Shape helpers shared by the tensor ops (a namespace, so names cannot clash with other ops').
enum TensorOps {
    /// Row-major strides (in elements) of a contiguous array of `shape`.
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = s
            s *= shape[d]
        }
        return strides
    }

    /// Drops size-1 dimensions and merges neighbours that every operand walks contiguously, so
    /// kernels loop over as few (and as long) rows as possible. Keeps at least one dimension.
    static func coalesce(_ shape: [Int], _ strides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
        var outShape: [Int] = []
        var outStrides = [[Int]](repeating: [], count: strides.count)
        for d in shape.indices where shape[d] != 1 {
            if let last = outShape.last,
               strides.indices.allSatisfy({ strides[$0][d] * shape[d] == outStrides[$0].last! }) {
                outShape[outShape.count - 1] = last * shape[d]
                for k in strides.indices { outStrides[k][outStrides[k].count - 1] = strides[k][d] }
            } else {
                outShape.append(shape[d])
                for k in strides.indices { outStrides[k].append(strides[k][d]) }
            }
        }
        if outShape.isEmpty { return ([1], strides.map { _ in [0] }) }
        return (outShape, outStrides)
    }

    /// Wraps a possibly negative `dim` into `0..<rank` (a scalar accepts -1 and 0, as in PyTorch).
    static func normalizeDim(_ dim: Int, rank: Int, _ op: String) throws -> Int {
        let r = Swift.max(rank, 1)
        try require(dim >= -r && dim < r, op,
                    "dimension out of range (expected to be in range of [\(-r), \(r - 1)], but got \(dim))")
        return dim < 0 ? dim + r : dim
    }

    /// Requires a float32 tensor.
    static func requireFloat(_ t: Tensor, _ op: String, _ name: String = "input") throws {
        try require(t.dtype == .float32, op, "\(name) must be float32, got \(t.dtype) (shape \(t.shape))")
    }

    /// Requires every tensor on the same device.
    static func requireSameDevice(_ tensors: [Tensor], _ op: String) throws {
        guard let first = tensors.first else { return }
        for t in tensors where t.device != first.device {
            throw ConvKitError.invalidArgument(op: op, message: "expected all tensors on the same device, got \(first.device) (shape \(first.shape)) and \(t.device) (shape \(t.shape))")
        }
    }

    /// Copies `source` viewed through `strides`/`offset` into a new contiguous tensor of `shape`.
    static func gatherStrided(_ source: Tensor, offset: Int, strides: [Int], shape: [Int]) throws -> Tensor {
        let out = try Tensor.empty(shape, dtype: source.dtype, on: source.device)
        let (s, st) = TensorOps.coalesce(shape, [strides, TensorOps.contiguousStrides(shape)])
        try backend(for: source.device).copyStrided(from: source.storage, offset: offset, strides: st[0],
                                                    to: out.storage, offset: 0, strides: st[1], shape: s)
        return out
    }

    /// Copies the contiguous `source` into `destination` at `offset` with `strides` (over `source.shape`).
    static func scatterStrided(_ source: Tensor, into destination: Tensor, offset: Int, strides: [Int]) throws {
        let (s, st) = TensorOps.coalesce(source.shape, [TensorOps.contiguousStrides(source.shape), strides])
        try backend(for: source.device).copyStrided(from: source.storage, offset: 0, strides: st[0],
                                                    to: destination.storage, offset: offset, strides: st[1], shape: s)
    }
}

extension Tensor {
    /// The same elements with a new shape; shares storage (as a contiguous `torch.reshape`).
    /// One dimension may be -1 and is then inferred.
    public func reshape(_ newShape: [Int]) throws -> Tensor {
        let inferred = newShape.filter { $0 == -1 }.count
        try require(inferred <= 1, "reshape", "only one dimension can be inferred, got shape \(newShape)")
        for d in newShape where d < -1 {
            throw ConvKitError.invalidArgument(op: "reshape", message: "invalid shape dimension \(d) in \(newShape)")
        }
        var resolved = newShape
        let known = newShape.filter { $0 != -1 }.reduce(1, *)
        if let at = newShape.firstIndex(of: -1) {
            try require(known != 0, "reshape",
                        "cannot reshape tensor of \(count) elements into shape \(newShape) because the unspecified dimension size -1 can be any value and is ambiguous")
            try require(count % known == 0, "reshape", "shape \(newShape) is invalid for input of size \(count) (shape \(shape))")
            resolved[at] = count / known
        } else {
            try require(known == count, "reshape", "shape \(newShape) is invalid for input of size \(count) (shape \(shape))")
        }
        let out = Tensor(shape: resolved, dtype: dtype, storage: storage)
        let original = shape
        return try Autograd.record(out, op: "reshape", inputs: [self]) { g in [try g.reshape(original)] }
    }

    /// Merges dimensions `startDim...endDim` into one (as `torch.flatten`); a scalar becomes `[1]`.
    public func flatten(startDim: Int = 0, endDim: Int = -1) throws -> Tensor {
        let s = try TensorOps.normalizeDim(startDim, rank: rank, "flatten")
        let e = try TensorOps.normalizeDim(endDim, rank: rank, "flatten")
        try require(s <= e, "flatten", "start_dim (\(startDim)) cannot come after end_dim (\(endDim))")
        if rank == 0 { return try reshape([1]) }
        let merged = shape[s...e].reduce(1, *)
        return try reshape(Array(shape[..<s]) + [merged] + Array(shape[(e + 1)...]))
    }

    /// Reorders dimensions: output dimension `i` is input dimension `dims[i]` (as `torch.permute`).
    public func permute(_ dims: [Int]) throws -> Tensor {
        try require(dims.count == rank, "permute",
                    "number of dims in \(dims) doesn't match the tensor's rank \(rank) (shape \(shape))")
        let perm = try dims.map { try TensorOps.normalizeDim($0, rank: rank, "permute") }
        try require(Set(perm).count == perm.count, "permute", "dims \(dims) contain a repeated dimension")
        if rank == 0 { return try reshape([]) }
        let inStrides = TensorOps.contiguousStrides(shape)
        let out = try TensorOps.gatherStrided(self, offset: 0, strides: perm.map { inStrides[$0] }, shape: perm.map { shape[$0] })
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return try Autograd.record(out, op: "permute", inputs: [self]) { g in [try g.permute(inverse)] }
    }

    /// Swaps two dimensions (as `torch.transpose`).
    public func transpose(_ dim0: Int, _ dim1: Int) throws -> Tensor {
        let d0 = try TensorOps.normalizeDim(dim0, rank: rank, "transpose")
        let d1 = try TensorOps.normalizeDim(dim1, rank: rank, "transpose")
        if rank == 0 { return try reshape([]) }
        var perm = Array(0..<rank)
        perm.swapAt(d0, d1)
        return try permute(perm)
    }

    /// Elements `start, start + step, …` (before `end`) along `dim`, as `x[..., start:end:step]`
    /// in PyTorch: negative `start`/`end` count from the end, both are clamped to the size, and
    /// `nil` means the beginning / the end. `step` must be positive. Returns a copy.
    public func slice(dim: Int, start: Int? = nil, end: Int? = nil, step: Int = 1) throws -> Tensor {
        try require(rank > 0, "slice", "cannot slice a 0-dimensional tensor")
        let d = try TensorOps.normalizeDim(dim, rank: rank, "slice")
        try require(step > 0, "slice", "step must be positive, got \(step)")
        let size = shape[d]
        func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + size : v, 0), size) }
        let lo = clamp(start ?? 0)
        let hi = Swift.max(lo, clamp(end ?? size))
        let length = (hi - lo + step - 1) / step
        var outShape = shape
        outShape[d] = length
        var strides = TensorOps.contiguousStrides(shape)
        let offset = lo * strides[d]
        strides[d] *= step
        let out = try TensorOps.gatherStrided(self, offset: offset, strides: strides, shape: outShape)
        let inputShape = shape
        return try Autograd.record(out, op: "slice", inputs: [self]) { g in
            let full = try Tensor.zeros(inputShape, on: g.device)
            try TensorOps.scatterStrided(g, into: full, offset: offset, strides: strides)
            return [full]
        }
    }

    /// This tensor repeated along size-1 (or missing leading) dimensions to `newShape`, as a
    /// contiguous copy; the gradient sums back.
    func expand(to newShape: [Int]) throws -> Tensor {
        if newShape == shape { return self }
        let lead = newShape.count - rank
        try require(lead >= 0, "expand", "cannot expand shape \(shape) to \(newShape)")
        let own = TensorOps.contiguousStrides(shape)
        var strides = [Int](repeating: 0, count: newShape.count)
        for d in 0..<rank {
            try require(shape[d] == newShape[lead + d] || shape[d] == 1, "expand", "cannot expand shape \(shape) to \(newShape)")
            strides[lead + d] = shape[d] == 1 ? 0 : own[d]
        }
        let out = try TensorOps.gatherStrided(self, offset: 0, strides: strides, shape: newShape)
        let original = shape
        return try Autograd.record(out, op: "expand", inputs: [self]) { g in [try g.sum(to: original)] }
    }
}

/// Joins tensors along `dim` (as `torch.cat`); all must have the same rank, dtype and device and
/// equal sizes in every other dimension. As in PyTorch, 1-D empty tensors (shape `[0]`) are
/// skipped whatever the others' rank.
public func cat(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
    guard !tensors.isEmpty else {
        throw ConvKitError.invalidArgument(op: "cat", message: "expected a non-empty list of tensors")
    }
    try TensorOps.requireSameDevice(tensors, "cat")
    let parts = tensors.filter { $0.shape != [0] }
    guard let first = parts.first else {
        try require(tensors.allSatisfy { $0.dtype == tensors[0].dtype }, "cat", "tensors have different dtypes")
        let out = try Tensor.empty([0], dtype: tensors[0].dtype, on: tensors[0].device)
        return try Autograd.record(out, op: "cat", inputs: tensors) { g in tensors.map { _ in g } }
    }
    try require(first.rank > 0, "cat", "zero-dimensional tensor (shape \(first.shape)) cannot be concatenated")
    let d = try TensorOps.normalizeDim(dim, rank: first.rank, "cat")
    for (i, t) in tensors.enumerated() {
        try require(t.dtype == first.dtype, "cat", "tensor \(i) is \(t.dtype) but the first is \(first.dtype)")
        if t.shape == [0] { continue }
        try require(t.rank == first.rank, "cat",
                    "tensors must have the same number of dimensions: got shapes \(first.shape) and \(t.shape) (tensor \(i))")
        for k in 0..<first.rank where k != d {
            try require(t.shape[k] == first.shape[k], "cat",
                        "sizes of tensors must match except in dimension \(d): expected size \(first.shape[k]) but got size \(t.shape[k]) for tensor \(i) in dimension \(k) (shapes \(first.shape) and \(t.shape))")
        }
    }
    var outShape = first.shape
    outShape[d] = parts.reduce(0) { $0 + $1.shape[d] }
    let out = try Tensor.empty(outShape, dtype: first.dtype, on: first.device)
    let outStrides = TensorOps.contiguousStrides(outShape)
    var starts: [Int] = []
    var position = 0
    for t in tensors {
        starts.append(position)
        if t.shape == [0] { continue }
        try TensorOps.scatterStrided(t, into: out, offset: position * outStrides[d], strides: outStrides)
        position += t.shape[d]
    }
    return try Autograd.record(out, op: "cat", inputs: tensors) { g in
        try zip(tensors, starts).map { t, start in
            guard t.requiresGrad else { return nil }
            if t.shape == [0] { return try Tensor.empty([0], on: g.device) }
            return try g.slice(dim: d, start: start, end: start + t.shape[d])
        }
    }
}
