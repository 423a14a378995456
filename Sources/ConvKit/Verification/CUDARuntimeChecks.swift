import Foundation

/// Checks of the CUDA runtime's error paths on a real GPU, run by `convkit verify` after the
/// op checks: each mistake must end in a `ConvKitError` that names the problem, and the device
/// must stay usable afterwards.
public enum CUDARuntimeChecks {
    /// One named check and its outcome (`nil` when it passed).
    public typealias Outcome = (name: String, failure: String?)

    /// Runs every runtime check on `device`.
    public static func run(on device: Device) -> [Outcome] {
        [
            check("out of memory is reported and the device stays usable") { try outOfMemory(device) },
            check("a training step out of memory is reported and a smaller batch then trains") { try outOfMemoryInATrainingStep(device) },
            check("a device index past the last GPU is refused") { try missingDevice() },
            check("ops refuse operands on two devices") { try mismatchedDevices(device) },
            check("a kernel launch failure names the kernel") { try badLaunch(device) },
            check("a damaged kernel cache entry is compiled again") { try damagedCache(device) },
            check("an out-of-range cross-entropy target is reported at the next synchronisation") { try badTarget(device) },
            check("the first of two bad targets among 300 000 is the one reported") { try badTargetAmongMany(device) },
        ]
    }

    private static func check(_ name: String, _ body: () throws -> String?) -> Outcome {
        do { return (name, try body()) } catch { return (name, "unexpected error: \(error)") }
    }

    /// `nil` when `error` is a device error whose message contains every fragment, else why not.
    private static func expect(_ error: Error?, _ fragments: [String]) -> String? {
        guard let error else { return "no error was thrown" }
        guard case let ConvKitError.device(message) = error else { return "threw \(error), not a device error" }
        let missing = fragments.filter { !message.contains($0) }
        return missing.isEmpty ? nil : "message \"\(message)\" lacks \(missing)"
    }

    /// Asks for twice the device's memory, then computes on a small tensor.
    private static func outOfMemory(_ device: Device) throws -> String? {
        let gpu = try CUDA.backend(device)
        var thrown: Error?
        do { _ = try gpu.allocate(byteCount: gpu.totalMemory * 2) } catch { thrown = error }
        if let problem = expect(thrown, ["out of memory", CUDAAllocator.format(gpu.totalMemory * 2), "free of"]) { return problem }
        let x = try Tensor([1, 2, 3], on: device)
        let y = try (x * x).toArray()
        return y == [1, 4, 9] ? nil : "the device computed \(y) after the failed allocation"
    }

    /// A model whose activations for the first batch need more than the whole device (a
    /// convolution and five ReLUs, each output a fifth of the device's memory and kept for the
    /// backward pass): the step fails in the forward pass with the allocator's report, nothing
    /// stays allocated, and the same model and optimizer then train on a batch of 4 (the loss
    /// falls over three steps).
    private static func outOfMemoryInATrainingStep(_ device: Device) throws -> String? {
        let gpu = try CUDA.backend(device)
        let model = Sequential([try Conv2d(inChannels: 1, outChannels: 64, kernelSize: 3, padding: 1),
                                    ReLU(), ReLU(), ReLU(), ReLU(), ReLU()])
        try model.to(device)
        let optimizer = try SGD(parameters: model.parameters(), learningRate: 0.01)
        let side = 256, bytesPerImage = 64 * side * side * MemoryLayout<Float>.size
        let tooMany = gpu.totalMemory / 5 / bytesPerImage
        func step(batch: Int) throws -> Float {
            optimizer.zeroGrad()
            let images = try Tensor.normal([batch, 1, side, side], on: device)
            let output = try model(images)
            let loss = try (output * output).mean()
            try loss.backward()
            try optimizer.step()
            return try loss.item()
        }
        let before = gpu.memoryStatistics.inUse
        var thrown: Error?
        do { _ = try step(batch: tooMany) } catch { thrown = error }
        if let problem = expect(thrown, ["out of memory allocating", CUDAAllocator.format(tooMany * bytesPerImage), "in tensors", "free of"]) {
            return problem
        }
        let after = gpu.memoryStatistics.inUse
        guard after <= before else { return "the failed step left \(CUDAAllocator.format(after - before)) in use" }
        let losses = try (0..<3).map { _ in try step(batch: 4) }
        return losses[2] < losses[0] ? nil : "a batch of 4 did not train after the failure: losses \(losses)"
    }

    /// Every op that takes several tensors, given one on the CPU and the rest on the GPU.
    private static func mismatchedDevices(_ device: Device) throws -> String? {
        let x = try Tensor.normal([2, 3, 8, 8], on: device), onCPU = try Tensor.normal([2, 3, 8, 8])
        let w = try Tensor.normal([4, 3, 3, 3]), wT = try Tensor.normal([3, 4, 3, 3])
        let logits = try Tensor.normal([4, 5], on: device)
        let (pooled, indices) = try maxPool2dWithIndices(x, kernelSize: 2)
        let attempts: [(String, () throws -> Tensor)] = [
            ("add", { try x + onCPU }),
            ("matmul", { try matmul(try Tensor.normal([4, 5], on: device), try Tensor.normal([5, 2])) }),
            ("conv2d", { try conv2d(x, w) }),
            ("convTranspose2d", { try convTranspose2d(x, wT) }),
            ("linear", { try linear(logits, try Tensor.normal([3, 5])) }),
            ("batchNorm2d", { try batchNorm2d(x, runningMean: try Tensor.zeros([3]), runningVar: try Tensor.ones([3])) }),
            ("crossEntropy", { try crossEntropy(logits, try Tensor(indices: [0, 1, 2, 3])) }),
            ("maxUnpool2d", { try maxUnpool2d(pooled, indices: try indices.to(.cpu), kernelSize: 2) }),
        ]
        for (op, attempt) in attempts {
            var thrown: Error?
            do { _ = try attempt() } catch { thrown = error }
            guard let thrown, case ConvKitError.invalidArgument = thrown else {
                return "\(op) with a CPU operand: expected an invalidArgument error, got \(String(describing: thrown))"
            }
            let message = "\(thrown)"
            guard message.contains("cpu"), message.contains("cuda") else { return "\(op): the message \"\(message)\" does not name both devices" }
        }
        return nil
    }

    private static func missingDevice() throws -> String? {
        let count = try CUDA.deviceCount()
        var thrown: Error?
        do { _ = try CUDA.backend(.cuda(count)) } catch { thrown = error }
        return expect(thrown, ["cuda:\(count) is not available", "\(count) CUDA device"])
    }

    /// Launches a kernel with more threads per block than any GPU allows, and a kernel that does not exist.
    private static func badLaunch(_ device: Device) throws -> String? {
        let gpu = try CUDA.backend(device)
        let buffer = try gpu.allocate(byteCount: 16)
        var thrown: Error?
        do {
            try gpu.launch(.tensor, "ck_accumulate", LaunchShape(grid: 1, block: 4096),
                           [.storage(buffer), .storage(buffer), .int(4)])
        } catch { thrown = error }
        if let problem = expect(thrown, ["ck_accumulate", "Tensor.cu"]) { return problem }
        thrown = nil
        do { _ = try gpu.function(.tensor, "ck_no_such_kernel") } catch { thrown = error }
        if let problem = expect(thrown, ["ck_no_such_kernel"]) { return problem }
        try gpu.synchronize("after the failed launches")
        return nil
    }

    /// Bad class indices at positions 200 001 and 250 000 of 300 000 (more than one block checks):
    /// the report names the first.
    private static func badTargetAmongMany(_ device: Device) throws -> String? {
        let rows = 300_000
        var indices = (0..<rows).map { Int32($0 % 2) }
        indices[200_001] = 5
        indices[250_000] = -3
        let logits = try Tensor.normal([rows, 2], on: device)
        var thrown: Error?
        do { _ = try crossEntropy(logits, try Tensor(indices: indices, on: device)).item() } catch { thrown = error }
        guard let thrown, case let ConvKitError.invalidArgument(_, message) = thrown,
              message.contains("target 5 is out of bounds for 2 classes (at element 200001)") else {
            return "unexpected report: \(String(describing: thrown))"
        }
        return nil
    }

    /// A class index past the last class: the op returns without waiting, the error names the
    /// index and its position when the loss is read, and the next step computes normally.
    private static func badTarget(_ device: Device) throws -> String? {
        let logits = try Tensor.normal([6, 5], on: device, requiresGrad: true)
        let labels = try Tensor(indices: [0, 1, 2, 7, 4, 9], on: device)
        var thrown: Error?
        do { _ = try crossEntropy(logits, labels).item() } catch { thrown = error }
        guard let thrown, case let ConvKitError.invalidArgument(op, message) = thrown else {
            return "expected an invalidArgument error, got \(String(describing: thrown))"
        }
        guard op == "crossEntropy", message.contains("target 7 is out of bounds for 5 classes (at element 3)") else {
            return "unexpected report: \(thrown)"
        }
        let good = try Tensor(indices: [0, 1, 2, 3, 4, 0], on: device)
        let loss = try crossEntropy(logits, good)
        try loss.backward()
        let value = try loss.item(), gradient = try logits.grad!.toArray()
        return value.isFinite && gradient.allSatisfy(\.isFinite) ? nil : "the next loss was \(value)"
    }

    /// Overwrites a module's cache entry with garbage and loads the module again.
    private static func damagedCache(_ device: Device) throws -> String? {
        let gpu = try CUDA.backend(device)
        let nvrtc = try NVRTC.load()
        let module = CUDAKernelModule.optimizer
        guard let file = CUDAKernelCompiler.cacheFile(for: module.source, architecture: gpu.computeCapability,
                                                      nvrtcVersion: nvrtc.version) else {
            return nil  // caching is off: nothing can be damaged
        }
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("not a CUBIN".utf8).write(to: file)
        _ = try gpu.loadModule(module)
        let repaired = try Data(contentsOf: file)
        return repaired.count > 100 ? nil : "the cache entry was not replaced (\(repaired.count) bytes)"
    }
}
