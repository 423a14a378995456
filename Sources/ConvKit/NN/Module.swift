/// The base class of every layer and model: named parameters, buffers and child modules,
/// train/eval mode, device moves and a PyTorch-compatible state dict.
///
/// A subclass declares its tensors and children as stored properties and lists them in
/// `namedOwnParameters()`, `namedOwnBuffers()` and `namedChildren()`, with the names PyTorch
/// gives them, so `stateDict()` keys match `torch.nn.Module.state_dict()` for the same
/// architecture (`features.0.weight`, …). It computes its output in `forward(_:)`; callers
/// write `module(x)`.
open class Module {
    /// Whether the module is in training mode (dropout active, batch statistics used).
    public private(set) var isTraining = true

    /// Creates a module in training mode.
    public init() {}

    /// The module's own learnable tensors, in PyTorch's registration order.
    open func namedOwnParameters() -> [(String, Tensor)] { [] }

    /// The module's own non-learnable state saved in the state dict (e.g. BatchNorm's running statistics).
    open func namedOwnBuffers() -> [(String, Tensor)] { [] }

    /// The direct sub-modules, in PyTorch's registration order.
    open func namedChildren() -> [(String, Module)] { [] }

    /// Computes the module's output. Subclasses override this.
    open func forward(_ input: Tensor) throws -> Tensor {
        throw ConvKitError.unsupported(op: String(describing: type(of: self)), message: "this module does not define forward(_:)")
    }

    /// Runs `forward(_:)`.
    public func callAsFunction(_ input: Tensor) throws -> Tensor { try forward(input) }

    /// Called by `train(_:)` on every module; override to react to a mode change.
    open func didChangeMode() {}

    // MARK: Traversal

    /// Every module in the tree with its dotted name (the root is `""`), parents first.
    public func namedModules(prefix: String = "") -> [(String, Module)] {
        var result: [(String, Module)] = [(prefix, self)]
        for (name, child) in namedChildren() {
            result += child.namedModules(prefix: prefix.isEmpty ? name : "\(prefix).\(name)")
        }
        return result
    }

    /// Every learnable tensor with its dotted name (`features.0.weight`).
    public func namedParameters() -> [(String, Tensor)] {
        namedModules().flatMap { prefix, module in
            module.namedOwnParameters().map { (prefix.isEmpty ? $0.0 : "\(prefix).\($0.0)", $0.1) }
        }
    }

    /// Every buffer with its dotted name.
    public func namedBuffers() -> [(String, Tensor)] {
        namedModules().flatMap { prefix, module in
            module.namedOwnBuffers().map { (prefix.isEmpty ? $0.0 : "\(prefix).\($0.0)", $0.1) }
        }
    }

    /// Every learnable tensor (for an optimizer).
    public func parameters() -> [Tensor] { namedParameters().map { $0.1 } }

    /// Number of learnable scalars.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    // MARK: Modes, gradients, devices

    /// Sets training mode (`true`) or evaluation mode (`false`) on the whole tree.
    public func train(_ on: Bool = true) {
        for (_, module) in namedModules() {
            module.isTraining = on
            module.didChangeMode()
        }
    }

    /// Evaluation mode: `train(false)`.
    public func eval() { train(false) }

    /// Drops every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() {
        for p in parameters() { p.grad = nil }
    }

    /// The device of the first parameter or buffer (`.cpu` for a module without state).
    public var device: Device { (namedParameters() + namedBuffers()).first?.1.device ?? .cpu }

    /// Moves every parameter and buffer to `device` in place: the tensor objects stay the same,
    /// so optimizers that hold them keep working. Gradients are dropped.
    public func to(_ device: Device) throws {
        for (_, t) in namedParameters() + namedBuffers() where t.device != device {
            try t.moveInPlace(to: device)
            t.grad = nil
        }
    }

    // MARK: State dict

    /// Parameters then buffers of each module, parents first: PyTorch's `state_dict()` order and names.
    public func stateDict() -> [(String, Tensor)] {
        namedModules().flatMap { prefix, module in
            (module.namedOwnParameters() + module.namedOwnBuffers()).map {
                (prefix.isEmpty ? $0.0 : "\(prefix).\($0.0)", $0.1)
            }
        }
    }

    /// Copies values from `state` into the module's tensors (on their current device).
    ///
    /// - Parameter strict: when true, a missing or unexpected key is an error (as in PyTorch).
    /// - Throws: `ConvKitError.invalidArgument` naming every missing or unexpected key, or the
    ///   first tensor whose shape differs. Nothing is copied unless every check passes.
    public func loadStateDict(_ state: [String: Tensor], strict: Bool = true) throws {
        let own = stateDict()
        let ownNames = Set(own.map { $0.0 })
        if strict {
            let missing = own.map { $0.0 }.filter { state[$0] == nil }
            let unexpected = state.keys.filter { !ownNames.contains($0) }.sorted()
            if !missing.isEmpty || !unexpected.isEmpty {
                var parts: [String] = []
                if !missing.isEmpty { parts.append("missing keys \(missing)") }
                if !unexpected.isEmpty { parts.append("unexpected keys \(unexpected)") }
                throw ConvKitError.invalidArgument(op: "loadStateDict", message: "state dict does not match \(type(of: self)): " + parts.joined(separator: "; "))
            }
        }
        for (name, tensor) in own {
            guard let source = state[name] else { continue }
            try require(source.shape == tensor.shape, "loadStateDict",
                        "\(name) has shape \(source.shape) in the state dict but \(tensor.shape) in \(type(of: self))")
            try require(source.dtype == tensor.dtype, "loadStateDict",
                        "\(name) is \(source.dtype) in the state dict but \(tensor.dtype) in \(type(of: self))")
        }
        for (name, tensor) in own {
            if let source = state[name] { try tensor.assign(source) }
        }
    }
}

extension Tensor {
    /// Overwrites this tensor's values with `source`'s (same shape and dtype; any device).
    /// The tensor object, its device and its place in an optimizer stay the same.
    func assign(_ source: Tensor) throws {
        try require(source.shape == shape && source.dtype == dtype, "assign",
                    "cannot assign a \(source.dtype) tensor of shape \(source.shape) to a \(dtype) tensor of shape \(shape)")
        let moved = source.device == device ? source : try source.detach().to(device)
        try backend(for: device).copy(from: moved.storage, to: storage, byteCount: count * dtype.size)
    }

    /// Replaces the storage with a copy on `device` (the tensor object stays the same).
    func moveInPlace(to device: Device) throws {
        storage = try detach().to(device).storage
    }
}
