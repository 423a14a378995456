import ConvKit
import Foundation

/// One GPU case: `prepare` runs untimed before every repetition (the forward pass a backward
/// case needs), `body` is timed with CUDA events on the device's stream.
struct CUDABenchCase {
    /// Unique name, shared with `scripts/bench_torch_cuda.py`.
    var name: String
    /// Floating-point operations of one run, for TFLOP/s.
    var flops: Double?
    /// Bytes a memory-bound op must move (read + write), for GB/s.
    var bytes: Double?
    /// Strict fp32 (`false`) or TF32 tensor-core GEMMs (`true`) while the case runs.
    var tf32 = false
    var prepare: () throws -> Void = {}
    var body: () throws -> Void

    /// Warm-up (compilation, allocator, cuBLAS heuristics) for `warmups` runs, then `runs`
    /// timed runs, each between two CUDA events; the median. The peak of the allocator's bytes in
    /// live tensors over the timed runs counts every tensor alive at the time, the other cases' included.
    /// Also the median host time of `body` (queueing its work, up to the end event): where it is
    /// close to the event time, the GPU waited for the host.
    func measure(on backend: CUDABackend, warmups: Int = 3, runs: Int) throws -> CUDABenchResult {
        backend.allowTF32 = tf32
        defer { backend.allowTF32 = false }
        for _ in 0..<warmups {
            try prepare()
            try body()
        }
        try backend.synchronize()
        backend.resetPeakMemory()
        var times: [Double] = [], hostTimes: [Double] = []
        for _ in 0..<max(runs, 1) {
            try prepare()
            times.append(try backend.time {
                let start = DispatchTime.now().uptimeNanoseconds
                try body()
                hostTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            })
        }
        times.sort()
        hostTimes.sort()
        return CUDABenchResult(benchCase: self, milliseconds: times[times.count / 2], runs: times.count,
                               hostMilliseconds: hostTimes[hostTimes.count / 2], peakBytes: backend.memoryStatistics.peak)
    }
}

/// The median time of one GPU case and the rates derived from it.
struct CUDABenchResult {
    var benchCase: CUDABenchCase
    var milliseconds: Double
    var runs: Int
    /// The median host time of one run's `body` (ms).
    var hostMilliseconds: Double
    /// The most bytes in live device tensors at once while the case ran (its inputs included).
    var peakBytes: Int

    var tflops: Double? { benchCase.flops.map { $0 / milliseconds / 1e9 } }
    var gbps: Double? { benchCase.bytes.map { $0 / milliseconds / 1e6 } }

    var tableRow: String {
        let name = benchCase.name.padding(toLength: 60, withPad: " ", startingAt: 0)
        let rate = tflops.map { String(format: "%9.1f TFLOP/s", $0) } ?? gbps.map { String(format: "%9.0f GB/s   ", $0) } ?? ""
        return name + String(format: "%10.4f ms ", milliseconds) + rate
            + String(format: "%10.1f MiB peak", Double(peakBytes) / 1_048_576)
    }

    var json: [String: Any] {
        var j: [String: Any] = ["name": benchCase.name, "ms": milliseconds, "runs": runs, "host_ms": hostMilliseconds,
                                "peak_bytes": peakBytes]
        if let tflops { j["tflops"] = tflops }
        if let gbps { j["gbps"] = gbps }
        return j
    }
}

/// The named GPU cases of issue 4's side-by-side table; `scripts/bench_torch_cuda.py` builds the
/// same cases in PyTorch under the same names.
enum CUDABenchmarkSuite {
    struct ConvShape {
        var name: String, n: Int, cin: Int, cout: Int, k: Int, stride: Int, pad: Int, h: Int, groups: Int
        var outSize: Int { (h + 2 * pad - k) / stride + 1 }
        var flops: Double { 2.0 * Double(n * cout * outSize * outSize) * Double(cin / groups * k * k) }
    }

    /// AlexNet's five convolutions and two ResNet-style 3×3 layers, batch 128.
    static let convShapes = [
        ConvShape(name: "alexnet.conv1 N128 3-64 k11 s4 p2 224", n: 128, cin: 3, cout: 64, k: 11, stride: 4, pad: 2, h: 224, groups: 1),
        ConvShape(name: "alexnet.conv2 N128 64-192 k5 p2 27", n: 128, cin: 64, cout: 192, k: 5, stride: 1, pad: 2, h: 27, groups: 1),
        ConvShape(name: "alexnet.conv3 N128 192-384 k3 p1 13", n: 128, cin: 192, cout: 384, k: 3, stride: 1, pad: 1, h: 13, groups: 1),
        ConvShape(name: "alexnet.conv4 N128 384-256 k3 p1 13", n: 128, cin: 384, cout: 256, k: 3, stride: 1, pad: 1, h: 13, groups: 1),
        ConvShape(name: "alexnet.conv5 N128 256-256 k3 p1 13", n: 128, cin: 256, cout: 256, k: 3, stride: 1, pad: 1, h: 13, groups: 1),
        ConvShape(name: "3x3 N128 64-64 p1 56", n: 128, cin: 64, cout: 64, k: 3, stride: 1, pad: 1, h: 56, groups: 1),
        ConvShape(name: "3x3 N128 256-256 p1 14", n: 128, cin: 256, cout: 256, k: 3, stride: 1, pad: 1, h: 14, groups: 1),
    ]

    /// LeNet-5's convolutions at the training step's batch of 256.
    static let lenetShapes = [
        ConvShape(name: "conv1 N256 1-6 k5 p2 28", n: 256, cin: 1, cout: 6, k: 5, stride: 1, pad: 2, h: 28, groups: 1),
        ConvShape(name: "conv2 N256 6-16 k5 14", n: 256, cin: 6, cout: 16, k: 5, stride: 1, pad: 0, h: 14, groups: 1),
    ]

    /// MobileNet's depthwise 3×3 layers, batch 128.
    static let depthwiseShapes = [
        ConvShape(name: "depthwise3x3 N128 C32 s1 112", n: 128, cin: 32, cout: 32, k: 3, stride: 1, pad: 1, h: 112, groups: 32),
        ConvShape(name: "depthwise3x3 N128 C64 s2 112", n: 128, cin: 64, cout: 64, k: 3, stride: 2, pad: 1, h: 112, groups: 64),
        ConvShape(name: "depthwise3x3 N128 C128 s1 56", n: 128, cin: 128, cout: 128, k: 3, stride: 1, pad: 1, h: 56, groups: 128),
        ConvShape(name: "depthwise3x3 N128 C256 s1 28", n: 128, cin: 256, cout: 256, k: 3, stride: 1, pad: 1, h: 28, groups: 256),
        ConvShape(name: "depthwise3x3 N128 C512 s1 14", n: 128, cin: 512, cout: 512, k: 3, stride: 1, pad: 1, h: 14, groups: 512),
        ConvShape(name: "depthwise3x3 N128 C1024 s1 7", n: 128, cin: 1024, cout: 1024, k: 3, stride: 1, pad: 1, h: 7, groups: 1024),
    ]

    static func cases(device: Device) throws -> [CUDABenchCase] {
        RandomState.seed(1)
        var cases: [CUDABenchCase] = []
        for shape in convShapes {
            let x = try Tensor.normal([shape.n, shape.cin, shape.h, shape.h], on: device)
            let w = try Tensor.normal([shape.cout, shape.cin, shape.k, shape.k], std: 0.05, on: device)
            var variants: [(ConvAlgorithm, Bool)] = [(.auto, false), (.implicitGEMM, false), (.auto, true), (.implicitGEMM, true)]
            if (shape.k == 3 || shape.k == 5) && shape.stride == 1 && shape.groups == 1 { variants += [(.winograd, false), (.winograd, true)] }
            if shape.stride == 1 && shape.groups == 1 && shape.k <= 16 { variants += [(.fft, false), (.fft, true)] }
            for (algorithm, tf32) in variants {
                let label = "conv2d \(shape.name) [\(algorithm.rawValue)]\(tf32 ? " tf32" : "")"
                cases += gradientCases(label, flops: shape.flops, bytes: nil, tf32: tf32, inputs: [x, w],
                                       names: ["input", "weight"]) { inputs in
                    try conv2d(inputs[0], inputs[1], stride: Size2d(shape.stride), padding: .explicit(Size2d(shape.pad)),
                               algorithm: algorithm)
                }
            }
        }
        // LeNet-5's two layers under each algorithm that runs them, strict fp32: what `.auto` should
        // choose for small layers (no PyTorch counterpart; not in the issue's tables).
        for shape in lenetShapes {
            let x = try Tensor.normal([shape.n, shape.cin, shape.h, shape.h], on: device)
            let w = try Tensor.normal([shape.cout, shape.cin, shape.k, shape.k], std: 0.05, on: device)
            for algorithm in [ConvAlgorithm.auto, .im2colGEMM, .direct, .implicitGEMM] {
                cases += gradientCases("lenet-layer \(shape.name) (\(algorithm.rawValue))", flops: shape.flops, bytes: nil,
                                       inputs: [x, w], names: ["input", "weight"]) { inputs in
                    try conv2d(inputs[0], inputs[1], stride: Size2d(shape.stride), padding: .explicit(Size2d(shape.pad)),
                               algorithm: algorithm)
                }
            }
        }
        for shape in depthwiseShapes {
            let x = try Tensor.normal([shape.n, shape.cin, shape.h, shape.h], on: device)
            let w = try Tensor.normal([shape.cout, 1, 3, 3], std: 0.3, on: device)
            let out = shape.outSize
            let bytes = 4.0 * Double(x.count + shape.n * shape.cout * out * out + w.count)
            cases += gradientCases("conv2d \(shape.name) [depthwise]", flops: nil, bytes: bytes, inputs: [x, w],
                                   names: ["input", "weight"]) { inputs in
                try conv2d(inputs[0], inputs[1], stride: Size2d(shape.stride), padding: .explicit(Size2d(shape.pad)),
                           groups: shape.groups, algorithm: .depthwise)
            }
        }
        for (label, shape, kernel) in [("k3 s2 N128 C64 55", [128, 64, 55, 55], 3), ("k2 s2 N128 C64 224", [128, 64, 224, 224], 2)] {
            let x = try Tensor.normal(shape, on: device)
            let outSize = (shape[2] - kernel) / 2 + 1
            let outCount = shape[0] * shape[1] * outSize * outSize
            // Forward: read the input, write the output; backward: read the gradient and the
            // indices, write the input gradient.
            cases += gradientCases("maxPool2d \(label)", flops: nil, bytes: 4.0 * Double(x.count + outCount),
                                   backwardBytes: 4.0 * Double(x.count + 2 * outCount), inputs: [x], names: ["input"]) {
                try maxPool2d($0[0], kernelSize: Size2d(kernel), stride: 2)
            }
        }
        for (rows, classes) in [(65536, 10), (8192, 1000), (4096, 32000)] {
            let logits = try Tensor.normal([rows, classes], on: device)
            cases += gradientCases("softmax \(rows)x\(classes)", flops: nil, bytes: 8.0 * Double(logits.count),
                                   backwardBytes: 12.0 * Double(logits.count), inputs: [logits], names: ["input"]) {
                try softmax($0[0], dim: 1)
            }
            let target = try Tensor(indices: (0..<rows).map { Int32(($0 * 7) % classes) }, on: device)
            cases += gradientCases("crossEntropy \(rows)x\(classes)", flops: nil, bytes: 4.0 * Double(logits.count + rows),
                                   backwardBytes: 8.0 * Double(logits.count), inputs: [logits], names: ["input"]) {
                try crossEntropy($0[0], target)
            }
        }
        // The fixed cost of one op between two events (checks, output, launch): a one-element add.
        let one = try Tensor.normal([1], on: device)
        cases.append(CUDABenchCase(name: "add 1 element (launch floor) fwd", body: { _ = try one + one }))
        cases += try trainingStepCases(device: device)
        return cases
    }

    /// A whole training step (forward, cross-entropy, backward, SGD with momentum) of AlexNet at
    /// batch 128 on 224×224 (fp32 and TF32) and of LeNet-5 at batch 256 on 28×28.
    static func trainingStepCases(device: Device) throws -> [CUDABenchCase] {
        var cases: [CUDABenchCase] = []
        let alexnet = try AlexNet(classes: 1000)
        try alexnet.to(device)
        let alexnetStep = try trainingStep(model: alexnet, batch: 128, inputShape: [3, 224, 224], classes: 1000, device: device)
        cases.append(CUDABenchCase(name: "train-step alexnet N128 224", body: alexnetStep))
        cases.append(CUDABenchCase(name: "train-step alexnet N128 224 tf32", tf32: true, body: alexnetStep))
        let lenet = try LeNet5(classes: 10, inputChannels: 1)
        try lenet.to(device)
        let lenetStep = try trainingStep(model: lenet, batch: 256, inputShape: [1, 28, 28], classes: 10, device: device)
        cases.append(CUDABenchCase(name: "train-step lenet5 N256 28", body: lenetStep))
        return cases
    }

    /// One SGD (momentum 0.9) step on a fixed random batch already on the device.
    static func trainingStep(model: Module, batch: Int, inputShape: [Int], classes: Int,
                             device: Device) throws -> () throws -> Void {
        model.train()
        let images = try Tensor.normal([batch] + inputShape, on: device)
        let labels = try Tensor(indices: (0..<batch).map { Int32($0 % classes) }, on: device)
        let optimizer = try SGD(parameters: model.parameters(), learningRate: 0.01, momentum: 0.9)
        return {
            optimizer.zeroGrad()
            let loss = try crossEntropy(try model(images), labels)
            try loss.backward()
            try optimizer.step()
        }
    }

    /// Forward, then the gradient of each named input alone (the other inputs frozen), as the
    /// CPU suite's `BenchmarkSuite.gradientRuns`.
    static func gradientCases(_ name: String, flops: Double?, bytes: Double?, backwardBytes: Double? = nil, tf32: Bool = false,
                              inputs: [Tensor], names: [String],
                              _ op: @escaping ([Tensor]) throws -> Tensor) -> [CUDABenchCase] {
        BenchmarkSuite.gradientRuns(name, inputs: inputs, names: names, op).map { run in
            CUDABenchCase(name: run.name, flops: flops, bytes: run.isBackward ? backwardBytes ?? bytes : bytes, tf32: tf32,
                          prepare: run.prepare, body: run.body)
        }
    }
}
