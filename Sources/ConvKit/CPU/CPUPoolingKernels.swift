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

    /// Builds the inverse of `forward` (`forward[o]` is the input read by output `o`, or -1).
    init(forward: [Int32], inputCount: Int) {
        var counts = [Int32](repeating: 0, count: inputCount + 1)
        for i in forward where i >= 0 { counts[Int(i) + 1] += 1 }
        for i in 0..<inputCount { counts[i + 1] += counts[i] }
        offsets = counts
        sources = [Int32](repeating: 0, count: Int(counts[inputCount]))
        var next = counts
        for (o, i) in forward.enumerated() where i >= 0 {
            sources[Int(next[Int(i)])] = Int32(o)
            next[Int(i)] += 1
        }
    }

    /// Builds the map in which output window `o` reads inputs `o·stride − padding + k·dilation`
    /// for `k` in `0..<kernel` that lie inside `0..<inputCount`.
    init(windows outputCount: Int, inputCount: Int, kernel: Int, stride: Int, padding: Int, dilation: Int) {
        var counts = [Int32](repeating: 0, count: inputCount + 1)
        for o in 0..<outputCount {
            for k in 0..<kernel {
                let i = o * stride - padding + k * dilation
                if i >= 0 && i < inputCount { counts[i + 1] += 1 }
            }
        }
        for i in 0..<inputCount { counts[i + 1] += counts[i] }
        offsets = counts
        sources = [Int32](repeating: 0, count: Int(counts[inputCount]))
        var next = counts
        for o in 0..<outputCount {
            for k in 0..<kernel {
                let i = o * stride - padding + k * dilation
                if i >= 0 && i < inputCount {
                    sources[Int(next[i])] = Int32(o)
                    next[i] += 1
                }
            }
        }
    }
}
