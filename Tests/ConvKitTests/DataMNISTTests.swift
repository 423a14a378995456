import XCTest
@testable import ConvKit

final class DataMNISTTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws { directory = try makeDataTestDirectory("mnist") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func copyTestFiles(to target: URL) throws {
        for file in [MNIST.testImages, MNIST.testLabels] {
            try FileManager.default.copyItem(at: dataTestMNISTDirectory.appendingPathComponent(file.name),
                                             to: target.appendingPathComponent(file.name))
        }
    }

    func testLoadsTheRealTestSplitWithChecksums() throws {
        let mnist = try MNIST(directory: dataTestMNISTDirectory, split: .test)
        XCTAssertEqual(mnist.count, 10000)
        XCTAssertEqual(mnist.images.shape, [10000, 1, 28, 28])
        XCTAssertEqual(mnist.images.dtype, .float32)
        XCTAssertEqual(mnist.labels.shape, [10000])
        XCTAssertEqual(mnist.labels.dtype, .int32)
        let labels = try mnist.labels.toIntArray()
        XCTAssertEqual(Array(labels.prefix(10)), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
        // Every digit occurs; the test set has 1135 ones.
        XCTAssertEqual(labels.filter { $0 == 1 }.count, 1135)
        XCTAssertEqual(Set(labels), Set(0...9))
        let pixels = try mnist.images.toArray()
        var low: Float = 1, high: Float = 0, sum = 0.0
        pixels.withUnsafeBufferPointer { p in
            for v in p { low = min(low, v); high = max(high, v); sum += Double(v) }
        }
        XCTAssertEqual(low, 0)
        XCTAssertEqual(high, 1)
        // The test images' mean (0.1325) is close to the training mean used for normalisation.
        XCTAssertEqual(sum / Double(pixels.count), 0.1325, accuracy: 0.001)
        // The same bytes as the IDX reader, divided by 255.
        let raw = try IDX.read(contentsOf: dataTestMNISTDirectory.appendingPathComponent(MNIST.testImages.name))
        for i in stride(from: 0, to: pixels.count, by: 997) { XCTAssertEqual(pixels[i], Float(raw.bytes[i]) / 255) }
    }

    func testSubsetTakesTheFirstSamples() throws {
        let full = try MNIST(directory: dataTestMNISTDirectory, split: .test, verifyChecksums: false)
        let subset = try MNIST(directory: dataTestMNISTDirectory, split: .test, limit: 50)
        XCTAssertEqual(subset.images.shape, [50, 1, 28, 28])
        XCTAssertEqual(try subset.labels.toIntArray(), Array(try full.labels.toIntArray().prefix(50)))
        XCTAssertEqual(try subset.images.toArray(), Array(try full.images.toArray().prefix(50 * 784)))
        let (image, label) = try subset.sample(3)
        XCTAssertEqual(image.shape, [1, 28, 28])
        XCTAssertEqual(label, 0)
        XCTAssertEqual(try image.toArray(), Array(try full.images.toArray()[(3 * 784)..<(4 * 784)]))
        XCTAssertEqual(try MNIST(directory: dataTestMNISTDirectory, split: .test, limit: 0).count, 0)
        assertThrowsConvKitError(try MNIST(directory: dataTestMNISTDirectory, split: .test, limit: 10001), "MNIST", "limit", "10001")
        assertThrowsConvKitError(try MNIST(directory: dataTestMNISTDirectory, split: .test, limit: -1), "MNIST", "limit")
        assertThrowsConvKitError(try subset.sample(50), "Dataset.sample", "50")
    }

    func testMissingFileNamesItAndSaysWhatToDo() throws {
        assertThrowsConvKitError(try MNIST(directory: directory, split: .test),
                                 "t10k-images-idx3-ubyte.gz", "missing", directory.path, "CONVKIT_MNIST_DIR", "download")
        try FileManager.default.copyItem(at: dataTestMNISTDirectory.appendingPathComponent(MNIST.testImages.name),
                                         to: directory.appendingPathComponent(MNIST.testImages.name))
        assertThrowsConvKitError(try MNIST(directory: directory, split: .test), "t10k-labels-idx1-ubyte.gz", "missing")
        assertThrowsConvKitError(try MNIST(directory: directory, split: .train), "train-images-idx3-ubyte.gz", "missing")
        assertThrowsConvKitError(try MNIST.load(split: .test, directory: directory, download: false), "t10k-labels-idx1-ubyte.gz", "missing")
    }

    func testCorruptedCopyIsRejectedByItsChecksum() throws {
        try copyTestFiles(to: directory)
        let labelsURL = directory.appendingPathComponent(MNIST.testLabels.name)
        var bytes = [UInt8](try Data(contentsOf: labelsURL))
        bytes[100] ^= 0x40
        try Data(bytes).write(to: labelsURL)
        assertThrowsConvKitError(try MNIST(directory: directory, split: .test), labelsURL.path, "MD5", MNIST.testLabels.md5, "download it again")
        // Without the checksum the damaged gzip stream itself is caught.
        assertThrowsConvKitError(try MNIST(directory: directory, split: .test, verifyChecksums: false), labelsURL.path, "corrupt file")
        // A valid gzip with the wrong contents (labels re-encoded with a 10 in them) is caught too.
        var labels = try IDX.read(contentsOf: dataTestMNISTDirectory.appendingPathComponent(MNIST.testLabels.name)).bytes
        labels[5] = 10
        try Data(try Gzip.compress(try IDX.encode(shape: [10000], bytes: labels))).write(to: labelsURL)
        assertThrowsConvKitError(try MNIST(directory: directory, split: .test), "MD5")
        assertThrowsConvKitError(try MNIST(directory: directory, split: .test, verifyChecksums: false), "label 10 at index 5")
        try Data(try Gzip.compress(try IDX.encode(shape: [9999], bytes: Array(labels.prefix(9999))))).write(to: labelsURL)
        assertThrowsConvKitError(try MNIST(directory: directory, split: .test, verifyChecksums: false), "9999 labels for 10000 images")
    }

    func testLoadPrefersTheGivenDirectory() throws {
        try copyTestFiles(to: directory)
        let cacheRoot = directory.appendingPathComponent("cache")
        // No mirror is reachable: loading must not need one when the files are present.
        let offline = MNISTDownloader(mirrors: [], cacheRoot: cacheRoot)
        let mnist = try MNIST.load(split: .test, limit: 20, directory: directory, downloader: offline, environment: [:])
        XCTAssertEqual(mnist.count, 20)
        let fromEnvironment = try MNIST.load(split: .test, limit: 5, downloader: offline, environment: ["CONVKIT_MNIST_DIR": directory.path])
        XCTAssertEqual(try fromEnvironment.labels.toIntArray(), [7, 2, 1, 0, 4])
        assertThrowsConvKitError(try MNIST.load(split: .train, directory: directory, downloader: offline, environment: [:]),
                                 "could not download train-images-idx3-ubyte.gz", "no mirrors")
    }
}
