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

    func run() throws {
        try runReportingErrors {
            let target = try parseDevice(device)
            if case .cuda = target {
                try runOnGPU(target)
                return
            }
            guard secondsPerCase > 0 else {
                throw ConvKitError.invalidArgument(op: "bench", message: "--seconds-per-case must be positive")
            }
            let cases = try BenchmarkSuite.cpuCases().filter { filter == nil || $0.name.contains(filter!) }
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
        guard runs >= 1 else { throw ConvKitError.invalidArgument(op: "bench", message: "--runs must be at least 1") }
        let gpu = try CUDA.backend(target)
        let cases = try CUDABenchmarkSuite.cases(device: target).filter { filter == nil || $0.name.contains(filter!) }
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
