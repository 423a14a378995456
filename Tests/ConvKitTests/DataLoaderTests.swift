import XCTest
@testable import ConvKit

final class DataLoaderTests: XCTestCase {
    /// `n` images of `[c, h, w]` whose pixels are all distinct and positive (image i's first pixel is
    /// `i + 1`), labels `i % 10`.
    private func syntheticDataset(_ n: Int, _ c: Int = 1, _ h: Int = 4, _ w: Int = 5) throws -> TensorDataset {
        let size = c * h * w
        let values = (0..<(n * size)).map { Float($0 / size + 1) + Float($0 % size) / Float(size + 1) }
        return try TensorDataset(images: try Tensor(values, shape: [n, c, h, w]),
                                 labels: try Tensor(indices: (0..<n).map { Int32($0 % 10) }))
    }

    private func allBatches(_ loader: DataLoader, epoch: Int) throws -> [Batch] {
        var batches = [Batch]()
        try loader.forEachBatch(epoch: epoch) { batches.append($0) }
        return batches
    }

    private func assertSameBatches(_ a: [Batch], _ b: [Batch], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.indices, y.indices, file: file, line: line)
            XCTAssertEqual(x.images.shape, y.images.shape, file: file, line: line)
            XCTAssertEqual(try x.images.toArray(), try y.images.toArray(), file: file, line: line)
            XCTAssertEqual(try x.labels.toIntArray(), try y.labels.toIntArray(), file: file, line: line)
        }
    }

    func testBatchesCoverTheDataSetInOrderWithAndWithoutDropLast() throws {
        let data = try syntheticDataset(23)
        let all = try data.images.toArray()
        let loader = try DataLoader(dataset: data, batchSize: 5)
        XCTAssertEqual(loader.batchCount, 5)
        let batches = try allBatches(loader, epoch: 0)
        XCTAssertEqual(batches.map { $0.images.shape }, [[5, 1, 4, 5], [5, 1, 4, 5], [5, 1, 4, 5], [5, 1, 4, 5], [3, 1, 4, 5]])
        XCTAssertEqual(batches.flatMap(\.indices), Array(0..<23))
        XCTAssertEqual(try batches.flatMap { try $0.images.toArray() }, all)
        XCTAssertEqual(try batches.flatMap { try $0.labels.toIntArray() }, (0..<23).map { Int32($0 % 10) })
        XCTAssertEqual(batches[0].labels.dtype, .int32)
        XCTAssertEqual(batches[0].images.device, .cpu)

        let dropping = try DataLoader(dataset: data, batchSize: 5, shuffle: true, seed: 4, dropLast: true)
        XCTAssertEqual(dropping.batchCount, 4)
        let dropped = try allBatches(dropping, epoch: 0)
        XCTAssertEqual(dropped.count, 4)
        XCTAssertTrue(dropped.allSatisfy { $0.images.shape[0] == 5 })
        XCTAssertEqual(dropped.flatMap(\.indices), Array(dropping.order(epoch: 0).prefix(20)))
        XCTAssertEqual(try DataLoader(dataset: data, batchSize: 30, dropLast: true).batchCount, 0)
        XCTAssertNil(try DataLoader(dataset: data, batchSize: 30, dropLast: true).epoch(0).next())
        // Each sample's pixels travel with its label.
        for batch in dropped {
            let images = try batch.images.toArray(), labels = try batch.labels.toIntArray()
            for (row, index) in batch.indices.enumerated() {
                XCTAssertEqual(Array(images[(row * 20)..<(row * 20 + 20)]), Array(all[(index * 20)..<(index * 20 + 20)]))
                XCTAssertEqual(labels[row], Int32(index % 10))
            }
        }
    }

    func testShufflingIsASeededPermutationThatChangesPerEpoch() throws {
        let data = try syntheticDataset(100)
        let loader = try DataLoader(dataset: data, batchSize: 7, shuffle: true, seed: 42)
        let epoch0 = loader.order(epoch: 0), epoch1 = loader.order(epoch: 1)
        XCTAssertEqual(epoch0.sorted(), Array(0..<100))
        XCTAssertEqual(epoch1.sorted(), Array(0..<100))
        XCTAssertNotEqual(epoch0, Array(0..<100))
        XCTAssertNotEqual(epoch0, epoch1)
        XCTAssertEqual(try DataLoader(dataset: data, batchSize: 3, shuffle: true, seed: 42).order(epoch: 0), epoch0)
        XCTAssertNotEqual(try DataLoader(dataset: data, batchSize: 7, shuffle: true, seed: 43).order(epoch: 0), epoch0)
        XCTAssertEqual(try DataLoader(dataset: data, batchSize: 7, seed: 42).order(epoch: 3), Array(0..<100))
        XCTAssertEqual(try allBatches(loader, epoch: 1).flatMap(\.indices), epoch1)

        // Unbiased: the 6 orders of 3 samples are about equally likely over 1200 epochs.
        let three = try DataLoader(dataset: try syntheticDataset(3), batchSize: 1, shuffle: true, seed: 9)
        var counts = [[Int]: Int]()
        for epoch in 0..<1200 { counts[three.order(epoch: epoch), default: 0] += 1 }
        XCTAssertEqual(counts.count, 6)
        for (order, count) in counts { XCTAssert((140...260).contains(count), "order \(order) drawn \(count) times of 1200") }
    }

    func testNormalisationPerChannel() throws {
        let data = try syntheticDataset(4, 3, 2, 2)
        let raw = try data.images.toArray()
        let norm = Normalization(mean: [1, 2, 3], std: [0.5, 2, 4])
        let loader = try DataLoader(dataset: data, batchSize: 4, normalization: norm)
        let out = try loader.batch(0, epoch: 0).images.toArray()
        for i in raw.indices {
            let c = (i / 4) % 3
            XCTAssertEqual(out[i], (raw[i] - norm.mean[c]) / norm.std[c], accuracy: 1e-5)
        }
        let single = try DataLoader(dataset: data, batchSize: 4, normalization: .mnist).batch(0, epoch: 0).images.toArray()
        XCTAssertEqual(single[5], (raw[5] - 0.1307) / 0.3081, accuracy: 1e-5)
        assertThrowsConvKitError(try DataLoader(dataset: data, batchSize: 4, normalization: Normalization(mean: [0, 0], std: [1])),
                                 "Normalization", "2 means for 3 channels")
        assertThrowsConvKitError(try DataLoader(dataset: data, batchSize: 4, normalization: Normalization(mean: [0], std: [0])),
                                 "Normalization", "std must be positive")
    }

    /// The (dy, dx, flip) for which `out` is `image` cropped from its zero-padded version and maybe
    /// mirrored, or nil when there is none.
    private func findTransform(_ out: [Float], of image: [Float], c: Int, h: Int, w: Int, padding p: Int) -> (Int, Int, Bool)? {
        for flip in [false, true] {
            for dy in -p...p {
                for dx in -p...p {
                    var matches = true
                    check: for ch in 0..<c {
                        for y in 0..<h {
                            for x in 0..<w {
                                let sy = y + dy, sx = (flip ? w - 1 - x : x) + dx
                                let expected = sy >= 0 && sy < h && sx >= 0 && sx < w ? image[(ch * h + sy) * w + sx] : 0
                                if out[(ch * h + y) * w + x] != expected { matches = false; break check }
                            }
                        }
                    }
                    if matches { return (dy, dx, flip) }
                }
            }
        }
        return nil
    }

    func testAugmentationCropsAndFlipsDeterministically() throws {
        let (c, h, w, p) = (2, 6, 5, 2)
        let data = try syntheticDataset(64, c, h, w)
        let raw = try data.images.toArray()
        let size = c * h * w
        let augmentation = Augmentation(randomCropPadding: p, horizontalFlip: true)
        let loader = try DataLoader(dataset: data, batchSize: 16, shuffle: true, seed: 7, augmentation: augmentation, prefetch: false)
        var seen = Set<String>()
        var flips = 0
        for batch in try allBatches(loader, epoch: 0) {
            XCTAssertEqual(batch.images.shape, [16, c, h, w])
            let out = try batch.images.toArray()
            for (row, index) in batch.indices.enumerated() {
                let sample = Array(out[(row * size)..<((row + 1) * size)])
                guard let (dy, dx, flip) = findTransform(sample, of: Array(raw[(index * size)..<((index + 1) * size)]),
                                                         c: c, h: h, w: w, padding: p) else {
                    XCTFail("sample \(index) is not a padded crop (and flip) of its image"); continue
                }
                seen.insert("\(dy),\(dx)")
                if flip { flips += 1 }
            }
        }
        XCTAssertGreaterThan(seen.count, 12, "crop offsets drawn: \(seen.sorted())")
        XCTAssert((16...48).contains(flips), "\(flips) of 64 samples flipped")
        // Same seed and epoch: identical batches; another epoch: different augmentation.
        try assertSameBatches(try allBatches(loader, epoch: 0),
                              try allBatches(try DataLoader(dataset: data, batchSize: 16, shuffle: true, seed: 7,
                                                            augmentation: augmentation), epoch: 0))
        let unshuffled = try DataLoader(dataset: data, batchSize: 64, seed: 7, augmentation: augmentation)
        XCTAssertNotEqual(try unshuffled.batch(0, epoch: 0).images.toArray(), try unshuffled.batch(0, epoch: 1).images.toArray())
        // Flip only: every sample is itself or its mirror image.
        let flipOnly = try DataLoader(dataset: data, batchSize: 64, seed: 1, augmentation: Augmentation(horizontalFlip: true))
        let flipped = try flipOnly.batch(0, epoch: 0).images.toArray()
        for i in 0..<64 {
            let t = findTransform(Array(flipped[(i * size)..<((i + 1) * size)]), of: Array(raw[(i * size)..<((i + 1) * size)]),
                                  c: c, h: h, w: w, padding: 0)
            XCTAssertNotNil(t)
        }
        assertThrowsConvKitError(try DataLoader(dataset: data, batchSize: 4, augmentation: Augmentation(randomCropPadding: -1)),
                                 "Augmentation", "randomCropPadding")
    }

    func testPrefetchGivesTheSameBatchesAsTheSynchronousPath() throws {
        let data = try syntheticDataset(45, 1, 6, 6)
        func make(_ prefetch: Bool) throws -> DataLoader {
            try DataLoader(dataset: data, batchSize: 8, shuffle: true, seed: 123, normalization: Normalization(mean: [0.5], std: [2]),
                           augmentation: Augmentation(randomCropPadding: 1, horizontalFlip: true), prefetch: prefetch)
        }
        let ahead = try make(true), inline = try make(false)
        for epoch in 0..<3 {
            let prefetched = try allBatches(ahead, epoch: epoch)
            try assertSameBatches(prefetched, try allBatches(inline, epoch: epoch))
            try assertSameBatches(prefetched, try (0..<ahead.batchCount).map { try inline.batch($0, epoch: epoch) })
        }
        // An epoch abandoned while a batch is being prepared ends cleanly.
        do {
            let epoch = ahead.epoch(5)
            XCTAssertEqual(epoch.count, 6)
            _ = try epoch.next()
        }
        assertThrowsConvKitError(try ahead.batch(6, epoch: 0), "DataLoader.batch", "batch 6 is out of range for 6 batches")
    }

    func testPrefetchPreparesTheNextBatchInTheBackgroundAndForwardsErrors() throws {
        let data = try syntheticDataset(12)
        let probe = ProbeDataset(data, failingIndex: 9)
        let loader = try DataLoader(dataset: probe, batchSize: 3, prefetch: true)
        let epoch = loader.epoch(0)
        XCTAssertEqual(try epoch.next()?.indices, [0, 1, 2])
        // Batch 1 is gathered without another call to next().
        XCTAssertEqual(probe.gathered.wait(timeout: .now() + 20), .success, "the first gather")
        XCTAssertEqual(probe.gathered.wait(timeout: .now() + 20), .success, "batch 1 was not prepared ahead")
        XCTAssertEqual(try epoch.next()?.indices, [3, 4, 5])
        XCTAssertEqual(try epoch.next()?.indices, [6, 7, 8])
        // The failing batch's error reaches the caller, at that batch, on both paths.
        assertThrowsConvKitError(try epoch.next(), "Dataset.gather", "probe refuses index 9")
        XCTAssertNil(try epoch.next())
        let inline = try DataLoader(dataset: probe, batchSize: 3, prefetch: false)
        assertThrowsConvKitError(try inline.batch(3, epoch: 0), "probe refuses index 9")
        XCTAssertEqual(try inline.batch(2, epoch: 0).indices, [6, 7, 8])
    }

    func testBatchesOfRealMNIST() throws {
        let mnist = try MNIST(directory: dataTestMNISTDirectory, split: .test, limit: 200, verifyChecksums: false)
        let loader = try DataLoader(dataset: mnist, batchSize: 64, normalization: .mnist, device: .cpu)
        XCTAssertEqual(loader.batchCount, 4)
        let batches = try allBatches(loader, epoch: 0)
        XCTAssertEqual(batches.map { $0.images.shape[0] }, [64, 64, 64, 8])
        XCTAssertEqual(batches[0].images.shape, [64, 1, 28, 28])
        XCTAssertEqual(Array(try batches[0].labels.toIntArray().prefix(4)), [7, 2, 1, 0])
        let first = try batches[0].images.toArray()
        XCTAssertEqual(first[0], (0 - 0.1307) / 0.3081, accuracy: 1e-6)
        XCTAssertEqual(first.max() ?? 0, (1 - 0.1307) / 0.3081, accuracy: 1e-5)
    }

    func testInvalidArguments() throws {
        let data = try syntheticDataset(4)
        assertThrowsConvKitError(try DataLoader(dataset: data, batchSize: 0), "DataLoader", "batchSize must be positive, got 0")
        assertThrowsConvKitError(try TensorDataset(images: try Tensor.zeros([2, 3]), labels: try Tensor(indices: [0, 1])),
                                 "TensorDataset", "[N, C, H, W]")
        assertThrowsConvKitError(try TensorDataset(images: try Tensor.zeros([2, 1, 2, 2]), labels: try Tensor(indices: [0, 1, 2])),
                                 "TensorDataset", "2 images but 3 labels")
        assertThrowsConvKitError(try TensorDataset(images: try Tensor.zeros([2, 1, 2, 2]), labels: try Tensor.zeros([2])),
                                 "TensorDataset", "int32")
        var label: Int32 = 0
        var image = [Float](repeating: 0, count: 20)
        assertThrowsConvKitError(try data.gather([4], images: &image, labels: &label), "Dataset.gather", "index 4")
    }
}

/// Wraps a data set, signals `gathered` after every gather and refuses one index.
private final class ProbeDataset: Dataset {
    let base: TensorDataset
    let failingIndex: Int
    let gathered = DispatchSemaphore(value: 0)

    init(_ base: TensorDataset, failingIndex: Int) {
        self.base = base
        self.failingIndex = failingIndex
    }

    var count: Int { base.count }
    var sampleShape: [Int] { base.sampleShape }

    func gather(_ indices: [Int], images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) throws {
        defer { gathered.signal() }
        if indices.contains(failingIndex) {
            throw ConvKitError.invalidArgument(op: "Dataset.gather", message: "probe refuses index \(failingIndex)")
        }
        try base.gather(indices, images: images, labels: labels)
    }
}
