import XCTest
@testable import ConvKit

final class SafeTensorsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("convkit-safetensors-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Files written by PyTorch

    func testReadsAFileWrittenByPyTorch() throws {
        let url = fixturesDirectory.appendingPathComponent("safetensors_pytorch.safetensors")
        let contents = try SafeTensors.readContents(from: url)
        XCTAssertEqual(contents.metadata, ["format": "pt", "source": "convkit fixture"])
        XCTAssertEqual(Set(contents.tensors.keys), ["features.0.weight", "features.0.bias", "scalar", "empty", "doubles",
                                                    "labels64", "indices32", "bytes"])
        let t = contents.tensors
        XCTAssertEqual(t["features.0.weight"]?.shape, [2, 3])
        XCTAssertEqual(try t["features.0.weight"]?.toArray(), [-0.5, -0.25, 0, 0.25, 0.5, 0.75])
        XCTAssertEqual(try t["features.0.bias"]?.toArray(), [1.5, -2.25])
        XCTAssertEqual(t["scalar"]?.shape, [])
        XCTAssertEqual(try t["scalar"]?.item(), 3.5)
        XCTAssertEqual(t["empty"]?.shape, [0, 3])
        XCTAssertEqual(try t["empty"]?.toArray(), [])
        XCTAssertEqual(t["doubles"]?.dtype, .float32)
        XCTAssertEqual(try t["doubles"]?.toArray(), [Float(0.1), Float(-1e-3), Float(1e30), 2])
        XCTAssertEqual(t["labels64"]?.dtype, .int32)
        XCTAssertEqual(try t["labels64"]?.toIntArray(), [0, -1, Int32.max, Int32.min, 7])
        XCTAssertEqual(t["indices32"]?.shape, [2, 2])
        XCTAssertEqual(try t["indices32"]?.toIntArray(), [1, -2, 3, 4])
        XCTAssertEqual(try t["bytes"]?.toIntArray(), [0, 127, 255])
        XCTAssertEqual(Set(try SafeTensors.read(from: url).keys), Set(t.keys))
    }

    func testUnsupportedDTypeIsNamed() {
        let url = fixturesDirectory.appendingPathComponent("safetensors_pytorch_f16.safetensors")
        assertThrowsConvKitError(try SafeTensors.read(from: url), "half", "F16", url.path)
    }

    // MARK: Writing

    func testRoundTripKeepsValuesShapesTypesAndMetadata() throws {
        var rng = TestRNG(seed: 3)
        var tensors: [String: Tensor] = [:]
        for index in 0..<6 {
            let shape = (0..<rng.int(1...4)).map { _ in rng.int(1...5) }
            tensors["layer.\(index).weight"] = try Tensor(randomValues(shape.reduce(1, *), seed: UInt64(index)), shape: shape)
        }
        tensors["scalar"] = try Tensor(scalar: -0.0)
        tensors["empty"] = try Tensor([], shape: [3, 0])
        tensors["special"] = try Tensor([.nan, .infinity, -.infinity, .leastNonzeroMagnitude], shape: [4])
        tensors["labels"] = try Tensor(indices: [Int32.min, -1, 0, Int32.max], shape: [2, 2])
        tensors["名前 \"quoted\""] = try Tensor([1], shape: [1])
        let metadata = ["format": "pt", "note": "line\nbreak \"quote\" ünïcödé", "": "empty key"]
        let url = directory.appendingPathComponent("model.safetensors")
        try SafeTensors.write(tensors, metadata: metadata, to: url)
        let contents = try SafeTensors.readContents(from: url)
        XCTAssertEqual(contents.metadata, metadata)
        XCTAssertEqual(Set(contents.tensors.keys), Set(tensors.keys))
        for (name, original) in tensors {
            let read = try XCTUnwrap(contents.tensors[name])
            XCTAssertEqual(read.shape, original.shape, name)
            XCTAssertEqual(read.dtype, original.dtype, name)
            if original.dtype == .float32 {
                // Bitwise: NaN, -0 and denormals survive.
                XCTAssertEqual(try read.toArray().map(\.bitPattern), try original.toArray().map(\.bitPattern), name)
            } else {
                XCTAssertEqual(try read.toIntArray(), try original.toIntArray(), name)
            }
        }
        // The data starts 8-byte aligned, as the reference writer leaves it.
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0)
    }

    func testWriteReplacesAnExistingFileAndLeavesNoTemporaryFile() throws {
        let url = directory.appendingPathComponent("weights.safetensors")
        try SafeTensors.write(["a": try Tensor([1, 2, 3])], to: url)
        try SafeTensors.write(["b": try Tensor([4])], metadata: ["k": "v"], to: url)
        let contents = try SafeTensors.readContents(from: url)
        XCTAssertEqual(Array(contents.tensors.keys), ["b"])
        XCTAssertEqual(contents.metadata, ["k": "v"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["weights.safetensors"])
    }

    func testWriteEmptyDictionary() throws {
        let url = directory.appendingPathComponent("nothing.safetensors")
        try SafeTensors.write([:], to: url)
        let contents = try SafeTensors.readContents(from: url)
        XCTAssertTrue(contents.tensors.isEmpty)
        XCTAssertTrue(contents.metadata.isEmpty)
    }

    func testFailedWriteLeavesTargetUntouchedAndRemovesTemporaryFile() throws {
        // Renaming a file over a non-empty directory fails after every byte was written.
        let target = directory.appendingPathComponent("occupied.safetensors")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try Data([1, 2, 3]).write(to: target.appendingPathComponent("keep"))
        assertThrowsConvKitError(try SafeTensors.write(["a": try Tensor([1])], to: target), target.path, "rename")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["occupied.safetensors"])
        XCTAssertEqual(try Data(contentsOf: target.appendingPathComponent("keep")), Data([1, 2, 3]))

        let missing = directory.appendingPathComponent("no-such-dir/w.safetensors")
        assertThrowsConvKitError(try SafeTensors.write(["a": try Tensor([1])], to: missing), missing.path, "temporary file")
    }

    func testWriteRejectsReservedAndEmptyNames() throws {
        let url = directory.appendingPathComponent("bad.safetensors")
        try SafeTensors.write(["a": try Tensor([1])], to: url)
        let before = try Data(contentsOf: url)
        assertThrowsConvKitError(try SafeTensors.write(["__metadata__": try Tensor([1])], to: url), "SafeTensors.write", "__metadata__")
        assertThrowsConvKitError(try SafeTensors.write(["": try Tensor([1])], to: url), "SafeTensors.write", "empty")
        XCTAssertEqual(try Data(contentsOf: url), before)
    }

    // MARK: Malformed files

    /// A file of the 8-byte length (`header`'s own unless `length` is given), `header` and `data`.
    private func makeFile(_ header: String, data: [UInt8] = [], length: UInt64? = nil, name: String = "bad.safetensors") throws -> URL {
        let headerBytes = Array(header.utf8)
        var bytes: [UInt8] = []
        let claimed = length ?? UInt64(headerBytes.count)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8((claimed >> UInt64(shift)) & 0xFF)) }
        bytes += headerBytes + data
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    private func assertCorrupt(_ header: String, data: [UInt8] = [], length: UInt64? = nil, _ fragment: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let url = try makeFile(header, data: data, length: length)
        do {
            _ = try SafeTensors.read(from: url)
            XCTFail("expected corruptFile containing \"\(fragment)\" for header \(header)", file: file, line: line)
        } catch let error as ConvKitError {
            guard case .corruptFile(let path, let message) = error else {
                XCTFail("expected corruptFile, got \(error)", file: file, line: line)
                return
            }
            XCTAssertEqual(path, url.path, file: file, line: line)
            XCTAssert(message.contains(fragment), "\"\(message)\" does not contain \"\(fragment)\"", file: file, line: line)
        }
    }

    private let eight: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64]  // two F32: 1, 2

    func testTruncatedFiles() throws {
        for size in [0, 1, 7] {
            let url = directory.appendingPathComponent("short\(size).safetensors")
            try Data([UInt8](repeating: 0, count: size)).write(to: url)
            assertThrowsConvKitError(try SafeTensors.read(from: url), url.path, "corrupt file", "truncated")
        }
        // A real file cut short: its tensors no longer fit.
        let full = try Data(contentsOf: fixturesDirectory.appendingPathComponent("safetensors_pytorch.safetensors"))
        for cut in [1, 50, full.count - 20] {
            let url = directory.appendingPathComponent("cut\(cut).safetensors")
            try full.prefix(full.count - cut).write(to: url)
            assertThrowsConvKitError(try SafeTensors.read(from: url), url.path, "corrupt file")
        }
    }

    func testHeaderLengthLargerThanTheFileOrAbsurd() throws {
        try assertCorrupt("{}", length: 3, "larger than the file")
        try assertCorrupt("{}", length: 1 << 40, "exceeds")
        try assertCorrupt("{}", length: UInt64.max, "exceeds")
        try assertCorrupt("{}", length: 1, "too short")
    }

    func testInvalidJSON() throws {
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\",", "not valid JSON")
        try assertCorrupt("[1, 2]", "not a JSON object")
        try assertCorrupt("{\"a\": 5}", "entry \"a\" is not an object")
        try assertCorrupt("{\"__metadata__\": {\"k\": 1}}", "__metadata__")
        try assertCorrupt("{\"__metadata__\": [\"k\"]}", "__metadata__")
    }

    func testBadFields() throws {
        try assertCorrupt("{\"a\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", data: eight, "no dtype")
        try assertCorrupt("{\"a\": {\"dtype\": \"F33\", \"shape\": [2], \"data_offsets\": [0, 8]}}", data: eight, "unknown dtype \"F33\"")
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", data: eight, "shape")
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 8]}}", data: eight, "shape")
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": \"2\", \"data_offsets\": [0, 8]}}", data: eight, "shape")
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": [true], \"data_offsets\": [0, 8]}}", data: eight, "shape")
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0]}}", data: eight, "data_offsets")
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": [2]}}", data: eight, "data_offsets")
    }

    func testOffsetsOutOfRangeOverlappingOrNotMatchingTheShape() throws {
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 16]}}", data: eight, "out of range")
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", data: eight, "out of range")
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [-8, 0]}}", data: eight, "out of range")
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", data: eight, "needs 12 bytes")
        try assertCorrupt("{\"a\": {\"dtype\": \"F64\", \"shape\": [2], \"data_offsets\": [0, 8]}}", data: eight, "needs 16 bytes")
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
                          data: eight, "overlap")
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", data: eight, "gap of 4 bytes")
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", data: eight, "cover 4 data bytes but the file holds 8")
        // Sizes whose product overflows are refused from the header alone.
        try assertCorrupt("{\"a\": {\"dtype\": \"F32\", \"shape\": [1099511627776, 1099511627776], \"data_offsets\": [0, 8]}}",
                          data: eight, "too large")
    }

    func testIntegerOutsideInt32IsRefused() throws {
        var data: [UInt8] = []
        for value: Int64 in [1, 1 << 31] { withUnsafeBytes(of: value.littleEndian) { data += $0 } }
        let url = try makeFile("{\"big\": {\"dtype\": \"I64\", \"shape\": [2], \"data_offsets\": [0, 16]}}", data: data)
        assertThrowsConvKitError(try SafeTensors.read(from: url), "big", "2147483648", "int32", url.path)
    }

    func testMissingFile() {
        let url = directory.appendingPathComponent("absent.safetensors")
        assertThrowsConvKitError(try SafeTensors.read(from: url), url.path, "cannot open")
    }
}
