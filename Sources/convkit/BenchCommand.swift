import ArgumentParser
import ConvKit
import Foundation

/// `convkit bench`: times every op's forward, input gradient and weight gradient on named
/// shapes, prints a table (ms, GFLOP/s or GB/s, peak extra memory) and writes JSON that
/// `scripts/bench_compare.py` sets beside PyTorch's figures for the same cases.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time forward and backward passes of every op on named shapes."
    )

    @Option(help: "Device to run on: cpu, cuda or cuda:N.")
    var device = "cpu"

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    @Option(help: "Run only cases whose name contains this text.")
    var filter: String?

    @Option(help: "Seconds to spend timing each case (after one warm-up run); at least 3 runs are timed.")
    var secondsPerCase = 0.5

    @Option(help: "GPU: timed runs per case (after 3 warm-up runs); the median is reported.")
    var runs = 25

    /// The most seconds per case and timed runs per case: more can only be a typing mistake.
    static let maximumSecondsPerCase = 3600.0, maximumRuns = 100_000

    func validate() throws {
        try runReportingErrors {
            guard secondsPerCase > 0 && secondsPerCase <= BenchCommand.maximumSecondsPerCase else {
                throw ConvKitError.invalidArgument(op: "bench", message: "--seconds-per-case must be positive and at most \(Int(BenchCommand.maximumSecondsPerCase)), got \(secondsPerCase)")
            }
            guard runs >= 1 && runs <= BenchCommand.maximumRuns else {
                throw ConvKitError.invalidArgument(op: "bench", message: "--runs must be in 1...\(BenchCommand.maximumRuns), got \(runs)")
            }
            _ = try parseDevice(device)
            if let json {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: json, isDirectory: &isDirectory), isDirectory.boolValue {
                    throw ConvKitError.io(path: json, message: "--json names a directory; give a file name for the results")
                }
                let parent = URL(fileURLWithPath: json).deletingLastPathComponent().path
                guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw ConvKitError.io(path: json, message: "cannot write the results: the directory \(parent) does not exist")
                }
            }
        }
    }

    func run() throws {
        try runReportingErrors {
            let target = try parseDevice(device)
            if case .cuda = target {
                try runOnGPU(target)
                return
            }
            let cases = try BenchmarkSuite.cpuCases().filter { filter == nil || $0.name.contains(filter!) }
            if cases.isEmpty { throw ConvKitError.invalidArgument(op: "bench", message: "no case matches the filter '\(filter ?? "")'") }
            print("ConvKit \(ConvKit.version) bench on \(device): \(cases.count) cases, median of ≥3 runs")
            print("BLAS: \(BLASInfo.current.description)\n")
            print("case".padding(toLength: 52, withPad: " ", startingAt: 0) + "      ms    GFLOP/s     GB/s   extra MB")
            var results: [[String: Any]] = []
            for benchCase in cases {
                let result = try benchCase.measure(secondsBudget: secondsPerCase)
                print(result.tableRow)
                results.append(result.json)
            }
            try writeJSON(["blas": BLASInfo.current.description, "results": results])
        }
    }

    /// Times the GPU cases with CUDA events (3 warm-ups, the median of `runs`).
    private func runOnGPU(_ target: Device) throws {
        let gpu = try CUDA.backend(target)
        let cases = try CUDABenchmarkSuite.cases(device: target).filter { filter == nil || $0.name.contains(filter!) }
        if cases.isEmpty { throw ConvKitError.invalidArgument(op: "bench", message: "no case matches the filter '\(filter ?? "")'") }
        print("ConvKit \(ConvKit.version) bench on \(target) (\(gpu.name)): \(cases.count) cases, CUDA events, median of \(runs) runs")
        print("GEMM: \(gpu.blasDescription)\n")
        var results: [[String: Any]] = []
        for benchCase in cases {
            let result = try benchCase.measure(on: gpu, runs: runs)
            print(result.tableRow)
            results.append(result.json)
        }
        try writeJSON(["gpu": gpu.name, "gemm": gpu.blasDescription, "results": results])
    }

    /// Writes the results document to `--json` when given (atomically).
    private func writeJSON(_ fields: [String: Any]) throws {
        guard let json else { return }
        var document: [String: Any] = [
            "engine": "convkit", "version": ConvKit.version, "device": device,
            "date": ISO8601DateFormatter().string(from: Date()),
        ]
        document.merge(fields) { _, new in new }
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        do { try data.write(to: URL(fileURLWithPath: json), options: .atomic) } catch {
            throw ConvKitError.io(path: json, message: "cannot write results: \(error.localizedDescription)")
        }
        print("\nwrote \(json)")
    }
}
