/// Updates a model's parameters from their gradients, as `torch.optim.Optimizer` does.
///
/// An optimizer holds the very tensors a module owns (`module.parameters()`), so updates made by
/// `step()` are seen by the module, and vice versa. Updates run in place through the parameters'
/// backend (`OptimizerKernels`), one fused kernel per parameter.
public protocol Optimizer: AnyObject {
    /// The step size used by the next `step()`; learning-rate schedules set it.
    var learningRate: Float { get set }
    /// The tensors this optimizer updates, in the order given at creation (the index `i` in state
    /// names such as `state.<i>.exp_avg`).
    var parameters: [Tensor] { get }
    /// Updates every parameter that has a gradient; parameters whose `grad` is nil are skipped
    /// (and their state left untouched), as in PyTorch.
    func step() throws
    /// Drops every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`).
    func zeroGrad()
    /// The hyperparameters (`param_groups.0.lr`, …) and per-parameter state (`state.<i>.<name>`),
    /// as tensors for a checkpoint. State tensors are the live ones, not copies (as in PyTorch).
    func stateDict() -> [(String, Tensor)]
    /// Restores hyperparameters and state from `stateDict()`'s output (copied onto the parameters'
    /// devices). Everything is checked before anything changes.
    /// - Throws: `ConvKitError.invalidArgument` naming a missing or unexpected key, a shape that
    ///   does not match its parameter, a different parameter count or an invalid hyperparameter.
    func loadStateDict(_ state: [String: Tensor]) throws
}

extension Optimizer {
    /// Drops every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() {
        for parameter in parameters { parameter.grad = nil }
    }
}

/// Optimizers and schedules that can check a state dict without loading it, so that a checkpoint
/// is applied all or nothing.
protocol StateDictChecking {
    /// Throws what `loadStateDict` would throw for `state`, changing nothing.
    func checkStateDict(_ state: [String: Tensor]) throws
}

// MARK: - Shared checks

enum OptimizerChecks {
    /// Rejects an empty list, non-float tensors, non-leaf tensors and the same tensor twice.
    static func checkParameters(_ parameters: [Tensor], _ op: String) throws {
        try require(!parameters.isEmpty, op, "got an empty parameter list")
        var seen = Set<ObjectIdentifier>()
        for (index, parameter) in parameters.enumerated() {
            try require(parameter.dtype == .float32, op, "parameter \(index) is \(parameter.dtype); only float32 tensors can be optimized")
            try require(parameter.isLeaf, op, "parameter \(index) is not a leaf tensor (it was computed by an operation); optimize the tensors a module owns")
            try require(seen.insert(ObjectIdentifier(parameter)).inserted, op, "parameter \(index) appears more than once in the parameter list")
        }
    }

    /// Requires `value` to be finite and ≥ 0.
    static func checkNonNegative(_ value: Float, _ name: String, _ op: String) throws {
        try require(value.isFinite && value >= 0, op, "invalid \(name) \(value): must be finite and non-negative")
    }

    /// Requires `value` to lie in [0, 1).
    static func checkBeta(_ value: Float, _ index: Int, _ op: String) throws {
        try require(value >= 0 && value < 1, op, "invalid beta parameter at index \(index): \(value) is outside [0, 1)")
    }

    /// Checks that `parameter.grad` can drive an update of `parameter`.
    static func checkGradient(of parameter: Tensor, index: Int, _ op: String) throws {
        guard let grad = parameter.grad else { return }
        try require(grad.dtype == .float32, op, "the gradient of parameter \(index) is \(grad.dtype), expected float32")
        try require(grad.shape == parameter.shape, op,
                    "the gradient of parameter \(index) has shape \(grad.shape) but the parameter has shape \(parameter.shape)")
        try require(grad.device == parameter.device, op,
                    "the gradient of parameter \(index) is on \(grad.device) but the parameter is on \(parameter.device)")
    }

    /// A new float32 tensor shaped like `parameter`, on its device, for optimizer state.
    static func stateTensor(like parameter: Tensor) throws -> Tensor {
        try Tensor.empty(parameter.shape, on: parameter.device)
    }

    /// `state` on `parameter`'s device (moved in place when the module was moved after the optimizer was made).
    static func follow(_ state: Tensor, _ parameter: Tensor) throws {
        if state.device != parameter.device { try state.moveInPlace(to: parameter.device) }
    }
}

// MARK: - State dict reading

/// A host scalar tensor (shape `[]`) holding `value`, for hyperparameters in state dicts.
func hostScalar(_ value: Float) -> Tensor {
    let storage = Storage.smallHost(byteCount: 4)
    storage.address.storeBytes(of: value, as: Float.self)
    return Tensor(shape: [], storage: storage)
}

/// An int32 host scalar tensor (shape `[]`), for counters in state dicts.
func hostScalar(int value: Int32) -> Tensor {
    let storage = Storage.smallHost(byteCount: 4)
    storage.address.storeBytes(of: value, as: Int32.self)
    return Tensor(shape: [], dtype: .int32, storage: storage)
}

/// Reads a state dict key by key, with errors that name the key, and reports the keys nobody read.
struct StateDictReader {
    let op: String
    let state: [String: Tensor]
    private var used: Set<String> = []

    /// A reader of `state`; keys outside `allowedKeys` (another optimizer's state, or state for a
    /// parameter this optimizer does not have) are reported at once.
    init(_ state: [String: Tensor], op: String, allowedKeys: Set<String>) throws {
        self.state = state
        self.op = op
        let unexpected = state.keys.filter { !allowedKeys.contains($0) }.sorted()
        try require(unexpected.isEmpty, op, "unexpected keys \(unexpected) in the state dict")
    }

    /// The one-element float32 tensor at `key`, as a Float.
    mutating func float(_ key: String) throws -> Float {
        guard let tensor = state[key] else { throw missing(key) }
        used.insert(key)
        try require(tensor.dtype == .float32 && tensor.count == 1, op,
                    "\(key) must be a one-element float32 tensor, got \(tensor.dtype) of shape \(tensor.shape)")
        return try tensor.item()
    }

    /// The one-element int32 tensor at `key`, as an Int.
    mutating func integer(_ key: String) throws -> Int {
        guard let tensor = state[key] else { throw missing(key) }
        used.insert(key)
        try require(tensor.dtype == .int32 && tensor.count == 1, op,
                    "\(key) must be a one-element int32 tensor, got \(tensor.dtype) of shape \(tensor.shape)")
        return Int(try tensor.toIntArray()[0])
    }

    /// The float32 tensor at `key` with `shape`, or nil when the key is absent.
    mutating func optionalTensor(_ key: String, shape: [Int]) throws -> Tensor? {
        guard let tensor = state[key] else { return nil }
        used.insert(key)
        try require(tensor.dtype == .float32, op, "\(key) is \(tensor.dtype), expected float32")
        try require(tensor.shape == shape, op, "\(key) has shape \(tensor.shape) but its parameter has shape \(shape)")
        return tensor
    }

    /// Whether `key` is present (without reading it).
    func contains(_ key: String) -> Bool { state[key] != nil }

    /// Throws when a key was never read (it belongs to another optimizer or to a parameter this
    /// optimizer does not have).
    func finish() throws {
        let unexpected = state.keys.filter { !used.contains($0) }.sorted()
        try require(unexpected.isEmpty, op, "unexpected keys \(unexpected) in the state dict")
    }

    func missing(_ key: String) -> ConvKitError {
        .invalidArgument(op: op, message: "the state dict has no \(key)")
    }

    /// Checks the parameter count recorded in the state dict.
    mutating func checkParameterCount(_ expected: Int) throws {
        let count = try integer("param_groups.0.parameter_count")
        try require(count == expected, op, "the state dict is for \(count) parameters but this optimizer has \(expected)")
    }

    /// A copy of `source` on `parameter`'s device, to become optimizer state.
    static func copy(_ source: Tensor, like parameter: Tensor) throws -> Tensor {
        let copy = try OptimizerChecks.stateTensor(like: parameter)
        try copy.assign(source)
        return copy
    }
}
