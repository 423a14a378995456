import Foundation

/// A seeded, counter-based random number generator (Philox 4x32-10, as in cuRAND and PyTorch).
///
/// Value `i` of a stream depends only on the seed and on `i`, never on how the work is split
/// across threads or GPU launches, so CPU and GPU kernels can draw the same numbers.
public struct Philox: Sendable {
    /// The 64-bit key that selects the stream.
    public let seed: UInt64
    /// How many 4-word blocks have been consumed; the next draw starts here.
    public private(set) var offset: UInt64

    /// A generator for `seed`, starting at block `offset`.
    public init(seed: UInt64, offset: UInt64 = 0) {
        self.seed = seed
        self.offset = offset
    }

    /// The four 32-bit words of block `counter` of the stream for `seed`.
    @inline(__always)
    public static func block(seed: UInt64, counter: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        var c0 = UInt32(truncatingIfNeeded: counter), c1 = UInt32(truncatingIfNeeded: counter >> 32)
        var c2: UInt32 = 0, c3: UInt32 = 0
        var k0 = UInt32(truncatingIfNeeded: seed), k1 = UInt32(truncatingIfNeeded: seed >> 32)
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let n0 = UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0
            let n2 = UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1
            c1 = UInt32(truncatingIfNeeded: p1)
            c3 = UInt32(truncatingIfNeeded: p0)
            c0 = n0
            c2 = n2
            k0 = k0 &+ 0x9E37_79B9
            k1 = k1 &+ 0xBB67_AE85
        }
        return (c0, c1, c2, c3)
    }

    /// Maps 32 random bits to a float in [0, 1) with 24 bits of precision.
    @inline(__always)
    public static func unitFloat(_ bits: UInt32) -> Float {
        Float(bits >> 8) * (1.0 / 16_777_216.0)
    }

    /// Fills `count` floats uniform in [0, 1), advancing the stream.
    public mutating func uniform(count: Int) -> [Float] {
        var result = [Float](repeating: 0, count: count)
        let blocks = (count + 3) / 4
        result.withUnsafeMutableBufferPointer { out in
            for b in 0..<blocks {
                let (w0, w1, w2, w3) = Philox.block(seed: seed, counter: offset &+ UInt64(b))
                let words = [w0, w1, w2, w3]
                for j in 0..<4 where b * 4 + j < count { out[b * 4 + j] = Philox.unitFloat(words[j]) }
            }
        }
        offset &+= UInt64(blocks)
        return result
    }

    /// Fills `count` standard-normal floats (Box–Muller), advancing the stream.
    public mutating func normal(count: Int) -> [Float] {
        let pairs = (count + 1) / 2
        let u = uniform(count: pairs * 2)
        var result = [Float](repeating: 0, count: count)
        for p in 0..<pairs {
            let u1 = max(Double(u[2 * p]), 1e-12), u2 = Double(u[2 * p + 1])
            let r = (-2.0 * Foundation.log(u1)).squareRoot()
            result[2 * p] = Float(r * cos(2 * Double.pi * u2))
            if 2 * p + 1 < count { result[2 * p + 1] = Float(r * sin(2 * Double.pi * u2)) }
        }
        return result
    }
}

/// The process-wide default generator, as `torch.manual_seed` sets PyTorch's.
public enum RandomState {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var generator = Philox(seed: 0x5EED)

    /// Reseeds the default generator.
    public static func seed(_ seed: UInt64) {
        lock.lock(); defer { lock.unlock() }
        generator = Philox(seed: seed)
    }

    /// The default generator's position (seed and offset), to save in a checkpoint and restore
    /// so that a resumed run draws the same numbers as an uninterrupted one.
    public static var generatorState: Philox {
        get { lock.lock(); defer { lock.unlock() }; return generator }
        set { lock.lock(); generator = newValue; lock.unlock() }
    }

    /// Runs `body` with exclusive access to the default generator.
    static func withGenerator<T>(_ body: (inout Philox) throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        return try body(&generator)
    }

    /// A fresh seed drawn from the default generator (for ops that need their own stream).
    static func nextSeed() -> UInt64 {
        withGenerator { g in
            let (a, b, _, _) = Philox.block(seed: g.seed, counter: g.offset)
            g = Philox(seed: g.seed, offset: g.offset &+ 1)
            return UInt64(a) << 32 | UInt64(b)
        }
    }
}
