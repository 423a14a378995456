import Foundation

/// One of the four published MNIST files, with the MD5 and size every loader checks.
public struct MNISTFile: Hashable, Sendable {
    /// The file name, e.g. `train-images-idx3-ubyte.gz`.
    public let name: String
    /// The published MD5 of the `.gz` file, lower-case hex.
    public let md5: String
    /// The size of the `.gz` file in bytes.
    public let byteCount: Int
    /// The size of the decompressed IDX file in bytes.
    public let decompressedByteCount: Int
}

/// The MNIST handwritten digits (LeCun, Cortes and Burges): 60 000 training and 10 000 test
/// images of 28×28 grey pixels with labels 0–9.
///
/// Images are `[N, 1, 28, 28]` float32 in [0, 1] (pixel / 255); normalise them in the
/// `DataLoader` (`Normalization.mnist`). Files are checked against their published MD5s.
public final class MNIST: Dataset {
    /// Which half of the data set.
    public enum Split: String, Sendable, CaseIterable {
        /// The 60 000 training images.
        case train
        /// The 10 000 test images.
        case test
    }

    /// `train-images-idx3-ubyte.gz`.
    public static let trainImages = MNISTFile(name: "train-images-idx3-ubyte.gz", md5: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                                              byteCount: 9_912_422, decompressedByteCount: 47_040_016)
    /// `train-labels-idx1-ubyte.gz`.
    public static let trainLabels = MNISTFile(name: "train-labels-idx1-ubyte.gz", md5: "d53e105ee54ea40749a09fcbcd1e9432",
                                              byteCount: 28_881, decompressedByteCount: 60_008)
    /// `t10k-images-idx3-ubyte.gz`.
    public static let testImages = MNISTFile(name: "t10k-images-idx3-ubyte.gz", md5: "9fb629c4189551a2d022fa330f9573f3",
                                             byteCount: 1_648_877, decompressedByteCount: 7_840_016)
    /// `t10k-labels-idx1-ubyte.gz`.
    public static let testLabels = MNISTFile(name: "t10k-labels-idx1-ubyte.gz", md5: "ec29112dd5afa0611ce80d1b7f02629c",
                                             byteCount: 4_542, decompressedByteCount: 10_008)
    /// All four files.
    public static let allFiles = [trainImages, trainLabels, testImages, testLabels]

    /// The mean of the training pixels in [0, 1] (PyTorch's example uses 0.1307).
    public static let mean: Float = 0.1307
    /// The standard deviation of the training pixels in [0, 1] (0.3081).
    public static let std: Float = 0.3081

    /// The image and label files of `split`.
    public static func files(for split: Split) -> (images: MNISTFile, labels: MNISTFile) {
        split == .train ? (trainImages, trainLabels) : (testImages, testLabels)
    }

    /// Which split was loaded.
    public let split: Split
    /// The images, `[N, 1, 28, 28]` float32 in [0, 1], on the CPU.
    public let images: Tensor
    /// The labels 0–9, `[N]` int32, on the CPU.
    public let labels: Tensor

    /// Loads `split` from the two `.gz` files in `directory`.
    ///
    /// - Parameters:
    ///   - limit: keep only the first `limit` samples (for quick tests); `nil` keeps all.
    ///   - verifyChecksums: check both files against the published MD5s first.
    /// - Throws: `ConvKitError.io` naming a missing file and how to get it, `.corruptFile` for a file
    ///   with the wrong MD5 or contents, `.invalidArgument` for a bad `limit`.
    public init(directory: URL, split: Split, limit: Int? = nil, verifyChecksums: Bool = true) throws {
        let (imageFile, labelFile) = MNIST.files(for: split)
        let imageURL = directory.appendingPathComponent(imageFile.name)
        let labelURL = directory.appendingPathComponent(labelFile.name)
        for (file, url) in [(imageFile, imageURL), (labelFile, labelURL)] {
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw ConvKitError.io(path: url.path, message: "MNIST file \(file.name) is missing: put the four MNIST .gz files in "
                    + "\(directory.path) (or set CONVKIT_MNIST_DIR to their directory), or let ConvKit download them "
                    + "with MNIST.load(split:download: true)")
            }
            if verifyChecksums { try MNIST.verify(url, against: file) }
        }
        let imageArray = try IDX.read(contentsOf: imageURL, maxBytes: imageFile.decompressedByteCount)
        let labelArray = try IDX.read(contentsOf: labelURL, maxBytes: labelFile.decompressedByteCount)
        guard imageArray.dataType == .uint8, imageArray.shape.count == 3, imageArray.shape[1] == 28, imageArray.shape[2] == 28 else {
            throw ConvKitError.corruptFile(path: imageURL.path, message: "MNIST images must be unsigned bytes of shape [N, 28, 28], "
                + "got \(imageArray.dataType) \(imageArray.shape)")
        }
        guard labelArray.dataType == .uint8, labelArray.shape.count == 1 else {
            throw ConvKitError.corruptFile(path: labelURL.path, message: "MNIST labels must be unsigned bytes of shape [N], "
                + "got \(labelArray.dataType) \(labelArray.shape)")
        }
        let total = imageArray.shape[0]
        guard labelArray.shape[0] == total else {
            throw ConvKitError.corruptFile(path: labelURL.path, message: "\(labelArray.shape[0]) labels for \(total) images in \(imageFile.name)")
        }
        let n = limit ?? total
        try require(n >= 0 && n <= total, "MNIST", "limit must be in 0...\(total) for the \(split) split, got \(n)")
        if let bad = labelArray.bytes.prefix(n).firstIndex(where: { $0 > 9 }) {
            throw ConvKitError.corruptFile(path: labelURL.path, message: "label \(labelArray.bytes[bad]) at index \(bad) is not a digit 0-9")
        }

        let images = try Tensor.empty([n, 1, 28, 28], on: .cpu)
        let labels = try Tensor.empty([n], dtype: .int32, on: .cpu)
        MNIST.convert(imageArray.bytes, count: n * 28 * 28, into: images.storage.floats)
        let labelOut = labels.storage.ints
        for i in 0..<n { labelOut[i] = Int32(labelArray.bytes[i]) }
        self.split = split
        self.images = images
        self.labels = labels
    }

    /// Loads `split`, downloading (and caching) the files when they are not found.
    ///
    /// Looks in `directory` when given, else in `$CONVKIT_MNIST_DIR` when set; when the files are not
    /// there and `download` is true, fetches them with `downloader` into its cache and loads them from it.
    public static func load(split: Split, limit: Int? = nil, directory: URL? = nil, download: Bool = true,
                            downloader: MNISTDownloader = MNISTDownloader(),
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MNIST {
        let candidate = directory ?? environment["CONVKIT_MNIST_DIR"].map { URL(fileURLWithPath: $0) }
        let (imageFile, labelFile) = files(for: split)
        if let candidate {
            let present = [imageFile, labelFile].allSatisfy {
                FileManager.default.fileExists(atPath: candidate.appendingPathComponent($0.name).path)
            }
            if present || !download { return try MNIST(directory: candidate, split: split, limit: limit) }
        }
        guard download else {
            return try MNIST(directory: downloader.cacheDirectory, split: split, limit: limit)
        }
        let cache = try downloader.ensure(split: split)
        return try MNIST(directory: cache, split: split, limit: limit)
    }

    /// The number of samples.
    public var count: Int { images.shape[0] }
    /// `[1, 28, 28]`.
    public var sampleShape: [Int] { [1, 28, 28] }

    /// Copies the selected images and labels (see `Dataset.gather`).
    public func gather(_ indices: [Int], images out: UnsafeMutablePointer<Float>, labels outLabels: UnsafeMutablePointer<Int32>) throws {
        try TensorDataset.gather(indices, from: images, labels, into: out, outLabels)
    }

    /// Throws `ConvKitError.corruptFile` unless the file at `url` has `file`'s published MD5.
    public static func verify(_ url: URL, against file: MNISTFile) throws {
        let digest = try MD5.hex(ofFile: url)
        guard digest == file.md5 else {
            throw ConvKitError.corruptFile(path: url.path, message: "MD5 is \(digest) but the published \(file.name) has \(file.md5): "
                + "the file is damaged or not the original; delete it and download it again")
        }
    }

    private static func convert(_ bytes: [UInt8], count: Int, into out: UnsafeMutablePointer<Float>) {
        let table = (0..<256).map { Float($0) / 255 }
        table.withUnsafeBufferPointer { t in
            bytes.withUnsafeBufferPointer { b in
                for i in 0..<count { out[i] = t[Int(b[i])] }
            }
        }
    }
}
