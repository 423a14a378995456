import XCTest
@testable import ConvKit

/// Tests the MNIST downloader for real against `python3 -m http.server` on 127.0.0.1, serving
/// `good/` (the real test-split files), `bad/` (a corrupted labels file) and `empty/`.
final class DataDownloaderTests: XCTestCase {
    private var root: URL!
    private var server: Process?
    private var port = 0

    override func setUpWithError() throws {
        root = try makeDataTestDirectory("download")
        let good = root.appendingPathComponent("served/good"), bad = root.appendingPathComponent("served/bad")
        let big = root.appendingPathComponent("served/big")
        for dir in [good, bad, big, root.appendingPathComponent("served/empty")] {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        }
        for file in [MNIST.testImages, MNIST.testLabels] {
            let source = dataTestMNISTDirectory.appendingPathComponent(file.name)
            try FileManager.default.copyItem(at: source, to: good.appendingPathComponent(file.name))
            var bytes = [UInt8](try Data(contentsOf: source))
            if file == MNIST.testLabels { bytes[bytes.count / 2] ^= 0x01 }
            try Data(bytes).write(to: bad.appendingPathComponent(file.name))
            try Data(bytes + [UInt8](repeating: 0, count: 100)).write(to: big.appendingPathComponent(file.name))
        }
        try startServer(["-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root.appendingPathComponent("served").path])
    }

    override func tearDownWithError() throws {
        stopServer()
        try? FileManager.default.removeItem(at: root)
    }

    /// Starts `python3 -u <arguments>`, a server on a port the OS picks, and reads the port from
    /// its banner ("... port N ...").
    private func startServer(_ arguments: [String]) throws {
        let process = Process(), output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u"] + arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        server = process
        // If the banner never comes, killing the server ends the read below with EOF.
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 15, execute: watchdog)
        defer { watchdog.cancel() }
        var banner = ""
        while true {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            banner += String(decoding: chunk, as: UTF8.self)
            if let range = banner.range(of: #"port (\d+)"#, options: .regularExpression) {
                port = Int(banner[range].dropFirst(5)) ?? 0
                break
            }
        }
        guard port > 0 else {
            throw NSError(domain: "DataDownloaderTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "http.server did not start: \(banner)"])
        }
    }

    private func stopServer() {
        guard let server else { return }
        if server.isRunning {
            server.terminate()
            server.waitUntilExit()
        }
        self.server = nil
    }

    private func mirror(_ name: String) -> URL { URL(string: "http://127.0.0.1:\(port)/\(name)/")! }

    private func leftovers(in directory: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".part") }
    }

    func testDownloadsVerifiesCachesAndReusesTheCache() throws {
        let downloader = MNISTDownloader(mirrors: [mirror("good")], cacheRoot: root.appendingPathComponent("cache"), timeout: 20,
                                         environment: [:])
        XCTAssertEqual(downloader.cacheDirectory, root.appendingPathComponent("cache/mnist", isDirectory: true))
        let directory = try downloader.ensure(split: .test)
        XCTAssertEqual(directory, downloader.cacheDirectory)
        for file in [MNIST.testImages, MNIST.testLabels] {
            XCTAssertEqual(try MD5.hex(ofFile: directory.appendingPathComponent(file.name)), file.md5)
        }
        XCTAssertEqual(leftovers(in: directory), [])
        let mnist = try MNIST.load(split: .test, limit: 3, downloader: downloader, environment: [:])
        XCTAssertEqual(try mnist.labels.toIntArray(), [7, 2, 1])

        // With the server gone the cached files are verified and reused, not fetched.
        let labelsURL = directory.appendingPathComponent(MNIST.testLabels.name)
        let before = try FileManager.default.attributesOfItem(atPath: labelsURL.path)[.systemFileNumber] as? NSNumber
        stopServer()
        XCTAssertEqual(try downloader.ensure(split: .test), directory)
        let after = try FileManager.default.attributesOfItem(atPath: labelsURL.path)[.systemFileNumber] as? NSNumber
        XCTAssertEqual(before, after, "the cached file was replaced instead of reused")
        XCTAssertEqual(try MNIST.load(split: .test, limit: 1, downloader: downloader, environment: [:]).count, 1)
        // The train split is not cached and cannot be fetched now: a clear error naming every mirror.
        assertThrowsConvKitError(try downloader.ensure(split: .train), "could not download train-images-idx3-ubyte.gz",
                                 "127.0.0.1:\(port)/good/train-images-idx3-ubyte.gz")
    }

    func testCorruptDownloadIsDeletedAndReported() throws {
        let downloader = MNISTDownloader(mirrors: [mirror("bad")], cacheRoot: root.appendingPathComponent("cache"), timeout: 20,
                                         environment: [:])
        assertThrowsConvKitError(try downloader.ensure(split: .test), "could not download t10k-labels-idx1-ubyte.gz",
                                 "MD5", MNIST.testLabels.md5, "deleted")
        let directory = downloader.cacheDirectory
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent(MNIST.testImages.name).path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent(MNIST.testLabels.name).path))
        XCTAssertEqual(leftovers(in: directory), [])
        assertThrowsConvKitError(try MNIST.load(split: .test, downloader: downloader, environment: [:]), "MD5")
    }

    func testFallsBackToTheNextMirrorAndRepairsADamagedCache() throws {
        let downloader = MNISTDownloader(mirrors: [mirror("empty"), mirror("bad"), mirror("good")],
                                         cacheRoot: root.appendingPathComponent("cache"), timeout: 20, environment: [:])
        let directory = try downloader.ensure(split: .test)
        XCTAssertEqual(try MD5.hex(ofFile: directory.appendingPathComponent(MNIST.testLabels.name)), MNIST.testLabels.md5)
        // Damage the cached labels: the next ensure replaces them with a verified copy.
        let labelsURL = directory.appendingPathComponent(MNIST.testLabels.name)
        try Data([1, 2, 3]).write(to: labelsURL)
        try downloader.ensure(split: .test)
        XCTAssertEqual(try MD5.hex(ofFile: labelsURL), MNIST.testLabels.md5)
        // A mirror without the files reports the HTTP status.
        let empty = MNISTDownloader(mirrors: [mirror("empty")], cacheRoot: root.appendingPathComponent("cache2"), environment: [:])
        assertThrowsConvKitError(try empty.ensure(split: .test), "HTTP status 404")
        // A body longer than the published file is refused (and nothing is left behind).
        let big = MNISTDownloader(mirrors: [mirror("big")], cacheRoot: root.appendingPathComponent("cache3"), environment: [:])
        assertThrowsConvKitError(try big.ensure(split: .test), "t10k-images-idx3-ubyte.gz", "more than the 1648877 bytes expected")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: big.cacheDirectory.path), [])
    }

    func testStalledServerTimesOut() throws {
        // A server that answers the headers and then sends nothing: the stall limit ends the transfer.
        stopServer()
        port = 0
        let script = """
        import http.server, time
        class Stall(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.flush()
                time.sleep(60)
            def log_message(self, *args):
                pass
        server = http.server.HTTPServer(("127.0.0.1", 0), Stall)
        print("serving on port", server.server_address[1])
        server.serve_forever()
        """
        try startServer(["-c", script])
        let downloader = MNISTDownloader(mirrors: [mirror("x")], cacheRoot: root.appendingPathComponent("cache"), timeout: 1,
                                         environment: [:])
        let start = Date()
        assertThrowsConvKitError(try downloader.ensure([MNIST.testLabels]), "could not download t10k-labels-idx1-ubyte.gz", "curl error")
        XCTAssertLessThan(Date().timeIntervalSince(start), 15)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: downloader.cacheDirectory.path), [])
    }

    func testEndlessBodyWithoutContentLengthIsCutOff() throws {
        // A server that announces no length and sends 64 MiB: the download must stop at the cap.
        stopServer()
        port = 0
        let script = """
        import http.server
        class Endless(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                try:
                    for _ in range(1024):
                        self.wfile.write(bytes(65536))
                except (BrokenPipeError, ConnectionResetError):
                    pass
            def log_message(self, *args):
                pass
        server = http.server.HTTPServer(("127.0.0.1", 0), Endless)
        print("serving on port", server.server_address[1])
        server.serve_forever()
        """
        try startServer(["-c", script])
        let downloader = MNISTDownloader(mirrors: [mirror("x")], cacheRoot: root.appendingPathComponent("cache"), environment: [:])
        assertThrowsConvKitError(try downloader.ensure([MNIST.testLabels]), "t10k-labels-idx1-ubyte.gz", "more than the 4542 bytes expected")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: downloader.cacheDirectory.path), [])
    }
}

/// How the downloader picks its mirrors and cache directory (no server needed).
final class DataDownloaderConfigurationTests: XCTestCase {
    func testEnvironmentOverridesAndDefaults() {
        let fromEnvironment = MNISTDownloader(environment: ["CONVKIT_MNIST_URL": "http://127.0.0.1:1/a/, http://127.0.0.1:2/b/",
                                                            "CONVKIT_CACHE_DIR": "/tmp/convkit-cache-test"])
        XCTAssertEqual(fromEnvironment.mirrors.map(\.absoluteString), ["http://127.0.0.1:1/a/", "http://127.0.0.1:2/b/"])
        XCTAssertEqual(fromEnvironment.cacheDirectory.path, "/tmp/convkit-cache-test/mnist")
        let defaults = MNISTDownloader(environment: ["HOME": "/home/someone"])
        XCTAssertEqual(defaults.mirrors, MNISTDownloader.defaultMirrors)
        XCTAssertEqual(defaults.cacheDirectory.path, "/home/someone/.cache/convkit/mnist")
        // Parameters win over the environment.
        let explicit = MNISTDownloader(mirrors: [URL(string: "http://127.0.0.1:3/")!], cacheRoot: URL(fileURLWithPath: "/tmp/x"),
                                       environment: ["CONVKIT_MNIST_URL": "http://127.0.0.1:1/", "CONVKIT_CACHE_DIR": "/tmp/y"])
        XCTAssertEqual(explicit.mirrors.map(\.absoluteString), ["http://127.0.0.1:3/"])
        XCTAssertEqual(explicit.cacheDirectory.path, "/tmp/x/mnist")
    }
}
