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
        var status = stat()
        if stat(url.path, &status) == 0 { try requireRegularFile(mode: status.st_mode, path: url.path) }
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

    @inline(__always) private static func rotate(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 &- n)) }
    @inline(__always) private static func f(_ a: inout UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ m: UInt32, _ s: UInt32, _ k: UInt32) {
        a = b &+ rotate(a &+ ((b & c) | (~b & d)) &+ m &+ k, s)
    }
    @inline(__always) private static func g(_ a: inout UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ m: UInt32, _ s: UInt32, _ k: UInt32) {
        a = b &+ rotate(a &+ ((d & b) | (~d & c)) &+ m &+ k, s)
    }
    @inline(__always) private static func h(_ a: inout UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ m: UInt32, _ s: UInt32, _ k: UInt32) {
        a = b &+ rotate(a &+ (b ^ c ^ d) &+ m &+ k, s)
    }
    @inline(__always) private static func i(_ a: inout UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ m: UInt32, _ s: UInt32, _ k: UInt32) {
        a = b &+ rotate(a &+ (c ^ (b | ~d)) &+ m &+ k, s)
    }

    /// The 64 steps of RFC 1321 written out (shift amounts and the constants floor(|sin(i + 1)| · 2^32) inline).
    @_optimize(speed)
    private static func compress(_ state: inout (UInt32, UInt32, UInt32, UInt32), blocks: UnsafeRawPointer, count: Int) {
        var (a, b, c, d) = state
        var words = [UInt32](repeating: 0, count: 16)
        words.withUnsafeMutableBufferPointer { m in
            for block in 0..<count {
                let p = blocks + block * 64
                for w in 0..<16 { m[w] = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * w, as: UInt32.self)) }
                let (a0, b0, c0, d0) = (a, b, c, d)
                f(&a, b, c, d, m[0], 7, 0xd76aa478)
                f(&d, a, b, c, m[1], 12, 0xe8c7b756)
                f(&c, d, a, b, m[2], 17, 0x242070db)
                f(&b, c, d, a, m[3], 22, 0xc1bdceee)
                f(&a, b, c, d, m[4], 7, 0xf57c0faf)
                f(&d, a, b, c, m[5], 12, 0x4787c62a)
                f(&c, d, a, b, m[6], 17, 0xa8304613)
                f(&b, c, d, a, m[7], 22, 0xfd469501)
                f(&a, b, c, d, m[8], 7, 0x698098d8)
                f(&d, a, b, c, m[9], 12, 0x8b44f7af)
                f(&c, d, a, b, m[10], 17, 0xffff5bb1)
                f(&b, c, d, a, m[11], 22, 0x895cd7be)
                f(&a, b, c, d, m[12], 7, 0x6b901122)
                f(&d, a, b, c, m[13], 12, 0xfd987193)
                f(&c, d, a, b, m[14], 17, 0xa679438e)
                f(&b, c, d, a, m[15], 22, 0x49b40821)
                g(&a, b, c, d, m[1], 5, 0xf61e2562)
                g(&d, a, b, c, m[6], 9, 0xc040b340)
                g(&c, d, a, b, m[11], 14, 0x265e5a51)
                g(&b, c, d, a, m[0], 20, 0xe9b6c7aa)
                g(&a, b, c, d, m[5], 5, 0xd62f105d)
                g(&d, a, b, c, m[10], 9, 0x02441453)
                g(&c, d, a, b, m[15], 14, 0xd8a1e681)
                g(&b, c, d, a, m[4], 20, 0xe7d3fbc8)
                g(&a, b, c, d, m[9], 5, 0x21e1cde6)
                g(&d, a, b, c, m[14], 9, 0xc33707d6)
                g(&c, d, a, b, m[3], 14, 0xf4d50d87)
                g(&b, c, d, a, m[8], 20, 0x455a14ed)
                g(&a, b, c, d, m[13], 5, 0xa9e3e905)
                g(&d, a, b, c, m[2], 9, 0xfcefa3f8)
                g(&c, d, a, b, m[7], 14, 0x676f02d9)
                g(&b, c, d, a, m[12], 20, 0x8d2a4c8a)
                h(&a, b, c, d, m[5], 4, 0xfffa3942)
                h(&d, a, b, c, m[8], 11, 0x8771f681)
                h(&c, d, a, b, m[11], 16, 0x6d9d6122)
                h(&b, c, d, a, m[14], 23, 0xfde5380c)
                h(&a, b, c, d, m[1], 4, 0xa4beea44)
                h(&d, a, b, c, m[4], 11, 0x4bdecfa9)
                h(&c, d, a, b, m[7], 16, 0xf6bb4b60)
                h(&b, c, d, a, m[10], 23, 0xbebfbc70)
                h(&a, b, c, d, m[13], 4, 0x289b7ec6)
                h(&d, a, b, c, m[0], 11, 0xeaa127fa)
                h(&c, d, a, b, m[3], 16, 0xd4ef3085)
                h(&b, c, d, a, m[6], 23, 0x04881d05)
                h(&a, b, c, d, m[9], 4, 0xd9d4d039)
                h(&d, a, b, c, m[12], 11, 0xe6db99e5)
                h(&c, d, a, b, m[15], 16, 0x1fa27cf8)
                h(&b, c, d, a, m[2], 23, 0xc4ac5665)
                i(&a, b, c, d, m[0], 6, 0xf4292244)
                i(&d, a, b, c, m[7], 10, 0x432aff97)
                i(&c, d, a, b, m[14], 15, 0xab9423a7)
                i(&b, c, d, a, m[5], 21, 0xfc93a039)
                i(&a, b, c, d, m[12], 6, 0x655b59c3)
                i(&d, a, b, c, m[3], 10, 0x8f0ccc92)
                i(&c, d, a, b, m[10], 15, 0xffeff47d)
                i(&b, c, d, a, m[1], 21, 0x85845dd1)
                i(&a, b, c, d, m[8], 6, 0x6fa87e4f)
                i(&d, a, b, c, m[15], 10, 0xfe2ce6e0)
                i(&c, d, a, b, m[6], 15, 0xa3014314)
                i(&b, c, d, a, m[13], 21, 0x4e0811a1)
                i(&a, b, c, d, m[4], 6, 0xf7537e82)
                i(&d, a, b, c, m[11], 10, 0xbd3af235)
                i(&c, d, a, b, m[2], 15, 0x2ad7d2bb)
                i(&b, c, d, a, m[9], 21, 0xeb86d391)
                a = a &+ a0; b = b &+ b0; c = c &+ c0; d = d &+ d0
            }
        }
        state = (a, b, c, d)
    }
}
