/// The CUDA TensorKernels (Tensor.cu): broadcast elementwise ops, reductions, strided copies,
/// and batched matmul through `sgemm`.
extension CUDABackend: TensorKernels {
    /// The most dimensions one launch of a strided kernel takes (its `CkDims` structs hold 8);
    /// views of higher rank run as several launches over their leading indices.
    static let stridedKernelRank = 8

    /// Broadcast elementwise op: one thread per output element, operand offsets from the strides.
    public func binary(_ op: BinaryOp, _ a: Storage, strides aStrides: [Int], _ b: Storage, strides bStrides: [Int],
                       into out: Storage, shape: [Int]) throws {
        let kernel: String
        switch op {
        case .add: kernel = "ck_tensor_binary_add"
        case .subtract: kernel = "ck_tensor_binary_subtract"
        case .multiply: kernel = "ck_tensor_binary_multiply"
        case .divide: kernel = "ck_tensor_binary_divide"
        case .maximum: kernel = "ck_tensor_binary_maximum"
        case .maximumGradientShare: kernel = "ck_tensor_binary_maximum_share"
        }
        // A scalar is one element of rank 1.
        let viewShape = shape.isEmpty ? [1] : shape
        let views = shape.isEmpty ? [[0], [0]] : [aStrides, bStrides]
        guard viewShape.allSatisfy({ $0 > 0 }) else { return }
        try forEachStridedSlice(viewShape, views + [TensorOps.contiguousStrides(viewShape)]) { sliceShape, strides, offsets in
            let count = sliceShape.reduce(1, *)
            let wide = Self.needsWideIndices(sliceShape, strides)
            try launchElementwise(.tensor, kernel + (wide ? "_wide" : ""), count: count, [
                Self.address(a, offsets[0]), .intArray(strides[0], count: Self.stridedKernelRank),
                Self.address(b, offsets[1]), .intArray(strides[1], count: Self.stridedKernelRank),
                Self.address(out, offsets[2]), .intArray(sliceShape, count: Self.stridedKernelRank),
                .int(sliceShape.count), .int(count),
            ])
        }
    }

    /// Elementwise op, one thread per element; exp and log are the CPU's Cephes formulas.
    public func unary(_ op: UnaryOp, _ input: Storage, into out: Storage, count: Int) throws {
        guard count > 0 else { return }
        let kernel: String
        var scalar: Float = 0
        switch op {
        case .negate: kernel = "negate"
        case .exp: kernel = "exp"
        case .log: kernel = "log"
        case .sqrt: kernel = "sqrt"
        case .abs: kernel = "abs"
        case .sign: kernel = "sign"
        case let .power(p):
            // The CPU's special cases: x·x for 2, x itself for 1, powf otherwise.
            if p == 1 {
                try copy(from: input, to: out, byteCount: count * 4)
                return
            }
            kernel = p == 2 ? "square" : "power"
            scalar = p
        case let .addScalar(s): kernel = "add_scalar"; scalar = s
        case let .multiplyScalar(s): kernel = "multiply_scalar"; scalar = s
        case let .divideByScalar(s): kernel = "divide_by_scalar"; scalar = s
        case let .subtractFromScalar(s): kernel = "subtract_from_scalar"; scalar = s
        case let .divideScalarBy(s): kernel = "divide_scalar_by"; scalar = s
        }
        try launchElementwise(.tensor, "ck_tensor_unary_" + kernel, count: count,
                              [.storage(input), .storage(out), .int(count), .float(scalar)])
    }

    /// Sums in double: a block per row when rows are long and contiguous (`inner` 1), else a
    /// thread per output column; a long reduction over few outputs is split into chunks whose
    /// partial sums are then added in order. The split depends on the shape only.
    public func reduceSum(_ input: Storage, into out: Storage, outer: Int, reduced: Int, inner: Int) throws {
        guard outer > 0, inner > 0 else { return }
        if reduced == 0 {
            try fill(out, count: outer * inner, value: 0)
            return
        }
        let outputs = outer * inner
        if inner == 1 && reduced >= 128 {
            let parts = Self.chunks(reduced: reduced, outputs: outer, targetOutputs: 1024, minimumChunk: 4096)
            let partial = parts > 1 ? try workspace(floats: 2 * outer * parts) : nil
            try launch(.tensor, "ck_tensor_sum_rows", rowLaunch(outer * parts), [
                .storage(input), .storage(out), .optional(partial), .int(outer), .int(reduced), .int(parts),
            ])
            if let partial { try sumPartials(partial, into: out, outer: outer, parts: parts, inner: 1) }
            return
        }
        let parts = Self.chunks(reduced: reduced, outputs: outputs, targetOutputs: 65536, minimumChunk: 128)
        let partial = parts > 1 ? try workspace(floats: 2 * outputs * parts) : nil
        try launchElementwise(.tensor, "ck_tensor_sum_columns", count: outputs * parts, [
            .storage(input), .storage(out), .optional(partial), .int(outer), .int(reduced), .int(inner), .int(parts),
        ])
        if let partial { try sumPartials(partial, into: out, outer: outer, parts: parts, inner: inner) }
    }

    /// Adds `parts` double partial sums (`[outer, parts, inner]`) into `out` (`[outer, inner]`).
    private func sumPartials(_ partial: Storage, into out: Storage, outer: Int, parts: Int, inner: Int) throws {
        try launchElementwise(.tensor, "ck_tensor_sum_partials", count: outer * inner, [
            .storage(partial), .storage(out), .int(outer), .int(parts), .int(inner),
        ])
    }

    /// How many chunks to split a reduction of length `reduced` into so that about
    /// `targetOutputs` independent pieces of work exist, each chunk at least `minimumChunk` long.
    static func chunks(reduced: Int, outputs: Int, targetOutputs: Int, minimumChunk: Int) -> Int {
        guard outputs < targetOutputs, reduced >= 2 * minimumChunk else { return 1 }
        let byLength = reduced / minimumChunk
        let byWork = (targetOutputs + outputs - 1) / outputs
        return max(1, min(byLength, byWork, reduced))
    }

    /// One block of 256 threads per item, grid-stride beyond what fills the GPU.
    private func rowLaunch(_ items: Int) -> LaunchShape {
        LaunchShape(grid: max(1, min(items, multiprocessorCount * 16)), block: 256)
    }

    /// Maximum and its first position (the first NaN wins), laid out like `reduceSum`'s work.
    public func reduceMax(_ input: Storage, values: Storage, indices: Storage, outer: Int, reduced: Int, inner: Int) throws {
        guard outer > 0, inner > 0, reduced > 0 else { return }
        let outputs = outer * inner
        let rows = inner == 1 && reduced >= 256
        let parts = rows
            ? Self.chunks(reduced: reduced, outputs: outer, targetOutputs: 1024, minimumChunk: 4096)
            : Self.chunks(reduced: reduced, outputs: outputs, targetOutputs: 65536, minimumChunk: 128)
        let partialValues = parts > 1 ? try workspace(floats: outputs * parts) : nil
        let partialIndices = parts > 1 ? try workspace(floats: 2 * outputs * parts) : nil
        if rows {
            try launch(.tensor, "ck_tensor_max_rows", rowLaunch(outer * parts), [
                .storage(input), .storage(values), .storage(indices), .optional(partialValues), .optional(partialIndices),
                .int(outer), .int(reduced), .int(parts),
            ])
        } else {
            try launchElementwise(.tensor, "ck_tensor_max_columns", count: outputs * parts, [
                .storage(input), .storage(values), .storage(indices), .optional(partialValues), .optional(partialIndices),
                .int(outer), .int(reduced), .int(inner), .int(parts),
            ])
        }
        if let partialValues, let partialIndices {
            try launchElementwise(.tensor, "ck_tensor_max_partials", count: outputs, [
                .storage(partialValues), .storage(partialIndices), .storage(values), .storage(indices),
                .int(outer), .int(parts), .int(inner),
            ])
        }
    }

    /// A gather over the whole output: each element is its source value where the index
    /// selects it, else 0 (so no separate zero fill).
    public func scatterAlongDim(_ source: Storage, indices: Storage, into out: Storage, outer: Int, reduced: Int, inner: Int) throws {
        let total = outer * reduced * inner
        guard total > 0 else { return }
        try launchElementwise(.tensor, "ck_tensor_scatter_dim", count: total, [
            .storage(source), .storage(indices), .storage(out), .int(outer), .int(reduced), .int(inner),
        ])
    }

    /// One thread per element, or 32×32 shared-memory tiles for a transpose (the source walks
    /// another dimension contiguously while the destination walks the last one).
    public func copyStrided(from source: Storage, offset sourceOffset: Int, strides sourceStrides: [Int],
                            to destination: Storage, offset destinationOffset: Int, strides destinationStrides: [Int],
                            shape: [Int]) throws {
        guard shape.allSatisfy({ $0 > 0 }) else { return }
        let viewShape = shape.isEmpty ? [1] : shape
        let views = shape.isEmpty ? [[0], [0]] : [sourceStrides, destinationStrides]
        try forEachStridedSlice(viewShape, views) { sliceShape, strides, offsets in
            let sourceStart = sourceOffset + offsets[0], destinationStart = destinationOffset + offsets[1]
            if try copyTransposed(source, sourceStart, strides[0], destination, destinationStart, strides[1], sliceShape) {
                return
            }
            let count = sliceShape.reduce(1, *)
            let wide = Self.needsWideIndices(sliceShape, strides)
            try launchElementwise(.tensor, wide ? "ck_tensor_copy_strided_wide" : "ck_tensor_copy_strided", count: count, [
                Self.address(source, sourceStart), .intArray(strides[0], count: Self.stridedKernelRank),
                Self.address(destination, destinationStart), .intArray(strides[1], count: Self.stridedKernelRank),
                .intArray(sliceShape, count: Self.stridedKernelRank), .int(sliceShape.count), .int(count),
            ])
        }
    }

    /// The tiled transpose copy when the view is one (same test as the CPU's): the destination's
    /// last stride is 1, the source's is not, and an earlier dimension of at least 16 has source
    /// stride 1. Returns whether it ran.
    private func copyTransposed(_ source: Storage, _ sourceStart: Int, _ sourceStrides: [Int],
                                _ destination: Storage, _ destinationStart: Int, _ destinationStrides: [Int],
                                _ shape: [Int]) throws -> Bool {
        guard let cols = shape.last, cols >= 16, sourceStrides.last! != 1, destinationStrides.last! == 1,
              let rowDim = shape.indices.dropLast().last(where: { sourceStrides[$0] == 1 && shape[$0] >= 16 }) else {
            return false
        }
        let outerDims = shape.indices.filter { $0 != rowDim && $0 != shape.count - 1 }
        var outerShape = outerDims.map { shape[$0] }
        var outerSource = outerDims.map { sourceStrides[$0] }
        var outerDestination = outerDims.map { destinationStrides[$0] }
        if outerShape.isEmpty { (outerShape, outerSource, outerDestination) = ([1], [0], [0]) }
        let outerCount = outerShape.reduce(1, *)
        let tiles = outerCount * ((shape[rowDim] + 31) / 32) * ((cols + 31) / 32)
        try launch(.tensor, "ck_tensor_copy_transpose", rowLaunch(tiles), [
            Self.address(source, sourceStart), Self.address(destination, destinationStart),
            .intArray(outerShape, count: Self.stridedKernelRank), .intArray(outerSource, count: Self.stridedKernelRank),
            .intArray(outerDestination, count: Self.stridedKernelRank), .int(outerShape.count), .int(outerCount),
            .int(shape[rowDim]), .int(cols), .int(sourceStrides.last!), .int(destinationStrides[rowDim]),
        ])
        return true
    }

    /// `C[p] = op(A[p])·op(B[p])` as one strided-batched `sgemm` (zeros when `k` is 0).
    public func batchedMatmul(_ a: Storage, _ b: Storage, into c: Storage, batch: Int, m: Int, n: Int, k: Int,
                              transposeA: Bool, transposeB: Bool, aBatchStride: Int, bBatchStride: Int) throws {
        guard m > 0, n > 0, batch > 0 else { return }
        if k == 0 {
            try fill(c, count: batch * m * n, value: 0)
            return
        }
        let limit = Int(Int32.max)
        guard m <= limit, n <= limit, k <= limit, batch <= limit else {
            throw ConvKitError.unsupported(op: "matmul", message: "sizes m \(m), n \(n), k \(k), batch \(batch) exceed the 2³¹−1 a CUDA GEMM takes")
        }
        try sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                  GEMMOperand(a, leadingDimension: transposeA ? m : k, batchStride: aBatchStride),
                  GEMMOperand(b, leadingDimension: transposeB ? k : n, batchStride: bBatchStride),
                  beta: 0, GEMMOperand(c, leadingDimension: n, batchStride: m * n), batch: batch)
    }

    // MARK: Helpers

    /// The device address `offset` 4-byte elements into `storage`.
    static func address(_ storage: Storage, _ offset: Int) -> KernelArgument {
        .pointer(storage.deviceAddress + CUdeviceptr(offset * 4))
    }

    /// Whether a strided view needs 64-bit indices: more than 2³¹−1 elements, or an element
    /// offset (`Σ (sizeₖ−1)·strideₖ`) of 2³¹ or more on any operand. Strides are never negative.
    static func needsWideIndices(_ shape: [Int], _ strides: [[Int]]) -> Bool {
        let limit = Int(Int32.max)
        if shape.reduce(1, *) > limit { return true }
        return strides.contains { s in zip(shape, s).reduce(0) { $0 + ($1.0 - 1) * $1.1 } >= limit }
    }

    /// Calls `body(shape, strides, offsets)` once for a view of at most `stridedKernelRank`
    /// dimensions (offsets 0), or once per index of the leading dimensions beyond that, with
    /// the trailing dimensions and each operand's element offset of that index.
    func forEachStridedSlice(_ shape: [Int], _ strides: [[Int]],
                             _ body: ([Int], [[Int]], [Int]) throws -> Void) throws {
        let lead = shape.count - Self.stridedKernelRank
        guard lead > 0 else {
            try body(shape, strides, [Int](repeating: 0, count: strides.count))
            return
        }
        let trailingShape = Array(shape[lead...])
        let trailingStrides = strides.map { Array($0[lead...]) }
        var index = [Int](repeating: 0, count: lead)
        while true {
            let offsets = strides.map { s in (0..<lead).reduce(0) { $0 + index[$1] * s[$1] } }
            try body(trailingShape, trailingStrides, offsets)
            var d = lead - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }
}
