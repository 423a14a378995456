import Foundation

/// Fetches the MNIST files from public mirrors into a local cache, verifying each file's MD5.
///
/// Files are cached in `<cache root>/mnist`, where the cache root is the `cacheRoot` parameter, else
/// `$CONVKIT_CACHE_DIR`, else `~/.cache/convkit`. Mirrors are the `mirrors` parameter, else the
/// comma-separated base URLs in `$CONVKIT_MNIST_URL`, else `defaultMirrors`; each is tried in turn.
/// A download is written to a temporary file beside its destination and renamed into place only
/// after its MD5 matches, so the cache never holds a partial or damaged file. Transfers use libcurl,
/// loaded at run time (see `HTTPClient`), so nothing about networking is needed to build ConvKit.
public struct MNISTDownloader: Sendable {
    /// The usual public mirrors of the original files.
    public static let defaultMirrors = [
        URL(string: "https://ossci-datasets.s3.amazonaws.com/mnist/")!,
        URL(string: "https://storage.googleapis.com/cvdf-datasets/mnist/")!,
    ]

    /// Base URLs tried in order; a file's URL is the base plus its name.
    public var mirrors: [URL]
    /// The directory the MNIST files are cached in (`<cache root>/mnist`).
    public var cacheDirectory: URL
    /// Seconds allowed to connect and the longest stall before trying the next mirror (a whole
    /// file may take ten times as long).
    public var timeout: TimeInterval

    /// A downloader; parameters left `nil` come from the environment or the defaults (see the type's documentation).
    public init(mirrors: [URL]? = nil, cacheRoot: URL? = nil, timeout: TimeInterval = 60,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let mirrors {
            self.mirrors = mirrors
        } else if let list = environment["CONVKIT_MNIST_URL"], !list.isEmpty {
            self.mirrors = list.split(separator: ",").compactMap { URL(string: $0.trimmingCharacters(in: .whitespaces)) }
        } else {
            self.mirrors = MNISTDownloader.defaultMirrors
        }
        let root = cacheRoot ?? MNISTDownloader.defaultCacheRoot(environment: environment)
        cacheDirectory = root.appendingPathComponent("mnist", isDirectory: true)
        self.timeout = timeout
    }

    /// `$CONVKIT_CACHE_DIR`, else `~/.cache/convkit`.
    public static func defaultCacheRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let dir = environment["CONVKIT_CACHE_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir, isDirectory: true) }
        let home = environment["HOME"].map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".cache/convkit", isDirectory: true)
    }

    /// Makes sure both files of `split` are in the cache with the right MD5, downloading what is
    /// missing or damaged; returns the cache directory.
    @discardableResult
    public func ensure(split: MNIST.Split) throws -> URL {
        let (images, labels) = MNIST.files(for: split)
        return try ensure([images, labels])
    }

    /// Makes sure `files` are in the cache with the right MD5, downloading what is missing or
    /// damaged; returns the cache directory.
    /// - Throws: `ConvKitError.io` naming the file and every mirror's failure when no mirror
    ///   delivered a file with the right MD5.
    @discardableResult
    public func ensure(_ files: [MNISTFile]) throws -> URL {
        do {
            try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        } catch {
            throw ConvKitError.io(path: cacheDirectory.path, message: "cannot create the MNIST cache directory: \(error.localizedDescription)")
        }
        for file in files {
            let destination = cacheDirectory.appendingPathComponent(file.name)
            if FileManager.default.fileExists(atPath: destination.path) {
                if (try? MNIST.verify(destination, against: file)) != nil { continue }
                try? FileManager.default.removeItem(at: destination)
            }
            try download(file, to: destination)
        }
        return cacheDirectory
    }

    private func download(_ file: MNISTFile, to destination: URL) throws {
        var failures = [String]()
        for mirror in mirrors {
            let url = mirror.appendingPathComponent(file.name)
            do {
                try MNISTDownloader.fetchAndInstall(url, file: file, at: destination, timeout: timeout)
                return
            } catch let error as ConvKitError {
                failures.append("\(url.absoluteString): \(MNISTDownloader.reason(error))")
            }
        }
        let tried = failures.isEmpty ? "no mirrors were given" : failures.joined(separator: "; ")
        throw ConvKitError.io(path: destination.path, message: "could not download \(file.name) (\(tried)); "
            + "check the network or CONVKIT_MNIST_URL, or put the file there yourself")
    }

    private static func reason(_ error: ConvKitError) -> String {
        switch error {
        case let .io(_, message), let .corruptFile(_, message): return message
        default: return error.description
        }
    }

    /// Streams `url` into a temporary file beside `destination`, checks its MD5 and renames it into
    /// place. A response that is not HTTP 200, grows past the published size, or has the wrong MD5
    /// is deleted and reported.
    private static func fetchAndInstall(_ url: URL, file: MNISTFile, at destination: URL, timeout: TimeInterval) throws {
        let directory = destination.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(file.name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).part")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else {
            throw ConvKitError.io(path: temporary.path, message: "cannot create the temporary file: \(String(cString: strerror(errno)))")
        }
        defer { unlink(temporary.path) }
        do {
            try HTTPClient.download(url, to: descriptor, maxBytes: file.byteCount, timeout: timeout)
        } catch {
            close(descriptor)
            throw error
        }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard synced else { throw ConvKitError.io(path: temporary.path, message: "cannot write the download: \(String(cString: strerror(errno)))") }
        let digest = try MD5.hex(ofFile: temporary)
        guard digest == file.md5 else {
            throw ConvKitError.corruptFile(path: destination.path, message: "downloaded \(file.name) has MD5 \(digest), expected \(file.md5); "
                + "the download was deleted")
        }
        guard rename(temporary.path, destination.path) == 0 else {
            throw ConvKitError.io(path: destination.path, message: "cannot rename the download into place: \(String(cString: strerror(errno)))")
        }
    }
}
