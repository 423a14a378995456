/// CUDA-against-CPU checks of the pooling kernels (see `DeviceVerification`): padding in every
/// mode, max pooling (values, argmax indices compared exactly, NaN and tie handling), average
/// and adaptive average pooling, max unpooling; forward results and input gradients.
enum PoolingDeviceChecks {
    /// The checks, with random shapes and arguments drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        var g = Philox(seed: seed)
        return padChecks(&g) + maxPoolChecks(&g) + avgPoolChecks(&g) + adaptiveChecks(&g) + unpoolChecks(&g)
    }

    /// The shape of the large cases: over 2^20 elements, more than one pass of the grid-stride
    /// loops (132 multiprocessors × 32 blocks × 256 threads on an H200).
    private static let largeShape = [8, 16, 96, 96]

    /// A random NCHW shape: batch 1-2, channels 1-3, height and width in `sizes`.
    private static func randomShape(_ sizes: ClosedRange<Int>, _ g: inout Philox) -> [Int] {
        [DeviceCheck.randomInt(1...2, &g), DeviceCheck.randomInt(1...3, &g),
         DeviceCheck.randomInt(sizes, &g), DeviceCheck.randomInt(sizes, &g)]
    }

    /// A float input of `shape` from the default generator: normal values, or small integers
    /// (`ties`, so windows hold equal maxima), with NaN at `nanPositions` and -∞ at
    /// `negativeInfinityPositions` (flat).
    private static func input(_ shape: [Int], on device: Device, ties: Bool = false, nanPositions: [Int] = [],
                              negativeInfinityPositions: [Int] = [], requiresGrad: Bool = true) throws -> Tensor {
        let count = shape.reduce(1, *)
        var values = ties ? RandomState.withGenerator { $0.uniform(count: count) }.map { Float(Int($0 * 4)) - 2 }
                          : RandomState.withGenerator { $0.normal(count: count) }
        for p in nanPositions where p < count { values[p] = .nan }
        for p in negativeInfinityPositions where p < count { values[p] = -.infinity }
        return try Tensor(values, shape: shape, on: device, requiresGrad: requiresGrad)
    }

    // MARK: Padding

    /// A random `(before, after)` pair valid for `mode` on a dimension of `size` (negative crops).
    private static func padPair(_ mode: PadMode, size: Int, _ g: inout Philox) -> (Int, Int) {
        while true {
            let before: Int, after: Int
            switch mode {
            case .constant: before = DeviceCheck.randomInt(-size...4, &g); after = DeviceCheck.randomInt(-size...4, &g)
            case .reflect: before = DeviceCheck.randomInt(-(size - 1)...(size - 1), &g); after = DeviceCheck.randomInt(-(size - 1)...(size - 1), &g)
            case .replicate: before = DeviceCheck.randomInt(-(size - 1)...6, &g); after = DeviceCheck.randomInt(-(size - 1)...6, &g)
            case .circular: before = DeviceCheck.randomInt(-(size - 1)...size, &g); after = DeviceCheck.randomInt(-(size - 1)...size, &g)
            }
            let out = size + before + after
            switch mode {
            case .constant: if out >= 1 { return (before, after) }
            case .reflect, .replicate: if out >= 1 { return (before, after) }
            case .circular:
                let kept = size - max(-before, 0) - max(-after, 0)
                if out >= 1 && kept > 0 { return (before, after) }
            }
        }
    }

    /// Per mode: random 3-D/4-D inputs padded on the last one or two dimensions (constant also
    /// on three, which pads in two steps), negative pads included, and one larger case.
    private static func padChecks(_ g: inout Philox) -> [DeviceCheck] {
        var checks: [DeviceCheck] = []
        for mode in PadMode.allCases {
            let op = "pad[\(mode)]"
            for _ in 0..<4 {
                let pairs = mode == .constant ? DeviceCheck.randomInt(1...3, &g) : DeviceCheck.randomInt(1...2, &g)
                let rank = mode == .constant ? max(pairs, DeviceCheck.randomInt(3...4, &g)) : pairs + DeviceCheck.randomInt(1...2, &g)
                let shape = (0..<rank).map { _ in DeviceCheck.randomInt(1...9, &g) }
                var pads: [Int] = []
                for k in 0..<pairs {
                    let (before, after) = padPair(mode, size: shape[rank - 1 - k], &g)
                    pads += [before, after]
                }
                let value: Float = mode == .constant ? Float(DeviceCheck.randomInt(-3...3, &g)) / 2 : 0
                checks.append(padCheck(op, shape, pads, mode, value))
            }
            let big: [Int] = mode == .constant ? [3, -2, 0, 5] : [3, 2, -1, 4]
            // The kernel is one for every mode: one mode runs past a grid-stride pass.
            checks.append(padCheck(op, mode == .reflect ? largeShape : [4, 8, 40, 40], big, mode, mode == .constant ? 0.5 : 0))
        }
        return checks
    }

    /// One padding check: output and input gradient.
    private static func padCheck(_ op: String, _ shape: [Int], _ pads: [Int], _ mode: PadMode, _ value: Float) -> DeviceCheck {
        DeviceCheck(op: op, label: "x \(shape) pads \(pads) value \(value)") { device in
            let x = try Tensor.normal(shape, on: device, requiresGrad: true)
            return try DeviceCheck.forwardAndGradients(try pad(x, pads, mode: mode, value: value), [x])
        }
    }

    // MARK: Max pooling

    /// Random window arguments with a non-empty output for an input of `height × width`.
    private struct Window: CustomStringConvertible {
        var kernel: Size2d, stride: Size2d, padding: Size2d, dilation: Size2d, ceilMode: Bool

        /// Draws arguments until the pooled output is non-empty.
        init(height: Int, width: Int, dilation allowDilation: Bool, ceil allowCeil: Bool = true, _ g: inout Philox) {
            while true {
                let k = Size2d(DeviceCheck.randomInt(1...5, &g), DeviceCheck.randomInt(1...5, &g))
                let s = Size2d(DeviceCheck.randomInt(1...3, &g), DeviceCheck.randomInt(1...3, &g))
                let p = Size2d(DeviceCheck.randomInt(0...(k.h / 2), &g), DeviceCheck.randomInt(0...(k.w / 2), &g))
                let d = allowDilation ? Size2d(DeviceCheck.randomInt(1...2, &g), DeviceCheck.randomInt(1...2, &g)) : Size2d(1)
                let c = allowCeil && DeviceCheck.randomInt(0...1, &g) == 1
                let outH = pooledOutputSize(height, kernel: k.h, stride: s.h, padding: p.h, dilation: d.h, ceilMode: c)
                let outW = pooledOutputSize(width, kernel: k.w, stride: s.w, padding: p.w, dilation: d.w, ceilMode: c)
                if outH > 0 && outW > 0 {
                    kernel = k; stride = s; padding = p; dilation = d; ceilMode = c
                    return
                }
            }
        }

        /// A fixed window.
        init(kernel: Size2d, stride: Size2d, padding: Size2d, dilation: Size2d = 1, ceilMode: Bool = false) {
            self.kernel = kernel; self.stride = stride; self.padding = padding; self.dilation = dilation; self.ceilMode = ceilMode
        }

        var description: String {
            "k \(kernel.h)x\(kernel.w) s \(stride.h)x\(stride.w) p \(padding.h)x\(padding.w) d \(dilation.h)x\(dilation.w)"
                + (ceilMode ? " ceil" : "")
        }
    }

    /// Max pooling with indices: output, indices (exact), input gradient.
    private static func maxPoolCheck(_ shape: [Int], _ w: Window, ties: Bool = false, nans: [Int] = [],
                                     negativeInfinities: [Int] = [], note: String = "") -> DeviceCheck {
        DeviceCheck(op: "maxPool2d", label: "x \(shape) \(w)\(note)") { device in
            let x = try input(shape, on: device, ties: ties, nanPositions: nans, negativeInfinityPositions: negativeInfinities)
            let (y, indices) = try maxPool2dWithIndices(x, kernelSize: w.kernel, stride: w.stride, padding: w.padding,
                                                        dilation: w.dilation, ceilMode: w.ceilMode)
            return try DeviceCheck.forwardAndGradients(y, [x]) + [indices]
        }
    }

    /// Random geometries (normal values, small integers with ties, planted NaNs), a values-only
    /// forward (no gradient, so no indices), and one large case for the grid-stride loops.
    private static func maxPoolChecks(_ g: inout Philox) -> [DeviceCheck] {
        var checks: [DeviceCheck] = []
        for i in 0..<12 {
            let shape = randomShape(1...30, &g)
            let w = Window(height: shape[2], width: shape[3], dilation: true, &g)
            switch i % 4 {
            case 1: checks.append(maxPoolCheck(shape, w, ties: true, note: " ties"))
            case 3:
                let count = shape.reduce(1, *)
                let nans = (0..<DeviceCheck.randomInt(1...4, &g)).map { _ in DeviceCheck.randomInt(0...(count - 1), &g) }
                checks.append(maxPoolCheck(shape, w, ties: i == 7, nans: nans, note: " NaN at \(nans)"))
            default: checks.append(maxPoolCheck(shape, w))
            }
        }
        // Two NaNs in one window, a window holding only NaN, one holding only -∞ (its index is
        // its first cell), one holding -∞ and a NaN.
        checks.append(maxPoolCheck([1, 1, 4, 4], Window(kernel: 2, stride: 2, padding: 0), nans: [0, 5, 9, 10, 11, 14, 15],
                                   negativeInfinities: [2, 3, 6, 7, 8, 12, 13], note: " NaN at [0, 5, 9, 10, 11, 14, 15], -inf at [2, 3, 6, 7, 8, 12, 13]"))
        // The same rules in the 16-byte k2 s2 kernels (rows of 8): NaNs, a NaN-only window, an
        // all -∞ window (cells 20, 21, 28, 29) and -∞ beside a NaN.
        checks.append(maxPoolCheck([1, 1, 4, 8], Window(kernel: 2, stride: 2, padding: 0), nans: [0, 9, 2, 3, 10, 11, 6, 23],
                                   negativeInfinities: [20, 21, 28, 29, 7, 14, 15], note: " 16-byte k2 s2, NaN and -inf"))
        // Windows with no tap inside the input (taps at -1 and 1 of a size-1 dimension): empty
        // rows, and empty columns, whose reported index aliases a real cell of the next row.
        for shape in [[1, 2, 1, 5], [1, 2, 3, 1]] {
            checks.append(maxPoolCheck(shape, Window(kernel: 2, stride: 1, padding: 1, dilation: 2), note: " empty windows"))
        }
        for _ in 0..<2 {
            let shape = randomShape(1...30, &g)
            let w = Window(height: shape[2], width: shape[3], dilation: true, &g)
            checks.append(DeviceCheck(op: "maxPool2d", label: "x \(shape) \(w) values only") { device in
                let x = try input(shape, on: device, ties: true, nanPositions: [3], requiresGrad: false)
                return [try maxPool2d(x, kernelSize: w.kernel, stride: w.stride, padding: w.padding,
                                      dilation: w.dilation, ceilMode: w.ceilMode)]
            })
        }
        checks.append(maxPoolCheck([8, 16, 56, 56], Window(kernel: 3, stride: 2, padding: 1), note: " ResNet stem"))
        checks += bandChecks()
        checks.append(maxPoolCheck(largeShape, Window(kernel: 3, stride: 1, padding: 1), note: " large"))
        return checks
    }

    /// The band kernels and the compact argmax: the benchmark geometries (k3 s2 at 55, k2 s2 at
    /// 224), odd widths (rows that are not 16-byte aligned), padding, ceil mode, dilation, stride
    /// above the kernel (cells in no window), several bands per plane, and the fallbacks (taps that
    /// do not fit a byte, planes too wide for the column tables or for shared memory). Each both with
    /// public indices and as a plain `maxPool2d` whose backward reads only the compact argmax.
    private static func bandChecks() -> [DeviceCheck] {
        let cases: [([Int], Window, String)] = [
            ([3, 5, 55, 55], Window(kernel: 3, stride: 2, padding: 0), " AlexNet k3 s2"),
            ([2, 3, 224, 224], Window(kernel: 2, stride: 2, padding: 0), " k2 s2 at 224"),
            ([3, 4, 37, 41], Window(kernel: 3, stride: 2, padding: 1, ceilMode: true), " odd widths, ceil"),
            ([2, 3, 29, 31], Window(kernel: 3, stride: 2, padding: 1, dilation: 2), " dilation 2"),
            ([2, 3, 23, 26], Window(kernel: Size2d(2, 3), stride: Size2d(3, 4), padding: Size2d(1, 0), ceilMode: true), " stride above kernel"),
            ([1, 2, 50, 1000], Window(kernel: 3, stride: 2, padding: 1), " several bands"),
            ([1, 2, 40, 40], Window(kernel: 16, stride: 8, padding: 8), " 256 taps (int32 backward)"),
            ([1, 2, 6, 5000], Window(kernel: 2, stride: 2, padding: 0), " width 5000 (int32 backward)"),
            ([1, 2, 9, 3000], Window(kernel: 2, stride: 1, padding: 1), " k2 s1 width 3000 (staged backward, a row a band, over 48 KiB)"),
            ([1, 1, 3, 13_000], Window(kernel: 2, stride: 1, padding: 1), " width 13000 (per-window kernel)"),
            ([2, 3, 17, 24], Window(kernel: 2, stride: 2, padding: 0), " k2 s2 odd height (16-byte kernels)"),
            ([2, 3, 16, 20], Window(kernel: 2, stride: 2, padding: 0), " k2 s2 width 20 (unrolled band kernel)"),
            ([2, 2, 30, 30], Window(kernel: 3, stride: 1, padding: 1), " k3 s1"),
            ([2, 3, 31, 33], Window(kernel: 3, stride: 3, padding: 1), " k3 s3 (general band kernel)"),
        ]
        return cases.flatMap { shape, w, note -> [DeviceCheck] in
            [maxPoolCheck(shape, w, ties: true, note: note),
             DeviceCheck(op: "maxPool2d", label: "x \(shape) \(w)\(note) no indices") { device in
                 let x = try input(shape, on: device, ties: true, nanPositions: [5])
                 let y = try maxPool2d(x, kernelSize: w.kernel, stride: w.stride, padding: w.padding,
                                       dilation: w.dilation, ceilMode: w.ceilMode)
                 return try DeviceCheck.forwardAndGradients(y, [x])
             }]
        }
    }

    // MARK: Average pooling

    /// Random geometries with and without counted padding and with divisor overrides, and one large case.
    private static func avgPoolChecks(_ g: inout Philox) -> [DeviceCheck] {
        var checks: [DeviceCheck] = []
        func check(_ shape: [Int], _ w: Window, countIncludePad: Bool, divisorOverride: Int?) -> DeviceCheck {
            DeviceCheck(op: "avgPool2d", label: "x \(shape) \(w) countIncludePad \(countIncludePad) divisor \(divisorOverride.map(String.init) ?? "nil")") { device in
                let x = try Tensor.normal(shape, on: device, requiresGrad: true)
                let y = try avgPool2d(x, kernelSize: w.kernel, stride: w.stride, padding: w.padding, ceilMode: w.ceilMode,
                                      countIncludePad: countIncludePad, divisorOverride: divisorOverride)
                return try DeviceCheck.forwardAndGradients(y, [x])
            }
        }
        for i in 0..<10 {
            let shape = randomShape(1...30, &g)
            let w = Window(height: shape[2], width: shape[3], dilation: false, &g)
            let divisor: Int? = i % 3 == 2 ? DeviceCheck.randomInt(1...9, &g) * (i == 5 ? -1 : 1) : nil
            checks.append(check(shape, w, countIncludePad: i % 2 == 0, divisorOverride: divisor))
        }
        checks.append(check(largeShape, Window(kernel: 3, stride: 1, padding: 1, ceilMode: true),
                            countIncludePad: false, divisorOverride: nil))
        return checks
    }

    // MARK: Adaptive average pooling

    /// Output sizes that divide the input and that don't (smaller and larger), global pooling,
    /// and one large case.
    private static func adaptiveChecks(_ g: inout Philox) -> [DeviceCheck] {
        var checks: [DeviceCheck] = []
        func check(_ shape: [Int], _ out: Size2d) -> DeviceCheck {
            DeviceCheck(op: "adaptiveAvgPool2d", label: "x \(shape) out \(out.h)x\(out.w)") { device in
                let x = try Tensor.normal(shape, on: device, requiresGrad: true)
                return try DeviceCheck.forwardAndGradients(try adaptiveAvgPool2d(x, outputSize: out), [x])
            }
        }
        for _ in 0..<3 {
            let fh = DeviceCheck.randomInt(1...5, &g), fw = DeviceCheck.randomInt(1...5, &g)
            let out = Size2d(DeviceCheck.randomInt(1...6, &g), DeviceCheck.randomInt(1...6, &g))
            checks.append(check([DeviceCheck.randomInt(1...2, &g), DeviceCheck.randomInt(1...3, &g), out.h * fh, out.w * fw], out))
        }
        for _ in 0..<4 {
            let shape = randomShape(1...30, &g)
            checks.append(check(shape, Size2d(DeviceCheck.randomInt(1...35, &g), DeviceCheck.randomInt(1...35, &g))))
        }
        checks.append(check(randomShape(1...30, &g), 1))
        checks.append(check([8, 16, 56, 56], Size2d(7, 5)))
        checks.append(check(largeShape, Size2d(100, 90)))
        return checks
    }

    // MARK: Max unpooling

    /// Unpooling at indices from `maxPool2dWithIndices` (overlapping windows give duplicate
    /// indices), at random indices with many duplicates, a large case, and an out-of-range index
    /// (both devices must throw the same message).
    private static func unpoolChecks(_ g: inout Philox) -> [DeviceCheck] {
        var checks: [DeviceCheck] = []
        for _ in 0..<4 {
            let shape = randomShape(1...30, &g)
            let w = Window(height: shape[2], width: shape[3], dilation: false, ceil: false, &g)
            checks.append(unpoolFromPoolCheck(shape, w, ties: DeviceCheck.randomInt(0...1, &g) == 1))
        }
        checks.append(unpoolFromPoolCheck(largeShape, Window(kernel: 2, stride: 1, padding: 0), ties: true))
        for i in 0..<2 {
            let shape = randomShape(1...12, &g)
            let k = Size2d(DeviceCheck.randomInt(1...3, &g), DeviceCheck.randomInt(1...3, &g))
            let outH = (shape[2] - 1) * k.h + k.h, outW = (shape[3] - 1) * k.w + k.w
            let classes = i == 0 ? DeviceCheck.randomInt(1...(outH * outW), &g) : min(3, outH * outW)
            checks.append(DeviceCheck(op: "maxUnpool2d", label: "x \(shape) k \(k.h)x\(k.w) random indices < \(classes)") { device in
                let x = try Tensor.normal(shape, on: device, requiresGrad: true)
                let indices = try DeviceCheck.randomIndices(shape.reduce(1, *), classes: classes, shape: shape, on: device)
                return try DeviceCheck.forwardAndGradients(try maxUnpool2d(x, indices: indices, kernelSize: k), [x])
            })
        }
        checks.append(DeviceCheck(op: "maxUnpool2d", label: "x [2, 3, 4, 5] k 2 index out of range (error message)") { device in
            let shape = [2, 3, 4, 5], count = 120
            let x = try Tensor.normal(shape, on: device)
            var raw = (0..<count).map { Int32($0 % 80) }
            raw[77] = 80; raw[41] = -1; raw[90] = 1000
            let indices = try Tensor(indices: raw, shape: shape, on: device)
            do {
                _ = try maxUnpool2d(x, indices: indices, kernelSize: 2)
                return []
            } catch let ConvKitError.invalidArgument(op, message) {
                return [try Tensor(indices: Array((op + ": " + message).utf8).map { Int32($0) }, on: .cpu)]
            }
        })
        return checks
    }

    /// Max pooling with indices, then unpooling of fresh values at those indices back to the
    /// input size: output and the gradient of the unpooled values.
    private static func unpoolFromPoolCheck(_ shape: [Int], _ w: Window, ties: Bool) -> DeviceCheck {
        DeviceCheck(op: "maxUnpool2d", label: "x \(shape) \(w) indices from maxPool2dWithIndices\(ties ? " ties" : "")") { device in
            let x = try input(shape, on: device, ties: ties, requiresGrad: false)
            let (pooled, indices) = try maxPool2dWithIndices(x, kernelSize: w.kernel, stride: w.stride, padding: w.padding)
            let v = try Tensor.normal(pooled.shape, on: device, requiresGrad: true)
            let y = try maxUnpool2d(v, indices: indices, kernelSize: w.kernel, stride: w.stride, padding: w.padding,
                                    outputSize: [shape[2], shape[3]])
            return try DeviceCheck.forwardAndGradients(y, [v]) + [indices]
        }
    }
}
