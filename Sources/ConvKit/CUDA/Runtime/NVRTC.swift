import Foundation

/// NVRTC, CUDA's run-time compiler (`libnvrtc.so`), loaded at run time.
///
/// It needs no GPU: CI compiles every kernel with it (from the `nvidia-cuda-nvrtc` wheel) so a
/// kernel that does not compile fails the build's tests, not a user's first training step.
final class NVRTC: @unchecked Sendable {
    typealias Result = Int32
    typealias Version = @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Result
    typealias CreateProgram = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafePointer<CChar>, UnsafePointer<CChar>,
                                              Int32, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Result
    typealias CompileProgram = @convention(c) (OpaquePointer?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Result
    typealias GetSize = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>) -> Result
    typealias GetBytes = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>) -> Result
    typealias DestroyProgram = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Result
    typealias GetErrorString = @convention(c) (Result) -> UnsafePointer<CChar>?
    typealias GetSupportedArchs = @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    typealias GetNumSupportedArchs = @convention(c) (UnsafeMutablePointer<Int32>) -> Result

    let library: NativeLibrary
    /// `major.minor` of the loaded NVRTC, e.g. `13.0`.
    let version: String
    /// The `sm_XY` numbers (90 for sm_90) this NVRTC can compile machine code for.
    let supportedArchitectures: [Int]
    private let createProgram: CreateProgram
    private let compileProgram: CompileProgram
    private let getLogSize: GetSize
    private let getLog: GetBytes
    private let getCUBINSize: GetSize
    private let getCUBIN: GetBytes
    private let getPTXSize: GetSize
    private let getPTX: GetBytes
    private let destroyProgram: DestroyProgram
    private let getErrorString: GetErrorString

    /// Library file names, newest CUDA first.
    static let names = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"]

    static let shared = NativeLibrary.loadOnce("NVRTC") { try NVRTC() }

    /// The loaded NVRTC, or the error that lists every place searched.
    static func load() throws -> NVRTC { try shared.get() }

    private init() throws {
        guard let candidates = NativeLibrary.candidates(environmentVariable: "CONVKIT_NVRTC",
                                                        defaults: CUDALibrarySearch.candidates(for: Self.names)) else {
            throw ConvKitError.device(message: "NVRTC is turned off (CONVKIT_NVRTC=none)")
        }
        let library = try NativeLibrary.open(candidates: candidates, purpose: "NVRTC (CUDA run-time compiler, libnvrtc)")
        self.library = library
        // NVRTC opens its built-ins library by bare name when it first compiles; a library found
        // outside the loader's path (a wheel's folder) would not find its neighbour, so load the
        // neighbour first (the loader then matches it by name).
        let folder = (library.path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            for builtins in CUDALibrarySearch.glob(folder + "/libnvrtc-builtins.so.*") where !builtins.contains(".alt.") {
                _ = dlopen(builtins, RTLD_NOW | RTLD_GLOBAL)
            }
        }
        func symbol<T>(_ name: String, _ type: T.Type) throws -> T { try library.function(name, as: type) }
        let versionFunction = try symbol("nvrtcVersion", Version.self)
        createProgram = try symbol("nvrtcCreateProgram", CreateProgram.self)
        compileProgram = try symbol("nvrtcCompileProgram", CompileProgram.self)
        getLogSize = try symbol("nvrtcGetProgramLogSize", GetSize.self)
        getLog = try symbol("nvrtcGetProgramLog", GetBytes.self)
        getCUBINSize = try symbol("nvrtcGetCUBINSize", GetSize.self)
        getCUBIN = try symbol("nvrtcGetCUBIN", GetBytes.self)
        getPTXSize = try symbol("nvrtcGetPTXSize", GetSize.self)
        getPTX = try symbol("nvrtcGetPTX", GetBytes.self)
        destroyProgram = try symbol("nvrtcDestroyProgram", DestroyProgram.self)
        getErrorString = try symbol("nvrtcGetErrorString", GetErrorString.self)
        var major: Int32 = 0, minor: Int32 = 0
        _ = versionFunction(&major, &minor)
        version = "\(major).\(minor)"
        var archs: [Int] = []
        if let count = library.optionalFunction("nvrtcGetNumSupportedArchs", as: GetNumSupportedArchs.self),
           let list = library.optionalFunction("nvrtcGetSupportedArchs", as: GetSupportedArchs.self) {
            var n: Int32 = 0
            if count(&n) == 0, n > 0 {
                var values = [Int32](repeating: 0, count: Int(n))
                if list(&values) == 0 { archs = values.map(Int.init) }
            }
        }
        supportedArchitectures = archs
    }

    /// What a compilation produced: machine code for the requested architecture (`cubin`), or
    /// PTX for the driver to finish when NVRTC is older than the GPU.
    struct Output {
        /// The image to give `cuModuleLoadData`.
        var image: [UInt8]
        /// `true` for a CUBIN, `false` for PTX.
        var isCUBIN: Bool
        /// The compiler's messages (warnings), possibly empty.
        var log: String
    }

    /// Compiles `source` (CUDA C++) for `sm_<architecture>`.
    ///
    /// - Parameters:
    ///   - headers: `(name, contents)` pairs that `#include "name"` finds.
    ///   - options: extra NVRTC options besides the architecture.
    ///   - architectureSpecific: compile for `sm_<architecture>a` (the architecture-specific
    ///     features, such as Hopper's `wgmma`); needs an NVRTC that emits that architecture.
    /// - Throws: `ConvKitError.device` with the compiler log when compilation fails.
    func compile(source: String, name: String, headers: [(String, String)] = [], options: [String] = [],
                 architecture: Int, architectureSpecific: Bool = false) throws -> Output {
        // An NVRTC older than the GPU cannot emit its machine code: fall back to PTX for the newest
        // architecture it knows, which the driver compiles further when loading.
        let canEmitCUBIN = supportedArchitectures.isEmpty || supportedArchitectures.contains(architecture)
        let target = canEmitCUBIN ? architecture : (supportedArchitectures.filter { $0 <= architecture }.max() ?? architecture)
        if architectureSpecific && !canEmitCUBIN {
            throw ConvKitError.device(message:
                "NVRTC \(version) cannot compile \(name) for sm_\(architecture)a: it knows no architecture that new")
        }
        let suffix = architectureSpecific ? "a" : ""
        let allOptions = [canEmitCUBIN ? "--gpu-architecture=sm_\(target)\(suffix)" : "--gpu-architecture=compute_\(target)"] + options

        var program: OpaquePointer?
        let headerNames = headers.map { strdup($0.0) }, headerSources = headers.map { strdup($0.1) }
        let optionStrings = allOptions.map { strdup($0) }
        defer { (headerNames + headerSources + optionStrings).forEach { free($0) } }
        var headerSourcePointers = headerSources.map { UnsafePointer<CChar>($0) }
        var headerNamePointers = headerNames.map { UnsafePointer<CChar>($0) }
        var optionPointers = optionStrings.map { UnsafePointer<CChar>($0) }

        let created = headerSourcePointers.withUnsafeMutableBufferPointer { sources in
            headerNamePointers.withUnsafeMutableBufferPointer { names in
                createProgram(&program, source, name, Int32(headers.count),
                              headers.isEmpty ? nil : UnsafePointer(sources.baseAddress),
                              headers.isEmpty ? nil : UnsafePointer(names.baseAddress))
            }
        }
        try check(created, "nvrtcCreateProgram(\(name))")
        defer { _ = destroyProgram(&program) }

        let compiled = optionPointers.withUnsafeMutableBufferPointer {
            compileProgram(program, Int32(allOptions.count), UnsafePointer($0.baseAddress))
        }
        let log = try bytes(program, getLogSize, getLog).flatMap { String(validatingUTF8: $0) } ?? ""
        if compiled != 0 {
            throw ConvKitError.device(message:
                "NVRTC \(version) could not compile \(name) for sm_\(target)\(suffix): \(errorText(compiled))\n\(log)")
        }
        let image = canEmitCUBIN ? try bytes(program, getCUBINSize, getCUBIN) : try bytes(program, getPTXSize, getPTX)
        guard let image, !image.isEmpty else {
            throw ConvKitError.device(message: "NVRTC \(version) produced no code for \(name)")
        }
        return Output(image: image.map { UInt8(bitPattern: $0) }, isCUBIN: canEmitCUBIN, log: log)
    }

    private func bytes(_ program: OpaquePointer?, _ size: GetSize, _ get: GetBytes) throws -> [CChar]? {
        var count = 0
        try check(size(program, &count), "nvrtc size query")
        guard count > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: count)
        try check(get(program, &buffer), "nvrtc output query")
        return buffer
    }

    private func errorText(_ status: Result) -> String {
        getErrorString(status).map { String(cString: $0) } ?? "NVRTC error \(status)"
    }

    private func check(_ status: Result, _ operation: String) throws {
        if status != 0 { throw ConvKitError.device(message: "\(operation): \(errorText(status))") }
    }
}
