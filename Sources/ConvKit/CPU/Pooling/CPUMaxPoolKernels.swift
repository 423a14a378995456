extension CPUBackend {
    /// Rows per parallel chunk so that a chunk holds a few thousand output cells.
    static func rowGrain(_ width: Int) -> Int { Swift.max(1, 4096 / Swift.max(width, 1)) }

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
            while first < 0 { first += dW }
            colFirst[ow] = first
        }
        let x = UnsafePointer(input.floats), y = output.floats, idx = indices?.ints
        colFirst.withUnsafeBufferPointer { colFirst in
        colEnd.withUnsafeBufferPointer { colEnd in
            parallelFor(g.planes * outH, grain: Self.rowGrain(outW * kH * kW)) { range in
                for r in range {
                    let plane = r / outH, oh = r - plane * outH
                    var rowFirst = oh * sH - pH
                    let rowEnd = Swift.min(rowFirst + (kH - 1) * dH + 1, inH)
                    while rowFirst < 0 { rowFirst += dH }
                    let src = x + plane * inH * inW
                    let dst = y + r * outW
                    for ow in 0..<outW {
                        let wFirst = colFirst[ow], wEnd = colEnd[ow]
                        var best = -Float.infinity
                        var bestIndex = rowFirst * inW + wFirst
                        var ih = rowFirst
                        while ih < rowEnd {
                            let row = src + ih * inW
                            var iw = wFirst
                            while iw < wEnd {
                                let v = row[iw]
                                if v > best || v.isNaN {
                                    best = v
                                    bestIndex = ih * inW + iw
                                }
                                iw += dW
                            }
                            ih += dH
                        }
                        dst[ow] = best
                        idx?[r * outW + ow] = Int32(truncatingIfNeeded: bestIndex)
                    }
                }
            }
        }}
    }

    public func maxPool2dBackward(_ gradOutput: Storage, indices: Storage, gradInput: Storage,
                                  geometry g: Pool2dGeometry) throws {
        let inH = g.inputHeight, inW = g.inputWidth, outH = g.outputHeight, outW = g.outputWidth
        let rowsOf = InverseIndexMap(windows: outH, inputCount: inH, kernel: g.kernel.h, stride: g.stride.h,
                                     padding: g.padding.h, dilation: g.dilation.h)
        let colsOf = InverseIndexMap(windows: outW, inputCount: inW, kernel: g.kernel.w, stride: g.stride.w,
                                     padding: g.padding.w, dilation: g.dilation.w)
        let dy = UnsafePointer(gradOutput.floats), argmax = UnsafePointer(indices.ints), dx = gradInput.floats
        rowsOf.withPointers { rowOffsets, rowSources in
        colsOf.withPointers { colOffsets, colSources in
            parallelFor(g.planes * inH, grain: Self.rowGrain(inW)) { range in
                for r in range {
                    let plane = r / inH, ih = r - plane * inH
                    let planeGrad = dy + plane * outH * outW, planeArgmax = argmax + plane * outH * outW
                    let rowStart = Int(rowOffsets[ih]), rowEnd = Int(rowOffsets[ih + 1])
                    let dst = dx + r * inW
                    for iw in 0..<inW {
                        let target = Int32(truncatingIfNeeded: ih * inW + iw)
                        let colStart = Int(colOffsets[iw]), colEnd = Int(colOffsets[iw + 1])
                        var sum: Float = 0
                        for a in rowStart..<rowEnd {
                            let o = Int(rowSources[a]) * outW
                            for b in colStart..<colEnd {
                                let cell = o + Int(colSources[b])
                                if planeArgmax[cell] == target { sum += planeGrad[cell] }
                            }
                        }
                        dst[iw] = sum
                    }
                }
            }
        }}
    }

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
