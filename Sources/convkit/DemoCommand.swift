import ArgumentParser
import ConvKit
import Foundation

/// `convkit demo`: one forward and backward pass through every layer of the chapter, with
/// each convolution algorithm checked against the others.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a forward and backward pass through every layer and cross-check the convolution algorithms."
    )

    /// The largest demo batch: the demo shows the layers, a bigger batch only takes longer.
    static let maximumBatchSize = 4096

    @Option(help: "Batch size of the random input (at most 4096).")
    var batchSize = 8

    @Option(help: "Seed of the random input and weights.")
    var seed: UInt64 = 0

    func run() throws {
        try runReportingErrors {
            try runDemo()
        }
    }

    private func runDemo() throws {
        guard batchSize > 0 else { throw ConvKitError.invalidArgument(op: "demo", message: "--batch-size must be positive, got \(batchSize)") }
        guard batchSize <= DemoCommand.maximumBatchSize else {
            throw ConvKitError.invalidArgument(op: "demo", message: "--batch-size must be at most \(DemoCommand.maximumBatchSize), got \(batchSize)")
        }
        RandomState.seed(seed)
        let n = batchSize
        print("ConvKit \(ConvKit.version) demo: a small AlexNet-shaped network on random 1×28×28 images, batch \(n)\n")
        let x = try Tensor.normal([n, 1, 28, 28], requiresGrad: true)
        let labels = try Tensor(indices: (0..<n).map { Int32($0 % 10) })

        func parameter(_ shape: [Int], fanIn: Int) throws -> Tensor {
            let bound = 1 / Float(fanIn).squareRoot()
            return try Tensor.uniform(shape, low: -bound, high: bound, requiresGrad: true)
        }
        let w1 = try parameter([16, 1, 5, 5], fanIn: 25), b1 = try parameter([16], fanIn: 25)
        let wDepthwise = try parameter([16, 1, 3, 3], fanIn: 9)
        let w2 = try parameter([32, 8, 3, 3], fanIn: 72), b2 = try parameter([32], fanIn: 72)
        let wUp = try parameter([32, 16, 2, 2], fanIn: 64)
        let wFC = try parameter([10, 16 * 4 * 4], fanIn: 256), bFC = try parameter([10], fanIn: 256)

        var rows: [(String, [Int])] = []
        func step(_ name: String, _ t: Tensor) -> Tensor { rows.append((name, t.shape)); return t }

        let start = Date()
        var h = step("pad (reflect 2)", try pad(x, [2, 2, 2, 2], mode: .reflect))
        h = step("conv2d 1→16 k5", try conv2d(h, w1, bias: b1))
        h = step("relu", try relu(h))
        h = step("localResponseNorm", try localResponseNorm(h, size: 5, alpha: 1e-4, beta: 0.75, k: 2))
        h = step("maxPool2d k3 s2 ceil", try maxPool2d(h, kernelSize: 3, stride: 2, ceilMode: true))
        h = step("depthwise conv2d k3", try conv2d(h, wDepthwise, padding: .same, groups: 16))
        h = step("conv2d 16→32 k3 groups 2", try conv2d(h, w2, bias: b2, padding: 1, groups: 2))
        h = step("relu", try relu(h))
        h = step("avgPool2d k2", try avgPool2d(h, kernelSize: 2))
        h = step("convTranspose2d 32→16 k2 s2", try convTranspose2d(h, wUp, stride: 2))
        h = step("adaptiveAvgPool2d 4×4", try adaptiveAvgPool2d(h, outputSize: 4))
        h = step("dropout p=0.25", try dropout(h, p: 0.25, training: true))
        h = step("flatten", try h.flatten(startDim: 1))
        let logits = step("linear 256→10", try linear(h, wFC, bias: bFC))
        let loss = try crossEntropy(logits, labels, labelSmoothing: 0.1)
        let probabilities = try softmax(logits, dim: 1)
        try loss.backward()
        let seconds = Date().timeIntervalSince(start)

        for (name, shape) in rows {
            print("  \(name.padding(toLength: 30, withPad: " ", startingAt: 0)) → \(shape)")
        }
        print(String(format: "\n  cross-entropy loss %.4f (ln 10 = %.4f for an untrained net)", try loss.item(), log(10.0)))
        let p = try probabilities.toArray()
        print(String(format: "  softmax rows sum to %.6f", p[0..<10].reduce(0, +)))
        for (name, t) in [("input", x), ("conv1.weight", w1), ("depthwise.weight", wDepthwise),
                          ("conv2.weight", w2), ("up.weight", wUp), ("fc.weight", wFC)] {
            let g = try t.grad!.toArray()
            print(String(format: "  ‖∂loss/∂%@‖ = %.3e", name, g.map { Double($0 * $0) }.reduce(0, +).squareRoot()))
        }
        print(String(format: "  forward + backward: %.1f ms\n", seconds * 1000))

        print("Convolution algorithms on this network's second layer (forward), checked against `direct`:")
        let input = try Tensor.normal([n, 16, 12, 12])
        let reference = try conv2d(input, w2.detach(), padding: 1, groups: 2, algorithm: .direct).toArray()
        for algorithm in [ConvAlgorithm.sparseMatrix, .im2colGEMM, .implicitGEMM, .auto] {
            let out = try conv2d(input, w2.detach(), padding: 1, groups: 2, algorithm: algorithm).toArray()
            var diff = 0.0, norm = 0.0
            for (a, b) in zip(out, reference) { diff += Double(a - b) * Double(a - b); norm += Double(b * b) }
            print(String(format: "  %@ relative difference %.2e", algorithm.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0), (diff / norm).squareRoot()))
        }
    }
}
