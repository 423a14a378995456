import XCTest
@testable import ConvKit

final class PadTests: XCTestCase {
    /// Random pads valid for `mode` on a dimension of `size`.
    private func randomPair(_ mode: PadMode, size: Int, rng: inout TestRNG) -> (Int, Int) {
        while true {
            let before: Int, after: Int
            switch mode {
            case .constant: before = rng.int(-size...3); after = rng.int(-size...3)
            case .reflect: before = rng.int(-(size - 1)...(size - 1)); after = rng.int(-(size - 1)...(size - 1))
            case .replicate: before = rng.int(-(size - 1)...4); after = rng.int(-(size - 1)...4)
            case .circular: before = rng.int(-(size - 1)...size); after = rng.int(-(size - 1)...size)
            }
            let out = size + before + after
            switch mode {
            case .constant where out >= 0: return (before, after)
            case .reflect, .replicate: if out >= 1 { return (before, after) }
            case .circular:
                let kept = size - max(-before, 0) - max(-after, 0)
                if out >= 0 && (kept > 0 || out == 0) { return (before, after) }
            default: break
            }
        }
    }

    /// A random shape and pads for `mode`: non-constant modes pad 1 or 2 trailing dimensions of
    /// a 2-D…4-D input as PyTorch accepts; constant pads up to every dimension of a 1-D…5-D input.
    private func randomCase(_ mode: PadMode, rng: inout TestRNG) -> (shape: [Int], pads: [Int]) {
        let rank: Int, pairs: Int
        if mode == .constant {
            rank = rng.int(1...5); pairs = rng.int(0...rank)
        } else {
            pairs = rng.int(1...2); rank = pairs + rng.int(1...2)
        }
        let shape = (0..<rank).map { _ in rng.int(1...(rank >= 4 ? 4 : 6)) }
        var pads: [Int] = []
        for k in 0..<pairs {
            let (b, a) = randomPair(mode, size: shape[rank - 1 - k], rng: &rng)
            pads += [b, a]
        }
        return (shape, pads)
    }

    func testForwardMatchesReferenceForRandomCases() throws {
        var rng = TestRNG(seed: 11)
        for mode in PadMode.allCases {
            for trial in 0..<60 {
                let (shape, pads) = randomCase(mode, rng: &rng)
                let values = randomValues(shape.reduce(1, *), seed: UInt64(trial))
                let value: Float = mode == .constant ? Float(rng.int(-3...3)) / 2 : 0
                let out = try pad(Tensor(values, shape: shape), pads, mode: mode, value: value)
                let ref = PoolingReference.pad(values.map(Double.init), shape: shape, pads: pads, mode: mode, value: Double(value))
                XCTAssertEqual(out.shape, ref.shape, "\(mode) \(shape) \(pads)")
                XCTAssertEqual(try out.toArray().map(Double.init), ref.values, "\(mode) \(shape) \(pads)")
            }
        }
    }

    func testGradientsMatchNumericGradients() throws {
        var rng = TestRNG(seed: 5)
        for mode in PadMode.allCases {
            for trial in 0..<12 {
                let (shape, pads) = randomCase(mode, rng: &rng)
                let values = randomValues(shape.reduce(1, *), seed: UInt64(100 + trial))
                let x = try Tensor(values, shape: shape, requiresGrad: true)
                let value: Float = mode == .constant ? 0.25 : 0
                let y = try pad(x, pads, mode: mode, value: value)
                let upstream = randomValues(y.count, seed: UInt64(200 + trial))
                try y.backward(gradient: Tensor(upstream, shape: y.shape))
                let numeric = numericGradient(at: values.map(Double.init), upstream: upstream.map(Double.init)) {
                    PoolingReference.pad($0, shape: shape, pads: pads, mode: mode, value: Double(value)).values
                }
                assertClose(try XCTUnwrap(x.grad).toArray(), numeric, tolerance: 1e-5, "\(mode) \(shape) \(pads)")
            }
        }
    }

    /// Values printed by PyTorch 2.x: `F.pad(torch.arange(5.).reshape(1, 5), pads, mode=…)`.
    func testMatchesPyTorchOnMixedSignPads() throws {
        let x = try Tensor([0, 1, 2, 3, 4], shape: [1, 5])
        let expected: [(PadMode, [Int], [Float])] = [
            (.circular, [-1, 2], [1, 2, 3, 4, 1, 2]),
            (.circular, [2, -1], [2, 3, 0, 1, 2, 3]),
            (.circular, [-2, 3], [2, 3, 4, 2, 3, 4]),
            (.circular, [3, -2], [0, 1, 2, 0, 1, 2]),
            (.circular, [-3, 4], [3, 4, 3, 4, 3, 4]),
            (.circular, [-1, 5], [1, 2, 3, 4, 1, 2, 3, 4, 1]),
            (.reflect, [-1, 2], [1, 2, 3, 4, 3, 2]),
            (.reflect, [4, -3], [4, 3, 2, 1, 0, 1]),
            (.replicate, [-2, 3], [2, 3, 4, 4, 4, 4]),
            (.replicate, [4, -3], [0, 0, 0, 0, 0, 1]),
            (.constant, [-1, 2], [1, 2, 3, 4, 0, 0]),
        ]
        for (mode, pads, values) in expected {
            XCTAssertEqual(try pad(x, pads, mode: mode).toArray(), values, "\(mode) \(pads)")
        }
        let three = try Tensor([0, 1, 2], shape: [1, 3])
        XCTAssertEqual(try pad(three, [2, 3], mode: .circular).toArray(), [1, 2, 0, 1, 2, 0, 1, 2])
        XCTAssertEqual(try pad(three, [1, 1], value: -7).toArray(), [-7, 0, 1, 2, -7])
    }

    func testTwoDimensionalModesAndShapes() throws {
        // 3×3 plane 0…8, reflect by 1 on every side (PyTorch's result).
        let x = try Tensor((0..<9).map(Float.init), shape: [1, 3, 3])
        XCTAssertEqual(try pad(x, [1, 1, 1, 1], mode: .reflect).toArray(), [
            4, 3, 4, 5, 4,
            1, 0, 1, 2, 1,
            4, 3, 4, 5, 4,
            7, 6, 7, 8, 7,
            4, 3, 4, 5, 4,
        ])
        XCTAssertEqual(try pad(Tensor.zeros([2, 3, 4, 5]), [1, 2, 0, 3], mode: .replicate).shape, [2, 3, 7, 8])
        XCTAssertEqual(try pad(Tensor.zeros([0, 3, 4, 5]), [1, 1, 1, 1], mode: .reflect).shape, [0, 3, 6, 7])
        XCTAssertEqual(try pad(Tensor.zeros([2, 0, 4, 5]), [1, 1, 1, 1], mode: .circular).shape, [2, 0, 6, 7])
        XCTAssertEqual(try pad(Tensor.zeros([2, 3, 4, 5]), [-3, -2]).shape, [2, 3, 4, 0])
        XCTAssertEqual(try pad(Tensor.zeros([2, 3, 4, 5]), [1, 1, 1, 1, 1, 1, 1, 1]).shape, [4, 5, 6, 7])
        let copy = try pad(x, [])
        XCTAssertEqual(try copy.toArray(), try x.toArray())
        XCTAssertFalse(copy.storage === x.storage)
    }

    func testReplicateGradientSumsEdgeCopies() throws {
        let x = try Tensor([1, 2, 3], shape: [1, 3], requiresGrad: true)
        let y = try pad(x, [2, 1], mode: .replicate)
        try y.backward(gradient: Tensor([1, 10, 100, 1000, 10000, 100000], shape: [1, 6]))
        XCTAssertEqual(try XCTUnwrap(x.grad).toArray(), [111, 1000, 110000])
    }

    func testErrors() throws {
        let x4 = try Tensor.zeros([2, 3, 4, 5])
        assertThrowsConvKitError(try pad(x4, [1, 1, 1]), "pad", "divisible by 2")
        assertThrowsConvKitError(try pad(x4, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), "pad", "10 pads", "[2, 3, 4, 5]")
        assertThrowsConvKitError(try pad(x4, [-3, -3]), "pad", "dimension 3", "negative")
        assertThrowsConvKitError(try pad(x4, [5, 0, 0, 0], mode: .reflect), "pad", "reflect", "size 5", "dimension 3")
        assertThrowsConvKitError(try pad(x4, [1, 1, 1, 1], mode: .reflect, value: 0.5), "pad", "does not take a value")
        assertThrowsConvKitError(try pad(x4, [0, 0, 0, 4], mode: .reflect), "pad", "reflect", "size 4", "dimension 2")
        assertThrowsConvKitError(try pad(x4, [-3, -3, 0, 0], mode: .reflect), "pad", "dimension 3", "at least 1")
        assertThrowsConvKitError(try pad(x4, [-3, -3, 0, 0], mode: .replicate), "pad", "dimension 3", "at least 1")
        assertThrowsConvKitError(try pad(x4, [6, 0, 0, 0], mode: .circular), "pad", "circular", "wrap around")
        assertThrowsConvKitError(try pad(x4, [-3, -3, 0, 0], mode: .circular), "pad", "dimension 3", "negative")
        assertThrowsConvKitError(try pad(x4, [-5, 2, 0, 0], mode: .circular), "pad", "circular", "crops away all 5 cells", "dimension 3")
        assertThrowsConvKitError(try pad(x4, [1, 1], mode: .reflect), "pad", "2 pads", "2-D or 3-D")
        assertThrowsConvKitError(try pad(Tensor.zeros([4, 5]), [1, 1, 1, 1], mode: .replicate), "pad", "4 pads", "3-D or 4-D")
        assertThrowsConvKitError(try pad(x4, [1, 1, 1, 1, 1, 1], mode: .circular), "pad", "circular", "6 pads")
        assertThrowsConvKitError(try pad(Tensor.zeros([2, 0, 3, 3]), [1, 1, 1, 1], mode: .reflect), "pad", "non-empty", "[2, 0, 3, 3]")
        assertThrowsConvKitError(try pad(Tensor.zeros([2, 3, 3, 0]), [0, 0, 1, 1], mode: .replicate), "pad", "non-empty")
        assertThrowsConvKitError(try pad(Tensor(indices: [1, 2], shape: [1, 2]), [1, 1]), "pad", "float32")
        assertThrowsConvKitError(try pad(x4, [Int.max, 0]), "pad", "too large")
        assertThrowsConvKitError(try pad(x4, [0, 0, 1 << 30, 1 << 30], mode: .replicate), "too large")
        XCTAssertEqual(try pad(Tensor.zeros([0, 3]), [1 << 30, 1 << 30]).shape, [0, (1 << 31) + 3])
    }
}
