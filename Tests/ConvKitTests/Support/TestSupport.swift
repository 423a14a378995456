import XCTest
@testable import ConvKit

/// Deterministic pseudo-random values in [-1, 1) for test inputs.
func randomValues(_ count: Int, seed: UInt64) -> [Float] {
    var g = Philox(seed: seed)
    return g.uniform(count: count).map { $0 * 2 - 1 }
}

/// A deterministic random integer in `range`, for random shapes and arguments.
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
    mutating func bool() -> Bool { next() & 1 == 1 }
}

/// ‖out − ref‖ / ‖ref‖ (absolute norm when ref is zero); infinity when any value is NaN or
/// infinite where the reference is not, so NaN never passes.
func relativeError(_ out: [Float], _ ref: [Double]) -> Double {
    precondition(out.count == ref.count, "length mismatch \(out.count) vs \(ref.count)")
    var diff = 0.0, norm = 0.0
    for (o, r) in zip(out, ref) {
        if r.isNaN { if !o.isNaN { return .infinity }; continue }
        if r.isInfinite { if Double(o) != r { return .infinity }; continue }
        if !o.isFinite { return .infinity }
        diff += (Double(o) - r) * (Double(o) - r)
        norm += r * r
    }
    return norm == 0 ? diff.squareRoot() : (diff / norm).squareRoot()
}

/// Same as `relativeError(_:_:)` for a Double result.
func relativeError(_ out: [Double], _ ref: [Double]) -> Double {
    relativeError(out.map { Float($0) }, ref)
}

/// Asserts ‖out − ref‖ / ‖ref‖ ≤ tolerance.
func assertClose(_ out: [Float], _ ref: [Double], tolerance: Double = 1e-5, _ message: @autoclosure () -> String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    let err = relativeError(out, ref)
    XCTAssert(err <= tolerance, "relative error \(err) > \(tolerance) \(message())", file: file, line: line)
}

/// Central finite differences of `⟨upstream, f(x)⟩` with respect to `x`, in Float64.
/// Use it on a Float64 reference forward to check a Float32 analytic backward.
func numericGradient(at x: [Double], upstream: [Double], eps: Double = 1e-6,
                     _ f: ([Double]) throws -> [Double]) rethrows -> [Double] {
    var x = x
    var grad = [Double](repeating: 0, count: x.count)
    for i in x.indices {
        let saved = x[i]
        x[i] = saved + eps
        let plus = try f(x)
        x[i] = saved - eps
        let minus = try f(x)
        x[i] = saved
        var s = 0.0
        for j in plus.indices { s += upstream[j] * (plus[j] - minus[j]) }
        grad[i] = s / (2 * eps)
    }
    return grad
}

/// Asserts that `body` throws a `ConvKitError` whose message contains every fragment.
func assertThrowsConvKitError<T>(_ body: @autoclosure () throws -> T, _ fragments: String...,
                                 file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected a ConvKitError containing \(fragments)", file: file, line: line)
    } catch let error as ConvKitError {
        for f in fragments {
            XCTAssert(error.description.contains(f), "error \"\(error)\" does not contain \"\(f)\"", file: file, line: line)
        }
    } catch {
        XCTFail("expected ConvKitError, got \(error)", file: file, line: line)
    }
}

/// Directory of the committed PyTorch fixtures.
var fixturesDirectory: URL {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
}
