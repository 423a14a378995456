import Foundation

/// What the CPU GEMM runs on: a CBLAS found at run time, or ConvKit's built-in Swift SGEMM.
/// Shown by `convkit info`.
public struct BLASInfo: Sendable, CustomStringConvertible {
    /// The library file in use, or `nil` for the built-in Swift SGEMM.
    public let libraryPath: String?
    /// OpenBLAS's kernel family (`openblas_get_corename`, e.g. `Zen`, `Haswell`, `SkylakeX`),
    /// when the library reports one.
    public let coreName: String?
    /// Threads the library uses (`openblas_get_num_threads`), when it reports them; for the
    /// built-in SGEMM, the CPU backend's thread count.
    public let threadCount: Int?
    /// The `OPENBLAS_CORETYPE` value ConvKit set before loading because the CPU supports
    /// better kernels than OpenBLAS might pick; `nil` when ConvKit set nothing.
    public let coreTypeSetByConvKit: String?
    /// Why the built-in SGEMM is in use (`CONVKIT_BLAS=none`, or what the search found), or
    /// `nil` when a library is loaded.
    public let fallbackReason: String?
    /// Every library candidate tried, with the loader's answer for each.
    public let searched: [String]

    /// The GEMM in use by this process (loads the CBLAS on first call).
    public static var current: BLASInfo { CBLAS.info }

    /// The built-in SGEMM's micro-kernel as this binary was compiled: `6×16 FMA` for builds with
    /// `-D CONVKIT_AVX2 -target-cpu haswell` (or newer), `6×8 SIMD` for baseline x86-64.
    public static var builtInKernel: String {
        #if CONVKIT_AVX2
        return "\(GEMM.mr)×\(GEMM.nr) FMA"
        #else
        return "\(GEMM.mr)×\(GEMM.nr) SIMD"
        #endif
    }

    /// One line, e.g. `CBLAS /usr/lib/x86_64-linux-gnu/libopenblas.so.0 (core Zen, 2 threads)`.
    public var description: String {
        guard let libraryPath else {
            return "built-in Swift SGEMM (\(BLASInfo.builtInKernel) kernel, \(threadCount ?? 1) threads; \(fallbackReason ?? "no CBLAS"))"
        }
        var details: [String] = []
        if let coreName {
            details.append("core \(coreName)" + (coreTypeSetByConvKit != nil ? " via OPENBLAS_CORETYPE set by ConvKit" : ""))
        }
        if let threadCount { details.append("\(threadCount) threads") }
        return "CBLAS \(libraryPath)" + (details.isEmpty ? "" : " (\(details.joined(separator: ", ")))")
    }
}

/// The CBLAS loaded at run time (`cblas_sgemm` and OpenBLAS's introspection functions).
///
/// Search order: `$CONVKIT_BLAS` when set (a path or name; `none` forces the built-in SGEMM),
/// else `libopenblas.so.0`, `libopenblas.so`, `libcblas.so.3`, `libblas.so.3`.
final class CBLAS: @unchecked Sendable {
    typealias SGEMM = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float,
                                      UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32,
                                      Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    private typealias CoreName = @convention(c) () -> UnsafePointer<CChar>?
    private typealias NumThreads = @convention(c) () -> Int32

    static let rowMajor: Int32 = 101
    static let noTranspose: Int32 = 111
    static let transpose: Int32 = 112

    /// The loaded library, or `nil` when none was found (or `CONVKIT_BLAS=none`).
    static var shared: CBLAS? { loaded.library }
    /// What `shared` is, for `convkit info`.
    static var info: BLASInfo { loaded.info }

    let library: NativeLibrary
    let sgemm: SGEMM

    private init(library: NativeLibrary, sgemm: @escaping SGEMM) {
        self.library = library
        self.sgemm = sgemm
    }

    /// Loaded once, on first use (Swift runs a static initialiser exactly once, thread-safely).
    private static let loaded: (library: CBLAS?, info: BLASInfo) = performLoad()

    static let defaultCandidates = ["libopenblas.so.0", "libopenblas.so", "libcblas.so.3", "libblas.so.3"]

    private static func performLoad() -> (library: CBLAS?, info: BLASInfo) {
        let environment = ProcessInfo.processInfo.environment
        let threads = CPUBackend.shared.threadCount
        guard let candidates = NativeLibrary.candidates(environmentVariable: "CONVKIT_BLAS", defaults: defaultCandidates) else {
            return (nil, BLASInfo(libraryPath: nil, coreName: nil, threadCount: threads, coreTypeSetByConvKit: nil,
                                  fallbackReason: "CONVKIT_BLAS=none", searched: []))
        }

        // OpenBLAS picks its kernels when it is loaded, and 0.3.21 does not recognise some
        // current CPUs (falling back to SSE3 "Prescott" kernels, ~5x slower). Choose from the
        // CPU's own flags before loading, unless the user already chose.
        var coreTypeSet: String?
        if environment["OPENBLAS_CORETYPE"] == nil, let core = CPUFeatures.current.openBLASCoreType {
            setenv("OPENBLAS_CORETYPE", core, 0)
            coreTypeSet = core
        }

        let library: NativeLibrary
        do {
            library = try NativeLibrary.open(candidates: candidates, purpose: "CBLAS", requiredSymbol: "cblas_sgemm")
        } catch {
            let reason: String
            if case let ConvKitError.device(message) = error { reason = message } else { reason = "\(error)" }
            return (nil, BLASInfo(libraryPath: nil, coreName: nil, threadCount: threads, coreTypeSetByConvKit: nil,
                                  fallbackReason: reason, searched: candidates))
        }
        let searched = library.attempts.map(\.description)
        guard let sgemm = library.optionalFunction("cblas_sgemm", as: SGEMM.self) else {
            return (nil, BLASInfo(libraryPath: nil, coreName: nil, threadCount: threads, coreTypeSetByConvKit: nil,
                                  fallbackReason: "\(library.path) has no cblas_sgemm", searched: searched))
        }
        let coreName = library.optionalFunction("openblas_get_corename", as: CoreName.self)?()
            .map { String(cString: $0) }
        let libraryThreads = library.optionalFunction("openblas_get_num_threads", as: NumThreads.self)
            .map { Int($0()) }
        let info = BLASInfo(libraryPath: library.path, coreName: coreName, threadCount: libraryThreads,
                            coreTypeSetByConvKit: coreName == nil ? nil : coreTypeSet,
                            fallbackReason: nil, searched: searched)
        return (CBLAS(library: library, sgemm: sgemm), info)
    }
}

/// The CPU's vector features as the kernel reports them (Linux `/proc/cpuinfo`).
struct CPUFeatures: Sendable {
    /// Lower-case flag names (`avx2`, `fma`, `avx512f`, …).
    let flags: Set<String>
    /// `GenuineIntel`, `AuthenticAMD`, … (empty when unknown).
    let vendor: String

    static let current = CPUFeatures.read()

    /// The OpenBLAS kernel family that suits this CPU, or `nil` when the CPU has neither AVX2
    /// nor AVX-512 (OpenBLAS's own choice is then as good as any).
    var openBLASCoreType: String? {
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains) {
            return "SkylakeX"
        }
        if flags.contains("avx2"), flags.contains("fma") {
            return vendor == "AuthenticAMD" || vendor == "HygonGenuine" ? "Zen" : "Haswell"
        }
        return nil
    }

    private static func read() -> CPUFeatures {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return CPUFeatures(flags: [], vendor: "")
        }
        var flags: Set<String> = []
        var vendor = ""
        // The first processor's entries are enough: every core of a machine has the same set.
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            if key == "vendor_id", vendor.isEmpty { vendor = value }
            if key == "flags", flags.isEmpty { flags = Set(value.split(separator: " ").map { String($0).lowercased() }) }
            if !vendor.isEmpty, !flags.isEmpty { break }
        }
        return CPUFeatures(flags: flags, vendor: vendor)
    }
}
