import Foundation

/// Reads and writes the safetensors format (Hugging Face's; what PyTorch's `safetensors.torch`
/// writes): an 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, …,
/// "__metadata__": {"key": "value"}}`, then the tensors' bytes, offsets relative to the end of
/// the header.
///
/// Reading accepts F32, F64 (converted to float32), and I64, I32, U8 (converted to int32; a
/// value outside the int32 range is an error). Writing stores float32 tensors as F32 and int32
/// tensors as I32. Names follow PyTorch's `state_dict()` (`features.0.weight`), so weights move
/// between the two without conversion.
public enum SafeTensors {
    /// The contents of a safetensors file.
    public struct Contents {
        /// The tensors by name (on the CPU).
        public var tensors: [String: Tensor]
        /// The `__metadata__` map (empty when the file has none).
        public var metadata: [String: String]
    }

    /// Headers larger than this are refused before anything is allocated (the reference
    /// implementation's limit).
    static let maximumHeaderBytes = 100_000_000

    /// The tensors stored in the file at `url`, on the CPU.
    /// - Throws: `ConvKitError.io` when the file cannot be read, `ConvKitError.corruptFile`
    ///   naming the path and the problem when its contents are malformed,
    ///   `ConvKitError.unsupported` for a dtype ConvKit does not read (e.g. F16) or an integer
    ///   outside the int32 range.
    public static func read(from url: URL) throws -> [String: Tensor] {
        try readContents(from: url).tensors
    }

    /// The tensors and the `__metadata__` map of the file at `url` (see `read(from:)`).
    public static func readContents(from url: URL) throws -> Contents {
        let path = url.path
        // O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever; only regular
        // files are read (a device such as /dev/zero could stream without end, a directory has no bytes).
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw ConvKitError.io(path: path, message: "cannot open: \(errnoMessage())") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw ConvKitError.io(path: path, message: "cannot stat: \(errnoMessage())") }
        try requireRegularFile(mode: status.st_mode, path: path)
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        return try readContents(Source(file: descriptor, size: Int(status.st_size)), path: path)
    }

    /// The tensors stored in safetensors `bytes` (a whole file held in memory), on the CPU:
    /// the in-memory form of `read(from:)`, through the same checks.
    /// - Parameter path: the file name used in error messages.
    /// - Throws: as `read(from:)`.
    public static func decode(_ bytes: [UInt8], path: String = "<safetensors data>") throws -> [String: Tensor] {
        try decodeContents(bytes, path: path).tensors
    }

    /// The tensors and the `__metadata__` map of safetensors `bytes` (see `decode(_:path:)`).
    public static func decodeContents(_ bytes: [UInt8], path: String = "<safetensors data>") throws -> Contents {
        try bytes.withUnsafeBytes { try readContents(Source(memory: $0), path: path) }
    }

    /// Where a file's bytes are read from: an open file (read with `pread`, so tensors go
    /// straight into their storage) or the whole file in memory.
    struct Source {
        private let descriptor: Int32
        private let memory: UnsafeRawBufferPointer?
        /// The file's size in bytes.
        let size: Int

        init(file descriptor: Int32, size: Int) {
            self.descriptor = descriptor
            memory = nil
            self.size = size
        }

        init(memory: UnsafeRawBufferPointer) {
            descriptor = -1
            self.memory = memory
            size = memory.count
        }

        /// Copies `count` bytes from `offset` into `buffer`.
        /// - Throws: `ConvKitError.corruptFile` when the file ends first, `.io` when reading fails.
        func readExactly(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int, path: String) throws {
            guard let memory else {
                return try SafeTensors.readExactly(descriptor, into: buffer, count: count, at: offset, path: path)
            }
            guard offset >= 0, count >= 0, offset <= memory.count, count <= memory.count - offset else {
                throw ConvKitError.corruptFile(path: path, message: "truncated: file ended at byte \(memory.count), expected \(count) bytes at byte \(offset)")
            }
            if count > 0 { buffer.copyMemory(from: memory.baseAddress! + offset, byteCount: count) }
        }

        func readExactly(into buffer: inout [UInt8], at offset: Int, path: String) throws {
            let count = buffer.count
            try buffer.withUnsafeMutableBytes { try readExactly(into: $0.baseAddress!, count: count, at: offset, path: path) }
        }
    }

    /// The one reader behind `readContents(from:)` and `decodeContents(_:path:)`.
    private static func readContents(_ source: Source, path: String) throws -> Contents {
        let fileSize = source.size
        func corrupt(_ message: String) -> ConvKitError { .corruptFile(path: path, message: message) }

        guard fileSize >= 8 else {
            throw corrupt("truncated: \(fileSize) bytes, too short for the 8-byte header length")
        }
        var lengthBytes = [UInt8](repeating: 0, count: 8)
        try source.readExactly(into: &lengthBytes, at: 0, path: path)
        let headerLength = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(maximumHeaderBytes) else {
            throw corrupt("header length \(headerLength) bytes exceeds the \(maximumHeaderBytes)-byte limit")
        }
        guard headerLength <= UInt64(fileSize - 8) else {
            throw corrupt("header length \(headerLength) bytes is larger than the file (\(fileSize) bytes)")
        }
        guard headerLength >= 2 else { throw corrupt("header length \(headerLength) bytes is too short for a JSON object") }
        var headerBytes = [UInt8](repeating: 0, count: Int(headerLength))
        try source.readExactly(into: &headerBytes, at: 8, path: path)
        let dataStart = 8 + Int(headerLength)
        let header = try parseHeader(headerBytes, dataBytes: fileSize - dataStart, path: path)

        var tensors: [String: Tensor] = [:]
        for entry in header.entries {
            tensors[entry.name] = try loadTensor(entry, source: source, dataStart: dataStart, path: path)
        }
        return Contents(tensors: tensors, metadata: header.metadata)
    }

    /// Writes `tensors` (float32 as F32, int32 as I32) and `metadata` to `url`, atomically: the
    /// bytes go to a temporary file in the same directory, which is flushed to disk and then
    /// renamed over `url`. On any error `url` is left as it was and the temporary file removed.
    /// - Throws: `ConvKitError.invalidArgument` for an empty name or the reserved name
    ///   `__metadata__`; `ConvKitError.io` when the file cannot be written.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        let op = "SafeTensors.write"
        for name in tensors.keys {
            try require(!name.isEmpty, op, "a tensor name is empty")
            try require(name != "__metadata__", op, "\"__metadata__\" is reserved and cannot name a tensor")
        }
        let names = tensors.keys.sorted()
        var header: [String: Any] = [:]
        var offset = 0
        for name in names {
            let tensor = tensors[name]!
            let bytes = tensor.count * tensor.dtype.size
            header[name] = ["dtype": tensor.dtype == .float32 ? "F32" : "I32",
                            "shape": tensor.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var headerBytes = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }

        let writer = try AtomicFile.Writer(path: url.path)
        var length = UInt64(headerBytes.count).littleEndian
        try withUnsafeBytes(of: &length) { try writer.write($0) }
        try headerBytes.withUnsafeBytes { try writer.write($0) }
        for name in names {
            let tensor = tensors[name]!
            if tensor.device == .cpu {
                // Host memory is written as it is (row-major, little-endian), without a copy.
                try writer.write(UnsafeRawBufferPointer(start: tensor.storage.address, count: tensor.count * tensor.dtype.size))
            } else if tensor.dtype == .float32 {
                try tensor.toArray().withUnsafeBytes { try writer.write($0) }
            } else {
                try tensor.toIntArray().withUnsafeBytes { try writer.write($0) }
            }
        }
        try writer.commit()
    }

    // MARK: - Header

    /// Element types of the format. ConvKit reads the ones with a `readable` conversion.
    enum StoredType: String {
        case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
        case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
        case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"
        case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

        var size: Int {
            switch self {
            case .f64, .i64, .u64: return 8
            case .f32, .i32, .u32: return 4
            case .f16, .bf16, .i16, .u16: return 2
            case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
            }
        }

        var isReadable: Bool { [.f32, .f64, .i64, .i32, .u8].contains(self) }
    }

    struct Entry {
        let name: String
        let type: StoredType
        let shape: [Int]
        let begin: Int
        let end: Int
    }

    struct Header {
        let entries: [Entry]
        let metadata: [String: String]
    }

    /// Parses and validates the JSON header against `dataBytes` bytes of data.
    static func parseHeader(_ bytes: [UInt8], dataBytes: Int, path: String) throws -> Header {
        func corrupt(_ message: String) -> ConvKitError { .corruptFile(path: path, message: message) }
        guard bytes.first == UInt8(ascii: "{") else {
            throw corrupt("header is not a JSON object (starts with byte \(bytes.first.map { String($0) } ?? "none"))")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw corrupt("header is not valid JSON (\(error.localizedDescription))")
        }
        guard let object = json as? [String: Any] else { throw corrupt("header is not a JSON object") }

        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw corrupt("__metadata__ is not an object") }
                for (key, item) in map {
                    guard let text = item as? String else { throw corrupt("__metadata__ value for \"\(key)\" is not a string") }
                    metadata[key] = text
                }
                continue
            }
            guard let fields = value as? [String: Any] else { throw corrupt("entry \"\(name)\" is not an object") }
            guard let dtypeName = fields["dtype"] as? String else { throw corrupt("tensor \"\(name)\" has no dtype string") }
            guard let type = StoredType(rawValue: dtypeName) else { throw corrupt("tensor \"\(name)\" has unknown dtype \"\(dtypeName)\"") }
            guard let shape = integers(fields["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw corrupt("tensor \"\(name)\" has no valid shape (a list of non-negative integers)")
            }
            guard let offsets = integers(fields["data_offsets"]), offsets.count == 2 else {
                throw corrupt("tensor \"\(name)\" has no valid data_offsets (two integers)")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataBytes else {
                throw corrupt("tensor \"\(name)\" data_offsets [\(begin), \(end)] are out of range of the \(dataBytes) data bytes")
            }
            var expected = type.size
            for dimension in shape {
                let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw corrupt("tensor \"\(name)\" shape \(shape) is too large") }
                expected = product
            }
            // Zero-sized tensors too: their other dimensions must still be sane, so that anything
            // computed from the shape (strides, products in another order) cannot overflow.
            do { try Tensor.checkShape(shape.filter { $0 != 0 }, "SafeTensors.read") } catch {
                throw corrupt("tensor \"\(name)\" shape \(shape) is too large")
            }
            guard expected == end - begin else {
                throw corrupt("tensor \"\(name)\" shape \(shape) × \(dtypeName) needs \(expected) bytes but data_offsets [\(begin), \(end)] hold \(end - begin)")
            }
            entries.append(Entry(name: name, type: type, shape: shape, begin: begin, end: end))
        }
        // The tensors must tile the data exactly: no overlap, no gap, nothing left over.
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var position = 0
        var previous = "the header"
        for entry in entries {
            if entry.begin < position {
                throw corrupt("tensor \"\(entry.name)\" data_offsets [\(entry.begin), \(entry.end)] overlap \(previous)")
            }
            if entry.begin > position {
                throw corrupt("gap of \(entry.begin - position) bytes before tensor \"\(entry.name)\" (data_offsets begin at \(entry.begin), expected \(position))")
            }
            position = entry.end
            previous = "tensor \"\(entry.name)\""
        }
        guard position == dataBytes else {
            throw corrupt("the tensors cover \(position) data bytes but the file holds \(dataBytes)")
        }
        return Header(entries: entries, metadata: metadata)
    }

    /// A JSON array of integers (JSONSerialization gives NSNumbers; reject fractions and booleans).
    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var out: [Int] = []
        out.reserveCapacity(array.count)
        for item in array {
            // Booleans arrive as NSNumbers of type "c".
            guard let number = item as? NSNumber, String(cString: number.objCType) != "c" else { return nil }
            let double = number.doubleValue
            guard double.rounded() == double, abs(double) < 9.0e15 else { return nil }
            out.append(number.intValue)
        }
        return out
    }

    // MARK: - Data

    private static func loadTensor(_ entry: Entry, source: Source, dataStart: Int, path: String) throws -> Tensor {
        guard entry.type.isReadable else {
            throw ConvKitError.unsupported(op: "SafeTensors.read",
                                           message: "\(path): tensor \"\(entry.name)\" has dtype \(entry.type.rawValue); ConvKit reads F32, F64, I64, I32 and U8")
        }
        let count = entry.shape.reduce(1, *)
        let dtype: DType = [.f32, .f64].contains(entry.type) ? .float32 : .int32
        let storage = try Storage.host(byteCount: count * dtype.size)
        let offset = dataStart + entry.begin
        let byteCount = entry.end - entry.begin
        switch entry.type {
        case .f32, .i32:
            try source.readExactly(into: storage.address, count: byteCount, at: offset, path: path)
        case .f64:
            try Scratch.withBuffer(of: Double.self, count: count) { values in
                try source.readExactly(into: UnsafeMutableRawPointer(values), count: byteCount, at: offset, path: path)
                let target = storage.floats
                for i in 0..<count { target[i] = Float(values[i]) }
            }
        case .i64:
            try Scratch.withBuffer(of: Int64.self, count: count) { values in
                try source.readExactly(into: UnsafeMutableRawPointer(values), count: byteCount, at: offset, path: path)
                let target = storage.address.assumingMemoryBound(to: Int32.self)
                for i in 0..<count {
                    guard let value = Int32(exactly: Int64(littleEndian: values[i])) else {
                        throw ConvKitError.unsupported(op: "SafeTensors.read",
                                                       message: "\(path): tensor \"\(entry.name)\" (I64) holds \(Int64(littleEndian: values[i])) at index \(i), outside the int32 range")
                    }
                    target[i] = value
                }
            }
        case .u8:
            try Scratch.withBuffer(of: UInt8.self, count: count) { values in
                try source.readExactly(into: UnsafeMutableRawPointer(values), count: byteCount, at: offset, path: path)
                let target = storage.address.assumingMemoryBound(to: Int32.self)
                for i in 0..<count { target[i] = Int32(values[i]) }
            }
        default:
            preconditionFailure("unreadable dtype passed the check")
        }
        return Tensor(shape: entry.shape, dtype: dtype, storage: storage)
    }

    // MARK: - POSIX helpers

    private static func errnoMessage() -> String { String(cString: strerror(errno)) }

    private static func readExactly(_ descriptor: Int32, into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int, path: String) throws {
        var done = 0
        while done < count {
            let got = pread(descriptor, buffer + done, count - done, off_t(offset + done))
            if got < 0 {
                if errno == EINTR { continue }
                throw ConvKitError.io(path: path, message: "read failed: \(errnoMessage())")
            }
            if got == 0 {
                throw ConvKitError.corruptFile(path: path, message: "truncated: file ended at byte \(offset + done), expected \(count - done) more")
            }
            done += got
        }
    }

}

/// Throws `ConvKitError.io` naming `path` unless `mode` (a `stat` mode) is a regular file's:
/// a directory has no bytes, and a FIFO, socket or device could block or stream without end.
func requireRegularFile(mode: mode_t, path: String) throws {
    let type = mode & S_IFMT
    guard type != S_IFREG else { return }
    let what = type == S_IFDIR ? "a directory" : type == S_IFIFO ? "a FIFO (named pipe)"
        : type == S_IFCHR || type == S_IFBLK ? "a device" : type == S_IFSOCK ? "a socket" : "not a regular file"
    throw ConvKitError.io(path: path, message: "cannot read: it is \(what), not a regular file")
}
