import Foundation

/// The CPU backend: host memory, multi-threaded kernels, GEMM through a run-time-loaded CBLAS
/// (or the built-in Swift SGEMM). The naive Float64 kernels under `Reference/` are the test
/// oracle; the kernels here are the fast ones.
public final class CPUBackend: Backend, @unchecked Sendable {
    /// The one CPU backend.
    public static let shared = CPUBackend()

    /// Always `.cpu`.
    public var device: Device { .cpu }

    /// Worker threads used by `parallelFor` (the machine's active processor count).
    public let threadCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

    public func allocate(byteCount: Int) throws -> Storage { try Storage.host(byteCount: byteCount) }

    public func upload(_ bytes: UnsafeRawBufferPointer, to storage: Storage) throws {
        storage.address.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }

    public func download(_ storage: Storage, into bytes: UnsafeMutableRawBufferPointer) throws {
        if bytes.count > 0 { bytes.baseAddress!.copyMemory(from: storage.address, byteCount: bytes.count) }
    }

    public func copy(from source: Storage, to destination: Storage, byteCount: Int) throws {
        destination.address.copyMemory(from: source.address, byteCount: byteCount)
    }

    public func fill(_ storage: Storage, count: Int, value: Float) throws {
        let p = storage.floats
        parallelFor(count, grain: 1 << 16) { range in
            for i in range { p[i] = value }
        }
    }

    public func accumulate(_ source: Storage, into destination: Storage, count: Int) throws {
        let s = source.floats, d = destination.floats
        parallelFor(count, grain: 1 << 16) { range in
            for i in range { d[i] += s[i] }
        }
    }

    /// Splits `0..<count` into contiguous chunks of at least `grain` items and runs `body` on
    /// them across `threadCount` threads; runs inline when the work is small.
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threadCount, max(1, count / max(grain, 1)))
        if chunks <= 1 { body(0..<count); return }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks, end = count * (chunk + 1) / chunks
            if start < end { body(start..<end) }
        }
    }
}
