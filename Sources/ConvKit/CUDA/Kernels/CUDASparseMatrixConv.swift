import Foundation

extension CUDABackend {
    /// Most floats of nonzero products the weight gradient keeps at once (groups are processed in
    /// chunks below this).
    static let sparseConvProductLimit = 16 << 20

    /// `output = conv(input, weight)` (no bias) with the sparseMatrix algorithm: `Y = Ŵ·X`, one
    /// launch per block of output channels, each thread one (image, group, row).
    func sparseMatrixConvForward(input: Storage, weight: Storage, output: Storage, geometry g: Conv2dGeometry) throws {
        let pixels = g.outHeight * g.outWidth
        guard g.n > 0, pixels > 0, g.outChannelsPerGroup > 0 else { return }
        let s = try CUDASparseConvStructureCache.shared.structure(for: g, on: self)
        for (channel0, channels) in s.blocks(g) {
            try launchElementwise(.sparseMatrix, "ck_spconv_forward", count: g.n * g.groups * channels * pixels,
                                  [.storage(input), .storage(weight), .storage(output), .storage(s.rowPointer),
                                   .storage(s.column), .storage(s.weightIndex), g.algorithmKernelArgument,
                                   .int(channel0), .int(channels)])
        }
    }

    /// `gradInput = Ŵᵀ·gradOutput` with the sparseMatrix algorithm: one thread per input element
    /// gathers its transposed row, block after block of output channels.
    func sparseMatrixConvBackwardInput(gradOutput: Storage, weight: Storage, gradInput: Storage, geometry g: Conv2dGeometry) throws {
        let count = g.n * g.inChannels * g.inHeight * g.inWidth
        guard count > 0 else { return }
        guard g.outHeight * g.outWidth > 0, g.outChannelsPerGroup > 0 else { try fill(gradInput, count: count, value: 0); return }
        let s = try CUDASparseConvStructureCache.shared.structure(for: g, on: self)
        try launchElementwise(.sparseMatrix, "ck_spconv_backward_input", count: count,
                              [.storage(gradOutput), .storage(weight), .storage(gradInput),
                               .storage(s.transposedRowPointer), .storage(s.transposedOutputRow),
                               .storage(s.transposedWeightIndex), g.algorithmKernelArgument, .int(s.channelsPerBlock)])
    }

    /// `gradWeight = ∂L/∂weight` with the sparseMatrix algorithm: per block of output channels,
    /// each nonzero's `Σ_n dY·X` into a workspace, then each weight gathers its nonzeros' products
    /// (the weight → nonzeros CSR, in ascending order): deterministic, no atomics.
    func sparseMatrixConvBackwardWeight(gradOutput: Storage, input: Storage, gradWeight: Storage, geometry g: Conv2dGeometry) throws {
        let patch = g.patchSize, count = g.outChannels * patch
        guard count > 0 else { return }
        let pixels = g.outHeight * g.outWidth
        guard g.n > 0, pixels > 0 else { try fill(gradWeight, count: count, value: 0); return }
        let s = try CUDASparseConvStructureCache.shared.structure(for: g, on: self)
        let groupsPerLaunch = max(1, min(g.groups, Self.sparseConvProductLimit / max(1, s.nonzeros)))
        let products = try workspace(floats: groupsPerLaunch * s.nonzeros)
        for (channel0, channels) in s.blocks(g) {
            let rows = channels * pixels, nonzeros = channels * s.nonzerosPerChannel, used = channels * patch
            var group0 = 0
            while group0 < g.groups {
                let groupCount = min(groupsPerLaunch, g.groups - group0)
                try launchElementwise(.sparseMatrix, "ck_spconv_nonzero_products", count: groupCount * nonzeros,
                                      [.storage(gradOutput), .storage(input), .storage(products), .storage(s.rowPointer),
                                       .storage(s.column), g.algorithmKernelArgument, .int(channel0), .int(rows),
                                       .int(nonzeros), .int(group0), .int(groupCount)])
                try launchElementwise(.sparseMatrix, "ck_spconv_reduce_weights", count: groupCount * used,
                                      [.storage(products), .storage(gradWeight), .storage(s.weightRowPointer),
                                       .storage(s.weightNonzero), g.algorithmKernelArgument, .int(channel0), .int(used),
                                       .int(nonzeros), .int(group0), .int(groupCount)])
                group0 += groupCount
            }
        }
    }
}

/// The device copy of one block structure of `SparseMatrixConv` (the CPU's CSR form of Ŵ, built
/// on the host by the same code), its transpose, and the weight → nonzeros CSR the weight
/// gradient gathers through. Every array is int32.
final class CUDASparseConvStructure: @unchecked Sendable {
    /// Output channels per block (the last block of a group may have fewer).
    let channelsPerBlock: Int
    /// Nonzeros of one output channel's rows (the same for every channel).
    let nonzerosPerChannel: Int
    /// Nonzeros of a full block.
    let nonzeros: Int
    /// Ŵ: `rows + 1` offsets, rows `(channel, oh, ow)`.
    let rowPointer: Storage
    /// Ŵ: input position `(c·H + ih)·W + iw` within the group, per nonzero.
    let column: Storage
    /// Ŵ: weight `channel·patch + (c·kH + kh)·kW + kw` relative to the block's first weight, per nonzero.
    let weightIndex: Storage
    /// Ŵᵀ: one row per input position of the group.
    let transposedRowPointer: Storage
    /// Ŵᵀ: the output row of each entry (ascending within a row).
    let transposedOutputRow: Storage
    /// Ŵᵀ: the weight of each entry.
    let transposedWeightIndex: Storage
    /// Weight → nonzeros: `channelsPerBlock·patch + 1` offsets.
    let weightRowPointer: Storage
    /// Weight → nonzeros: the nonzeros of each weight, ascending.
    let weightNonzero: Storage
    /// Device bytes held.
    let bytes: Int

    /// Builds the structure of `g` on the host with `channelsPerBlock` channels per block and uploads it.
    init(geometry g: Conv2dGeometry, channelsPerBlock: Int, on backend: CUDABackend) throws {
        let host = SparseMatrixConv.Structure(geometry: g, channelsPerBlock: channelsPerBlock)
        let transposed = host.transposed()
        self.channelsPerBlock = channelsPerBlock
        nonzeros = host.nonzeros
        nonzerosPerChannel = host.nonzeros / channelsPerBlock
        // Weight → nonzeros by a counting sort over the nonzeros in order (so each list ascends).
        let weights = channelsPerBlock * g.patchSize
        var weightRows = [Int32](repeating: 0, count: weights + 1)
        var weightNonzeros = [Int32](repeating: 0, count: max(host.nonzeros, 1))
        let nonzeroCount = host.nonzeros, index = host.weightIndex
        weightRows.withUnsafeMutableBufferPointer { rows in
            weightNonzeros.withUnsafeMutableBufferPointer { list in
                for i in 0..<nonzeroCount { rows[Int(index[i]) + 1] += 1 }
                for w in 0..<weights { rows[w + 1] += rows[w] }
                let next = UnsafeMutablePointer<Int32>.allocate(capacity: max(weights, 1))
                defer { next.deallocate() }
                next.initialize(from: rows.baseAddress!, count: weights)
                for i in 0..<nonzeroCount {
                    let w = Int(index[i])
                    list[Int(next[w])] = Int32(i)
                    next[w] += 1
                }
            }
        }
        func upload(_ pointer: UnsafePointer<Int32>, _ count: Int) throws -> Storage {
            let storage = try backend.workspace(floats: max(count, 1))
            try backend.upload(UnsafeRawBufferPointer(start: pointer, count: count * 4), to: storage)
            return storage
        }
        rowPointer = try upload(host.rowPointer, host.rows + 1)
        column = try upload(host.column, host.nonzeros)
        weightIndex = try upload(host.weightIndex, host.nonzeros)
        transposedRowPointer = try upload(transposed.rowPointer, host.inputPositions + 1)
        transposedOutputRow = try upload(transposed.column, transposed.nonzeros)
        transposedWeightIndex = try upload(transposed.weightIndex, transposed.nonzeros)
        weightRowPointer = try weightRows.withUnsafeBufferPointer { try upload($0.baseAddress!, weights + 1) }
        weightNonzero = try weightNonzeros.withUnsafeBufferPointer { try upload($0.baseAddress!, host.nonzeros) }
        bytes = 4 * (host.rows + 1 + 5 * host.nonzeros + host.inputPositions + 1 + weights + 1)
    }

    /// `(firstChannel, channelCount)` of every block of output channels of a group.
    func blocks(_ g: Conv2dGeometry) -> [(Int, Int)] {
        stride(from: 0, to: g.outChannelsPerGroup, by: channelsPerBlock).map { ($0, min(channelsPerBlock, g.outChannelsPerGroup - $0)) }
    }
}

/// A small LRU of device structures keyed by device and geometry (batch size excluded), as the
/// CPU's `SparseMatrixConv.StructureCache`: at most `capacity` entries and, beyond the most
/// recent one, `byteLimit` bytes in all. Evicted structures return their memory to the allocator
/// (stream order keeps kernels already queued on them safe).
final class CUDASparseConvStructureCache: @unchecked Sendable {
    /// The process-wide cache.
    static let shared = CUDASparseConvStructureCache()
    /// A device ordinal and a geometry with `n` = 0.
    private struct Key: Hashable { var device: Int; var geometry: Conv2dGeometry }
    /// Guards `entries`.
    private let lock = NSLock()
    /// Least recently used first.
    private var entries: [(key: Key, structure: CUDASparseConvStructure)] = []
    /// Most entries kept.
    private let capacity = 4
    /// Most device bytes kept beyond the newest entry.
    private let byteLimit = 2 * SparseMatrixConv.defaultStructureBudget

    /// The structure of `g` on `backend`'s device, built and uploaded if needed, with as many
    /// output channels per block as fit in the CPU's structure budget (at least one).
    /// - Throws: `ConvKitError.unsupported` when even one channel's structure needs indices
    ///   beyond 32 bits.
    func structure(for g: Conv2dGeometry, on backend: CUDABackend) throws -> CUDASparseConvStructure {
        var shape = g
        shape.n = 0
        let key = Key(device: backend.index, geometry: shape)
        lock.lock(); defer { lock.unlock() }
        if let index = entries.firstIndex(where: { $0.key == key }) {
            let entry = entries.remove(at: index)
            entries.append(entry)
            return entry.structure
        }
        let channels = Self.channelsPerBlock(g, budget: SparseMatrixConv.defaultStructureBudget)
        let perChannel = SparseMatrixConv.Structure.nonzerosPerChannel(g)
        let limit = Int(Int32.max)
        let (nonzeros, rows, weights) = channels.multipliedReportingOverflow(by: perChannel).overflow
            ? (Int.max, 0, 0) : (channels * perChannel, channels * g.outHeight * g.outWidth, channels * g.patchSize)
        guard nonzeros < limit, rows < limit, weights < limit, g.inChannelsPerGroup * g.inHeight * g.inWidth < limit else {
            throw ConvKitError.unsupported(op: "conv2d", message:
                "algorithm sparseMatrix: this convolution's sparse matrix needs more than 32-bit indices (\(perChannel) nonzeros per output channel); use another algorithm")
        }
        let structure = try CUDASparseConvStructure(geometry: g, channelsPerBlock: channels, on: backend)
        entries.append((key, structure))
        while entries.count > 1 && (entries.count > capacity || entries.reduce(0, { $0 + $1.structure.bytes }) > byteLimit) {
            entries.removeFirst()
        }
        return structure
    }

    /// Output channels per block: all of a group's, or as many as keep the structure under
    /// `budget` bytes (the CPU's rule, so both build the same blocks).
    static func channelsPerBlock(_ g: Conv2dGeometry, budget: Int) -> Int {
        typealias S = SparseMatrixConv.Structure
        let perChannel = S.nonzerosPerChannel(g)
        var channels = g.outChannelsPerGroup
        while channels > 1 && S.bytes(g, channels: channels, nonzerosPerChannel: perChannel) > budget {
            channels = max(1, min(channels - 1, channels * budget / max(1, S.bytes(g, channels: channels, nonzerosPerChannel: perChannel))))
        }
        return channels
    }
}
