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

    // MARK: Pooling

    /// Planes, height and width of a CHW or NCHW shape.
    private static func planes(_ shape: [Int]) -> (count: Int, height: Int, width: Int) {
        (shape.dropLast(2).reduce(1, *), shape[shape.count - 2], shape[shape.count - 1])
    }

    /// Number of windows along one dimension, counted one by one: in floor mode a window must
    /// end inside the padded input; in ceil mode it may overhang, but must start inside the
    /// input or the left padding, and must not start past the last floor-mode window + stride.
    static func windowCount(size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int, ceilMode: Bool) -> Int {
        let span = dilation * (kernel - 1) + 1
        var count = 0
        while true {
            let start = count * stride - padding
            let fits = start + span <= size + padding
            let overhangs = ceilMode && start < size && count * stride <= size + 2 * padding - span + stride - 1
            if !(fits || overhangs) { return count }
            count += 1
        }
    }

    /// Max pooling with PyTorch's argmax: the last NaN if the window holds one, otherwise the
    /// first maximum; a window with no input cell gives -∞ (index of its first tap moved into
    /// the input by whole dilation steps, as PyTorch).
    static func maxPool2d(_ x: [Double], shape: [Int], kernel: Size2d, stride: Size2d, padding: Size2d,
                          dilation: Size2d, ceilMode: Bool) -> (values: [Double], indices: [Int], shape: [Int]) {
        let (planeCount, h, w) = planes(shape)
        let outH = windowCount(size: h, kernel: kernel.h, stride: stride.h, padding: padding.h, dilation: dilation.h, ceilMode: ceilMode)
        let outW = windowCount(size: w, kernel: kernel.w, stride: stride.w, padding: padding.w, dilation: dilation.w, ceilMode: ceilMode)
        var values: [Double] = [], indices: [Int] = []
        for p in 0..<planeCount {
            for oh in 0..<outH {
                for ow in 0..<outW {
                    var firstRow = oh * stride.h - padding.h, firstCol = ow * stride.w - padding.w
                    if firstRow < 0 { firstRow += (-firstRow + dilation.h - 1) / dilation.h * dilation.h }
                    if firstCol < 0 { firstCol += (-firstCol + dilation.w - 1) / dilation.w * dilation.w }
                    var best = -Double.infinity, bestIndex = firstRow * w + firstCol
                    for kh in 0..<kernel.h {
                        for kw in 0..<kernel.w {
                            let ih = oh * stride.h - padding.h + kh * dilation.h
                            let iw = ow * stride.w - padding.w + kw * dilation.w
                            guard (0..<h).contains(ih) && (0..<w).contains(iw) else { continue }
                            let v = x[p * h * w + ih * w + iw]
                            if v.isNaN || v > best { best = v; bestIndex = ih * w + iw }
                        }
                    }
                    values.append(best)
                    indices.append(bestIndex)
                }
            }
        }
        return (values, indices, shape.dropLast(2) + [outH, outW])
    }

    /// Average pooling with PyTorch's divisor: the window clipped to `[−padding, size + padding)`
    /// (countIncludePad) or to the input, unless `divisorOverride` is given.
    static func avgPool2d(_ x: [Double], shape: [Int], kernel: Size2d, stride: Size2d, padding: Size2d,
                          ceilMode: Bool, countIncludePad: Bool, divisorOverride: Int?) -> (values: [Double], shape: [Int]) {
        let (planeCount, h, w) = planes(shape)
        let outH = windowCount(size: h, kernel: kernel.h, stride: stride.h, padding: padding.h, dilation: 1, ceilMode: ceilMode)
        let outW = windowCount(size: w, kernel: kernel.w, stride: stride.w, padding: padding.w, dilation: 1, ceilMode: ceilMode)
        var values: [Double] = []
        for p in 0..<planeCount {
            for oh in 0..<outH {
                for ow in 0..<outW {
                    var sum = 0.0, inputCells = 0, paddedCells = 0
                    for kh in 0..<kernel.h {
                        for kw in 0..<kernel.w {
                            let ih = oh * stride.h - padding.h + kh
                            let iw = ow * stride.w - padding.w + kw
                            if ih < h + padding.h && iw < w + padding.w { paddedCells += 1 }
                            guard (0..<h).contains(ih) && (0..<w).contains(iw) else { continue }
                            sum += x[p * h * w + ih * w + iw]
                            inputCells += 1
                        }
                    }
                    let divisor = divisorOverride ?? (countIncludePad ? paddedCells : inputCells)
                    values.append(inputCells == 0 ? 0 : sum / Double(divisor))
                }
            }
        }
        return (values, shape.dropLast(2) + [outH, outW])
    }

    /// Adaptive average pooling: output `i` averages `⌊i·size/out⌋ ..< ⌈(i+1)·size/out⌉`.
    static func adaptiveAvgPool2d(_ x: [Double], shape: [Int], outputSize: Size2d) -> (values: [Double], shape: [Int]) {
        let (planeCount, h, w) = planes(shape)
        func window(_ i: Int, _ size: Int, _ out: Int) -> Range<Int> {
            Int((Double(i * size) / Double(out)).rounded(.down)) ..< Int((Double((i + 1) * size) / Double(out)).rounded(.up))
        }
        var values: [Double] = []
        for p in 0..<planeCount {
            for oh in 0..<outputSize.h {
                for ow in 0..<outputSize.w {
                    let rows = window(oh, h, outputSize.h), cols = window(ow, w, outputSize.w)
                    var sum = 0.0
                    for ih in rows { for iw in cols { sum += x[p * h * w + ih * w + iw] } }
                    values.append(sum / Double(rows.count * cols.count))
                }
            }
        }
        return (values, shape.dropLast(2) + [outputSize.h, outputSize.w])
    }

    /// Max unpooling: zeros, then each input value written at its index in its plane, in order.
    static func maxUnpool2d(_ x: [Double], indices: [Int], shape: [Int], outputHeight: Int, outputWidth: Int) -> (values: [Double], shape: [Int]) {
        let (planeCount, h, w) = planes(shape)
        let outPlane = outputHeight * outputWidth
        var values = [Double](repeating: 0, count: planeCount * outPlane)
        for p in 0..<planeCount {
            for i in 0..<h * w { values[p * outPlane + indices[p * h * w + i]] = x[p * h * w + i] }
        }
        return (values, shape.dropLast(2) + [outputHeight, outputWidth])
    }
}
