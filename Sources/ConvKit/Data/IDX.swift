import Foundation

/// The element type byte of an IDX file (the third byte of its magic number).
public enum IDXDataType: UInt8, Sendable, CaseIterable {
    /// Unsigned byte (MNIST's images and labels).
    case uint8 = 0x08
    /// Signed byte.
    case int8 = 0x09
    /// Big-endian 16-bit integer.
    case int16 = 0x0B
    /// Big-endian 32-bit integer.
    case int32 = 0x0C
    /// Big-endian 32-bit float.
    case float32 = 0x0D
    /// Big-endian 64-bit float.
    case float64 = 0x0E

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .uint8, .int8: return 1
        case .int16: return 2
        case .int32, .float32: return 4
        case .float64: return 8
        }
    }
}

/// An array read from an IDX file: its shape and its raw (big-endian) element bytes.
public struct IDXArray: Sendable {
    /// The element type.
    public let dataType: IDXDataType
    /// The size of each dimension, outermost first (MNIST images: `[N, 28, 28]`, labels: `[N]`).
    public let shape: [Int]
    /// The element bytes in row-major order, exactly `shape.product * dataType.size` of them.
    public let bytes: [UInt8]
}

/// LeCun's IDX format (MNIST): two zero bytes, a type byte, a rank byte, one big-endian
/// `UInt32` per dimension, then the elements. Files may be gzip-compressed.
public enum IDX {
    /// The most dimensions accepted (MNIST uses 1 and 3).
    public static let maxRank = 8
    /// The default cap on a file's (decompressed) size: 1 GiB, far above MNIST's 47 MB.
    public static let defaultMaxBytes = 1 << 30

    /// Reads an IDX file, decompressing it first when it is gzip (detected from its magic bytes).
    ///
    /// - Parameter maxBytes: the most bytes the decompressed file may have; larger files are refused
    ///   before they are fully inflated.
    /// - Throws: `ConvKitError.io` for an unreadable file, `.corruptFile` for a bad header, a length
    ///   that does not match the header's dimensions, or a bad gzip stream.
    public static func read(contentsOf url: URL, maxBytes: Int = defaultMaxBytes) throws -> IDXArray {
        let bytes = try Gzip.readMaybeCompressed(url, maxBytes: maxBytes)
        return try parse(bytes, path: url.path)
    }

    /// Decodes the bytes of an IDX file, decompressing them first when they are gzip: the
    /// in-memory form of `read(contentsOf:maxBytes:)`, through the same gzip and header checks.
    ///
    /// - Parameters:
    ///   - maxBytes: the most bytes the decompressed file may have.
    ///   - path: the file name used in error messages.
    /// - Throws: `ConvKitError.corruptFile` as `read(contentsOf:maxBytes:)`.
    public static func decode(_ bytes: [UInt8], maxBytes: Int = defaultMaxBytes, path: String = "<IDX data>") throws -> IDXArray {
        try parse(Gzip.decompressIfNeeded(bytes, maxBytes: maxBytes, path: path), path: path)
    }

    /// Parses the bytes of an (uncompressed) IDX file; `path` names it in error messages.
    public static func parse(_ bytes: [UInt8], path: String = "<IDX data>") throws -> IDXArray {
        func corrupt(_ message: String) -> ConvKitError { .corruptFile(path: path, message: "IDX: " + message) }
        guard bytes.count >= 4 else {
            throw corrupt("only \(bytes.count) bytes, too short for the 4-byte magic number")
        }
        // Formatted only for an error message (String(format:) costs more than the whole parse).
        var magic: String { bytes[0..<4].map { String(format: "%02x", $0) }.joined() }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw corrupt("bad magic number 0x\(magic) (an IDX file starts with two zero bytes, e.g. 0x00000803)")
        }
        guard let dataType = IDXDataType(rawValue: bytes[2]) else {
            throw corrupt("unknown element type 0x\(String(format: "%02x", bytes[2])) in magic number 0x\(magic)")
        }
        let rank = Int(bytes[3])
        guard rank >= 1, rank <= maxRank else {
            throw corrupt("\(rank) dimensions in magic number 0x\(magic); expected 1...\(maxRank)")
        }
        let headerBytes = 4 + 4 * rank
        guard bytes.count >= headerBytes else {
            throw corrupt("truncated header: \(rank) dimensions need \(headerBytes) bytes, the file has \(bytes.count)")
        }
        var shape = [Int]()
        var elements = 1
        var overflow = false
        for d in 0..<rank {
            let o = 4 + 4 * d
            let size = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            shape.append(size)
            let (product, didOverflow) = elements.multipliedReportingOverflow(by: size)
            overflow = overflow || didOverflow
            elements = didOverflow ? Int.max : product
        }
        let dataBytes = bytes.count - headerBytes
        let (expected, byteOverflow) = elements.multipliedReportingOverflow(by: dataType.size)
        guard !overflow, !byteOverflow else {
            throw corrupt("absurd dimensions \(shape): their product overflows; the file has \(dataBytes) data bytes")
        }
        if dataBytes < expected {
            throw corrupt("truncated: dimensions \(shape) need \(expected) data bytes, the file has \(dataBytes)")
        }
        if dataBytes > expected {
            throw corrupt("\(dataBytes - expected) unexpected bytes after the \(expected) data bytes of dimensions \(shape)")
        }
        return IDXArray(dataType: dataType, shape: shape, bytes: Array(bytes[headerBytes...]))
    }

    /// The bytes of an IDX file holding `bytes` (big-endian elements) with `shape`.
    /// - Throws: `ConvKitError.invalidArgument` when the shape does not fit the format or the byte count.
    public static func encode(shape: [Int], dataType: IDXDataType = .uint8, bytes: [UInt8]) throws -> [UInt8] {
        try require((1...maxRank).contains(shape.count), "IDX.encode", "rank must be 1...\(maxRank), got \(shape.count)")
        try require(shape.allSatisfy { $0 >= 0 && $0 <= Int(UInt32.max) }, "IDX.encode",
                    "every dimension must be in 0...\(UInt32.max), got \(shape)")
        let expected = shape.reduce(1, *) * dataType.size
        try require(bytes.count == expected, "IDX.encode", "shape \(shape) needs \(expected) bytes, got \(bytes.count)")
        var out: [UInt8] = [0, 0, dataType.rawValue, UInt8(shape.count)]
        for d in shape { out += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        out += bytes
        return out
    }
}
