import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes files whole or not at all: the bytes go to a hidden temporary file in the destination's
/// directory (`.NAME.tmp-PID-RANDOM`), which is flushed to disk and then renamed over the
/// destination. On any error (a full disk, a read-only directory, a file-size limit) the
/// destination keeps its old contents, the temporary file is removed, and the thrown
/// `ConvKitError.io` names the file and the system's reason. A process killed mid-write leaves
/// only its temporary file, which `removeStaleTemporaries(in:)` deletes later.
enum AtomicFile {
    /// An open temporary file; `commit()` renames it into place, `deinit` removes it otherwise.
    final class Writer {
        /// The destination path.
        let path: String
        private let temporaryPath: String
        private let directory: String
        private var descriptor: Int32
        private var committed = false

        /// Creates the temporary file beside `path`.
        init(path: String) throws {
            self.path = path
            let url = URL(fileURLWithPath: path)
            directory = url.deletingLastPathComponent().path
            temporaryPath = (directory.isEmpty ? "." : directory) + "/"
                + AtomicFile.temporaryName(for: url.lastPathComponent, pid: getpid())
            descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw ConvKitError.io(path: path, message: "cannot write: no temporary file can be created in \(directory.isEmpty ? "." : directory): \(AtomicFile.reason())")
            }
        }

        /// Appends `bytes`.
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < bytes.count {
                let wrote = Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
                if wrote < 0 {
                    if errno == EINTR { continue }
                    throw ConvKitError.io(path: path, message: "write failed: \(AtomicFile.reason()); the previous file is unchanged")
                }
                done += wrote
            }
        }

        /// Flushes the temporary file to disk and renames it over the destination.
        func commit() throws {
            guard fsync(descriptor) == 0 else {
                throw ConvKitError.io(path: path, message: "fsync failed: \(AtomicFile.reason()); the previous file is unchanged")
            }
            let result = close(descriptor)
            descriptor = -1
            guard result == 0 else {
                throw ConvKitError.io(path: path, message: "close failed: \(AtomicFile.reason()); the previous file is unchanged")
            }
            guard rename(temporaryPath, path) == 0 else {
                throw ConvKitError.io(path: path, message: "cannot rename the temporary file into place: \(AtomicFile.reason())")
            }
            committed = true
            // Make the rename itself durable.
            let directoryDescriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
            if directoryDescriptor >= 0 { _ = fsync(directoryDescriptor); close(directoryDescriptor) }
        }

        deinit {
            if descriptor >= 0 { close(descriptor) }
            if !committed { unlink(temporaryPath) }
        }
    }

    /// Writes `bytes` to `path` atomically.
    static func write(_ bytes: some ContiguousBytes, to path: String) throws {
        let writer = try Writer(path: path)
        try bytes.withUnsafeBytes { try writer.write($0) }
        try writer.commit()
    }

    /// The temporary file's name for destination `name` in process `pid`.
    static func temporaryName(for name: String, pid: pid_t) -> String {
        ".\(name).tmp-\(pid)-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Deletes the temporary files in `directory` left by processes that no longer run (killed
    /// mid-write); those of live processes are kept. Returns the names removed.
    @discardableResult
    static func removeStaleTemporaries(in directory: URL) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(".") {
            guard let marker = name.range(of: ".tmp-", options: .backwards) else { continue }
            let fields = name[marker.upperBound...].split(separator: "-")
            guard fields.count == 2, let pid = pid_t(fields[0]), UInt32(fields[1]) != nil, pid > 0 else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }  // still running
            if unlink(directory.appendingPathComponent(name).path) == 0 { removed.append(name) }
        }
        return removed
    }

    /// The system's message for `errno`, e.g. "No space left on device".
    static func reason() -> String { String(cString: strerror(errno)) }
}
