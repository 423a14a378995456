import XCTest
@testable import ConvKit

final class NNCrossEntropyTests: XCTestCase {
    /// Every combination of shape × target kind × weights × ignore index × reduction × smoothing:
    /// forward against the Float64 reference, gradients against its finite differences.
    func testEveryOptionCombinationMatchesReference() throws {
        let shapes: [[Int]] = [[3, 4], [2, 3, 2], [4], [2, 3, 2, 1]]
        var seed: UInt64 = 1000
        var cases = 0
        for shape in shapes {
            let classDim = shape.count == 1 ? 0 : 1
            let classes = shape[classDim]
            let layout = classDim == 0 ? ReductionLayout(outer: 1, dim: classes, inner: 1) : ReductionLayout(shape: shape, axis: 1)
            var rowShape = shape
            rowShape.remove(at: classDim)
            for probabilities in [false, true] {
                for useWeight in [false, true] {
                    // 0: nothing ignored; 1: some targets are -100 (the default); 2: ignoreIndex 1, a real class.
                    for ignoreMode in probabilities ? [0] : [0, 1, 2] {
                        for reduction in Reduction.allCases {
                            for smoothing in [0, 0.2, 1] as [Float] {
                                seed += 10
                                cases += 1
                                try checkCase(shape: shape, rowShape: rowShape, layout: layout, probabilities: probabilities,
                                              useWeight: useWeight, ignoreMode: ignoreMode, reduction: reduction,
                                              smoothing: smoothing, seed: seed)
                            }
                        }
                    }
                }
            }
        }
        XCTAssertEqual(cases, 4 * (2 * 3 * 3 * 3 + 2 * 3 * 3))
    }

    private func checkCase(shape: [Int], rowShape: [Int], layout: ReductionLayout, probabilities: Bool, useWeight: Bool,
                           ignoreMode: Int, reduction: Reduction, smoothing: Float, seed: UInt64) throws {
        let classes = layout.dim, rows = layout.rows
        let logits = try nnRandomTensor(shape, seed: seed, scale: 3)
        let weightValues = randomValues(classes, seed: seed + 1).map { $0 * 0.9 + 1.1 }
        let weight = useWeight ? try Tensor(weightValues, shape: [classes]) : nil
        var ignoreIndex = -100
        let target: Tensor
        let referenceTarget: NNReference.Target
        if probabilities {
            let q = randomValues(layout.count, seed: seed + 2).map { ($0 + 1) / 2 }
            target = try Tensor(q, shape: shape, requiresGrad: true)
            referenceTarget = .probabilities(nnDoubles(q))
        } else {
            var rng = TestRNG(seed: seed + 3)
            var t = (0..<rows).map { _ in rng.int(0...(classes - 1)) }
            if ignoreMode == 1 { t[rows - 1] = -100; if rows > 2 { t[0] = -100 } }
            if ignoreMode == 2 { ignoreIndex = 1; t[0] = 1 }
            target = try Tensor(indices: t.map { Int32($0) }, shape: rowShape)
            referenceTarget = .indices(t)
        }
        let message = "shape \(shape) probabilities \(probabilities) weight \(useWeight) ignore \(ignoreMode) \(reduction) ε \(smoothing)"
        let loss = try crossEntropy(logits, target, weight: weight, ignoreIndex: ignoreIndex, reduction: reduction, labelSmoothing: smoothing)
        XCTAssertEqual(loss.shape, reduction == .none ? rowShape : [], message)
        let xs = nnDoubles(try logits.toArray())
        let ws = useWeight ? nnDoubles(weightValues) : nil
        let f = { (x: [Double], t: NNReference.Target) in
            NNReference.crossEntropy(x, outer: layout.outer, classes: classes, inner: layout.inner, target: t, weight: ws,
                                     ignoreIndex: ignoreIndex, reduction: reduction, labelSmoothing: Double(smoothing))
        }
        let expected = f(xs, referenceTarget)
        assertClose(try loss.toArray(), expected, message)

        let upstream = randomValues(loss.count, seed: seed + 4)
        try nnBackward(loss, upstream: upstream)
        if expected.contains(where: { $0.isNaN }) {
            XCTAssertTrue(try logits.grad!.toArray().allSatisfy { $0 == 0 }, "all rows ignored: zero gradient \(message)")
            return
        }
        let up = nnDoubles(upstream)
        assertClose(try logits.grad!.toArray(), numericGradient(at: xs, upstream: up) { f($0, referenceTarget) },
                    tolerance: 1e-4, "dLogits " + message)
        if case let .probabilities(q) = referenceTarget {
            assertClose(try target.grad!.toArray(), numericGradient(at: q, upstream: up) { f(xs, .probabilities($0)) },
                        tolerance: 1e-4, "dTarget " + message)
        }
    }

    func testGradientIsSoftmaxMinusOneHotOverN() throws {
        let logits = try Tensor([1, 2, 3, 0, 0, 0], shape: [2, 3], requiresGrad: true)
        let loss = try crossEntropy(logits, try Tensor(indices: [2, 0]))
        try loss.backward()
        let p = NNReference.softmax([1, 2, 3, 0, 0, 0], outer: 2, dim: 3, inner: 1)
        let expected = p.indices.map { i in (p[i] - (i == 2 || i == 3 ? 1 : 0)) / 2 }
        assertClose(try logits.grad!.toArray(), expected)
    }

    func testMeanOverNoRowsIsNaNWithZeroGradient() throws {
        let logits = try nnRandomTensor([3, 4], seed: 5)
        for smoothing: Float in [0, 0.1] {
            logits.grad = nil
            let loss = try crossEntropy(logits, try Tensor(indices: [-100, -100, -100]), labelSmoothing: smoothing)
            XCTAssertTrue(try loss.item().isNaN)
            try loss.backward()
            XCTAssertEqual(try logits.grad!.toArray(), [Float](repeating: 0, count: 12))
        }
        XCTAssertTrue(try crossEntropy(try Tensor.zeros([0, 4]), try Tensor(indices: [], shape: [0])).item().isNaN)
        XCTAssertEqual(try crossEntropy(try Tensor.zeros([0, 4]), try Tensor(indices: [], shape: [0]), reduction: .sum).item(), 0)
        XCTAssertEqual(try crossEntropy(try Tensor.zeros([0, 4]), try Tensor(indices: [], shape: [0]), reduction: .none).shape, [0])
    }

    func testHugeLogitsGiveFiniteLossAndGradient() throws {
        let logits = try Tensor([1e4, -1e4, 0, 5e3, 1e4, 1e4], shape: [2, 3], requiresGrad: true)
        let loss = try crossEntropy(logits, try Tensor(indices: [1, 0]), labelSmoothing: 0.1)
        let expected = NNReference.crossEntropy([1e4, -1e4, 0, 5e3, 1e4, 1e4], outer: 2, classes: 3, inner: 1, target: .indices([1, 0]),
                                                weight: nil, ignoreIndex: -100, reduction: .mean, labelSmoothing: 0.1)
        assertClose([try loss.item()], expected)
        try loss.backward()
        XCTAssertTrue(try logits.grad!.toArray().allSatisfy { $0.isFinite })
    }

    func testMatchesPyTorch() throws {
        // Values from torch.nn.functional.cross_entropy (torch 2.15, float64) on x = sin(0.7i+0.3)·3.
        let w = try Tensor([0.5, 2, 1, 3])
        let x = try Tensor(nnPinnedValues(20), shape: [5, 4], requiresGrad: true)
        let loss = try crossEntropy(x, try Tensor(indices: [1, -100, 3, 0, 2]), weight: w, labelSmoothing: 0.3)
        assertClose([try loss.item()], [1.30848419])
        try loss.backward()
        assertClose(try x.grad!.toArray(), [0.0109747705, -0.152328557, 0.123623514, 0.017730273, 0, 0, 0, 0, -0.00208013476, 0.0057593919, 0.133691917, -0.137371174, 0.0499850421, -0.00692143431, -0.00923889273, -0.033824715, -0.00495585633, -0.0192383336, -0.0892001912, 0.113394381])

        let x2 = try Tensor(nnPinnedValues(20), shape: [5, 4], requiresGrad: true)
        let perRow = try crossEntropy(x2, try Tensor(indices: [1, 0, 3, 0, 2]), weight: w, ignoreIndex: 2, reduction: .none, labelSmoothing: 0.1)
        assertClose(try nnBackward(perRow, upstream: nnPinnedValues(5, 0.3, 0.1, 1)), [2.43161392, 0.519340649, 1.85655084, 0.661299704, 0])
        assertClose(try x2.grad!.toArray(), [0.0100492934, -0.126577726, 0.0886982192, 0.0278302135, 0.010683091, 0.00739484883, -0.000765902755, -0.0173120371, 0.00903684736, 0.101372025, 0.656667642, -0.767076514, 0.049235295, 0.0225504575, -0.0118382074, -0.0599475451, 0, 0, 0, 0])

        // Spatial [2, 3, 2] logits with probability targets (softmax of sin(0.4i+1)·1.5 over classes), weights, smoothing.
        let q = try Tensor([0.352992853, 0.488115865, 0.43052818, 0.374324406, 0.216478967, 0.13755973, 0.573041633, 0.42561678, 0.227444526, 0.240036188, 0.199513841, 0.334347031],
                           shape: [2, 3, 2], requiresGrad: true)
        let x3 = try Tensor(nnPinnedValues(12, 0.9, 0.2, 2), shape: [2, 3, 2], requiresGrad: true)
        let soft = try crossEntropy(x3, q, weight: try Tensor([1.5, 0.5, 2]), labelSmoothing: 0.2)
        assertClose([try soft.item()], [2.75933381])
        try soft.backward()
        assertClose(try x3.grad!.toArray(), [-0.074304539, 0.0646561394, 0.183041519, 0.0183250265, -0.10873698, -0.0829811659, -0.184661982, -0.084155382, 0.230182425, 0.238460253, -0.0455204435, -0.154304871])
        assertClose(try q.grad!.toArray(), [0.502568306, 0.0773765784, 0.0253971495, 0.156183799, 1.31851285, 1.61607327, 0.998008113, 0.49098961, 0.0266744244, 0.0262528341, 0.647352243, 1.32680532])

        // Spatial index targets [2, 2] with an ignored position, sum, smoothing 0.25.
        let x4 = try Tensor(nnPinnedValues(12, 0.9, 0.2, 2), shape: [2, 3, 2], requiresGrad: true)
        let summed = try crossEntropy(x4, try Tensor(indices: [0, 2, 1, -100], shape: [2, 2]), reduction: .sum, labelSmoothing: 0.25)
        assertClose([try summed.item()], [5.8447199])
        try summed.backward()
        assertClose(try x4.grad!.toArray(), [-0.646067797, 0.689322219, 0.69238058, 0.126416865, -0.0463127839, -0.815739084, -0.0474216901, 0, -0.0674644111, 0, 0.114886101, 0])
    }

    func testErrors() throws {
        let logits = try Tensor.zeros([5, 4])
        assertThrowsConvKitError(try crossEntropy(logits, try Tensor(indices: [0, 1, 2, 3, 7])), "crossEntropy", "target 7", "4 classes")
        assertThrowsConvKitError(try crossEntropy(logits, try Tensor(indices: [0, -1, 2, 3, 0])), "crossEntropy", "target -1", "4 classes")
        assertThrowsConvKitError(try crossEntropy(logits, try Tensor(indices: [0, 1, 2, 3, 0]), ignoreIndex: 0, labelSmoothing: 1.5),
                                 "crossEntropy", "labelSmoothing", "1.5")
        assertThrowsConvKitError(try crossEntropy(logits, try Tensor(indices: [0, 1, 2])), "crossEntropy", "target", "[3]", "[5]")
        assertThrowsConvKitError(try crossEntropy(logits, try Tensor.zeros([5, 3])), "crossEntropy", "probabilities", "[5, 3]", "[5, 4]")
        assertThrowsConvKitError(try crossEntropy(logits, try Tensor(indices: [0, 1, 2, 3, 0]), weight: try Tensor.ones([3])),
                                 "crossEntropy", "weight", "[3]", "4 classes")
        assertThrowsConvKitError(try crossEntropy(try Tensor(scalar: 1), try Tensor(indices: [0], shape: [])), "crossEntropy", "logits")
        assertThrowsConvKitError(try crossEntropy(try Tensor(indices: [0, 1], shape: [1, 2]), try Tensor(indices: [0])), "crossEntropy", "logits", "float32")
        assertThrowsConvKitError(try crossEntropy(try Tensor.zeros([2, 0]), try Tensor(indices: [0, 0])), "crossEntropy", "no classes")
        // An out-of-range value equal to ignoreIndex is fine.
        XCTAssertNoThrow(try crossEntropy(logits, try Tensor(indices: [0, 1, 2, 3, 9]), ignoreIndex: 9))
    }
}
