import XCTest
@testable import ConvKit

extension TensorOpsFixtures {
    /// Checks every input's gradient from `op` against central differences of `reference` (the
    /// Float64 oracle) for a random upstream gradient.
    static func checkGradients(_ shapes: [[Int]], seed: UInt64, tolerance: Double = 1e-3,
                               transform: (Float) -> Float = { $0 },
                               _ op: ([Tensor]) throws -> Tensor,
                               reference: ([[Double]]) -> [Double],
                               file: StaticString = #filePath, line: UInt = #line) throws {
        var inputs: [Tensor] = []
        var values: [[Double]] = []
        for (i, shape) in shapes.enumerated() {
            let (t, v) = try TensorOpsFixtures.makeInput(shape, seed: seed &+ UInt64(i) &* 7919, requiresGrad: true, transform: transform)
            inputs.append(t)
            values.append(v)
        }
        let out = try op(inputs)
        let upstreamValues = randomValues(out.count, seed: seed &+ 104_729)
        try out.backward(gradient: try Tensor(upstreamValues, shape: out.shape))
        let upstream = upstreamValues.map(Double.init)
        for i in inputs.indices {
            let numeric = numericGradient(at: values[i], upstream: upstream) { x in
                var args = values
                args[i] = x
                return reference(args)
            }
            guard let grad = inputs[i].grad else {
                XCTFail("input \(i) (shape \(shapes[i])) got no gradient", file: file, line: line)
                continue
            }
            XCTAssertEqual(grad.shape, shapes[i], file: file, line: line)
            assertClose(try grad.toArray(), numeric, tolerance: tolerance, "gradient of input \(i), shapes \(shapes)", file: file, line: line)
        }
    }
}

final class AutogradTests: XCTestCase {
    func testBinaryGradientsWithBroadcasting() throws {
        var rng = TestRNG(seed: 31)
        let ops: [(String, (Tensor, Tensor) throws -> Tensor, (Double, Double) -> Double)] = [
            ("add", { try $0 + $1 }, { $0 + $1 }),
            ("sub", { try $0 - $1 }, { $0 - $1 }),
            ("mul", { try $0 * $1 }, { $0 * $1 }),
            ("div", { try $0 / $1 }, { $0 / $1 }),
            ("maximum", { try maximum($0, $1) }, TensorReference.maximum),
        ]
        for trial in 0..<12 {
            let base = TensorOpsFixtures.randomShape(&rng, rank: rng.int(0...3), maxSize: 3)
            let (sa, sb) = TensorOpsFixtures.broadcastPair(&rng, base)
            for (index, (name, op, ref)) in ops.enumerated() {
                // Division keeps the divisor away from zero.
                let transform: (Float) -> Float = name == "div" ? { $0 < 0 ? $0 - 0.5 : $0 + 0.5 } : { $0 }
                try TensorOpsFixtures.checkGradients([sa, sb], seed: UInt64(trial * 10 + index), transform: transform,
                                   { try op($0[0], $0[1]) },
                                   reference: { TensorReference.binary($0[0], sa, $0[1], sb, ref).values })
            }
        }
    }

    func testMaximumSplitsTiedGradient() throws {
        let a = try Tensor([1, 2, 3], requiresGrad: true)
        let b = try Tensor([2, 2, 1], requiresGrad: true)
        try maximum(a, b).sum().backward()
        XCTAssertEqual(try a.grad!.toArray(), [0, 0.5, 1])
        XCTAssertEqual(try b.grad!.toArray(), [1, 0.5, 0])
        // A NaN on either side sends the whole gradient to both operands, as in PyTorch.
        let n = try Tensor([.nan, 1], requiresGrad: true), m = try Tensor([1, .nan], requiresGrad: true)
        try maximum(n, m).sum().backward()
        XCTAssertEqual(try n.grad!.toArray(), [1, 1])
        XCTAssertEqual(try m.grad!.toArray(), [1, 1])
    }

    func testScalarOperatorGradients() throws {
        let shape = [3, 4]
        let positive: (Float) -> Float = { Swift.abs($0) + 0.2 }
        let cases: [((Tensor) throws -> Tensor, (Double) -> Double)] = [
            ({ try $0 + 2 }, { $0 + 2 }), ({ try 2 + $0 }, { $0 + 2 }),
            ({ try $0 - 2 }, { $0 - 2 }), ({ try 2 - $0 }, { 2 - $0 }),
            ({ try $0 * 3 }, { $0 * 3 }), ({ try 3 * $0 }, { $0 * 3 }),
            ({ try $0 / 4 }, { $0 / 4 }), ({ try 4 / $0 }, { 4 / $0 }),
            ({ try -$0 }, { -$0 }),
        ]
        for (i, (op, ref)) in cases.enumerated() {
            try TensorOpsFixtures.checkGradients([shape], seed: UInt64(40 + i), transform: positive, { try op($0[0]) },
                               reference: { $0[0].map(ref) })
        }
    }

    func testUnaryGradients() throws {
        let shape = [2, 5]
        let positive: (Float) -> Float = { Swift.abs($0) + 0.2 }
        let cases: [(String, (Tensor) throws -> Tensor, (Double) -> Double, Bool)] = [
            ("exp", { try $0.exp() }, { Foundation.exp($0) }, false),
            ("log", { try $0.log() }, { Foundation.log($0) }, true),
            ("sqrt", { try $0.sqrt() }, { $0.squareRoot() }, true),
            ("abs", { try $0.abs() }, { Swift.abs($0) }, false),
            ("pow2", { try $0.pow(2) }, { $0 * $0 }, false),
            ("pow3", { try $0.pow(3) }, { $0 * $0 * $0 }, false),
            ("pow-1.5", { try $0.pow(-1.5) }, { Foundation.pow($0, -1.5) }, true),
            ("pow0", { try $0.pow(0) }, { _ in 1 }, false),
        ]
        for (i, (name, op, ref, needsPositive)) in cases.enumerated() {
            try TensorOpsFixtures.checkGradients([shape], seed: UInt64(60 + i), transform: needsPositive ? positive : { $0 },
                               { try op($0[0]) }, reference: { $0[0].map(ref) })
            _ = name
        }
        // |x| has gradient 0 at 0, as in PyTorch.
        let z = try Tensor([0, -2, 3], requiresGrad: true)
        try z.abs().sum().backward()
        XCTAssertEqual(try z.grad!.toArray(), [0, -1, 1])
    }

    func testLayoutGradients() throws {
        try TensorOpsFixtures.checkGradients([[2, 3, 4]], seed: 70, { try $0[0].reshape([4, -1]) * $0[0].reshape([4, 6]) },
                           reference: { x in x[0].map { $0 * $0 } })
        try TensorOpsFixtures.checkGradients([[2, 3, 4]], seed: 71, { try $0[0].flatten(startDim: 1) }, reference: { $0[0] })
        try TensorOpsFixtures.checkGradients([[2, 3, 4]], seed: 72, { try $0[0].permute([2, 0, 1]) },
                           reference: { TensorReference.permute($0[0], [2, 3, 4], [2, 0, 1]) })
        try TensorOpsFixtures.checkGradients([[3, 5]], seed: 73, { try $0[0].transpose(0, 1) },
                           reference: { TensorReference.permute($0[0], [3, 5], [1, 0]) })
        try TensorOpsFixtures.checkGradients([[4, 7, 2]], seed: 74, { try $0[0].slice(dim: 1, start: -6, end: 6, step: 2) },
                           reference: { TensorReference.slice($0[0], [4, 7, 2], dim: 1, start: 1, end: 6, step: 2) })
        try TensorOpsFixtures.checkGradients([[2, 3], [2, 1], [2, 4]], seed: 75, { try cat($0, dim: 1) },
                           reference: { TensorReference.cat([($0[0], [2, 3]), ($0[1], [2, 1]), ($0[2], [2, 4])], dim: 1) })
        let skipped = try Tensor.zeros([0], requiresGrad: true), kept = try Tensor([1, 2], shape: [1, 2], requiresGrad: true)
        try cat([kept, skipped], dim: 1).sum().backward()
        XCTAssertEqual(skipped.grad?.shape, [0])
        XCTAssertEqual(try kept.grad!.toArray(), [1, 1])
        // A slice used twice and a concatenation of the same tensor: gradients add.
        try TensorOpsFixtures.checkGradients([[5]], seed: 76, { x in try cat([x[0], x[0].slice(dim: 0, start: 1, end: 3)], dim: 0) },
                           reference: { x in x[0] + Array(x[0][1..<3]) })
    }

    func testReductionGradients() throws {
        let shape = [2, 3, 4]
        let dimLists: [[Int]?] = [nil, [0], [1], [2], [0, 2], [-1, -2], [0, 1, 2]]
        for (i, dims) in dimLists.enumerated() {
            let d = (dims ?? [0, 1, 2]).map { $0 < 0 ? $0 + 3 : $0 }
            let n = Double(d.reduce(1) { $0 * shape[$1] })
            for keep in [false, true] {
                try TensorOpsFixtures.checkGradients([shape], seed: UInt64(80 + i), { try $0[0].sum(dims: dims, keepDims: keep) },
                                   reference: { TensorReference.sum($0[0], shape, dims: d) })
                try TensorOpsFixtures.checkGradients([shape], seed: UInt64(90 + i), { try $0[0].mean(dims: dims, keepDims: keep) },
                                   reference: { TensorReference.sum($0[0], shape, dims: d).map { $0 / n } })
            }
        }
        for dim in 0..<3 {
            try TensorOpsFixtures.checkGradients([shape], seed: UInt64(100 + dim), { try $0[0].maxValues(dim: dim) },
                               reference: { TensorReference.maxAlong($0[0], shape, dim: dim).values })
        }
        // Ties: the whole gradient goes to the first maximum, as torch.max(x, dim) does.
        let x = try Tensor([2, 5, 5, 1, 1, 1], shape: [2, 3], requiresGrad: true)
        try x.maxValues(dim: 1).backward(gradient: try Tensor([10, 20]))
        XCTAssertEqual(try x.grad!.toArray(), [0, 10, 0, 20, 0, 0])
        // maxWithIndices: the same values and gradient, plus the positions.
        let y = try Tensor([2, 5, 5, 1, 7, 1], shape: [2, 3], requiresGrad: true)
        let (values, indices) = try y.maxWithIndices(dim: -1, keepDims: true)
        XCTAssertEqual(values.shape, [2, 1])
        XCTAssertEqual(try values.toArray(), [5, 7])
        XCTAssertEqual(try indices.toIntArray(), [1, 1])
        try values.sum().backward()
        XCTAssertEqual(try y.grad!.toArray(), [0, 1, 0, 0, 1, 0])
    }

    func testMatmulGradients() throws {
        let cases: [([Int], [Int])] = [([3], [3]), ([2, 3], [3]), ([3], [3, 4]), ([2, 3], [3, 4]), ([5, 2, 3], [3, 4]),
                                       ([2, 3], [2, 3, 4]), ([2, 1, 2, 3], [3, 3, 2]), ([3], [2, 3, 4]), ([2, 0, 3], [3, 2])]
        for (i, (sa, sb)) in cases.enumerated() {
            try TensorOpsFixtures.checkGradients([sa, sb], seed: UInt64(120 + i), { try matmul($0[0], $0[1]) },
                               reference: { TensorReference.matmul($0[0], sa, $0[1], sb).values })
        }
        // Transposed operands inside the batched kernel, as the backward of a backward would use them.
        for (ta, tb) in [(true, false), (false, true), (true, true)] {
            let sa = ta ? [2, 4, 3] : [2, 3, 4], sb = tb ? [5, 4] : [4, 5]
            try TensorOpsFixtures.checkGradients([sa, sb], seed: 130, { try TensorOps.batchedMatmul($0[0], $0[1], transposeA: ta, transposeB: tb, name: "matmul") },
                               reference: { v in
                                   let a = ta ? TensorReference.permute(v[0], sa, [0, 2, 1]) : v[0]
                                   let b = tb ? TensorReference.permute(v[1], sb, [1, 0]) : v[1]
                                   return TensorReference.matmul(a, [2, 3, 4], b, [4, 5]).values
                               })
        }
    }

    func testTensorUsedTwiceAddsGradients() throws {
        let x = try Tensor([1, -2, 3], requiresGrad: true)
        let y = try x * x + x
        try y.sum().backward()
        XCTAssertEqual(try x.grad!.toArray(), [3, -3, 7]) // 2x + 1
        // A longer chain reusing intermediate results: z = (x·x)·(x·x) → 4x³.
        let w = try Tensor([1, 2], requiresGrad: true)
        let sq = try w * w
        try (sq * sq).sum().backward()
        XCTAssertEqual(try w.grad!.toArray(), [4, 32])
    }

    func testGradientsAccumulateAcrossBackwardCalls() throws {
        let x = try Tensor([1, 2, 3], requiresGrad: true)
        try (x * 2).sum().backward()
        try (x * x).sum().backward()
        XCTAssertEqual(try x.grad!.toArray(), [4, 6, 8]) // 2 + 2x
        x.grad = nil
        try x.sum().backward()
        XCTAssertEqual(try x.grad!.toArray(), [1, 1, 1])
    }

    func testDetachStopsGradients() throws {
        let x = try Tensor([1, 2], requiresGrad: true)
        let d = try (x * 3).detach()
        XCTAssertFalse(d.requiresGrad)
        let y = try x * d // d acts as a constant: dy/dx = d
        try y.sum().backward()
        XCTAssertEqual(try x.grad!.toArray(), [3, 6])
        assertThrowsConvKitError(try (d * 2).sum().backward(), "does not require grad")
    }

    func testNoGradRecordsNothing() throws {
        let x = try Tensor([1, 2], requiresGrad: true)
        let y = try withNoGrad { try (x * x).exp().sum(dims: [0]) }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertNil(y.gradFn)
        let r = try withNoGrad { try x.reshape([2, 1]) }
        XCTAssertFalse(r.requiresGrad)
        // Recording resumes after the scope.
        XCTAssertTrue(try (x * 2).requiresGrad)
    }

    func testOnlyTensorsThatRequireGradGetGradients() throws {
        let a = try Tensor([1, 2], requiresGrad: true)
        let b = try Tensor([3, 4])
        try (a * b).sum().backward()
        XCTAssertEqual(try a.grad!.toArray(), [3, 4])
        XCTAssertNil(b.grad)
        XCTAssertFalse(try (b * b).requiresGrad)
    }

    func testBackwardOnNonScalarNeedsGradient() throws {
        let x = try Tensor([1, 2, 3], requiresGrad: true)
        let y = try x * 2
        assertThrowsConvKitError(try y.backward(), "gradient can be implied only", "[3]")
        assertThrowsConvKitError(try y.backward(gradient: try Tensor([1, 1])), "gradient shape", "[2]", "[3]")
        try y.backward(gradient: try Tensor([1, 0, -1]))
        XCTAssertEqual(try x.grad!.toArray(), [2, 0, -2])
    }

    /// The graph keeps what backward passes saved, not every intermediate tensor: `x * 2` is
    /// freed once `relu` has read it (relu's backward reads its own output), as in PyTorch.
    func testIntermediatesThatNoBackwardSavesAreFreed() throws {
        let x = try Tensor([-1, 2, -3, 4], requiresGrad: true)
        weak var doubled: Tensor?
        weak var activated: Tensor?
        let loss: Tensor
        do {
            let y = try x * 2
            let z = try relu(y)
            doubled = y
            activated = z
            loss = try (z * z).sum()
        }
        XCTAssertNil(doubled, "an intermediate no backward pass needs is still alive")
        XCTAssertNotNil(activated, "z * z saves z for its backward pass")
        try loss.backward()
        // d/dx of sum(relu(2x)^2) = 8x where x > 0
        XCTAssertEqual(try x.grad!.toArray(), [0, 16, 0, 32])
    }
}

/// A leaf's first gradient becomes its `.grad` without a copy only when nothing else holds it:
/// these cases hand the same gradient (or its memory) to two places, and a second backward
/// pass, which accumulates in place, must change neither the other leaf nor the caller's tensor.
final class AutogradGradientOwnershipTests: XCTestCase {
    func testSumGivesEachInputItsOwnGradient() throws {
        let a = try Tensor([1, 2, 3], requiresGrad: true), b = try Tensor([4, 5, 6], requiresGrad: true)
        let upstream = try Tensor([0.5, -1, 2])
        for _ in 0..<2 { try (a + b).backward(gradient: upstream) }
        XCTAssertFalse(a.grad!.storage === b.grad!.storage)
        XCTAssertEqual(try a.grad!.toArray(), [1, -2, 4])
        XCTAssertEqual(try b.grad!.toArray(), [1, -2, 4])
        XCTAssertEqual(try upstream.toArray(), [0.5, -1, 2])
    }

    func testPassThroughGradientDoesNotAliasTheCallersTensor() throws {
        let a = try Tensor([1, 2, 3, 4], shape: [2, 2], requiresGrad: true)
        let upstream = try Tensor([1, 2, 3, 4])
        for _ in 0..<2 { try a.reshape([4]).backward(gradient: upstream) }
        XCTAssertFalse(a.grad!.storage === upstream.storage)
        XCTAssertEqual(try a.grad!.toArray(), [2, 4, 6, 8])
        XCTAssertEqual(try upstream.toArray(), [1, 2, 3, 4])
    }

    func testSameLeafTwiceAccumulatesBothPaths() throws {
        let a = try Tensor([1, 2], requiresGrad: true)
        try (a * a + a).backward(gradient: try Tensor([1, 1]))
        XCTAssertEqual(try a.grad!.toArray(), [3, 5])
        XCTAssertNil(a.grad!.gradFn)
        XCTAssertFalse(a.grad!.requiresGrad)
    }
}
