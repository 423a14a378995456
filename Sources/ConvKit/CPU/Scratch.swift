import Foundation

/// Reusable scratch memory for CPU kernels (im2col columns, packed tiles, sparse matrices).
///
/// Freed buffers go back to a small pool and are handed out again, so a training loop does not
/// allocate large temporaries on every call. The pool counts the bytes in use and their peak,
/// which is how the benchmark reports each algorithm's extra memory.
enum Scratch {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var pool: [Int: [UnsafeMutableRawPointer]] = [:]
    nonisolated(unsafe) private static var pooledBytes = 0
    nonisolated(unsafe) private static var liveBytes = 0
    nonisolated(unsafe) private static var peakLiveBytes = 0
    /// Pooled memory above this is released rather than kept.
    private static let poolLimitBytes = 512 << 20

    /// Runs `body` with a buffer of at least `count` elements of `T` (contents undefined).
    static func withBuffer<T, R>(of type: T.Type, count: Int, _ body: (UnsafeMutablePointer<T>) throws -> R) rethrows -> R {
        let bytes = max(count, 1) * MemoryLayout<T>.stride
        let (raw, sizeClass) = take(bytes: bytes)
        defer { give(raw, sizeClass: sizeClass) }
        return try body(raw.bindMemory(to: T.self, capacity: max(count, 1)))
    }

    /// Float buffer shorthand for `withBuffer(of: Float.self, …)`.
    static func withFloats<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        try withBuffer(of: Float.self, count: count, body)
    }

    /// The most scratch bytes in use at once since the last `resetPeak()`.
    static var peakBytes: Int { lock.lock(); defer { lock.unlock() }; return peakLiveBytes }

    /// Starts a new peak measurement from the bytes in use now.
    static func resetPeak() { lock.lock(); peakLiveBytes = liveBytes; lock.unlock() }

    /// Frees every pooled buffer.
    static func releasePool() {
        lock.lock(); defer { lock.unlock() }
        for (_, buffers) in pool { buffers.forEach { free($0) } }
        pool = [:]
        pooledBytes = 0
    }

    private static func take(bytes: Int) -> (UnsafeMutableRawPointer, Int) {
        // Size classes: powers of two up to 1 MiB, then multiples of 1 MiB.
        let sizeClass = bytes <= 1 << 20 ? 1 << (Int.bitWidth - (bytes - 1).leadingZeroBitCount) : (bytes + (1 << 20) - 1) & ~((1 << 20) - 1)
        lock.lock()
        liveBytes += sizeClass
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        if let raw = pool[sizeClass]?.popLast() {
            pooledBytes -= sizeClass
            lock.unlock()
            return (raw, sizeClass)
        }
        lock.unlock()
        var raw: UnsafeMutableRawPointer?
        let status = posix_memalign(&raw, 64, sizeClass)
        precondition(status == 0 && raw != nil, "scratch allocation of \(sizeClass) bytes failed")
        return (raw!, sizeClass)
    }

    private static func give(_ raw: UnsafeMutableRawPointer, sizeClass: Int) {
        lock.lock(); defer { lock.unlock() }
        liveBytes -= sizeClass
        if pooledBytes + sizeClass <= poolLimitBytes {
            pool[sizeClass, default: []].append(raw)
            pooledBytes += sizeClass
        } else {
            free(raw)
        }
    }
}

/// Public view of the CPU kernels' scratch memory, for benchmarks: how much extra memory an
/// algorithm needed beyond its inputs and outputs.
public enum ScratchMemory {
    /// The most scratch bytes in use at once since the last `resetPeak()`.
    public static var peakBytes: Int { Scratch.peakBytes }
    /// Starts a new peak measurement.
    public static func resetPeak() { Scratch.resetPeak() }
}
