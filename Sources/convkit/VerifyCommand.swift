import ArgumentParser
import ConvKit
import Foundation

/// `convkit verify`: runs every op, forward and backward, on a GPU and on the CPU with the same
/// random inputs over many shapes and arguments, prints a pass/fail table with the worst relative
/// error per op, and exits non-zero when any check fails.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every op on a device against the CPU (forward and backward)."
    )

    @Option(help: "Device to check against the CPU: cuda or cuda:N.")
    var device = "cuda"

    @Option(help: "Run only checks whose op contains this text.")
    var filter: String?

    @Option(help: "Also replay the PyTorch fixtures in this directory on the device (e.g. Tests/ConvKitTests/Fixtures).")
    var fixtures: String?

    @Option(help: "Seed of the random shapes and inputs.")
    var seed: UInt64 = 1

    @Flag(help: "Print every check as it finishes.")
    var verbose = false

    @Flag(help: "Skip the runtime error-path checks (out of memory, bad launches), e.g. under compute-sanitizer, which reports the planted API errors.")
    var skipRuntimeChecks = false

    func run() throws {
        try runReportingErrors {
            let target = try parseDevice(device)
            guard case .cuda = target else {
                throw ConvKitError.invalidArgument(op: "verify", message: "--device must be a CUDA device (cuda or cuda:N), got '\(device)'")
            }
            let backend = try CUDA.backend(target)
            // Unwritten output shows up as NaN; CONVKIT_POISON_MEMORY=0 leaves memory as the
            // allocator gives it (for compute-sanitizer's initcheck, which a fill would blind).
            backend.poisonsUninitializedMemory = ProcessInfo.processInfo.environment["CONVKIT_POISON_MEMORY"] != "0"
            print("ConvKit \(ConvKit.version) verify: \(target) (\(backend.name), sm_\(backend.computeCapability)) against the CPU")
            print("\(CUDA.compilerDescription); \(backend.blasDescription)")
            let checks = DeviceVerification.allChecks(seed: seed)
            func report(_ done: Int, _ total: Int, _ result: DeviceCheckResult) {
                if verbose || result.failure != nil {
                    let status = result.failure == nil ? "ok  " : "FAIL"
                    print(String(format: "[%4d/%d] %@ %@ [%@] %.2e (%.2fs)%@", done, total, status, result.op, result.label,
                                 result.worstError, result.seconds, result.failure.map { ": " + $0 } ?? ""))
                }
            }
            var results = DeviceVerification.runAll(checks, on: target, seed: seed, filter: filter, progress: report)
            if let fixtures {
                let replayed = try PyTorchFixtures.replay(directory: URL(fileURLWithPath: fixtures), on: target)
                    .filter { filter == nil || $0.op.contains(filter!) }
                for (index, result) in replayed.enumerated() { report(index + 1, replayed.count, result) }
                results += replayed
            }
            print(DeviceVerification.table(results))
            if results.isEmpty {
                throw ConvKitError.invalidArgument(op: "verify", message: "no check matches the filter '\(filter ?? "")'")
            }
            var runtimeFailed = false
            if filter == nil && !skipRuntimeChecks {
                print("runtime:")
                for (name, failure) in CUDARuntimeChecks.run(on: target) {
                    print("  \(failure == nil ? "PASS" : "FAIL") \(name)\(failure.map { ": " + $0 } ?? "")")
                    runtimeFailed = runtimeFailed || failure != nil
                }
            }
            if runtimeFailed || results.contains(where: { $0.failure != nil }) { throw ExitCode(1) }
        }
    }
}

/// `cpu`, `cuda`, `cuda:N` as a `Device`.
func parseDevice(_ name: String) throws -> Device {
    if name == "cpu" { return .cpu }
    if name == "cuda" { return .cuda(0) }
    if name.hasPrefix("cuda:"), let index = Int(name.dropFirst(5)), index >= 0 { return .cuda(index) }
    throw ConvKitError.invalidArgument(op: "device", message: "unknown device '\(name)' (expected cpu, cuda or cuda:N)")
}
