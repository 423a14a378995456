extension CPUBackend {
    /// Rows per parallel chunk so that a chunk holds a few thousand output cells.
    static func rowGrain(_ width: Int) -> Int { Swift.max(1, 4096 / Swift.max(width, 1)) }

    /// `PoolingKernels.maxPool2d`: per output row, a vectorised pass down the window rows, then
    /// one across each window (values only, or values with PyTorch-ordered argmax).
    public func maxPool2d(_ input: Storage, output: Storage, indices: Storage?, geometry g: Pool2dGeometry) throws {
        let inH = g.inputHeight, inW = g.inputWidth, outH = g.outputHeight, outW = g.outputWidth
        let kH = g.kernel.h, kW = g.kernel.w, sH = g.stride.h, sW = g.stride.w
        let pH = g.padding.h, pW = g.padding.w, dH = g.dilation.h, dW = g.dilation.w
        // First in-input tap and end of each column window (as PyTorch: the first tap is found
        // by stepping the dilation from the window start).
        var colFirst = [Int](repeating: 0, count: outW), colEnd = colFirst
        for ow in 0..<outW {
            var first = ow * sW - pW
            colEnd[ow] = Swift.min(first + (kW - 1) * dW + 1, inW)
            first = Self.firstTapInside(first, dilation: dW)
            colFirst[ow] = first
        }
        let x = UnsafePointer(input.floats), y = output.floats
        colFirst.withUnsafeBufferPointer { colFirstBuffer in
        colEnd.withUnsafeBufferPointer { colEndBuffer in
            let colFirst = colFirstBuffer.baseAddress!, colEnd = colEndBuffer.baseAddress!
            parallelFor(g.planes * outH, grain: Self.rowGrain(outW * kH * kW)) { range in
                if let argmax = indices?.ints {
                    Scratch.withFloats(inW) { columnBest in
                    Scratch.withBuffer(of: Int32.self, count: inW) { columnRow in
                        for r in range {
                            let plane = r / outH, oh = r - plane * outH
                            var rowFirst = oh * sH - pH
                            let rowEnd = Swift.min(rowFirst + (kH - 1) * dH + 1, inH)
                            rowFirst = Self.firstTapInside(rowFirst, dilation: dH)
                            Self.columnArgmax(x + plane * inH * inW, width: inW, rows: stride(from: rowFirst, to: rowEnd, by: dH),
                                              first: rowFirst, best: columnBest, row: columnRow)
                            Self.windowArgmax(best: columnBest, row: columnRow, width: inW, firstRow: rowFirst,
                                              colFirst: colFirst, colEnd: colEnd, colStep: dW, count: outW,
                                              output: y + r * outW, indices: argmax + r * outW)
                        }
                    }}
                    return
                }
                // Values only: the maximum is exact, so take it over the window's rows first
                // (contiguous, vectorisable), then along each window's columns.
                Scratch.withFloats(inW) { columnMax in
                    for r in range {
                        let plane = r / outH, oh = r - plane * outH
                        var rowFirst = oh * sH - pH
                        let rowEnd = Swift.min(rowFirst + (kH - 1) * dH + 1, inH)
                        rowFirst = Self.firstTapInside(rowFirst, dilation: dH)
                        let src = x + plane * inH * inW, dst = y + r * outW
                        columnMax.update(repeating: -.infinity, count: inW)
                        var ih = rowFirst
                        while ih < rowEnd {
                            let row = src + ih * inW
                            for iw in 0..<inW {
                                let v = row[iw], m = columnMax[iw]
                                columnMax[iw] = (v > m || v != v) ? v : m
                            }
                            ih += dH
                        }
                        for ow in 0..<outW {
                            var best = -Float.infinity
                            var iw = colFirst[ow]
                            let wEnd = colEnd[ow]
                            while iw < wEnd {
                                let v = columnMax[iw]
                                if v > best || v != v { best = v }
                                iw += dW
                            }
                            dst[ow] = best
                        }
                    }
                }
            }
        }}
    }

    /// Down each column of the window's rows (ascending): the maximum and the row it is in,
    /// PyTorch's way (a NaN replaces anything, so the last NaN wins; otherwise the first
    /// maximum). Vectorised across columns.
    @inline(__always)
    static func columnArgmax(_ plane: UnsafePointer<Float>, width: Int, rows: StrideTo<Int>, first: Int,
                             best: UnsafeMutablePointer<Float>, row: UnsafeMutablePointer<Int32>) {
        best.update(repeating: -.infinity, count: width)
        row.update(repeating: Int32(truncatingIfNeeded: first), count: width)
        let vectorEnd = width & ~7
        for ih in rows {
            let src = plane + ih * width
            let rowIndex = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: ih))
            var iw = 0
            while iw < vectorEnd {
                let v = UnsafeRawPointer(src + iw).loadUnaligned(as: SIMD8<Float>.self)
                var m = UnsafeRawPointer(best + iw).loadUnaligned(as: SIMD8<Float>.self)
                var r = UnsafeRawPointer(row + iw).loadUnaligned(as: SIMD8<Int32>.self)
                let take = (v .> m) .| (v .!= v)
                m.replace(with: v, where: take)
                r.replace(with: rowIndex, where: take)
                UnsafeMutableRawPointer(best + iw).storeBytes(of: m, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(row + iw).storeBytes(of: r, as: SIMD8<Int32>.self)
                iw += 8
            }
            while iw < width {
                let v = src[iw]
                if v > best[iw] || v != v { best[iw] = v; row[iw] = Int32(truncatingIfNeeded: ih) }
                iw += 1
            }
        }
    }

    /// Across each window's columns: combines the per-column results into the cell PyTorch's
    /// row-major scan would pick (the NaN latest in row-major order, else the maximum earliest
    /// in row-major order; an all -∞ or empty window keeps its first tap).
    @inline(__always)
    static func windowArgmax(best: UnsafePointer<Float>, row: UnsafePointer<Int32>, width: Int, firstRow: Int,
                             colFirst: UnsafePointer<Int>, colEnd: UnsafePointer<Int>, colStep: Int, count: Int,
                             output: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>) {
        var hasNaN = false
        for iw in 0..<width where best[iw] != best[iw] { hasNaN = true; break }
        if !hasNaN {
            // No NaN: rank candidates by one integer key, larger value first, then earlier row
            // (+0 turns -0 into 0 so that they tie, as PyTorch's comparison does). Branch-free.
            @inline(__always) func key(_ v: Float, _ r: Int32) -> UInt64 {
                let bits = (v + 0).bitPattern
                let ordered = bits ^ (UInt32(bitPattern: Int32(bitPattern: bits) >> 31) | 0x8000_0000)
                return UInt64(ordered) << 32 | UInt64(UInt32.max - UInt32(bitPattern: r))
            }
            let firstRowKey = Int32(truncatingIfNeeded: firstRow)
            for ow in 0..<count {
                let first = colFirst[ow], end = colEnd[ow]
                guard first < end else {
                    output[ow] = -.infinity
                    indices[ow] = Int32(truncatingIfNeeded: firstRow * width + first)
                    continue
                }
                var bestKey = key(-.infinity, firstRowKey), bestCol = first
                var iw = first
                while iw < end {
                    let k = key(best[iw], row[iw])
                    let take = k > bestKey
                    bestKey = take ? k : bestKey
                    bestCol = take ? iw : bestCol
                    iw += colStep
                }
                output[ow] = best[bestCol]
                indices[ow] = row[bestCol] &* Int32(truncatingIfNeeded: width) &+ Int32(truncatingIfNeeded: bestCol)
            }
            return
        }
        for ow in 0..<count {
            var value = -Float.infinity
            var bestRow = firstRow, bestCol = colFirst[ow]
            var iw = colFirst[ow]
            let end = colEnd[ow]
            while iw < end {
                let v = best[iw], r = Int(row[iw])
                let take: Bool
                if v != v {
                    take = value == value || r >= bestRow
                } else {
                    take = value == value && (v > value || (v == value && r < bestRow))
                }
                if take { value = v; bestRow = r; bestCol = iw }
                iw += colStep
            }
            output[ow] = value
            indices[ow] = Int32(truncatingIfNeeded: bestRow * width + bestCol)
        }
    }

    /// A window's first tap at or after 0, stepping by the dilation from `start` (PyTorch's
    /// `while (start < 0) start += dilation`, in one step).
    @inline(__always)
    static func firstTapInside(_ start: Int, dilation: Int) -> Int {
        start >= 0 ? start : start + (-start + dilation - 1) / dilation * dilation
    }

    /// `PoolingKernels.maxPool2dBackward`: each input row gathers from the windows over it.
    public func maxPool2dBackward(_ gradOutput: Storage, indices: Storage, gradInput: Storage,
                                  geometry g: Pool2dGeometry) throws {
        let inH = g.inputHeight, inW = g.inputWidth, outH = g.outputHeight, outW = g.outputWidth
        let rowsOf = InverseIndexMap(windows: outH, inputCount: inH, kernel: g.kernel.h, stride: g.stride.h,
                                     padding: g.padding.h, dilation: g.dilation.h)
        // A column window whose taps all fall in the padding (dilation) has a -∞ result and an
        // index outside it; it passes no gradient.
        let emptyColumns = (0..<outW).filter { ow in
            let start = ow * g.stride.w - g.padding.w
            let end = Swift.min(start + (g.kernel.w - 1) * g.dilation.w + 1, inW)
            return Self.firstTapInside(start, dilation: g.dilation.w) >= end
        }
        let skippedColumns = Set(emptyColumns)
        let dy = UnsafePointer(gradOutput.floats), argmax = UnsafePointer(indices.ints), dx = gradInput.floats
        // Each input row is owned by one thread, which gathers from the output rows whose
        // windows touch it (ascending), so every cell sums its gradients in a fixed order.
        rowsOf.withPointers { rowOffsets, rowSources in
            parallelFor(g.planes * inH, grain: Self.rowGrain(outW * 2)) { range in
                for r in range {
                    let plane = r / inH, ih = r - plane * inH
                    let planeGrad = dy + plane * outH * outW, planeArgmax = argmax + plane * outH * outW
                    let dst = dx + r * inW
                    dst.update(repeating: 0, count: inW)
                    let rowBase = Int32(truncatingIfNeeded: ih * inW), width = UInt32(truncatingIfNeeded: inW)
                    for a in Int(rowOffsets[ih])..<Int(rowOffsets[ih + 1]) {
                        let o = Int(rowSources[a]) * outW
                        let grads = planeGrad + o, args = planeArgmax + o
                        if skippedColumns.isEmpty {
                            for ow in 0..<outW {
                                let column = UInt32(bitPattern: args[ow] &- rowBase)
                                if column < width { dst[Int(column)] += grads[ow] }
                            }
                        } else {
                            for ow in 0..<outW where !skippedColumns.contains(ow) {
                                let column = UInt32(bitPattern: args[ow] &- rowBase)
                                if column < width { dst[Int(column)] += grads[ow] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `PoolingKernels.maxUnpool2d`: checks every index first, then scatters plane by plane.
    public func maxUnpool2d(_ input: Storage, indices: Storage, output: Storage, geometry g: Pool2dGeometry) throws {
        let inPlane = g.inputPlaneSize, outPlane = g.outputPlaneSize
        let count = g.planes * inPlane
        let x = UnsafePointer(input.floats), idx = UnsafePointer(indices.ints), y = output.floats
        for i in 0..<count where idx[i] < 0 || Int(idx[i]) >= outPlane {
            throw ConvKitError.invalidArgument(
                op: "maxUnpool2d",
                message: "index \(idx[i]) at flat position \(i) is outside the output plane of \(g.outputHeight)x\(g.outputWidth) (valid: 0..<\(outPlane))")
        }
        parallelFor(g.planes, grain: Swift.max(1, 16384 / Swift.max(outPlane, 1))) { planes in
            for plane in planes {
                let dst = y + plane * outPlane, src = x + plane * inPlane, planeIdx = idx + plane * inPlane
                dst.update(repeating: 0, count: outPlane)
                for i in 0..<inPlane { dst[Int(planeIdx[i])] = src[i] }
            }
        }
    }

    /// `PoolingKernels.maxUnpool2dBackward`: reads the output gradient at each index.
    public func maxUnpool2dBackward(_ gradOutput: Storage, indices: Storage, gradInput: Storage,
                                    geometry g: Pool2dGeometry) throws {
        let inPlane = g.inputPlaneSize, outPlane = g.outputPlaneSize
        let dy = UnsafePointer(gradOutput.floats), idx = UnsafePointer(indices.ints), dx = gradInput.floats
        parallelFor(g.planes * inPlane, grain: 1 << 14) { range in
            for i in range {
                let plane = i / inPlane
                dx[i] = dy[plane * outPlane + Int(idx[i])]
            }
        }
    }
}
