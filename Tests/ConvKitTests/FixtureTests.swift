import Foundation
import XCTest
@testable import ConvKit

/// Replays the cases that `scripts/make_fixtures.py` recorded with PyTorch: same inputs, same
/// upstream gradient; ConvKit's output and input gradients must match PyTorch's.
final class FixtureTests: XCTestCase {
    /// A fixture file: tensors by key `<case>/<name>` and each case's arguments (JSON).
    struct Fixture {
        var tensors: [String: Tensor]
        var arguments: [String: [String: Any]]

        init(_ name: String) throws {
            let file = try SafeTensors.readContents(from: fixturesDirectory.appendingPathComponent("\(name).safetensors"))
            tensors = file.tensors
            arguments = [:]
            for (key, value) in file.metadata {
                arguments[key] = try JSONSerialization.jsonObject(with: Data(value.utf8)) as? [String: Any]
            }
        }

        var cases: [String] { arguments.keys.sorted() }

        func tensor(_ caseName: String, _ name: String) throws -> Tensor {
            guard let t = tensors["\(caseName)/\(name)"] else { throw ConvKitError.invalidArgument(op: "fixture", message: "missing \(caseName)/\(name)") }
            return t
        }

        func optionalTensor(_ caseName: String, _ name: String) -> Tensor? { tensors["\(caseName)/\(name)"] }

        /// A fresh leaf that requires a gradient, holding the fixture's values.
        func leaf(_ caseName: String, _ name: String) throws -> Tensor {
            let t = try tensor(caseName, name)
            return try Tensor(t.toArray(), shape: t.shape, requiresGrad: true)
        }
    }

    /// Runs backward with the fixture's `gy`, then compares output and the named gradients.
    func check(_ fixture: Fixture, _ caseName: String, output: Tensor, leaves: [String: Tensor],
               tolerance: Double = 1e-5, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try fixture.tensor(caseName, "y")
        XCTAssertEqual(output.shape, expected.shape, "\(caseName): output shape", file: file, line: line)
        guard output.shape == expected.shape else { return }
        assertClose(try output.toArray(), try expected.toArray().map(Double.init), tolerance: tolerance, "\(caseName) output", file: file, line: line)
        try output.backward(gradient: fixture.tensor(caseName, "gy"))
        for (name, leaf) in leaves {
            let expectedGrad = try fixture.tensor(caseName, "g_\(name)")
            guard let grad = leaf.grad else { XCTFail("\(caseName): no gradient for \(name)", file: file, line: line); continue }
            assertClose(try grad.toArray(), try expectedGrad.toArray().map(Double.init), tolerance: tolerance, "\(caseName) grad \(name)", file: file, line: line)
        }
    }

    static func size2d(_ value: Any?) -> Size2d {
        if let list = value as? [Int] { return Size2d(list[0], list[1]) }
        return Size2d(value as? Int ?? 0)
    }

    func testConv2dMatchesPyTorch() throws {
        let fixture = try Fixture("conv2d")
        XCTAssertEqual(fixture.cases.count, 11)
        for caseName in fixture.cases {
            let args = fixture.arguments[caseName]!
            let padding: Padding2d
            switch args["padding"] {
            case let s as String: padding = s == "same" ? .same : .valid
            case let v: padding = .explicit(Self.size2d(v))
            }
            let mode = PaddingMode(rawValue: args["padding_mode"] as? String ?? "zeros")!
            for algorithm in ConvAlgorithm.allCases where algorithm != .depthwise {
                let x = try fixture.leaf(caseName, "x"), w = try fixture.leaf(caseName, "weight"), b = try fixture.leaf(caseName, "bias")
                let y = try conv2d(x, w, bias: b, stride: Self.size2d(args["stride"]), padding: padding,
                                   dilation: Self.size2d(args["dilation"]), groups: args["groups"] as! Int,
                                   paddingMode: mode, algorithm: algorithm)
                try check(fixture, "\(caseName)", output: y, leaves: ["x": x, "weight": w, "bias": b])
            }
        }
    }

    func testConvTranspose2dMatchesPyTorch() throws {
        let fixture = try Fixture("conv_transpose2d")
        XCTAssertEqual(fixture.cases.count, 4)
        for caseName in fixture.cases {
            let args = fixture.arguments[caseName]!
            let x = try fixture.leaf(caseName, "x"), w = try fixture.leaf(caseName, "weight"), b = try fixture.leaf(caseName, "bias")
            let y = try convTranspose2d(x, w, bias: b, stride: Self.size2d(args["stride"]), padding: Self.size2d(args["padding"]),
                                        outputPadding: Self.size2d(args["output_padding"]), groups: args["groups"] as! Int,
                                        dilation: Self.size2d(args["dilation"]))
            try check(fixture, caseName, output: y, leaves: ["x": x, "weight": w, "bias": b])
        }
    }

    func testPadAndPoolingMatchPyTorch() throws {
        let fixture = try Fixture("pad_pool")
        XCTAssertEqual(fixture.cases.count, 26)
        for caseName in fixture.cases {
            let args = fixture.arguments[caseName]!
            let x = try fixture.leaf(caseName, "x")
            let y: Tensor
            if caseName.hasPrefix("pad") {
                let mode: PadMode = ["constant": .constant, "reflect": .reflect, "replicate": .replicate, "circular": .circular][args["mode"] as! String]!
                y = try pad(x, args["pads"] as! [Int], mode: mode, value: mode == .constant ? Float(args["value"] as! Double) : 0)
            } else if caseName.hasPrefix("maxpool") {
                let result = try maxPool2dWithIndices(x, kernelSize: Self.size2d(args["kernel"]), stride: Self.size2d(args["stride"]),
                                                      padding: Self.size2d(args["padding"]), dilation: Self.size2d(args["dilation"]),
                                                      ceilMode: args["ceil_mode"] as! Bool)
                XCTAssertEqual(try result.indices.toIntArray(), try fixture.tensor(caseName, "indices").toIntArray(), caseName)
                y = result.output
            } else if caseName.hasPrefix("avgpool") {
                y = try avgPool2d(x, kernelSize: Self.size2d(args["kernel"]), stride: Self.size2d(args["stride"]),
                                  padding: Self.size2d(args["padding"]), ceilMode: args["ceil_mode"] as! Bool,
                                  countIncludePad: args["count_include_pad"] as! Bool, divisorOverride: args["divisor_override"] as? Int)
            } else if caseName.hasPrefix("adaptive") {
                y = try adaptiveAvgPool2d(x, outputSize: Self.size2d(args["output_size"]))
            } else if caseName.hasPrefix("unpool") {
                y = try maxUnpool2d(x, indices: try fixture.tensor(caseName, "indices_in"), kernelSize: Self.size2d(args["kernel"]),
                                    stride: Self.size2d(args["stride"]), padding: Self.size2d(args["padding"]),
                                    outputSize: args["output_size"] as? [Int])
            } else {
                XCTFail("unknown fixture case \(caseName)"); continue
            }
            try check(fixture, caseName, output: y, leaves: ["x": x])
        }
    }

    func testNNOpsMatchPyTorch() throws {
        let fixture = try Fixture("nn")
        XCTAssertEqual(fixture.cases.count, 40)
        for caseName in fixture.cases {
            let args = fixture.arguments[caseName]!
            if caseName.hasPrefix("linear") {
                let x = try fixture.leaf(caseName, "x"), w = try fixture.leaf(caseName, "weight")
                let b = fixture.optionalTensor(caseName, "bias") != nil ? try fixture.leaf(caseName, "bias") : nil
                var leaves = ["x": x, "weight": w]
                if let b { leaves["bias"] = b }
                try check(fixture, caseName, output: try linear(x, w, bias: b), leaves: leaves)
            } else if caseName.hasPrefix("relu") {
                let x = try fixture.leaf(caseName, "x")
                try check(fixture, caseName, output: try relu(x), leaves: ["x": x])
            } else if caseName.hasPrefix("lrn") {
                let x = try fixture.leaf(caseName, "x")
                let y = try localResponseNorm(x, size: args["size"] as! Int, alpha: Float(args["alpha"] as! Double),
                                              beta: Float(args["beta"] as! Double), k: Float(args["k"] as! Double))
                try check(fixture, caseName, output: y, leaves: ["x": x])
            } else if caseName.hasPrefix("softmax") || caseName.hasPrefix("logsoftmax") {
                let x = try fixture.leaf(caseName, "x")
                let dim = args["dim"] as! Int
                let y = caseName.hasPrefix("softmax") ? try softmax(x, dim: dim) : try logSoftmax(x, dim: dim)
                try check(fixture, caseName, output: y, leaves: ["x": x])
            } else if caseName.hasPrefix("ce") {
                let logits = try fixture.leaf(caseName, "logits")
                let target = try fixture.tensor(caseName, "target")
                let weight = fixture.optionalTensor(caseName, "class_weight")
                let reduction: Reduction = ["mean": .mean, "sum": .sum, "none": .none][args["reduction"] as! String]!
                let y = try crossEntropy(logits, target, weight: weight, ignoreIndex: args["ignore_index"] as! Int,
                                         reduction: reduction, labelSmoothing: Float(args["label_smoothing"] as! Double))
                try check(fixture, caseName, output: y, leaves: ["logits": logits])
            } else {
                XCTFail("unknown fixture case \(caseName)")
            }
        }
    }
}
