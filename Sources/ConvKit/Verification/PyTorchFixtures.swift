import Foundation

/// Replays the cases that `scripts/make_fixtures.py` recorded with PyTorch
/// (`Tests/ConvKitTests/Fixtures/*.safetensors`) on any device: the same inputs and upstream
/// gradient; ConvKit's output, input gradients (and max-pool indices) must match PyTorch's.
///
/// The tests replay them on the CPU (`FixtureTests`); `convkit verify --fixtures DIR` replays
/// them on a GPU, so the CUDA kernels are pinned to PyTorch's semantics directly, not only
/// through the CPU.
public enum PyTorchFixtures {
    /// The fixture files replayed, without the `.safetensors` extension.
    public static let files = ["conv2d", "conv_transpose2d", "pad_pool", "nn"]

    /// One fixture file: tensors by key `<case>/<name>` and each case's arguments (JSON metadata).
    struct Fixture {
        var name: String
        var tensors: [String: Tensor]
        var arguments: [String: [String: Any]]

        init(_ name: String, directory: URL) throws {
            self.name = name
            let url = directory.appendingPathComponent("\(name).safetensors")
            let file = try SafeTensors.readContents(from: url)
            tensors = file.tensors
            arguments = [:]
            for (key, value) in file.metadata {
                guard let object = try? JSONSerialization.jsonObject(with: Data(value.utf8)) as? [String: Any] else {
                    throw ConvKitError.corruptFile(path: url.path, message: "case \(key): arguments are not a JSON object")
                }
                arguments[key] = object
            }
        }

        var cases: [String] { arguments.keys.sorted() }

        func tensor(_ caseName: String, _ name: String, on device: Device = .cpu) throws -> Tensor {
            guard let t = tensors["\(caseName)/\(name)"] else {
                throw ConvKitError.invalidArgument(op: "fixture", message: "\(self.name): missing \(caseName)/\(name)")
            }
            return try t.to(device)
        }

        func optionalTensor(_ caseName: String, _ name: String, on device: Device) throws -> Tensor? {
            try tensors["\(caseName)/\(name)"].map { try $0.to(device) }
        }

        /// A fresh leaf on `device` that requires a gradient, holding the fixture's values.
        func leaf(_ caseName: String, _ name: String, on device: Device) throws -> Tensor {
            let t = try tensor(caseName, name)
            return try Tensor(t.toArray(), shape: t.shape, on: device, requiresGrad: true)
        }
    }

    /// Replays every case of every file in `files` on `device`; one result per case (and per
    /// convolution algorithm for conv2d), named `fixture:<file>` (`fixture:conv2d[im2colGEMM]`).
    /// - Throws: `ConvKitError` when a file is missing or unreadable.
    public static func replay(directory: URL, on device: Device, tolerance: Double = 1e-5) throws -> [DeviceCheckResult] {
        var results: [DeviceCheckResult] = []
        for name in files {
            let fixture = try Fixture(name, directory: directory)
            for caseName in fixture.cases {
                for (label, run) in try runs(fixture, caseName, device) {
                    results.append(check(op: "fixture:\(name)\(label)", label: caseName, tolerance: tolerance) {
                        try run()
                    })
                }
            }
        }
        return results
    }

    /// What one run returns: pairs of (ConvKit's result, PyTorch's result) to compare.
    private typealias Run = () throws -> [(Tensor, Tensor)]

    private static func check(op: String, label: String, tolerance: Double, _ body: Run) -> DeviceCheckResult {
        let start = Date()
        let (worst, failure): (Double, String?)
        do {
            (worst, failure) = DeviceVerification.compareAll(try body().map { ours, theirs in (theirs, ours) },
                                                             tolerance: tolerance)
        } catch {
            (worst, failure) = (.infinity, "\(error)")
        }
        return DeviceCheckResult(op: op, label: label, worstError: worst, tolerance: tolerance, failure: failure,
                                 seconds: Date().timeIntervalSince(start))
    }

    /// Runs backward with the case's `gy` and pairs the output and each leaf's gradient with PyTorch's.
    private static func compared(_ fixture: Fixture, _ caseName: String, output: Tensor,
                                 leaves: [(String, Tensor)], extra: [(Tensor, Tensor)] = []) throws -> [(Tensor, Tensor)] {
        var pairs = [(output, try fixture.tensor(caseName, "y"))] + extra
        try output.backward(gradient: fixture.tensor(caseName, "gy", on: output.device))
        for (name, leaf) in leaves {
            guard let grad = leaf.grad else {
                throw ConvKitError.autograd(message: "\(caseName): no gradient for \(name)")
            }
            pairs.append((grad, try fixture.tensor(caseName, "g_\(name)")))
        }
        return pairs
    }

    static func size2d(_ value: Any?) -> Size2d {
        if let list = value as? [Int], list.count == 2 { return Size2d(list[0], list[1]) }
        return Size2d(value as? Int ?? 0)
    }

    private static func int(_ args: [String: Any], _ key: String) throws -> Int {
        guard let value = args[key] as? Int else {
            throw ConvKitError.invalidArgument(op: "fixture", message: "argument \(key) is missing or not an integer")
        }
        return value
    }

    private static func float(_ args: [String: Any], _ key: String) throws -> Float {
        guard let value = args[key] as? Double else {
            throw ConvKitError.invalidArgument(op: "fixture", message: "argument \(key) is missing or not a number")
        }
        return Float(value)
    }

    /// The runs of one case: `(label suffix, run)`.
    private static func runs(_ f: Fixture, _ c: String, _ device: Device) throws -> [(String, Run)] {
        let args = f.arguments[c] ?? [:]
        switch f.name {
        case "conv2d":
            let padding: Padding2d
            switch args["padding"] {
            case let s as String: padding = s == "same" ? .same : .valid
            case let v: padding = .explicit(size2d(v))
            }
            let mode = PaddingMode(rawValue: args["padding_mode"] as? String ?? "zeros") ?? .zeros
            return ConvAlgorithm.allCases.filter(\.runsEveryGeometry).map { algorithm in
                ("[\(algorithm.rawValue)]", {
                    let x = try f.leaf(c, "x", on: device), w = try f.leaf(c, "weight", on: device), b = try f.leaf(c, "bias", on: device)
                    let y = try conv2d(x, w, bias: b, stride: size2d(args["stride"]), padding: padding,
                                       dilation: size2d(args["dilation"]), groups: try int(args, "groups"),
                                       paddingMode: mode, algorithm: algorithm)
                    return try compared(f, c, output: y, leaves: [("x", x), ("weight", w), ("bias", b)])
                })
            }
        case "conv_transpose2d":
            return [("", {
                let x = try f.leaf(c, "x", on: device), w = try f.leaf(c, "weight", on: device), b = try f.leaf(c, "bias", on: device)
                let y = try convTranspose2d(x, w, bias: b, stride: size2d(args["stride"]), padding: size2d(args["padding"]),
                                            outputPadding: size2d(args["output_padding"]), groups: try int(args, "groups"),
                                            dilation: size2d(args["dilation"]))
                return try compared(f, c, output: y, leaves: [("x", x), ("weight", w), ("bias", b)])
            })]
        case "pad_pool":
            return [("", { try padPoolRun(f, c, args, device) })]
        case "nn":
            return [("", { try nnRun(f, c, args, device) })]
        default:
            throw ConvKitError.invalidArgument(op: "fixture", message: "no replay for fixture file \(f.name)")
        }
    }

    private static func padPoolRun(_ f: Fixture, _ c: String, _ args: [String: Any], _ device: Device) throws -> [(Tensor, Tensor)] {
        let x = try f.leaf(c, "x", on: device)
        if c.hasPrefix("pad") {
            let modes: [String: PadMode] = ["constant": .constant, "reflect": .reflect, "replicate": .replicate, "circular": .circular]
            guard let mode = modes[args["mode"] as? String ?? ""], let pads = args["pads"] as? [Int] else {
                throw ConvKitError.invalidArgument(op: "fixture", message: "\(c): bad pad arguments")
            }
            let y = try pad(x, pads, mode: mode, value: mode == .constant ? try float(args, "value") : 0)
            return try compared(f, c, output: y, leaves: [("x", x)])
        }
        if c.hasPrefix("maxpool") {
            let result = try maxPool2dWithIndices(x, kernelSize: size2d(args["kernel"]), stride: size2d(args["stride"]),
                                                  padding: size2d(args["padding"]), dilation: size2d(args["dilation"]),
                                                  ceilMode: args["ceil_mode"] as? Bool ?? false)
            return try compared(f, c, output: result.output, leaves: [("x", x)],
                                extra: [(result.indices, try f.tensor(c, "indices"))])
        }
        let y: Tensor
        if c.hasPrefix("avgpool") {
            y = try avgPool2d(x, kernelSize: size2d(args["kernel"]), stride: size2d(args["stride"]),
                              padding: size2d(args["padding"]), ceilMode: args["ceil_mode"] as? Bool ?? false,
                              countIncludePad: args["count_include_pad"] as? Bool ?? true, divisorOverride: args["divisor_override"] as? Int)
        } else if c.hasPrefix("adaptive") {
            y = try adaptiveAvgPool2d(x, outputSize: size2d(args["output_size"]))
        } else if c.hasPrefix("unpool") {
            y = try maxUnpool2d(x, indices: try f.tensor(c, "indices_in", on: device), kernelSize: size2d(args["kernel"]),
                                stride: size2d(args["stride"]), padding: size2d(args["padding"]),
                                outputSize: args["output_size"] as? [Int])
        } else {
            throw ConvKitError.invalidArgument(op: "fixture", message: "unknown pad_pool case \(c)")
        }
        return try compared(f, c, output: y, leaves: [("x", x)])
    }

    private static func nnRun(_ f: Fixture, _ c: String, _ args: [String: Any], _ device: Device) throws -> [(Tensor, Tensor)] {
        if c.hasPrefix("linear") {
            let x = try f.leaf(c, "x", on: device), w = try f.leaf(c, "weight", on: device)
            let b = try f.optionalTensor(c, "bias", on: .cpu) != nil ? try f.leaf(c, "bias", on: device) : nil
            var leaves = [("x", x), ("weight", w)]
            if let b { leaves.append(("bias", b)) }
            return try compared(f, c, output: try linear(x, w, bias: b), leaves: leaves)
        }
        if c.hasPrefix("ce") {
            let logits = try f.leaf(c, "logits", on: device)
            let reductions: [String: Reduction] = ["mean": .mean, "sum": .sum, "none": .none]
            guard let reduction = reductions[args["reduction"] as? String ?? ""] else {
                throw ConvKitError.invalidArgument(op: "fixture", message: "\(c): bad reduction")
            }
            let y = try crossEntropy(logits, try f.tensor(c, "target", on: device), weight: try f.optionalTensor(c, "class_weight", on: device),
                                     ignoreIndex: try int(args, "ignore_index"), reduction: reduction,
                                     labelSmoothing: try float(args, "label_smoothing"))
            return try compared(f, c, output: y, leaves: [("logits", logits)])
        }
        let x = try f.leaf(c, "x", on: device)
        let y: Tensor
        if c.hasPrefix("relu") {
            y = try relu(x)
        } else if c.hasPrefix("lrn") {
            y = try localResponseNorm(x, size: try int(args, "size"), alpha: try float(args, "alpha"),
                                      beta: try float(args, "beta"), k: try float(args, "k"))
        } else if c.hasPrefix("softmax") {
            y = try softmax(x, dim: try int(args, "dim"))
        } else if c.hasPrefix("logsoftmax") {
            y = try logSoftmax(x, dim: try int(args, "dim"))
        } else {
            throw ConvKitError.invalidArgument(op: "fixture", message: "unknown nn case \(c)")
        }
        return try compared(f, c, output: y, leaves: [("x", x)])
    }
}
