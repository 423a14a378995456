import XCTest
@testable import ConvKit

final class PoolingTests: XCTestCase {
    // MARK: Random cases

    private struct PoolCase: CustomStringConvertible {
        var shape: [Int], kernel: Size2d, stride: Size2d, padding: Size2d, dilation: Size2d, ceilMode: Bool
        var description: String {
            "shape \(shape) kernel \(kernel) stride \(stride) padding \(padding) dilation \(dilation) ceil \(ceilMode)"
        }
        var pooledHeight: Int {
            PoolingReference.windowCount(size: shape[shape.count - 2], kernel: kernel.h, stride: stride.h,
                                         padding: padding.h, dilation: dilation.h, ceilMode: ceilMode)
        }
        var pooledWidth: Int {
            PoolingReference.windowCount(size: shape[shape.count - 1], kernel: kernel.w, stride: stride.w,
                                         padding: padding.w, dilation: dilation.w, ceilMode: ceilMode)
        }
    }

    /// Random non-square shapes (3-D and 4-D), kernels, strides (also larger than the kernel),
    /// paddings up to half the kernel, dilations and ceil mode; only cases with a non-empty output.
    private func randomCases(_ count: Int, seed: UInt64, dilation: Bool, maxSide: Int = 9) -> [PoolCase] {
        var rng = TestRNG(seed: seed)
        var cases: [PoolCase] = []
        while cases.count < count {
            let spatial = [rng.int(1...maxSide), rng.int(1...maxSide)]
            let shape = (rng.bool() ? [rng.int(1...2)] : []) + [rng.int(1...3)] + spatial
            let kernel = Size2d(rng.int(1...4), rng.int(1...4))
            let c = PoolCase(shape: shape, kernel: kernel, stride: Size2d(rng.int(1...5), rng.int(1...5)),
                             padding: Size2d(rng.int(0...kernel.h / 2), rng.int(0...kernel.w / 2)),
                             dilation: dilation ? Size2d(rng.int(1...3), rng.int(1...3)) : 1, ceilMode: rng.bool())
            if c.pooledHeight > 0 && c.pooledWidth > 0 { cases.append(c) }
        }
        return cases
    }

    /// Distinct values (a shuffled ramp) so max pooling has no ties and finite differences are safe.
    private func distinctValues(_ count: Int, seed: UInt64) -> [Float] {
        var rng = TestRNG(seed: seed)
        var values = (0..<count).map { Float($0) * 0.03 - Float(count) * 0.015 }
        for i in stride(from: count - 1, to: 0, by: -1) { values.swapAt(i, rng.int(0...i)) }
        return values
    }

    // MARK: Max pooling

    func testMaxPoolForwardAndIndicesMatchReference() throws {
        var ceilStartsInPadding = 0
        for (trial, c) in randomCases(300, seed: 1, dilation: true).enumerated() {
            let values = randomValues(c.shape.reduce(1, *), seed: UInt64(trial))
            let x = try Tensor(values, shape: c.shape)
            let (y, idx) = try maxPool2dWithIndices(x, kernelSize: c.kernel, stride: c.stride, padding: c.padding,
                                                    dilation: c.dilation, ceilMode: c.ceilMode)
            let ref = PoolingReference.maxPool2d(values.map(Double.init), shape: c.shape, kernel: c.kernel, stride: c.stride,
                                                 padding: c.padding, dilation: c.dilation, ceilMode: c.ceilMode)
            XCTAssertEqual(y.shape, ref.shape, "\(c)")
            XCTAssertEqual(idx.shape, ref.shape, "\(c)")
            XCTAssertEqual(try y.toArray().map(Double.init), ref.values, "\(c)")
            XCTAssertEqual(try idx.toIntArray().map(Int.init), ref.indices, "\(c)")
            let plain = try maxPool2d(x, kernelSize: c.kernel, stride: c.stride, padding: c.padding,
                                      dilation: c.dilation, ceilMode: c.ceilMode)
            XCTAssertEqual(try plain.toArray(), try y.toArray(), "\(c)")
            let lastStart = (c.pooledHeight - 1) * c.stride.h - c.padding.h
            if c.ceilMode && lastStart + (c.kernel.h - 1) * c.dilation.h >= c.shape[c.shape.count - 2] { ceilStartsInPadding += 1 }
        }
        XCTAssertGreaterThan(ceilStartsInPadding, 10, "the random cases should exercise ceil-mode overhanging windows")
    }

    /// Many ties, NaNs and -∞ (values from tiny sets), wide rows for the vectorised path:
    /// indices must follow PyTorch's row-major scan (first maximum, last NaN) exactly.
    func testMaxPoolTiesNaNAndInfinityMatchReference() throws {
        var rng = TestRNG(seed: 21)
        let pools: [[Float]] = [[0, 1, 2], [0, 1, .nan], [-.infinity, 1], [0, .nan, -.infinity], [5]]
        for (trial, c) in randomCases(150, seed: 22, dilation: true, maxSide: 20).enumerated() {
            let pool = pools[trial % pools.count]
            let values = (0..<c.shape.reduce(1, *)).map { _ in pool[rng.int(0...(pool.count - 1))] }
            let x = try Tensor(values, shape: c.shape)
            let (y, idx) = try maxPool2dWithIndices(x, kernelSize: c.kernel, stride: c.stride, padding: c.padding,
                                                    dilation: c.dilation, ceilMode: c.ceilMode)
            let plain = try maxPool2d(x, kernelSize: c.kernel, stride: c.stride, padding: c.padding,
                                      dilation: c.dilation, ceilMode: c.ceilMode)
            let ref = PoolingReference.maxPool2d(values.map(Double.init), shape: c.shape, kernel: c.kernel, stride: c.stride,
                                                 padding: c.padding, dilation: c.dilation, ceilMode: c.ceilMode)
            let nanAware = { (v: [Double]) in v.map { $0.isNaN ? 1e300 : $0 } }
            XCTAssertEqual(try idx.toIntArray().map(Int.init), ref.indices, "\(c)")
            XCTAssertEqual(nanAware(try y.toArray().map(Double.init)), nanAware(ref.values), "\(c)")
            XCTAssertEqual(nanAware(try plain.toArray().map(Double.init)), nanAware(ref.values), "\(c)")
        }
    }

    func testMaxPoolGradientMatchesNumericGradient() throws {
        for (trial, c) in randomCases(25, seed: 2, dilation: true, maxSide: 7).enumerated() {
            let values = distinctValues(c.shape.reduce(1, *), seed: UInt64(trial))
            let x = try Tensor(values, shape: c.shape, requiresGrad: true)
            let y = try maxPool2d(x, kernelSize: c.kernel, stride: c.stride, padding: c.padding,
                                  dilation: c.dilation, ceilMode: c.ceilMode)
            // Windows whose taps all fall in the padding (-∞, possible with dilation) have no
            // derivative; PyTorch sends their gradient to an arbitrary cell, ConvKit drops it.
            guard try !y.toArray().contains(-.infinity) else { continue }
            let upstream = randomValues(y.count, seed: UInt64(50 + trial))
            try y.backward(gradient: Tensor(upstream, shape: y.shape))
            let numeric = numericGradient(at: values.map(Double.init), upstream: upstream.map(Double.init), eps: 1e-4) {
                PoolingReference.maxPool2d($0, shape: c.shape, kernel: c.kernel, stride: c.stride, padding: c.padding,
                                           dilation: c.dilation, ceilMode: c.ceilMode).values
            }
            assertClose(try XCTUnwrap(x.grad).toArray(), numeric, tolerance: 1e-5, "\(c)")
        }
    }

    func testMaxPoolBackwardIsBitwiseReproducible() throws {
        let x = try Tensor(randomValues(2 * 3 * 17 * 15, seed: 9), shape: [2, 3, 17, 15], requiresGrad: true)
        let upstream = try Tensor(randomValues(2 * 3 * 8 * 7, seed: 10), shape: [2, 3, 8, 7])
        var grads: [[Float]] = []
        for _ in 0..<3 {
            x.grad = nil
            try maxPool2d(x, kernelSize: 3, stride: 2).backward(gradient: upstream)
            grads.append(try XCTUnwrap(x.grad).toArray())
        }
        XCTAssertEqual(grads[0], grads[1])
        XCTAssertEqual(grads[0], grads[2])
    }

    func testMaxPoolNaNTiesAndInfinities() throws {
        let nan = Float.nan
        // One 2×4 plane, 2×2 windows: [1 NaN | 5 5], [3 2 | 5 0].
        let x = try Tensor([1, nan, 5, 5,
                            3, 2, 5, 0], shape: [1, 2, 4])
        let (y, idx) = try maxPool2dWithIndices(x, kernelSize: 2)
        let values = try y.toArray()
        XCTAssertTrue(values[0].isNaN)
        XCTAssertEqual(values[1], 5)
        XCTAssertEqual(try idx.toIntArray(), [1, 2], "NaN wins; the first of tied maxima wins")
        // -0 and 0 tie (PyTorch: indices [0, 2], values -0 and 0).
        let zeros = try maxPool2dWithIndices(Tensor([-0.0, 0, 0, -0.0], shape: [1, 1, 4]), kernelSize: Size2d(1, 2))
        XCTAssertEqual(try zeros.indices.toIntArray(), [0, 2])
        XCTAssertEqual(try zeros.output.toArray().map { $0.sign }, [.minus, .plus])
        // Two NaNs in one window: PyTorch reports the last one scanned.
        let twoNaN = try maxPool2dWithIndices(Tensor([nan, 1, 2, nan], shape: [1, 2, 2]), kernelSize: 2)
        XCTAssertEqual(try twoNaN.indices.toIntArray(), [3])
        // All -∞: the first cell.
        let infinite = try maxPool2dWithIndices(Tensor([Float](repeating: -.infinity, count: 4), shape: [1, 2, 2]), kernelSize: 2)
        XCTAssertEqual(try infinite.output.toArray(), [-.infinity])
        XCTAssertEqual(try infinite.indices.toIntArray(), [0])
        // A dilated window whose taps all fall in the padding: PyTorch gives -∞ and index 2.
        let empty = try maxPool2dWithIndices(Tensor([7], shape: [1, 1, 1, 1]), kernelSize: 2, padding: 1, dilation: 2)
        XCTAssertEqual(try empty.output.toArray(), [-.infinity])
        XCTAssertEqual(try empty.indices.toIntArray(), [2])
        // Column windows whose taps all fall in the padding (dilation 2): -∞ with PyTorch's
        // indices [1, 2]; they pass no gradient (PyTorch sends one to the cell its index names).
        let dilated = try Tensor([1, 2], shape: [1, 1, 2, 1], requiresGrad: true)
        let emptyWindows = try maxPool2dWithIndices(dilated, kernelSize: Size2d(1, 2), padding: Size2d(0, 1), dilation: Size2d(1, 2))
        XCTAssertEqual(try emptyWindows.output.toArray(), [-.infinity, -.infinity])
        XCTAssertEqual(try emptyWindows.indices.toIntArray(), [1, 2])
        try emptyWindows.output.backward(gradient: Tensor.ones([1, 1, 2, 1]))
        XCTAssertEqual(try XCTUnwrap(dilated.grad).toArray(), [0, 0])
        // Gradient of a NaN window goes to the NaN.
        let g = try Tensor([1, nan, 5, 5, 3, 2, 5, 0], shape: [1, 2, 4], requiresGrad: true)
        try maxPool2d(g, kernelSize: 2).backward(gradient: Tensor([10, 20], shape: [1, 1, 2]))
        XCTAssertEqual(try XCTUnwrap(g.grad).toArray(), [0, 10, 20, 0, 0, 0, 0, 0])
    }

    /// Values from PyTorch: `F.max_pool2d(torch.arange(25.).reshape(1,1,5,5), 2, ceil_mode=True,
    /// return_indices=True)` and with `kernel_size=3, stride=2, padding=1, ceil_mode=True`.
    func testMaxPoolCeilModeMatchesPyTorch() throws {
        let x = try Tensor((0..<25).map(Float.init), shape: [1, 1, 5, 5])
        let a = try maxPool2dWithIndices(x, kernelSize: 2, ceilMode: true)
        XCTAssertEqual(a.output.shape, [1, 1, 3, 3])
        XCTAssertEqual(try a.indices.toIntArray(), [6, 8, 9, 16, 18, 19, 21, 23, 24])
        let b = try maxPool2dWithIndices(x, kernelSize: 3, stride: 2, padding: 1, ceilMode: true)
        XCTAssertEqual(b.output.shape, [1, 1, 3, 3])
        XCTAssertEqual(try b.output.toArray(), [6, 8, 9, 16, 18, 19, 21, 23, 24])
        // The window that would start in the right padding is dropped: 4 → 2 rows, not 3.
        XCTAssertEqual(try maxPool2d(Tensor.zeros([1, 4, 4]), kernelSize: 2, ceilMode: true).shape, [1, 2, 2])
        XCTAssertEqual(try maxPool2d(Tensor.zeros([1, 5, 5]), kernelSize: 3, stride: 3, padding: 1, ceilMode: true).shape, [1, 2, 2])
    }

    // MARK: Average pooling

    func testAvgPoolForwardMatchesReference() throws {
        var rng = TestRNG(seed: 3)
        for (trial, c) in randomCases(300, seed: 4, dilation: false).enumerated() {
            let countIncludePad = rng.bool()
            let divisorOverride: Int? = rng.int(0...3) == 0 ? [-3, 2, 5][rng.int(0...2)] : nil
            let values = randomValues(c.shape.reduce(1, *), seed: UInt64(trial))
            let y = try avgPool2d(Tensor(values, shape: c.shape), kernelSize: c.kernel, stride: c.stride, padding: c.padding,
                                  ceilMode: c.ceilMode, countIncludePad: countIncludePad, divisorOverride: divisorOverride)
            let ref = PoolingReference.avgPool2d(values.map(Double.init), shape: c.shape, kernel: c.kernel, stride: c.stride,
                                                 padding: c.padding, ceilMode: c.ceilMode, countIncludePad: countIncludePad,
                                                 divisorOverride: divisorOverride)
            XCTAssertEqual(y.shape, ref.shape, "\(c)")
            assertClose(try y.toArray(), ref.values, tolerance: 1e-6, "\(c) include \(countIncludePad) divisor \(String(describing: divisorOverride))")
        }
    }

    func testAvgPoolGradientMatchesNumericGradient() throws {
        var rng = TestRNG(seed: 6)
        for (trial, c) in randomCases(25, seed: 7, dilation: false, maxSide: 7).enumerated() {
            let countIncludePad = rng.bool()
            let divisorOverride: Int? = rng.int(0...3) == 0 ? 3 : nil
            let values = randomValues(c.shape.reduce(1, *), seed: UInt64(trial))
            let x = try Tensor(values, shape: c.shape, requiresGrad: true)
            let y = try avgPool2d(x, kernelSize: c.kernel, stride: c.stride, padding: c.padding, ceilMode: c.ceilMode,
                                  countIncludePad: countIncludePad, divisorOverride: divisorOverride)
            let upstream = randomValues(y.count, seed: UInt64(80 + trial))
            try y.backward(gradient: Tensor(upstream, shape: y.shape))
            let numeric = numericGradient(at: values.map(Double.init), upstream: upstream.map(Double.init)) {
                PoolingReference.avgPool2d($0, shape: c.shape, kernel: c.kernel, stride: c.stride, padding: c.padding,
                                           ceilMode: c.ceilMode, countIncludePad: countIncludePad,
                                           divisorOverride: divisorOverride).values
            }
            assertClose(try XCTUnwrap(x.grad).toArray(), numeric, tolerance: 1e-4, "\(c)")
        }
    }

    /// PyTorch: `F.avg_pool2d(torch.arange(16.).reshape(1,1,4,4), 3, 2, 1, ceil_mode=True, …)`.
    func testAvgPoolDivisorRulesMatchPyTorch() throws {
        let x = try Tensor((0..<16).map(Float.init), shape: [1, 1, 4, 4])
        let include = try avgPool2d(x, kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: true)
        assertClose(try include.toArray(), [1.1111111640930176, 2.6666667461395264, 1.6666666269302368, 5.666666507720947,
                                            10.0, 5.5, 4.166666507720947, 7.0, 3.75], tolerance: 1e-6)
        let exclude = try avgPool2d(x, kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false)
        assertClose(try exclude.toArray(), [2.5, 4.0, 5.0, 8.5, 10.0, 11.0, 12.5, 14.0, 15.0], tolerance: 1e-6)
        let overridden = try avgPool2d(x, kernelSize: 2, divisorOverride: 3)
        assertClose(try overridden.toArray(), [3.3333332538604736, 6.0, 14.0, 16.66666603088379], tolerance: 1e-6)
        // 5×5, kernel 2, stride 2, padding 1, ceil: the window that would start in the right
        // padding is dropped (3 windows, not 4) and the last one's divisor stops at H + padding.
        let five = try avgPool2d(Tensor((0..<25).map(Float.init), shape: [1, 1, 5, 5]), kernelSize: 2, stride: 2,
                                 padding: 1, ceilMode: true)
        XCTAssertEqual(five.shape, [1, 1, 3, 3])
        assertClose(try five.toArray(), [0.0, 0.75, 1.75, 3.75, 9.0, 11.0, 8.75, 19.0, 21.0], tolerance: 1e-6)
    }

    // MARK: Adaptive average pooling

    func testAdaptiveAvgPoolMatchesReferenceAndGradient() throws {
        var rng = TestRNG(seed: 8)
        for trial in 0..<60 {
            let shape = (rng.bool() ? [rng.int(1...2)] : []) + [rng.int(1...3), rng.int(1...9), rng.int(1...9)]
            let outputSize = Size2d(rng.int(1...10), rng.int(1...10))
            let values = randomValues(shape.reduce(1, *), seed: UInt64(trial))
            let x = try Tensor(values, shape: shape, requiresGrad: true)
            let y = try adaptiveAvgPool2d(x, outputSize: outputSize)
            let ref = PoolingReference.adaptiveAvgPool2d(values.map(Double.init), shape: shape, outputSize: outputSize)
            XCTAssertEqual(y.shape, ref.shape)
            assertClose(try y.toArray(), ref.values, tolerance: 1e-6, "\(shape) → \(outputSize)")
            if trial < 15 {
                let upstream = randomValues(y.count, seed: UInt64(300 + trial))
                try y.backward(gradient: Tensor(upstream, shape: y.shape))
                let numeric = numericGradient(at: values.map(Double.init), upstream: upstream.map(Double.init)) {
                    PoolingReference.adaptiveAvgPool2d($0, shape: shape, outputSize: outputSize).values
                }
                assertClose(try XCTUnwrap(x.grad).toArray(), numeric, tolerance: 1e-4, "\(shape) → \(outputSize)")
            }
        }
        XCTAssertEqual(try adaptiveAvgPool2d(Tensor.zeros([2, 3, 4, 4]), outputSize: Size2d(0, 2)).shape, [2, 3, 0, 2])
        XCTAssertEqual(try adaptiveAvgPool2d(Tensor.zeros([2, 0, 4, 4]), outputSize: 2).shape, [2, 0, 2, 2])
        // PyTorch: F.adaptive_avg_pool2d(torch.arange(5.).reshape(1,1,5), (1, 3)) = [0.5, 2, 3.5].
        XCTAssertEqual(try adaptiveAvgPool2d(Tensor([0, 1, 2, 3, 4], shape: [1, 1, 5]), outputSize: Size2d(1, 3)).toArray(), [0.5, 2, 3.5])
    }

    // MARK: Unpooling

    func testUnpoolOfPoolRoundTripAndGradient() throws {
        var uniqueCases = 0
        defer { XCTAssertGreaterThan(uniqueCases, 10, "too few cases with unique indices") }
        for (trial, c) in randomCases(60, seed: 12, dilation: false, maxSide: 8).enumerated() {
            let values = distinctValues(c.shape.reduce(1, *), seed: UInt64(trial))
            let x = try Tensor(values, shape: c.shape)
            let (pooled, indices) = try maxPool2dWithIndices(x, kernelSize: c.kernel, stride: c.stride, padding: c.padding,
                                                             ceilMode: c.ceilMode)
            let h = c.shape[c.shape.count - 2], w = c.shape[c.shape.count - 1]
            let naturalH = (c.pooledHeight - 1) * c.stride.h - 2 * c.padding.h + c.kernel.h
            let naturalW = (c.pooledWidth - 1) * c.stride.w - 2 * c.padding.w + c.kernel.w
            // Unpool to the original size when PyTorch allows it, else to the default size if
            // every index fits there.
            let fitsOriginal = abs(h - naturalH) < c.stride.h && abs(w - naturalW) < c.stride.w
            let (outH, outW) = fitsOriginal ? (h, w) : (naturalH, naturalW)
            let maxIndex = try indices.toIntArray().map { Int($0) }.max() ?? 0
            guard outH > 0, outW > 0, fitsOriginal || (maxIndex < outH * outW && w == outW) else { continue }
            let pooledInput = try Tensor(pooled.toArray(), shape: pooled.shape, requiresGrad: true)
            let unpooled = try maxUnpool2d(pooledInput, indices: indices, kernelSize: c.kernel, stride: c.stride,
                                           padding: c.padding, outputSize: fitsOriginal ? [outH, outW] : nil)
            let ref = PoolingReference.maxUnpool2d(try pooled.toArray().map(Double.init), indices: try indices.toIntArray().map(Int.init),
                                                   shape: pooled.shape, outputHeight: outH, outputWidth: outW)
            XCTAssertEqual(unpooled.shape, ref.shape, "\(c)")
            XCTAssertEqual(try unpooled.toArray().map(Double.init), ref.values, "\(c)")
            if fitsOriginal {
                // Every surviving value sits where it came from; pooling again gives the same result.
                let out = try unpooled.toArray()
                for (i, v) in out.enumerated() where v != 0 { XCTAssertEqual(v, values[i], "\(c)") }
                let again = try maxPool2d(unpooled, kernelSize: c.kernel, stride: c.stride, padding: c.padding, ceilMode: c.ceilMode)
                XCTAssertEqual(again.shape, pooled.shape)
            }
            let upstream = randomValues(unpooled.count, seed: UInt64(500 + trial))
            try unpooled.backward(gradient: Tensor(upstream, shape: unpooled.shape))
            // Overlapping windows can repeat an index; then the gradient reads dY at every copy
            // (as PyTorch) although only the last write survives, so check the gather rule itself.
            let flatIndices = try indices.toIntArray().map(Int.init)
            let planeIn = pooled.shape.suffix(2).reduce(1, *), planeOut = outH * outW
            let gathered = flatIndices.enumerated().map { i, index in Double(upstream[(i / planeIn) * planeOut + index]) }
            XCTAssertEqual(try XCTUnwrap(pooledInput.grad).toArray().map(Double.init), gathered, "\(c)")
            let planes = flatIndices.count / max(planeIn, 1)
            let unique = (0..<planes).allSatisfy { p in Set(flatIndices[p * planeIn ..< (p + 1) * planeIn]).count == planeIn }
            guard unique else { continue }
            uniqueCases += 1
            let numeric = numericGradient(at: try pooled.toArray().map(Double.init), upstream: upstream.map(Double.init)) {
                PoolingReference.maxUnpool2d($0, indices: try! indices.toIntArray().map(Int.init), shape: pooled.shape,
                                             outputHeight: outH, outputWidth: outW).values
            }
            assertClose(try XCTUnwrap(pooledInput.grad).toArray(), numeric, tolerance: 1e-5, "\(c)")
        }
    }

    func testUnpoolDefaultSizeAndPyTorchExample() throws {
        // PyTorch: F.max_unpool2d(*F.max_pool2d(torch.arange(16.).reshape(1,1,4,4), 2, return_indices=True), 2)
        let x = try Tensor((0..<16).map(Float.init), shape: [1, 1, 4, 4])
        let (y, idx) = try maxPool2dWithIndices(x, kernelSize: 2)
        let u = try maxUnpool2d(y, indices: idx, kernelSize: 2)
        XCTAssertEqual(u.shape, [1, 1, 4, 4])
        XCTAssertEqual(try u.toArray(), [0, 0, 0, 0, 0, 5, 0, 7, 0, 0, 0, 0, 0, 13, 0, 15])
        XCTAssertEqual(try maxUnpool2d(y, indices: idx, kernelSize: 2, outputSize: [1, 1, 5, 5]).shape, [1, 1, 5, 5])
        XCTAssertEqual(try maxUnpool2d(Tensor.zeros([0, 2, 2, 3]), indices: Tensor(indices: [], shape: [0, 2, 2, 3]),
                                       kernelSize: 2).shape, [0, 2, 4, 6])
    }

    // MARK: Errors

    func testPoolingErrors() throws {
        let x = try Tensor(distinctValues(2 * 3 * 5 * 7, seed: 1), shape: [2, 3, 5, 7])
        assertThrowsConvKitError(try maxPool2d(x, kernelSize: 3, padding: 2), "maxPool2d", "padding", "half")
        assertThrowsConvKitError(try maxPool2d(x, kernelSize: 0), "maxPool2d", "kernelSize", "positive")
        assertThrowsConvKitError(try maxPool2d(x, kernelSize: Size2d(2, -1)), "maxPool2d", "kernelSize")
        assertThrowsConvKitError(try maxPool2d(x, kernelSize: 2, stride: 0), "maxPool2d", "stride", "positive")
        assertThrowsConvKitError(try maxPool2d(x, kernelSize: 2, dilation: 0), "maxPool2d", "dilation")
        assertThrowsConvKitError(try maxPool2d(x, kernelSize: 2, padding: -1), "maxPool2d", "padding", "non-negative")
        assertThrowsConvKitError(try maxPool2d(x, kernelSize: Size2d(6, 2)), "maxPool2d", "output size would be 0x3", "[2, 3, 5, 7]")
        assertThrowsConvKitError(try maxPool2d(x, kernelSize: 3, dilation: 3), "maxPool2d", "output size would be")
        assertThrowsConvKitError(try maxPool2d(Tensor.zeros([5, 7]), kernelSize: 2), "maxPool2d", "3-D", "4-D", "[5, 7]")
        assertThrowsConvKitError(try maxPool2d(Tensor.zeros([1, 2, 3, 5, 7]), kernelSize: 2), "maxPool2d", "[1, 2, 3, 5, 7]")
        assertThrowsConvKitError(try maxPool2d(Tensor.zeros([2, 0, 5, 5]), kernelSize: 2), "maxPool2d", "empty", "[2, 0, 5, 5]")
        assertThrowsConvKitError(try maxPool2d(Tensor.zeros([0, 5, 5]), kernelSize: 2), "maxPool2d", "empty")
        assertThrowsConvKitError(try maxPool2d(Tensor(indices: [1, 2, 3, 4], shape: [1, 2, 2]), kernelSize: 2), "maxPool2d", "float32")
        assertThrowsConvKitError(try maxPool2dWithIndices(x, kernelSize: 0), "maxPool2dWithIndices", "kernelSize")
        XCTAssertEqual(try maxPool2d(Tensor.zeros([0, 3, 5, 5]), kernelSize: 2).shape, [0, 3, 2, 2])
        // Huge arguments are answered with errors, not overflow traps.
        assertThrowsConvKitError(try maxPool2d(x, kernelSize: Size2d(Int.max), dilation: 4), "maxPool2d", "at most")
        // A huge window with huge padding covers the whole plane in one step (no tap loops).
        let whole = try maxPool2dWithIndices(x, kernelSize: Size2d(1 << 30), padding: Size2d(1 << 29), ceilMode: true)
        XCTAssertEqual(whole.output.shape, [2, 3, 1, 1])
        let planes = try x.toArray()
        XCTAssertEqual(try whole.output.toArray(), (0..<6).map { p in planes[(p * 35)..<((p + 1) * 35)].max()! })
        let wholeGrad = try Tensor(planes, shape: x.shape, requiresGrad: true)
        try maxPool2d(wholeGrad, kernelSize: Size2d(1 << 30), padding: Size2d(1 << 29)).backward(gradient: Tensor.ones([2, 3, 1, 1]))
        XCTAssertEqual(try XCTUnwrap(wholeGrad.grad).toArray().reduce(0, +), 6)
        assertThrowsConvKitError(try avgPool2d(x, kernelSize: 2, stride: Size2d(Int.max)), "avgPool2d", "at most")
        assertThrowsConvKitError(try maxUnpool2d(x, indices: Tensor(indices: [Int32](repeating: 0, count: 210), shape: [2, 3, 5, 7]),
                                             kernelSize: Size2d(1 << 30)), "maxUnpool2d", "too large")
        assertThrowsConvKitError(try maxUnpool2d(x, indices: Tensor(indices: [Int32](repeating: 0, count: 210), shape: [2, 3, 5, 7]),
                                             kernelSize: 2, outputSize: [Int.max, 5]), "maxUnpool2d", "outputSize")

        assertThrowsConvKitError(try avgPool2d(x, kernelSize: 3, padding: 2), "avgPool2d", "padding", "half")
        assertThrowsConvKitError(try avgPool2d(x, kernelSize: 3, divisorOverride: 0), "avgPool2d", "divisorOverride")
        assertThrowsConvKitError(try avgPool2d(x, kernelSize: Size2d(6, 2)), "avgPool2d", "output size would be 0x3")
        assertThrowsConvKitError(try avgPool2d(x, kernelSize: 0), "avgPool2d", "kernelSize")
        assertThrowsConvKitError(try avgPool2d(x, kernelSize: 2, stride: Size2d(1, 0)), "avgPool2d", "stride")
        assertThrowsConvKitError(try avgPool2d(Tensor.zeros([2, 0, 5, 5]), kernelSize: 2), "avgPool2d", "empty")

        assertThrowsConvKitError(try adaptiveAvgPool2d(x, outputSize: Size2d(-1, 2)), "adaptiveAvgPool2d", "outputSize")
        assertThrowsConvKitError(try adaptiveAvgPool2d(Tensor.zeros([5, 7]), outputSize: 2), "adaptiveAvgPool2d", "3-D")
        assertThrowsConvKitError(try adaptiveAvgPool2d(Tensor.zeros([1, 2, 0, 4]), outputSize: 2), "adaptiveAvgPool2d", "empty")

        let (pooled, indices) = try maxPool2dWithIndices(x, kernelSize: 2)  // [2, 3, 2, 3]
        assertThrowsConvKitError(try maxUnpool2d(pooled, indices: indices, kernelSize: 2),
                                 "maxUnpool2d", "outside the output plane of 4x6")
        assertThrowsConvKitError(try maxUnpool2d(pooled, indices: Tensor(indices: [Int32](repeating: -1, count: 36), shape: [2, 3, 2, 3]),
                                             kernelSize: 2, outputSize: [5, 7]), "maxUnpool2d", "index -1")
        assertThrowsConvKitError(try maxUnpool2d(pooled, indices: indices, kernelSize: 2, outputSize: [6, 7]),
                                 "maxUnpool2d", "outputSize", "height 6", "between 2 and 6")
        assertThrowsConvKitError(try maxUnpool2d(pooled, indices: indices, kernelSize: 2, outputSize: [5, 4]),
                                 "maxUnpool2d", "width 4", "between 4 and 8")
        assertThrowsConvKitError(try maxUnpool2d(pooled, indices: indices, kernelSize: 2, outputSize: [3, 5, 7]),
                                 "maxUnpool2d", "outputSize", "2", "4")
        assertThrowsConvKitError(try maxUnpool2d(pooled, indices: pooled, kernelSize: 2), "maxUnpool2d", "int32")
        assertThrowsConvKitError(try maxUnpool2d(pooled, indices: Tensor(indices: [0], shape: [1, 1, 1, 1]), kernelSize: 2),
                                 "maxUnpool2d", "shape")
        assertThrowsConvKitError(try maxUnpool2d(pooled, indices: indices, kernelSize: 0), "maxUnpool2d", "kernelSize")
        assertThrowsConvKitError(try maxUnpool2d(pooled, indices: indices, kernelSize: 2, stride: 0), "maxUnpool2d", "stride")
        assertThrowsConvKitError(try maxUnpool2d(pooled, indices: indices, kernelSize: 2, padding: -1), "maxUnpool2d", "padding")
        assertThrowsConvKitError(try maxUnpool2d(pooled, indices: indices, kernelSize: 1, padding: 2),
                                 "maxUnpool2d", "output size would be")
        assertThrowsConvKitError(try maxUnpool2d(Tensor.zeros([2, 0, 2, 3]), indices: Tensor(indices: [], shape: [2, 0, 2, 3]),
                                             kernelSize: 2), "maxUnpool2d", "empty")
    }
}
