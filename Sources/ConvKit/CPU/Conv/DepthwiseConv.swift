/// Dedicated kernels for depthwise convolution (groups == input channels; output channel `oc`
/// reads input channel `oc / multiplier`, weight `[inChannels·multiplier, 1, kH, kW]`).
///
/// Depthwise convolution is memory-bound, so the loops are arranged for locality: one output
/// row is built from its `kH·kW` input row segments while it stays in L1, the kernel's taps are
/// held in a small local array, and no temporary the size of X̂ exists.
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
            // Columns where every tap reads inside the input: computed 8 at a time in registers.
            var interior = 0..<ow
            for kx in 0..<kw { interior = interior.clamped(to: colRanges[kx]) }
            if interior.isEmpty { interior = 0..<0 }
            CPUBackend.shared.parallelFor(g.n * g.outChannels) { planes in
                for plane in planes {
                    let image = plane / g.outChannels, oc = plane % g.outChannels
                    let x = input + (image * g.inChannels + oc / multiplier) * ih * iw
                    let taps = weight + oc * kh * kw
                    let out = output + plane * oh * ow
                    for y in 0..<oh {
                        let outRow = out + y * ow
                        let rows = validKernelRows(y, g)
                        var xo = 0
                        if g.strideW == 1 {
                            // Border columns, one by one.
                            while xo < interior.lowerBound || (xo < ow && interior.isEmpty) {
                                outRow[xo] = borderValue(xo, rows: rows, x: x, taps: taps, y: y, g: g); xo += 1
                            }
                            while xo + 8 <= interior.upperBound {
                                var acc = SIMD8<Float>()
                                for ky in rows {
                                    let src = x + (y * g.strideH + ky * g.dilationH - g.padTop) * iw + xo - g.padLeft
                                    for kx in 0..<kw {
                                        acc += SIMD8(repeating: taps[ky * kw + kx]) * RowMath.load(src + kx * g.dilationW)
                                    }
                                }
                                RowMath.store(acc, outRow + xo)
                                xo += 8
                            }
                        }
                        while xo < ow {
                            outRow[xo] = borderValue(xo, rows: rows, x: x, taps: taps, y: y, g: g); xo += 1
                        }
                    }
                }
            }
        }
    }

    /// The kernel rows `ky` that read inside the input for output row `y`.
    @inline(__always)
    static func validKernelRows(_ y: Int, _ g: Conv2dGeometry) -> Range<Int> {
        // Input row y·S - P + ky·D must lie in 0..<inHeight.
        let base = y * g.strideH - g.padTop
        let lo = base >= 0 ? 0 : (-base + g.dilationH - 1) / g.dilationH
        let hi = min(g.kernelHeight, base >= g.inHeight ? 0 : (g.inHeight - 1 - base) / g.dilationH + 1)
        return lo < hi ? lo..<hi : 0..<0
    }

    /// One output value computed with bounds checks (border columns and strided layers).
    @inline(__always)
    static func borderValue(_ xo: Int, rows: Range<Int>, x: UnsafePointer<Float>, taps: UnsafePointer<Float>,
                            y: Int, g: Conv2dGeometry) -> Float {
        var sum: Float = 0
        for ky in rows {
            let xRow = x + (y * g.strideH + ky * g.dilationH - g.padTop) * g.inWidth
            for kx in 0..<g.kernelWidth {
                let inX = xo * g.strideW + kx * g.dilationW - g.padLeft
                if inX >= 0 && inX < g.inWidth { sum += taps[ky * g.kernelWidth + kx] * xRow[inX] }
            }
        }
        return sum
    }

    /// `gradInput = ∂L/∂input` (overwrites); each input row is gathered by one thread from the
    /// output rows of the channel's `multiplier` filters that read it.
    static func backwardInput(gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        precondition(supports(g), "DepthwiseConv needs groups == input channels")
        let (oh, ow, ih, iw) = (g.outHeight, g.outWidth, g.inHeight, g.inWidth)
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let multiplier = g.outChannels / g.inChannels
        // With stride 1 along the width, input column x reads gradient column x + padLeft - kx·D:
        // inside for every tap on `interior`, computed 8 at a time in registers.
        let interiorLo = max(0, (kw - 1) * g.dilationW - g.padLeft), interiorHi = min(iw, ow - g.padLeft)
        let vectorised = g.strideW == 1 && interiorLo < interiorHi
        CPUBackend.shared.parallelFor(g.n * g.inChannels) { planes in
            Scratch.withBuffer(of: Int.self, count: kh) { readRows in
                for plane in planes {
                    let image = plane / g.inChannels, c = plane % g.inChannels
                    let dx = gradInput + plane * ih * iw
                    let dyPlanes = gradOutput + (image * g.outChannels + c * multiplier) * oh * ow
                    let tapsBase = weight + c * multiplier * kh * kw
                    for y in 0..<ih {
                        let dxRow = dx + y * iw
                        // readRows[ky] = the gradient row that reads input row y through tap row ky, or -1.
                        for ky in 0..<kh {
                            readRows[ky] = ConvIndexing.outputReading(input: y, pad: g.padTop, tapOffset: ky * g.dilationH,
                                                                      stride: g.strideH, outSize: oh) ?? -1
                        }
                        func scalar(_ x: Int) -> Float {
                            var sum: Float = 0
                            for m in 0..<multiplier {
                                let dyPlane = dyPlanes + m * oh * ow, taps = tapsBase + m * kh * kw
                                for ky in 0..<kh where readRows[ky] >= 0 {
                                    let dyRow = dyPlane + readRows[ky] * ow
                                    for kx in 0..<kw {
                                        if let xo = ConvIndexing.outputReading(input: x, pad: g.padLeft, tapOffset: kx * g.dilationW,
                                                                               stride: g.strideW, outSize: ow) {
                                            sum += taps[ky * kw + kx] * dyRow[xo]
                                        }
                                    }
                                }
                            }
                            return sum
                        }
                        var x = 0
                        if vectorised {
                            while x < interiorLo { dxRow[x] = scalar(x); x += 1 }
                            while x + 8 <= interiorHi {
                                var acc = SIMD8<Float>()
                                for m in 0..<multiplier {
                                    let dyPlane = dyPlanes + m * oh * ow, taps = tapsBase + m * kh * kw
                                    for ky in 0..<kh where readRows[ky] >= 0 {
                                        let src = dyPlane + readRows[ky] * ow + x + g.padLeft
                                        for kx in 0..<kw {
                                            acc += SIMD8(repeating: taps[ky * kw + kx]) * RowMath.load(src - kx * g.dilationW)
                                        }
                                    }
                                }
                                RowMath.store(acc, dxRow + x)
                                x += 8
                            }
                        }
                        while x < iw { dxRow[x] = scalar(x); x += 1 }
                    }
                }
            }
        }
    }

    /// `gradWeight = ∂L/∂weight` summed over the batch (overwrites); parallel over output
    /// channels, each tap reduced over images and rows in a fixed order.
    static func backwardWeight(gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
                               gradWeight: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        precondition(supports(g), "DepthwiseConv needs groups == input channels")
        let (oh, ow, ih, iw) = (g.outHeight, g.outWidth, g.inHeight, g.inWidth)
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let multiplier = g.outChannels / g.inChannels
        CPUBackend.shared.parallelFor(g.outChannels) { channels in
            Scratch.withBuffer(of: Double.self, count: kh * kw) { sums in
                for oc in channels {
                    sums.update(repeating: 0, count: kh * kw)
                    let c = oc / multiplier
                    for image in 0..<g.n {
                        let x = input + (image * g.inChannels + c) * ih * iw
                        let dy = gradOutput + (image * g.outChannels + oc) * oh * ow
                        for y in 0..<oh {
                            let dyRow = dy + y * ow
                            for ky in 0..<kh {
                                let inY = y * g.strideH + ky * g.dilationH - g.padTop
                                guard inY >= 0, inY < ih else { continue }
                                let xRow = x + inY * iw
                                for kx in 0..<kw {
                                    let offsetX = kx * g.dilationW - g.padLeft
                                    let cols = ConvIndexing.validOutputs(offset: offsetX, stride: g.strideW, inSize: iw, outSize: ow)
                                    let src = xRow + offsetX
                                    var rowSum: Float = 0
                                    if g.strideW == 1 {
                                        rowSum = RowMath.dot(cols.count, dyRow + cols.lowerBound, src + cols.lowerBound)
                                    } else {
                                        for xo in cols { rowSum += dyRow[xo] * src[xo * g.strideW] }
                                    }
                                    sums[ky * kw + kx] += Double(rowSum)
                                }
                            }
                        }
                    }
                    for t in 0..<kh * kw { gradWeight[oc * kh * kw + t] = Float(sums[t]) }
                }
            }
        }
    }
}
