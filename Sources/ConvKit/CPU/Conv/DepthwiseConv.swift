/// Dedicated kernels for depthwise convolution (groups == input channels; output channel `oc`
/// reads input channel `oc / multiplier`, weight `[inChannels·multiplier, 1, kH, kW]`).
///
/// Depthwise convolution is memory-bound, so the loops are arranged for locality: one output
/// row is built from its `kH·kW` input row segments (SIMD row updates over the columns that
/// read inside the input) while it stays in L1, and no temporary the size of X̂ exists.
enum DepthwiseConv {
    /// Whether the dedicated kernels apply to `geometry`.
    static func supports(_ g: Conv2dGeometry) -> Bool { g.groups == g.inChannels && g.inChannels >= 1 }

    /// `output = conv(input, weight)` (overwrites; no bias); parallel over (image, output channel).
    static func forward(input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        precondition(supports(g), "DepthwiseConv needs groups == input channels")
        let (oh, ow, ih, iw) = (g.outHeight, g.outWidth, g.inHeight, g.inWidth)
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let multiplier = g.outChannels / g.inChannels
        Scratch.withBuffer(of: Range<Int>.self, count: kw) { colRanges in
            for kx in 0..<kw {
                colRanges[kx] = ConvIndexing.validOutputs(offset: kx * g.dilationW - g.padLeft, stride: g.strideW, inSize: iw, outSize: ow)
            }
            CPUBackend.shared.parallelFor(g.n * g.outChannels) { planes in
                for plane in planes {
                    let image = plane / g.outChannels, oc = plane % g.outChannels
                    let x = input + (image * g.inChannels + oc / multiplier) * ih * iw
                    let taps = weight + oc * kh * kw
                    let out = output + plane * oh * ow
                    for y in 0..<oh {
                        let outRow = out + y * ow
                        outRow.update(repeating: 0, count: ow)
                        for ky in 0..<kh {
                            let inY = y * g.strideH + ky * g.dilationH - g.padTop
                            guard inY >= 0, inY < ih else { continue }
                            let xRow = x + inY * iw
                            for kx in 0..<kw {
                                let tap = taps[ky * kw + kx]
                                let src = xRow + kx * g.dilationW - g.padLeft
                                let cols = colRanges[kx]
                                if g.strideW == 1 {
                                    RowMath.axpy(cols.count, tap, src + cols.lowerBound, outRow + cols.lowerBound)
                                } else {
                                    for xo in colRanges[kx] { outRow[xo] += tap * src[xo * g.strideW] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `gradInput = ∂L/∂input` (overwrites); each input row is gathered by one thread from the
    /// output rows of the channel's `multiplier` filters that read it.
    static func backwardInput(gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        precondition(supports(g), "DepthwiseConv needs groups == input channels")
        let (oh, ow, ih, iw) = (g.outHeight, g.outWidth, g.inHeight, g.inWidth)
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let multiplier = g.outChannels / g.inChannels
        // The gradient columns each kernel column reads from do not depend on the row: computed once.
        Scratch.withBuffer(of: Range<Int>.self, count: kw) { colRanges in
            for kx in 0..<kw {
                colRanges[kx] = ConvIndexing.validOutputs(offset: kx * g.dilationW - g.padLeft, stride: g.strideW, inSize: iw, outSize: ow)
            }
            CPUBackend.shared.parallelFor(g.n * g.inChannels) { planes in
                for plane in planes {
                    let image = plane / g.inChannels, c = plane % g.inChannels
                    let dx = gradInput + plane * ih * iw
                    for y in 0..<ih {
                        let dxRow = dx + y * iw
                        dxRow.update(repeating: 0, count: iw)
                        for ky in 0..<kh {
                            guard let yo = ConvIndexing.outputReading(input: y, pad: g.padTop, tapOffset: ky * g.dilationH,
                                                                      stride: g.strideH, outSize: oh) else { continue }
                            for m in 0..<multiplier {
                                let oc = c * multiplier + m
                                let dyRow = gradOutput + ((image * g.outChannels + oc) * oh + yo) * ow
                                let taps = weight + (oc * kh + ky) * kw
                                for kx in 0..<kw {
                                    let cols = colRanges[kx]
                                    let dst = dxRow + kx * g.dilationW - g.padLeft
                                    if g.strideW == 1 {
                                        RowMath.axpy(cols.count, taps[kx], dyRow + cols.lowerBound, dst + cols.lowerBound)
                                    } else {
                                        for xo in cols { dst[xo * g.strideW] += taps[kx] * dyRow[xo] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `gradWeight = ∂L/∂weight` summed over the batch (overwrites); parallel over output
    /// channels, each tap reduced over images and rows in a fixed order (Float64 across rows).
    static func backwardWeight(gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
                               gradWeight: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        precondition(supports(g), "DepthwiseConv needs groups == input channels")
        let (oh, ow, ih, iw) = (g.outHeight, g.outWidth, g.inHeight, g.inWidth)
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let multiplier = g.outChannels / g.inChannels
        CPUBackend.shared.parallelFor(g.outChannels) { channels in
            for oc in channels {
                let c = oc / multiplier
                for ky in 0..<kh {
                    let offsetY = ky * g.dilationH - g.padTop
                    let rows = ConvIndexing.validOutputs(offset: offsetY, stride: g.strideH, inSize: ih, outSize: oh)
                    for kx in 0..<kw {
                        let offsetX = kx * g.dilationW - g.padLeft
                        let cols = ConvIndexing.validOutputs(offset: offsetX, stride: g.strideW, inSize: iw, outSize: ow)
                        var sum = 0.0
                        for image in 0..<g.n {
                            let x = input + (image * g.inChannels + c) * ih * iw
                            let dy = gradOutput + (image * g.outChannels + oc) * oh * ow
                            var imageSum: Float = 0
                            for y in rows {
                                let src = x + (y * g.strideH + offsetY) * iw + offsetX
                                let dyRow = dy + y * ow
                                if g.strideW == 1 {
                                    imageSum += RowMath.dot(cols.count, dyRow + cols.lowerBound, src + cols.lowerBound)
                                } else {
                                    for xo in cols { imageSum += dyRow[xo] * src[xo * g.strideW] }
                                }
                            }
                            sum += Double(imageSum)
                        }
                        gradWeight[(oc * kh + ky) * kw + kx] = Float(sum)
                    }
                }
            }
        }
    }
}
