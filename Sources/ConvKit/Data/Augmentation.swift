import Foundation

/// Per-channel normalisation applied to every batch: `(x - mean[c]) / std[c]`.
public struct Normalization: Sendable, Equatable {
    /// One mean per channel (or a single value for all channels).
    public var mean: [Float]
    /// One standard deviation per channel (or a single value for all channels).
    public var std: [Float]

    /// Normalisation with the given per-channel statistics.
    public init(mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }

    /// MNIST's usual statistics: mean 0.1307, std 0.3081.
    public static let mnist = Normalization(mean: [MNIST.mean], std: [MNIST.std])

    func validate(channels: Int) throws {
        try require(!mean.isEmpty && !std.isEmpty, "Normalization", "mean and std must not be empty")
        try require(mean.count == 1 || mean.count == channels, "Normalization",
                    "\(mean.count) means for \(channels) channels (give one, or one per channel)")
        try require(std.count == 1 || std.count == channels, "Normalization",
                    "\(std.count) standard deviations for \(channels) channels (give one, or one per channel)")
        try require(std.allSatisfy { $0 > 0 && $0.isFinite } && mean.allSatisfy(\.isFinite), "Normalization",
                    "std must be positive and finite and mean finite, got mean \(mean) std \(std)")
    }
}

/// Random training-time augmentation, applied per sample before normalisation (as torchvision's
/// `RandomCrop(size, padding)` then `RandomHorizontalFlip()` then `Normalize`).
public struct Augmentation: Sendable, Equatable {
    /// Zero-pad each side by this many pixels, then crop a random window of the original size (0: off).
    public var randomCropPadding: Int
    /// Mirror left–right with probability 0.5.
    public var horizontalFlip: Bool

    /// The given augmentations (none by default).
    public init(randomCropPadding: Int = 0, horizontalFlip: Bool = false) {
        self.randomCropPadding = randomCropPadding
        self.horizontalFlip = horizontalFlip
    }

    /// No augmentation.
    public static let none = Augmentation()

    /// Whether any augmentation is on.
    public var isEnabled: Bool { randomCropPadding > 0 || horizontalFlip }

    func validate(sampleShape: [Int]) throws {
        try require(randomCropPadding >= 0, "Augmentation", "randomCropPadding must be >= 0, got \(randomCropPadding)")
        try require(randomCropPadding <= 1 << 20, "Augmentation", "randomCropPadding \(randomCropPadding) is too large (at most \(1 << 20))")
        try require(!isEnabled || sampleShape.count == 3, "Augmentation",
                    "crop and flip need [C, H, W] samples, got sample shape \(sampleShape)")
    }

    /// Crops and/or flips the `[C, H, W]` image in `image` in place, with the offsets and flip drawn
    /// from `random` (three 32-bit words: vertical offset, horizontal offset, flip).
    func apply(to image: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
               random: (UInt32, UInt32, UInt32), scratch: UnsafeMutablePointer<Float>) {
        let p = randomCropPadding
        let dy = p > 0 ? Int((UInt64(random.0) &* UInt64(2 * p + 1)) >> 32) - p : 0
        let dx = p > 0 ? Int((UInt64(random.1) &* UInt64(2 * p + 1)) >> 32) - p : 0
        let flip = horizontalFlip && random.2 & 1 == 1
        if dy == 0 && dx == 0 && !flip { return }
        let plane = height * width
        for c in 0..<channels {
            let channel = image + c * plane
            scratch.update(from: channel, count: plane)
            for y in 0..<height {
                let sy = y + dy
                let row = channel + y * width
                guard sy >= 0 && sy < height else {
                    row.update(repeating: 0, count: width)
                    continue
                }
                let source = scratch + sy * width
                for x in 0..<width {
                    let sx = (flip ? width - 1 - x : x) + dx
                    row[x] = sx >= 0 && sx < width ? source[sx] : 0
                }
            }
        }
    }
}
