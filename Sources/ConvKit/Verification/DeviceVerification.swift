import Foundation

/// One check of a device against the CPU: a computation run once on each, whose results
/// (outputs and gradients) must agree.
///
/// `body` receives the device to run on and must draw every random input from the default
/// generator (`Tensor.normal`, `Tensor.uniform`, `DeviceCheck.randomIndices`), which the runner
/// reseeds with the same seed before each run, so both devices see identical inputs.
public struct DeviceCheck {
    /// The op (and algorithm) under test, e.g. `conv2d[im2colGEMM]`: one row of the table.
    public let op: String
    /// The shapes and arguments of this case, shown when it fails.
    public let label: String
    /// The largest relative error `‖device − cpu‖ / ‖cpu‖` allowed for each float result.
    public let tolerance: Double
    /// Runs the computation on a device and returns what to compare.
    public let body: (Device) throws -> [Tensor]

    /// A check with the default fp32 tolerance (1e-5 unless given).
    public init(op: String, label: String, tolerance: Double = 1e-5, body: @escaping (Device) throws -> [Tensor]) {
        self.op = op
        self.label = label
        self.tolerance = tolerance
        self.body = body
    }

    /// The forward result and the gradients of each of `inputs`, for a random upstream gradient:
    /// `[output, inputs[0].grad, inputs[1].grad, …]`. The upstream gradient is drawn from the
    /// default generator, so it is the same on every device.
    public static func forwardAndGradients(_ output: Tensor, _ inputs: [Tensor]) throws -> [Tensor] {
        let upstream = try Tensor.normal(output.shape, on: output.device)
        try output.backward(gradient: upstream)
        return try [output] + inputs.map { input in
            guard let grad = input.grad else {
                throw ConvKitError.autograd(message: "verification: an input received no gradient")
            }
            return grad
        }
    }

    /// `count` random class indices in `0..<classes` (an `int32` tensor), from the default generator.
    public static func randomIndices(_ count: Int, classes: Int, shape: [Int]? = nil, on device: Device) throws -> Tensor {
        let u = RandomState.withGenerator { $0.uniform(count: count) }
        return try Tensor(indices: u.map { Int32(min(classes - 1, Int($0 * Float(classes)))) }, shape: shape, on: device)
    }

    /// A random integer in `range` drawn from `generator` (to build random shapes and arguments).
    public static func randomInt(_ range: ClosedRange<Int>, _ generator: inout Philox) -> Int {
        let u = generator.uniform(count: 1)[0]
        return range.lowerBound + min(range.count - 1, Int(u * Float(range.count)))
    }
}

/// The outcome of one `DeviceCheck`.
public struct DeviceCheckResult {
    /// The check's op.
    public let op: String
    /// The check's label.
    public let label: String
    /// The largest relative error over the check's float results (0 for integer-only checks).
    public let worstError: Double
    /// The check's tolerance.
    public let tolerance: Double
    /// `nil` when the check passed; otherwise what went wrong (an error, a mismatch).
    public let failure: String?
    /// Wall-clock seconds the device run took (both runs, compilation included on a first use).
    public let seconds: Double
}

/// Runs `DeviceCheck`s against the CPU and summarises them per op.
public enum DeviceVerification {
    /// Every built-in check, family by family.
    public static func allChecks(seed: UInt64 = 1) -> [DeviceCheck] {
        memoryChecks() + TensorDeviceChecks.checks(seed: seed) + ConvolutionDeviceChecks.checks(seed: seed)
            + ConvolutionAlgorithmDeviceChecks.checks(seed: seed) + TensorCoreConvDeviceChecks.checks(seed: seed)
            + WGMMAConvDeviceChecks.checks()
            + WinogradConvDeviceChecks.checks(seed: seed) + FFTConvDeviceChecks.checks(seed: seed)
            + PoolingDeviceChecks.checks(seed: seed)
            + NNDeviceChecks.checks(seed: seed) + NormalizationDeviceChecks.checks(seed: seed) + OptimizerDeviceChecks.checks(seed: seed)
    }

    /// The backend's memory operations: upload and download (odd sizes), fill, device-to-device
    /// copy and accumulation, on fresh and on reused (cached) blocks.
    static func memoryChecks() -> [DeviceCheck] {
        [1, 3, 1000, 1 << 20].map { count in
            DeviceCheck(op: "memory", label: "\(count) floats") { device in
                let kernels = try backend(for: device)
                let values = try Tensor.normal([count], on: device)
                let filled = try Tensor.full([count], 2.5, on: device)
                let copied = try Tensor.empty([count], on: device)
                try kernels.copy(from: values.storage, to: copied.storage, byteCount: count * 4)
                try kernels.accumulate(filled.storage, into: copied.storage, count: count)
                // A block released and allocated again by `zeros` must come back zeroed (`empty`
                // hands it over as it is).
                do {
                    let released = try Tensor.empty([count], on: device)
                    try kernels.fill(released.storage, count: count, value: 7)
                }
                let reused = try Tensor.zeros([count], on: device)
                return [values, filled, copied, reused, try values.to(.cpu).to(device)]
            }
        }
    }

    /// Runs `check` on the CPU and on `device` with the same random inputs and compares the results.
    public static func run(_ check: DeviceCheck, on device: Device, seed: UInt64) -> DeviceCheckResult {
        let start = Date()
        func result(_ worst: Double, _ failure: String?) -> DeviceCheckResult {
            DeviceCheckResult(op: check.op, label: check.label, worstError: worst, tolerance: check.tolerance,
                              failure: failure, seconds: Date().timeIntervalSince(start))
        }
        let saved = RandomState.generatorState
        defer { RandomState.generatorState = saved }
        let expected: [Tensor], actual: [Tensor]
        do {
            RandomState.seed(seed)
            expected = try check.body(.cpu)
        } catch { return result(.infinity, "CPU run failed: \(error)") }
        do {
            RandomState.seed(seed)
            actual = try check.body(device)
        } catch { return result(.infinity, "\(device) run failed: \(error)") }
        guard expected.count == actual.count else {
            return result(.infinity, "CPU returned \(expected.count) results, \(device) \(actual.count)")
        }
        let (worst, failure) = compareAll(Array(zip(expected, actual)), tolerance: check.tolerance)
        return result(worst, failure)
    }

    /// Compares each `(reference, candidate)` pair with `compare` and stops at the first that is
    /// off by more than `tolerance` (or cannot be compared): the worst relative error so far, and
    /// what failed (`nil` when every pair is within tolerance).
    static func compareAll(_ pairs: [(reference: Tensor, candidate: Tensor)], tolerance: Double) -> (worst: Double, failure: String?) {
        var worst = 0.0
        for (index, pair) in pairs.enumerated() {
            do {
                let error = try compare(pair.reference, pair.candidate)
                worst = max(worst, error)
                if !(error <= tolerance) {
                    return (worst, String(format: "result %d: relative error %.3g > %.0e", index, error, tolerance))
                }
            } catch { return (.infinity, "result \(index): \(error)") }
        }
        return (worst, nil)
    }

    /// `‖b − a‖₂ / ‖a‖₂` in Float64 (the absolute norm when `a` is all zeros); NaN and infinities
    /// must sit at the same places with the same signs, integer tensors must be equal.
    /// - Throws: `ConvKitError.invalidArgument` describing a shape, dtype, NaN or integer mismatch.
    public static func compare(_ a: Tensor, _ b: Tensor) throws -> Double {
        try require(a.shape == b.shape, "verify", "shapes differ: \(a.shape) vs \(b.shape)")
        try require(a.dtype == b.dtype, "verify", "dtypes differ: \(a.dtype) vs \(b.dtype)")
        if a.dtype == .int32 {
            let x = try a.toIntArray(), y = try b.toIntArray()
            if let i = (0..<x.count).first(where: { x[$0] != y[$0] }) {
                throw ConvKitError.invalidArgument(op: "verify", message: "int32 element \(i): \(x[i]) vs \(y[i])")
            }
            return 0
        }
        let x = try a.toArray(), y = try b.toArray()
        var difference = 0.0, norm = 0.0
        for i in 0..<x.count {
            if !x[i].isFinite || !y[i].isFinite {
                let same = (x[i].isNaN && y[i].isNaN) || x[i] == y[i]
                if !same { throw ConvKitError.invalidArgument(op: "verify", message: "element \(i): \(x[i]) vs \(y[i])") }
                continue
            }
            let d = Double(y[i]) - Double(x[i])
            difference += d * d
            norm += Double(x[i]) * Double(x[i])
        }
        return norm > 0 ? (difference / norm).squareRoot() : difference.squareRoot()
    }

    /// Runs `checks` (those whose op contains `filter`, when given), calling `progress` after
    /// each, and returns every result.
    public static func runAll(_ checks: [DeviceCheck], on device: Device, seed: UInt64, filter: String? = nil,
                              progress: (Int, Int, DeviceCheckResult) -> Void = { _, _, _ in }) -> [DeviceCheckResult] {
        let selected = checks.filter { filter == nil || $0.op.contains(filter!) }
        var results: [DeviceCheckResult] = []
        for (index, check) in selected.enumerated() {
            let outcome = run(check, on: device, seed: seed &+ UInt64(index))
            results.append(outcome)
            progress(index + 1, selected.count, outcome)
        }
        return results
    }

    /// One line per op: cases, failures, the worst relative error and its tolerance, PASS/FAIL;
    /// then every failure with its label.
    public static func table(_ results: [DeviceCheckResult]) -> String {
        var order: [String] = []
        var byOp: [String: [DeviceCheckResult]] = [:]
        for r in results {
            if byOp[r.op] == nil { order.append(r.op) }
            byOp[r.op, default: []].append(r)
        }
        let width = max(24, order.map(\.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        var lines = [pad("op", width) + "  cases  failed  worst rel. error  tolerance  status"]
        for op in order {
            let rs = byOp[op]!
            let failed = rs.filter { $0.failure != nil }.count
            let worst = rs.map(\.worstError).max() ?? 0
            let worstText = worst.isFinite ? String(format: "%.2e", worst) : "—"
            lines.append(pad(op, width) + "  " + pad(String(rs.count), 5) + "  " + pad(String(failed), 6) + "  "
                         + pad(worstText, 16) + "  " + pad(String(format: "%.0e", rs[0].tolerance), 9) + "  "
                         + (failed == 0 ? "PASS" : "FAIL"))
        }
        let failures = results.filter { $0.failure != nil }
        let passed = results.count - failures.count
        lines.append("\(passed) passed, \(failures.count) failed")
        for f in failures { lines.append("FAIL \(f.op) [\(f.label)]: \(f.failure!)") }
        return lines.joined(separator: "\n")
    }
}
