/// The CUDA NNKernels: linear through `sgemm` plus two small kernels for the bias, elementwise
/// ReLU and dropout, a gather kernel per direction for local response normalisation, and
/// row-group kernels (`NN.cu`) for softmax and cross-entropy.
extension CUDABackend: NNKernels {
    /// The CUDA implementation of `NNKernels.linearForward`: the output rows are pre-filled with the
    /// bias and the GEMM accumulates into them (beta 1), as the CPU does.
    public func linearForward(input: Storage, weight: Storage, bias: Storage?, output: Storage,
                              batch: Int, inFeatures: Int, outFeatures: Int) throws {
        guard batch > 0, outFeatures > 0 else { return }
        if let bias {
            try launchElementwise(.nn, "ck_nn_bias_rows", count: batch * outFeatures,
                                  [.storage(bias), .storage(output), .int(batch), .int(outFeatures)])
        } else if inFeatures == 0 {
            try fill(output, count: batch * outFeatures, value: 0)
        }
        guard inFeatures > 0 else { return }
        try sgemm(transposeA: false, transposeB: true, m: batch, n: outFeatures, k: inFeatures,
                  GEMMOperand(input, leadingDimension: inFeatures), GEMMOperand(weight, leadingDimension: inFeatures),
                  beta: bias == nil ? 0 : 1, GEMMOperand(output, leadingDimension: outFeatures))
    }

    /// The CUDA implementation of `NNKernels.linearBackward`: two GEMMs and a deterministic
    /// column-sum kernel for the bias.
    public func linearBackward(gradOutput: Storage, input: Storage, weight: Storage,
                               gradInput: Storage?, gradWeight: Storage?, gradBias: Storage?,
                               batch: Int, inFeatures: Int, outFeatures: Int) throws {
        let nonEmpty = batch > 0 && inFeatures > 0 && outFeatures > 0
        if let gradInput {
            if nonEmpty {
                try sgemm(transposeA: false, transposeB: false, m: batch, n: inFeatures, k: outFeatures,
                          GEMMOperand(gradOutput, leadingDimension: outFeatures), GEMMOperand(weight, leadingDimension: inFeatures),
                          beta: 0, GEMMOperand(gradInput, leadingDimension: inFeatures))
            } else {
                try fill(gradInput, count: batch * inFeatures, value: 0)
            }
        }
        if let gradWeight {
            if nonEmpty {
                try sgemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: batch,
                          GEMMOperand(gradOutput, leadingDimension: outFeatures), GEMMOperand(input, leadingDimension: inFeatures),
                          beta: 0, GEMMOperand(gradWeight, leadingDimension: inFeatures))
            } else {
                try fill(gradWeight, count: outFeatures * inFeatures, value: 0)
            }
        }
        if let gradBias, outFeatures > 0 {
            // Block (32, 8): 32 columns per block; a batch of 0 rows writes zeros.
            try launch(.nn, "ck_nn_column_sums",
                       LaunchShape(grid: ((outFeatures + 31) / 32, 1, 1), block: (32, 8, 1)),
                       [.storage(gradOutput), .storage(gradBias), .int(batch), .int(outFeatures)])
        }
    }

    /// The CUDA implementation of `NNKernels.reluForward`.
    public func reluForward(input: Storage, output: Storage, count: Int) throws {
        try launchElementwise(.nn, "ck_nn_relu_forward", count: count, [.storage(input), .storage(output), .int(count)])
    }

    /// The CUDA implementation of `NNKernels.reluBackward`.
    public func reluBackward(gradOutput: Storage, output: Storage, gradInput: Storage, count: Int) throws {
        try launchElementwise(.nn, "ck_nn_relu_backward", count: count,
                              [.storage(gradOutput), .storage(output), .storage(gradInput), .int(count)])
    }

    /// The CUDA implementation of `NNKernels.dropoutForward`.
    public func dropoutForward(input: Storage, output: Storage, count: Int, p: Float, seed: UInt64) throws {
        try applyDropoutMask(input, output, count: count, p: p, seed: seed)
    }

    /// The CUDA implementation of `NNKernels.dropoutBackward`.
    public func dropoutBackward(gradOutput: Storage, gradInput: Storage, count: Int, p: Float, seed: UInt64) throws {
        try applyDropoutMask(gradOutput, gradInput, count: count, p: p, seed: seed)
    }

    /// `destination[i] = source[i] · m(i)` with dropout's Philox mask; one thread per Philox block
    /// of four elements. The kept scale is computed here exactly as the CPU computes it.
    private func applyDropoutMask(_ source: Storage, _ destination: Storage, count: Int, p: Float, seed: UInt64) throws {
        guard count > 0 else { return }
        let keptScale: Float = p < 1 ? 1 / (1 - p) : 0
        try launchElementwise(.nn, "ck_nn_dropout", count: (count + 3) / 4,
                              [.storage(source), .storage(destination), .int(count), .float(p), .float(keptScale),
                               .int(Int(truncatingIfNeeded: seed))])
    }

    /// The CUDA implementation of `NNKernels.localResponseNormForward`: one thread per element
    /// sums its channel window.
    public func localResponseNormForward(input: Storage, output: Storage, scale: Storage, layout: ReductionLayout,
                                         size: Int, alpha: Float, beta: Float, k: Float) throws {
        guard layout.count > 0 else { return }
        try launchElementwise(.nn, "ck_nn_lrn_forward", count: layout.count,
                              [.storage(input), .storage(output), .storage(scale), .int(layout.outer), .int(layout.dim),
                               .int(layout.inner), .int(size), .float(alpha / Float(size)), .float(beta), .float(k)])
    }

    /// The CUDA implementation of `NNKernels.localResponseNormBackward`: one thread per element
    /// gathers the windows that contain it.
    public func localResponseNormBackward(gradOutput: Storage, input: Storage, scale: Storage, gradInput: Storage,
                                          layout: ReductionLayout, size: Int, alpha: Float, beta: Float) throws {
        guard layout.count > 0 else { return }
        let factor = 2 * alpha * beta / Float(size)
        try launchElementwise(.nn, "ck_nn_lrn_backward", count: layout.count,
                              [.storage(gradOutput), .storage(input), .storage(scale), .storage(gradInput),
                               .int(layout.outer), .int(layout.dim), .int(layout.inner), .int(size),
                               .float(beta), .float(factor)])
    }

    /// Which row-group variant of a softmax / cross-entropy kernel to launch for `layout`, and
    /// how: one thread per row when `inner > 1` (coalesced across rows), a warp per row for
    /// contiguous rows of up to 1024 elements, a block of 1024 threads per row for longer ones.
    private func rowGroupLaunch(_ layout: ReductionLayout) -> (suffix: String, shape: LaunchShape) {
        let rows = layout.rows, block = CUDABackend.elementwiseBlock
        if layout.inner > 1 {
            return ("thread", LaunchShape(grid: gridSize(rows), block: block))
        }
        if layout.dim <= 1024 {
            let warpsPerBlock = block / 32
            let grid = max(1, min((rows + warpsPerBlock - 1) / warpsPerBlock, multiprocessorCount * 32))
            return ("warp", LaunchShape(grid: grid, block: block))
        }
        // 1024 threads (two blocks fill a multiprocessor); further rows by the grid-stride loop.
        return ("block", LaunchShape(grid: max(1, min(rows, multiprocessorCount * 2)), block: 1024))
    }

    /// The register-resident row kernels (`nn_softmax_rows_*`, `nn_cross_entropy_rows_*` in
    /// `NN.cu`) for contiguous rows (`inner == 1`) of up to 32 768 elements: a thread per row up
    /// to `threadRowLimit` elements, a warp per row up to 1024, else a block of 1024 threads, each
    /// thread holding `v` float4 of the row; `v` is the smallest of 1, 2, 4, 8 that covers the
    /// row. One block, warp or thread per row, so the scheduler balances the rows. Nil for other
    /// layouts (the general kernels run).
    private func rowsLaunch(_ layout: ReductionLayout) -> (suffix: String, shape: LaunchShape)? {
        guard layout.inner == 1, layout.dim >= 1, layout.dim <= 32768, layout.rows > 0 else { return nil }
        let block = CUDABackend.elementwiseBlock
        // Elements one row's threads hold at v = 1 (a float4 each), rows per block, threads per block.
        let (mode, capacity, rowsPerBlock, threads) = layout.dim <= Self.threadRowLimit ? ("thread", 4, block, block)
            : layout.dim <= 1024 ? ("warp", 128, block / 32, block) : ("block", 4096, 1, 1024)
        var v = 1
        while v * capacity < layout.dim { v *= 2 }
        let grid = min((layout.rows + rowsPerBlock - 1) / rowsPerBlock, 1 << 24)
        return ("\(mode)_v\(v)", LaunchShape(grid: grid, block: threads))
    }

    /// Rows of at most this many elements are one thread's each in the row kernels: a warp per
    /// row would leave most of its lanes idle (65 536 × 10 cross-entropy: 19 µs forward with a
    /// warp per row, measured with Nsight Compute on the H200).
    static let threadRowLimit = 32

    /// The CUDA implementation of `NNKernels.softmaxForward`.
    public func softmaxForward(input: Storage, output: Storage, layout: ReductionLayout, log: Bool) throws {
        guard layout.count > 0 else { return }
        if let (suffix, shape) = rowsLaunch(layout) {
            try launch(.nn, "ck_nn_softmax_rows_forward_" + suffix, shape,
                       [.storage(input), .storage(output), .int(layout.rows), .int(layout.dim), .flag(log)])
            return
        }
        let (suffix, shape) = rowGroupLaunch(layout)
        try launch(.nn, "ck_nn_softmax_forward_" + suffix, shape,
                   [.storage(input), .storage(output), .int(layout.outer), .int(layout.dim), .int(layout.inner), .flag(log)])
    }

    /// The CUDA implementation of `NNKernels.softmaxBackward`.
    public func softmaxBackward(gradOutput: Storage, output: Storage, gradInput: Storage,
                                layout: ReductionLayout, log: Bool) throws {
        guard layout.count > 0 else { return }
        if let (suffix, shape) = rowsLaunch(layout) {
            try launch(.nn, "ck_nn_softmax_rows_backward_" + suffix, shape,
                       [.storage(gradOutput), .storage(output), .storage(gradInput), .int(layout.rows), .int(layout.dim),
                        .flag(log)])
            return
        }
        let (suffix, shape) = rowGroupLaunch(layout)
        try launch(.nn, "ck_nn_softmax_backward_" + suffix, shape,
                   [.storage(gradOutput), .storage(output), .storage(gradInput), .int(layout.outer), .int(layout.dim),
                    .int(layout.inner), .flag(log)])
    }

    /// `NNCrossEntropyArgs` of `NN.cu` by value: five `long long` (outer, classes, inner,
    /// probability target, ignore index) then two floats (ε and ε / classes, computed as the CPU does).
    private func crossEntropyArguments(_ parameters: CrossEntropyParameters) -> KernelArgument {
        var bytes: [UInt8] = []
        let layout = parameters.layout
        for value in [layout.outer, layout.dim, layout.inner, parameters.probabilityTarget ? 1 : 0, parameters.ignoreIndex] {
            withUnsafeBytes(of: Int64(value)) { bytes += $0 }
        }
        let epsilon = parameters.labelSmoothing, smoothing = epsilon / Float(layout.dim)
        withUnsafeBytes(of: epsilon.bitPattern) { bytes += $0 }
        withUnsafeBytes(of: smoothing.bitPattern) { bytes += $0 }
        return .bytes(bytes)
    }

    /// The CUDA implementation of `NNKernels.crossEntropyForward`.
    public func crossEntropyForward(logits: Storage, target: Storage, weight: Storage?,
                                    rowLosses: Storage, rowWeights: Storage, logSumExp: Storage,
                                    parameters: CrossEntropyParameters) throws {
        let layout = parameters.layout
        guard layout.rows > 0, layout.dim > 0 else { return }
        if !parameters.probabilityTarget, let (suffix, shape) = rowsLaunch(layout) {
            try launch(.nn, "ck_nn_cross_entropy_rows_forward_" + suffix, shape,
                       [.storage(logits), .storage(target), .optional(weight), .storage(rowLosses), .storage(rowWeights),
                        .storage(logSumExp), crossEntropyArguments(parameters), Self.crossEntropyResults()])
            return
        }
        let (suffix, shape) = rowGroupLaunch(layout)
        try launch(.nn, "ck_nn_cross_entropy_forward_" + suffix, shape,
                   [.storage(logits), .storage(target), .optional(weight), .storage(rowLosses), .storage(rowWeights),
                    .storage(logSumExp), crossEntropyArguments(parameters)])
    }

    /// The CUDA implementation of `NNKernels.crossEntropyLoss`. Class-index targets in rows
    /// (`inner == 1`, at most 1024 classes) take one launch: the rows, their reduction and the
    /// target check, whose last block to finish combines the blocks' sums and bad positions
    /// (`nn_cross_entropy_finish` in NN.cu); the result of the check is read at the next
    /// synchronisation, as `validateClassTargets`'s. Other layouts run the three steps.
    public func crossEntropyLoss(logits: Storage, target: Storage, weight: Storage?,
                                 rowLosses: Storage, rowWeights: Storage, logSumExp: Storage,
                                 parameters: CrossEntropyParameters, reduction: Reduction,
                                 output: Storage?, normaliser: Storage?, op: String) throws {
        let layout = parameters.layout
        // A block per row (more than 1024 classes) holds a whole multiprocessor, so the finishing
        // step would not overlap another block's loads: 4096 × 32 000 took 0.25 ms fused against
        // 0.19 ms in steps on the H200.
        guard !parameters.probabilityTarget, layout.rows > 0, layout.dim <= 1024,
              let (suffix, shape) = rowsLaunch(layout) else {
            try crossEntropyLossInSteps(logits: logits, target: target, weight: weight, rowLosses: rowLosses,
                                        rowWeights: rowWeights, logSumExp: logSumExp, parameters: parameters,
                                        reduction: reduction, output: output, normaliser: normaliser, op: op)
            return
        }
        let blocks = shape.grid.x
        // 8-byte words: the check's result (2), each block's lowest bad row, then its two sums.
        let results = try allocateUninitialized(byteCount: 8 * (2 + 3 * blocks))
        let base = results.deviceAddress
        let fields = Self.crossEntropyResults(partials: base + UInt64(8 * (2 + blocks)), badRows: base + 16,
                                              counter: try blockCounter().deviceAddress, found: base,
                                              output: output?.deviceAddress ?? 0,
                                              normaliser: normaliser?.deviceAddress ?? 0, mean: reduction == .mean)
        try launch(.nn, "ck_nn_cross_entropy_rows_forward_" + suffix, shape,
                   [.storage(logits), .storage(target), .optional(weight), .storage(rowLosses), .storage(rowWeights),
                    .storage(logSumExp), crossEntropyArguments(parameters), fields])
        try deferTargetCheck(result: results, classes: layout.dim, op: op)
    }

    /// `NNCrossEntropyResults` of `NN.cu` by value: six device addresses and the mean flag. All
    /// zero (the default): the kernel writes the rows only.
    private static func crossEntropyResults(partials: CUdeviceptr = 0, badRows: CUdeviceptr = 0, counter: CUdeviceptr = 0,
                                            found: CUdeviceptr = 0, output: CUdeviceptr = 0, normaliser: CUdeviceptr = 0,
                                            mean: Bool = false) -> KernelArgument {
        var bytes: [UInt8] = []
        for word in [partials, badRows, counter, found, output, normaliser, mean ? 1 : 0] {
            withUnsafeBytes(of: word) { bytes += $0 }
        }
        return .bytes(bytes)
    }

    /// Checks the targets on the device without waiting: the first bad position (and its index)
    /// is found by a kernel and reported at the next synchronisation (the next `item()` or
    /// download), like PyTorch's device-side assertions; until then the cross-entropy kernels give
    /// NaN for such rows.
    public func validateClassTargets(_ target: Storage, count: Int, classes: Int, ignoreIndex: Int, op: String) throws {
        guard count > 0 else { return }
        let result = try workspace(floats: 4)
        if count <= Self.oneBlockTargetCheckLimit {
            try launch(.nn, "ck_nn_check_targets_block", LaunchShape(grid: 1, block: 1024),
                       [.storage(target), .int(count), .int(classes), .int(ignoreIndex), .storage(result)])
        } else {
            try driver.check(driver.cuMemsetD32Async(result.deviceAddress, UInt32.max, 4, stream), "cuMemsetD32Async")
            try launchElementwise(.nn, "ck_nn_find_bad_target", count: count,
                                  [.storage(target), .int(count), .int(classes), .int(ignoreIndex), .storage(result)])
            try launch(.nn, "ck_nn_fetch_bad_target", LaunchShape(grid: 1, block: 1), [.storage(target), .storage(result)])
        }
        try deferTargetCheck(result: result, classes: classes, op: op)
    }

    /// Reports the target check whose result (the first bad position, all ones when none, and
    /// its value) the queued work leaves in `result`, at the next synchronisation.
    private func deferTargetCheck(result: Storage, classes: Int, op: String) throws {
        let device = self.device
        try deferCheck(DeferredCheck(result: result) { position, value in
            ConvKitError.invalidArgument(op: op, message:
                "target \(value) is out of bounds for \(classes) classes (at element \(position)); found on \(device) at the next synchronisation")
        })
    }

    /// Targets up to this many are checked by one block in one launch; more by a grid (a memset
    /// and two launches).
    static let oneBlockTargetCheckLimit = 1 << 18

    /// Rows each block of the reduction's first stage sums, above which the reduction takes two
    /// stages (one block alone took 30 µs for 65 536 rows on the H200).
    static let crossEntropyReduceChunk = 2048

    /// The CUDA implementation of `NNKernels.crossEntropyReduce`: Float64 sums in a fixed order,
    /// by one block, or for more than `crossEntropyReduceChunk` rows by one block per chunk of
    /// rows and then one block over their partial sums.
    public func crossEntropyReduce(rowLosses: Storage, rowWeights: Storage, rows: Int,
                                   reduction: Reduction, output: Storage, normaliser: Storage?) throws {
        guard reduction != .none else {
            throw ConvKitError.invalidArgument(op: "crossEntropyReduce", message: "not defined for reduction .none")
        }
        let chunk = Self.crossEntropyReduceChunk
        if rows > chunk {
            let blocks = (rows + chunk - 1) / chunk
            let partials = try workspace(floats: 4 * blocks)
            try launch(.nn, "ck_nn_cross_entropy_partial_sums", LaunchShape(grid: blocks, block: 256),
                       [.storage(rowLosses), .storage(rowWeights), .int(rows), .int(chunk), .storage(partials)])
            try launch(.nn, "ck_nn_cross_entropy_reduce_partials", LaunchShape(grid: 1, block: 1024),
                       [.storage(partials), .int(blocks), .flag(reduction == .mean), .storage(output), .optional(normaliser)])
            return
        }
        // Runs even for zero rows: the sum is 0 and the mean 0/0 = NaN, as on the CPU.
        try launch(.nn, "ck_nn_cross_entropy_reduce", LaunchShape(grid: 1, block: 1024),
                   [.storage(rowLosses), .storage(rowWeights), .int(rows), .flag(reduction == .mean),
                    .storage(output), .optional(normaliser)])
    }

    /// The CUDA implementation of `NNKernels.crossEntropyBackward`: the direct `p·Σa − a` formula,
    /// one row group per row. The class-weight sum (label smoothing of index targets) is added up
    /// first by one thread in class order, as the CPU does.
    public func crossEntropyBackward(gradOutput: Storage, perRowGradient: Bool, normaliser: Storage?,
                                     logits: Storage, target: Storage, weight: Storage?, logSumExp: Storage,
                                     gradLogits: Storage?, gradTarget: Storage?,
                                     parameters: CrossEntropyParameters) throws {
        let layout = parameters.layout
        guard layout.rows > 0, layout.dim > 0 else { return }
        let probabilities = parameters.probabilityTarget
        guard gradLogits != nil || (probabilities && gradTarget != nil) else { return }
        var totalWeight: Storage?
        if let weight, !probabilities {
            let sum = try workspace(floats: 1)
            try launch(.nn, "ck_nn_sequential_sum", LaunchShape(grid: 1, block: 1),
                       [.storage(weight), .storage(sum), .int(layout.dim)])
            totalWeight = sum
        }
        if !probabilities, let gradLogits, let (suffix, shape) = rowsLaunch(layout) {
            try launch(.nn, "ck_nn_cross_entropy_rows_backward_" + suffix, shape,
                       [.storage(gradOutput), .flag(perRowGradient), .optional(normaliser), .storage(logits),
                        .storage(target), .optional(weight), .storage(logSumExp), .storage(gradLogits),
                        .optional(totalWeight), crossEntropyArguments(parameters)])
            return
        }
        let (suffix, shape) = rowGroupLaunch(layout)
        try launch(.nn, "ck_nn_cross_entropy_backward_" + suffix, shape,
                   [.storage(gradOutput), .flag(perRowGradient), .optional(normaliser), .storage(logits), .storage(target),
                    .optional(weight), .storage(logSumExp), .optional(gradLogits),
                    .optional(probabilities ? gradTarget : nil), .optional(totalWeight), crossEntropyArguments(parameters)])
    }
}
