import Foundation

/// One `.cu` file of ConvKit's kernels, embedded in the binary at build time.
public struct CUDAKernelSource: Sendable {
    /// The file name, e.g. `TensorKernels.cu`.
    public let name: String
    /// The CUDA C++ text.
    public let text: String
    /// Whether it is compiled for the architecture-specific target on Hopper (`sm_90a`, whose
    /// `wgmma` instructions exist on no other GPU); elsewhere it is compiled as usual, and its
    /// source leaves out what needs those features (`__CUDA_ARCH_FEAT_SM90_ALL`).
    public var architectureSpecific = false

    /// Whether this source compiles for the architecture-specific target of `sm_<architecture>`:
    /// only an architecture-specific source, only on sm_90.
    func usesArchitectureSpecificTarget(on architecture: Int) -> Bool { architectureSpecific && architecture == 90 }

    /// The NVRTC target of this source for `sm_<architecture>`: `90a` for an
    /// architecture-specific source on sm_90, else the architecture's number.
    func target(for architecture: Int) -> String {
        "\(architecture)" + (usesArchitectureSpecificTarget(on: architecture) ? "a" : "")
    }
}

/// Compiles kernel sources with NVRTC and keeps the machine code on disk, keyed by everything
/// that affects it: the source (and the shared header), the options, the architecture and
/// NVRTC's version. A second process (or run) loads the cached CUBIN instead of compiling.
///
/// The cache folder is `$CONVKIT_KERNEL_CACHE`, else `$XDG_CACHE_HOME/convkit/kernels`, else
/// `~/.cache/convkit/kernels`; `CONVKIT_KERNEL_CACHE=none` turns it off. Files are written
/// atomically (temporary file, then rename), so a killed process never leaves a half-written one;
/// an unreadable or corrupt entry is compiled again.
enum CUDAKernelCompiler {
    /// Options every kernel is compiled with.
    static let options = ["--std=c++17", "-default-device", "--extra-device-vectorization"]

    /// The folder of cached CUBINs, or `nil` when caching is off.
    static var cacheFolder: URL? {
        let environment = ProcessInfo.processInfo.environment
        if let folder = environment["CONVKIT_KERNEL_CACHE"], !folder.isEmpty {
            return folder.lowercased() == "none" ? nil : URL(fileURLWithPath: folder)
        }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("convkit/kernels")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/convkit/kernels")
    }

    /// The cache key of a source for an architecture: an MD5 over every input of the compilation.
    static func cacheKey(_ source: CUDAKernelSource, architecture: Int, nvrtcVersion: String) -> String {
        var md5 = MD5()
        for part in [source.name, source.text, CUDAKernelSources.commonHeader.text, options.joined(separator: " "),
                     "sm_\(source.target(for: architecture))", nvrtcVersion] {
            md5.update(Array(part.utf8))
            md5.update([0])
        }
        return md5.hexDigest()
    }

    /// The machine code (or PTX) of `source` for `sm_<architecture>`: from the disk cache when an
    /// entry exists, else compiled now and stored.
    ///
    /// - Parameter ignoringCache: compile even when an entry exists (and replace it): used when
    ///   the driver rejected a cached image as damaged.
    /// - Returns: the image, and whether it came from the cache.
    static func image(for source: CUDAKernelSource, architecture: Int,
                      ignoringCache: Bool = false) throws -> (image: [UInt8], cached: Bool) {
        let nvrtc = try NVRTC.load()
        let file = cacheFile(for: source, architecture: architecture, nvrtcVersion: nvrtc.version)
        if !ignoringCache, let file, let data = try? Data(contentsOf: file), !data.isEmpty { return ([UInt8](data), true) }
        let output = try compile(source, architecture: architecture, nvrtc: nvrtc)
        if let file { store(output.image, at: file) }
        return (output.image, false)
    }

    /// Where the cache entry of `source` lives, or `nil` when caching is off.
    static func cacheFile(for source: CUDAKernelSource, architecture: Int, nvrtcVersion: String) -> URL? {
        let key = cacheKey(source, architecture: architecture, nvrtcVersion: nvrtcVersion)
        let baseName = (source.name as NSString).deletingPathExtension
        return cacheFolder?.appendingPathComponent("\(baseName)-sm_\(source.target(for: architecture))-\(key).bin")
    }

    /// Compiles without touching the cache (what the CI test of every kernel calls).
    static func compile(_ source: CUDAKernelSource, architecture: Int, nvrtc: NVRTC? = nil) throws -> NVRTC.Output {
        let compiler = try nvrtc ?? NVRTC.load()
        let common = CUDAKernelSources.commonHeader
        return try compiler.compile(source: source.text, name: source.name, headers: [(common.name, common.text)],
                                    options: options, architecture: architecture,
                                    architectureSpecific: source.usesArchitectureSpecificTarget(on: architecture))
    }

    /// Writes a cache entry atomically; a failure only costs a recompilation next time.
    private static func store(_ image: [UInt8], at file: URL) {
        let folder = file.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let temporary = folder.appendingPathComponent(".\(file.lastPathComponent).\(getpid()).tmp")
            try Data(image).write(to: temporary)
            if rename(temporary.path, file.path) != 0 { try? FileManager.default.removeItem(at: temporary) }
        } catch {
            // The cache is an optimisation; an unwritable folder is not an error.
        }
    }
}
