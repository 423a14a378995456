import Foundation

/// Downloads over HTTP(S) with libcurl, loaded at run time.
///
/// Not URLSession: FoundationNetworking links libcurl at build time, which breaks the
/// `--static-swift-stdlib` build that runs on the GPU machine (no static libcurl there). Like the
/// BLAS and CUDA libraries, libcurl is looked up only when a download is actually needed
/// (`$CONVKIT_LIBCURL`, else `libcurl.so.4`, else `libcurl-gnutls.so.4`).
enum HTTPClient {
    private typealias EasyInit = @convention(c) () -> OpaquePointer?
    private typealias EasyCleanup = @convention(c) (OpaquePointer?) -> Void
    private typealias EasyPerform = @convention(c) (OpaquePointer?) -> Int32
    private typealias EasyStrerror = @convention(c) (Int32) -> UnsafePointer<CChar>?
    private typealias GlobalInit = @convention(c) (Int) -> Int32
    // curl_easy_setopt and curl_easy_getinfo are variadic; on Linux (x86-64 SysV, AArch64 AAPCS)
    // a variadic integer or pointer argument travels exactly like a fixed one, so each use is
    // called through a fixed prototype of its argument type.
    private typealias SetLong = @convention(c) (OpaquePointer?, Int32, Int) -> Int32
    private typealias SetPointer = @convention(c) (OpaquePointer?, Int32, UnsafeRawPointer?) -> Int32
    private typealias GetLong = @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<Int>) -> Int32
    typealias WriteCallback = @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int

    private struct Curl {
        let easyInit: EasyInit, cleanup: EasyCleanup, perform: EasyPerform, strerror: EasyStrerror
        let setLong: SetLong, setPointer: SetPointer, getLong: GetLong
    }

    // Option and info numbers from curl.h (stable ABI).
    private static let optURL: Int32 = 10002, optWriteData: Int32 = 10001, optWriteFunction: Int32 = 20011
    private static let optFollowLocation: Int32 = 52, optNoSignal: Int32 = 99, optConnectTimeout: Int32 = 78
    private static let optLowSpeedLimit: Int32 = 19, optLowSpeedTime: Int32 = 20, optTimeout: Int32 = 13
    private static let optMaxRedirects: Int32 = 68, optUserAgent: Int32 = 10018, optNoProxy: Int32 = 10177
    private static let infoResponseCode: Int32 = 0x200002

    private static let loaded: Result<Curl, ConvKitError> = {
        do {
            let candidates = NativeLibrary.candidates(environmentVariable: "CONVKIT_LIBCURL",
                                                      defaults: ["libcurl.so.4", "libcurl-gnutls.so.4", "libcurl.so"]) ?? []
            let library = try NativeLibrary.open(candidates: candidates, purpose: "libcurl (for downloads)",
                                                 requiredSymbol: "curl_easy_perform")
            let globalInit = try library.function("curl_global_init", as: GlobalInit.self)
            guard globalInit(3) == 0 else { throw ConvKitError.device(message: "curl_global_init failed") }  // CURL_GLOBAL_ALL
            return .success(Curl(easyInit: try library.function("curl_easy_init", as: EasyInit.self),
                                 cleanup: try library.function("curl_easy_cleanup", as: EasyCleanup.self),
                                 perform: try library.function("curl_easy_perform", as: EasyPerform.self),
                                 strerror: try library.function("curl_easy_strerror", as: EasyStrerror.self),
                                 setLong: try library.function("curl_easy_setopt", as: SetLong.self),
                                 setPointer: try library.function("curl_easy_setopt", as: SetPointer.self),
                                 getLong: try library.function("curl_easy_getinfo", as: GetLong.self)))
        } catch let error as ConvKitError {
            return .failure(error)
        } catch {
            return .failure(.device(message: "\(error)"))
        }
    }()

    /// Where a response body goes: appended to `descriptor`, refused past `maxBytes`.
    private final class Sink {
        let descriptor: Int32
        let maxBytes: Int
        var received = 0
        var overflowed = false
        var writeError: String?

        init(descriptor: Int32, maxBytes: Int) {
            self.descriptor = descriptor
            self.maxBytes = maxBytes
        }
    }

    /// GETs `url` into the open file `descriptor`.
    ///
    /// - Parameters:
    ///   - maxBytes: the most body bytes accepted; the transfer is aborted past it.
    ///   - timeout: seconds allowed to connect, and the longest stall (under 1 byte/s) tolerated.
    /// - Throws: `ConvKitError.io` for a failed transfer or an HTTP status other than 200,
    ///   `.corruptFile` for a body over `maxBytes`, `.device` when libcurl cannot be loaded.
    static func download(_ url: URL, to descriptor: Int32, maxBytes: Int, timeout: TimeInterval) throws {
        let curl: Curl
        switch loaded {
        case let .success(c): curl = c
        case let .failure(error):
            throw ConvKitError.io(path: url.absoluteString, message: "cannot download without libcurl: \(error.description)")
        }
        guard let handle = curl.easyInit() else {
            throw ConvKitError.io(path: url.absoluteString, message: "curl_easy_init failed")
        }
        defer { curl.cleanup(handle) }
        let sink = Sink(descriptor: descriptor, maxBytes: maxBytes)
        let seconds = max(1, Int(timeout.rounded(.up)))
        let write: WriteCallback = { data, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            let bytes = size * count
            sink.received += bytes
            if sink.received > sink.maxBytes { sink.overflowed = true; return 0 }
            var written = 0
            while written < bytes {
                let n = Glibc.write(sink.descriptor, data! + written, bytes - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    sink.writeError = String(cString: strerror(errno))
                    return 0
                }
                written += n
            }
            return bytes
        }
        try withExtendedLifetime(sink) {
            let context = Unmanaged.passUnretained(sink).toOpaque()
            let status: Int32 = url.absoluteString.withCString { urlString in
                "convkit".withCString { agent in
                    var ok = curl.setPointer(handle, optURL, urlString) == 0
                    ok = ok && curl.setPointer(handle, optUserAgent, agent) == 0
                    // A proxy from the environment is used for the mirrors, never for this machine itself.
                    ok = ok && "localhost,127.0.0.1,::1".withCString { curl.setPointer(handle, optNoProxy, $0) } == 0
                    ok = ok && curl.setPointer(handle, optWriteFunction, unsafeBitCast(write, to: UnsafeRawPointer.self)) == 0
                    ok = ok && curl.setPointer(handle, optWriteData, context) == 0
                    ok = ok && curl.setLong(handle, optNoSignal, 1) == 0
                    ok = ok && curl.setLong(handle, optFollowLocation, 1) == 0
                    ok = ok && curl.setLong(handle, optMaxRedirects, 5) == 0
                    ok = ok && curl.setLong(handle, optConnectTimeout, seconds) == 0
                    ok = ok && curl.setLong(handle, optLowSpeedLimit, 1) == 0
                    ok = ok && curl.setLong(handle, optLowSpeedTime, seconds) == 0
                    ok = ok && curl.setLong(handle, optTimeout, seconds * 10) == 0
                    return ok ? curl.perform(handle) : -1
                }
            }
            if sink.overflowed {
                throw ConvKitError.corruptFile(path: url.absoluteString, message: "more than the \(maxBytes) bytes expected")
            }
            if let writeError = sink.writeError {
                throw ConvKitError.io(path: url.absoluteString, message: "cannot write the download: \(writeError)")
            }
            if status == -1 { throw ConvKitError.io(path: url.absoluteString, message: "libcurl refused an option") }
            if status != 0 {
                let reason = curl.strerror(status).map { String(cString: $0) } ?? "error \(status)"
                throw ConvKitError.io(path: url.absoluteString, message: "\(reason) (curl error \(status))")
            }
            var code = 0
            if curl.getLong(handle, infoResponseCode, &code) == 0, url.scheme?.hasPrefix("http") == true, code != 200 {
                throw ConvKitError.io(path: url.absoluteString, message: "HTTP status \(code)")
            }
        }
    }
}
