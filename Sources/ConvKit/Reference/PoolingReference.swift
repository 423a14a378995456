import Foundation

/// Naive Float64 padding and pooling: the test oracle, written for clarity only.
///
/// Tensors are `[Double]` in row-major order with an explicit shape; pooling functions take
/// NCHW (or CHW) shapes and treat every leading index as an independent plane.
enum PoolingReference {
    // MARK: Padding

    /// The input index read by output `j` of one padded dimension (nil: the constant value).
    static func padSource(_ j: Int, size: Int, before: Int, after: Int, mode: PadMode) -> Int? {
        let i = j - before
        switch mode {
        case .constant:
            return (0..<size).contains(i) ? i : nil
        case .replicate:
            return min(max(i, 0), size - 1)
        case .reflect:
            // Mirror around the first and last cell without repeating them.
            if i < 0 { return -i }
            if i > size - 1 { return (size - 1) - (i - (size - 1)) }
            return i
        case .circular:
            // PyTorch crops negative pads first, then wraps over the remaining cells.
            let cropped = Array(max(-before, 0) ..< size - max(-after, 0))
            let position = j - max(before, 0)
            let wrapped = ((position % cropped.count) + cropped.count) % cropped.count
            return cropped[wrapped]
        }
    }

    /// `pad` of any rank: `pads` are `(before, after)` pairs from the last dimension backwards.
    static func pad(_ x: [Double], shape: [Int], pads: [Int], mode: PadMode, value: Double) -> (values: [Double], shape: [Int]) {
        let rank = shape.count
        var before = [Int](repeating: 0, count: rank), after = before
        for k in 0..<pads.count / 2 {
            before[rank - 1 - k] = pads[2 * k]
            after[rank - 1 - k] = pads[2 * k + 1]
        }
        let outShape = (0..<rank).map { shape[$0] + before[$0] + after[$0] }
        let outCount = outShape.reduce(1, *)
        var out = [Double](repeating: 0, count: outCount)
        for flat in 0..<outCount {
            var rest = flat, source = 0, stride = 1, inside = true
            for d in (0..<rank).reversed() {
                let j = rest % outShape[d]
                rest /= outShape[d]
                if let i = padSource(j, size: shape[d], before: before[d], after: after[d], mode: mode) {
                    source += i * stride
                } else {
                    inside = false
                }
                stride *= shape[d]
            }
            out[flat] = inside ? x[source] : value
        }
        return (out, outShape)
    }
}
