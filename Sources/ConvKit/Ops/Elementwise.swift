// Elementwise arithmetic with NumPy/PyTorch broadcasting, and its gradients.

extension TensorOps {
    /// The shape two shapes broadcast to (aligned at the right; a dimension of 1 stretches).
    static func broadcastShape(_ a: [Int], _ b: [Int], _ op: String) throws -> [Int] {
        let rank = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            guard x == y || x == 1 || y == 1 else {
                throw ConvKitError.invalidArgument(op: op, message: "shapes \(a) and \(b) cannot be broadcast: size \(x) and size \(y) differ in dimension \(i) of the broadcast shape")
            }
            out[i] = x == 1 ? y : x
        }
        return out
    }

    /// Strides that read an array of `shape` as if it had `target` shape (0 on stretched dimensions).
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let lead = target.count - shape.count
        let own = TensorOps.contiguousStrides(shape)
        return (0..<target.count).map { d in
            d < lead || shape[d - lead] == 1 ? 0 : own[d - lead]
        }
    }

    /// `op(a, b)` with broadcasting, no graph.
    static func applyBinary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, name: String) throws -> Tensor {
        try TensorOps.requireSameDevice([a, b], name)
        try TensorOps.requireFloat(a, name, "left operand")
        try TensorOps.requireFloat(b, name, "right operand")
        let shape = try TensorOps.broadcastShape(a.shape, b.shape, name)
        let out = try Tensor.empty(shape, on: a.device)
        if out.count == 0 { return out }
        let (s, st) = TensorOps.coalesce(shape, [TensorOps.broadcastStrides(a.shape, to: shape), TensorOps.broadcastStrides(b.shape, to: shape)])
        try backend(for: a.device).binary(op, a.storage, strides: st[0], b.storage, strides: st[1], into: out.storage, shape: s)
        return out
    }

    /// `op(x)` elementwise, no graph.
    static func applyUnary(_ op: UnaryOp, _ x: Tensor, name: String) throws -> Tensor {
        try TensorOps.requireFloat(x, name)
        let out = try Tensor.empty(x.shape, on: x.device)
        if out.count > 0 { try backend(for: x.device).unary(op, x.storage, into: out.storage, count: x.count) }
        return out
    }
}

/// A binary op with broadcasting that records `backward(grad) -> (gradA, gradB)` at the
/// broadcast shape; the gradients are summed back to each operand's shape.
private func binaryOp(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, name: String,
                      backward: @escaping (Tensor) throws -> (Tensor?, Tensor?)) throws -> Tensor {
    let out = try TensorOps.applyBinary(op, a, b, name: name)
    let aShape = a.shape, bShape = b.shape
    return try Autograd.record(out, op: name, inputs: [a, b]) { g in
        let (ga, gb) = try backward(g)
        return [try ga?.sum(to: aShape), try gb?.sum(to: bShape)]
    }
}

/// A unary op that records `backward(grad) -> gradX`.
private func unaryOp(_ op: UnaryOp, _ x: Tensor, name: String,
                     backward: @escaping (Tensor, Tensor) throws -> Tensor) throws -> Tensor {
    let out = try TensorOps.applyUnary(op, x, name: name)
    let saved = out.detach()
    return try Autograd.record(out, op: name, inputs: [x]) { g in [try backward(g, saved)] }
}

extension Tensor {
    /// Elementwise sum with broadcasting.
    public static func + (lhs: Tensor, rhs: Tensor) throws -> Tensor {
        try binaryOp(.add, lhs, rhs, name: "add") { g in (g, g) }
    }

    /// Elementwise difference with broadcasting.
    public static func - (lhs: Tensor, rhs: Tensor) throws -> Tensor {
        try binaryOp(.subtract, lhs, rhs, name: "sub") { g in (g, try TensorOps.applyUnary(.negate, g, name: "sub")) }
    }

    /// Elementwise product with broadcasting.
    public static func * (lhs: Tensor, rhs: Tensor) throws -> Tensor {
        let a = lhs.detach(), b = rhs.detach()
        return try binaryOp(.multiply, lhs, rhs, name: "mul") { g in
            (lhs.requiresGrad ? try TensorOps.applyBinary(.multiply, g, b, name: "mul") : nil,
             rhs.requiresGrad ? try TensorOps.applyBinary(.multiply, g, a, name: "mul") : nil)
        }
    }

    /// Elementwise quotient with broadcasting.
    public static func / (lhs: Tensor, rhs: Tensor) throws -> Tensor {
        let a = lhs.detach(), b = rhs.detach()
        return try binaryOp(.divide, lhs, rhs, name: "div") { g in
            let gOverB = try TensorOps.applyBinary(.divide, g, b, name: "div")
            // d(a/b)/db = -(a/b)/b
            let gb = rhs.requiresGrad
                ? try TensorOps.applyUnary(.negate, try TensorOps.applyBinary(.divide, try TensorOps.applyBinary(.multiply, gOverB, a, name: "div"), b, name: "div"), name: "div")
                : nil
            return (gOverB, gb)
        }
    }

    /// Adds a scalar to every element.
    public static func + (lhs: Tensor, rhs: Float) throws -> Tensor {
        try unaryOp(.addScalar(rhs), lhs, name: "add") { g, _ in g }
    }

    /// Adds a scalar to every element.
    public static func + (lhs: Float, rhs: Tensor) throws -> Tensor { try rhs + lhs }

    /// Subtracts a scalar from every element.
    public static func - (lhs: Tensor, rhs: Float) throws -> Tensor {
        try unaryOp(.addScalar(-rhs), lhs, name: "sub") { g, _ in g }
    }

    /// `lhs - x` for every element `x`.
    public static func - (lhs: Float, rhs: Tensor) throws -> Tensor {
        try unaryOp(.subtractFromScalar(lhs), rhs, name: "rsub") { g, _ in try TensorOps.applyUnary(.negate, g, name: "rsub") }
    }

    /// Multiplies every element by a scalar.
    public static func * (lhs: Tensor, rhs: Float) throws -> Tensor {
        try unaryOp(.multiplyScalar(rhs), lhs, name: "mul") { g, _ in try TensorOps.applyUnary(.multiplyScalar(rhs), g, name: "mul") }
    }

    /// Multiplies every element by a scalar.
    public static func * (lhs: Float, rhs: Tensor) throws -> Tensor { try rhs * lhs }

    /// Divides every element by a scalar.
    public static func / (lhs: Tensor, rhs: Float) throws -> Tensor {
        try unaryOp(.divideByScalar(rhs), lhs, name: "div") { g, _ in try TensorOps.applyUnary(.divideByScalar(rhs), g, name: "div") }
    }

    /// `lhs / x` for every element `x`.
    public static func / (lhs: Float, rhs: Tensor) throws -> Tensor {
        let x = rhs.detach()
        return try unaryOp(.divideScalarBy(lhs), rhs, name: "div") { g, out in
            // d(s/x)/dx = -(s/x)/x
            try TensorOps.applyUnary(.negate, try TensorOps.applyBinary(.divide, try TensorOps.applyBinary(.multiply, g, out, name: "div"), x, name: "div"), name: "div")
        }
    }

    /// Elementwise negation.
    public static prefix func - (x: Tensor) throws -> Tensor {
        try unaryOp(.negate, x, name: "neg") { g, _ in try TensorOps.applyUnary(.negate, g, name: "neg") }
    }

    /// `eˣ` elementwise.
    public func exp() throws -> Tensor {
        try unaryOp(.exp, self, name: "exp") { g, out in try TensorOps.applyBinary(.multiply, g, out, name: "exp") }
    }

    /// Natural logarithm elementwise (NaN below 0, -inf at 0).
    public func log() throws -> Tensor {
        let x = detach()
        return try unaryOp(.log, self, name: "log") { g, _ in try TensorOps.applyBinary(.divide, g, x, name: "log") }
    }

    /// Square root elementwise (NaN below 0).
    public func sqrt() throws -> Tensor {
        try unaryOp(.sqrt, self, name: "sqrt") { g, out in
            try TensorOps.applyBinary(.divide, g, try TensorOps.applyUnary(.multiplyScalar(2), out, name: "sqrt"), name: "sqrt")
        }
    }

    /// `|x|` elementwise; the gradient at 0 is 0, as in PyTorch.
    public func abs() throws -> Tensor {
        let x = detach()
        return try unaryOp(.abs, self, name: "abs") { g, _ in
            try TensorOps.applyBinary(.multiply, g, try TensorOps.applyUnary(.sign, x, name: "abs"), name: "abs")
        }
    }

    /// `xᵖ` elementwise; the gradient is `p·xᵖ⁻¹` (zero when `p` is 0).
    public func pow(_ exponent: Float) throws -> Tensor {
        let x = detach()
        return try unaryOp(.power(exponent), self, name: "pow") { g, _ in
            if exponent == 0 { return try Tensor.zeros(g.shape, on: g.device) }
            let derivative = try TensorOps.applyUnary(.multiplyScalar(exponent), try TensorOps.applyUnary(.power(exponent - 1), x, name: "pow"), name: "pow")
            return try TensorOps.applyBinary(.multiply, g, derivative, name: "pow")
        }
    }
}

/// The elementwise larger of `a` and `b` with broadcasting (as `torch.maximum`): NaN propagates;
/// where they are equal the gradient is split evenly between the two.
public func maximum(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let da = a.detach(), db = b.detach()
    let out = try TensorOps.applyBinary(.maximum, a, b, name: "maximum")
    let aShape = a.shape, bShape = b.shape
    return try Autograd.record(out, op: "maximum", inputs: [a, b]) { g in
        let ga = a.requiresGrad
            ? try TensorOps.applyBinary(.multiply, g, try TensorOps.applyBinary(.maximumGradientShare, da, db, name: "maximum"), name: "maximum").sum(to: aShape)
            : nil
        let gb = b.requiresGrad
            ? try TensorOps.applyBinary(.multiply, g, try TensorOps.applyBinary(.maximumGradientShare, db, da, name: "maximum"), name: "maximum").sum(to: bShape)
            : nil
        return [ga, gb]
    }
}
