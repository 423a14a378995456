import ConvKit
import Foundation

/// One timed case: `prepare` runs untimed before every repetition (e.g. the forward pass whose
/// graph a backward case needs), `body` is what is timed.
struct BenchCase {
    /// Unique name, shared with the PyTorch script (`scripts/bench_torch_cpu.py`).
    var name: String
    /// Floating-point operations of one run (convolutions, GEMM), for GFLOP/s.
    var flops: Double?
    /// Bytes a memory-bound op must move (read + write), for GB/s.
    var bytes: Double?
    var prepare: () throws -> Void = {}
    var body: () throws -> Void

    /// Warm-up once, then time at least three runs (more while the budget lasts); the median.
    func measure(secondsBudget: Double) throws -> BenchResult {
        try prepare()
        ScratchMemory.resetPeak()
        try body()
        let extra = ScratchMemory.peakBytes
        var times: [Double] = []
        var spent = 0.0
        while times.count < 3 || (spent < secondsBudget && times.count < 1000) {
            try prepare()
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            times.append(t)
            spent += t
        }
        times.sort()
        return BenchResult(benchCase: self, seconds: times[times.count / 2], runs: times.count, extraBytes: extra)
    }
}

/// The median time of one case and the rates derived from it.
struct BenchResult {
    var benchCase: BenchCase
    var seconds: Double
    var runs: Int
    var extraBytes: Int

    var gflops: Double? { benchCase.flops.map { $0 / seconds / 1e9 } }
    var gbps: Double? { benchCase.bytes.map { $0 / seconds / 1e9 } }

    var tableRow: String {
        let name = benchCase.name.padding(toLength: 52, withPad: " ", startingAt: 0)
        let rate = gflops.map { String(format: "%10.1f", $0) } ?? String(repeating: " ", count: 9) + "-"
        let bandwidth = gbps.map { String(format: "%9.2f", $0) } ?? String(repeating: " ", count: 8) + "-"
        return name + String(format: "%8.3f", seconds * 1000) + " " + rate + " " + bandwidth + String(format: "%11.2f", Double(extraBytes) / 1e6)
    }

    var json: [String: Any] {
        var j: [String: Any] = ["name": benchCase.name, "ms": seconds * 1000, "runs": runs, "extra_bytes": extraBytes]
        if let gflops { j["gflops"] = gflops }
        if let gbps { j["gbps"] = gbps }
        return j
    }
}

/// The named shapes of the CPU benchmark (issue 2's list and one case for every other op).
enum BenchmarkSuite {
    struct ConvShape {
        var name: String, n: Int, cin: Int, cout: Int, k: Int, stride: Int, pad: Int, h: Int, groups: Int
    }

    static let convShapes = [
        ConvShape(name: "lenet.conv1 N64 1-6 k5 p2 28", n: 64, cin: 1, cout: 6, k: 5, stride: 1, pad: 2, h: 28, groups: 1),
        ConvShape(name: "lenet.conv2 N64 6-16 k5 14", n: 64, cin: 6, cout: 16, k: 5, stride: 1, pad: 0, h: 14, groups: 1),
        ConvShape(name: "alexnet.conv2 N8 64-192 k5 p2 27", n: 8, cin: 64, cout: 192, k: 5, stride: 1, pad: 2, h: 27, groups: 1),
        ConvShape(name: "alexnet.conv3 N8 192-384 k3 p1 13", n: 8, cin: 192, cout: 384, k: 3, stride: 1, pad: 1, h: 13, groups: 1),
        ConvShape(name: "3x3 N8 64-64 p1 56", n: 8, cin: 64, cout: 64, k: 3, stride: 1, pad: 1, h: 56, groups: 1),
        ConvShape(name: "depthwise3x3 N8 C128 p1 56", n: 8, cin: 128, cout: 128, k: 3, stride: 1, pad: 1, h: 56, groups: 128),
    ]

    static func cpuCases() throws -> [BenchCase] {
        RandomState.seed(1)
        var cases: [BenchCase] = []
        for shape in convShapes {
            let x = try Tensor.normal([shape.n, shape.cin, shape.h, shape.h])
            let w = try Tensor.normal([shape.cout, shape.cin / shape.groups, shape.k, shape.k], std: 0.1)
            let out = (shape.h + 2 * shape.pad - shape.k) / shape.stride + 1
            let flops = 2.0 * Double(shape.n * shape.cout * out * out * (shape.cin / shape.groups) * shape.k * shape.k)
            var algorithms: [ConvAlgorithm] = [.direct, .sparseMatrix, .im2colGEMM, .implicitGEMM]
            if shape.groups == shape.cin && shape.groups > 1 { algorithms.append(.depthwise) }
            if (shape.k == 3 || shape.k == 5) && shape.stride == 1 && shape.groups == 1 { algorithms.append(.winograd) }
            algorithms.append(.auto)
            for algorithm in algorithms {
                let run = { (inputs: [Tensor]) throws -> Tensor in
                    try conv2d(inputs[0], inputs[1], stride: Size2d(shape.stride), padding: .explicit(Size2d(shape.pad)),
                               groups: shape.groups, algorithm: algorithm)
                }
                cases += gradientCases("conv2d \(shape.name) [\(algorithm.rawValue)]", flops: flops, bytes: nil,
                                       inputs: [x, w], names: ["input", "weight"], run)
            }
        }
        cases += try otherOpCases()
        return cases
    }

    /// One timed run of a gradient benchmark: `prepare` untimed, then `body`.
    struct GradientRun {
        var name: String
        /// `false` for the forward run, `true` for a gradient run.
        var isBackward: Bool
        var prepare: () throws -> Void
        var body: () throws -> Void
    }

    /// The forward run (no graph recorded), then one run per named input computing that input's
    /// gradient alone (the other inputs frozen), for an upstream gradient of ones on the output's
    /// device. The CPU and GPU suites both build their cases from these.
    static func gradientRuns(_ name: String, inputs: [Tensor], names: [String],
                             _ op: @escaping ([Tensor]) throws -> Tensor) -> [GradientRun] {
        var runs = [GradientRun(name: "\(name) fwd", isBackward: false, prepare: {}, body: {
            _ = try withNoGrad { try op(inputs) }
        })]
        for (index, inputName) in names.enumerated() {
            var output: Tensor?
            var upstream: Tensor?
            let leaves = inputs.enumerated().map { i, t -> Tensor in
                let leaf = t.detach()
                leaf.requiresGrad = i == index
                return leaf
            }
            runs.append(GradientRun(
                name: "\(name) grad-\(inputName)", isBackward: true,
                prepare: {
                    leaves[index].grad = nil
                    output = try op(leaves)
                    if upstream == nil { upstream = try Tensor.ones(output!.shape, on: output!.device) }
                },
                body: { try output!.backward(gradient: upstream!) }))
        }
        return runs
    }

    /// Forward, then the gradient of each named input alone (the other inputs frozen).
    static func gradientCases(_ name: String, flops: Double?, bytes: Double?, backwardBytes: Double? = nil,
                              inputs: [Tensor], names: [String],
                              _ op: @escaping ([Tensor]) throws -> Tensor) -> [BenchCase] {
        gradientRuns(name, inputs: inputs, names: names, op).map { run in
            BenchCase(name: run.name, flops: flops, bytes: run.isBackward ? backwardBytes ?? bytes : bytes,
                      prepare: run.prepare, body: run.body)
        }
    }

    /// Convenience for ops of the form `f(x)`: bytes moved = input + output (+ gradients).
    static func unaryCases(_ name: String, _ x: Tensor, outputCount: Int, flops: Double? = nil,
                           _ op: @escaping (Tensor) throws -> Tensor) -> [BenchCase] {
        let fwdBytes = Double(4 * (x.count + outputCount))
        return gradientCases(name, flops: flops, bytes: fwdBytes, backwardBytes: Double(4 * (x.count + 2 * outputCount)),
                             inputs: [x], names: ["input"]) { try op($0[0]) }
    }

    static func otherOpCases() throws -> [BenchCase] {
        var cases: [BenchCase] = []
        let act = try Tensor.normal([8, 64, 55, 55])
        cases += unaryCases("maxPool2d k3 s2 N8 C64 55", act, outputCount: 8 * 64 * 27 * 27) {
            try maxPool2d($0, kernelSize: 3, stride: 2)
        }
        cases += unaryCases("avgPool2d k3 s2 N8 C64 55", act, outputCount: 8 * 64 * 27 * 27) {
            try avgPool2d($0, kernelSize: 3, stride: 2)
        }
        cases += unaryCases("relu N8 C64 55", act, outputCount: act.count) { try relu($0) }
        cases += unaryCases("dropout p0.5 N8 C64 55", act, outputCount: act.count) { try dropout($0, p: 0.5, seed: 7) }
        cases += unaryCases("localResponseNorm size5 N8 C64 55", act, outputCount: act.count) {
            try localResponseNorm($0, size: 5, alpha: 1e-4, beta: 0.75, k: 2)
        }
        let small = try Tensor.normal([8, 64, 56, 56])
        cases += unaryCases("pad reflect 1 N8 C64 56", small, outputCount: 8 * 64 * 58 * 58) {
            try pad($0, [1, 1, 1, 1], mode: .reflect)
        }
        let c5 = try Tensor.normal([8, 256, 13, 13])
        cases += unaryCases("adaptiveAvgPool2d 6 N8 C256 13", c5, outputCount: 8 * 256 * 36) {
            try adaptiveAvgPool2d($0, outputSize: 6)
        }
        for (rows, classes) in [(1024, 1000), (4096, 10)] {
            let logits = try Tensor.normal([rows, classes])
            cases += unaryCases("softmax \(rows)x\(classes)", logits, outputCount: logits.count) { try softmax($0, dim: 1) }
        }
        for (rows, classes) in [(4096, 10), (1024, 1000)] {
            let logits = try Tensor.normal([rows, classes])
            let target = try Tensor(indices: (0..<rows).map { Int32(($0 * 7) % classes) })
            cases += gradientCases("crossEntropy \(rows)x\(classes)", flops: nil, bytes: Double(4 * (logits.count + rows)),
                                   backwardBytes: Double(4 * (2 * logits.count + rows)), inputs: [logits], names: ["input"]) {
                try crossEntropy($0[0], target)
            }
        }
        let features = try Tensor.normal([64, 4096]), fcWeight = try Tensor.normal([4096, 4096], std: 0.01)
        cases += gradientCases("linear N64 4096-4096", flops: 2.0 * 64 * 4096 * 4096, bytes: nil,
                               inputs: [features, fcWeight], names: ["input", "weight"]) { try linear($0[0], $0[1]) }
        let up = try Tensor.normal([8, 64, 28, 28]), upWeight = try Tensor.normal([64, 32, 4, 4], std: 0.05)
        cases += gradientCases("convTranspose2d N8 64-32 k4 s2 p1 28", flops: 2.0 * 8 * 64 * 28 * 28 * 32 * 16, bytes: nil,
                               inputs: [up, upWeight], names: ["input", "weight"]) {
            try convTranspose2d($0[0], $0[1], stride: 2, padding: 1)
        }
        let a = try Tensor.normal([512, 512]), b = try Tensor.normal([512, 512])
        cases += gradientCases("matmul 512x512x512", flops: 2.0 * 512 * 512 * 512, bytes: nil,
                               inputs: [a, b], names: ["a", "b"]) { try matmul($0[0], $0[1]) }
        return cases
    }
}
