/// Naive Float64 convolutions: the test oracle. Written for clarity, not speed; every index is
/// computed from the definitions, independently of the CPU kernels and of `pad`.
enum ConvReference {
    /// The input coordinate that padded coordinate `i` (in `-padBefore ..< size + padAfter`)
    /// reads under `mode`, or nil for a zero.
    static func sourceIndex(_ i: Int, size: Int, mode: PaddingMode) -> Int? {
        if i >= 0 && i < size { return i }
        switch mode {
        case .zeros: return nil
        case .reflect: return i < 0 ? -i : 2 * (size - 1) - i
        case .replicate: return min(max(i, 0), size - 1)
        case .circular: return ((i % size) + size) % size
        }
    }

    /// `y[n, oc, oy, ox] = bias[oc] + Σ_{c, ky, kx} x[n, g·cpg + c, oy·S - P + ky·D, ox·S - P + kx·D] · w[oc, c, ky, kx]`,
    /// with out-of-range input coordinates filled according to `paddingMode`.
    /// Shapes are those of `geometry`; the result is `geometry.outputShape`.
    static func conv2d(input x: [Double], weight w: [Double], bias: [Double]?, geometry g: Conv2dGeometry,
                       paddingMode: PaddingMode = .zeros) -> [Double] {
        let cpg = g.inChannelsPerGroup, opg = g.outChannelsPerGroup
        var y = [Double](repeating: 0, count: g.n * g.outChannels * g.outHeight * g.outWidth)
        for n in 0..<g.n {
            for oc in 0..<g.outChannels {
                let group = oc / opg
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        var sum = bias?[oc] ?? 0
                        for c in 0..<cpg {
                            let ic = group * cpg + c
                            for ky in 0..<g.kernelHeight {
                                guard let iy = sourceIndex(oy * g.strideH - g.padTop + ky * g.dilationH,
                                                           size: g.inHeight, mode: paddingMode) else { continue }
                                for kx in 0..<g.kernelWidth {
                                    guard let ix = sourceIndex(ox * g.strideW - g.padLeft + kx * g.dilationW,
                                                               size: g.inWidth, mode: paddingMode) else { continue }
                                    let xv = x[((n * g.inChannels + ic) * g.inHeight + iy) * g.inWidth + ix]
                                    let wv = w[((oc * cpg + c) * g.kernelHeight + ky) * g.kernelWidth + kx]
                                    sum += xv * wv
                                }
                            }
                        }
                        y[((n * g.outChannels + oc) * g.outHeight + oy) * g.outWidth + ox] = sum
                    }
                }
            }
        }
        return y
    }

    /// Output height/width of a transposed convolution: `(h-1)·S - 2P + D(K-1) + outputPadding + 1`.
    static func transposedOutputSize(_ size: Int, kernel: Int, stride: Int, padding: Int,
                                     outputPadding: Int, dilation: Int) -> Int {
        (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + outputPadding + 1
    }

    /// Transposed convolution written as the scatter that defines it: every input element
    /// `x[n, ic, iy, ix]` adds `x · w[ic, oc, ky, kx]` to `y[n, g·opg + oc, iy·S - P + ky·D, ix·S - P + kx·D]`.
    /// Input `[n, inChannels, h, w]`, weight `[inChannels, outChannels/groups, kH, kW]`.
    static func convTranspose2d(input x: [Double], weight w: [Double], bias: [Double]?,
                                n: Int, inChannels: Int, height: Int, width: Int,
                                outChannels: Int, kernel: Size2d, stride: Size2d, padding: Size2d,
                                outputPadding: Size2d, dilation: Size2d, groups: Int) -> [Double] {
        let outH = transposedOutputSize(height, kernel: kernel.h, stride: stride.h, padding: padding.h,
                                        outputPadding: outputPadding.h, dilation: dilation.h)
        let outW = transposedOutputSize(width, kernel: kernel.w, stride: stride.w, padding: padding.w,
                                        outputPadding: outputPadding.w, dilation: dilation.w)
        let ipg = inChannels / groups, opg = outChannels / groups
        var y = [Double](repeating: 0, count: n * outChannels * outH * outW)
        for b in 0..<n {
            for oc in 0..<outChannels {
                for p in 0..<outH * outW { y[(b * outChannels + oc) * outH * outW + p] = bias?[oc] ?? 0 }
            }
            for ic in 0..<inChannels {
                let group = ic / ipg
                for iy in 0..<height {
                    for ix in 0..<width {
                        let xv = x[((b * inChannels + ic) * height + iy) * width + ix]
                        for o in 0..<opg {
                            let oc = group * opg + o
                            for ky in 0..<kernel.h {
                                let oy = iy * stride.h - padding.h + ky * dilation.h
                                guard oy >= 0 && oy < outH else { continue }
                                for kx in 0..<kernel.w {
                                    let ox = ix * stride.w - padding.w + kx * dilation.w
                                    guard ox >= 0 && ox < outW else { continue }
                                    let wv = w[((ic * opg + o) * kernel.h + ky) * kernel.w + kx]
                                    y[((b * outChannels + oc) * outH + oy) * outW + ox] += xv * wv
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }
}
