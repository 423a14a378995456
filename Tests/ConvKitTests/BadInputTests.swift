import Foundation
import XCTest
@testable import ConvKit

/// The bad-input battery of the public API: every op, module, model, optimizer, schedule, data
/// loader and file reader fed wrong ranks, wrong channel counts, empty and negative sizes, bad
/// arguments, out-of-range indices and dims, and tensors on another device. Each case must end in
/// a thrown `ConvKitError` whose message holds the case's key words; none may trap (a trap would
/// end the whole test process, and the last `BadInput:` line printed names the case). NaN and
/// infinite inputs must not throw or trap, and give IEEE/PyTorch results (checked value by value).
final class BadInputTests: XCTestCase {
    /// A case that must throw a `ConvKitError` whose description contains every word (case-insensitively).
    struct ErrorCase {
        let name: String
        let words: [String]
        let body: () throws -> Void
    }

    /// A case that must not throw and whose check must hold (NaN/inf semantics, empty batches).
    struct ValueCase {
        let name: String
        let check: () throws -> Bool
    }

    // MARK: Helpers

    static func zeros(_ shape: [Int]) throws -> Tensor { try Tensor.zeros(shape) }
    static func random(_ shape: [Int], seed: UInt64 = 1) throws -> Tensor {
        var g = Philox(seed: seed)
        return try Tensor.normal(shape, generator: &g)
    }
    static func labels(_ values: [Int32]) throws -> Tensor { try Tensor(indices: values) }

    /// A CUDA tensor where a GPU is usable; else the error of asking for one (which must say
    /// CUDA is not available). `use` runs the two-device call and must throw naming the mismatch.
    static func deviceCase(_ name: String, _ mismatchWords: [String], shape: [Int] = [1, 1, 4, 4],
                           _ use: @escaping (Tensor) throws -> Void) -> ErrorCase {
        ErrorCase(name: name + " (other device)", words: []) {
            let gpu: Tensor
            do { gpu = try Tensor.zeros(shape, on: .cuda) } catch let error as ConvKitError {
                guard error.description.contains("not available") else { throw error }
                throw error  // no GPU here: the error of asking for one is what can be checked
            }
            do { try use(gpu) } catch let error as ConvKitError {
                let text = error.description.lowercased()
                for word in mismatchWords where !text.contains(word.lowercased()) {
                    XCTFail("\(name): '\(word)' not in: \(error)")
                }
                throw error
            }
        }
    }

    /// A temporary directory for the file cases.
    static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("convkit-badinput-\(UUID().uuidString)", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// A FIFO (named pipe) in `scratch`, which a reader that does not check the file type would wait on forever.
    static let fifo: String = {
        let path = scratch.appendingPathComponent("pipe").path
        _ = mkfifo(path, 0o644)
        return path
    }()

    override class func tearDown() {
        try? FileManager.default.removeItem(at: scratch)
        super.tearDown()
    }

    // MARK: The table

    static func errorCases() -> [ErrorCase] {
        var cases: [ErrorCase] = []
        func add(_ name: String, _ words: [String], _ body: @escaping () throws -> Void) {
            cases.append(ErrorCase(name: name, words: words, body: body))
        }
        let x = { try zeros([2, 3, 8, 8]) }

        // Tensor creation and reading
        add("Tensor values do not fill shape", ["cannot fill"]) { _ = try Tensor([1, 2, 3], shape: [2, 2]) }
        add("Tensor negative dimension", ["negative dimension"]) { _ = try Tensor([], shape: [-1]) }
        add("zeros negative dimension", ["negative dimension"]) { _ = try Tensor.zeros([2, -3]) }
        add("zeros overflowing shape", ["too large"]) { _ = try Tensor.zeros([Int.max, 2]) }
        add("zeros too many elements", ["too large"]) { _ = try Tensor.zeros([1 << 20, 1 << 20, 1 << 20]) }
        add("ones negative dimension", ["negative"]) { _ = try Tensor.ones([-1]) }
        add("full negative dimension", ["negative"]) { _ = try Tensor.full([3, -1], 2) }
        add("indices do not fill shape", ["cannot fill"]) { _ = try Tensor(indices: [1], shape: [2]) }
        add("indices negative shape", ["negative"]) { _ = try Tensor(indices: [], shape: [0, -1]) }
        add("arange step 0", ["step", "non-zero"]) { _ = try Tensor.arange(0, 5, step: 0) }
        add("arange NaN end", ["finite"]) { _ = try Tensor.arange(0, .nan) }
        add("arange infinite end", ["finite"]) { _ = try Tensor.arange(0, .infinity) }
        add("uniform low > high", ["must not exceed"]) { _ = try Tensor.uniform([2], low: 1, high: 0) }
        add("uniform negative shape", ["negative"]) { _ = try Tensor.uniform([-2]) }
        add("normal negative std", ["std", "non-negative"]) { _ = try Tensor.normal([2], std: -1) }
        add("normal negative shape", ["negative"]) { _ = try Tensor.normal([-2]) }
        add("toArray of int32", ["toIntArray"]) { _ = try labels([1]).toArray() }
        add("toIntArray of float", ["toArray"]) { _ = try zeros([1]).toIntArray() }
        add("item of 2 elements", ["item", "expected 1"]) { _ = try zeros([2]).item() }
        add("item of 0 elements", ["item", "0 elements"]) { _ = try zeros([0]).item() }
        add("size dim past rank", ["size", "dimension out of range"]) { _ = try zeros([2, 3]).size(2) }
        add("size dim before -rank", ["size", "dimension out of range"]) { _ = try zeros([2, 3]).size(-3) }
        add("size of a scalar", ["size", "no dimensions"]) { _ = try Tensor(scalar: 1).size(0) }
        add("to cuda:1000", ["cuda:1000", "not available"]) { _ = try zeros([2]).to(.cuda(1000)) }
        add("to cuda:-1", ["cuda:-1", "not available"]) { _ = try zeros([2]).to(.cuda(-1)) }
        add("zeros on cuda:1000", ["not available"]) { _ = try Tensor.zeros([2], on: .cuda(1000)) }
        add("Tensor values on cuda:1000", ["not available"]) { _ = try Tensor([1], on: .cuda(1000)) }

        // Layout
        add("reshape two -1", ["only one dimension can be inferred"]) { _ = try zeros([6]).reshape([-1, -1]) }
        add("reshape dimension -2", ["invalid shape dimension -2"]) { _ = try zeros([6]).reshape([-2, -3]) }
        add("reshape wrong count", ["invalid for input of size 6"]) { _ = try zeros([6]).reshape([5]) }
        add("reshape 0 and -1", ["ambiguous"]) { _ = try zeros([0]).reshape([0, -1]) }
        add("flatten startDim past rank", ["flatten", "dimension out of range"]) { _ = try zeros([2, 3]).flatten(startDim: 5) }
        add("flatten endDim before -rank", ["flatten", "dimension out of range"]) { _ = try zeros([2, 3]).flatten(endDim: -3) }
        add("flatten start after end", ["cannot come after"]) { _ = try zeros([2, 3, 4]).flatten(startDim: 2, endDim: 1) }
        add("permute too few dims", ["permute", "doesn't match"]) { _ = try zeros([2, 3]).permute([0]) }
        add("permute repeated dim", ["repeated"]) { _ = try zeros([2, 3]).permute([0, 0]) }
        add("permute dim out of range", ["permute", "out of range"]) { _ = try zeros([2, 3]).permute([0, 2]) }
        add("transpose dim out of range", ["transpose", "out of range"]) { _ = try zeros([2, 3]).transpose(0, 2) }
        add("transpose negative dim out of range", ["transpose", "out of range"]) { _ = try zeros([2, 3]).transpose(-3, 0) }
        add("slice dim out of range", ["slice", "out of range"]) { _ = try zeros([2, 3]).slice(dim: 2) }
        add("slice step 0", ["step must be positive"]) { _ = try zeros([4]).slice(dim: 0, step: 0) }
        add("slice negative step", ["step must be positive"]) { _ = try zeros([4]).slice(dim: 0, step: -1) }
        add("slice of a scalar", ["0-dimensional"]) { _ = try Tensor(scalar: 1).slice(dim: 0) }
        add("cat of nothing", ["non-empty"]) { _ = try cat([]) }
        add("cat mismatched sizes", ["sizes of tensors must match"]) { _ = try cat([zeros([2, 3]), zeros([2, 4])], dim: 0) }
        add("cat mismatched ranks", ["same number of dimensions"]) { _ = try cat([zeros([2, 3]), zeros([2, 3, 1])]) }
        add("cat dim out of range", ["cat", "out of range"]) { _ = try cat([zeros([2]), zeros([2])], dim: 1) }
        add("cat int32 with float", ["int32", "float32"]) { _ = try cat([zeros([2]), labels([1, 2])]) }
        add("cat scalars", ["zero-dimensional"]) { _ = try cat([Tensor(scalar: 1), Tensor(scalar: 2)]) }

        // Reductions
        add("sum dim out of range", ["sum", "out of range"]) { _ = try zeros([2, 3]).sum(dims: [2]) }
        add("sum repeated dim", ["multiple times"]) { _ = try zeros([2, 3]).sum(dims: [0, -2]) }
        add("sum of int32", ["sum", "float32"]) { _ = try labels([1]).sum() }
        add("mean dim out of range", ["mean", "out of range"]) { _ = try zeros([2, 3]).mean(dims: [-3]) }
        add("mean of int32", ["mean", "float32"]) { _ = try labels([1]).mean() }
        add("maxValues dim out of range", ["max", "out of range"]) { _ = try zeros([2, 3]).maxValues(dim: 2) }
        add("max over an empty dim", ["non-zero size"]) { _ = try zeros([2, 0]).maxWithIndices(dim: 1) }
        add("max of int32", ["max", "float32"]) { _ = try labels([1]).maxValues(dim: 0) }
        add("argmax dim out of range", ["argmax", "out of range"]) { _ = try zeros([2, 3]).argmax(dim: 5) }
        add("argmax of an empty tensor", ["non-zero size"]) { _ = try zeros([0]).argmax() }
        add("argmax of int32", ["argmax", "float32"]) { _ = try labels([1]).argmax() }

        // Elementwise and matmul
        add("add shapes that do not broadcast", ["cannot be broadcast"]) { _ = try zeros([2, 3]) + zeros([4]) }
        add("sub shapes that do not broadcast", ["cannot be broadcast"]) { _ = try zeros([2, 3]) - zeros([2, 2]) }
        add("mul int32 operand", ["float32"]) { _ = try zeros([2]) * labels([1, 2]) }
        add("div shapes that do not broadcast", ["cannot be broadcast"]) { _ = try zeros([3]) / zeros([2]) }
        add("scalar add to int32", ["float32"]) { _ = try labels([1]) + 1 }
        add("exp of int32", ["float32"]) { _ = try labels([1]).exp() }
        add("log of int32", ["float32"]) { _ = try labels([1]).log() }
        add("sqrt of int32", ["float32"]) { _ = try labels([1]).sqrt() }
        add("abs of int32", ["float32"]) { _ = try labels([1]).abs() }
        add("pow of int32", ["float32"]) { _ = try labels([1]).pow(2) }
        add("maximum shapes that do not broadcast", ["cannot be broadcast"]) { _ = try maximum(zeros([2]), zeros([3])) }
        add("matmul inner sizes differ", ["cannot be multiplied"]) { _ = try matmul(zeros([2, 3]), zeros([4, 5])) }
        add("matmul vector sizes differ", ["cannot be multiplied"]) { _ = try matmul(zeros([3]), zeros([4])) }
        add("matmul of a scalar", ["at least 1 dimension"]) { _ = try matmul(Tensor(scalar: 1), zeros([1])) }
        add("matmul batch dims do not broadcast", ["cannot be broadcast"]) { _ = try matmul(zeros([2, 2, 3]), zeros([3, 3, 4])) }
        add("matmul int32", ["float32"]) { _ = try matmul(labels([1]), zeros([1])) }

        // Autograd
        add("backward without requiresGrad", ["does not require grad"]) { try zeros([1]).backward() }
        add("backward of a non-scalar", ["one-element"]) {
            let w = try Tensor.ones([3], requiresGrad: true)
            try (w * 2).backward()
        }
        add("backward gradient of wrong shape", ["gradient shape"]) {
            let w = try Tensor.ones([3], requiresGrad: true)
            try (w * 2).backward(gradient: zeros([2]))
        }

        // conv2d
        add("conv2d 2-D input", ["conv2d", "3-D (unbatched) or 4-D"]) { _ = try conv2d(zeros([8, 8]), zeros([1, 1, 3, 3])) }
        add("conv2d 5-D input", ["conv2d", "4-D"]) { _ = try conv2d(zeros([1, 1, 1, 8, 8]), zeros([1, 1, 3, 3])) }
        add("conv2d 3-D weight", ["weight must be 4-D"]) { _ = try conv2d(x(), zeros([4, 3, 3])) }
        add("conv2d wrong channel count", ["input has 3 channels but weight expects 4"]) { _ = try conv2d(x(), zeros([2, 4, 3, 3])) }
        add("conv2d groups 0", ["groups must be at least 1"]) { _ = try conv2d(x(), zeros([3, 3, 3, 3]), groups: 0) }
        add("conv2d groups negative", ["groups must be at least 1"]) { _ = try conv2d(x(), zeros([3, 3, 3, 3]), groups: -1) }
        add("conv2d groups not dividing out channels", ["not divisible by groups 2"]) {
            _ = try conv2d(zeros([1, 4, 8, 8]), zeros([3, 2, 3, 3]), groups: 2)
        }
        add("conv2d groups not dividing in channels", ["input has 3 channels", "groups 2"]) {
            _ = try conv2d(x(), zeros([4, 1, 3, 3]), groups: 2)
        }
        add("conv2d stride 0", ["stride must be at least 1"]) { _ = try conv2d(x(), zeros([2, 3, 3, 3]), stride: 0) }
        add("conv2d stride negative", ["stride must be at least 1"]) { _ = try conv2d(x(), zeros([2, 3, 3, 3]), stride: -2) }
        add("conv2d stride (1, 0)", ["stride must be at least 1"]) { _ = try conv2d(x(), zeros([2, 3, 3, 3]), stride: Size2d(1, 0)) }
        add("conv2d dilation 0", ["dilation must be at least 1"]) { _ = try conv2d(x(), zeros([2, 3, 3, 3]), dilation: 0) }
        add("conv2d padding negative", ["padding must be non-negative"]) { _ = try conv2d(x(), zeros([2, 3, 3, 3]), padding: -1) }
        add("conv2d padding same with stride 2", ["same", "strided"]) { _ = try conv2d(x(), zeros([2, 3, 3, 3]), stride: 2, padding: .same) }
        add("conv2d kernel larger than input", ["smaller than the dilated kernel"]) { _ = try conv2d(x(), zeros([2, 3, 9, 9])) }
        add("conv2d dilated kernel larger than input", ["smaller than the dilated kernel"]) {
            _ = try conv2d(x(), zeros([2, 3, 3, 3]), dilation: 4)
        }
        add("conv2d zero-sized kernel", ["kernel size must be at least 1"]) { _ = try conv2d(x(), zeros([2, 3, 0, 3])) }
        add("conv2d zero input channels", ["at least 1 channel"]) { _ = try conv2d(zeros([1, 0, 8, 8]), zeros([2, 0, 3, 3])) }
        add("conv2d zero output channels", ["at least 1 output channel"]) { _ = try conv2d(x(), zeros([0, 3, 3, 3])) }
        add("conv2d zero-height input", ["padded input size"]) { _ = try conv2d(zeros([1, 3, 0, 8]), zeros([2, 3, 3, 3])) }
        add("conv2d bias of wrong shape", ["bias must have shape [2]"]) { _ = try conv2d(x(), zeros([2, 3, 3, 3]), bias: zeros([3])) }
        add("conv2d int32 bias", ["bias must be float32"]) { _ = try conv2d(x(), zeros([2, 3, 3, 3]), bias: labels([1, 2])) }
        add("conv2d int32 input", ["input must be float32"]) { _ = try conv2d(Tensor(indices: [Int32](repeating: 0, count: 64), shape: [1, 1, 8, 8]), zeros([1, 1, 3, 3])) }
        add("conv2d int32 weight", ["weight must be float32"]) { _ = try conv2d(zeros([1, 1, 8, 8]), Tensor(indices: [Int32](repeating: 0, count: 9), shape: [1, 1, 3, 3])) }
        add("conv2d reflect padding >= size", ["reflect", "smaller than the input size"]) {
            _ = try conv2d(zeros([1, 1, 2, 2]), zeros([1, 1, 3, 3]), padding: 2, paddingMode: .reflect)
        }
        add("conv2d circular padding > size", ["circular", "must not exceed"]) {
            _ = try conv2d(zeros([1, 1, 2, 2]), zeros([1, 1, 3, 3]), padding: 3, paddingMode: .circular)
        }
        add("conv2d depthwise algorithm with groups 1", ["depthwise", "groups"]) {
            _ = try conv2d(x(), zeros([2, 3, 3, 3]), algorithm: .depthwise)
        }
        add("conv2d winograd algorithm with a 7×7 kernel", ["winograd", "3×3 and 5×5", "kernel 7×7"]) {
            _ = try conv2d(x(), zeros([2, 3, 7, 7]), padding: 3, algorithm: .winograd)
        }
        add("conv2d winograd algorithm with stride 2", ["winograd", "stride (2, 2)"]) {
            _ = try conv2d(x(), zeros([2, 3, 3, 3]), stride: 2, algorithm: .winograd)
        }
        add("conv2d fft algorithm with stride 2", ["fft", "stride (2, 2)"]) {
            _ = try conv2d(x(), zeros([2, 3, 3, 3]), stride: 2, algorithm: .fft)
        }
        add("conv2d fft algorithm with a 17×17 kernel", ["fft", "at most 16 × 16", "kernel 17×17"]) {
            _ = try conv2d(zeros([1, 3, 40, 40]), zeros([2, 3, 17, 17]), algorithm: .fft)
        }
        add("conv2d huge stride", ["stride", "too large"]) { _ = try conv2d(x(), zeros([2, 3, 3, 3]), stride: Size2d(1 << 40)) }
        add("conv2d huge padding", ["padding", "too large"]) { _ = try conv2d(x(), zeros([2, 3, 3, 3]), padding: .explicit(Size2d(Int.max))) }
        add("conv2d huge dilation", ["dilation", "too large"]) { _ = try conv2d(x(), zeros([2, 3, 3, 3]), dilation: Size2d(Int.max)) }
        for algorithm in ConvAlgorithm.allCases where algorithm != .depthwise {
            add("conv2d \(algorithm) wrong channel count", ["input has 3 channels"]) {
                _ = try conv2d(x(), zeros([2, 4, 3, 3]), algorithm: algorithm)
            }
        }
        cases.append(deviceCase("conv2d weight", ["weight is on"]) { gpu in _ = try conv2d(zeros([1, 1, 8, 8]), gpu) })
        cases.append(deviceCase("conv2d bias", ["bias is on"], shape: [1]) { gpu in _ = try conv2d(zeros([1, 1, 8, 8]), zeros([1, 1, 3, 3]), bias: gpu) })

        // convTranspose2d
        add("convTranspose2d 2-D input", ["convTranspose2d", "3-D (unbatched) or 4-D"]) { _ = try convTranspose2d(zeros([4, 4]), zeros([1, 1, 3, 3])) }
        add("convTranspose2d 3-D weight", ["weight must be 4-D"]) { _ = try convTranspose2d(x(), zeros([3, 1, 3])) }
        add("convTranspose2d wrong channel count", ["input has 3 channels but weight expects 4"]) { _ = try convTranspose2d(x(), zeros([4, 1, 3, 3])) }
        add("convTranspose2d groups 0", ["groups must be at least 1"]) { _ = try convTranspose2d(x(), zeros([3, 1, 3, 3]), groups: 0) }
        add("convTranspose2d groups not dividing", ["not divisible by groups 2"]) { _ = try convTranspose2d(x(), zeros([3, 1, 3, 3]), groups: 2) }
        add("convTranspose2d stride 0", ["stride must be at least 1"]) { _ = try convTranspose2d(x(), zeros([3, 1, 3, 3]), stride: 0) }
        add("convTranspose2d dilation 0", ["dilation must be at least 1"]) { _ = try convTranspose2d(x(), zeros([3, 1, 3, 3]), dilation: 0) }
        add("convTranspose2d padding negative", ["padding must be non-negative"]) { _ = try convTranspose2d(x(), zeros([3, 1, 3, 3]), padding: -1) }
        add("convTranspose2d outputPadding negative", ["outputPadding must be non-negative"]) {
            _ = try convTranspose2d(x(), zeros([3, 1, 3, 3]), outputPadding: -1)
        }
        add("convTranspose2d outputPadding >= stride and dilation", ["outputPadding", "smaller than either stride"]) {
            _ = try convTranspose2d(x(), zeros([3, 1, 3, 3]), stride: 2, outputPadding: 2)
        }
        add("convTranspose2d output too small", ["too small"]) { _ = try convTranspose2d(zeros([1, 3, 1, 1]), zeros([3, 1, 1, 1]), padding: 1) }
        add("convTranspose2d empty input", ["at least 1 x 1"]) { _ = try convTranspose2d(zeros([1, 3, 0, 4]), zeros([3, 1, 3, 3])) }
        add("convTranspose2d zero-sized kernel", ["kernel size must be at least 1"]) { _ = try convTranspose2d(x(), zeros([3, 1, 0, 3])) }
        add("convTranspose2d bias of wrong shape", ["bias must have shape [1]"]) { _ = try convTranspose2d(x(), zeros([3, 1, 3, 3]), bias: zeros([3])) }
        add("convTranspose2d huge stride", ["too large"]) { _ = try convTranspose2d(x(), zeros([3, 1, 3, 3]), stride: Size2d(Int.max)) }
        cases.append(deviceCase("convTranspose2d weight", ["weight is on"]) { gpu in _ = try convTranspose2d(zeros([1, 1, 4, 4]), gpu) })

        // pooling
        for (name, pool) in [("maxPool2d", { (t: Tensor, k: Size2d, s: Size2d?, p: Size2d) in _ = try maxPool2d(t, kernelSize: k, stride: s, padding: p) }),
                             ("maxPool2dWithIndices", { (t: Tensor, k: Size2d, s: Size2d?, p: Size2d) in _ = try maxPool2dWithIndices(t, kernelSize: k, stride: s, padding: p) }),
                             ("avgPool2d", { (t: Tensor, k: Size2d, s: Size2d?, p: Size2d) in _ = try avgPool2d(t, kernelSize: k, stride: s, padding: p) })] {
            add("\(name) 2-D input", [name, "3-D (CHW) or 4-D"]) { try pool(zeros([8, 8]), 2, nil, 0) }
            add("\(name) 5-D input", [name, "4-D"]) { try pool(zeros([1, 1, 1, 8, 8]), 2, nil, 0) }
            add("\(name) kernel 0", [name, "kernelSize must be positive"]) { try pool(x(), 0, nil, 0) }
            add("\(name) kernel negative", [name, "kernelSize must be positive"]) { try pool(x(), -2, nil, 0) }
            add("\(name) kernel (2, 0)", [name, "kernelSize must be positive"]) { try pool(x(), Size2d(2, 0), 1, 0) }
            add("\(name) stride 0", [name, "stride must be positive"]) { try pool(x(), 2, 0, 0) }
            add("\(name) stride negative", [name, "stride must be positive"]) { try pool(x(), 2, -1, 0) }
            add("\(name) padding negative", [name, "padding must be non-negative"]) { try pool(x(), 2, nil, -1) }
            add("\(name) padding above half the kernel", [name, "at most half of kernelSize"]) { try pool(x(), 3, nil, 2) }
            add("\(name) empty channels", [name, "empty dimension"]) { try pool(zeros([1, 0, 8, 8]), 2, nil, 0) }
            add("\(name) empty height", [name, "empty dimension"]) { try pool(zeros([1, 1, 0, 8]), 2, nil, 0) }
            add("\(name) kernel larger than input", [name, "output size would be"]) { try pool(x(), 9, nil, 0) }
            add("\(name) int32 input", [name, "float32"]) { try pool(Tensor(indices: [Int32](repeating: 0, count: 16), shape: [1, 4, 4]), 2, nil, 0) }
            add("\(name) huge kernel", [name, "at most"]) { try pool(x(), Size2d(Int.max), 1, 0) }
        }
        add("maxPool2d dilation 0", ["dilation must be positive"]) { _ = try maxPool2d(x(), kernelSize: 2, dilation: 0) }
        add("maxPool2d dilation negative", ["dilation must be positive"]) { _ = try maxPool2d(x(), kernelSize: 2, dilation: -1) }
        add("avgPool2d divisorOverride 0", ["divisorOverride must not be zero"]) { _ = try avgPool2d(x(), kernelSize: 2, divisorOverride: 0) }
        add("adaptiveAvgPool2d 2-D input", ["adaptiveAvgPool2d", "4-D"]) { _ = try adaptiveAvgPool2d(zeros([8, 8]), outputSize: 2) }
        add("adaptiveAvgPool2d negative size", ["outputSize must be non-negative"]) { _ = try adaptiveAvgPool2d(x(), outputSize: -1) }
        add("adaptiveAvgPool2d empty width", ["empty dimension"]) { _ = try adaptiveAvgPool2d(zeros([1, 1, 4, 0]), outputSize: 2) }
        add("adaptiveAvgPool2d int32 input", ["float32"]) { _ = try adaptiveAvgPool2d(Tensor(indices: [0], shape: [1, 1, 1]), outputSize: 1) }

        // maxUnpool2d: indices and sizes
        let unpoolInput = { try zeros([1, 1, 2, 2]) }
        func unpool(_ indices: [Int32], kernel: Size2d = 2, stride: Size2d? = nil, padding: Size2d = 0, outputSize: [Int]? = nil) throws {
            _ = try maxUnpool2d(unpoolInput(), indices: Tensor(indices: indices, shape: [1, 1, 2, 2]), kernelSize: kernel,
                                stride: stride, padding: padding, outputSize: outputSize)
        }
        add("maxUnpool2d index past the plane", ["maxUnpool2d", "index 16", "outside the output plane"]) { try unpool([0, 1, 2, 16]) }
        add("maxUnpool2d huge index", ["maxUnpool2d", "outside the output plane"]) { try unpool([0, 1, 2, Int32.max]) }
        add("maxUnpool2d negative index", ["maxUnpool2d", "index -1", "outside the output plane"]) { try unpool([-1, 1, 2, 3]) }
        add("maxUnpool2d Int32.min index", ["maxUnpool2d", "outside the output plane"]) { try unpool([0, Int32.min, 2, 3]) }
        add("maxUnpool2d index past a smaller outputSize", ["outside the output plane"]) { try unpool([0, 1, 2, 15], outputSize: [3, 3]) }
        add("maxUnpool2d float indices", ["indices must be int32"]) {
            _ = try maxUnpool2d(unpoolInput(), indices: zeros([1, 1, 2, 2]), kernelSize: 2)
        }
        add("maxUnpool2d indices of another shape", ["indices shape", "must match input shape"]) {
            _ = try maxUnpool2d(unpoolInput(), indices: Tensor(indices: [0, 1], shape: [1, 1, 1, 2]), kernelSize: 2)
        }
        add("maxUnpool2d kernel 0", ["kernelSize must be positive"]) { try unpool([0, 1, 2, 3], kernel: 0) }
        add("maxUnpool2d stride 0", ["stride must be positive"]) { try unpool([0, 1, 2, 3], stride: 0) }
        add("maxUnpool2d padding negative", ["padding must be non-negative"]) { try unpool([0, 1, 2, 3], padding: -1) }
        add("maxUnpool2d outputSize of 3 elements", ["outputSize must have 2"]) { try unpool([0, 1, 2, 3], outputSize: [1, 4, 4]) }
        add("maxUnpool2d outputSize out of range", ["strictly between"]) { try unpool([0, 1, 2, 3], outputSize: [9, 9]) }
        add("maxUnpool2d negative outputSize", ["strictly between"]) { try unpool([0, 1, 2, 3], outputSize: [-4, 4]) }
        add("maxUnpool2d huge outputSize", ["too large"]) { try unpool([0, 1, 2, 3], outputSize: [Int.max, 4]) }
        add("maxUnpool2d 2-D input", ["maxUnpool2d", "4-D"]) {
            _ = try maxUnpool2d(zeros([2, 2]), indices: Tensor(indices: [0, 1, 2, 3], shape: [2, 2]), kernelSize: 2)
        }
        add("maxUnpool2d empty output", ["output size would be"]) { try unpool([0, 0, 0, 0], kernel: 1, padding: 1) }
        cases.append(deviceCase("maxUnpool2d indices", ["indices are on"], shape: [1, 1, 2, 2]) { gpu in
            _ = try maxUnpool2d(unpoolInput(), indices: gpu, kernelSize: 2)
        })

        // pad
        add("pad odd number of pads", ["divisible by 2"]) { _ = try pad(x(), [1]) }
        add("pad more pairs than dimensions", ["cover 3 dimensions", "only 2"]) { _ = try pad(zeros([2, 2]), [1, 1, 1, 1, 1, 1]) }
        add("pad value with reflect", ["does not take a value"]) { _ = try pad(x(), [1, 1], mode: .reflect, value: 1) }
        add("pad reflect >= size", ["reflect padding", "must be less than"]) { _ = try pad(zeros([1, 1, 2, 2]), [2, 0, 0, 0], mode: .reflect) }
        add("pad reflect 2 pads on 4-D", ["reflect padding with 2 pads needs a 2-D or 3-D input"]) { _ = try pad(zeros([1, 1, 2, 2]), [1, 0], mode: .reflect) }
        add("pad circular > size", ["circular padding", "must not exceed"]) { _ = try pad(zeros([1, 1, 2, 2]), [3, 0, 0, 0], mode: .circular) }
        add("pad constant negative result", ["negative"]) { _ = try pad(zeros([2, 2]), [-2, -1]) }
        add("pad replicate empty result", ["must be at least 1"]) { _ = try pad(zeros([1, 2, 2]), [-1, -1], mode: .replicate) }
        add("pad replicate empty input", ["non-empty dimensions"]) { _ = try pad(zeros([1, 0, 2]), [1, 1], mode: .replicate) }
        add("pad reflect 5-D input", ["reflect padding", "4-D input"]) { _ = try pad(zeros([1, 1, 1, 2, 2]), [1, 1, 1, 1], mode: .reflect) }
        add("pad reflect 3 pairs", ["last 1 or 2 dimensions"]) { _ = try pad(x(), [1, 1, 1, 1, 1, 1], mode: .reflect) }
        add("pad huge", ["too large"]) { _ = try pad(x(), [Int.max, 0]) }
        add("pad int32 input", ["float32"]) { _ = try pad(labels([1, 2]), [1, 1]) }
        add("pad circular crops everything", ["crops away all"]) { _ = try pad(zeros([1, 2, 2]), [-2, 1], mode: .circular) }

        // crossEntropy
        let logits = { try random([4, 10]) }
        add("crossEntropy target 10 of 10 classes", ["target 10 is out of bounds for 10 classes"]) { _ = try crossEntropy(logits(), labels([1, 2, 10, 3])) }
        add("crossEntropy negative target", ["target -1 is out of bounds"]) { _ = try crossEntropy(logits(), labels([1, -1, 2, 3])) }
        add("crossEntropy huge target", ["out of bounds"]) { _ = try crossEntropy(logits(), labels([Int32.max, 0, 0, 0])) }
        add("crossEntropy -100 with another ignoreIndex", ["target -100 is out of bounds"]) {
            _ = try crossEntropy(logits(), labels([-100, 0, 0, 0]), ignoreIndex: 3)
        }
        add("crossEntropy target of wrong shape", ["target has shape [3]"]) { _ = try crossEntropy(logits(), labels([1, 2, 3])) }
        add("crossEntropy 2-D index target", ["target has shape"]) { _ = try crossEntropy(logits(), Tensor(indices: [1, 2, 3, 4], shape: [4, 1])) }
        add("crossEntropy scalar logits", ["at least 1 dimension"]) { _ = try crossEntropy(Tensor(scalar: 1), labels([0])) }
        add("crossEntropy no classes", ["no classes"]) { _ = try crossEntropy(zeros([4, 0]), labels([0, 0, 0, 0])) }
        add("crossEntropy labelSmoothing negative", ["labelSmoothing must be between 0 and 1"]) { _ = try crossEntropy(logits(), labels([0, 0, 0, 0]), labelSmoothing: -0.1) }
        add("crossEntropy labelSmoothing above 1", ["labelSmoothing must be between 0 and 1"]) { _ = try crossEntropy(logits(), labels([0, 0, 0, 0]), labelSmoothing: 1.5) }
        add("crossEntropy labelSmoothing NaN", ["labelSmoothing"]) { _ = try crossEntropy(logits(), labels([0, 0, 0, 0]), labelSmoothing: .nan) }
        add("crossEntropy weight of wrong shape", ["weight has shape [3]"]) { _ = try crossEntropy(logits(), labels([0, 0, 0, 0]), weight: zeros([3])) }
        add("crossEntropy int32 weight", ["weight must be float32"]) { _ = try crossEntropy(logits(), labels([0, 0, 0, 0]), weight: labels([1])) }
        add("crossEntropy int32 logits", ["logits must be float32"]) { _ = try crossEntropy(labels([1, 2]), labels([0])) }
        add("crossEntropy probability target of wrong shape", ["probabilities", "must match logits"]) { _ = try crossEntropy(logits(), zeros([4, 9])) }
        add("crossEntropy unbatched target out of range", ["target 5 is out of bounds for 5 classes"]) {
            _ = try crossEntropy(random([5]), Tensor(indices: [5], shape: []))
        }
        add("crossEntropy spatial target out of range", ["out of bounds for 3 classes"]) {
            _ = try crossEntropy(random([1, 3, 2, 2]), Tensor(indices: [0, 1, 2, 3], shape: [1, 2, 2]))
        }
        cases.append(deviceCase("crossEntropy target", ["target is on"], shape: [4]) { gpu in _ = try crossEntropy(logits(), gpu) })
        cases.append(deviceCase("crossEntropy weight", ["weight is on"], shape: [10]) { gpu in _ = try crossEntropy(logits(), labels([0, 0, 0, 0]), weight: gpu) })

        // softmax, linear, activations, LRN, batch norm
        add("softmax dim past rank", ["softmax", "out of range"]) { _ = try softmax(zeros([2, 3]), dim: 2) }
        add("softmax dim before -rank", ["softmax", "out of range"]) { _ = try softmax(zeros([2, 3]), dim: -3) }
        add("softmax int32", ["float32"]) { _ = try softmax(labels([1]), dim: 0) }
        add("logSoftmax dim out of range", ["logSoftmax", "out of range"]) { _ = try logSoftmax(zeros([2, 3]), dim: 5) }
        add("linear scalar input", ["at least 1 dimension"]) { _ = try linear(Tensor(scalar: 1), zeros([1, 1])) }
        add("linear 3-D weight", ["weight must be 2-D"]) { _ = try linear(zeros([2, 4]), zeros([1, 3, 4])) }
        add("linear features differ", ["input has 5 features but weight expects 4"]) { _ = try linear(zeros([2, 5]), zeros([3, 4])) }
        add("linear bias of wrong shape", ["bias has shape [4]"]) { _ = try linear(zeros([2, 4]), zeros([3, 4]), bias: zeros([4])) }
        add("linear int32 input", ["input must be float32"]) { _ = try linear(labels([1]), zeros([1, 1])) }
        cases.append(deviceCase("linear weight", ["weight is on"], shape: [3, 4]) { gpu in _ = try linear(zeros([2, 4]), gpu) })
        cases.append(deviceCase("add", ["same device"], shape: [2]) { gpu in _ = try zeros([2]) + gpu })
        cases.append(deviceCase("matmul", ["same device"], shape: [2, 2]) { gpu in _ = try matmul(zeros([2, 2]), gpu) })
        cases.append(deviceCase("cat", ["same device"], shape: [2]) { gpu in _ = try cat([zeros([2]), gpu]) })
        add("relu int32", ["float32"]) { _ = try relu(labels([1])) }
        add("dropout p negative", ["between 0 and 1"]) { _ = try dropout(zeros([2]), p: -0.1) }
        add("dropout p above 1", ["between 0 and 1"]) { _ = try dropout(zeros([2]), p: 1.1) }
        add("dropout p NaN", ["between 0 and 1"]) { _ = try dropout(zeros([2]), p: .nan) }
        add("dropout int32", ["float32"]) { _ = try dropout(labels([1])) }
        add("localResponseNorm 2-D input", ["3 or more dimensions"]) { _ = try localResponseNorm(zeros([2, 3]), size: 2) }
        add("localResponseNorm size 0", ["size must be at least 1"]) { _ = try localResponseNorm(x(), size: 0) }
        add("localResponseNorm size negative", ["size must be at least 1"]) { _ = try localResponseNorm(x(), size: -3) }
        add("localResponseNorm int32", ["float32"]) { _ = try localResponseNorm(Tensor(indices: [0], shape: [1, 1, 1]), size: 1) }
        add("batchNorm2d 1-D input", ["at least 2 dimensions"]) { _ = try batchNorm2d(zeros([3]), runningMean: nil, runningVar: nil, training: true) }
        add("batchNorm2d running mean of wrong shape", ["runningMean"]) { _ = try batchNorm2d(x(), runningMean: zeros([4]), runningVar: zeros([3])) }
        add("batchNorm2d mean without var", ["given together"]) { _ = try batchNorm2d(x(), runningMean: zeros([3]), runningVar: nil, training: true) }
        add("batchNorm2d eval without statistics", ["evaluation mode"]) { _ = try batchNorm2d(x(), runningMean: nil, runningVar: nil, training: false) }
        add("batchNorm2d eps negative", ["eps must be non-negative"]) { _ = try batchNorm2d(x(), runningMean: nil, runningVar: nil, training: true, eps: -1) }
        add("batchNorm2d momentum NaN", ["momentum must be finite"]) { _ = try batchNorm2d(x(), runningMean: nil, runningVar: nil, training: true, momentum: .nan) }
        add("batchNorm2d training with one value per channel", ["more than 1 value per channel"]) {
            _ = try batchNorm2d(zeros([1, 3, 1, 1]), runningMean: nil, runningVar: nil, training: true)
        }
        add("batchNorm2d weight of wrong shape", ["weight"]) { _ = try batchNorm2d(x(), runningMean: nil, runningVar: nil, weight: zeros([2]), training: true) }
        add("batchNorm2d int32", ["float32"]) { _ = try batchNorm2d(Tensor(indices: [0, 0], shape: [2, 1]), runningMean: nil, runningVar: nil, training: true) }

        // Modules
        add("Conv2d inChannels 0", ["Conv2d", "must be positive"]) { _ = try Conv2d(inChannels: 0, outChannels: 2, kernelSize: 3) }
        add("Conv2d outChannels negative", ["Conv2d", "must be positive"]) { _ = try Conv2d(inChannels: 1, outChannels: -2, kernelSize: 3) }
        add("Conv2d groups 0", ["groups must be a positive integer"]) { _ = try Conv2d(inChannels: 2, outChannels: 2, kernelSize: 3, groups: 0) }
        add("Conv2d groups not dividing inChannels", ["inChannels (3) must be divisible by groups (2)"]) { _ = try Conv2d(inChannels: 3, outChannels: 2, kernelSize: 3, groups: 2) }
        add("Conv2d groups not dividing outChannels", ["outChannels (3) must be divisible by groups (2)"]) { _ = try Conv2d(inChannels: 2, outChannels: 3, kernelSize: 3, groups: 2) }
        add("Conv2d kernel 0", ["kernelSize must be positive"]) { _ = try Conv2d(inChannels: 1, outChannels: 1, kernelSize: 0) }
        add("Conv2d stride 0", ["stride must be positive"]) { _ = try Conv2d(inChannels: 1, outChannels: 1, kernelSize: 3, stride: 0) }
        add("Conv2d dilation 0", ["dilation must be positive"]) { _ = try Conv2d(inChannels: 1, outChannels: 1, kernelSize: 3, dilation: 0) }
        add("Conv2d padding negative", ["padding must be non-negative"]) { _ = try Conv2d(inChannels: 1, outChannels: 1, kernelSize: 3, padding: -1) }
        add("Conv2d same with stride 2", ["same", "strided"]) { _ = try Conv2d(inChannels: 1, outChannels: 1, kernelSize: 3, stride: 2, padding: .same) }
        add("Conv2d forward wrong channels", ["input has 3 channels but weight expects 1"]) { _ = try Conv2d(inChannels: 1, outChannels: 2, kernelSize: 3)(x()) }
        add("Conv2d forward 2-D input", ["3-D (unbatched) or 4-D"]) { _ = try Conv2d(inChannels: 1, outChannels: 2, kernelSize: 3)(zeros([8, 8])) }
        add("ConvTranspose2d inChannels 0", ["ConvTranspose2d", "must be positive"]) { _ = try ConvTranspose2d(inChannels: 0, outChannels: 1, kernelSize: 2) }
        add("ConvTranspose2d outputPadding >= stride", ["ConvTranspose2d", "outputPadding"]) { _ = try ConvTranspose2d(inChannels: 1, outChannels: 1, kernelSize: 2, stride: 2, outputPadding: 2) }
        add("ConvTranspose2d outputSize out of range", ["valid sizes range from"]) {
            _ = try ConvTranspose2d(inChannels: 3, outChannels: 1, kernelSize: 2, stride: 2)(x(), outputSize: [40, 40])
        }
        add("ConvTranspose2d outputSize too short", ["outputSize must end with [h, w]"]) {
            _ = try ConvTranspose2d(inChannels: 3, outChannels: 1, kernelSize: 2)(x(), outputSize: [4])
        }
        add("Linear negative features", ["Linear"]) { _ = try Linear(inFeatures: -1, outFeatures: 2) }
        add("Linear forward wrong features", ["input has 3 features but weight expects 4"]) { _ = try Linear(inFeatures: 4, outFeatures: 2)(zeros([2, 3])) }
        add("BatchNorm2d numFeatures 0", ["numFeatures must be positive"]) { _ = try BatchNorm2d(numFeatures: 0) }
        add("BatchNorm2d eps negative", ["eps must be non-negative"]) { _ = try BatchNorm2d(numFeatures: 2, eps: -1) }
        add("BatchNorm2d forward 3-D", ["expected 4D input"]) { _ = try BatchNorm2d(numFeatures: 3)(zeros([3, 4, 4])) }
        add("BatchNorm2d forward wrong channels", ["BatchNorm2d", "3"]) { _ = try BatchNorm2d(numFeatures: 4)(x()) }
        add("Dropout p 2", ["between 0 and 1"]) { _ = try Dropout(p: 2) }
        add("LocalResponseNorm size 0", ["size must be positive"]) { _ = try LocalResponseNorm(size: 0) }
        add("MaxPool2d kernel 0", ["MaxPool2d", "kernelSize must be positive"]) { _ = try MaxPool2d(kernelSize: 0) }
        add("MaxPool2d stride negative", ["MaxPool2d", "stride must be positive"]) { _ = try MaxPool2d(kernelSize: 2, stride: -1) }
        add("MaxPool2d padding above half", ["MaxPool2d", "at most half of kernel size"]) { _ = try MaxPool2d(kernelSize: 2, padding: 2) }
        add("MaxPool2d dilation 0", ["MaxPool2d", "dilation must be positive"]) { _ = try MaxPool2d(kernelSize: 2, dilation: 0) }
        add("MaxPool2d forward 2-D", ["maxPool2d", "4-D"]) { _ = try MaxPool2d(kernelSize: 2)(zeros([4, 4])) }
        add("AvgPool2d kernel 0", ["AvgPool2d", "kernelSize must be positive"]) { _ = try AvgPool2d(kernelSize: 0) }
        add("AvgPool2d divisorOverride 0", ["AvgPool2d", "divisorOverride"]) { _ = try AvgPool2d(kernelSize: 2, divisorOverride: 0) }
        add("AdaptiveAvgPool2d negative", ["AdaptiveAvgPool2d", "non-negative"]) { _ = try AdaptiveAvgPool2d(outputSize: Size2d(2, -1)) }
        add("MaxUnpool2d kernel 0", ["MaxUnpool2d", "kernelSize must be positive"]) { _ = try MaxUnpool2d(kernelSize: 0) }
        add("MaxUnpool2d padding negative", ["MaxUnpool2d", "padding"]) { _ = try MaxUnpool2d(kernelSize: 2, padding: -1) }
        add("MaxUnpool2d forward without indices", ["needs the pooling indices"]) { _ = try MaxUnpool2d(kernelSize: 2)(zeros([1, 1, 2, 2])) }
        add("MaxUnpool2d index out of range", ["outside the output plane"]) {
            _ = try MaxUnpool2d(kernelSize: 2)(zeros([1, 1, 1, 1]), indices: Tensor(indices: [4], shape: [1, 1, 1, 1]))
        }
        add("Flatten dim out of range", ["flatten", "out of range"]) { _ = try Flatten(startDim: 5)(zeros([2, 3])) }
        add("Sequential index past the end", ["Sequential", "index 2 is out of range for 2 modules"]) { _ = try Sequential(Flatten(), Flatten())[2] }
        add("Sequential index before the start", ["Sequential", "index -3 is out of range"]) { _ = try Sequential(Flatten(), Flatten())[-3] }
        add("Sequential index into an empty chain", ["out of range for 0 modules"]) { _ = try Sequential()[0] }
        add("Module without forward", ["does not define forward"]) { _ = try Module()(zeros([1])) }
        add("loadStateDict missing key", ["missing keys", "weight"]) { try Linear(inFeatures: 2, outFeatures: 2).loadStateDict(["bias": zeros([2])]) }
        add("loadStateDict unexpected key", ["unexpected keys", "extra"]) {
            let l = try Linear(inFeatures: 2, outFeatures: 2)
            try l.loadStateDict(["weight": zeros([2, 2]), "bias": zeros([2]), "extra": zeros([1])])
        }
        add("loadStateDict wrong shape", ["weight has shape [3, 2]"]) { try Linear(inFeatures: 2, outFeatures: 2).loadStateDict(["weight": zeros([3, 2]), "bias": zeros([2])]) }
        add("loadStateDict wrong dtype", ["bias is int32"]) { try Linear(inFeatures: 2, outFeatures: 2).loadStateDict(["weight": zeros([2, 2]), "bias": labels([1, 2])]) }
        add("Module.to cuda:1000", ["not available"]) { try Linear(inFeatures: 2, outFeatures: 2).to(.cuda(1000)) }

        // Models
        add("LeNet5 classes 0", ["LeNet5", "classes must be positive"]) { _ = try LeNet5(classes: 0) }
        add("LeNet5 inputChannels 0", ["LeNet5", "inputChannels must be positive"]) { _ = try LeNet5(inputChannels: 0) }
        add("LeNet5 3-D input", ["LeNet5", "expected input of shape [N, 1, H, W]"]) { _ = try LeNet5()(zeros([1, 28, 28])) }
        add("LeNet5 3 channels", ["LeNet5", "expected 1 input channel"]) { _ = try LeNet5()(zeros([1, 3, 28, 28])) }
        add("LeNet5 32x32 input", ["LeNet5", "expected 28x28 images"]) { _ = try LeNet5()(zeros([1, 1, 32, 32])) }
        add("LeNet5 int32 input", ["LeNet5", "float32"]) { _ = try LeNet5()(Tensor(indices: [Int32](repeating: 0, count: 784), shape: [1, 1, 28, 28])) }
        add("AlexNet classes 0", ["AlexNet", "classes must be positive"]) { _ = try AlexNet.small(classes: 0) }
        add("AlexNet dropout 2", ["AlexNet", "between 0 and 1"]) { _ = try AlexNet.small(dropout: 2) }
        add("AlexNet widthMultiplier 0", ["AlexNet", "widthMultiplier must be positive"]) { _ = try AlexNet.small(widthMultiplier: 0) }
        add("AlexNet widthMultiplier NaN", ["AlexNet", "widthMultiplier"]) { _ = try AlexNet.small(widthMultiplier: .nan) }
        add("AlexNet empty input", ["AlexNet", "too small"]) { _ = try AlexNet.small()(zeros([1, 1, 0, 0])) }
        add("MobileNet empty input", ["MobileNet", "too small"]) { _ = try MobileNet()(zeros([1, 1, 0, 5])) }
        add("AlexNet wrong channels", ["AlexNet", "input channel"]) { _ = try AlexNet.small()(zeros([1, 2, 28, 28])) }
        add("MobileNet widthMultiplier 0", ["MobileNet", "widthMultiplier must be positive"]) { _ = try MobileNet(widthMultiplier: 0) }
        add("MobileNet widthMultiplier infinite", ["MobileNet", "widthMultiplier"]) { _ = try MobileNet(widthMultiplier: .infinity) }
        add("MobileNet classes negative", ["MobileNet", "classes must be positive"]) { _ = try MobileNet(classes: -1) }
        add("MobileNet dropout negative", ["MobileNet", "between 0 and 1"]) { _ = try MobileNet(dropout: -0.5) }
        add("MobileNet 2-D input", ["MobileNet", "expected input of shape"]) { _ = try MobileNet()(zeros([28, 28])) }
        add("ModelZoo unknown model", ["vgg"]) { _ = try ModelZoo.make(name: "vgg") }
        add("ModelZoo configuration of unknown model", ["resnet"]) { _ = try ModelZoo.configuration(name: "resnet") }

        // Optimizers and schedules
        let parameter = { try Tensor.ones([2, 2], requiresGrad: true) }
        add("SGD no parameters", ["empty parameter list"]) { _ = try SGD(parameters: [], learningRate: 0.1) }
        add("SGD negative lr", ["SGD", "learning rate"]) { _ = try SGD(parameters: [parameter()], learningRate: -0.1) }
        add("SGD NaN lr", ["SGD", "learning rate"]) { _ = try SGD(parameters: [parameter()], learningRate: .nan) }
        add("SGD negative momentum", ["SGD", "momentum"]) { _ = try SGD(parameters: [parameter()], learningRate: 0.1, momentum: -1) }
        add("SGD infinite weight decay", ["SGD", "weight"]) { _ = try SGD(parameters: [parameter()], learningRate: 0.1, weightDecay: .infinity) }
        add("SGD NaN dampening", ["dampening"]) { _ = try SGD(parameters: [parameter()], learningRate: 0.1, dampening: .nan) }
        add("SGD nesterov without momentum", ["SGD", "nesterov"]) { _ = try SGD(parameters: [parameter()], learningRate: 0.1, nesterov: true) }
        add("SGD non-leaf parameter", ["not a leaf tensor"]) { _ = try SGD(parameters: [parameter() * 2], learningRate: 0.1) }
        add("SGD repeated parameter", ["appears more than once"]) { let p = try parameter(); _ = try SGD(parameters: [p, p], learningRate: 0.1) }
        add("SGD int32 parameter", ["only float32 tensors can be optimized"]) { _ = try SGD(parameters: [labels([1])], learningRate: 0.1) }
        add("SGD step with a gradient of wrong shape", ["gradient", "shape"]) {
            let p = try parameter()
            p.grad = try zeros([3])
            try SGD(parameters: [p], learningRate: 0.1).step()
        }
        add("SGD loadStateDict unexpected keys", ["unexpected keys"]) { try SGD(parameters: [parameter()], learningRate: 0.1).loadStateDict(["nonsense": zeros([1])]) }
        add("Adam negative lr", ["Adam", "learning rate"]) { _ = try Adam(parameters: [parameter()], learningRate: -1) }
        add("Adam beta1 = 1", ["beta parameter at index 0"]) { _ = try Adam(parameters: [parameter()], betas: (1, 0.999)) }
        add("Adam beta2 negative", ["beta parameter at index 1"]) { _ = try Adam(parameters: [parameter()], betas: (0.9, -0.1)) }
        add("Adam beta NaN", ["beta parameter"]) { _ = try Adam(parameters: [parameter()], betas: (.nan, 0.9)) }
        add("Adam negative eps", ["Adam", "eps"]) { _ = try Adam(parameters: [parameter()], eps: -1) }
        add("AdamW NaN weight decay", ["AdamW", "weight"]) { _ = try AdamW(parameters: [parameter()], weightDecay: .nan) }
        add("Adam step with an int32 gradient", ["gradient", "float32"]) {
            let p = try parameter()
            p.grad = try Tensor(indices: [1, 2, 3, 4], shape: [2, 2])
            try Adam(parameters: [p]).step()
        }
        add("Adam loadStateDict unexpected keys", ["unexpected keys"]) { try Adam(parameters: [parameter()]).loadStateDict(["nonsense": zeros([1])]) }
        add("StepLR stepSize 0", ["stepSize must be at least 1"]) { _ = try StepLR(optimizer: SGD(parameters: [parameter()], learningRate: 0.1), stepSize: 0) }
        add("StepLR negative gamma", ["gamma"]) { _ = try StepLR(optimizer: SGD(parameters: [parameter()], learningRate: 0.1), stepSize: 1, gamma: -1) }
        add("StepLR NaN gamma", ["gamma"]) { _ = try StepLR(optimizer: SGD(parameters: [parameter()], learningRate: 0.1), stepSize: 1, gamma: .nan) }
        add("CosineAnnealingLR tMax 0", ["tMax must be at least 1"]) { _ = try CosineAnnealingLR(optimizer: SGD(parameters: [parameter()], learningRate: 0.1), tMax: 0) }
        add("CosineAnnealingLR negative etaMin", ["etaMin"]) { _ = try CosineAnnealingLR(optimizer: SGD(parameters: [parameter()], learningRate: 0.1), tMax: 3, etaMin: -1) }
        add("StepLR loadStateDict garbage", ["unexpected entries"]) {
            try StepLR(optimizer: SGD(parameters: [parameter()], learningRate: 0.1), stepSize: 1).loadStateDict(["nonsense": 1])
        }
        add("CosineAnnealingLR loadStateDict NaN", ["finite"]) {
            let schedule = try CosineAnnealingLR(optimizer: SGD(parameters: [parameter()], learningRate: 0.1), tMax: 3)
            var state = schedule.stateDict()
            for key in state.keys { state[key] = .nan }
            try schedule.loadStateDict(state)
        }

        // Data sets and loaders
        let dataset = { try TensorDataset(images: zeros([5, 1, 4, 4]), labels: labels([0, 1, 2, 3, 4])) }
        add("TensorDataset 3-D images", ["images must be [N, C, H, W]"]) { _ = try TensorDataset(images: zeros([5, 4, 4]), labels: labels([0, 1, 2, 3, 4])) }
        add("TensorDataset float labels", ["labels must be a 1-D int32 tensor"]) { _ = try TensorDataset(images: zeros([2, 1, 4, 4]), labels: zeros([2])) }
        add("TensorDataset count mismatch", ["5 images but 2 labels"]) { _ = try TensorDataset(images: zeros([5, 1, 4, 4]), labels: labels([0, 1])) }
        add("TensorDataset int32 images", ["images must be float32"]) { _ = try TensorDataset(images: Tensor(indices: [0], shape: [1, 1, 1, 1]), labels: labels([0])) }
        add("Dataset.sample -1", ["index -1 is out of range for 5 samples"]) { _ = try dataset().sample(-1) }
        add("Dataset.sample past the end", ["index 5 is out of range for 5 samples"]) { _ = try dataset().sample(5) }
        add("DataLoader batchSize 0", ["batchSize must be positive"]) { _ = try DataLoader(dataset: dataset(), batchSize: 0) }
        add("DataLoader batchSize negative", ["batchSize must be positive"]) { _ = try DataLoader(dataset: dataset(), batchSize: -4) }
        add("DataLoader empty samples", ["sample shape"]) {
            _ = try DataLoader(dataset: TensorDataset(images: zeros([2, 0, 4, 4]), labels: labels([0, 1])), batchSize: 1)
        }
        add("DataLoader 3 means for 1 channel", ["3 means for 1 channels"]) {
            _ = try DataLoader(dataset: dataset(), batchSize: 2, normalization: Normalization(mean: [0, 0, 0], std: [1]))
        }
        add("DataLoader std 0", ["std must be positive"]) { _ = try DataLoader(dataset: dataset(), batchSize: 2, normalization: Normalization(mean: [0], std: [0])) }
        add("DataLoader std NaN", ["std must be positive"]) { _ = try DataLoader(dataset: dataset(), batchSize: 2, normalization: Normalization(mean: [0], std: [.nan])) }
        add("DataLoader empty mean", ["must not be empty"]) { _ = try DataLoader(dataset: dataset(), batchSize: 2, normalization: Normalization(mean: [], std: [1])) }
        add("DataLoader negative crop padding", ["randomCropPadding must be >= 0"]) {
            _ = try DataLoader(dataset: dataset(), batchSize: 2, augmentation: Augmentation(randomCropPadding: -1))
        }
        add("DataLoader huge crop padding", ["randomCropPadding", "too large"]) {
            _ = try DataLoader(dataset: dataset(), batchSize: 2, augmentation: Augmentation(randomCropPadding: Int.max))
        }
        add("DataLoader.batch -1", ["batch -1 is out of range for 3 batches"]) { _ = try DataLoader(dataset: dataset(), batchSize: 2).batch(-1, epoch: 0) }
        add("DataLoader.batch past the end", ["batch 3 is out of range for 3 batches"]) { _ = try DataLoader(dataset: dataset(), batchSize: 2).batch(3, epoch: 0) }
        add("DataLoader on cuda:1000", ["not available"]) { _ = try DataLoader(dataset: dataset(), batchSize: 2, device: .cuda(1000)).batch(0, epoch: 0) }
        add("DataLoader epoch on cuda:1000", ["not available"]) {
            let batches = try DataLoader(dataset: dataset(), batchSize: 2, device: .cuda(1000)).epoch(0)
            _ = try batches.next()
        }
        add("MNIST missing directory", ["missing"]) { _ = try MNIST(directory: scratch.appendingPathComponent("nowhere"), split: .test) }

        // Files and formats
        let directory = scratch.path
        add("SafeTensors.read missing file", ["cannot open", "No such file"]) { _ = try SafeTensors.read(from: scratch.appendingPathComponent("missing.safetensors")) }
        add("SafeTensors.read directory", ["a directory"]) { _ = try SafeTensors.read(from: URL(fileURLWithPath: directory)) }
        add("SafeTensors.read FIFO", ["FIFO"]) { _ = try SafeTensors.read(from: URL(fileURLWithPath: fifo)) }
        add("SafeTensors.read /dev/zero", ["a device"]) { _ = try SafeTensors.read(from: URL(fileURLWithPath: "/dev/zero")) }
        add("Checkpoint.load FIFO", ["FIFO"]) { _ = try Checkpoint.load(from: URL(fileURLWithPath: fifo)) }
        add("Checkpoint.load /dev/null", ["a device"]) { _ = try Checkpoint.load(from: URL(fileURLWithPath: "/dev/null")) }
        add("Checkpoint.load directory", ["a directory"]) { _ = try Checkpoint.load(from: URL(fileURLWithPath: directory)) }
        add("Checkpoint.decode garbage", ["corrupt file"]) { _ = try Checkpoint.decode([1, 2, 3]) }
        add("Checkpoint.decode empty", ["corrupt file"]) { _ = try Checkpoint.decode([]) }
        add("SafeTensors.decode header past the end", ["corrupt file"]) { _ = try SafeTensors.decode([255, 255, 0, 0, 0, 0, 0, 0, 123]) }
        add("Checkpoint.apply to another model", ["lenet5"]) {
            let model = try LeNet5()
            let checkpoint = try Checkpoint(model: model, modelName: "lenet5")
            try checkpoint.apply(to: MobileNet(), modelName: "mobilenet")
        }
        add("IDX.decode garbage", ["corrupt file"]) { _ = try IDX.decode([0, 0, 8, 1, 0, 0, 0, 9, 1]) }
        add("IDX.encode wrong byte count", ["IDX"]) { _ = try IDX.encode(shape: [2, 2], bytes: [1]) }
        add("IDX.read FIFO", ["not a regular file"]) { _ = try IDX.read(contentsOf: URL(fileURLWithPath: fifo)) }
        add("IDX.read directory", ["a directory"]) { _ = try IDX.read(contentsOf: URL(fileURLWithPath: directory)) }
        add("Gzip.decompress garbage", ["corrupt file"]) { _ = try Gzip.decompress([0x1f, 0x8b, 8, 0, 1, 2, 3], maxOutputBytes: 100) }
        add("Gzip.readMaybeCompressed /dev/zero", ["a device"]) { _ = try Gzip.readMaybeCompressed(URL(fileURLWithPath: "/dev/zero"), maxBytes: 100) }
        add("MD5 of a FIFO", ["FIFO"]) { _ = try MD5.hex(ofFile: URL(fileURLWithPath: fifo)) }
        add("PNG.decode garbage", ["corrupt file"]) { _ = try PNG.decode(PNG.signature + [0, 0, 0, 13]) }
        add("PGM.decode zero size", ["PGM", "at least 1"]) { _ = try PGM.decode(Array("P5 0 0 255\n".utf8)) }
        add("decodeImage empty", ["empty"]) { _ = try decodeImage([]) }
        add("loadImage directory", ["directory"]) { _ = try loadImage(directory) }
        add("loadImage FIFO", ["not a regular file"]) { _ = try loadImage(fifo) }
        add("loadImage missing", ["does not exist"]) { _ = try loadImage(directory + "/missing.png") }
        add("PNG.write into a missing directory", ["cannot write"]) { try PNG.write(GrayImage(width: 1, height: 1, pixels: [0]), to: directory + "/no/such/dir/x.png") }
        add("SafeTensors.write into a missing directory", ["cannot write"]) { try SafeTensors.write(["a": zeros([1])], to: scratch.appendingPathComponent("no/x.safetensors")) }
        add("GrayImage width 0", ["must be positive"]) { _ = try GrayImage(width: 0, height: 2, pixels: []) }
        add("GrayImage negative height", ["must be positive"]) { _ = try GrayImage(width: 2, height: -2, bytes: []) }
        add("GrayImage pixel count mismatch", ["3 pixels given for a 2×2 image"]) { _ = try GrayImage(width: 2, height: 2, pixels: [0, 0, 0]) }
        add("GrayImage huge", ["pixel limit"]) { _ = try GrayImage(width: Int.max, height: Int.max, pixels: []) }
        add("GrayImage pixel outside", ["pixel (2, 0) is outside the 2×2 image"]) { _ = try GrayImage(width: 2, height: 2, pixels: [0, 0, 0, 0])[2, 0] }
        add("GrayImage negative pixel", ["pixel (0, -1) is outside"]) { _ = try GrayImage(width: 2, height: 2, pixels: [0, 0, 0, 0])[0, -1] }
        add("GrayImage resized to 0", ["must be positive"]) { _ = try GrayImage(width: 2, height: 2, pixels: [0, 0, 0, 0]).resized(width: 0, height: 2) }
        add("GrayImage fittedLikeMNIST box 0", ["box must be in"]) { _ = try GrayImage(width: 2, height: 2, pixels: [0, 0, 0, 0]).fittedLikeMNIST(box: 0) }
        add("GrayImage fittedLikeMNIST threshold NaN", ["threshold"]) { _ = try GrayImage(width: 2, height: 2, pixels: [0, 0, 0, 0]).fittedLikeMNIST(threshold: .nan) }
        add("GrayImage from a 1-D tensor", ["expected a tensor of shape [H, W]"]) { _ = try GrayImage(tensor: zeros([4])) }
        add("GrayImage from a channel out of range", ["channel"]) { _ = try GrayImage(tensor: zeros([1, 2, 2]), channel: 1) }
        add("GrayImage from an empty tensor", ["GrayImage"]) { _ = try GrayImage(tensor: zeros([0, 2])) }
        add("filterGridPNG of a 2-D tensor", ["filterGridPNG"]) { _ = try Plots.filterGridPNG(weights: zeros([3, 3])) }
        add("filterGridPNG scale 0", ["scale"]) { _ = try Plots.filterGridPNG(weights: zeros([2, 1, 3, 3]), scale: 0) }
        add("EpochMetrics.parse garbage", ["EpochMetrics"]) { _ = try EpochMetrics.parse(jsonLine: "{not json") }
        add("TrainingConfiguration.parse garbage", ["not a training configuration"]) { _ = try TrainingConfiguration.parse(json: "[") }
        add("TrainingConfiguration epochs 0", ["--epochs must be positive"]) { var c = TrainingConfiguration(); c.epochs = 0; try c.validate() }
        add("TrainingConfiguration epochs 10^12", ["--epochs must be at most 10000"]) { var c = TrainingConfiguration(); c.epochs = 1_000_000_000_000; try c.validate() }
        add("TrainingConfiguration batch 10^9", ["--batch-size must be at most 65536"]) { var c = TrainingConfiguration(); c.batchSize = 1_000_000_000; try c.validate() }
        add("TrainingConfiguration NaN lr", ["--lr must be a positive number"]) { var c = TrainingConfiguration(); c.learningRate = .nan; try c.validate() }
        add("TrainingConfiguration NaN momentum", ["--momentum"]) { var c = TrainingConfiguration(); c.momentum = .nan; try c.validate() }
        add("resolveDevice tpu", ["tpu"]) { _ = try resolveDevice("tpu") }
        add("ConfusionMatrix negative classes", ["ConfusionMatrix", "classes must be in"]) { _ = try ConfusionMatrix(classes: -1) }
        add("ConfusionMatrix truth out of range", ["ConfusionMatrix", "truth 10"]) { var m = try ConfusionMatrix(classes: 10); try m.add(truth: 10, prediction: 0) }
        add("ConfusionMatrix negative prediction", ["ConfusionMatrix", "prediction -1"]) { var m = try ConfusionMatrix(classes: 10); try m.add(truth: 0, prediction: -1) }
        add("Init.fans of a 1-D shape", ["at least 2 dimensions"]) { _ = try Init.fans(of: [3]) }
        add("Init.kaimingUniform of an empty fan", ["fan is 0"]) { try Init.kaimingUniform(zeros([3, 0])) }
        add("Init.uniform of int32", ["float32"]) { try Init.uniform(labels([1])) }
        return cases
    }

    static func valueCases() -> [ValueCase] {
        var cases: [ValueCase] = []
        func add(_ name: String, _ check: @escaping () throws -> Bool) { cases.append(ValueCase(name: name, check: check)) }
        let nan = Float.nan, inf = Float.infinity
        func t(_ values: [Float], _ shape: [Int]) throws -> Tensor { try Tensor(values, shape: shape) }

        add("maxPool2d of a NaN window is NaN") {
            let y = try maxPool2d(t([1, nan, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [1, 1, 4, 4]), kernelSize: 2).toArray()
            return y[0].isNaN && y[1] == 7 && y[2] == 13 && y[3] == 15
        }
        add("maxPool2dWithIndices points at the NaN") {
            let (y, i) = try maxPool2dWithIndices(t([1, 2, 3, 4, nan, 6, 7, 8, 9], [1, 3, 3]), kernelSize: 2, stride: 1)
            return try y.toArray().allSatisfy(\.isNaN) && i.toIntArray() == [4, 4, 4, 4]
        }
        add("maxPool2d of +inf and -inf") {
            let y = try maxPool2d(t([-inf, -inf, -inf, -inf, inf, 0, 0, 0], [1, 2, 2, 2]), kernelSize: 2).toArray()
            return y == [-inf, inf]
        }
        add("maxPool2d backward through a NaN window does not trap") {
            let x = try t([1, nan, 2, 3], [1, 1, 2, 2])
            x.requiresGrad = true
            try maxPool2d(x, kernelSize: 2).sum().backward()
            return try x.grad!.toArray() == [0, 1, 0, 0]
        }
        add("avgPool2d of NaN is NaN") { try avgPool2d(t([1, nan, 2, 3], [1, 1, 2, 2]), kernelSize: 2).toArray()[0].isNaN }
        add("avgPool2d of inf is inf") { try avgPool2d(t([1, inf, 2, 3], [1, 1, 2, 2]), kernelSize: 2).toArray() == [inf] }
        add("avgPool2d of inf and -inf is NaN") { try avgPool2d(t([-inf, inf, 2, 3], [1, 1, 2, 2]), kernelSize: 2).toArray()[0].isNaN }
        add("adaptiveAvgPool2d of NaN is NaN") { try adaptiveAvgPool2d(t([nan, 1, 2, 3], [1, 2, 2]), outputSize: 1).toArray()[0].isNaN }
        add("maxUnpool2d places NaN and inf") {
            let y = try maxUnpool2d(t([nan, inf], [1, 1, 2]), indices: Tensor(indices: [1, 2], shape: [1, 1, 2]), kernelSize: Size2d(1, 2))
            let v = try y.toArray()
            return y.shape == [1, 1, 4] && v[0] == 0 && v[1].isNaN && v[2] == inf && v[3] == 0
        }
        add("conv2d of NaN is NaN, elsewhere finite") {
            var values = [Float](repeating: 1, count: 25)
            values[0] = nan
            let y = try conv2d(t(values, [1, 1, 5, 5]), Tensor.ones([1, 1, 3, 3])).toArray()
            return y[0].isNaN && y[1...].allSatisfy { $0 == 9 }
        }
        add("conv2d of inf with a zero weight tap is NaN (inf·0), as IEEE") {
            let y = try conv2d(t([inf, 1, 1, 1], [1, 1, 2, 2]), t([0, 1, 1, 1], [1, 1, 2, 2])).toArray()
            return y[0].isNaN
        }
        add("conv2d of an empty batch is an empty batch") { try conv2d(Tensor.zeros([0, 3, 8, 8]), Tensor.zeros([2, 3, 3, 3])).shape == [0, 2, 6, 6] }
        add("maxPool2d of an empty batch is an empty batch") { try maxPool2d(Tensor.zeros([0, 3, 8, 8]), kernelSize: 2).shape == [0, 3, 4, 4] }
        add("relu keeps NaN, clamps -inf, keeps inf") {
            let y = try relu(t([nan, -inf, inf, -1], [4])).toArray()
            return y[0].isNaN && y[1] == 0 && y[2] == inf && y[3] == 0
        }
        add("softmax of a row with NaN is NaN; other rows unaffected") {
            let y = try softmax(t([nan, 0, 0, 0], [2, 2]), dim: 1).toArray()
            return y[0].isNaN && y[1].isNaN && y[2] == 0.5 && y[3] == 0.5
        }
        add("softmax with -inf gives 0 there") { try softmax(t([-inf, 0], [2]), dim: 0).toArray() == [0, 1] }
        add("softmax of huge logits stays finite") { try softmax(t([1e30, 0], [2]), dim: 0).toArray() == [1, 0] }
        add("logSoftmax with -inf gives -inf there") { try logSoftmax(t([-inf, 0], [2]), dim: 0).toArray() == [-inf, 0] }
        add("crossEntropy of NaN logits is NaN") { try crossEntropy(t([nan, 0, 0, 0], [2, 2]), Tensor(indices: [0, 1])).item().isNaN }
        add("crossEntropy of huge logits is finite") { try crossEntropy(t([1e30, -1e30], [1, 2]), Tensor(indices: [1])).item() == 2e30 }
        add("crossEntropy ignores -100 (the default ignoreIndex)") {
            let x = try t([0, 0, 5, 0], [2, 2])
            let a = try crossEntropy(x, Tensor(indices: [-100, 0])).item()
            let b = try crossEntropy(x.slice(dim: 0, start: 1), Tensor(indices: [0])).item()
            return a == b
        }
        add("crossEntropy ignoreIndex inside the class range") {
            let x = try t([0, 0, 5, 0], [2, 2])
            return try crossEntropy(x, Tensor(indices: [1, 0]), ignoreIndex: 1).item() == crossEntropy(x.slice(dim: 0, start: 1), Tensor(indices: [0])).item()
        }
        add("crossEntropy ignoreIndex outside the class range (50)") {
            try crossEntropy(t([0, 0], [1, 2]), Tensor(indices: [50]), ignoreIndex: 50, reduction: .sum).item() == 0
        }
        add("crossEntropy mean over all-ignored rows is NaN, gradient zero") {
            let x = try t([1, 2, 3, 4], [2, 2])
            x.requiresGrad = true
            let loss = try crossEntropy(x, Tensor(indices: [-100, -100]))
            try loss.backward()
            return try loss.item().isNaN && x.grad!.toArray() == [0, 0, 0, 0]
        }
        add("crossEntropy of an empty batch with mean is NaN") { try crossEntropy(Tensor.zeros([0, 3]), Tensor(indices: [])).item().isNaN }
        add("crossEntropy reduction none keeps ignored rows at 0") {
            try crossEntropy(t([0, 0, 0, 0], [2, 2]), Tensor(indices: [-100, 1]), reduction: .none).toArray()[0] == 0
        }
        add("linear of NaN is NaN") { try linear(t([nan, 1], [1, 2]), Tensor.ones([1, 2])).toArray()[0].isNaN }
        add("localResponseNorm of NaN is NaN") { try localResponseNorm(t([nan, 1], [1, 2, 1]), size: 2).toArray()[0].isNaN }
        add("localResponseNorm with a huge size") { try localResponseNorm(t([1, 1], [1, 2, 1]), size: Int.max).toArray().allSatisfy(\.isFinite) }
        add("batchNorm2d of NaN is NaN") {
            let y = try batchNorm2d(t([nan, 1, 2, 3], [2, 1, 2, 1]), runningMean: nil, runningVar: nil, training: true).toArray()
            return y.allSatisfy(\.isNaN)
        }
        add("dropout keeps NaN where kept") {
            let y = try dropout(t([nan, nan, nan, nan], [4]), p: 0.5, seed: 3).toArray()
            return y.allSatisfy(\.isNaN)
        }
        add("sum of inf and -inf is NaN") { try t([inf, -inf], [2]).sum().item().isNaN }
        add("mean of an empty tensor is NaN") { try Tensor.zeros([0]).mean().item().isNaN }
        add("sum of an empty tensor is 0") { try Tensor.zeros([0, 3]).sum().item() == 0 }
        add("maxValues of a NaN row is NaN") { try t([1, nan, 3], [3]).maxValues(dim: 0).item().isNaN }
        add("argmax picks the NaN") { try t([1, nan, 3], [3]).argmax().toIntArray() == [1] }
        add("maximum with NaN is NaN") { try maximum(t([nan, 1], [2]), t([0, nan], [2])).toArray().allSatisfy(\.isNaN) }
        add("log of 0 is -inf, of -1 NaN") { let y = try t([0, -1], [2]).log().toArray(); return y[0] == -inf && y[1].isNaN }
        add("sqrt of -1 is NaN") { try t([-1], [1]).sqrt().toArray()[0].isNaN }
        add("division by 0 gives inf and NaN") { let y = try (t([1, 0], [2]) / 0).toArray(); return y[0] == inf && y[1].isNaN }
        add("exp overflows to inf") { try t([1000], [1]).exp().toArray() == [inf] }
        add("matmul of NaN is NaN") { try matmul(t([nan, 1], [1, 2]), t([1, 1], [2, 1])).toArray()[0].isNaN }
        add("pad with a NaN value") { try pad(t([1], [1]), [1, 0], value: nan).toArray()[0].isNaN }
        add("SGD step with a NaN gradient gives NaN, no trap") {
            let p = try Tensor.ones([2], requiresGrad: true)
            p.grad = try t([nan, 1], [2])
            try SGD(parameters: [p], learningRate: 0.1).step()
            let v = try p.toArray()
            return v[0].isNaN && v[1] == 0.9
        }
        add("Adam step with an infinite gradient does not trap") {
            let p = try Tensor.ones([2], requiresGrad: true)
            p.grad = try t([inf, 1], [2])
            try Adam(parameters: [p]).step()
            return try p.toArray()[1].isFinite
        }
        add("GrayImage maps NaN to 0 and clamps inf") { try GrayImage(width: 2, height: 1, pixels: [nan, inf]).pixels == [0, 1] }
        add("GrayImage(tensor:) of NaN and inf does not trap") { try GrayImage(tensor: t([nan, inf, 0, 1], [2, 2])).width == 2 }
        add("trainingCurvesSVG with NaN losses and mismatched lengths does not trap") {
            !Plots.trainingCurvesSVG(epochs: [1, 2, 3], trainLoss: [.nan, .infinity], testLoss: [1], testAccuracy: [-.infinity, .nan, 0.5, 2]).isEmpty
        }
        add("filterGridPNG of NaN weights does not trap") { try !Plots.filterGridPNG(weights: Tensor.full([2, 1, 3, 3], nan)).isEmpty }
        add("Tensor.size with a negative dim") { try Tensor.zeros([2, 3]).size(-1) == 3 }
        add("Sequential negative index counts from the end") { let f = Flatten(); return try Sequential(Flatten(), f)[-1] === f }
        add("DataLoader.epoch(startingAt:) past the end is empty") {
            let loader = try DataLoader(dataset: TensorDataset(images: Tensor.zeros([3, 1, 2, 2]), labels: Tensor(indices: [0, 1, 2])), batchSize: 2)
            return try loader.epoch(0, startingAt: 99).next() == nil && loader.epoch(-5, startingAt: -5).next() != nil
        }
        return cases
    }

    // MARK: The test

    func testEveryBadInputThrowsANamedErrorAndNothingTraps() throws {
        var tried = 0
        var cudaUnavailable = 0
        for c in BadInputTests.errorCases() {
            print("BadInput: \(c.name)")
            fflush(stdout)
            tried += 1
            do {
                try c.body()
                XCTFail("\(c.name): no error was thrown")
            } catch let error as ConvKitError {
                let text = error.description.lowercased()
                if c.words.isEmpty {
                    // a two-device case: on a machine without a GPU, the error of asking for one
                    if text.contains("not available") { cudaUnavailable += 1 }
                    XCTAssertTrue(text.contains("cuda") || text.contains(" is on ") || text.contains("same device"), "\(c.name): \(error)")
                }
                for word in c.words where !text.contains(word.lowercased()) {
                    XCTFail("\(c.name): '\(word)' is not in the message: \(error)")
                }
                XCTAssertFalse(error.description.contains("\n"), "\(c.name): the message is not one line: \(error)")
            } catch {
                XCTFail("\(c.name): threw \(type(of: error)), not a ConvKitError: \(error)")
            }
        }
        for c in BadInputTests.valueCases() {
            print("BadInput: \(c.name)")
            fflush(stdout)
            tried += 1
            do {
                let holds = try c.check()
                XCTAssertTrue(holds, "\(c.name): the result is not the IEEE/PyTorch one")
            } catch {
                XCTFail("\(c.name): threw \(error)")
            }
        }
        print("BadInputTests: \(tried) inputs tried (\(BadInputTests.errorCases().count) must throw, \(BadInputTests.valueCases().count) NaN/inf/empty values checked); "
              + "\(cudaUnavailable) two-device cases met no GPU and checked the 'not available' error instead")
        XCTAssertGreaterThanOrEqual(tried, 481, "the battery shrank")
    }
}
