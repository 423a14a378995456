import Foundation

/// Convolution as a GEMM whose big operand, X̂ (im2col), never exists in memory: each tile of
/// it is gathered into a small packed buffer right before a register-blocked SIMD micro-kernel
/// consumes it (the CPU version of CUTLASS's implicit GEMM). Padding is predication: a tap
/// that falls outside the input reads as zero.
///
/// Per group, the three passes are these GEMMs (pixels are `(n, oh, ow)` for the output and
/// `(n, ih, iw)` for the input; `K = Cin/g·kH·kW`):
/// - forward: `Y[co, pixel] = Σ_k W[co, k] · X̂[k, pixel]`;
/// - input gradient: `dX[ci, pixel] = Σ_(co,kh,kw) W[co, ci, kh, kw] · dŶ[(co,kh,kw), pixel]`,
///   where `dŶ` gathers `dY` at `oh = (ih + padTop − kh·dil) / stride` when that divides;
/// - weight gradient: `dW[co, k] = Σ_pixel dY[co, pixel] · X̂[k, pixel]`, each thread owning a
///   block of `k` columns, so no two threads write the same weight.
///
/// Inputs are NCHW contiguous, weights `[Cout, Cin/groups, kH, kW]`; outputs are overwritten.
enum ImplicitGEMMConv {
    typealias Vector = SIMD8<Float>

    #if CONVKIT_AVX2
    /// Rows of the micro-kernel's register tile (output channels, or input channels for dgrad).
    /// AVX2+FMA builds (`-Xswiftc -target-cpu -Xswiftc haswell -Xswiftc -D -Xswiftc CONVKIT_AVX2`,
    /// as for the built-in SGEMM): 6×16, twelve 256-bit accumulators and fused multiply-adds.
    static let tileRows = 6
    /// Columns of the micro-kernel's register tile (two 8-wide vectors).
    static let tileColumns = 16
    #else
    /// Rows of the micro-kernel's register tile. Baseline x86-64 (SSE, 16 registers, no FMA):
    /// 4×8, eight 128-bit accumulators plus operands and a product temporary, without spills.
    static let tileRows = 4
    /// Columns of the micro-kernel's register tile (one 8-wide vector).
    static let tileColumns = 8
    #endif
    /// Pixels per tile of X̂ gathered at once (a multiple of `tileColumns`).
    static let pixelsPerTile = 96
    /// Longest reduction block: keeps one gathered `kBlock × tileColumns` strip in L1.
    static let maxReductionBlock = 256
    /// Pixels per reduction block of the weight gradient.
    static let weightGradientPixelBlock = 256

    // MARK: Forward

    /// `output = conv(input, weight)` for every image and group.
    static func forward(input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let pixels = g.outHeight * g.outWidth
        let outPerGroup = g.outChannelsPerGroup, reduction = g.patchSize
        guard g.n > 0, pixels > 0, outPerGroup > 0 else { return }
        guard reduction > 0 else { output.update(repeating: 0, count: g.n * g.outChannels * pixels); return }
        let panels = (outPerGroup + tileRows - 1) / tileRows
        Scratch.withFloats(g.groups * panels * reduction * tileRows) { packedWeight in
            packRows(source: weight, rows: outPerGroup, groups: g.groups, reduction: reduction,
                     panels: panels, into: packedWeight) { row, k in row * reduction + k }
            let source = ImageSource(geometry: g, forward: true)
            runPixelTiles(images: g.n, groups: g.groups, pixels: pixels, rows: outPerGroup,
                          reduction: reduction, panels: panels, packedA: packedWeight,
                          imageStride: g.inChannels * g.inHeight * g.inWidth,
                          groupStride: g.inChannelsPerGroup * g.inHeight * g.inWidth,
                          sourceBase: input, output: output, outputChannels: g.outChannels,
                          gather: source.gatherForward)
        }
    }

    // MARK: Input gradient

    /// `gradInput = ∂L/∂input` from `gradOutput` (the transpose of `forward`).
    static func backwardInput(gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let pixels = g.inHeight * g.inWidth
        let inPerGroup = g.inChannelsPerGroup, outPerGroup = g.outChannelsPerGroup
        let taps = g.kernelHeight * g.kernelWidth
        let reduction = outPerGroup * taps
        guard g.n > 0, pixels > 0, inPerGroup > 0 else { return }
        guard reduction > 0, g.outHeight * g.outWidth > 0 else {
            gradInput.update(repeating: 0, count: g.n * g.inChannels * pixels); return
        }
        let panels = (inPerGroup + tileRows - 1) / tileRows
        Scratch.withFloats(g.groups * panels * reduction * tileRows) { packedWeight in
            // A[ci, (co, kh, kw)] = W[co, ci, kh, kw] within the group.
            packRows(source: weight, rows: inPerGroup, groups: g.groups, reduction: reduction,
                     panels: panels, into: packedWeight) { ci, k in
                let co = k / taps, tap = k - co * taps
                return (co * inPerGroup + ci) * taps + tap
            }
            let source = ImageSource(geometry: g, forward: false)
            let outPixels = g.outHeight * g.outWidth
            runPixelTiles(images: g.n, groups: g.groups, pixels: pixels, rows: inPerGroup,
                          reduction: reduction, panels: panels, packedA: packedWeight,
                          imageStride: g.outChannels * outPixels, groupStride: outPerGroup * outPixels,
                          sourceBase: gradOutput, output: gradInput, outputChannels: g.inChannels,
                          gather: source.gatherInputGradient)
        }
    }

    // MARK: Weight gradient

    /// `gradWeight = ∂L/∂weight` from `gradOutput` and `input`.
    static func backwardWeight(gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
                               gradWeight: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        let outPerGroup = g.outChannelsPerGroup, reduction = g.patchSize
        let pixels = g.outHeight * g.outWidth
        guard outPerGroup > 0, reduction > 0 else { return }
        guard g.n > 0, pixels > 0 else { gradWeight.update(repeating: 0, count: g.outChannels * reduction); return }
        let threads = CPUBackend.shared.threadCount
        // Columns of dW per work item: at most 96, but small enough that every thread gets one.
        let perThread = (reduction + threads - 1) / threads
        let blockColumns = min(pixelsPerTile, max(tileColumns, (perThread + tileColumns - 1) / tileColumns * tileColumns))
        let columnBlocks = (reduction + blockColumns - 1) / blockColumns
        let panels = (outPerGroup + tileRows - 1) / tileRows
        let paddedRows = panels * tileRows
        let pixelBlock = min(weightGradientPixelBlock, pixels)
        let source = ImageSource(geometry: g, forward: true)
        let accumulatorCount = paddedRows * blockColumns

        CPUBackend.shared.parallelFor(g.groups * columnBlocks) { items in
            // This thread's dW blocks stay in accumulators over all images and pixel blocks, so
            // each pixel block's dY panel is packed once for all of them (per group).
            let bufferCount = items.count * accumulatorCount + paddedRows * pixelBlock + pixelBlock * blockColumns + pixelBlock
            Scratch.withFloats(bufferCount) { buffer in
                let accumulators = buffer
                let packedA = buffer + items.count * accumulatorCount
                let gathered = packedA + paddedRows * pixelBlock
                let staging = gathered + pixelBlock * blockColumns
                accumulators.update(repeating: 0, count: items.count * accumulatorCount)
                for image in 0..<g.n {
                    var pixel0 = 0
                    while pixel0 < pixels {
                        let count = min(pixelBlock, pixels - pixel0)
                        var packedGroup = -1
                        for item in items {
                            let group = item / columnBlocks
                            let column0 = (item % columnBlocks) * blockColumns
                            let columns = min(blockColumns, reduction - column0)
                            if group != packedGroup {
                                // A panels: for each pixel, tileRows consecutive output channels.
                                let dy = gradOutput + (image * g.outChannels + group * outPerGroup) * pixels + pixel0
                                for panel in 0..<panels {
                                    let dst = packedA + panel * count * tileRows
                                    for r in 0..<tileRows {
                                        let co = panel * tileRows + r
                                        if co < outPerGroup {
                                            let row = dy + co * pixels
                                            for q in 0..<count { dst[q * tileRows + r] = row[q] }
                                        } else {
                                            for q in 0..<count { dst[q * tileRows + r] = 0 }
                                        }
                                    }
                                }
                                packedGroup = group
                            }
                            let x = input + (image * g.inChannels + group * g.inChannelsPerGroup) * g.inHeight * g.inWidth
                            source.gatherTransposed(x: x, k0: column0, kCount: columns, pixel0: pixel0,
                                                    pixelCount: count, into: gathered, staging: staging)
                            let accumulator = accumulators + (item - items.lowerBound) * accumulatorCount
                            var j = 0
                            while j < columns {
                                for panel in 0..<panels {
                                    microKernel(count, packedA + panel * count * tileRows, gathered + j * count, tileColumns,
                                                accumulator + panel * tileRows * blockColumns + j, blockColumns, true)
                                }
                                j += tileColumns
                            }
                        }
                        pixel0 += count
                    }
                }
                for item in items {
                    let group = item / columnBlocks
                    let column0 = (item % columnBlocks) * blockColumns
                    let columns = min(blockColumns, reduction - column0)
                    let accumulator = accumulators + (item - items.lowerBound) * accumulatorCount
                    for co in 0..<outPerGroup {
                        let dst = gradWeight + (group * outPerGroup + co) * reduction + column0
                        let src = accumulator + co * blockColumns
                        for j in 0..<columns { dst[j] = src[j] }
                    }
                }
            }
        }
    }

    // MARK: Tiles

    /// Packs a per-group row-major matrix `A[row, k]` (read through `index`) into panels of
    /// `tileRows` rows: `packed[((group·panels + panel)·reduction + k)·tileRows + r]`, zero past the last row.
    private static func packRows(source: UnsafePointer<Float>, rows: Int, groups: Int, reduction: Int, panels: Int,
                                 into packed: UnsafeMutablePointer<Float>, index: (Int, Int) -> Int) {
        let groupSize = rows * reduction
        CPUBackend.shared.parallelFor(groups * panels, grain: 4) { range in
            for item in range {
                let group = item / panels, panel = item % panels
                let src = source + group * groupSize
                let dst = packed + item * reduction * tileRows
                for r in 0..<tileRows {
                    let row = panel * tileRows + r
                    if row < rows {
                        for k in 0..<reduction { dst[k * tileRows + r] = src[index(row, k)] }
                    } else {
                        for k in 0..<reduction { dst[k * tileRows + r] = 0 }
                    }
                }
            }
        }
    }

    /// The shared driver of forward and input gradient: `out[row, pixel] = Σ_k A[row, k]·B[k, pixel]`
    /// per image and group, with B gathered tile by tile (`pixelsPerTile × kBlock`) by `gather`.
    private static func runPixelTiles(
        images: Int, groups: Int, pixels: Int, rows: Int, reduction: Int, panels: Int,
        packedA: UnsafePointer<Float>, imageStride: Int, groupStride: Int, sourceBase: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, outputChannels: Int,
        gather: (UnsafePointer<Float>, Int, Int, Int, Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    ) {
        let tiles = (pixels + pixelsPerTile - 1) / pixelsPerTile
        let kBlocks = (reduction + maxReductionBlock - 1) / maxReductionBlock
        let kBlock = (reduction + kBlocks - 1) / kBlocks
        CPUBackend.shared.parallelFor(images * groups * tiles) { items in
            Scratch.withFloats(kBlock * pixelsPerTile + pixelsPerTile + tileRows * tileColumns) { buffer in
                let gathered = buffer
                let rowStaging = buffer + kBlock * pixelsPerTile
                let edge = rowStaging + pixelsPerTile
                for item in items {
                    let tile = item % tiles, group = (item / tiles) % groups, image = item / (tiles * groups)
                    let pixel0 = tile * pixelsPerTile
                    let count = min(pixelsPerTile, pixels - pixel0)
                    let source = sourceBase + image * imageStride + group * groupStride
                    let outBase = output + (image * outputChannels + group * rows) * pixels + pixel0
                    let aGroup = packedA + group * panels * reduction * tileRows
                    var k0 = 0
                    while k0 < reduction {
                        let kc = min(kBlock, reduction - k0)
                        let accumulate = k0 > 0
                        gather(source, k0, kc, pixel0, count, gathered, rowStaging)
                        var j = 0
                        while j < count {
                            let columns = min(tileColumns, count - j)
                            let strip = gathered + j * kc
                            for panel in 0..<panels {
                                let a = aGroup + (panel * reduction + k0) * tileRows
                                let rowCount = min(tileRows, rows - panel * tileRows)
                                let c = outBase + panel * tileRows * pixels + j
                                if rowCount == tileRows && columns == tileColumns {
                                    microKernel(kc, a, strip, tileColumns, c, pixels, accumulate)
                                } else {
                                    microKernel(kc, a, strip, tileColumns, edge, tileColumns, false)
                                    for r in 0..<rowCount {
                                        let dst = c + r * pixels, src = edge + r * tileColumns
                                        if accumulate {
                                            for q in 0..<columns { dst[q] += src[q] }
                                        } else {
                                            for q in 0..<columns { dst[q] = src[q] }
                                        }
                                    }
                                }
                            }
                            j += tileColumns
                        }
                        k0 += kc
                    }
                }
            }
        }
    }

    #if CONVKIT_AVX2
    /// `C[6×16] (+)= Σ_k a[k][0..<6] ⊗ b[k][0..<16]`: `a` packed (6 per k), `b` rows `ldb` apart,
    /// `C` rows `ldc` apart; twelve 8-wide accumulators stay in registers for the whole `kc` loop.
    @inline(__always)
    static func microKernel(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int,
                            _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool) {
        var c00 = Vector(), c01 = Vector(), c10 = Vector(), c11 = Vector(), c20 = Vector(), c21 = Vector()
        var c30 = Vector(), c31 = Vector(), c40 = Vector(), c41 = Vector(), c50 = Vector(), c51 = Vector()
        var ap = a, bp = UnsafeRawPointer(b)
        let bStride = ldb * MemoryLayout<Float>.stride
        for _ in 0..<kc {
            let b0 = bp.loadUnaligned(as: Vector.self)
            let b1 = bp.loadUnaligned(fromByteOffset: 32, as: Vector.self)
            var x = Vector(repeating: ap[0])
            c00.addProduct(x, b0); c01.addProduct(x, b1)
            x = Vector(repeating: ap[1])
            c10.addProduct(x, b0); c11.addProduct(x, b1)
            x = Vector(repeating: ap[2])
            c20.addProduct(x, b0); c21.addProduct(x, b1)
            x = Vector(repeating: ap[3])
            c30.addProduct(x, b0); c31.addProduct(x, b1)
            x = Vector(repeating: ap[4])
            c40.addProduct(x, b0); c41.addProduct(x, b1)
            x = Vector(repeating: ap[5])
            c50.addProduct(x, b0); c51.addProduct(x, b1)
            ap += 6
            bp += bStride
        }
        store(c, row: 0, ldc, accumulate, c00, c01); store(c, row: 1, ldc, accumulate, c10, c11)
        store(c, row: 2, ldc, accumulate, c20, c21); store(c, row: 3, ldc, accumulate, c30, c31)
        store(c, row: 4, ldc, accumulate, c40, c41); store(c, row: 5, ldc, accumulate, c50, c51)
    }

    @inline(__always)
    private static func store(_ c: UnsafeMutablePointer<Float>, row: Int, _ ldc: Int, _ accumulate: Bool,
                              _ v0: Vector, _ v1: Vector) {
        let p = UnsafeMutableRawPointer(c + row * ldc)
        if accumulate {
            p.storeBytes(of: p.loadUnaligned(as: Vector.self) + v0, as: Vector.self)
            p.storeBytes(of: p.loadUnaligned(fromByteOffset: 32, as: Vector.self) + v1, toByteOffset: 32, as: Vector.self)
        } else {
            p.storeBytes(of: v0, as: Vector.self)
            p.storeBytes(of: v1, toByteOffset: 32, as: Vector.self)
        }
    }
    #else
    /// `C[4×8] (+)= Σ_k a[k][0..<4] ⊗ b[k][0..<8]`: `a` packed (4 per k), `b` rows `ldb` apart,
    /// `C` rows `ldc` apart; the four 8-wide accumulators stay in registers for the whole `kc` loop.
    /// `x += a * b`, not `addProduct`: without FMA hardware that becomes a libm call per lane.
    @inline(__always)
    static func microKernel(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int,
                            _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool) {
        var c0 = Vector(), c1 = Vector(), c2 = Vector(), c3 = Vector()
        var ap = a, bp = UnsafeRawPointer(b)
        let bStride = ldb * MemoryLayout<Float>.stride
        for _ in 0..<kc {
            let bv = bp.loadUnaligned(as: Vector.self)
            c0 += Vector(repeating: ap[0]) * bv
            c1 += Vector(repeating: ap[1]) * bv
            c2 += Vector(repeating: ap[2]) * bv
            c3 += Vector(repeating: ap[3]) * bv
            ap += 4
            bp += bStride
        }
        store(c, row: 0, ldc, accumulate, c0); store(c, row: 1, ldc, accumulate, c1)
        store(c, row: 2, ldc, accumulate, c2); store(c, row: 3, ldc, accumulate, c3)
    }

    @inline(__always)
    private static func store(_ c: UnsafeMutablePointer<Float>, row: Int, _ ldc: Int, _ accumulate: Bool, _ v: Vector) {
        let p = UnsafeMutableRawPointer(c + row * ldc)
        p.storeBytes(of: accumulate ? p.loadUnaligned(as: Vector.self) + v : v, as: Vector.self)
    }
    #endif
}

/// Gathers tiles of X̂ (forward, weight gradient) or of dŶ (input gradient) from one image and
/// group, with zeros where a tap falls into the padding or between strided outputs.
private struct ImageSource {
    let g: Conv2dGeometry
    /// Width of the pixel grid the tile's pixels live on (output for X̂, input for dŶ).
    let gridWidth: Int
    let taps: Int

    init(geometry: Conv2dGeometry, forward: Bool) {
        g = geometry
        gridWidth = forward ? geometry.outWidth : geometry.inWidth
        taps = geometry.kernelHeight * geometry.kernelWidth
    }

    /// Row and column of pixel `index` on the grid.
    @inline(__always)
    private func gridPosition(_ index: Int) -> (row: Int, column: Int) {
        let row = index / gridWidth
        return (row, index - row * gridWidth)
    }

    /// Walks reduction indices `k = (channel, kh, kw)` in order without a division per step.
    private struct TapCursor {
        var channel: Int, kh: Int, kw: Int
        let kernelHeight: Int, kernelWidth: Int
        init(_ k: Int, geometry g: Conv2dGeometry) {
            let taps = g.kernelHeight * g.kernelWidth
            channel = k / taps
            kh = (k - channel * taps) / g.kernelWidth
            kw = k - channel * taps - kh * g.kernelWidth
            kernelHeight = g.kernelHeight; kernelWidth = g.kernelWidth
        }
        @inline(__always)
        mutating func advance() {
            kw += 1
            if kw == kernelWidth {
                kw = 0; kh += 1
                if kh == kernelHeight { kh = 0; channel += 1 }
            }
        }
    }

    /// Calls `body(rowSegmentStart, gridRow, gridColumn, length)` for the runs of consecutive
    /// pixels of `first ..< first + pixelCount` (first given as grid row and column) that share a grid row.
    @inline(__always)
    private func forEachRowRun(_ first: (row: Int, column: Int), _ pixelCount: Int, _ body: (Int, Int, Int, Int) -> Void) {
        var offset = 0
        var (row, column) = first
        while offset < pixelCount {
            let length = min(gridWidth - column, pixelCount - offset)
            body(offset, row, column, length)
            offset += length; row += 1; column = 0
        }
    }

    /// X̂ rows `k0 ..< k0+kCount` (k = (c, kh, kw)) over output pixels `pixel0 ..< +pixelCount`,
    /// in strips of `w = tileColumns` pixels: entry `(kk, q)` at `dst[(q/w·kCount + kk)·w + q%w]`,
    /// so the micro-kernel reads each strip contiguously. `row` is a `pixelsPerTile` staging row.
    func gatherForward(x: UnsafePointer<Float>, k0: Int, kCount: Int, pixel0: Int, pixelCount: Int,
                       into dst: UnsafeMutablePointer<Float>, row: UnsafeMutablePointer<Float>) {
        let first = gridPosition(pixel0)
        var tap = TapCursor(k0, geometry: g)
        for kk in 0..<kCount {
            defer { tap.advance() }
            let (c, kh, kw) = (tap.channel, tap.kh, tap.kw)
            let plane = x + c * g.inHeight * g.inWidth
            let rowOffset = kh * g.dilationH - g.padTop, columnOffset = kw * g.dilationW - g.padLeft
            forEachRowRun(first, pixelCount) { start, oh, ow0, length in
                let out = row + start
                let ih = oh * g.strideH + rowOffset
                guard ih >= 0 && ih < g.inHeight else { out.update(repeating: 0, count: length); return }
                copyRow(from: plane + ih * g.inWidth, width: g.inWidth, first: ow0 * g.strideW + columnOffset,
                        step: g.strideW, count: length, to: out)
            }
            scatterToStrips(row, count: pixelCount, kk: kk, kCount: kCount, into: dst)
        }
    }

    /// The X̂ entries for the weight gradient, pixel-major in strips of `tileColumns` columns:
    /// entry `(q, kk)` at `dst[(kk/w·pixelCount + q)·w + kk%w]` (`w = tileColumns`), zero past `kCount`.
    func gatherTransposed(x: UnsafePointer<Float>, k0: Int, kCount: Int, pixel0: Int, pixelCount: Int,
                          into dst: UnsafeMutablePointer<Float>, staging: UnsafeMutablePointer<Float>) {
        let width = ImplicitGEMMConv.tileColumns
        let first = gridPosition(pixel0)
        var tap = TapCursor(k0, geometry: g)
        for kk in 0..<kCount {
            defer { tap.advance() }
            let (c, kh, kw) = (tap.channel, tap.kh, tap.kw)
            let column = dst + (kk / width) * pixelCount * width + kk % width
            let plane = x + c * g.inHeight * g.inWidth
            let rowOffset = kh * g.dilationH - g.padTop, columnOffset = kw * g.dilationW - g.padLeft
            forEachRowRun(first, pixelCount) { start, oh, ow0, length in
                let ih = oh * g.strideH + rowOffset
                let out = column + start * width
                guard ih >= 0 && ih < g.inHeight else {
                    for q in 0..<length { out[q * width] = 0 }
                    return
                }
                copyRow(from: plane + ih * g.inWidth, width: g.inWidth, first: ow0 * g.strideW + columnOffset,
                        step: g.strideW, count: length, to: staging)
                for q in 0..<length { out[q * width] = staging[q] }
            }
        }
        let lastLanes = kCount % width
        if lastLanes > 0 {
            let strip = dst + (kCount / width) * pixelCount * width
            for q in 0..<pixelCount {
                for lane in lastLanes..<width { strip[q * width + lane] = 0 }
            }
        }
    }

    /// dŶ rows `k0 ..< k0+kCount` (k = (co, kh, kw)) over input pixels `pixel0 ..< +pixelCount`:
    /// `dY[co, oh, ow]` where `ih = oh·stride − pad + kh·dil` (likewise for w), zero elsewhere;
    /// same strip layout as `gatherForward`.
    func gatherInputGradient(dy: UnsafePointer<Float>, k0: Int, kCount: Int, pixel0: Int, pixelCount: Int,
                             into dst: UnsafeMutablePointer<Float>, row: UnsafeMutablePointer<Float>) {
        let outPixels = g.outHeight * g.outWidth
        let first = gridPosition(pixel0)
        var tap = TapCursor(k0, geometry: g)
        for kk in 0..<kCount {
            defer { tap.advance() }
            let (co, kh, kw) = (tap.channel, tap.kh, tap.kw)
            let plane = dy + co * outPixels
            let rowOffset = g.padTop - kh * g.dilationH, columnOffset = g.padLeft - kw * g.dilationW
            forEachRowRun(first, pixelCount) { start, ih, iw0, length in
                let out = row + start
                let ohTimesStride = ih + rowOffset
                let oh = ohTimesStride / g.strideH
                guard ohTimesStride >= 0 && oh * g.strideH == ohTimesStride && oh < g.outHeight else {
                    out.update(repeating: 0, count: length); return
                }
                let src = plane + oh * g.outWidth
                if g.strideW == 1 {
                    copyRow(from: src, width: g.outWidth, first: iw0 + columnOffset, step: 1, count: length, to: out)
                } else {
                    var owTimesStride = iw0 + columnOffset
                    for q in 0..<length {
                        let ow = owTimesStride / g.strideW
                        out[q] = owTimesStride >= 0 && ow * g.strideW == owTimesStride && ow < g.outWidth ? src[ow] : 0
                        owTimesStride += 1
                    }
                }
            }
            scatterToStrips(row, count: pixelCount, kk: kk, kCount: kCount, into: dst)
        }
    }

    /// Copies staging row `kk` into its place in each strip, zero-padding the last strip.
    @inline(__always)
    private func scatterToStrips(_ row: UnsafeMutablePointer<Float>, count: Int, kk: Int, kCount: Int,
                                 into dst: UnsafeMutablePointer<Float>) {
        let width = ImplicitGEMMConv.tileColumns
        let strips = (count + width - 1) / width
        for q in count..<(strips * width) { row[q] = 0 }
        for s in 0..<strips {
            let from = UnsafeRawPointer(row + s * width)
            let to = UnsafeMutableRawPointer(dst + (s * kCount + kk) * width)
            var offset = 0
            while offset < width * MemoryLayout<Float>.stride {
                to.storeBytes(of: from.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self), toByteOffset: offset,
                              as: SIMD8<Float>.self)
                offset += MemoryLayout<SIMD8<Float>>.stride
            }
        }
    }

    /// `out[q] = src[first + q·step]` where that index is inside `0 ..< width`, else 0.
    @inline(__always)
    private func copyRow(from src: UnsafePointer<Float>, width: Int, first: Int, step: Int, count: Int,
                         to out: UnsafeMutablePointer<Float>) {
        // Valid q: 0 <= first + q·step < width.
        let lo = first >= 0 ? 0 : min(count, (-first + step - 1) / step)
        let hi = first >= width ? 0 : max(lo, min(count, (width - 1 - first) / step + 1))
        for q in 0..<lo { out[q] = 0 }
        if step == 1 {
            var q = lo
            let from = src + first
            while q + 8 <= hi {
                UnsafeMutableRawPointer(out + q).storeBytes(of: UnsafeRawPointer(from + q).loadUnaligned(as: SIMD8<Float>.self),
                                                            as: SIMD8<Float>.self)
                q += 8
            }
            while q < hi { out[q] = from[q]; q += 1 }
        } else {
            var index = first + lo * step
            for q in lo..<hi { out[q] = src[index]; index += step }
        }
        for q in hi..<count { out[q] = 0 }
    }
}
