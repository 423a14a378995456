import XCTest
@testable import ConvKit

/// A fresh temporary directory for a data test; the caller removes it.
func makeDataTestDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("convkit-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The directory holding the real MNIST files: `$CONVKIT_MNIST_DIR`, else `../shared/data/mnist`
/// beside the package root (found from this file's path).
var dataTestMNISTDirectory: URL {
    if let dir = ProcessInfo.processInfo.environment["CONVKIT_MNIST_DIR"], !dir.isEmpty {
        return URL(fileURLWithPath: dir, isDirectory: true)
    }
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/mnist", isDirectory: true)
}

final class DataGzipTests: XCTestCase {
    func testRoundTripsEmptySmallAndLargeInputs() throws {
        var g = TestRNG(seed: 11)
        let inputs: [[UInt8]] = [
            [],
            Array("hello, gzip".utf8),
            (0..<200_000).map { UInt8(truncatingIfNeeded: $0 % 251) },   // compressible, several inflate rounds
            (0..<70_000).map { _ in UInt8(truncatingIfNeeded: g.next()) },  // incompressible
        ]
        for input in inputs {
            for level in [-1, 0, 1, 9] {
                let compressed = try Gzip.compress(input, level: level)
                XCTAssertTrue(Gzip.isGzip(compressed))
                XCTAssertEqual(try Gzip.decompress(compressed, maxOutputBytes: input.count), input, "level \(level), \(input.count) bytes")
            }
        }
    }

    func testMatchesPythonsGzip() throws {
        // Both directions against an independent implementation.
        let directory = try makeDataTestDirectory("gzip")
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = Array(String(repeating: "ConvKit reads gzip through zlib. ", count: 300).utf8)
        let ours = directory.appendingPathComponent("ours.gz"), theirs = directory.appendingPathComponent("theirs.gz")
        try Data(try Gzip.compress(text)).write(to: ours)
        let script = """
        import gzip, sys
        data = gzip.open(sys.argv[1]).read()
        assert data == b"ConvKit reads gzip through zlib. " * 300, "mismatch"
        open(sys.argv[2], "wb").write(gzip.compress(data[::-1]))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, ours.path, theirs.path]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let back = try Gzip.decompress([UInt8](try Data(contentsOf: theirs)), maxOutputBytes: 1 << 20)
        XCTAssertEqual(back, Array(text.reversed()))
    }

    func testConcatenatedMembersAreJoined() throws {
        let a = try Gzip.compress(Array("first ".utf8)), b = try Gzip.compress(Array("second".utf8))
        XCTAssertEqual(try Gzip.decompress(a + b, maxOutputBytes: 100), Array("first second".utf8))
    }

    func testTruncatedStreamsAreRejected() throws {
        let input = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 7 % 13) }
        let compressed = try Gzip.compress(input)
        for cut in [2, 10, compressed.count / 2, compressed.count - 8, compressed.count - 1] {
            assertThrowsConvKitError(try Gzip.decompress(Array(compressed.prefix(cut)), maxOutputBytes: 1 << 20, path: "cut.gz"),
                                     "cut.gz", "corrupt")
        }
        assertThrowsConvKitError(try Gzip.decompress(Array(compressed.prefix(compressed.count / 2)), maxOutputBytes: 1 << 20, path: "x.gz"),
                                 "truncated")
    }

    func testCorruptStreamsAreRejected() throws {
        let input = Array(String(repeating: "abcdefgh", count: 4000).utf8)
        let compressed = try Gzip.compress(input)
        // Wrong CRC in the trailer.
        var badCRC = compressed
        badCRC[badCRC.count - 6] ^= 0xFF
        assertThrowsConvKitError(try Gzip.decompress(badCRC, maxOutputBytes: 1 << 20, path: "crc.gz"), "crc.gz", "incorrect data check")
        // Wrong length in the trailer.
        var badLength = compressed
        badLength[badLength.count - 3] ^= 0x01
        assertThrowsConvKitError(try Gzip.decompress(badLength, maxOutputBytes: 1 << 20, path: "len.gz"), "len.gz", "incorrect length check")
        // Flipped bits in the deflate data: some error, never a trap or a wrong success.
        var g = TestRNG(seed: 5)
        for _ in 0..<40 {
            var damaged = compressed
            let at = g.int(10...(damaged.count - 9))
            damaged[at] ^= UInt8(1 << g.int(0...7))
            do {
                let out = try Gzip.decompress(damaged, maxOutputBytes: 1 << 20, path: "flip.gz")
                XCTAssertEqual(out, input, "a damaged stream must fail or (when the flip hit a don't-care bit) decode exactly")
            } catch let error as ConvKitError {
                XCTAssert(error.description.contains("flip.gz: corrupt file: gzip:"), "\(error)")
            }
        }
        // Not gzip at all, and garbage after the end.
        assertThrowsConvKitError(try Gzip.decompress(Array("plain".utf8), maxOutputBytes: 100, path: "p.gz"), "p.gz", "not a gzip stream")
        assertThrowsConvKitError(try Gzip.decompress(compressed + [1, 2, 3], maxOutputBytes: 1 << 20, path: "g.gz"), "garbage after the end")
    }

    func testOutputCapRefusesBombs() throws {
        // 64 MiB of zeros compresses to ~64 KB; a 1 MiB cap must refuse it without inflating it all.
        let zeros = [UInt8](repeating: 0, count: 64 << 20)
        let bomb = try Gzip.compress(zeros, level: 9)
        XCTAssertLessThan(bomb.count, 200_000)
        assertThrowsConvKitError(try Gzip.decompress(bomb, maxOutputBytes: 1 << 20, path: "bomb.gz"), "bomb.gz", "more than 1048576 bytes")
        // The cap is inclusive.
        let small = try Gzip.compress([UInt8](repeating: 7, count: 1000))
        XCTAssertEqual(try Gzip.decompress(small, maxOutputBytes: 1000).count, 1000)
        assertThrowsConvKitError(try Gzip.decompress(small, maxOutputBytes: 999), "more than 999 bytes")
        assertThrowsConvKitError(try Gzip.decompress(small, maxOutputBytes: -1), "Gzip.decompress", "maxOutputBytes")
        assertThrowsConvKitError(try Gzip.compress([1], level: 10), "Gzip.compress", "level")
    }
}

final class DataMD5Tests: XCTestCase {
    func testRFC1321Vectors() {
        let vectors: [(String, String)] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
            ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
            ("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"),
            ("The quick brown fox jumps over the lazy dog", "9e107d9d372bb6826bd81d3542a419d6"),
        ]
        for (input, digest) in vectors { XCTAssertEqual(MD5.hex(Array(input.utf8)), digest, "md5(\"\(input)\")") }
    }

    func testIncrementalUpdatesMatchOneShotAcrossBlockBoundaries() {
        var g = TestRNG(seed: 3)
        let bytes = (0..<1000).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        // Lengths around the 56- and 64-byte padding boundaries, split at random points.
        for length in [55, 56, 57, 63, 64, 65, 119, 120, 128, 1000] {
            let data = Array(bytes.prefix(length))
            let oneShot = MD5.hex(data)
            var hasher = MD5()
            var at = 0
            while at < length {
                let step = min(g.int(0...70), length - at)
                hasher.update(Array(data[at..<(at + step)]))
                at += step
            }
            XCTAssertEqual(hasher.hexDigest(), oneShot, "length \(length)")
        }
        // Against Python's hashlib for a megabyte-sized input.
        let big = (0..<1_500_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        XCTAssertEqual(MD5.hex(big), pythonMD5(big))
    }

    func testFileDigestOfTheRealMNISTLabels() throws {
        let url = dataTestMNISTDirectory.appendingPathComponent(MNIST.testLabels.name)
        XCTAssertEqual(try MD5.hex(ofFile: url), MNIST.testLabels.md5)
        assertThrowsConvKitError(try MD5.hex(ofFile: URL(fileURLWithPath: "/nonexistent/file.gz")), "/nonexistent/file.gz", "cannot open")
    }

    private func pythonMD5(_ bytes: [UInt8]) -> String {
        let process = Process(), input = Pipe(), output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import hashlib,sys; print(hashlib.md5(sys.stdin.buffer.read()).hexdigest())"]
        process.standardInput = input
        process.standardOutput = output
        guard (try? process.run()) != nil else { return "python3 failed to start" }
        input.fileHandleForWriting.write(Data(bytes))
        try? input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

final class DataIDXTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws { directory = try makeDataTestDirectory("idx") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func write(_ bytes: [UInt8], _ name: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func testReadsTheRealMNISTTestFiles() throws {
        let images = try IDX.read(contentsOf: dataTestMNISTDirectory.appendingPathComponent(MNIST.testImages.name))
        XCTAssertEqual(images.dataType, .uint8)
        XCTAssertEqual(images.shape, [10000, 28, 28])
        XCTAssertEqual(images.bytes.count, 7_840_000)
        let labels = try IDX.read(contentsOf: dataTestMNISTDirectory.appendingPathComponent(MNIST.testLabels.name))
        XCTAssertEqual(labels.shape, [10000])
        XCTAssertEqual(Array(labels.bytes.prefix(10)), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
        XCTAssertTrue(labels.bytes.allSatisfy { $0 <= 9 })
        // The first test image (a 7) has ink in its middle rows and blank borders.
        XCTAssertEqual(images.bytes.prefix(28).reduce(0) { $0 + Int($1) }, 0)
        XCTAssertGreaterThan(images.bytes[0..<784].reduce(0) { $0 + Int($1) }, 10_000)
    }

    func testRawAndGzipFilesGiveTheSameArray() throws {
        let values = (0..<(3 * 4 * 5)).map { UInt8($0) }
        let encoded = try IDX.encode(shape: [3, 4, 5], bytes: values)
        XCTAssertEqual(Array(encoded.prefix(4)), [0, 0, 0x08, 3])
        for url in [try write(encoded, "raw.idx"), try write(try Gzip.compress(encoded), "packed.idx.gz")] {
            let array = try IDX.read(contentsOf: url)
            XCTAssertEqual(array.shape, [3, 4, 5])
            XCTAssertEqual(array.bytes, values)
        }
        let floats = try IDX.parse(try IDX.encode(shape: [2], dataType: .float32, bytes: [0x3F, 0x80, 0, 0, 0x40, 0, 0, 0]))
        XCTAssertEqual(floats.dataType, .float32)
        XCTAssertEqual(floats.shape, [2])
        assertThrowsConvKitError(try IDX.encode(shape: [2, 2], bytes: [1, 2, 3]), "IDX.encode", "needs 4 bytes")
    }

    func testTruncatedCorruptAndAbsurdFilesGiveClearErrors() throws {
        let good = try IDX.encode(shape: [10, 28, 28], bytes: [UInt8](repeating: 1, count: 7840))
        assertThrowsConvKitError(try IDX.read(contentsOf: try write(Array(good.prefix(3000)), "trunc.idx")),
                                 "trunc.idx", "truncated", "need 7840 data bytes, the file has 2984")
        assertThrowsConvKitError(try IDX.read(contentsOf: try write(Array(good.prefix(10)), "header.idx")), "header.idx", "truncated header")
        assertThrowsConvKitError(try IDX.parse([0, 0], path: "tiny"), "tiny", "too short")
        assertThrowsConvKitError(try IDX.parse(good + [0], path: "long"), "long", "1 unexpected bytes")
        // Truncated inside the gzip stream and after decompression.
        let gz = try Gzip.compress(good)
        assertThrowsConvKitError(try IDX.read(contentsOf: try write(Array(gz.prefix(gz.count - 20)), "trunc.gz")), "trunc.gz", "truncated")
        assertThrowsConvKitError(try IDX.read(contentsOf: try write(try Gzip.compress(Array(good.prefix(5000))), "short.gz")),
                                 "short.gz", "truncated", "the file has 4984")
        // Bad magic numbers.
        var bad = good
        bad[0] = 0x1F
        assertThrowsConvKitError(try IDX.parse(bad, path: "m1"), "bad magic number 0x1f000803")
        bad = good; bad[2] = 0x07
        assertThrowsConvKitError(try IDX.parse(bad, path: "m2"), "unknown element type 0x07")
        bad = good; bad[3] = 0
        assertThrowsConvKitError(try IDX.parse(bad, path: "m3"), "0 dimensions")
        bad = good; bad[3] = 200
        assertThrowsConvKitError(try IDX.parse(bad, path: "m4"), "200 dimensions")
        // Absurd dimensions: refused from the header alone, nothing is allocated for them.
        var absurd: [UInt8] = [0, 0, 0x0E, 4]
        for _ in 0..<4 { absurd += [0xFF, 0xFF, 0xFF, 0xFF] }
        assertThrowsConvKitError(try IDX.parse(absurd + [1, 2, 3], path: "absurd"), "absurd", "overflows")
        let huge = try write([0, 0, 0x08, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1, 9, 9], "huge.idx")
        assertThrowsConvKitError(try IDX.read(contentsOf: huge), "huge.idx", "truncated", "the file has 2")
        // A size limit below the file's contents, raw and gzip.
        assertThrowsConvKitError(try IDX.read(contentsOf: try write(good, "big.idx"), maxBytes: 1000), "big.idx", "limit")
        assertThrowsConvKitError(try IDX.read(contentsOf: try write(gz, "big.gz"), maxBytes: 1000), "big.gz", "more than 1000 bytes")
        assertThrowsConvKitError(try IDX.read(contentsOf: directory.appendingPathComponent("absent.idx")), "absent.idx", "does not exist")
    }
}
