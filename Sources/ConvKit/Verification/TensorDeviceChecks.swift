/// CUDA-against-CPU checks of the tensor kernels (see `DeviceVerification`): elementwise ops
/// with broadcasting, unary maps, reductions, layout copies and matrix products, each forward
/// and backward through the public ops.
enum TensorDeviceChecks {
    /// The checks, with random shapes and arguments drawn from `seed`.
    static func checks(seed: UInt64) -> [DeviceCheck] {
        var g = Philox(seed: seed)
        var checks: [DeviceCheck] = []
        checks += binaryChecks(&g)
        checks += unaryChecks(&g)
        checks += reductionChecks(&g)
        checks += layoutChecks(&g)
        checks += matmulChecks(&g)
        return checks
    }

    // MARK: Inputs

    /// A random integer in `range` from `g`.
    private static func int(_ range: ClosedRange<Int>, _ g: inout Philox) -> Int {
        DeviceCheck.randomInt(range, &g)
    }

    /// A tensor of `shape` uniform in [low, high) from the default generator, with `specials`
    /// written at evenly spread positions (NaN, infinities, zeros, ties).
    private static func values(_ shape: [Int], low: Float = -2, high: Float = 2, specials: [Float] = [],
                               on device: Device) throws -> Tensor {
        let count = shape.reduce(1, *)
        var v = RandomState.withGenerator { $0.uniform(count: count) }.map { low + (high - low) * $0 }
        for (j, s) in specials.enumerated() where count > 0 { v[j * count / specials.count] = s }
        return try Tensor(v, shape: shape, on: device, requiresGrad: true)
    }

    /// A tensor of `shape` whose values are small integers `0..<levels` from the default
    /// generator, so that equal values (ties) are common.
    private static func ties(_ shape: [Int], levels: Int, specials: [(Int, Float)] = [], on device: Device) throws -> Tensor {
        let count = shape.reduce(1, *)
        var v = RandomState.withGenerator { $0.uniform(count: count) }.map { Float(Int($0 * Float(levels))) }
        for (position, value) in specials where position < count { v[position] = value }
        return try Tensor(v, shape: shape, on: device, requiresGrad: true)
    }

    /// A normal tensor of `shape` that requires a gradient.
    private static func normal(_ shape: [Int], on device: Device) throws -> Tensor {
        try Tensor.normal(shape, on: device, requiresGrad: true)
    }

    /// A check of `f(a, b)` for normal operands: forward and both gradients.
    private static func binaryCheck(_ op: String, _ aShape: [Int], _ bShape: [Int],
                                    _ f: @escaping (Tensor, Tensor) throws -> Tensor) -> DeviceCheck {
        DeviceCheck(op: op, label: "\(aShape) and \(bShape)") { d in
            let a = try normal(aShape, on: d), b = try normal(bShape, on: d)
            return try DeviceCheck.forwardAndGradients(f(a, b), [a, b])
        }
    }

    // MARK: Elementwise binary ops

    private static func binaryChecks(_ g: inout Philox) -> [DeviceCheck] {
        let (n0, n1, n2) = (int(1...5, &g), int(1...7, &g), int(1...9, &g))
        let (m0, m1, m2) = (int(2...5, &g), int(2...6, &g), int(2...7, &g))
        var checks: [DeviceCheck] = [
            binaryCheck("add", [n0, n1, n2], [n0, n1, n2]) { try $0 + $1 },
            binaryCheck("add", [m0, 1, m2], [m1, 1]) { try $0 + $1 },
            binaryCheck("add", [], [m0, m1]) { try $0 + $1 },
            binaryCheck("add", [], []) { try $0 + $1 },
            binaryCheck("sub", [2, m0, m1, m2], [m2]) { try $0 - $1 },
            binaryCheck("sub", [m0, 1], [1, m1]) { try $0 - $1 },
            binaryCheck("mul", [m0, 1, m2], [1, m1, 1]) { try $0 * $1 },
            binaryCheck("mul", [n0, n1, n2], [n1, 1]) { try $0 * $1 },
            // Alternating broadcast dimensions cannot be merged: a rank-10 view, more than one
            // launch can take.
            binaryCheck("mul", [2, 3, 2, 3, 2, 3, 2, 3, 2, 3], [2, 1, 2, 1, 2, 1, 2, 1, 2, 1]) { try $0 * $1 },
            binaryCheck("maximum", [m0, m1, m2], [m1, 1]) { try maximum($0, $1) },
        ]
        // Over a million outputs (more than one grid-stride round on a 132-SM GPU), and b's
        // gradient is a long column sum split into chunks. Uniform inputs: cheaper to draw.
        checks.append(DeviceCheck(op: "add", label: "[1100, 1000] and [1000], grid-stride rounds") { d in
            let a = try Tensor.uniform([1100, 1000], low: -1, high: 1, on: d, requiresGrad: true)
            let b = try normal([1000], on: d)
            return try DeviceCheck.forwardAndGradients(a + b, [a, b])
        })
        let (d0, d1) = (int(2...6, &g), int(3...9, &g))
        checks.append(DeviceCheck(op: "div", label: "[\(d0), \(d1)] / [\(d1)], divisor in ±[0.5, 2)") { d in
            let a = try normal([d0, d1], on: d)
            let u = RandomState.withGenerator { $0.uniform(count: d1) }
            let b = try Tensor(u.map { $0 < 0.5 ? -0.5 - 3 * $0 : 3 * $0 - 1 }, shape: [d1], on: d, requiresGrad: true)
            return try DeviceCheck.forwardAndGradients(a / b, [a, b])
        })
        checks.append(DeviceCheck(op: "div", label: "[\(d0), \(d1)] elementwise, with zeros, infinities and NaN") { d in
            let a = try values([d0, d1], specials: [0, 1, .infinity, -3, .nan, 0], on: d)
            let b = try values([d0, d1], specials: [0, 0, 2, -.infinity, 1, .nan], on: d)
            return try DeviceCheck.forwardAndGradients(a / b, [a, b])
        })
        let (t0, t1) = (int(3...6, &g), int(4...9, &g))
        checks.append(DeviceCheck(op: "maximum", label: "[\(t0), \(t1)] with ties and NaN on both sides") { d in
            let a = try ties([t0, t1], levels: 3, specials: [(0, .nan), (t1 + 1, .nan), (2, -.infinity)], on: d)
            let b = try ties([t0, t1], levels: 3, specials: [(t1 + 1, .nan), (3, .nan), (2, -.infinity)], on: d)
            return try DeviceCheck.forwardAndGradients(maximum(a, b), [a, b])
        })
        checks.append(DeviceCheck(op: "maximum", label: "[\(t0), \(t1)] against a broadcast tied scalar") { d in
            let a = try ties([t0, t1], levels: 3, on: d)
            let b = try Tensor(scalar: 1, on: d, requiresGrad: true)
            return try DeviceCheck.forwardAndGradients(maximum(a, b), [a, b])
        })
        return checks
    }

    // MARK: Unary ops

    private static func unaryCheck(_ op: String, _ label: String, _ shape: [Int], low: Float, high: Float,
                                   specials: [Float] = [], _ f: @escaping (Tensor) throws -> Tensor) -> DeviceCheck {
        DeviceCheck(op: op, label: "\(shape) in [\(low), \(high))\(specials.isEmpty ? "" : " with \(specials)")\(label)") { d in
            let x = try values(shape, low: low, high: high, specials: specials, on: d)
            return try DeviceCheck.forwardAndGradients(f(x), [x])
        }
    }

    private static func unaryChecks(_ g: inout Philox) -> [DeviceCheck] {
        let shape = [int(2...6, &g), int(3...40, &g)]
        let large = [int(150...250, &g), 1000]
        let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0]
        return [
            unaryCheck("neg", "", shape, low: -3, high: 3, specials: specials) { try -$0 },
            unaryCheck("exp", "", shape, low: -10, high: 10, specials: specials + [88.7, 88.8, -103.9, -104.5, -87, -95]) { try $0.exp() },
            unaryCheck("exp", ", many blocks", large, low: -20, high: 20) { try $0.exp() },
            unaryCheck("log", "", shape, low: 0.001, high: 50,
                       specials: specials + [-1, 1, Float(bitPattern: 0x0001_16C2), .leastNormalMagnitude, 3.4e38, 0.70710677, 0.7071068]) { try $0.log() },
            unaryCheck("log", ", many blocks", large, low: 1e-6, high: 1e6) { try $0.log() },
            unaryCheck("sqrt", "", shape, low: 0.01, high: 9, specials: specials + [-1, Float(bitPattern: 0x0001_16C2)]) { try $0.sqrt() },
            unaryCheck("abs", "", shape, low: -3, high: 3, specials: specials) { try $0.abs() },
            unaryCheck("pow", ", exponent 2", shape, low: -3, high: 3, specials: specials) { try $0.pow(2) },
            unaryCheck("pow", ", exponent 3", shape, low: -3, high: 3) { try $0.pow(3) },
            unaryCheck("pow", ", exponent 1", shape, low: -3, high: 3) { try $0.pow(1) },
            unaryCheck("pow", ", exponent 0", shape, low: -3, high: 3) { try $0.pow(0) },
            unaryCheck("pow", ", exponent 0.5", shape, low: 0.1, high: 4) { try $0.pow(0.5) },
            unaryCheck("pow", ", exponent -1.5", shape, low: 0.2, high: 4) { try $0.pow(-1.5) },
            unaryCheck("pow", ", exponent 2.5 of negatives (NaN)", shape, low: -2, high: 2) { try $0.pow(2.5) },
            unaryCheck("scalarArithmetic", ": ((x + 1.5) · −2.5 − 0.75) / 3", shape, low: -3, high: 3, specials: specials) {
                try ((($0 + 1.5) * -2.5) - 0.75) / 3
            },
            unaryCheck("scalarArithmetic", ": 2 − x", shape, low: -3, high: 3, specials: specials) { try 2 - $0 },
            unaryCheck("scalarArithmetic", ": 1.5 / x", shape, low: 0.25, high: 3, specials: specials) { try 1.5 / $0 },
        ]
    }

    // MARK: Reductions

    private static func reductionChecks(_ g: inout Philox) -> [DeviceCheck] {
        let s = [int(2...5, &g), int(1...6, &g), int(2...7, &g)]
        let wide = [int(2...4, &g), int(20_000...60_000, &g)]
        var checks: [DeviceCheck] = []
        func addSum(_ shape: [Int], _ dims: [Int]?, keepDims: Bool = false, low: Float = -2, high: Float = 2) {
            checks.append(DeviceCheck(op: "sum", label: "\(shape) over \(dims.map { "\($0)" } ?? "all")\(keepDims ? ", keepDims" : "")") { d in
                let x = try values(shape, low: low, high: high, on: d)
                return try DeviceCheck.forwardAndGradients(x.sum(dims: dims, keepDims: keepDims), [x])
            })
        }
        addSum(s, nil)
        addSum(s, [1], keepDims: true)
        addSum(s, [0, 2])
        addSum(s, [-1])
        addSum([int(1100...1500, &g), int(100...400, &g)], [1])       // a block per row
        addSum(wide, [1], low: 0, high: 1)                            // long rows in chunks
        addSum([int(150_000...250_000, &g)], nil, low: 0, high: 1)    // one long row in chunks
        addSum([int(300...600, &g), int(2...5, &g)], [0])             // long columns in chunks
        addSum([3, 0, 4], [1])                                        // a reduction over nothing is 0
        checks.append(DeviceCheck(op: "mean", label: "\(s) over [0, 2] and over all") { d in
            let x = try values(s, on: d)
            let y = try x.mean(dims: [0, 2], keepDims: true) * x.mean()
            return try DeviceCheck.forwardAndGradients(y, [x])
        })
        func addMax(_ shape: [Int], _ dim: Int, levels: Int? = nil, specials: [(Int, Float)] = [], _ note: String = "") {
            checks.append(DeviceCheck(op: "max", label: "\(shape) along \(dim)\(note)") { d in
                let x = try levels.map { try ties(shape, levels: $0, specials: specials, on: d) } ?? values(shape, on: d)
                let (maxima, positions) = try x.maxWithIndices(dim: dim)
                return try DeviceCheck.forwardAndGradients(maxima, [x]) + [positions]
            })
        }
        addMax(s, 1)
        addMax(s, -1)
        addMax([int(3...6, &g), int(300...3000, &g)], 1)                   // a block per row
        addMax(wide, 1)                                                    // long rows in chunks
        addMax([int(500...1500, &g), 3], 0)                                // long columns in chunks
        let rowLength = int(20_000...40_000, &g)
        addMax([3, rowLength], 1, levels: 4,
            specials: [(rowLength + 17, .nan), (rowLength + rowLength / 2, .nan), (2 * rowLength + 100, .infinity)],
            ", ties, NaN and inf in chunked rows")
        addMax([int(4...8, &g), 9, 5], 1, levels: 3, specials: [(7, .nan), (52, .nan), (0, .nan), (5, .nan)],
            ", ties and NaN in columns")
        let flat = 4 * int(5_000...10_000, &g)
        checks.append(DeviceCheck(op: "argmax", label: "[\(flat)] flattened, the maximum only in late chunks") { d in
            var v = RandomState.withGenerator { $0.uniform(count: flat) }
            v[flat * 2 / 3] = 5
            v[flat * 5 / 6] = 5
            let x = try Tensor(v, shape: [flat], on: d)
            var w = v
            w[flat / 2] = .nan
            w[flat - 1] = .nan
            let y = try Tensor(w, shape: [flat], on: d)
            return [try x.argmax(), try y.argmax(), try x.reshape([flat / 4, 4]).argmax(dim: 0)]
        })
        return checks
    }

    // MARK: Layout

    private static func layoutChecks(_ g: inout Philox) -> [DeviceCheck] {
        let s = [int(2...4, &g), int(2...5, &g), int(2...6, &g), int(2...7, &g)]
        let (rows, cols) = (int(33...80, &g), int(17...70, &g))
        let batch = int(2...4, &g)
        func unary(_ op: String, _ shape: [Int], _ label: String, _ f: @escaping (Tensor) throws -> Tensor) -> DeviceCheck {
            DeviceCheck(op: op, label: "\(shape) \(label)") { d in
                let x = try normal(shape, on: d)
                return try DeviceCheck.forwardAndGradients(f(x), [x])
            }
        }
        let sliceDim = int(0...3, &g)
        return [
            unary("permute", s, "to [0, 2, 3, 1]") { try $0.permute([0, 2, 3, 1]) },
            unary("permute", s, "to [3, 1, 0, 2]") { try $0.permute([3, 1, 0, 2]) },
            // Tiled transposes with partial edge tiles.
            unary("permute", [rows, cols], "transposed") { try $0.transpose(0, 1) },
            unary("permute", [batch, rows, cols], "to [0, 2, 1]") { try $0.permute([0, 2, 1]) },
            unary("permute", [rows, batch, cols], "to [2, 1, 0]") { try $0.permute([2, 1, 0]) },
            unary("permute", [Int](repeating: 2, count: 10), "reversed (rank 10)") { try $0.permute(Array((0..<10).reversed())) },
            unary("slice", s, "dim \(sliceDim) from 1 step 2") { try $0.slice(dim: sliceDim, start: 1, step: 2) },
            unary("slice", [rows, cols], "dim 1 from −\(cols / 2) to −1") { try $0.slice(dim: 1, start: -(cols / 2), end: -1) },
            unary("slice", [rows, cols, 3], "dim 0 every third, then dim 2 from 1") {
                try $0.slice(dim: 0, step: 3).slice(dim: 2, start: 1)
            },
            unary("slice", s, "empty (dim 1 from 5 to 5)") { try $0.slice(dim: 1, start: 5, end: 5) },
            DeviceCheck(op: "cat", label: "\(s) with sizes 1, \(s[1]), 3 along dim 1") { d in
                let a = try normal([s[0], 1, s[2], s[3]], on: d)
                let b = try normal(s, on: d)
                let c = try normal([s[0], 3, s[2], s[3]], on: d)
                return try DeviceCheck.forwardAndGradients(cat([a, b, c], dim: 1), [a, b, c])
            },
            DeviceCheck(op: "cat", label: "[\(rows), \(cols)] and [\(rows), 5] along the last dim") { d in
                let a = try normal([rows, cols], on: d), b = try normal([rows, 5], on: d)
                return try DeviceCheck.forwardAndGradients(cat([a, b], dim: -1), [a, b])
            },
            unary("expand", [s[1], 1, s[3]], "to [\(s[0]), \(s[1]), \(s[2]), \(s[3])]") { try $0.expand(to: s) },
            unary("expand", [], "to \(s)") { try $0.expand(to: s) },
        ]
    }

    // MARK: Matrix products

    private static func matmulChecks(_ g: inout Philox) -> [DeviceCheck] {
        let (m, k, n) = (int(1...9, &g), int(1...9, &g), int(1...9, &g))
        let (bm, bk, bn) = (int(65...140, &g), int(17...150, &g), int(65...140, &g))
        let batch = int(2...4, &g)
        var checks = [
            binaryCheck("matmul", [m, k], [k, n]) { try matmul($0, $1) },
            binaryCheck("matmul", [bm, bk], [bk, bn]) { try matmul($0, $1) },
            binaryCheck("matmul", [k], [k]) { try matmul($0, $1) },
            binaryCheck("matmul", [k], [k, n]) { try matmul($0, $1) },
            binaryCheck("matmul", [m, k], [k]) { try matmul($0, $1) },
            binaryCheck("matmul", [batch, m, k], [batch, k, n]) { try matmul($0, $1) },
            binaryCheck("matmul", [2, 1, m, k], [batch, k, n]) { try matmul($0, $1) },  // a broadcast over the batch
            binaryCheck("matmul", [m, k], [batch, k, n]) { try matmul($0, $1) },        // one A for every batch entry
            binaryCheck("matmul", [batch, bm, bk], [bk, bn]) { try matmul($0, $1) },
            binaryCheck("matmul", [m, 0], [0, n]) { try matmul($0, $1) },                // k = 0: zeros
        ]
        for (ta, tb) in [(true, false), (false, true), (true, true)] {
            let name = "batchedMatmul[\(ta ? "Aᵀ" : "A")·\(tb ? "Bᵀ" : "B")]"
            let aShape = ta ? [batch, bk, bm] : [batch, bm, bk]
            let bShape = tb ? [bn, bk] : [bk, bn]
            checks.append(binaryCheck(name, aShape, bShape) {
                try TensorOps.batchedMatmul($0, $1, transposeA: ta, transposeB: tb, name: "matmul")
            })
            let small = (ta ? [batch, k, m] : [batch, m, k], tb ? [batch, n, k] : [batch, k, n])
            checks.append(binaryCheck(name, small.0, small.1) {
                try TensorOps.batchedMatmul($0, $1, transposeA: ta, transposeB: tb, name: "matmul")
            })
        }
        return checks
    }
}
