import Foundation

/// One argument of a kernel launch, stored the way the kernel's C++ parameter expects it.
///
/// Convention for every ConvKit kernel: integer parameters are `long long` (`.int`), floats are
/// `float` (`.float`), pointers are `float*`/`int*` (`.storage`, `.optional`); small fixed-size
/// structs are passed by value (`.bytes`), e.g. the shape and strides of a strided copy.
enum KernelArgument {
    /// A device address (`T*`).
    case pointer(CUdeviceptr)
    /// A `long long`.
    case int(Int)
    /// An `int` (only where a kernel's C++ signature says `int`).
    case int32(Int32)
    /// A `float`.
    case float(Float)
    /// A `double`.
    case double(Double)
    /// A struct passed by value, as its bytes (8-byte aligned).
    case bytes([UInt8])

    /// The device address of a storage.
    static func storage(_ storage: Storage) -> KernelArgument { .pointer(storage.deviceAddress) }
    /// The device address of a storage, or a null pointer.
    static func optional(_ storage: Storage?) -> KernelArgument { .pointer(storage?.deviceAddress ?? 0) }
    /// `1` or `0` as a `long long` (kernels take flags as integers).
    static func flag(_ value: Bool) -> KernelArgument { .int(value ? 1 : 0) }
    /// A fixed-size array of `long long` passed by value (`struct { long long v[count]; }`),
    /// padded with `padding` to `count` entries.
    static func intArray(_ values: [Int], count: Int, padding: Int = 0) -> KernelArgument {
        precondition(values.count <= count, "intArray: \(values.count) values for \(count) slots")
        var padded = values.map { Int64($0) }
        padded += [Int64](repeating: Int64(padding), count: count - values.count)
        return .bytes(padded.withUnsafeBytes { Array($0) })
    }

    /// The number of bytes this argument occupies in the parameter buffer.
    var byteCount: Int {
        switch self {
        case .pointer, .int, .double: return 8
        case .int32, .float: return 4
        case let .bytes(bytes): return bytes.count
        }
    }

    /// Writes the argument's bytes at `destination`.
    func write(to destination: UnsafeMutableRawPointer) {
        switch self {
        case let .pointer(address): destination.storeBytes(of: address, as: UInt64.self)
        case let .int(value): destination.storeBytes(of: Int64(value), as: Int64.self)
        case let .int32(value): destination.storeBytes(of: value, as: Int32.self)
        case let .float(value): destination.storeBytes(of: value, as: Float.self)
        case let .double(value): destination.storeBytes(of: value, as: Double.self)
        case let .bytes(bytes): bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        }
    }
}

extension Storage {
    /// The device address of a CUDA storage (its `address` field holds the raw bits).
    var deviceAddress: CUdeviceptr { CUdeviceptr(UInt(bitPattern: address)) }
}

/// The launch shape of a kernel: grid and block sizes in up to three dimensions.
struct LaunchShape {
    var grid: (x: Int, y: Int, z: Int)
    var block: (x: Int, y: Int, z: Int)
    /// Bytes of dynamic shared memory.
    var sharedBytes: Int = 0

    /// `grid` blocks of `block` threads, one-dimensional.
    init(grid: Int, block: Int, sharedBytes: Int = 0) {
        self.grid = (grid, 1, 1); self.block = (block, 1, 1); self.sharedBytes = sharedBytes
    }

    /// A full three-dimensional shape.
    init(grid: (Int, Int, Int), block: (Int, Int, Int), sharedBytes: Int = 0) {
        self.grid = grid; self.block = block; self.sharedBytes = sharedBytes
    }
}

/// Packs kernel arguments into the `void**` array `cuLaunchKernel` takes.
enum KernelArgumentPacker {
    /// Calls `body` with a pointer array whose entries point at each argument's bytes. Both live
    /// on the stack (this runs on every launch).
    static func withParameters<R>(_ arguments: [KernelArgument],
                                  _ body: (UnsafeMutablePointer<UnsafeMutableRawPointer?>?) throws -> R) rethrows -> R {
        var total = 0
        for argument in arguments { total += (argument.byteCount + 7) / 8 * 8 }
        return try withUnsafeTemporaryAllocation(byteCount: max(total, 8), alignment: 16) { buffer in
            try withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer?.self, capacity: max(arguments.count, 1)) { pointers in
                var offset = 0
                for (index, argument) in arguments.enumerated() {
                    let destination = buffer.baseAddress! + offset
                    argument.write(to: destination)
                    pointers[index] = destination
                    offset += (argument.byteCount + 7) / 8 * 8
                }
                return try body(arguments.isEmpty ? nil : pointers.baseAddress)
            }
        }
    }
}
