/// One input of a recorded operation, as the backward pass needs it: a leaf tensor (whose `grad`
/// receives its gradient), or the node that computed an intermediate tensor. The node, not the
/// tensor: an intermediate value that no backward pass saved is freed as soon as nothing else
/// holds it, as in PyTorch (a training step keeps only what its backward pass reads).
enum GradEdge {
    /// An input that needs no gradient.
    case none
    /// A tensor made by the user (a parameter, an input with `requiresGrad`).
    case leaf(Tensor)
    /// A tensor computed by a recorded op, represented by that op's node.
    case interior(GradNode)
}

/// One recorded operation in the autograd graph: its inputs and how to map the gradient of its
/// output to gradients of those inputs.
final class GradNode {
    /// The operation's name, for error messages (`conv2d`, `add`, …).
    let op: String
    /// Where each input's gradient goes (gradients are returned in this order).
    let edges: [GradEdge]
    /// Each input's shape, to check the gradients that `backward` returns.
    let inputShapes: [[Int]]
    /// Maps the output's gradient to one gradient per input (`nil` where none flows).
    let backward: (Tensor) throws -> [Tensor?]

    init(op: String, inputs: [Tensor], backward: @escaping (Tensor) throws -> [Tensor?]) {
        self.op = op
        edges = inputs.map { input in
            guard input.requiresGrad else { return .none }
            return input.gradFn.map { .interior($0) } ?? .leaf(input)
        }
        inputShapes = inputs.map(\.shape)
        self.backward = backward
    }
}

/// Reverse-mode automatic differentiation over the graph that operations record.
public enum Autograd {
    @TaskLocal static var gradientsEnabled = true
    @TaskLocal static var anomalyDetection = false

    /// Whether operations currently record the graph (false inside `withNoGrad`).
    public static var isEnabled: Bool { gradientsEnabled }

    /// Whether `withAnomalyDetection` is in force.
    public static var isDetectingAnomalies: Bool { anomalyDetection }

    /// Runs `body` checking, like `torch.autograd.detect_anomaly`, every recorded op's output and
    /// every gradient that a backward pass computes for NaN and infinity; the first one found
    /// stops the computation with a `ConvKitError.autograd` naming the op. Each check reads the
    /// tensor back to the host, so this is for finding a fault, not for normal training.
    public static func withAnomalyDetection<T>(_ body: () throws -> T) rethrows -> T {
        try $anomalyDetection.withValue(true, operation: body)
    }

    /// Throws when `tensor` (float32) holds a NaN or an infinity: `what` says whose it is.
    static func checkFinite(_ tensor: Tensor, _ what: @autoclosure () -> String) throws {
        guard tensor.dtype == .float32 else { return }
        let values = try tensor.toArray()
        guard let index = values.firstIndex(where: { !$0.isFinite }) else { return }
        throw ConvKitError.autograd(message:
            "anomaly: \(what()) holds \(values[index]) at element \(index) (shape \(tensor.shape))")
    }

    /// Attaches `backward` to `output` when recording is on and any input requires a gradient.
    /// Op implementations call this once, after computing `output` with no graph involved.
    static func record(_ output: Tensor, op: String, inputs: [Tensor],
                       backward: @escaping (Tensor) throws -> [Tensor?]) throws -> Tensor {
        // Every op's output is checked as it is made, so the first non-finite one names its op.
        if anomalyDetection { try checkFinite(output, "the output of \(op)") }
        guard gradientsEnabled, inputs.contains(where: { $0.requiresGrad }) else { return output }
        output.requiresGrad = true
        output.gradFn = GradNode(op: op, inputs: inputs, backward: backward)
        return output
    }
}

/// Runs `body` without recording operations for autograd (as `torch.no_grad()`).
public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
    try Autograd.$gradientsEnabled.withValue(false, operation: body)
}

extension Tensor {
    /// Computes the gradient of this tensor with respect to every leaf that requires one, and
    /// adds it to each leaf's `grad` (gradients accumulate across calls, as in PyTorch).
    ///
    /// - Parameter gradient: the gradient of some scalar with respect to this tensor; may be
    ///   omitted only when this tensor has one element (it then defaults to 1).
    public func backward(gradient: Tensor? = nil) throws {
        guard requiresGrad else {
            throw ConvKitError.autograd(message: "backward() on a tensor that does not require grad")
        }
        let seed: Tensor
        if let gradient {
            guard gradient.shape == shape else {
                throw ConvKitError.autograd(message: "backward(): gradient shape \(gradient.shape) does not match tensor shape \(shape)")
            }
            guard gradient.device == device else {
                throw ConvKitError.autograd(message: "backward(): gradient is on \(gradient.device) but tensor is on \(device)")
            }
            seed = gradient.detach()
        } else {
            guard count == 1 else {
                throw ConvKitError.autograd(message: "backward(): gradient can be implied only for a one-element tensor, this one has shape \(shape)")
            }
            seed = try Tensor.ones(shape, on: device)
        }
        try withNoGrad { try Autograd.propagate(from: self, seed: seed) }
    }
}

extension Autograd {
    /// A vertex of the backward graph: a recorded op's node or a leaf tensor.
    private enum Vertex {
        case node(GradNode)
        case leaf(Tensor)

        var id: ObjectIdentifier {
            switch self {
            case .node(let node): ObjectIdentifier(node)
            case .leaf(let tensor): ObjectIdentifier(tensor)
            }
        }

        init?(_ edge: GradEdge) {
            switch edge {
            case .none: return nil
            case .leaf(let tensor): guard tensor.requiresGrad else { return nil }; self = .leaf(tensor)
            case .interior(let node): self = .node(node)
            }
        }
    }

    /// Visits nodes in reverse topological order, summing gradients where a tensor is used twice.
    static func propagate(from root: Tensor, seed: Tensor) throws {
        let rootVertex: Vertex = root.gradFn.map { .node($0) } ?? .leaf(root)
        var order: [Vertex] = []
        var visited = Set<ObjectIdentifier>()
        // Iterative depth-first search: deep graphs must not overflow the stack.
        var stack: [(Vertex, Bool)] = [(rootVertex, false)]
        while let (vertex, expanded) = stack.popLast() {
            if expanded { order.append(vertex); continue }
            guard visited.insert(vertex.id).inserted else { continue }
            stack.append((vertex, true))
            guard case .node(let node) = vertex else { continue }
            for input in node.edges.compactMap(Vertex.init) where !visited.contains(input.id) {
                stack.append((input, false))
            }
        }
        var grads: [ObjectIdentifier: Tensor] = [rootVertex.id: seed]
        for vertex in order.reversed() {
            guard var grad = grads.removeValue(forKey: vertex.id) else { continue }
            let node: GradNode
            switch vertex {
            case .leaf(let leaf):
                try accumulate(&grad, into: leaf)
                continue
            case .node(let n):
                node = n
            }
            let inputGrads = try node.backward(grad)
            if anomalyDetection {
                for (index, g) in inputGrads.enumerated() {
                    if let g { try checkFinite(g, "the gradient that \(node.op)'s backward computed for its input \(index)") }
                }
            }
            precondition(inputGrads.count == node.edges.count, "\(node.op): backward returned \(inputGrads.count) gradients for \(node.edges.count) inputs")
            for (index, g) in inputGrads.enumerated() {
                guard let input = Vertex(node.edges[index]), let g else { continue }
                precondition(g.shape == node.inputShapes[index], "\(node.op): gradient shape \(g.shape) != input shape \(node.inputShapes[index])")
                if let existing = grads[input.id] {
                    grads[input.id] = try sum(existing, g)
                } else {
                    grads[input.id] = g
                }
            }
        }
    }

    /// Adds `grad` to a leaf's `.grad`, creating it on first use. As PyTorch's AccumulateGrad, a
    /// first gradient that nothing else references (neither the tensor nor its memory: not the
    /// caller's seed, not a saved tensor, not a view of another gradient) becomes `.grad` itself;
    /// any other is copied, so a later accumulation into `.grad` never writes someone else's memory.
    private static func accumulate(_ grad: inout Tensor, into leaf: Tensor) throws {
        if let existing = leaf.grad {
            try backend(for: existing.device).accumulate(grad.storage, into: existing.storage, count: existing.count)
        } else if isKnownUniquelyReferenced(&grad) && isKnownUniquelyReferenced(&grad.storage) && grad.gradFn == nil
                    && !grad.requiresGrad {
            leaf.grad = grad
        } else {
            leaf.grad = try copy(grad)
        }
    }

    /// `a + b` for two same-shaped gradients, as a new tensor.
    static func sum(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let out = try copy(a)
        try backend(for: a.device).accumulate(b.storage, into: out.storage, count: out.count)
        return out
    }

    /// A fresh copy with its own storage (gradients may alias saved tensors otherwise).
    static func copy(_ t: Tensor) throws -> Tensor {
        let out = try Tensor.empty(t.shape, dtype: t.dtype, on: t.device)
        try backend(for: t.device).copy(from: t.storage, to: out.storage, byteCount: t.count * t.dtype.size)
        return out
    }
}
