import Foundation

/// One batch from a `DataLoader`.
public struct Batch {
    /// The images, `[B, C, H, W]` float32 on the loader's device (augmented and normalised).
    public let images: Tensor
    /// The labels, `[B]` int32 on the loader's device.
    public let labels: Tensor
    /// The data set indices of the samples, in batch order.
    public let indices: [Int]
}

/// Batches a `Dataset`: seeded shuffling per epoch, optional drop-last, augmentation and
/// normalisation, and one batch prepared ahead on a background thread.
///
/// Every batch is a pure function of `(seed, epoch, batch index)`: the order of an epoch is a
/// Fisher–Yates shuffle driven by a Philox stream keyed by `seed`, and each sample's augmentation
/// draws from another Philox stream at a counter made of the epoch and the sample's position.
/// Prefetching therefore never changes the output, only when it is computed.
///
/// ```swift
/// let loader = try DataLoader(dataset: mnist, batchSize: 64, shuffle: true, seed: 1,
///                             normalization: .mnist)
/// for epoch in 0..<epochs {
///     let batches = loader.epoch(epoch)
///     while let batch = try batches.next() { … }
/// }
/// ```
public final class DataLoader {
    /// The data set being batched.
    public let dataset: any Dataset
    /// Samples per batch (the last batch may be smaller unless `dropLast`).
    public let batchSize: Int
    /// Whether each epoch visits the samples in a new seeded random order (else in index order).
    public let shuffle: Bool
    /// The seed of the shuffling and augmentation streams.
    public let seed: UInt64
    /// Whether an incomplete last batch is skipped.
    public let dropLast: Bool
    /// Applied to every batch after augmentation, if set.
    public let normalization: Normalization?
    /// Random augmentation applied to every sample.
    public let augmentation: Augmentation
    /// Where batches are delivered (`to(device)` once per batch).
    public let device: Device
    /// Whether the next batch is prepared on a background thread while the current one is used.
    public let prefetch: Bool

    /// A loader over `dataset`.
    /// - Throws: `ConvKitError.invalidArgument` for a non-positive batch size or normalisation /
    ///   augmentation settings that do not fit the samples.
    public init(dataset: any Dataset, batchSize: Int, shuffle: Bool = false, seed: UInt64 = 0, dropLast: Bool = false,
                normalization: Normalization? = nil, augmentation: Augmentation = .none, device: Device = .cpu,
                prefetch: Bool = true) throws {
        try require(batchSize > 0, "DataLoader", "batchSize must be positive, got \(batchSize)")
        let shape = dataset.sampleShape
        try require(!shape.isEmpty && shape.allSatisfy { $0 > 0 }, "DataLoader", "sample shape \(shape) must be non-empty and positive")
        if let normalization { try normalization.validate(channels: shape[0]) }
        try augmentation.validate(sampleShape: shape)
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
        self.normalization = normalization
        self.augmentation = augmentation
        self.device = device
        self.prefetch = prefetch
    }

    /// Batches per epoch.
    public var batchCount: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    /// The data set indices in the order epoch `epoch` visits them (a permutation of `0..<count`).
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<dataset.count)
        guard shuffle, order.count > 1 else { return order }
        // Fisher–Yates; draw k uses word k % 4 of Philox block (epoch << 32) + k / 4.
        let base = UInt64(truncatingIfNeeded: epoch) << 32
        var block = (UInt32(0), UInt32(0), UInt32(0), UInt32(0))
        var k = 0
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            if k % 4 == 0 { block = Philox.block(seed: seed, counter: base &+ UInt64(k / 4)) }
            let word: UInt32
            switch k % 4 {
            case 0: word = block.0
            case 1: word = block.1
            case 2: word = block.2
            default: word = block.3
            }
            k += 1
            let j = Int((UInt64(word) &* UInt64(i + 1)) >> 32)
            order.swapAt(i, j)
        }
        return order
    }

    /// Batch `index` of epoch `epoch`, computed on the calling thread (no prefetch).
    /// - Throws: `ConvKitError.invalidArgument` for an index outside `0..<batchCount`; errors of the data set.
    public func batch(_ index: Int, epoch: Int) throws -> Batch {
        try require(index >= 0 && index < batchCount, "DataLoader.batch", "batch \(index) is out of range for \(batchCount) batches")
        return try assemble(index, epoch: epoch, order: order(epoch: epoch)).moved(to: device)
    }

    /// The batches of epoch `epoch`, in order, with the next one prepared in the background when
    /// `prefetch` is on.
    public func epoch(_ epoch: Int) -> DataLoaderEpoch {
        DataLoaderEpoch(loader: self, epoch: epoch)
    }

    /// The batches of epoch `epoch` from batch `first` on (the same batches the whole epoch gives
    /// there: each is a function of the seed, the epoch and its index), for resuming inside an epoch.
    public func epoch(_ epoch: Int, startingAt first: Int) -> DataLoaderEpoch {
        DataLoaderEpoch(loader: self, epoch: epoch, first: min(max(first, 0), batchCount))
    }

    /// Calls `body` with every batch of epoch `epoch`.
    public func forEachBatch(epoch: Int, _ body: (Batch) throws -> Void) throws {
        let batches = self.epoch(epoch)
        while let batch = try batches.next() { try body(batch) }
    }

    /// Gathers, augments and normalises batch `index` on the CPU.
    func assemble(_ index: Int, epoch: Int, order: [Int]) throws -> Batch {
        let start = index * batchSize
        let indices = Array(order[start..<min(start + batchSize, order.count)])
        let shape = dataset.sampleShape
        let sampleSize = shape.reduce(1, *)
        let images = try Tensor.empty([indices.count] + shape, on: .cpu)
        let labels = try Tensor.empty([indices.count], dtype: .int32, on: .cpu)
        let pixels = images.storage.floats
        try dataset.gather(indices, images: pixels, labels: labels.storage.ints)

        if augmentation.isEnabled {
            let (channels, height, width) = (shape[0], shape[1], shape[2])
            let streamKey = seed ^ 0xA076_1D64_78BD_642F  // a stream separate from the shuffle's
            let epochBase = UInt64(truncatingIfNeeded: epoch) << 32
            // A small per-batch buffer (not Scratch: this may run on the prefetch thread, and Scratch's
            // peak counts belong to the kernels).
            var plane = [Float](repeating: 0, count: height * width)
            plane.withUnsafeMutableBufferPointer { scratch in
                for row in 0..<indices.count {
                    let (a, b, c, _) = Philox.block(seed: streamKey, counter: epochBase &+ UInt64(start + row))
                    augmentation.apply(to: pixels + row * sampleSize, channels: channels, height: height, width: width,
                                       random: (a, b, c), scratch: scratch.baseAddress!)
                }
            }
        }
        if let normalization {
            let channels = shape[0], plane = sampleSize / channels
            for row in 0..<indices.count {
                for c in 0..<channels {
                    let mean = normalization.mean.count == 1 ? normalization.mean[0] : normalization.mean[c]
                    let inverse = 1 / (normalization.std.count == 1 ? normalization.std[0] : normalization.std[c])
                    let p = pixels + row * sampleSize + c * plane
                    for i in 0..<plane { p[i] = (p[i] - mean) * inverse }
                }
            }
        }
        return Batch(images: images, labels: labels, indices: indices)
    }
}

extension Batch {
    func moved(to device: Device) throws -> Batch {
        if device == images.device { return self }
        return Batch(images: try images.to(device), labels: try labels.to(device), indices: indices)
    }
}

/// The batches of one epoch of a `DataLoader`; call `next()` until it returns `nil`.
///
/// With prefetching on, returning batch `i` starts preparing batch `i + 1` on a background queue,
/// so it is ready when the training step for batch `i` ends.
public final class DataLoaderEpoch {
    /// The loader this epoch belongs to.
    public let loader: DataLoader
    /// The epoch number (it selects the shuffle and augmentation streams).
    public let epoch: Int
    private let order: [Int]
    private var nextIndex = 0
    private var pending: PendingBatch?
    private static let queue = DispatchQueue(label: "convkit.dataloader.prefetch", qos: .userInitiated)

    init(loader: DataLoader, epoch: Int, first: Int = 0) {
        self.loader = loader
        self.epoch = epoch
        self.order = loader.order(epoch: epoch)
        self.nextIndex = first
    }

    /// Batches in this epoch.
    public var count: Int { loader.batchCount }

    /// The next batch, or `nil` after the last one.
    /// - Throws: errors of the data set or of moving the batch to the loader's device.
    public func next() throws -> Batch? {
        guard nextIndex < loader.batchCount else { return nil }
        let index = nextIndex
        nextIndex += 1
        let result: Result<Batch, Error>
        if let pending, pending.index == index {
            result = pending.wait()
            self.pending = nil
        } else {
            result = Result { try loader.assemble(index, epoch: epoch, order: order) }
        }
        if loader.prefetch && nextIndex < loader.batchCount { schedule(nextIndex) }
        return try result.get().moved(to: loader.device)
    }

    private func schedule(_ index: Int) {
        let job = PendingBatch(index: index)
        let loader = self.loader, epoch = self.epoch, order = self.order
        DataLoaderEpoch.queue.async {
            job.finish(Result { try loader.assemble(index, epoch: epoch, order: order) })
        }
        pending = job
    }

    deinit {
        // Let a batch still being prepared finish before the epoch's state goes away.
        _ = pending?.wait()
    }
}

/// A batch being prepared on the prefetch queue.
private final class PendingBatch: @unchecked Sendable {
    let index: Int
    private var result: Result<Batch, Error>?
    private let ready = DispatchSemaphore(value: 0)

    init(index: Int) { self.index = index }

    func finish(_ result: Result<Batch, Error>) {
        self.result = result
        ready.signal()
    }

    /// Blocks until the batch is ready; may be called more than once.
    func wait() -> Result<Batch, Error> {
        ready.wait()
        ready.signal()
        return result!
    }
}
