import XCTest
@testable import ConvKit

/// Random shapes and inputs for the tensor-op and autograd tests.
enum TensorOpsFixtures {
    /// A random shape of `rank` dimensions, sizes in `1...maxSize`, with an occasional 0.
    static func randomShape(_ rng: inout TestRNG, rank: Int, maxSize: Int = 4, allowZero: Bool = true) -> [Int] {
        (0..<rank).map { _ in allowZero && rng.int(0...14) == 0 ? 0 : rng.int(1...maxSize) }
    }

    /// Two shapes that broadcast to `base`: dims randomly set to 1, leading dims randomly dropped.
    static func broadcastPair(_ rng: inout TestRNG, _ base: [Int]) -> ([Int], [Int]) {
        func derive(_ rng: inout TestRNG) -> [Int] {
            let drop = rng.bool() ? rng.int(0...base.count) : 0
            return base.dropFirst(drop).map { rng.int(0...2) == 0 ? 1 : $0 }
        }
        return (derive(&rng), derive(&rng))
    }

    /// A float tensor of `shape` holding random values in [-1, 1) passed through `transform`,
    /// and the same values in Float64.
    static func makeInput(_ shape: [Int], seed: UInt64, requiresGrad: Bool = false,
                          transform: (Float) -> Float = { $0 }) throws -> (Tensor, [Double]) {
        let values = randomValues(shape.reduce(1, *), seed: seed).map(transform)
        return (try Tensor(values, shape: shape, requiresGrad: requiresGrad), values.map(Double.init))
    }
}

final class TensorOpsTests: XCTestCase {
    // MARK: Elementwise

    func testBinaryOpsBroadcastAgainstReference() throws {
        var rng = TestRNG(seed: 1)
        let ops: [(String, (Tensor, Tensor) throws -> Tensor, (Double, Double) -> Double)] = [
            ("add", { try $0 + $1 }, { $0 + $1 }),
            ("sub", { try $0 - $1 }, { $0 - $1 }),
            ("mul", { try $0 * $1 }, { $0 * $1 }),
            ("div", { try $0 / $1 }, { $0 / $1 }),
            ("maximum", { try maximum($0, $1) }, TensorReference.maximum),
        ]
        for trial in 0..<60 {
            let base = TensorOpsFixtures.randomShape(&rng, rank: rng.int(0...4))
            let (sa, sb) = TensorOpsFixtures.broadcastPair(&rng, base)
            let (a, da) = try TensorOpsFixtures.makeInput(sa, seed: UInt64(trial * 2))
            let (b, db) = try TensorOpsFixtures.makeInput(sb, seed: UInt64(trial * 2 + 1))
            for (name, op, ref) in ops {
                let out = try op(a, b)
                let expected = TensorReference.binary(da, sa, db, sb, ref)
                XCTAssertEqual(out.shape, expected.shape, "\(name) \(sa) \(sb)")
                assertClose(try out.toArray(), expected.values, "\(name) \(sa) \(sb)")
            }
        }
    }

    func testBinaryOpsOnLargerTensorsUseEveryPath() throws {
        // Sizes above the parallel grain, with contiguous, scalar-row and strided inner loops,
        // and one long row split between threads.
        let cases: [([Int], [Int])] = [([140, 257], [140, 257]), ([140, 257], [257]), ([140, 257], [140, 1]),
                                       ([1, 257], [140, 1]), ([2, 1, 64, 70], [5, 1, 70]), ([40_000], []), ([70_000], [70_000])]
        for (i, (sa, sb)) in cases.enumerated() {
            let (a, da) = try TensorOpsFixtures.makeInput(sa, seed: UInt64(100 + i))
            let (b, db) = try TensorOpsFixtures.makeInput(sb, seed: UInt64(200 + i))
            assertClose(try (a * b).toArray(), TensorReference.binary(da, sa, db, sb, *).values, "\(sa) \(sb)")
            assertClose(try (b - a).toArray(), TensorReference.binary(db, sb, da, sa, -).values, "\(sa) \(sb)")
        }
    }

    func testScalarOperators() throws {
        let (x, dx) = try TensorOpsFixtures.makeInput([3, 5], seed: 3)
        assertClose(try (x + 2).toArray(), dx.map { $0 + 2 })
        assertClose(try (2 + x).toArray(), dx.map { $0 + 2 })
        assertClose(try (x - 1.5).toArray(), dx.map { $0 - 1.5 })
        assertClose(try (1.5 - x).toArray(), dx.map { 1.5 - $0 })
        assertClose(try (x * 3).toArray(), dx.map { $0 * 3 })
        assertClose(try (3 * x).toArray(), dx.map { $0 * 3 })
        assertClose(try (x / 4).toArray(), dx.map { $0 / 4 })
        assertClose(try (4 / x).toArray(), dx.map { 4 / $0 })
        assertClose(try (-x).toArray(), dx.map { -$0 })
        // Operators compose in one expression under one `try`.
        assertClose(try (x * x + 2 * x - 1).toArray(), dx.map { $0 * $0 + 2 * $0 - 1 })
    }

    func testUnaryOpsAgainstReference() throws {
        let (x, dx) = try TensorOpsFixtures.makeInput([7, 9], seed: 4)
        let (p, dp) = try TensorOpsFixtures.makeInput([7, 9], seed: 5) { Swift.abs($0) + 0.1 }
        assertClose(try x.exp().toArray(), dx.map { Foundation.exp($0) })
        assertClose(try p.log().toArray(), dp.map { Foundation.log($0) })
        assertClose(try p.sqrt().toArray(), dp.map { $0.squareRoot() })
        assertClose(try x.abs().toArray(), dx.map { Swift.abs($0) })
        for e: Float in [2, 3, 1, 0, 0.5, -1.5, 2.5] {
            assertClose(try p.pow(e).toArray(), dp.map { Foundation.pow($0, Double(e)) }, "pow \(e)")
        }
        assertClose(try x.pow(2).toArray(), dx.map { $0 * $0 })
        assertClose(try x.pow(3).toArray(), dx.map { $0 * $0 * $0 })
        let big = try TensorOpsFixtures.makeInput([40_000], seed: 6)
        assertClose(try big.0.exp().toArray(), big.1.map { Foundation.exp($0) })
    }

    func testExpOverItsWholeRange() throws {
        // Overflow, underflow into subnormals and to zero, infinities and NaN, as expf.
        let values: [Float] = stride(from: -110, through: 95, by: 0.37).map { Float($0) }
            + [88.72, 88.7228, 88.723, -87.3, -87.4, -103.9, -104.1, 0, -0, .infinity, -.infinity, .nan]
        let out = try Tensor(values).exp().toArray()
        for (x, y) in zip(values, out) {
            let expected = Foundation.exp(Double(x))
            if x.isNaN { XCTAssert(y.isNaN); continue }
            if expected > Double(Float.greatestFiniteMagnitude) { XCTAssertEqual(y, .infinity, "exp(\(x))"); continue }
            // Relative to the value, with the absolute floor of float32's smallest subnormal.
            XCTAssertLessThanOrEqual(Swift.abs(Double(y) - expected), 4e-7 * expected + 1.5e-45, "exp(\(x)) = \(y), expected \(expected)")
        }
    }

    func testLogOverItsWholeRange() throws {
        var values: [Float] = [Float.leastNonzeroMagnitude, 1e-40, 1e-38, Float.leastNormalMagnitude, 0.5, 0.70710677,
                               0.7071068, 1, 1.0000001, 0.99999994, 2, 1.4142135, 3.4e38, Float.greatestFiniteMagnitude]
        var g = Philox(seed: 77)
        values += g.uniform(count: 2000).map { Foundation.pow(10, $0 * 76 - 38) }
        let out = try Tensor(values).log().toArray()
        for (x, y) in zip(values, out) {
            let expected = Foundation.log(Double(x))
            XCTAssertLessThanOrEqual(Swift.abs(Double(y) - expected), 2.5e-7 * Swift.abs(expected) + 1e-7, "log(\(x)) = \(y), expected \(expected)")
        }
        let special = try Tensor([0, -0.0, -1, .infinity, -.infinity, .nan]).log().toArray()
        XCTAssertEqual(special[0], -.infinity)
        XCTAssertEqual(special[1], -.infinity)
        XCTAssert(special[2].isNaN && special[4].isNaN && special[5].isNaN)
        XCTAssertEqual(special[3], .infinity)
    }

    func testSpecialValues() throws {
        let x = try Tensor([-1, 0, 4, .nan, .infinity])
        let log = try x.log().toArray()
        XCTAssert(log[0].isNaN && log[1] == -.infinity && log[2] == Foundation.log(4) && log[3].isNaN && log[4] == .infinity)
        let sqrt = try x.sqrt().toArray()
        XCTAssert(sqrt[0].isNaN && sqrt[1] == 0 && sqrt[2] == 2 && sqrt[3].isNaN)
        let m = try maximum(try Tensor([1, .nan, 3, 2]), try Tensor([.nan, 1, 2, 2])).toArray()
        XCTAssert(m[0].isNaN && m[1].isNaN && m[2] == 3 && m[3] == 2)
        XCTAssertEqual(try (try Tensor([1, -1]) / (try Tensor([0, 0]))).toArray(), [.infinity, -.infinity])
    }

    func testElementwiseErrors() throws {
        let a = try Tensor.zeros([2, 3]), b = try Tensor.zeros([4])
        assertThrowsConvKitError(try a + b, "add", "[2, 3]", "[4]", "broadcast")
        assertThrowsConvKitError(try a - b, "sub", "[2, 3]", "[4]")
        assertThrowsConvKitError(try a * b, "mul", "[2, 3]", "[4]")
        assertThrowsConvKitError(try a / b, "div", "[2, 3]", "[4]")
        assertThrowsConvKitError(try maximum(a, b), "maximum", "[2, 3]", "[4]")
        let labels = try Tensor(indices: [1, 2, 3])
        assertThrowsConvKitError(try labels + labels, "add", "float32", "int32")
        assertThrowsConvKitError(try labels.exp(), "exp", "float32", "int32")
        assertThrowsConvKitError(try labels * 2, "mul", "int32")
    }

    // MARK: Layout

    func testReshapeSharesStorageAndInfers() throws {
        let x = try Tensor.arange(0, 24)
        let y = try x.reshape([2, -1, 4])
        XCTAssertEqual(y.shape, [2, 3, 4])
        XCTAssert(y.storage === x.storage)
        XCTAssertEqual(try y.toArray(), try x.toArray())
        XCTAssertEqual(try x.reshape([24, 1, 1]).shape, [24, 1, 1])
        XCTAssertEqual(try Tensor(scalar: 2).reshape([1, 1]).shape, [1, 1])
        XCTAssertEqual(try Tensor.zeros([0, 3]).reshape([3, -1, 5]).shape, [3, 0, 5])
        assertThrowsConvKitError(try x.reshape([5, -1]), "reshape", "[5, -1]", "24")
        assertThrowsConvKitError(try x.reshape([-1, -1]), "reshape", "one dimension")
        assertThrowsConvKitError(try x.reshape([2, 13]), "reshape", "[2, 13]", "24")
        assertThrowsConvKitError(try x.reshape([-2, 12]), "reshape", "-2")
        assertThrowsConvKitError(try Tensor.zeros([0, 3]).reshape([0, -1]), "reshape", "ambiguous")
    }

    func testFlatten() throws {
        let x = try Tensor.zeros([2, 3, 4, 5])
        XCTAssertEqual(try x.flatten().shape, [120])
        XCTAssertEqual(try x.flatten(startDim: 1).shape, [2, 60])
        XCTAssertEqual(try x.flatten(startDim: 1, endDim: 2).shape, [2, 12, 5])
        XCTAssertEqual(try x.flatten(startDim: -2).shape, [2, 3, 20])
        XCTAssertEqual(try x.flatten(startDim: 2, endDim: 2).shape, [2, 3, 4, 5])
        XCTAssertEqual(try Tensor(scalar: 1).flatten().shape, [1])
        assertThrowsConvKitError(try x.flatten(startDim: 2, endDim: 1), "flatten", "start_dim")
        assertThrowsConvKitError(try x.flatten(startDim: 4), "flatten", "dimension out of range", "4")
    }

    func testPermuteAndTransposeAgainstReference() throws {
        var rng = TestRNG(seed: 7)
        for trial in 0..<40 {
            let rank = rng.int(1...5)
            let shape = TensorOpsFixtures.randomShape(&rng, rank: rank)
            var perm = Array(0..<rank)
            for i in stride(from: rank - 1, to: 0, by: -1) { perm.swapAt(i, rng.int(0...i)) }
            let (x, dx) = try TensorOpsFixtures.makeInput(shape, seed: UInt64(trial))
            let y = try x.permute(perm.map { rng.bool() ? $0 - rank : $0 })
            XCTAssertEqual(y.shape, perm.map { shape[$0] })
            XCTAssertEqual(try y.toArray().map(Double.init), TensorReference.permute(dx, shape, perm), "\(shape) \(perm)")
            let d0 = rng.int(0...rank - 1), d1 = rng.int(0...rank - 1)
            var swap = Array(0..<rank)
            swap.swapAt(d0, d1)
            XCTAssertEqual(try x.transpose(d0, d1 - rank).toArray().map(Double.init), TensorReference.permute(dx, shape, swap))
        }
        let big = try TensorOpsFixtures.makeInput([32, 40, 33], seed: 9)
        XCTAssertEqual(try big.0.permute([2, 0, 1]).toArray().map(Double.init), TensorReference.permute(big.1, [32, 40, 33], [2, 0, 1]))
        XCTAssertEqual(try Tensor(scalar: 5).permute([]).shape, [])
        let x = try Tensor.zeros([2, 3])
        assertThrowsConvKitError(try x.permute([0]), "permute", "[0]", "rank 2")
        assertThrowsConvKitError(try x.permute([0, 0]), "permute", "repeated")
        assertThrowsConvKitError(try x.permute([0, 2]), "permute", "out of range", "2")
        assertThrowsConvKitError(try x.transpose(0, -3), "transpose", "out of range", "-3")
    }

    func testSliceMatchesPyTorchIndexing() throws {
        let x = try Tensor.arange(0, 10)
        func s(_ start: Int?, _ end: Int?, _ step: Int = 1) throws -> [Float] {
            try x.slice(dim: 0, start: start, end: end, step: step).toArray()
        }
        // Expected values are what torch.arange(10)[start:end:step] gives.
        XCTAssertEqual(try s(2, 5), [2, 3, 4])
        XCTAssertEqual(try s(nil, nil, 3), [0, 3, 6, 9])
        XCTAssertEqual(try s(-3, nil), [7, 8, 9])
        XCTAssertEqual(try s(1, -1, 2), [1, 3, 5, 7])
        XCTAssertEqual(try s(-100, 100, 4), [0, 4, 8])
        XCTAssertEqual(try s(8, 3), [])
        XCTAssertEqual(try s(12, 20), [])
        XCTAssertEqual(try s(-2, -1), [8])
        var rng = TestRNG(seed: 11)
        for trial in 0..<40 {
            let rank = rng.int(1...4)
            let shape = TensorOpsFixtures.randomShape(&rng, rank: rank, maxSize: 6)
            let dim = rng.int(0...rank - 1)
            let size = shape[dim]
            let start = rng.int(-size - 2...size + 2), end = rng.int(-size - 2...size + 2), step = rng.int(1...3)
            let (t, dt) = try TensorOpsFixtures.makeInput(shape, seed: UInt64(trial))
            let y = try t.slice(dim: dim - (rng.bool() ? rank : 0), start: start, end: end, step: step)
            func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + size : v, 0), size) }
            let lo = clamp(start), hi = max(lo, clamp(end))
            let expected = TensorReference.slice(dt, shape, dim: dim, start: lo, end: hi, step: step)
            XCTAssertEqual(y.shape[dim], hi > lo ? (hi - lo + step - 1) / step : 0)
            XCTAssertEqual(try y.toArray().map(Double.init), expected, "\(shape) dim \(dim) \(start):\(end):\(step)")
        }
        assertThrowsConvKitError(try x.slice(dim: 0, start: 0, end: 5, step: 0), "slice", "step", "0")
        assertThrowsConvKitError(try x.slice(dim: 1), "slice", "out of range", "1")
        assertThrowsConvKitError(try Tensor(scalar: 1).slice(dim: 0), "slice", "0-dimensional")
    }

    func testCatAgainstReference() throws {
        var rng = TestRNG(seed: 13)
        for trial in 0..<30 {
            let rank = rng.int(1...4)
            let shape = TensorOpsFixtures.randomShape(&rng, rank: rank)
            let dim = rng.int(0...rank - 1)
            var parts: [([Double], [Int])] = []
            var tensors: [Tensor] = []
            for p in 0..<rng.int(1...4) {
                var s = shape
                s[dim] = rng.int(0...3)
                let (t, dt) = try TensorOpsFixtures.makeInput(s, seed: UInt64(trial * 10 + p))
                parts.append((dt, s))
                tensors.append(t)
            }
            let y = try cat(tensors, dim: rng.bool() ? dim - rank : dim)
            XCTAssertEqual(y.shape[dim], parts.reduce(0) { $0 + $1.1[dim] })
            XCTAssertEqual(try y.toArray().map(Double.init), TensorReference.cat(parts, dim: dim))
        }
        let ints = try cat([Tensor(indices: [1, 2]), Tensor(indices: [3])])
        XCTAssertEqual(try ints.toIntArray(), [1, 2, 3])
        let a = try Tensor.zeros([2, 3]), b = try Tensor.zeros([2, 4])
        XCTAssertEqual(try cat([a, b], dim: 1).shape, [2, 7])
        assertThrowsConvKitError(try cat([a, b], dim: 0), "cat", "dimension 1", "[2, 3]", "[2, 4]")
        assertThrowsConvKitError(try cat([]), "cat", "non-empty")
        assertThrowsConvKitError(try cat([a, try Tensor.zeros([2])]), "cat", "same number of dimensions", "[2, 3]", "[2]")
        assertThrowsConvKitError(try cat([a, a], dim: 2), "cat", "out of range")
        assertThrowsConvKitError(try cat([try Tensor([1]), try Tensor(indices: [1])]), "cat", "int32")
        assertThrowsConvKitError(try cat([try Tensor(scalar: 1)]), "cat", "zero-dimensional")
        // 1-D empty tensors are skipped, as in PyTorch.
        let empty = try Tensor.zeros([0])
        XCTAssertEqual(try cat([a, empty, a], dim: 1).shape, [2, 6])
        XCTAssertEqual(try cat([empty, empty]).shape, [0])
    }

    // MARK: Reductions

    func testSumAndMeanAgainstReference() throws {
        var rng = TestRNG(seed: 17)
        for trial in 0..<60 {
            let rank = rng.int(0...4)
            let shape = TensorOpsFixtures.randomShape(&rng, rank: rank, maxSize: 5)
            let (x, dx) = try TensorOpsFixtures.makeInput(shape, seed: UInt64(trial))
            var dims: [Int]? = nil
            if rank > 0 && rng.int(0...3) > 0 {
                dims = (0..<rank).filter { _ in rng.bool() }
                if dims!.isEmpty { dims = [rng.int(0...rank - 1)] }
            }
            let reducedDims = dims ?? Array(0..<rank)
            let keep = rng.bool()
            let signed = dims?.map { rng.bool() ? $0 - rank : $0 }
            let s = try x.sum(dims: signed, keepDims: keep)
            let m = try x.mean(dims: signed, keepDims: keep)
            let expectedShape = keep ? shape.enumerated().map { reducedDims.contains($0.offset) ? 1 : $0.element }
                                     : shape.enumerated().filter { !reducedDims.contains($0.offset) }.map(\.element)
            XCTAssertEqual(s.shape, expectedShape, "\(shape) \(String(describing: dims))")
            XCTAssertEqual(m.shape, expectedShape)
            let ref = TensorReference.sum(dx, shape, dims: reducedDims)
            let n = Double(reducedDims.reduce(1) { $0 * shape[$1] })
            assertClose(try s.toArray(), ref, "\(shape) \(String(describing: dims))")
            assertClose(try m.toArray(), ref.map { $0 / n }, "\(shape) \(String(describing: dims))")
        }
    }

    func testLargeSumsUseEveryPath() throws {
        // A long row (split across threads), many rows, and a strided reduction.
        for (shape, dims) in [([40_000], [0]), ([1, 40_000], [1]), ([3, 12_000], [1]), ([200, 300], [1]), ([16, 60, 40], [1]), ([10, 4, 1100], [0, 1])] {
            // Mixed signs: the error is bounded relative to Σ|x| (a sum of 40 000 values can
            // cancel to near zero); all positive: relative to the sum itself.
            let (x, dx) = try TensorOpsFixtures.makeInput(shape, seed: 23)
            let out = try x.sum(dims: dims).toArray()
            let ref = TensorReference.sum(dx, shape, dims: dims)
            let absoluteSums = TensorReference.sum(dx.map(Swift.abs), shape, dims: dims)
            for (i, r) in ref.enumerated() {
                XCTAssertLessThan(Swift.abs(Double(out[i]) - r), 1e-6 * absoluteSums[i], "\(shape) at \(i)")
            }
            let (p, dp) = try TensorOpsFixtures.makeInput(shape, seed: 29) { $0 + 1.5 }
            assertClose(try p.sum(dims: dims).toArray(), TensorReference.sum(dp, shape, dims: dims), "\(shape)")
        }
    }

    func testReductionEdgeCases() throws {
        XCTAssertEqual(try Tensor.zeros([2, 0]).sum(dims: [1]).toArray(), [0, 0])
        XCTAssert(try Tensor.zeros([2, 0]).mean(dims: [1]).toArray().allSatisfy(\.isNaN))
        XCTAssertEqual(try Tensor.zeros([0, 3]).sum().item(), 0)
        XCTAssertEqual(try Tensor(scalar: 3).sum(dims: [0]).item(), 3)
        XCTAssertEqual(try Tensor(scalar: 3).sum(dims: [-1], keepDims: true).shape, [])
        let x = try Tensor.arange(0, 6).reshape([2, 3])
        XCTAssertEqual(try x.sum(dims: []).item(), 15) // an empty list reduces everything, as in PyTorch
        XCTAssertEqual(try x.mean().item(), 2.5)
        XCTAssertEqual(try x.sum(dims: [1], keepDims: true).toArray(), [3, 12])
        assertThrowsConvKitError(try x.sum(dims: [2]), "sum", "out of range", "2")
        assertThrowsConvKitError(try x.sum(dims: [0, -2]), "sum", "multiple times")
        assertThrowsConvKitError(try x.mean(dims: [-3]), "mean", "out of range", "-3")
        assertThrowsConvKitError(try Tensor(indices: [1]).sum(), "sum", "int32")
    }

    func testMaxAndArgmaxAgainstReference() throws {
        var rng = TestRNG(seed: 19)
        for trial in 0..<40 {
            let rank = rng.int(1...4)
            let shape = TensorOpsFixtures.randomShape(&rng, rank: rank, maxSize: 6, allowZero: false)
            let dim = rng.int(0...rank - 1)
            // Few distinct values so that ties are common: the first maximum must win.
            let (x, dx) = try TensorOpsFixtures.makeInput(shape, seed: UInt64(trial)) { ($0 * 3).rounded() }
            let keep = rng.bool()
            let signedDim = rng.bool() ? dim - rank : dim
            let values = try x.maxValues(dim: signedDim, keepDims: keep)
            let indices = try x.argmax(dim: signedDim, keepDims: keep)
            var expectedShape = shape
            if keep { expectedShape[dim] = 1 } else { expectedShape.remove(at: dim) }
            XCTAssertEqual(values.shape, expectedShape)
            XCTAssertEqual(indices.shape, expectedShape)
            XCTAssertEqual(indices.dtype, .int32)
            let ref = TensorReference.maxAlong(dx, shape, dim: dim)
            XCTAssertEqual(try values.toArray().map(Double.init), ref.values)
            XCTAssertEqual(try indices.toIntArray().map(Int.init), ref.indices, "\(shape) dim \(dim)")
        }
    }

    func testMaxPropagatesNaNAndArgmaxFlattens() throws {
        let x = try Tensor([1, .nan, 5, .nan, 2, 3, 9, 0], shape: [2, 4])
        let v = try x.maxValues(dim: 1).toArray()
        XCTAssert(v[0].isNaN)
        XCTAssertEqual(v[1], 9)
        XCTAssertEqual(try x.argmax(dim: 1).toIntArray(), [1, 2])
        XCTAssertEqual(try x.argmax(dim: 0).toIntArray(), [1, 0, 1, 0])
        XCTAssertEqual(try x.argmax().toIntArray(), [1])
        let y = try Tensor([3, 9, 9, 1], shape: [2, 2])
        XCTAssertEqual(try y.argmax().shape, [])
        XCTAssertEqual(try y.argmax().toIntArray(), [1])
        XCTAssertEqual(try y.argmax(keepDims: true).shape, [1, 1])
        XCTAssertEqual(try Tensor(scalar: 4).maxValues(dim: 0).item(), 4)
        XCTAssertEqual(try Tensor.zeros([0, 3]).maxValues(dim: 1).shape, [0])
        assertThrowsConvKitError(try Tensor.zeros([0, 3]).maxValues(dim: 0), "max", "non-zero size")
        assertThrowsConvKitError(try Tensor.zeros([0, 3]).argmax(), "argmax", "non-zero size")
        assertThrowsConvKitError(try y.maxValues(dim: 2), "max", "out of range")
        assertThrowsConvKitError(try Tensor(indices: [1, 2]).argmax(dim: 0), "argmax", "int32")
    }

    // MARK: Matmul

    func testMatmulShapesAgainstReference() throws {
        let cases: [([Int], [Int], [Int])] = [
            ([3], [3], []), ([2, 3], [3], [2]), ([3], [3, 4], [4]), ([2, 3], [3, 4], [2, 4]),
            ([5, 2, 3], [3, 4], [5, 2, 4]), ([2, 3], [5, 3, 4], [5, 2, 4]), ([5, 2, 3], [5, 3, 4], [5, 2, 4]),
            ([2, 1, 2, 3], [4, 3, 5], [2, 4, 2, 5]), ([3], [2, 3, 4], [2, 4]), ([2, 4, 3], [3], [2, 4]),
            ([1, 2, 3], [3, 3, 1], [3, 2, 1]), ([0, 3], [3, 4], [0, 4]), ([2, 0], [0, 4], [2, 4]), ([2, 0, 3], [3, 1], [2, 0, 1]),
            ([33, 70], [70, 45], [33, 45]),
        ]
        for (i, (sa, sb, expected)) in cases.enumerated() {
            let (a, da) = try TensorOpsFixtures.makeInput(sa, seed: UInt64(2 * i))
            let (b, db) = try TensorOpsFixtures.makeInput(sb, seed: UInt64(2 * i + 1))
            let c = try matmul(a, b)
            let ref = TensorReference.matmul(da, sa, db, sb)
            XCTAssertEqual(c.shape, expected, "\(sa) @ \(sb)")
            XCTAssertEqual(ref.shape, expected)
            assertClose(try c.toArray(), ref.values, "\(sa) @ \(sb)")
        }
    }

    func testMatmulErrors() throws {
        assertThrowsConvKitError(try matmul(try Tensor.zeros([2, 3]), try Tensor.zeros([4, 5])), "matmul", "[2, 3]", "[4, 5]", "cannot be multiplied")
        assertThrowsConvKitError(try matmul(try Tensor.zeros([3]), try Tensor.zeros([4])), "matmul", "[3]", "[4]")
        assertThrowsConvKitError(try matmul(try Tensor(scalar: 1), try Tensor.zeros([4])), "matmul", "at least 1 dimension")
        assertThrowsConvKitError(try matmul(try Tensor.zeros([2, 2, 3]), try Tensor.zeros([3, 3, 4])), "matmul", "[2]", "[3]", "broadcast")
        assertThrowsConvKitError(try matmul(try Tensor(indices: [1]), try Tensor.zeros([1])), "matmul", "int32")
    }
}
