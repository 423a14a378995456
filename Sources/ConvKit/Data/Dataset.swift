import Foundation

/// A finite collection of labelled images that a `DataLoader` can batch.
///
/// Conformers implement `gather`, which copies many samples straight into a batch's memory;
/// `sample(_:)` is derived from it.
public protocol Dataset: AnyObject {
    /// The number of samples.
    var count: Int { get }
    /// The shape of one image, `[C, H, W]`.
    var sampleShape: [Int] { get }
    /// Copies the images of `indices` (each in `0..<count`) one after another into `images`
    /// (`indices.count × sampleShape` floats) and their labels into `labels`.
    func gather(_ indices: [Int], images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) throws
}

extension Dataset {
    /// Sample `index`: its image as a `[C, H, W]` CPU tensor and its label.
    /// - Throws: `ConvKitError.invalidArgument` when `index` is out of range.
    public func sample(_ index: Int) throws -> (image: Tensor, label: Int32) {
        try require(index >= 0 && index < count, "Dataset.sample", "index \(index) is out of range for \(count) samples")
        let image = try Tensor.empty(sampleShape, on: .cpu)
        var label: Int32 = 0
        try gather([index], images: image.storage.floats, labels: &label)
        return (image, label)
    }
}

/// An in-memory data set of `[N, C, H, W]` float images and `[N]` int32 labels on the CPU.
public final class TensorDataset: Dataset {
    /// All images, `[N, C, H, W]` float32.
    public let images: Tensor
    /// All labels, `[N]` int32.
    public let labels: Tensor

    /// Wraps `images` (`[N, C, H, W]` float32) and `labels` (`[N]` int32), both on the CPU.
    /// - Throws: `ConvKitError.invalidArgument` for other ranks, dtypes, devices or mismatched counts.
    public init(images: Tensor, labels: Tensor) throws {
        try TensorDataset.validate(images: images, labels: labels, op: "TensorDataset")
        self.images = images
        self.labels = labels
    }

    /// The number of samples, `N`.
    public var count: Int { images.shape[0] }
    /// `[C, H, W]`.
    public var sampleShape: [Int] { Array(images.shape.dropFirst()) }

    /// Copies the selected images and labels (see `Dataset.gather`).
    public func gather(_ indices: [Int], images out: UnsafeMutablePointer<Float>, labels outLabels: UnsafeMutablePointer<Int32>) throws {
        try TensorDataset.gather(indices, from: images, labels, into: out, outLabels)
    }

    static func validate(images: Tensor, labels: Tensor, op: String) throws {
        try require(images.rank == 4, op, "images must be [N, C, H, W], got shape \(images.shape)")
        try require(images.dtype == .float32, op, "images must be float32, got \(images.dtype)")
        try require(labels.rank == 1 && labels.dtype == .int32, op, "labels must be a 1-D int32 tensor, got \(labels.dtype) \(labels.shape)")
        try require(images.shape[0] == labels.shape[0], op, "\(images.shape[0]) images but \(labels.shape[0]) labels")
        try require(images.device == .cpu && labels.device == .cpu, op,
                    "images and labels must be on the CPU (batches move to the loader's device), got \(images.device) and \(labels.device)")
    }

    static func gather(_ indices: [Int], from images: Tensor, _ labels: Tensor,
                       into out: UnsafeMutablePointer<Float>, _ outLabels: UnsafeMutablePointer<Int32>) throws {
        let n = images.shape[0]
        let sampleSize = images.count / max(n, 1)
        let source = images.storage.floats, sourceLabels = labels.storage.ints
        for (row, index) in indices.enumerated() {
            try require(index >= 0 && index < n, "Dataset.gather", "index \(index) is out of range for \(n) samples")
            (out + row * sampleSize).update(from: source + index * sampleSize, count: sampleSize)
            outLabels[row] = sourceLabels[index]
        }
    }
}
