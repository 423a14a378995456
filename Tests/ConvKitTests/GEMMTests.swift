import XCTest
@testable import ConvKit

/// The CPU SGEMM: the dispatcher (`GEMM.sgemm`, which runs on the loaded CBLAS) and the
/// built-in Swift SGEMM (`GEMM.swiftSGEMM`), each against the Float64 reference.
final class GEMMTests: XCTestCase {
    /// The two implementations under test.
    enum Path: CaseIterable { case dispatcher, builtIn }

    /// One SGEMM problem with strided buffers (row strides larger than the rows when `pad > 0`).
    struct Problem {
        var transA: Bool, transB: Bool
        var m: Int, n: Int, k: Int
        var alpha: Float, beta: Float
        var lda: Int, ldb: Int, ldc: Int
        var a: [Float], b: [Float], c: [Float]

        init(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float = 0,
             pad: (Int, Int, Int) = (0, 0, 0), seed: UInt64) {
            self.transA = transA; self.transB = transB
            self.m = m; self.n = n; self.k = k
            self.alpha = alpha; self.beta = beta
            lda = (transA ? m : k) + pad.0
            ldb = (transB ? k : n) + pad.1
            ldc = n + pad.2
            a = randomValues(max(1, (transA ? k : m) * lda), seed: seed)
            b = randomValues(max(1, (transB ? n : k) * ldb), seed: seed &+ 1)
            c = randomValues(max(1, m * ldc), seed: seed &+ 2)
        }

        func run(_ path: Path) -> [Float] {
            var out = c
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { c in
                        switch path {
                        case .dispatcher:
                            GEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                       a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb,
                                       beta: beta, c: c.baseAddress!, ldc: ldc)
                        case .builtIn:
                            GEMM.swiftSGEMM(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                            a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb,
                                            beta: beta, c: c.baseAddress!, ldc: ldc)
                        }
                    }
                }
            }
            return out
        }

        var reference: [Double] {
            GEMMReference.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: Double(alpha),
                                a: a, lda: lda, b: b, ldb: ldb, beta: Double(beta), c: c, ldc: ldc)
        }

        var label: String {
            "transA \(transA) transB \(transB) m \(m) n \(n) k \(k) alpha \(alpha) beta \(beta) lda \(lda) ldb \(ldb) ldc \(ldc)"
        }
    }

    /// Both paths against the reference; also checks that C's padding columns are untouched.
    private func check(_ problem: Problem, tolerance: Double = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
        let reference = problem.reference
        for path in Path.allCases {
            let out = problem.run(path)
            assertClose(out, reference, tolerance: tolerance, "\(path) \(problem.label)", file: file, line: line)
            for i in 0..<problem.m {
                for j in problem.n..<problem.ldc where out[i * problem.ldc + j] != problem.c[i * problem.ldc + j] {
                    XCTFail("\(path) wrote C's padding at (\(i), \(j)) \(problem.label)", file: file, line: line)
                    return
                }
            }
        }
    }

    func testEveryTransposeCombinationOverOddSizesAndStrides() {
        let sizes = [1, 2, 7, 13, 33]
        let scalars: [(Float, Float)] = [(1, 0), (1, 1), (-0.5, 2.5), (2, -1), (0.25, 0)]
        var rng = TestRNG(seed: 11)
        var seed: UInt64 = 100
        for transA in [false, true] {
            for transB in [false, true] {
                for _ in 0..<12 {
                    let (alpha, beta) = scalars[rng.int(0...scalars.count - 1)]
                    let pad = (rng.int(0...3), rng.int(0...3), rng.int(0...3))
                    seed += 3
                    check(Problem(transA: transA, transB: transB, m: sizes[rng.int(0...4)], n: sizes[rng.int(0...4)],
                                  k: sizes[rng.int(0...4)], alpha: alpha, beta: beta, pad: pad, seed: seed))
                }
            }
        }
    }

    /// Sizes that cross the micro-kernel's 6×8 (or 6×16) tile, the 120-row block and the 256-deep block,
    /// and that are large enough to be split between threads (by rows and by columns).
    func testLargerOddSizesCrossEveryBlockBoundary() {
        let shapes = [(65, 33, 257), (127, 71, 300), (70, 300, 40), (7, 9, 600)]
        var seed: UInt64 = 500
        for (m, n, k) in shapes {
            for (transA, transB) in [(false, false), (true, true), (false, true), (true, false)] {
                seed += 3
                check(Problem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.75, beta: 1.5,
                              pad: (1, 2, 3), seed: seed))
            }
        }
    }

    /// More columns than one 2048-wide panel of B.
    func testColumnPanelBoundary() {
        check(Problem(transA: false, transB: false, m: 2, n: 2100, k: 5, beta: 0.5, pad: (0, 1, 1), seed: 900))
        check(Problem(transA: true, transB: true, m: 3, n: 2050, k: 4, seed: 903))
    }

    func testZeroDepthScalesC() {
        for beta: Float in [0, 1, -2] {
            var problem = Problem(transA: false, transB: false, m: 5, n: 6, k: 0, alpha: 3, beta: beta,
                                  pad: (0, 0, 2), seed: 42)
            problem.c[0] = .nan
            for path in Path.allCases {
                let out = problem.run(path)
                for i in 0..<5 {
                    for j in 0..<6 {
                        let old = problem.c[i * problem.ldc + j]
                        let expected = beta == 0 ? 0 : beta * old
                        if beta == 0 {
                            XCTAssertEqual(out[i * problem.ldc + j], 0, "\(path) beta 0 must overwrite C")
                        } else if old.isNaN {
                            XCTAssert(out[i * problem.ldc + j].isNaN, "\(path)")
                        } else {
                            XCTAssertEqual(out[i * problem.ldc + j], expected, "\(path) beta \(beta)")
                        }
                    }
                }
            }
        }
    }

    func testEmptyOutputLeavesCUntouched() {
        for path in Path.allCases {
            let problem = Problem(transA: false, transB: false, m: 0, n: 4, k: 3, seed: 7)
            XCTAssertEqual(problem.run(path), problem.c, "\(path)")
        }
    }

    /// A NaN or infinity in A reaches every column of its row even where B (or alpha) is zero;
    /// beta 0 means C's old NaNs do not.
    func testNaNAndInfinityPropagateThroughZeroFactors() {
        for (transA, transB) in [(false, false), (true, true), (false, true), (true, false)] {
            for (m, n, k, alpha) in [(4, 5, 3, Float(1)), (40, 50, 30, 1), (40, 50, 30, 0)] {
                var problem = Problem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, seed: 77)
                for index in problem.b.indices { problem.b[index] = 0 }
                let nanRow = 1, infRow = 2, column = k - 1
                problem.a[transA ? column * problem.lda + nanRow : nanRow * problem.lda + column] = .nan
                problem.a[transA ? column * problem.lda + infRow : infRow * problem.lda + column] = .infinity
                for index in problem.c.indices { problem.c[index] = .nan }
                for path in Path.allCases {
                    let out = problem.run(path)
                    for i in 0..<m {
                        for j in 0..<n {
                            let value = out[i * problem.ldc + j]
                            if i == nanRow || i == infRow {
                                XCTAssert(value.isNaN, "\(path) (\(i), \(j)) = \(value), expected NaN \(problem.label)")
                            } else {
                                XCTAssertEqual(value, 0, "\(path) (\(i), \(j)) \(problem.label)")
                            }
                        }
                    }
                }
            }
        }
    }

    func testBLASInfoDescribesTheLoadedLibrary() {
        let info = BLASInfo.current
        XCTAssert(BLASInfo.builtInKernel.hasPrefix("6×"), BLASInfo.builtInKernel)
        let requested = ProcessInfo.processInfo.environment["CONVKIT_BLAS"]
        if requested?.lowercased() == "none" {
            XCTAssertNil(CBLAS.shared)
            XCTAssertNil(info.libraryPath)
            XCTAssert(info.description.contains("built-in Swift SGEMM"), info.description)
        } else if requested != nil {
            // A library the user named may be missing: then the fallback says why.
            XCTAssertEqual(CBLAS.shared == nil, info.libraryPath == nil, info.description)
            XCTAssertEqual(CBLAS.shared == nil, info.fallbackReason != nil, info.description)
        } else {
            // The test machines install OpenBLAS (Debian: libopenblas0-pthread).
            XCTAssertNotNil(CBLAS.shared, "no CBLAS loaded: \(info)")
            XCTAssertNotNil(info.libraryPath)
            XCTAssert(info.description.contains(info.libraryPath ?? "?"), info.description)
            if let core = info.coreName {
                XCTAssertNotEqual(core.lowercased(), "prescott", "OpenBLAS fell back to SSE3 kernels: \(info)")
            }
        }
    }

    func testOpenBLASCoreTypeFromCPUFlags() {
        let avx512: Set = ["sse2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]
        XCTAssertEqual(CPUFeatures(flags: avx512, vendor: "GenuineIntel").openBLASCoreType, "SkylakeX")
        XCTAssertEqual(CPUFeatures(flags: ["avx", "avx2", "fma"], vendor: "AuthenticAMD").openBLASCoreType, "Zen")
        XCTAssertEqual(CPUFeatures(flags: ["avx", "avx2", "fma"], vendor: "GenuineIntel").openBLASCoreType, "Haswell")
        XCTAssertNil(CPUFeatures(flags: ["sse2", "sse3", "avx"], vendor: "GenuineIntel").openBLASCoreType)
        XCTAssertNil(CPUFeatures(flags: [], vendor: "").openBLASCoreType)
    }

    func testNativeLibraryRecordsEveryAttempt() throws {
        let library = try NativeLibrary.open(candidates: ["libconvkit-does-not-exist.so.9", "libm.so.6"], purpose: "math")
        XCTAssertEqual(library.name, "libm.so.6")
        XCTAssert(library.path.hasPrefix("/"), "resolved path \(library.path)")
        XCTAssertEqual(library.attempts.count, 2)
        XCTAssertNotNil(library.attempts[0].failure)
        XCTAssertNil(library.attempts[1].failure)
        typealias Cosine = @convention(c) (Double) -> Double
        let cosine = try library.function("cos", as: Cosine.self)
        XCTAssertEqual(cosine(0), 1)
        XCTAssertNil(library.optionalFunction("convkit_no_such_symbol", as: Cosine.self))
        assertThrowsConvKitError(try library.function("convkit_no_such_symbol", as: Cosine.self),
                                 "convkit_no_such_symbol", library.path)
    }

    func testLibraryCandidatesFollowTheEnvironment() {
        let variable = "CONVKIT_TEST_LIBRARY_\(getpid())"
        defer { unsetenv(variable) }
        XCTAssertEqual(NativeLibrary.candidates(environmentVariable: variable, defaults: ["liba.so", "libb.so"]), ["liba.so", "libb.so"])
        setenv(variable, "  ", 1)
        XCTAssertEqual(NativeLibrary.candidates(environmentVariable: variable, defaults: ["liba.so"]), ["liba.so"])
        setenv(variable, "/opt/lib/libx.so", 1)
        XCTAssertEqual(NativeLibrary.candidates(environmentVariable: variable, defaults: ["liba.so"]), ["/opt/lib/libx.so"])
        setenv(variable, "None", 1)
        XCTAssertNil(NativeLibrary.candidates(environmentVariable: variable, defaults: ["liba.so"]))
    }

    func testNativeLibrarySkipsCandidatesWithoutTheRequiredSymbol() throws {
        // dlsym also searches a library's dependencies: libc does not depend on libm.
        let library = try NativeLibrary.open(candidates: ["libc.so.6", "libm.so.6"], purpose: "math",
                                             requiredSymbol: "cosh")
        XCTAssertEqual(library.name, "libm.so.6")
        XCTAssertEqual(library.attempts.first?.failure, "loaded, but has no symbol cosh")
        assertThrowsConvKitError(try NativeLibrary.open(candidates: ["libm.so.6"], purpose: "CBLAS", requiredSymbol: "cblas_sgemm"),
                                 "CBLAS library not found", "libm.so.6", "no symbol cblas_sgemm")
    }

    func testNativeLibraryNamesEveryCandidateWhenNoneLoads() {
        assertThrowsConvKitError(try NativeLibrary.open(candidates: ["libconvkit-missing-a.so", "/nonexistent/libb.so"],
                                                        purpose: "CUDA driver"),
                                 "CUDA driver library not found", "libconvkit-missing-a.so", "/nonexistent/libb.so")
        assertThrowsConvKitError(try NativeLibrary.open(candidates: [], purpose: "NVRTC"), "NVRTC", "tried nothing")
    }
}
