/// Naive Float64 versions of the tensor ops: the test oracle, written for clarity only.
/// Arrays are row-major; every function takes and returns explicit shapes.
enum TensorReference {
    /// Number of elements of `shape`.
    static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The multi-index of flat position `flat` in `shape`.
    static func index(_ flat: Int, _ shape: [Int]) -> [Int] {
        var rest = flat
        var idx = [Int](repeating: 0, count: shape.count)
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            idx[d] = rest % shape[d]
            rest /= shape[d]
        }
        return idx
    }

    /// The flat position of multi-index `idx` in `shape`.
    static func flat(_ idx: [Int], _ shape: [Int]) -> Int {
        var f = 0
        for d in shape.indices { f = f * shape[d] + idx[d] }
        return f
    }

    /// The broadcast shape of two shapes, or nil when they do not broadcast.
    static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a
        let pb = [Int](repeating: 1, count: rank - b.count) + b
        var out: [Int] = []
        for (x, y) in zip(pa, pb) {
            if x != y && x != 1 && y != 1 { return nil }
            out.append(x == 1 ? y : x)
        }
        return out
    }

    /// Calls `body` with every multi-index of `shape`, in row-major order.
    static func forEachIndex(_ shape: [Int], _ body: ([Int]) -> Void) {
        let n = count(shape)
        var idx = [Int](repeating: 0, count: shape.count)
        for _ in 0..<n {
            body(idx)
            var d = shape.count - 1
            while d >= 0 {
                idx[d] += 1
                if idx[d] < shape[d] { break }
                idx[d] = 0
                d -= 1
            }
        }
    }

    /// Reads `x` (of `shape`) at `idx`, an index of a shape that `shape` broadcasts to.
    static func broadcastRead(_ x: [Double], _ shape: [Int], at idx: [Int]) -> Double {
        let lead = idx.count - shape.count
        var f = 0
        for d in shape.indices { f = f * shape[d] + (shape[d] == 1 ? 0 : idx[lead + d]) }
        return x[f]
    }

    /// `f(a, b)` elementwise with broadcasting.
    static func binary(_ a: [Double], _ aShape: [Int], _ b: [Double], _ bShape: [Int],
                       _ f: (Double, Double) -> Double) -> (values: [Double], shape: [Int]) {
        let shape = broadcastShape(aShape, bShape)!
        var values: [Double] = []
        values.reserveCapacity(count(shape))
        forEachIndex(shape) { idx in
            values.append(f(broadcastRead(a, aShape, at: idx), broadcastRead(b, bShape, at: idx)))
        }
        return (values, shape)
    }

    /// `torch.maximum`: NaN when either operand is NaN.
    static func maximum(_ x: Double, _ y: Double) -> Double {
        if x.isNaN || y.isNaN { return .nan }
        return max(x, y)
    }

    /// Dimensions reordered: output dimension `i` is input dimension `perm[i]`.
    static func permute(_ x: [Double], _ shape: [Int], _ perm: [Int]) -> [Double] {
        let outShape = perm.map { shape[$0] }
        return (0..<count(outShape)).map { i in
            let outIdx = index(i, outShape)
            var inIdx = [Int](repeating: 0, count: shape.count)
            for (k, p) in perm.enumerated() { inIdx[p] = outIdx[k] }
            return x[flat(inIdx, shape)]
        }
    }

    /// Elements `start, start+step, …` (< `end`) along `dim`; `start`/`end` already resolved.
    static func slice(_ x: [Double], _ shape: [Int], dim: Int, start: Int, end: Int, step: Int) -> [Double] {
        var outShape = shape
        outShape[dim] = end > start ? (end - start + step - 1) / step : 0
        return (0..<count(outShape)).map { i in
            var idx = index(i, outShape)
            idx[dim] = start + idx[dim] * step
            return x[flat(idx, shape)]
        }
    }

    /// Concatenation along `dim`.
    static func cat(_ parts: [([Double], [Int])], dim: Int) -> [Double] {
        var outShape = parts[0].1
        outShape[dim] = parts.reduce(0) { $0 + $1.1[dim] }
        return (0..<count(outShape)).map { i in
            var idx = index(i, outShape)
            for (values, shape) in parts {
                if idx[dim] < shape[dim] { return values[flat(idx, shape)] }
                idx[dim] -= shape[dim]
            }
            fatalError("unreachable")
        }
    }

    /// Sum over `dims` (non-negative), keeping them as size 1.
    static func sum(_ x: [Double], _ shape: [Int], dims: [Int]) -> [Double] {
        var outShape = shape
        for d in dims { outShape[d] = 1 }
        var out = [Double](repeating: 0, count: count(outShape))
        var i = 0
        forEachIndex(shape) { idx in
            var o = 0
            for d in shape.indices { o = o * outShape[d] + (outShape[d] == 1 ? 0 : idx[d]) }
            out[o] += x[i]
            i += 1
        }
        return out
    }

    /// Maximum along `dim` (keeping it as size 1) and the position of the first maximum; a NaN
    /// is the maximum (the first one).
    static func maxAlong(_ x: [Double], _ shape: [Int], dim: Int) -> (values: [Double], indices: [Int]) {
        var outShape = shape
        outShape[dim] = 1
        var values: [Double] = [], indices: [Int] = []
        for i in 0..<count(outShape) {
            var idx = index(i, outShape)
            var best = -Double.infinity, at = -1
            for r in 0..<shape[dim] {
                idx[dim] = r
                let v = x[flat(idx, shape)]
                if at < 0 || (!best.isNaN && (v > best || v.isNaN)) { best = v; at = r }
            }
            values.append(best)
            indices.append(at)
        }
        return (values, indices)
    }

    /// `torch.matmul` for operands of rank ≥ 1 (1-D operands as in PyTorch).
    static func matmul(_ a: [Double], _ aShape: [Int], _ b: [Double], _ bShape: [Int]) -> (values: [Double], shape: [Int]) {
        let a2 = aShape.count == 1 ? [1, aShape[0]] : aShape
        let b2 = bShape.count == 1 ? [bShape[0], 1] : bShape
        let m = a2[a2.count - 2], k = a2[a2.count - 1], n = b2[b2.count - 1]
        let aBatch = Array(a2.dropLast(2)), bBatch = Array(b2.dropLast(2))
        let batch = broadcastShape(aBatch, bBatch)!
        var out: [Double] = []
        for p in 0..<count(batch) {
            let bidx = index(p, batch)
            let aOff = flat(zip(aBatch.indices, aBatch).map { d, s in s == 1 ? 0 : bidx[bidx.count - aBatch.count + d] }, aBatch) * m * k
            let bOff = flat(zip(bBatch.indices, bBatch).map { d, s in s == 1 ? 0 : bidx[bidx.count - bBatch.count + d] }, bBatch) * k * n
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0
                    for q in 0..<k { s += a[aOff + i * k + q] * b[bOff + q * n + j] }
                    out.append(s)
                }
            }
        }
        var shape = batch + [m, n]
        if bShape.count == 1 { shape.removeLast() }
        if aShape.count == 1 { shape.remove(at: shape.count - (bShape.count == 1 ? 1 : 2)) }
        return (out, shape)
    }
}
