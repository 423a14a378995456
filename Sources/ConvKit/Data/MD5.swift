import Foundation

/// MD5 (RFC 1321), used only to check that data set files are the published ones — not for security.
public struct MD5 {
    private var state: (UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476)
    private var pending = [UInt8](repeating: 0, count: 64)
    private var pendingCount = 0
    private var totalBytes: UInt64 = 0

    /// A fresh hasher.
    public init() {}

    /// Hashes more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var base = bytes.baseAddress, bytes.count > 0 else { return }
        var remaining = bytes.count
        totalBytes &+= UInt64(remaining)
        if pendingCount > 0 {
            let take = min(64 - pendingCount, remaining)
            pending.withUnsafeMutableBytes { ($0.baseAddress! + pendingCount).copyMemory(from: base, byteCount: take) }
            pendingCount += take
            base += take
            remaining -= take
            if pendingCount < 64 { return }
            pending.withUnsafeBytes { Self.compress(&state, blocks: $0.baseAddress!, count: 1) }
            pendingCount = 0
        }
        let blocks = remaining / 64
        if blocks > 0 {
            Self.compress(&state, blocks: base, count: blocks)
            base += blocks * 64
            remaining -= blocks * 64
        }
        if remaining > 0 {
            pending.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: base, byteCount: remaining) }
            pendingCount = remaining
        }
    }

    /// Hashes more bytes.
    public mutating func update<Bytes: ContiguousBytes>(_ bytes: Bytes) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The 16-byte digest of everything hashed so far (the hasher is left unchanged).
    public func finalize() -> [UInt8] {
        var copy = self
        let bitLength = totalBytes &* 8
        var tail: [UInt8] = [0x80]
        let padding = (55 &- pendingCount) & 63
        tail.append(contentsOf: repeatElement(0, count: padding))
        for i in 0..<8 { tail.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
        copy.update(tail)
        precondition(copy.pendingCount == 0)
        var digest = [UInt8]()
        for word in [copy.state.0, copy.state.1, copy.state.2, copy.state.3] {
            for i in 0..<4 { digest.append(UInt8(truncatingIfNeeded: word >> (8 * UInt32(i)))) }
        }
        return digest
    }

    /// The digest as 32 lower-case hex digits.
    public func hexDigest() -> String {
        finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The hex MD5 of `bytes`.
    public static func hex<Bytes: ContiguousBytes>(_ bytes: Bytes) -> String {
        var hasher = MD5()
        hasher.update(bytes)
        return hasher.hexDigest()
    }

    /// The hex MD5 of a file, read in 1 MiB chunks.
    /// - Throws: `ConvKitError.io` when the file cannot be opened or read.
    public static func hex(ofFile url: URL) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw ConvKitError.io(path: url.path, message: "cannot open the file to check its MD5")
        }
        defer { try? handle.close() }
        var hasher = MD5()
        while true {
            let chunk: Data?
            do { chunk = try handle.read(upToCount: 1 << 20) } catch {
                throw ConvKitError.io(path: url.path, message: "cannot read the file: \(error.localizedDescription)")
            }
            guard let chunk, !chunk.isEmpty else { break }
            hasher.update(chunk)
        }
        return hasher.hexDigest()
    }

    private static let shifts: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                           5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                                           4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                           6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
    /// floor(|sin(i + 1)| · 2^32), as RFC 1321 tabulates it.
    private static let constants: [UInt32] = (0..<64).map { UInt32(truncatingIfNeeded: Int64(abs(sin(Double($0 + 1))) * 4_294_967_296)) }

    @_optimize(speed)
    private static func compress(_ state: inout (UInt32, UInt32, UInt32, UInt32), blocks: UnsafeRawPointer, count: Int) {
        shifts.withUnsafeBufferPointer { s in
            constants.withUnsafeBufferPointer { k in
                var m = (UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0),
                         UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0))
                withUnsafeMutableBytes(of: &m) { words in
                    let w = words.baseAddress!.assumingMemoryBound(to: UInt32.self)
                    for block in 0..<count {
                        let p = blocks + block * 64
                        for i in 0..<16 { w[i] = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
                        var a = state.0, b = state.1, c = state.2, d = state.3
                        for i in 0..<64 {
                            var f: UInt32, g: Int
                            switch i >> 4 {
                            case 0: f = (b & c) | (~b & d); g = i
                            case 1: f = (d & b) | (~d & c); g = (5 &* i &+ 1) & 15
                            case 2: f = b ^ c ^ d; g = (3 &* i &+ 5) & 15
                            default: f = c ^ (b | ~d); g = (7 &* i) & 15
                            }
                            f = f &+ a &+ k[i] &+ w[g]
                            a = d; d = c; c = b
                            let r = s[i]
                            b = b &+ ((f << r) | (f >> (32 &- r)))
                        }
                        state.0 &+= a; state.1 &+= b; state.2 &+= c; state.3 &+= d
                    }
                }
            }
        }
    }
}
