/// Flattens a range of dimensions into one, as `torch.nn.Flatten` (by default every dimension but
/// the batch: `[N, C, H, W]` → `[N, C·H·W]`).
public final class Flatten: Module {
    /// The first dimension to flatten.
    public let startDim: Int
    /// The last dimension to flatten (negative counts from the end).
    public let endDim: Int

    /// Creates the layer (`start_dim` 1 and `end_dim` −1 by default, as PyTorch's).
    public init(startDim: Int = 1, endDim: Int = -1) {
        self.startDim = startDim
        self.endDim = endDim
    }

    /// `input.flatten(startDim:endDim:)` (shares the input's memory).
    public override func forward(_ input: Tensor) throws -> Tensor {
        try input.flatten(startDim: startDim, endDim: endDim)
    }
}

/// A chain of modules applied in order, as `torch.nn.Sequential`; its children are named `"0"`,
/// `"1"`, …, so a parameter's state-dict name is e.g. `features.0.weight`.
public final class Sequential: Module {
    /// The modules, in the order they run.
    public private(set) var modules: [Module]

    /// A chain of `modules`.
    public init(_ modules: [Module]) {
        self.modules = modules
    }

    /// A chain of the given modules.
    public convenience init(_ modules: Module...) {
        self.init(modules)
    }

    /// The number of modules.
    public var count: Int { modules.count }

    /// The module at `index` (as `sequential[i]` in PyTorch; a negative index counts from the end).
    /// - Throws: `ConvKitError.invalidArgument` (op `Sequential`) for an index out of range.
    public subscript(index: Int) -> Module {
        get throws {
            try require(index >= -modules.count && index < modules.count, "Sequential",
                        "index \(index) is out of range for \(modules.count) module\(modules.count == 1 ? "" : "s")")
            return modules[index < 0 ? index + modules.count : index]
        }
    }

    /// Adds `module` at the end (named by its position).
    public func append(_ module: Module) {
        modules.append(module)
    }

    /// Children named by position: `"0"`, `"1"`, ….
    public override func namedChildren() -> [(String, Module)] {
        modules.enumerated().map { (String($0.offset), $0.element) }
    }

    /// Runs the modules in order (the input itself for an empty chain).
    public override func forward(_ input: Tensor) throws -> Tensor {
        var x = input
        for module in modules { x = try module(x) }
        return x
    }
}
