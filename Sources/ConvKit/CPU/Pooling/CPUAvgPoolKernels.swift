extension CPUBackend {
    /// One dimension of average pooling: for each window, the clipped input range and its
    /// share of the divisor (PyTorch: the window clipped at `size + padding` when padding
    /// counts, clipped at the input otherwise).
    private struct AvgWindows {
        var start: [Int], end: [Int], divisorShare: [Int]

        init(outputCount: Int, size: Int, kernel: Int, stride: Int, padding: Int, countIncludePad: Bool) {
            start = []; end = []; divisorShare = []
            for o in 0..<outputCount {
                let padStart = o * stride - padding
                let padEnd = Swift.min(padStart + kernel, size + padding)
                let s = Swift.max(padStart, 0), e = Swift.min(padEnd, size)
                start.append(s); end.append(e)
                divisorShare.append(countIncludePad ? padEnd - padStart : Swift.max(e - s, 0))
            }
        }
    }

    /// `PoolingKernels.avgPool2d`: one output row per task, PyTorch's divisor per window.
    public func avgPool2d(_ input: Storage, output: Storage, geometry g: Pool2dGeometry, divisor: AvgPoolDivisor) throws {
        let inH = g.inputHeight, inW = g.inputWidth, outH = g.outputHeight, outW = g.outputWidth
        let rows = AvgWindows(outputCount: outH, size: inH, kernel: g.kernel.h, stride: g.stride.h,
                              padding: g.padding.h, countIncludePad: divisor.countIncludePad)
        let cols = AvgWindows(outputCount: outW, size: inW, kernel: g.kernel.w, stride: g.stride.w,
                              padding: g.padding.w, countIncludePad: divisor.countIncludePad)
        let x = UnsafePointer(input.floats), y = output.floats, override = divisor.override
        parallelFor(g.planes * outH, grain: Self.rowGrain(outW * g.kernel.h * g.kernel.w)) { range in
            for r in range {
                let plane = r / outH, oh = r - plane * outH
                let hStart = rows.start[oh], hEnd = rows.end[oh]
                let src = x + plane * inH * inW, dst = y + r * outW
                for ow in 0..<outW {
                    let wStart = cols.start[ow], wEnd = cols.end[ow]
                    if hStart >= hEnd || wStart >= wEnd { dst[ow] = 0; continue }
                    var sum: Float = 0
                    for ih in hStart..<hEnd {
                        let row = src + ih * inW
                        for iw in wStart..<wEnd { sum += row[iw] }
                    }
                    dst[ow] = sum / Float(override ?? rows.divisorShare[oh] * cols.divisorShare[ow])
                }
            }
        }
    }

    /// `PoolingKernels.avgPool2dBackward`: each input row gathers the shares of the windows over it.
    public func avgPool2dBackward(_ gradOutput: Storage, gradInput: Storage, geometry g: Pool2dGeometry,
                                  divisor: AvgPoolDivisor) throws {
        let inH = g.inputHeight, inW = g.inputWidth, outH = g.outputHeight, outW = g.outputWidth
        let rows = AvgWindows(outputCount: outH, size: inH, kernel: g.kernel.h, stride: g.stride.h,
                              padding: g.padding.h, countIncludePad: divisor.countIncludePad)
        let cols = AvgWindows(outputCount: outW, size: inW, kernel: g.kernel.w, stride: g.stride.w,
                              padding: g.padding.w, countIncludePad: divisor.countIncludePad)
        let rowsOf = InverseIndexMap(outputCount: outH, inputCount: inH) { rows.start[$0]..<Swift.max(rows.start[$0], rows.end[$0]) }
        let dy = UnsafePointer(gradOutput.floats), dx = gradInput.floats, override = divisor.override
        // Each input row is owned by one thread, which adds the gradients of the output rows
        // whose windows cover it (ascending rows, then columns): a gather in a fixed order.
        rowsOf.withPointers { rowOffsets, rowSources in
            parallelFor(g.planes * inH, grain: Self.rowGrain(outW * g.kernel.w)) { range in
                for r in range {
                    let plane = r / inH, ih = r - plane * inH
                    let planeGrad = dy + plane * outH * outW
                    let dst = dx + r * inW
                    dst.update(repeating: 0, count: inW)
                    for a in Int(rowOffsets[ih])..<Int(rowOffsets[ih + 1]) {
                        let oh = Int(rowSources[a])
                        let row = planeGrad + oh * outW
                        for ow in 0..<outW {
                            let share = row[ow] / Float(override ?? rows.divisorShare[oh] * cols.divisorShare[ow])
                            for iw in cols.start[ow]..<Swift.max(cols.start[ow], cols.end[ow]) { dst[iw] += share }
                        }
                    }
                }
            }
        }
    }

    /// PyTorch's adaptive windows along one dimension: `⌊i·size/out⌋ ..< ⌈(i+1)·size/out⌉`.
    static func adaptiveWindow(_ i: Int, size: Int, outputCount: Int) -> Range<Int> {
        let start = (i * size) / outputCount
        let end = ((i + 1) * size + outputCount - 1) / outputCount
        return start..<end
    }

    /// `PoolingKernels.adaptiveAvgPool2d`: one output row per task.
    public func adaptiveAvgPool2d(_ input: Storage, output: Storage, geometry g: Pool2dGeometry) throws {
        let inH = g.inputHeight, inW = g.inputWidth, outH = g.outputHeight, outW = g.outputWidth
        let cols = (0..<outW).map { Self.adaptiveWindow($0, size: inW, outputCount: outW) }
        let x = UnsafePointer(input.floats), y = output.floats
        parallelFor(g.planes * outH, grain: Self.rowGrain(outW * Swift.max(1, inH * inW / Swift.max(outH * outW, 1)))) { range in
            for r in range {
                let plane = r / outH, oh = r - plane * outH
                let rowsRange = Self.adaptiveWindow(oh, size: inH, outputCount: outH)
                let src = x + plane * inH * inW, dst = y + r * outW
                for ow in 0..<outW {
                    let colsRange = cols[ow]
                    var sum: Float = 0
                    for ih in rowsRange {
                        let row = src + ih * inW
                        for iw in colsRange { sum += row[iw] }
                    }
                    dst[ow] = sum / Float(rowsRange.count) / Float(colsRange.count)
                }
            }
        }
    }

    /// `PoolingKernels.adaptiveAvgPool2dBackward`: a gather over the windows covering each cell.
    public func adaptiveAvgPool2dBackward(_ gradOutput: Storage, gradInput: Storage, geometry g: Pool2dGeometry) throws {
        let inH = g.inputHeight, inW = g.inputWidth, outH = g.outputHeight, outW = g.outputWidth
        let rowsOf = InverseIndexMap(outputCount: outH, inputCount: inH) { Self.adaptiveWindow($0, size: inH, outputCount: outH) }
        let colsOf = InverseIndexMap(outputCount: outW, inputCount: inW) { Self.adaptiveWindow($0, size: inW, outputCount: outW) }
        let rowCount = (0..<outH).map { Float(Self.adaptiveWindow($0, size: inH, outputCount: outH).count) }
        let colCount = (0..<outW).map { Float(Self.adaptiveWindow($0, size: inW, outputCount: outW).count) }
        let dy = UnsafePointer(gradOutput.floats), dx = gradInput.floats
        rowsOf.withPointers { rowOffsets, rowSources in
        colsOf.withPointers { colOffsets, colSources in
            parallelFor(g.planes * inH, grain: Self.rowGrain(inW)) { range in
                for r in range {
                    let plane = r / inH, ih = r - plane * inH
                    let planeGrad = dy + plane * outH * outW
                    let rowStart = Int(rowOffsets[ih]), rowEnd = Int(rowOffsets[ih + 1])
                    let dst = dx + r * inW
                    for iw in 0..<inW {
                        let colStart = Int(colOffsets[iw]), colEnd = Int(colOffsets[iw + 1])
                        var sum: Float = 0
                        for a in rowStart..<rowEnd {
                            let oh = Int(rowSources[a])
                            let row = planeGrad + oh * outW
                            for b in colStart..<colEnd {
                                let ow = Int(colSources[b])
                                sum += row[ow] / rowCount[oh] / colCount[ow]
                            }
                        }
                        dst[iw] = sum
                    }
                }
            }
        }}
    }
}
