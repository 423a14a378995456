import Foundation

/// A caching allocator for one device, in the manner of PyTorch's: freed blocks are kept in
/// size classes and handed out again, so a training step stops calling `cuMemAlloc` after its
/// first iteration.
///
/// Every kernel of a device runs on that device's one stream, so a block freed on the host can be
/// reused at once: any work still reading it was queued before any work that will write it.
/// When `cuMemAlloc` fails, the cache is emptied and the allocation tried once more; if that fails
/// too the error names the size asked for and what is in use.
final class CUDAAllocator: @unchecked Sendable {
    private let driver: CUDADriver
    private let deviceIndex: Int
    private let lock = NSLock()
    private var free: [Int: [CUdeviceptr]] = [:]
    /// Bytes held by live storages (in rounded block sizes).
    private(set) var bytesInUse = 0
    /// Bytes held in the cache, ready for reuse.
    private(set) var bytesCached = 0
    /// The largest `bytesInUse` seen since the last `resetPeak()`.
    private(set) var peakBytesInUse = 0

    init(driver: CUDADriver, deviceIndex: Int) {
        self.driver = driver
        self.deviceIndex = deviceIndex
    }

    /// The block size that serves a request: a multiple of 512 bytes up to 1 MiB, then the next of
    /// 2ᵏ, 1.25·2ᵏ, 1.5·2ᵏ, 1.75·2ᵏ (at most a quarter wasted, few distinct classes).
    static func blockSize(for byteCount: Int) -> Int {
        let bytes = max(byteCount, 1)
        if bytes <= 1 << 20 { return (bytes + 511) / 512 * 512 }
        let power = 1 << (Int.bitWidth - 1 - (bytes - 1).leadingZeroBitCount)  // largest 2ᵏ < bytes
        for quarter in 1...4 where power + power / 4 * quarter >= bytes { return power + power / 4 * quarter }
        return power * 2
    }

    /// A device block of at least `byteCount` bytes, and its size class (pass both to `release`).
    /// The context of the device must be current on this thread.
    func allocate(byteCount: Int) throws -> (address: CUdeviceptr, blockSize: Int) {
        let size = Self.blockSize(for: byteCount)
        lock.lock()
        // Popped in place: a copy of the list (`var blocks = free[size]`) would copy it on write.
        if let block = free[size]?.popLast() {
            bytesCached -= size
            bytesInUse += size
            peakBytesInUse = max(peakBytesInUse, bytesInUse)
            lock.unlock()
            return (block, size)
        }
        lock.unlock()

        var address: CUdeviceptr = 0
        var status = driver.cuMemAlloc(&address, size)
        if status != 0 {
            emptyCache()
            status = driver.cuMemAlloc(&address, size)
        }
        if status != 0 {
            var freeBytes = 0, totalBytes = 0
            _ = driver.cuMemGetInfo(&freeBytes, &totalBytes)
            throw ConvKitError.device(message:
                "cuda:\(deviceIndex): out of memory allocating \(Self.format(byteCount)) (\(driver.errorText(status))); "
                + "ConvKit holds \(Self.format(bytesInUse)) in tensors, the device has \(Self.format(freeBytes)) free of \(Self.format(totalBytes))")
        }
        lock.lock()
        bytesInUse += size
        peakBytesInUse = max(peakBytesInUse, bytesInUse)
        lock.unlock()
        return (address, size)
    }

    /// Returns a block to the cache.
    func release(_ address: CUdeviceptr, blockSize: Int) {
        lock.lock()
        free[blockSize, default: []].append(address)
        bytesInUse -= blockSize
        bytesCached += blockSize
        lock.unlock()
    }

    /// Frees every cached block back to the driver (like `torch.cuda.empty_cache`).
    func emptyCache() {
        lock.lock()
        let blocks = free
        free = [:]
        bytesCached = 0
        lock.unlock()
        for (_, addresses) in blocks { for address in addresses { _ = driver.cuMemFree(address) } }
    }

    /// Starts a new peak measurement at the current use.
    func resetPeak() {
        lock.lock()
        peakBytesInUse = bytesInUse
        lock.unlock()
    }

    /// `1.5 GiB`, `12.0 MiB`, `512 B`.
    static func format(_ bytes: Int) -> String {
        let value = Double(bytes)
        if value >= Double(1 << 30) { return String(format: "%.2f GiB", value / Double(1 << 30)) }
        if value >= Double(1 << 20) { return String(format: "%.1f MiB", value / Double(1 << 20)) }
        if value >= Double(1 << 10) { return String(format: "%.1f KiB", value / Double(1 << 10)) }
        return "\(bytes) B"
    }
}
