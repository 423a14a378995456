/// How `pad` fills the cells it adds (`torch.nn.functional.pad`'s `mode`).
public enum PadMode: String, Hashable, Sendable, CaseIterable {
    /// A constant value (`value`, default 0). Negative pads crop.
    case constant
    /// Mirror without repeating the edge: `c b | a b c d | c b`. Pads must be smaller than the dimension.
    case reflect
    /// Repeat the edge value: `a a | a b c d | d d`.
    case replicate
    /// Wrap around: `c d | a b c d | a b`. Pads must not exceed the dimension.
    case circular
}

/// Pads (or, with negative pads, crops) the last dimensions of `input`, as
/// `torch.nn.functional.pad`.
///
/// `pads` lists `(before, after)` pairs from the last dimension backwards: `[left, right]` pads
/// the last dimension, `[left, right, top, bottom]` the last two. `.constant` accepts a pair for
/// any number of dimensions; the other modes pad the last one (2-D or 3-D input) or the last two
/// (3-D or 4-D input) dimensions. Gradients flow back to `input` (cells copied several times
/// receive the sum of their copies' gradients).
///
/// `value` is used by constant mode only; a non-zero `value` with another mode is an error, as
/// in PyTorch. Circular mode crops negative pads first and then repeats what is left periodically (PyTorch
/// does the same where its result is defined).
///
/// - Throws: `ConvKitError.invalidArgument` (op `pad`) for an odd number of pads, too many pads
///   for the input's rank or mode, a non-zero `value` outside constant mode, a reflect pad not smaller than its dimension, a circular pad
///   larger than its dimension or a circular crop of the whole dimension, an empty dimension in
///   reflect/replicate mode, or a result with a negative (constant, circular) or empty (reflect,
///   replicate) dimension.
public func pad(_ input: Tensor, _ pads: [Int], mode: PadMode = .constant, value: Float = 0) throws -> Tensor {
    let op = "pad", shape = input.shape, rank = input.rank
    try require(input.dtype == .float32, op, "input must be float32, got \(input.dtype)")
    try require(pads.count % 2 == 0, op, "padding length must be divisible by 2, got \(pads.count) pads")
    try require(pads.allSatisfy { abs($0) <= Int(Int32.max) }, op, "pads \(pads) are too large")
    try require(mode == .constant || value == 0, op,
                "padding mode \(mode) does not take a value (got \(value)); only constant mode fills with one")
    let pairs = pads.count / 2
    func pair(_ k: Int) -> (before: Int, after: Int) { (pads[2 * k], pads[2 * k + 1]) }
    func describe(_ k: Int) -> String { "(\(pads[2 * k]), \(pads[2 * k + 1]))" }

    if mode == .constant {
        try require(pairs <= rank, op,
                    "\(pads.count) pads cover \(pairs) dimensions but input \(shape) has only \(rank)")
        for k in 0..<pairs {
            let dim = rank - 1 - k, (before, after) = pair(k)
            try require(shape[dim] + before + after >= 0, op,
                        "padding \(describe(k)) makes dimension \(dim) of input \(shape) negative (size \(shape[dim] + before + after))")
        }
        var result = input
        var k = 0
        while k < pairs {
            // The last two dimensions in one step; every further pair as a step of its own,
            // with the dimensions after it flattened into the "width".
            let current = result.shape
            let dim = rank - 1 - k
            var geometry: PadGeometry
            if k == 0 {
                let (left, right) = pair(0)
                let (top, bottom) = pairs > 1 ? pair(1) : (0, 0)
                let height = pairs > 1 ? current[rank - 2] : 1
                let leading = pairs > 1 ? rank - 2 : rank - 1
                geometry = PadGeometry(planes: current[..<leading].reduce(1, *), inputHeight: height,
                                       inputWidth: current[rank - 1], top: top, bottom: bottom,
                                       left: left, right: right, mode: .constant, value: value)
                k += min(pairs, 2)
            } else {
                let (before, after) = pair(k)
                geometry = PadGeometry(planes: current[..<dim].reduce(1, *), inputHeight: current[dim],
                                       inputWidth: current[(dim + 1)...].reduce(1, *), top: before, bottom: after,
                                       left: 0, right: 0, mode: .constant, value: value)
                k += 1
            }
            var outShape = current
            for j in 0..<k { outShape[rank - 1 - j] = shape[rank - 1 - j] + pads[2 * j] + pads[2 * j + 1] }
            result = try padStep(result, outputShape: outShape, geometry: geometry)
        }
        return pairs == 0 ? try padStep(input, outputShape: shape,
                                        geometry: PadGeometry(planes: 1, inputHeight: 1, inputWidth: input.count,
                                                              top: 0, bottom: 0, left: 0, right: 0, mode: .constant))
                          : result
    }

    try require(pairs == 1 || pairs == 2, op,
                "\(mode) padding covers the last 1 or 2 dimensions ([left, right] or [left, right, top, bottom]), got \(pads.count) pads")
    try require(rank == pairs + 1 || rank == pairs + 2, op,
                "\(mode) padding with \(pads.count) pads needs a \(pairs + 1)-D or \(pairs + 2)-D input, got shape \(shape)")
    if mode != .circular {
        let firstChecked = rank == pairs + 2 ? 1 : 0
        try require(shape[firstChecked...].allSatisfy { $0 > 0 }, op,
                    "\(mode) padding needs non-empty dimensions (a batch dimension may be 0), got input \(shape)")
    }
    for k in 0..<pairs {
        let dim = rank - 1 - k, size = shape[dim], (before, after) = pair(k)
        let outSize = size + before + after
        switch mode {
        case .reflect:
            try require(before < size && after < size, op,
                        "reflect padding \(describe(k)) must be less than the size \(size) of dimension \(dim) of input \(shape)")
            try require(outSize >= 1, op, "padding \(describe(k)) leaves dimension \(dim) of input \(shape) with size \(outSize); it must be at least 1")
        case .replicate:
            try require(outSize >= 1, op, "padding \(describe(k)) leaves dimension \(dim) of input \(shape) with size \(outSize); it must be at least 1")
        case .circular:
            try require(before <= size && after <= size, op,
                        "circular padding \(describe(k)) must not exceed the size \(size) of dimension \(dim) of input \(shape) (it would wrap around more than once)")
            try require(outSize >= 0, op, "padding \(describe(k)) makes dimension \(dim) of input \(shape) negative (size \(outSize))")
            // Negative pads crop first; what is left is then repeated periodically (as PyTorch
            // does where its result is defined), so something must be left.
            let kept = size - max(-before, 0) - max(-after, 0)
            try require(kept > 0 || outSize == 0, op,
                        "circular padding \(describe(k)) crops away all \(size) cells of dimension \(dim) of input \(shape), leaving nothing to wrap around")
        case .constant:
            break
        }
    }
    let (left, right) = pair(0)
    let (top, bottom) = pairs == 2 ? pair(1) : (0, 0)
    let height = pairs == 2 ? shape[rank - 2] : 1
    let geometry = PadGeometry(planes: shape[..<(rank - pairs)].reduce(1, *), inputHeight: height,
                               inputWidth: shape[rank - 1], top: top, bottom: bottom, left: left, right: right,
                               mode: mode, value: value)
    var outShape = shape
    outShape[rank - 1] = geometry.outputWidth
    if pairs == 2 { outShape[rank - 2] = geometry.outputHeight }
    return try padStep(input, outputShape: outShape, geometry: geometry)
}

/// One validated padding of (at most) two dimensions, recorded for autograd.
private func padStep(_ input: Tensor, outputShape: [Int], geometry: PadGeometry) throws -> Tensor {
    let kernels = try backend(for: input.device)
    let output = try Tensor.empty(outputShape, on: input.device)
    try kernels.pad2d(input.storage, output: output.storage, geometry: geometry)
    let inputShape = input.shape, device = input.device
    return try Autograd.record(output, op: "pad", inputs: [input]) { grad in
        let gradInput = try Tensor.empty(inputShape, on: device)
        try backend(for: device).pad2dBackward(grad.storage, gradInput: gradInput.storage, geometry: geometry)
        return [gradInput]
    }
}
