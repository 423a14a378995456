extension CPUBackend {
    /// The input index that output `j` of a padded dimension reads, or -1 for a constant cell.
    /// Circular mode first crops (negative pads), then wraps over what is left (as PyTorch).
    static func padSourceIndex(_ j: Int, size: Int, before: Int, after: Int, mode: PadMode) -> Int {
        let i = j - before
        switch mode {
        case .constant:
            return i >= 0 && i < size ? i : -1
        case .replicate:
            return Swift.min(Swift.max(i, 0), size - 1)
        case .reflect:
            if i < 0 { return -i }
            if i >= size { return 2 * (size - 1) - i }
            return i
        case .circular:
            let cropStart = Swift.max(-before, 0)
            let kept = size - cropStart - Swift.max(-after, 0)
            let r = (j - Swift.max(before, 0)) % kept
            return cropStart + (r < 0 ? r + kept : r)
        }
    }

    /// `padSourceIndex` for every output position of one dimension.
    static func padSourceMap(outputCount: Int, size: Int, before: Int, after: Int, mode: PadMode) -> [Int32] {
        (0..<outputCount).map { Int32(padSourceIndex($0, size: size, before: before, after: after, mode: mode)) }
    }

    /// `PoolingKernels.pad2d`: one output row per task, read through per-dimension source maps.
    public func pad2d(_ input: Storage, output: Storage, geometry g: PadGeometry) throws {
        guard g.planes > 0 && g.outputHeight > 0 && g.outputWidth > 0 else { return }
        let outH = g.outputHeight, outW = g.outputWidth, inH = g.inputHeight, inW = g.inputWidth
        let rowMap = Self.padSourceMap(outputCount: outH, size: inH, before: g.top, after: g.bottom, mode: g.mode)
        let colMap = Self.padSourceMap(outputCount: outW, size: inW, before: g.left, after: g.right, mode: g.mode)
        let x = UnsafePointer(input.floats), y = output.floats, value = g.value
        rowMap.withUnsafeBufferPointer { rows in
            colMap.withUnsafeBufferPointer { cols in
                parallelFor(g.planes * outH, grain: Swift.max(1, 4096 / Swift.max(outW, 1))) { range in
                    for r in range {
                        let plane = r / outH, oh = r - plane * outH
                        let dst = y + r * outW
                        let sourceRow = Int(rows[oh])
                        if sourceRow < 0 {
                            for ow in 0..<outW { dst[ow] = value }
                            continue
                        }
                        let src = x + (plane * inH + sourceRow) * inW
                        for ow in 0..<outW {
                            let c = Int(cols[ow])
                            dst[ow] = c < 0 ? value : src[c]
                        }
                    }
                }
            }
        }
    }

    /// `PoolingKernels.pad2dBackward`: each input row gathers the output rows copied from it.
    public func pad2dBackward(_ gradOutput: Storage, gradInput: Storage, geometry g: PadGeometry) throws {
        guard g.planes > 0 && g.inputHeight > 0 && g.inputWidth > 0 else { return }
        let outH = g.outputHeight, outW = g.outputWidth, inH = g.inputHeight, inW = g.inputWidth
        let rowsOf = InverseIndexMap(
            forward: Self.padSourceMap(outputCount: outH, size: inH, before: g.top, after: g.bottom, mode: g.mode),
            inputCount: inH)
        let colMap = Self.padSourceMap(outputCount: outW, size: inW, before: g.left, after: g.right, mode: g.mode)
        let dy = UnsafePointer(gradOutput.floats), dx = gradInput.floats
        // Each input row is owned by one thread, which adds the output rows copied from it
        // (ascending), cell by cell through the column map: a gather in a fixed order.
        rowsOf.withPointers { rowOffsets, rowSources in
        colMap.withUnsafeBufferPointer { cols in
            parallelFor(g.planes * inH, grain: Swift.max(1, 4096 / Swift.max(outW, 1))) { range in
                for r in range {
                    let plane = r / inH, ih = r - plane * inH
                    let dst = dx + r * inW
                    dst.update(repeating: 0, count: inW)
                    let planeGrad = dy + plane * outH * outW
                    for a in Int(rowOffsets[ih])..<Int(rowOffsets[ih + 1]) {
                        let row = planeGrad + Int(rowSources[a]) * outW
                        for ow in 0..<outW {
                            let c = Int(cols[ow])
                            if c >= 0 { dst[c] += row[ow] }
                        }
                    }
                }
            }
        }}
    }
}
