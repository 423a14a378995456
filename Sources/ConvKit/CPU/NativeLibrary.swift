import Foundation

/// A shared library opened at run time with `dlopen`, plus a record of how it was found.
///
/// ConvKit needs no native library at build time: a CBLAS, libcuda, libnvrtc and libcublas are
/// looked up when first needed. `NativeLibrary.open(candidates:)` tries each name or path in
/// order and remembers every attempt, so `convkit info` and error messages can say exactly what
/// was searched and why each candidate failed.
public final class NativeLibrary: @unchecked Sendable {
    /// One candidate that was tried: the name or path passed to `dlopen`, and the reason it
    /// failed (`nil` when it was the one loaded).
    public struct Attempt: Sendable, CustomStringConvertible {
        /// The name (searched on the loader path) or path given to `dlopen`.
        public let candidate: String
        /// `dlerror()`'s message when the candidate failed; `nil` on success.
        public let failure: String?
        /// `candidate: loaded` or `candidate: <reason>`.
        public var description: String { "\(candidate): \(failure ?? "loaded")" }
    }

    /// The candidate that loaded (as given to `dlopen`).
    public let name: String
    /// The file the dynamic loader actually mapped (resolved through `dladdr`), or `name` when
    /// that cannot be determined.
    public let path: String
    /// Every candidate tried, in order, up to and including the one that loaded.
    public let attempts: [Attempt]
    private let handle: UnsafeMutableRawPointer

    private init(name: String, path: String, attempts: [Attempt], handle: UnsafeMutableRawPointer) {
        self.name = name
        self.path = path
        self.attempts = attempts
        self.handle = handle
    }

    // The handle is deliberately never closed: function pointers taken from it are cached by
    // callers for the life of the process, and dlclose is not reliable for libraries with
    // thread pools (OpenBLAS, CUDA).

    /// Opens the first candidate that `dlopen` accepts (a bare name is searched on the loader's
    /// path, a name containing `/` is used as a path).
    ///
    /// - Parameters:
    ///   - candidates: names or paths, in order of preference.
    ///   - purpose: what the library is for, used in the error message (e.g. "CBLAS").
    ///   - global: `RTLD_GLOBAL` instead of `RTLD_LOCAL` (for libraries whose symbols other
    ///     libraries must see).
    ///   - requiredSymbol: when given, a candidate that loads but does not export this symbol
    ///     (e.g. a BLAS without the CBLAS interface) counts as a failure and the search goes on.
    /// - Throws: `ConvKitError.device` listing every candidate and why it failed.
    public static func open(candidates: [String], purpose: String, global: Bool = false,
                            requiredSymbol: String? = nil) throws -> NativeLibrary {
        var attempts: [Attempt] = []
        for candidate in candidates {
            _ = dlerror()
            if let handle = dlopen(candidate, RTLD_NOW | (global ? RTLD_GLOBAL : RTLD_LOCAL)) {
                if let requiredSymbol, dlsym(handle, requiredSymbol) == nil {
                    // Left open: dlclose is not reliable for libraries that start threads.
                    attempts.append(Attempt(candidate: candidate, failure: "loaded, but has no symbol \(requiredSymbol)"))
                    continue
                }
                attempts.append(Attempt(candidate: candidate, failure: nil))
                return NativeLibrary(name: candidate, path: resolvedPath(of: handle) ?? candidate,
                                     attempts: attempts, handle: handle)
            }
            let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            attempts.append(Attempt(candidate: candidate, failure: reason))
        }
        let tried = attempts.map(\.description).joined(separator: "; ")
        throw ConvKitError.device(message: "\(purpose) library not found (tried \(tried.isEmpty ? "nothing" : tried))")
    }

    /// The candidates to search for a library that the user can redirect with an environment
    /// variable: the variable's value (a path or name) when it is set and not empty, otherwise
    /// `defaults`; `nil` when the variable is `none` (the user turned the library off).
    public static func candidates(environmentVariable: String, defaults: [String]) -> [String]? {
        guard let value = ProcessInfo.processInfo.environment[environmentVariable]?
            .trimmingCharacters(in: .whitespaces), !value.isEmpty else { return defaults }
        return value.lowercased() == "none" ? nil : [value]
    }

    /// The address of `symbol`, or `nil` when the library does not export it.
    public func address(of symbol: String) -> UnsafeMutableRawPointer? {
        dlsym(handle, symbol)
    }

    /// `symbol` as a C function pointer of type `T` (a `@convention(c)` function type).
    /// - Throws: `ConvKitError.device` naming the library and the missing symbol.
    public func function<T>(_ symbol: String, as type: T.Type) throws -> T {
        guard let raw = address(of: symbol) else {
            throw ConvKitError.device(message: "\(path) has no symbol \(symbol)")
        }
        return unsafeBitCast(raw, to: type)
    }

    /// `symbol` as a function of type `T`, or `nil` when it is not exported.
    public func optionalFunction<T>(_ symbol: String, as type: T.Type) -> T? {
        address(of: symbol).map { unsafeBitCast($0, to: type) }
    }

    /// The path of the file behind a handle, from the loader's link map (`dlinfo`).
    private static func resolvedPath(of handle: UnsafeMutableRawPointer) -> String? {
        // RTLD_DI_LINKMAP = 2: fills a `struct link_map *`, whose second field is `l_name`.
        // Swift's Glibc module does not import the GNU-only `dlinfo`, so look it up by name.
        typealias DLInfo = @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafeMutableRawPointer?) -> Int32
        guard let libc = dlopen(nil, RTLD_NOW), let symbol = dlsym(libc, "dlinfo") else { return nil }
        let dlinfo = unsafeBitCast(symbol, to: DLInfo.self)
        var linkMap: UnsafeMutableRawPointer?
        guard dlinfo(handle, 2, &linkMap) == 0, let map = linkMap else { return nil }
        let namePointer = map.load(fromByteOffset: MemoryLayout<UInt>.stride,
                                   as: UnsafePointer<CChar>?.self)
        guard let cName = namePointer else { return nil }
        let name = String(cString: cName)
        return name.isEmpty ? nil : name
    }
}
