import CZlib
import Foundation

/// gzip (RFC 1952) decompression and compression through the system zlib.
///
/// Decompression streams into a growing buffer and refuses to produce more than a caller-given
/// number of bytes, so a "gzip bomb" fails early instead of exhausting memory.
public enum Gzip {
    /// Whether `bytes` starts with the gzip magic number (0x1f 0x8b).
    public static func isGzip<Bytes: Collection>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        var iterator = bytes.makeIterator()
        return iterator.next() == 0x1F && iterator.next() == 0x8B
    }

    /// Decompresses a gzip stream (several concatenated members are joined, as `gunzip` does).
    ///
    /// - Parameters:
    ///   - compressed: the `.gz` bytes.
    ///   - maxOutputBytes: the most bytes the result may have; a stream that inflates to more is refused.
    ///   - path: the file name used in error messages.
    /// - Throws: `ConvKitError.corruptFile` for a corrupt, truncated or oversized stream.
    public static func decompress(_ compressed: [UInt8], maxOutputBytes: Int, path: String = "<gzip data>") throws -> [UInt8] {
        func corrupt(_ message: String) -> ConvKitError { .corruptFile(path: path, message: "gzip: " + message) }
        try require(maxOutputBytes >= 0, "Gzip.decompress", "maxOutputBytes must be >= 0, got \(maxOutputBytes)")
        guard isGzip(compressed) else { throw corrupt("not a gzip stream (the file does not start with 1f 8b)") }

        // The trailer's ISIZE (size mod 2^32 of the last member) is a good first guess, never trusted
        // beyond deflate's largest possible ratio (about 1032:1), so a lying trailer allocates little.
        var capacity = 1 << 16
        if compressed.count >= 18 {
            let n = compressed.count
            let hint = Int(compressed[n - 4]) | Int(compressed[n - 3]) << 8 | Int(compressed[n - 2]) << 16 | Int(compressed[n - 1]) << 24
            capacity = max(capacity, min(hint + 1, compressed.count * 1032 + (1 << 16)))
        }
        // One byte more than allowed, so that a stream that is too long is noticed (saturating:
        // `Int.max` means no limit).
        let limit = maxOutputBytes == Int.max ? Int.max : maxOutputBytes + 1
        capacity = min(capacity, limit)
        var output = [UInt8](repeating: 0, count: max(capacity, 1))
        var produced = 0

        var stream = z_stream()
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ConvKitError.io(path: path, message: "gzip: zlib could not initialise the decoder")
        }
        defer { inflateEnd(&stream) }

        try compressed.withUnsafeBufferPointer { input in
            var consumed = 0
            while true {
                let inputChunk = min(input.count - consumed, Int(UInt32.max))
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + consumed)
                stream.avail_in = uInt(inputChunk)
                if produced == output.count {
                    if output.count > maxOutputBytes {
                        throw corrupt("decompresses to more than \(maxOutputBytes) bytes, the limit for this file")
                    }
                    let grown = min(max(output.count * 2, 1 << 16), limit)
                    output.append(contentsOf: repeatElement(0, count: grown - output.count))
                }
                let room = min(output.count - produced, Int(UInt32.max))
                let status: Int32 = output.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = uInt(room)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                consumed += inputChunk - Int(stream.avail_in)
                produced += room - Int(stream.avail_out)
                switch status {
                case Z_STREAM_END:
                    if consumed == input.count { return }
                    // Another member may follow; anything else after the end is corruption.
                    guard input.count - consumed >= 2, input[consumed] == 0x1F, input[consumed + 1] == 0x8B else {
                        throw corrupt("\(input.count - consumed) bytes of garbage after the end of the gzip stream")
                    }
                    guard inflateReset(&stream) == Z_OK else { throw corrupt("zlib could not restart for the next member") }
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress possible: either the output is full (grow it) or the input ran out.
                    if produced == output.count { continue }
                    throw corrupt("truncated (the stream ends after \(consumed) of its bytes without its end marker)")
                case Z_NEED_DICT:
                    throw corrupt("stream needs a preset dictionary, which gzip files never use")
                case Z_MEM_ERROR:
                    throw ConvKitError.io(path: path, message: "gzip: zlib ran out of memory")
                default:
                    let detail = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw corrupt("\(detail) at compressed byte \(consumed)")
                }
            }
        }
        if produced > maxOutputBytes {
            throw corrupt("decompresses to more than \(maxOutputBytes) bytes, the limit for this file")
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Compresses `bytes` into one gzip member.
    ///
    /// - Parameter level: zlib's compression level, 0 (store) to 9 (smallest); -1 is zlib's default (6).
    public static func compress(_ bytes: [UInt8], level: Int = -1) throws -> [UInt8] {
        try require((-1...9).contains(level), "Gzip.compress", "level must be in -1...9, got \(level)")
        var stream = z_stream()
        guard deflateInit2_(&stream, Int32(level), Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
                             ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ConvKitError.io(path: "<gzip data>", message: "gzip: zlib could not initialise the encoder")
        }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(bytes.count))) + 32
        var output = [UInt8](repeating: 0, count: bound)
        var produced = 0
        try bytes.withUnsafeBufferPointer { input in
            let inputBase = input.baseAddress.map { UnsafeMutablePointer(mutating: $0) }
            var consumed = 0
            while true {
                let chunk = min(input.count - consumed, Int(UInt32.max))
                stream.next_in = inputBase.map { $0 + consumed }
                stream.avail_in = uInt(chunk)
                if produced == output.count { output.append(contentsOf: repeatElement(0, count: output.count)) }
                let room = min(output.count - produced, Int(UInt32.max))
                let finishing = consumed + chunk == input.count
                let status: Int32 = output.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = uInt(room)
                    return deflate(&stream, finishing ? Z_FINISH : Z_NO_FLUSH)
                }
                consumed += chunk - Int(stream.avail_in)
                produced += room - Int(stream.avail_out)
                if status == Z_STREAM_END { return }
                guard status == Z_OK || status == Z_BUF_ERROR else {
                    throw ConvKitError.io(path: "<gzip data>", message: "gzip: zlib deflate failed with status \(status)")
                }
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Reads a file, decompressing it when it starts with the gzip magic; raw files are returned as they are.
    ///
    /// - Parameter maxBytes: the most bytes the (decompressed) contents may have.
    /// - Throws: `ConvKitError.io` when the file cannot be read, `.corruptFile` for a bad gzip stream
    ///   or contents over the limit.
    public static func readMaybeCompressed(_ url: URL, maxBytes: Int) throws -> [UInt8] {
        let path = url.path
        var status = stat()  // follows a symbolic link to what it points to
        guard stat(path, &status) == 0 else {
            throw ConvKitError.io(path: path, message: "cannot read the file: it does not exist or is not accessible")
        }
        try requireRegularFile(mode: status.st_mode, path: path)
        let size = Int(status.st_size)
        // Compressed input is never larger than what it inflates to by more than deflate's small overhead.
        let (slack, overflow) = maxBytes.addingReportingOverflow(maxBytes / 64 + 1024)
        guard overflow || size <= slack else {
            throw ConvKitError.corruptFile(path: path, message: "\(size) bytes, more than the \(maxBytes)-byte limit for this file")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ConvKitError.io(path: path, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try decompressIfNeeded([UInt8](data), maxBytes: maxBytes, path: path)
    }

    /// `bytes` decompressed when they start with the gzip magic, or as they are otherwise: the
    /// in-memory form of `readMaybeCompressed(_:maxBytes:)`, which calls it.
    ///
    /// - Parameters:
    ///   - maxBytes: the most bytes the (decompressed) contents may have.
    ///   - path: the file name used in error messages.
    /// - Throws: `ConvKitError.corruptFile` for a bad gzip stream or contents over the limit.
    public static func decompressIfNeeded(_ bytes: [UInt8], maxBytes: Int, path: String = "<gzip data>") throws -> [UInt8] {
        if isGzip(bytes) { return try decompress(bytes, maxOutputBytes: maxBytes, path: path) }
        guard bytes.count <= maxBytes else {
            throw ConvKitError.corruptFile(path: path, message: "\(bytes.count) bytes, more than the \(maxBytes)-byte limit for this file")
        }
        return bytes
    }
}
