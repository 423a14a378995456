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
    static func host(byteCount: Int) -> Storage {
        let size = max(byteCount, 64)
        var raw: UnsafeMutableRawPointer?
        let status = posix_memalign(&raw, 64, size)
        precondition(status == 0 && raw != nil, "host allocation of \(size) bytes failed")
        memset(raw!, 0, size)
        return Storage(device: .cpu, byteCount: byteCount, address: raw!, release: { free($0) })
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
