/// The CPU's padding and pooling kernels. The methods live in `CPU/Pooling/` (one file per
/// family: padding, max pooling, average pooling, unpooling); all parallelise over planes or
/// rows and compute backward passes as gathers.
extension CPUBackend: PoolingKernels {
}

/// For each cell of one input dimension, the output positions that read it, ascending
/// (compressed rows): the inverse of a forward "which input does this output read" map, which
/// turns a backward pass into a deterministic gather.
struct InverseIndexMap {
    /// `sources[offsets[i] ..< offsets[i + 1]]` are the outputs that read input `i`.
    private(set) var offsets: [Int32]
    private(set) var sources: [Int32]

    /// Builds the inverse of a map in which output `o` reads the inputs `inputsOf(o)`
    /// (each at most once; inputs outside `0..<inputCount` are ignored).
    init<S: Sequence<Int>>(outputCount: Int, inputCount: Int, inputsOf: (Int) -> S) {
        var counts = [Int32](repeating: 0, count: inputCount + 1)
        for o in 0..<outputCount {
            for i in inputsOf(o) where i >= 0 && i < inputCount { counts[i + 1] += 1 }
        }
        for i in 0..<inputCount { counts[i + 1] += counts[i] }
        offsets = counts
        sources = [Int32](repeating: 0, count: Int(counts[inputCount]))
        var next = counts
        for o in 0..<outputCount {
            for i in inputsOf(o) where i >= 0 && i < inputCount {
                sources[Int(next[i])] = Int32(o)
                next[i] += 1
            }
        }
    }

    /// The inverse of a forward map (`forward[o]` is the input read by output `o`, or -1).
    init(forward: [Int32], inputCount: Int) {
        self.init(outputCount: forward.count, inputCount: inputCount) { CollectionOfOne(Int(forward[$0])) }
    }

    /// The inverse of pooling windows: window `o` reads inputs `o·stride − padding + k·dilation`
    /// for `k` in `0..<kernel`.
    init(windows outputCount: Int, inputCount: Int, kernel: Int, stride: Int, padding: Int, dilation: Int) {
        self.init(outputCount: outputCount, inputCount: inputCount) { o in
            // Only the taps that land inside the input (the kernel may be far larger).
            let start = o * stride - padding
            let firstTap = start >= 0 ? 0 : (-start + dilation - 1) / dilation
            let lastTap = start > inputCount - 1 ? -1 : Swift.min(kernel - 1, (inputCount - 1 - start) / dilation)
            return (firstTap..<Swift.max(firstTap, lastTap + 1)).lazy.map { start + $0 * dilation }
        }
    }

    /// Runs `body` with pointers to the offsets and sources.
    func withPointers<R>(_ body: (UnsafePointer<Int32>, UnsafePointer<Int32>) throws -> R) rethrows -> R {
        try offsets.withUnsafeBufferPointer { o in
            try sources.withUnsafeBufferPointer { s in try body(o.baseAddress!, s.baseAddress ?? o.baseAddress!) }
        }
    }
}
