import Foundation

/// Convolution as a sparse matrix product (the chapter's first formulation): the kernel `W`
/// becomes a matrix `Ŵ` in CSR form whose rows are output positions `(co, oh, ow)` of a group
/// and whose columns are input positions `(c, ih, iw)` of that group, and
/// - forward is `Y = Ŵ·X` (an SpMM: the batch's images are the dense right-hand side),
/// - the input gradient is `dX = Ŵᵀ·dY`, computed as a gather over a transposed CSR,
/// - the weight gradient is `dW[w(i)] += Σ_n dY[row(i), n] · X[col(i), n]` over the nonzeros `i`,
///   each nonzero remembering the weight `w(i)` it was copied from.
///
/// Taps that fall into the padding are simply not in `Ŵ`. `Ŵ` is built in blocks of output
/// channels so its structure stays under a memory budget; the structure (row pointers, column
/// and weight indices) depends only on the geometry, so it is cached (a small LRU) and repeated
/// calls only refill the values from `W`. All three passes are deterministic (no atomics).
enum SparseMatrixConv {
    /// Upper bound on the bytes of one cached block structure (forward plus transposed CSR).
    static let defaultStructureBudget = 64 << 20

    /// `output = conv(input, weight)`.
    static func forward(input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        forward(input: input, weight: weight, output: output, geometry: g, structureBudget: defaultStructureBudget)
    }

    /// `gradInput = Ŵᵀ · gradOutput`.
    static func backwardInput(gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        backwardInput(gradOutput: gradOutput, weight: weight, gradInput: gradInput, geometry: g,
                      structureBudget: defaultStructureBudget)
    }

    /// `gradWeight[w(i)] = Σ_i Σ_n gradOutput[row(i), n] · input[col(i), n]`.
    static func backwardWeight(gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
                               gradWeight: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry) {
        backwardWeight(gradOutput: gradOutput, input: input, gradWeight: gradWeight, geometry: g,
                       structureBudget: defaultStructureBudget)
    }

    // MARK: Passes (with an explicit structure budget, so tests can force many blocks)

    /// `Y = Ŵ·X` with the batch as the dense right-hand side (X transposed to `[position, n]`).
    static func forward(input: UnsafePointer<Float>, weight: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                        geometry g: Conv2dGeometry, structureBudget: Int) {
        let pixels = g.outHeight * g.outWidth, n = g.n
        guard n > 0, pixels > 0, g.outChannels > 0 else { return }
        let inSize = g.inChannels * g.inHeight * g.inWidth
        let structure = StructureCache.shared.structure(for: g, budget: structureBudget)
        Scratch.withFloats(inSize * n) { xT in
            transpose(input, rows: n, columns: inSize, into: xT)
            Scratch.withFloats(structure.nonzeros) { values in
                forEachBlock(g, structure) { group, channel0, channels in
                    let rows = channels * pixels
                    let weightBase = (group * g.outChannelsPerGroup + channel0) * g.patchSize
                    let xGroup = xT + group * g.inChannelsPerGroup * g.inHeight * g.inWidth * n
                    let rowPointer = structure.rowPointer, column = structure.column, weightIndex = structure.weightIndex
                    CPUBackend.shared.parallelFor(rows, grain: 64) { range in
                        // Refill this chunk's values from W, then multiply.
                        for i in Int(rowPointer[range.lowerBound])..<Int(rowPointer[range.upperBound]) {
                            values[i] = weight[weightBase + Int(weightIndex[i])]
                        }
                        Scratch.withFloats(n) { sum in
                            for row in range {
                                sparseRowTimesDense(Int(rowPointer[row]), Int(rowPointer[row + 1]), values, column,
                                                    xGroup, n, into: sum)
                                let co = group * g.outChannelsPerGroup + channel0 + row / pixels, p = row % pixels
                                for image in 0..<n { output[(image * g.outChannels + co) * pixels + p] = sum[image] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `dX = Ŵᵀ·dY`, one gathered row of Ŵᵀ per input position, summed over the channel blocks.
    static func backwardInput(gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              gradInput: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry, structureBudget: Int) {
        let pixels = g.outHeight * g.outWidth, n = g.n
        let inPixels = g.inHeight * g.inWidth
        let inSize = g.inChannels * inPixels, outSize = g.outChannels * pixels
        guard n > 0, inSize > 0 else { return }
        guard pixels > 0 else { gradInput.update(repeating: 0, count: n * inSize); return }
        let structure = StructureCache.shared.structure(for: g, budget: structureBudget)
        let transposed = structure.transposed()
        Scratch.withFloats(outSize * n) { dyT in
            transpose(gradOutput, rows: n, columns: outSize, into: dyT)
            Scratch.withFloats(inSize * n) { dxT in
                dxT.update(repeating: 0, count: inSize * n)
                Scratch.withFloats(transposed.nonzeros) { values in
                    forEachBlock(g, structure) { group, channel0, channels in
                        // Rows of Ŵᵀ are this group's input positions; a partial last block uses
                        // the prefix of each row whose output rows lie in its channels.
                        let rowLimit = Int32(channels * pixels)
                        let weightBase = (group * g.outChannelsPerGroup + channel0) * g.patchSize
                        let dyBlock = dyT + (group * g.outChannelsPerGroup + channel0) * pixels * n
                        let dxGroup = dxT + group * g.inChannelsPerGroup * inPixels * n
                        let rowPointer = transposed.rowPointer, outputRow = transposed.column
                        let weightIndex = transposed.weightIndex
                        CPUBackend.shared.parallelFor(g.inChannelsPerGroup * inPixels, grain: 64) { range in
                            Scratch.withFloats(n) { sum in
                                for row in range {
                                    let start = Int(rowPointer[row])
                                    var end = start
                                    while end < Int(rowPointer[row + 1]) && outputRow[end] < rowLimit {
                                        values[end] = weight[weightBase + Int(weightIndex[end])]
                                        end += 1
                                    }
                                    sparseRowTimesDense(start, end, values, outputRow, dyBlock, n, into: sum)
                                    let dst = dxGroup + row * n
                                    for image in 0..<n { dst[image] += sum[image] }
                                }
                            }
                        }
                    }
                }
                transpose(dxT, rows: inSize, columns: n, into: gradInput)
            }
        }
    }

    /// `dW[w(i)] += Σ_n dY[row(i), n]·X[col(i), n]`, reduced per chunk of rows, then in chunk order.
    static func backwardWeight(gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
                               gradWeight: UnsafeMutablePointer<Float>, geometry g: Conv2dGeometry, structureBudget: Int) {
        let pixels = g.outHeight * g.outWidth, n = g.n
        let inSize = g.inChannels * g.inHeight * g.inWidth, outSize = g.outChannels * pixels
        let patch = g.patchSize
        guard g.outChannels > 0, patch > 0 else { return }
        gradWeight.update(repeating: 0, count: g.outChannels * patch)
        guard n > 0, pixels > 0, inSize > 0 else { return }
        let structure = StructureCache.shared.structure(for: g, budget: structureBudget)
        let threads = CPUBackend.shared.threadCount
        Scratch.withFloats(inSize * n + outSize * n) { buffer in
            let xT = buffer, dyT = buffer + inSize * n
            transpose(input, rows: n, columns: inSize, into: xT)
            transpose(gradOutput, rows: n, columns: outSize, into: dyT)
            // Each chunk of rows reduces into its own partial dW block, eight lanes per weight
            // (one per image modulo 8, summed at the end, so no horizontal sum per nonzero);
            // the partials are then added in chunk order: the result does not depend on timing.
            let blockWeights = structure.channelsPerBlock * patch
            Scratch.withBuffer(of: SIMD8<Float>.self, count: threads * blockWeights) { partials in
                forEachBlock(g, structure) { group, channel0, channels in
                    let rows = channels * pixels
                    let chunks = max(1, min(threads, rows / 256))
                    let xGroup = xT + group * g.inChannelsPerGroup * g.inHeight * g.inWidth * n
                    let dyBlock = dyT + (group * g.outChannelsPerGroup + channel0) * pixels * n
                    let rowPointer = structure.rowPointer, column = structure.column, weightIndex = structure.weightIndex
                    let used = channels * patch
                    CPUBackend.shared.parallelFor(chunks) { chunkRange in
                        for chunk in chunkRange {
                            let partial = partials + chunk * blockWeights
                            partial.update(repeating: SIMD8<Float>(), count: used)
                            for row in (rows * chunk / chunks)..<(rows * (chunk + 1) / chunks) {
                                let dy = dyBlock + row * n
                                for i in Int(rowPointer[row])..<Int(rowPointer[row + 1]) {
                                    partial[Int(weightIndex[i])] += laneProducts(dy, xGroup + Int(column[i]) * n, n)
                                }
                            }
                        }
                    }
                    let dst = gradWeight + (group * g.outChannelsPerGroup + channel0) * patch
                    for chunk in 0..<chunks {
                        let partial = partials + chunk * blockWeights
                        for j in 0..<used { dst[j] += partial[j].sum() }
                    }
                }
            }
        }
    }

    // MARK: Helpers

    /// Calls `body(group, firstChannel, channelCount)` for every block of output channels.
    private static func forEachBlock(_ g: Conv2dGeometry, _ structure: Structure, _ body: (Int, Int, Int) -> Void) {
        let perGroup = g.outChannelsPerGroup
        for group in 0..<g.groups {
            var channel0 = 0
            while channel0 < perGroup {
                let channels = min(structure.channelsPerBlock, perGroup - channel0)
                body(group, channel0, channels)
                channel0 += channels
            }
        }
    }

    /// `sum[0..<n] = Σ_{i in start..<end} values[i] · dense[column[i]·n ..< +n]`.
    @inline(__always)
    private static func sparseRowTimesDense(_ start: Int, _ end: Int, _ values: UnsafePointer<Float>,
                                            _ column: UnsafePointer<Int32>, _ dense: UnsafePointer<Float>, _ n: Int,
                                            into sum: UnsafeMutablePointer<Float>) {
        var image0 = 0
        while image0 + 8 <= n {
            var acc = SIMD8<Float>()
            for i in start..<end {
                let x = UnsafeRawPointer(dense + Int(column[i]) * n + image0).loadUnaligned(as: SIMD8<Float>.self)
                acc += SIMD8(repeating: values[i]) * x
            }
            UnsafeMutableRawPointer(sum + image0).storeBytes(of: acc, as: SIMD8<Float>.self)
            image0 += 8
        }
        for image in image0..<n {
            var acc: Float = 0
            for i in start..<end { acc += values[i] * dense[Int(column[i]) * n + image] }
            sum[image] = acc
        }
    }

    /// `a[i]·b[i]` for `i < n`, folded into eight lanes (lane `i % 8`); the lanes sum to the dot product.
    @inline(__always)
    private static func laneProducts(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> SIMD8<Float> {
        var i = 0
        var vector = SIMD8<Float>()
        while i + 8 <= n {
            vector += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
                * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { vector[i & 7] += a[i] * b[i]; i += 1 }
        return vector
    }

    /// `dst[c·rows + r] = src[r·columns + c]`, in cache-sized blocks across both cores.
    private static func transpose(_ src: UnsafePointer<Float>, rows: Int, columns: Int, into dst: UnsafeMutablePointer<Float>) {
        if rows == 1 || columns == 1 { dst.update(from: src, count: rows * columns); return }
        let block = 32
        let columnBlocks = (columns + block - 1) / block
        CPUBackend.shared.parallelFor(columnBlocks, grain: 16) { range in
            for cb in range {
                let c0 = cb * block, c1 = min(columns, c0 + block)
                var r0 = 0
                while r0 < rows {
                    let r1 = min(rows, r0 + block)
                    for c in c0..<c1 {
                        for r in r0..<r1 { dst[c * rows + r] = src[r * columns + c] }
                    }
                    r0 = r1
                }
            }
        }
    }

    // MARK: Structure

    /// The sparsity pattern of one block of `channelsPerBlock` output channels of one group
    /// (every block and group has the same pattern, offset by its first weight), in CSR form.
    final class Structure: @unchecked Sendable {
        let channelsPerBlock: Int
        /// `rows + 1` offsets into `column`/`weightIndex`; rows are `(channel, oh, ow)`.
        let rowPointer: UnsafeMutablePointer<Int32>
        /// Input position `(c·H + ih)·W + iw` within the group.
        let column: UnsafeMutablePointer<Int32>
        /// Weight `channel·patch + (c·kH + kh)·kW + kw` relative to the block's first channel.
        let weightIndex: UnsafeMutablePointer<Int32>
        let rows: Int
        let nonzeros: Int
        let inputPositions: Int
        private let lock = NSLock()
        private var transposedStructure: Transposed?

        /// Ŵᵀ of the block: rows are input positions, `column` holds the output row
        /// (ascending within each row), `weightIndex` as in the forward structure.
        final class Transposed: @unchecked Sendable {
            let rowPointer: UnsafeMutablePointer<Int32>
            let column: UnsafeMutablePointer<Int32>
            let weightIndex: UnsafeMutablePointer<Int32>
            let nonzeros: Int
            init(rows: Int, nonzeros: Int) {
                rowPointer = .allocate(capacity: rows + 1)
                column = .allocate(capacity: max(nonzeros, 1))
                weightIndex = .allocate(capacity: max(nonzeros, 1))
                self.nonzeros = nonzeros
            }
            deinit { rowPointer.deallocate(); column.deallocate(); weightIndex.deallocate() }
        }

        /// Bytes of the forward and transposed structures of a block of `channels` channels.
        static func bytes(_ g: Conv2dGeometry, channels: Int, nonzerosPerChannel: Int) -> Int {
            let inputPositions = g.inChannelsPerGroup * g.inHeight * g.inWidth
            return 4 * (channels * g.outHeight * g.outWidth + 1) + 4 * (inputPositions + 1)
                + 16 * channels * nonzerosPerChannel
        }

        /// Nonzeros of one output channel's rows: the in-range taps of every output pixel.
        static func nonzerosPerChannel(_ g: Conv2dGeometry) -> Int {
            let counts = rowTapCounts(g)
            return counts.height.reduce(0, +) * counts.width.reduce(0, +) * g.inChannelsPerGroup
        }

        /// A spatial dimension of the convolution.
        enum Axis { case height, width }

        /// For each output row (or column), the kernel rows (columns) that land inside the input.
        static func validTaps(_ g: Conv2dGeometry, along axis: Axis) -> [[Int]] {
            let (outSize, inSize, stride, pad, dilation, kernel) = axis == .height
                ? (g.outHeight, g.inHeight, g.strideH, g.padTop, g.dilationH, g.kernelHeight)
                : (g.outWidth, g.inWidth, g.strideW, g.padLeft, g.dilationW, g.kernelWidth)
            return (0..<outSize).map { o in
                (0..<kernel).filter { k in
                    let i = o * stride - pad + k * dilation
                    return i >= 0 && i < inSize
                }
            }
        }

        /// How many kernel rows (columns) land inside the input, per output row (column).
        static func rowTapCounts(_ g: Conv2dGeometry) -> (height: [Int], width: [Int]) {
            (validTaps(g, along: .height).map(\.count), validTaps(g, along: .width).map(\.count))
        }

        /// Builds the CSR pattern of `channelsPerBlock` output channels (rows in parallel).
        init(geometry g: Conv2dGeometry, channelsPerBlock: Int) {
            self.channelsPerBlock = channelsPerBlock
            let pixels = g.outHeight * g.outWidth, patch = g.patchSize
            let taps = g.kernelHeight * g.kernelWidth
            let tapsH = Structure.validTaps(g, along: .height), tapsW = Structure.validTaps(g, along: .width)
            let perPixel = (0..<pixels).map { p in tapsH[p / g.outWidth].count * tapsW[p % g.outWidth].count * g.inChannelsPerGroup }
            let perChannel = perPixel.reduce(0, +)
            rows = channelsPerBlock * pixels
            nonzeros = channelsPerBlock * perChannel
            inputPositions = g.inChannelsPerGroup * g.inHeight * g.inWidth
            precondition(nonzeros < Int(Int32.max) && inputPositions < Int(Int32.max) && channelsPerBlock * patch < Int(Int32.max),
                         "sparse convolution block too large for 32-bit indices")
            rowPointer = .allocate(capacity: rows + 1)
            column = .allocate(capacity: max(nonzeros, 1))
            weightIndex = .allocate(capacity: max(nonzeros, 1))
            rowPointer[0] = 0
            for row in 0..<rows { rowPointer[row + 1] = rowPointer[row] + Int32(perPixel[row % pixels]) }
            let (rowPointer, column, weightIndex) = (self.rowPointer, self.column, self.weightIndex)
            let inPlane = g.inHeight * g.inWidth
            CPUBackend.shared.parallelFor(rows, grain: 256) { range in
                for row in range {
                    let channel = row / pixels, p = row % pixels
                    let oh = p / g.outWidth, ow = p % g.outWidth
                    var i = Int(rowPointer[row])
                    for c in 0..<g.inChannelsPerGroup {
                        for kh in tapsH[oh] {
                            let ih = oh * g.strideH - g.padTop + kh * g.dilationH
                            for kw in tapsW[ow] {
                                let iw = ow * g.strideW - g.padLeft + kw * g.dilationW
                                column[i] = Int32(c * inPlane + ih * g.inWidth + iw)
                                weightIndex[i] = Int32(channel * patch + c * taps + kh * g.kernelWidth + kw)
                                i += 1
                            }
                        }
                    }
                }
            }
        }

        deinit { rowPointer.deallocate(); column.deallocate(); weightIndex.deallocate() }

        /// The transposed CSR, built on first use (a counting sort of the nonzeros by column).
        func transposed() -> Transposed {
            lock.lock(); defer { lock.unlock() }
            if let t = transposedStructure { return t }
            let t = Transposed(rows: inputPositions, nonzeros: nonzeros)
            let counts = t.rowPointer
            counts.update(repeating: 0, count: inputPositions + 1)
            for i in 0..<nonzeros { counts[Int(column[i]) + 1] += 1 }
            for r in 0..<inputPositions { counts[r + 1] += counts[r] }
            let next = UnsafeMutablePointer<Int32>.allocate(capacity: max(inputPositions, 1))
            defer { next.deallocate() }
            next.update(from: counts, count: inputPositions)
            // Rows are visited in order, so each transposed row lists its output rows ascending.
            for row in 0..<rows {
                for i in Int(rowPointer[row])..<Int(rowPointer[row + 1]) {
                    let c = Int(column[i])
                    let slot = Int(next[c])
                    next[c] += 1
                    t.column[slot] = Int32(row)
                    t.weightIndex[slot] = weightIndex[i]
                }
            }
            transposedStructure = t
            return t
        }
    }

    /// A small LRU of block structures keyed by geometry (batch size excluded) and block size:
    /// at most `capacity` entries and, beyond the most recent one, `byteLimit` bytes in all.
    final class StructureCache: @unchecked Sendable {
        static let shared = StructureCache()
        private struct Key: Hashable { var geometry: Conv2dGeometry; var channelsPerBlock: Int }
        private let lock = NSLock()
        private var entries: [(key: Key, structure: Structure, bytes: Int)] = []
        private let capacity = 4
        private let byteLimit = 2 * SparseMatrixConv.defaultStructureBudget

        /// The cached structure for `g`, built if needed, with as many output channels per block
        /// as fit in `budget` bytes (at least one).
        func structure(for g: Conv2dGeometry, budget: Int) -> Structure {
            var shape = g
            shape.n = 0
            let perChannel = Structure.nonzerosPerChannel(g)
            var channels = g.outChannelsPerGroup
            while channels > 1 && Structure.bytes(g, channels: channels, nonzerosPerChannel: perChannel) > budget {
                channels = max(1, min(channels - 1, channels * budget / max(1, Structure.bytes(g, channels: channels, nonzerosPerChannel: perChannel))))
            }
            let key = Key(geometry: shape, channelsPerBlock: channels)
            lock.lock(); defer { lock.unlock() }
            if let index = entries.firstIndex(where: { $0.key == key }) {
                let entry = entries.remove(at: index)
                entries.append(entry)
                return entry.structure
            }
            let structure = Structure(geometry: g, channelsPerBlock: channels)
            entries.append((key, structure, Structure.bytes(g, channels: channels, nonzerosPerChannel: perChannel)))
            while entries.count > 1 && (entries.count > capacity || entries.reduce(0, { $0 + $1.bytes }) > byteLimit) {
                entries.removeFirst()
            }
            return structure
        }
    }
}
