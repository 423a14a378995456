import Foundation

/// A block of memory on one device, owned by one or more tensors (a reshape shares it).
///
/// CPU storage is 64-byte-aligned host memory. Other backends store their device address in
/// `address` (as raw bits) and free it through `release`. Kernels receive storages, never tensors.
public final class Storage: @unchecked Sendable {
    /// The device that owns the memory.
    public let device: Device
    /// Size of the block in bytes.
    public let byteCount: Int
    /// Host address (CPU) or the device address as raw bits (other backends).
    public let address: UnsafeMutableRawPointer
    private let release: (UnsafeMutableRawPointer) -> Void

    /// Wraps memory that `release` frees when the last owner goes away.
    public init(device: Device, byteCount: Int, address: UnsafeMutableRawPointer,
                release: @escaping (UnsafeMutableRawPointer) -> Void) {
        self.device = device
        self.byteCount = byteCount
        self.address = address
        self.release = release
    }

    deinit { release(address) }

    /// Allocates zero-filled, 64-byte-aligned host memory.
    /// - Throws: `ConvKitError.device` when the system has no memory for it.
    static func host(byteCount: Int) throws -> Storage {
        let size = max(byteCount, 64)
        var raw: UnsafeMutableRawPointer?
        let status = posix_memalign(&raw, 64, size)
        guard status == 0, let raw else {
            throw ConvKitError.device(message: "cpu: cannot allocate \(size) bytes of host memory: \(String(cString: strerror(status)))")
        }
        memset(raw, 0, size)
        return Storage(device: .cpu, byteCount: byteCount, address: raw, release: { free($0) })
    }

    /// A host block of at most 64 bytes (scalars in state dicts), for callers that cannot throw.
    /// No input can make this fail: only a process already out of memory, which then stops.
    static func smallHost(byteCount: Int) -> Storage {
        precondition(byteCount <= 64, "smallHost is for blocks of at most 64 bytes")
        guard let storage = try? host(byteCount: byteCount) else { fatalError("out of memory allocating 64 bytes") }
        return storage
    }

    /// The memory as `Float`s (CPU storage only).
    @inline(__always) var floats: UnsafeMutablePointer<Float> {
        address.assumingMemoryBound(to: Float.self)
    }

    /// The memory as `Int32`s (CPU storage only).
    @inline(__always) var ints: UnsafeMutablePointer<Int32> {
        address.assumingMemoryBound(to: Int32.self)
    }
}
