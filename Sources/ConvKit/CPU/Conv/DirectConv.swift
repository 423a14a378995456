/// Index arithmetic shared by the CPU convolution loops.
enum ConvIndexing {
    /// The outputs `o` in `0..<outSize` whose input `o·stride + offset` lies in `0..<inSize`.
    @inline(__always)
    static func validOutputs(offset: Int, stride: Int, inSize: Int, outSize: Int) -> Range<Int> {
        let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
        let last = inSize - 1 - offset
        let hi = last < 0 ? 0 : min(outSize, last / stride + 1)
        return lo < hi ? lo..<hi : 0..<0
    }

    /// For input position `i`, the output `o` that reads it through kernel tap offset
    /// `tapOffset` (input = o·stride - pad + tapOffset), or nil when there is none.
    @inline(__always)
    static func outputReading(input i: Int, pad: Int, tapOffset: Int, stride: Int, outSize: Int) -> Int? {
        let numerator = i + pad - tapOffset
        guard numerator >= 0, numerator % stride == 0 else { return nil }
        let o = numerator / stride
        return o < outSize ? o : nil
    }
}

/// The chapter's direct convolution: the nested loops, with the innermost loop running along an
/// output row over the range of positions that read inside the input (no per-element bounds
/// checks). Forward is parallel over (image, output channel); each backward pass is parallel
/// over the planes it writes, so every result is computed by one thread in a fixed order.
enum DirectConv {
    /// `output = conv(input, weight)` (overwrites; no bias).
    static func forward(input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let (oh, ow, ih, iw) = (g.outHeight, g.outWidth, g.inHeight, g.inWidth)
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let cpg = g.inChannelsPerGroup, opg = g.outChannelsPerGroup
        CPUBackend.shared.parallelFor(g.n * g.outChannels) { planes in
            for plane in planes {
                let image = plane / g.outChannels, oc = plane % g.outChannels
                let firstChannel = (oc / opg) * cpg
                let out = output + plane * oh * ow
                out.update(repeating: 0, count: oh * ow)
                for c in 0..<cpg {
                    let x = input + (image * g.inChannels + firstChannel + c) * ih * iw
                    let w = weight + (oc * cpg + c) * kh * kw
                    for ky in 0..<kh {
                        let rows = ConvIndexing.validOutputs(offset: ky * g.dilationH - g.padTop, stride: g.strideH, inSize: ih, outSize: oh)
                        for kx in 0..<kw {
                            let offsetX = kx * g.dilationW - g.padLeft
                            let cols = ConvIndexing.validOutputs(offset: offsetX, stride: g.strideW, inSize: iw, outSize: ow)
                            let tap = w[ky * kw + kx]
                            for y in rows {
                                let xRow = x + (y * g.strideH + ky * g.dilationH - g.padTop) * iw + offsetX
                                let outRow = out + y * ow
                                if g.strideW == 1 {
                                    RowMath.axpy(cols.count, tap, xRow + cols.lowerBound, outRow + cols.lowerBound)
                                } else {
                                    for xo in cols { outRow[xo] += tap * xRow[xo * g.strideW] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `gradInput = ∂L/∂input` (overwrites). Each (image, input channel) plane is owned by one
    /// thread, which adds every tap's contribution in a fixed order.
    static func backwardInput(gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let (oh, ow, ih, iw) = (g.outHeight, g.outWidth, g.inHeight, g.inWidth)
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let cpg = g.inChannelsPerGroup, opg = g.outChannelsPerGroup
        CPUBackend.shared.parallelFor(g.n * g.inChannels) { planes in
            for plane in planes {
                let image = plane / g.inChannels, c = plane % g.inChannels
                let group = c / cpg, cInGroup = c % cpg
                let dx = gradInput + plane * ih * iw
                dx.update(repeating: 0, count: ih * iw)
                for o in 0..<opg {
                    let oc = group * opg + o
                    let dy = gradOutput + (image * g.outChannels + oc) * oh * ow
                    let w = weight + (oc * cpg + cInGroup) * kh * kw
                    for ky in 0..<kh {
                        let rows = ConvIndexing.validOutputs(offset: ky * g.dilationH - g.padTop, stride: g.strideH, inSize: ih, outSize: oh)
                        for kx in 0..<kw {
                            let offsetX = kx * g.dilationW - g.padLeft
                            let cols = ConvIndexing.validOutputs(offset: offsetX, stride: g.strideW, inSize: iw, outSize: ow)
                            let tap = w[ky * kw + kx]
                            for y in rows {
                                let dxRow = dx + (y * g.strideH + ky * g.dilationH - g.padTop) * iw + offsetX
                                let dyRow = dy + y * ow
                                if g.strideW == 1 {
                                    RowMath.axpy(cols.count, tap, dyRow + cols.lowerBound, dxRow + cols.lowerBound)
                                } else {
                                    for xo in cols { dxRow[xo * g.strideW] += tap * dyRow[xo] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `gradWeight = ∂L/∂weight` summed over the batch (overwrites); parallel over
    /// (output channel, input channel of its group).
    static func backwardWeight(gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
                               gradWeight: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let (oh, ow, ih, iw) = (g.outHeight, g.outWidth, g.inHeight, g.inWidth)
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let cpg = g.inChannelsPerGroup, opg = g.outChannelsPerGroup
        CPUBackend.shared.parallelFor(g.outChannels * cpg) { pairs in
            for pair in pairs {
                let oc = pair / cpg, cInGroup = pair % cpg
                let c = (oc / opg) * cpg + cInGroup
                let dw = gradWeight + pair * kh * kw
                for ky in 0..<kh {
                    let rows = ConvIndexing.validOutputs(offset: ky * g.dilationH - g.padTop, stride: g.strideH, inSize: ih, outSize: oh)
                    for kx in 0..<kw {
                        let offsetX = kx * g.dilationW - g.padLeft
                        let cols = ConvIndexing.validOutputs(offset: offsetX, stride: g.strideW, inSize: iw, outSize: ow)
                        var sum: Float = 0
                        for image in 0..<g.n {
                            let x = input + (image * g.inChannels + c) * ih * iw
                            let dy = gradOutput + (image * g.outChannels + oc) * oh * ow
                            for y in rows {
                                let xRow = x + (y * g.strideH + ky * g.dilationH - g.padTop) * iw + offsetX
                                let dyRow = dy + y * ow
                                var rowSum: Float = 0
                                if g.strideW == 1 {
                                    rowSum = RowMath.dot(cols.count, dyRow + cols.lowerBound, xRow + cols.lowerBound)
                                } else {
                                    for xo in cols { rowSum += dyRow[xo] * xRow[xo * g.strideW] }
                                }
                                sum += rowSum
                            }
                        }
                        dw[ky * kw + kx] = sum
                    }
                }
            }
        }
    }
}

/// Vectorised row operations for the loop-based kernels (Swift does not reassociate float
/// sums, so reductions need explicit SIMD accumulators to vectorise).
enum RowMath {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// `y[i] += a · x[i]` for `i` in `0..<count`.
    @inline(__always)
    static func axpy(_ count: Int, _ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        var i = 0
        let av = SIMD8<Float>(repeating: a)
        while i + 8 <= count {
            store(load(y + i) + av * load(x + i), y + i)
            i += 8
        }
        while i < count { y[i] += a * x[i]; i += 1 }
    }

    /// `Σ x[i]·y[i]` for `i` in `0..<count`.
    @inline(__always)
    static func dot(_ count: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        var i = 0
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        while i + 16 <= count {
            acc0 += load(x + i) * load(y + i)
            acc1 += load(x + i + 8) * load(y + i + 8)
            i += 16
        }
        if i + 8 <= count { acc0 += load(x + i) * load(y + i); i += 8 }
        var sum = (acc0 + acc1).sum()
        while i < count { sum += x[i] * y[i]; i += 1 }
        return sum
    }
}
