import Foundation

extension CPUBackend {
    /// Vectors along the dimension are processed in tiles of this many `inner` positions when the
    /// dimension is not the last one, so each pass over the dimension reads contiguous memory.
    static let softmaxInnerTile = 256

    /// The CPU implementation of `NNKernels.softmaxForward`.
    public func softmaxForward(input: Storage, output: Storage, layout: ReductionLayout, log: Bool) throws {
        let x = input.floats, y = output.floats
        let (outer, n, inner) = (layout.outer, layout.dim, layout.inner)
        guard layout.count > 0 else { return }
        if inner == 1 {
            parallelFor(outer, grain: Swift.max(1, 8192 / n)) { rows in
                for r in rows { CPUBackend.softmaxRow(x + r * n, y + r * n, count: n, log: log) }
            }
            return
        }
        let tile = CPUBackend.softmaxInnerTile
        let tilesPerOuter = (inner + tile - 1) / tile
        parallelFor(outer * tilesPerOuter, grain: Swift.max(1, 8192 / (n * Swift.min(inner, tile)))) { tasks in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * tile) { buffer in
                let maxima = buffer.baseAddress!, sums = maxima + tile
                for task in tasks {
                    let o = task / tilesPerOuter, i0 = (task % tilesPerOuter) * tile
                    let width = Swift.min(tile, inner - i0)
                    let xs = x + o * n * inner + i0, ys = y + o * n * inner + i0
                    for i in 0..<width { maxima[i] = -.infinity; sums[i] = 0 }
                    for d in 0..<n {
                        let row = xs + d * inner
                        for i in 0..<width { maxima[i] = row[i] > maxima[i] ? row[i] : maxima[i] }
                    }
                    for i in 0..<width where maxima[i] == -.infinity { maxima[i] = 0 }
                    for d in 0..<n {
                        let row = xs + d * inner, out = ys + d * inner
                        NNMath.accumulateExp(row, shifts: maxima, sums: sums, into: log ? nil : out, count: width)
                    }
                    if log {
                        for i in 0..<width { sums[i] = maxima[i] + Foundation.log(sums[i]) }
                        for d in 0..<n {
                            let row = xs + d * inner, out = ys + d * inner
                            for i in 0..<width { out[i] = row[i] - sums[i] }
                        }
                    } else {
                        for i in 0..<width { sums[i] = 1 / sums[i] }
                        for d in 0..<n {
                            let out = ys + d * inner
                            for i in 0..<width { out[i] *= sums[i] }
                        }
                    }
                }
            }
        }
    }

    /// Softmax or log-softmax of one contiguous vector.
    @inline(__always)
    static func softmaxRow(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int, log: Bool) {
        var maximum = NNMath.maximum(x, count: n)
        // A vector of -inf (or an empty one) has no finite maximum; shifting by 0 keeps exp(-inf) = 0.
        if maximum == -.infinity { maximum = 0 }
        if log {
            let shift = maximum + Foundation.log(NNMath.sumOfExp(x, shift: maximum, count: n))
            for d in 0..<n { y[d] = x[d] - shift }
        } else {
            let reciprocal = 1 / NNMath.storeExpAndSum(x, shift: maximum, y, count: n)
            for d in 0..<n { y[d] *= reciprocal }
        }
    }

    /// The CPU implementation of `NNKernels.softmaxBackward`.
    public func softmaxBackward(gradOutput: Storage, output: Storage, gradInput: Storage,
                                layout: ReductionLayout, log: Bool) throws {
        let g = gradOutput.floats, y = output.floats, dx = gradInput.floats
        let (outer, n, inner) = (layout.outer, layout.dim, layout.inner)
        guard layout.count > 0 else { return }
        if inner == 1 {
            parallelFor(outer, grain: Swift.max(1, 8192 / n)) { rows in
                for r in rows {
                    let gr = g + r * n, yr = y + r * n, dr = dx + r * n
                    if log {
                        let total = NNMath.sum(gr, count: n)
                        NNMath.storeExp(yr, shift: 0, into: dr, count: n)
                        for d in 0..<n { dr[d] = gr[d] - dr[d] * total }
                    } else {
                        let total = NNMath.dot(gr, yr, count: n)
                        for d in 0..<n { dr[d] = yr[d] * (gr[d] - total) }
                    }
                }
            }
            return
        }
        let tile = CPUBackend.softmaxInnerTile
        let tilesPerOuter = (inner + tile - 1) / tile
        parallelFor(outer * tilesPerOuter, grain: Swift.max(1, 8192 / (n * Swift.min(inner, tile)))) { tasks in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: tile) { buffer in
                let totals = buffer.baseAddress!
                for task in tasks {
                    let o = task / tilesPerOuter, i0 = (task % tilesPerOuter) * tile
                    let width = Swift.min(tile, inner - i0)
                    let offset = o * n * inner + i0
                    for i in 0..<width { totals[i] = 0 }
                    for d in 0..<n {
                        let gr = g + offset + d * inner, yr = y + offset + d * inner
                        if log {
                            for i in 0..<width { totals[i] += gr[i] }
                        } else {
                            for i in 0..<width { totals[i] += gr[i] * yr[i] }
                        }
                    }
                    for d in 0..<n {
                        let gr = g + offset + d * inner, yr = y + offset + d * inner, dr = dx + offset + d * inner
                        if log {
                            NNMath.storeExp(yr, shift: 0, into: dr, count: width)
                            for i in 0..<width { dr[i] = gr[i] - dr[i] * totals[i] }
                        } else {
                            for i in 0..<width { dr[i] = yr[i] * (gr[i] - totals[i]) }
                        }
                    }
                }
            }
        }
    }
}
