import Foundation

/// An n-dimensional array of `float32` (or `int32` indices) on a device, with autograd.
///
/// Tensors are contiguous and row-major; images are NCHW. Like PyTorch's, a tensor is a
/// reference: `reshape` shares memory, every other op returns a new tensor. Operations that
/// involve a tensor with `requiresGrad` record themselves so that `backward()` can run.
public final class Tensor {
    /// The size of each dimension.
    public let shape: [Int]
    /// The element type.
    public let dtype: DType
    /// The memory holding the elements (shared by reshapes).
    public internal(set) var storage: Storage
    /// Whether gradients flow to (and accumulate in) this tensor.
    public var requiresGrad: Bool
    /// The accumulated gradient after `backward()`, for tensors that require it.
    public var grad: Tensor?
    /// The recorded operation that produced this tensor, if it is part of a graph.
    var gradFn: GradNode?

    /// Wraps existing storage; `storage` must hold at least `shape`'s element count.
    init(shape: [Int], dtype: DType = .float32, storage: Storage, requiresGrad: Bool = false) {
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// The device that holds the tensor.
    public var device: Device { storage.device }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Number of elements (1 for a scalar of shape `[]`).
    public var count: Int { shape.reduce(1, *) }
    /// Whether this tensor was created by the user rather than by an op in the graph.
    public var isLeaf: Bool { gradFn == nil }

    /// Size of dimension `dim` (negative counts from the end), as `torch.Tensor.size(dim)`.
    /// - Throws: `ConvKitError.invalidArgument` (op `size`) when `dim` is outside `[-rank, rank)`
    ///   or the tensor is a scalar (it has no dimensions).
    public func size(_ dim: Int) throws -> Int {
        try require(rank > 0, "size", "dimension specified as \(dim) but tensor has no dimensions")
        return shape[try TensorOps.normalizeDim(dim, rank: rank, "size")]
    }

    // MARK: Creation

    /// A tensor holding `values` with the given shape (default: one dimension).
    public convenience init(_ values: [Float], shape: [Int]? = nil, on device: Device = .cpu,
                            requiresGrad: Bool = false) throws {
        let shape = shape ?? [values.count]
        try Tensor.checkShape(shape, "Tensor")
        try require(shape.reduce(1, *) == values.count, "Tensor",
                    "\(values.count) values cannot fill shape \(shape) (\(shape.reduce(1, *)) elements)")
        let storage = try values.withUnsafeBytes { try Tensor.makeStorage(bytes: $0, on: device) }
        self.init(shape: shape, storage: storage, requiresGrad: requiresGrad)
    }

    /// An `int32` tensor holding `values` (class labels, indices).
    public convenience init(indices values: [Int32], shape: [Int]? = nil, on device: Device = .cpu) throws {
        let shape = shape ?? [values.count]
        try Tensor.checkShape(shape, "Tensor")
        try require(shape.reduce(1, *) == values.count, "Tensor",
                    "\(values.count) values cannot fill shape \(shape) (\(shape.reduce(1, *)) elements)")
        let storage = try values.withUnsafeBytes { try Tensor.makeStorage(bytes: $0, on: device) }
        self.init(shape: shape, dtype: .int32, storage: storage)
    }

    /// A scalar (shape `[]`) tensor.
    public convenience init(scalar value: Float, on device: Device = .cpu, requiresGrad: Bool = false) throws {
        try self.init([value], shape: [], on: device, requiresGrad: requiresGrad)
    }

    /// A tensor of `shape` filled with `value`.
    public static func full(_ shape: [Int], _ value: Float, on device: Device = .cpu,
                            requiresGrad: Bool = false) throws -> Tensor {
        // +0 only takes the zero-filled allocation: a fill of −0 must keep its sign.
        let t = try allocated(shape, zeroed: value.bitPattern == 0, on: device)
        if value.bitPattern != 0 { try backend(for: device).fill(t.storage, count: t.count, value: value) }
        t.requiresGrad = requiresGrad
        return t
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], on device: Device = .cpu, requiresGrad: Bool = false) throws -> Tensor {
        try full(shape, 0, on: device, requiresGrad: requiresGrad)
    }

    /// A tensor of ones.
    public static func ones(_ shape: [Int], on device: Device = .cpu, requiresGrad: Bool = false) throws -> Tensor {
        try full(shape, 1, on: device, requiresGrad: requiresGrad)
    }

    /// `[start, start + step, …]` up to but excluding `end`, as `torch.arange`.
    public static func arange(_ start: Float = 0, _ end: Float, step: Float = 1, on device: Device = .cpu) throws -> Tensor {
        try require(step != 0, "arange", "step must be non-zero")
        try require(step.isFinite && start.isFinite && end.isFinite, "arange", "start, end and step must be finite")
        let n = max(0, Int((Double(end - start) / Double(step)).rounded(.up)))
        return try Tensor((0..<n).map { start + Float($0) * step }, shape: [n], on: device)
    }

    /// Uniform random values in `[low, high)`, from `generator` or the default one (`RandomState`).
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, generator: inout Philox,
                               on device: Device = .cpu, requiresGrad: Bool = false) throws -> Tensor {
        try checkShape(shape, "uniform")
        try require(low <= high, "uniform", "low (\(low)) must not exceed high (\(high))")
        let u = generator.uniform(count: shape.reduce(1, *))
        return try Tensor(u.map { low + (high - low) * $0 }, shape: shape, on: device, requiresGrad: requiresGrad)
    }

    /// Uniform random values in `[low, high)` from the default generator.
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1,
                               on device: Device = .cpu, requiresGrad: Bool = false) throws -> Tensor {
        try RandomState.withGenerator { try uniform(shape, low: low, high: high, generator: &$0, on: device, requiresGrad: requiresGrad) }
    }

    /// Normal random values with the given mean and standard deviation, from `generator`.
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, generator: inout Philox,
                              on device: Device = .cpu, requiresGrad: Bool = false) throws -> Tensor {
        try checkShape(shape, "normal")
        try require(std >= 0, "normal", "std must be non-negative, got \(std)")
        let z = generator.normal(count: shape.reduce(1, *))
        return try Tensor(z.map { mean + std * $0 }, shape: shape, on: device, requiresGrad: requiresGrad)
    }

    /// Normal random values from the default generator.
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1,
                              on device: Device = .cpu, requiresGrad: Bool = false) throws -> Tensor {
        try RandomState.withGenerator { try normal(shape, mean: mean, std: std, generator: &$0, on: device, requiresGrad: requiresGrad) }
    }

    /// A tensor with unspecified contents (on the GPU: whatever its block held last), for a
    /// kernel that writes every element; `zeros` when the zeros matter.
    static func empty(_ shape: [Int], dtype: DType = .float32, on device: Device) throws -> Tensor {
        try allocated(shape, dtype: dtype, zeroed: false, on: device)
    }

    /// A new tensor of `shape`, zero-filled (`Backend.allocate`) or as the allocator gives it.
    private static func allocated(_ shape: [Int], dtype: DType = .float32, zeroed: Bool, on device: Device) throws -> Tensor {
        try checkShape(shape, "Tensor")
        let bytes = shape.reduce(1, *) * dtype.size, b = try backend(for: device)
        return Tensor(shape: shape, dtype: dtype,
                      storage: zeroed ? try b.allocate(byteCount: bytes) : try b.allocateUninitialized(byteCount: bytes))
    }

    // MARK: Reading back

    /// The elements in row-major order (copied to the host if needed).
    public func toArray() throws -> [Float] {
        try require(dtype == .float32, "toArray", "tensor is \(dtype); use toIntArray()")
        var out = [Float](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try backend(for: device).download(storage, into: $0) }
        return out
    }

    /// The elements of an `int32` tensor in row-major order.
    public func toIntArray() throws -> [Int32] {
        try require(dtype == .int32, "toIntArray", "tensor is \(dtype); use toArray()")
        var out = [Int32](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try backend(for: device).download(storage, into: $0) }
        return out
    }

    /// The single value of a one-element tensor.
    public func item() throws -> Float {
        try require(count == 1, "item", "tensor has \(count) elements, expected 1")
        return try toArray()[0]
    }

    /// A copy on `device` (the same tensor if it is already there). Gradients flow back.
    public func to(_ device: Device) throws -> Tensor {
        if device == self.device { return self }
        var bytes = [UInt8](repeating: 0, count: count * dtype.size)
        try bytes.withUnsafeMutableBytes { try backend(for: self.device).download(storage, into: $0) }
        let moved = Tensor(shape: shape, dtype: dtype,
                           storage: try bytes.withUnsafeBytes { try Tensor.makeStorage(bytes: $0, on: device) })
        let source = self.device
        return try Autograd.record(moved, op: "to", inputs: [self]) { g in [try g.to(source)] }
    }

    /// A tensor sharing this one's values but cut from the graph (`requiresGrad` false).
    public func detach() -> Tensor {
        Tensor(shape: shape, dtype: dtype, storage: storage)
    }

    // MARK: Helpers

    static func makeStorage(bytes: UnsafeRawBufferPointer, on device: Device) throws -> Storage {
        let b = try backend(for: device)
        let s = try b.allocateUninitialized(byteCount: bytes.count)
        if bytes.count > 0 { try b.upload(bytes, to: s) }
        return s
    }

    /// Rejects negative dimensions (zero-sized dimensions are allowed, as in PyTorch).
    static func checkShape(_ shape: [Int], _ op: String) throws {
        try require(shape.allSatisfy { $0 >= 0 }, op, "shape \(shape) has a negative dimension")
        var total = 1
        for d in shape {
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            try require(!overflow && product <= Int(Int32.max) * 4, op, "shape \(shape) is too large")
            total = product
        }
    }
}

extension Tensor: CustomStringConvertible {
    /// Shape, device and the first few values, e.g. `Tensor([2, 3], cpu) [1.0, 2.0, …]`.
    public var description: String {
        let head: String
        if dtype == .float32, let values = try? toArray() {
            head = values.prefix(8).map { String($0) }.joined(separator: ", ") + (count > 8 ? ", …" : "")
        } else if let values = try? toIntArray() {
            head = values.prefix(8).map { String($0) }.joined(separator: ", ") + (count > 8 ? ", …" : "")
        } else { head = "?" }
        return "Tensor(\(shape), \(dtype), \(device)) [\(head)]"
    }
}
