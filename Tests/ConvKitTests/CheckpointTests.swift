import XCTest
@testable import ConvKit

/// A small model with parameters in a child module and a buffer, for checkpoint tests.
private final class CheckpointTestNet: Module {
    final class Head: Module {
        let weight: Tensor, bias: Tensor
        init(seed: UInt64, inputs: Int) throws {
            weight = try Tensor(randomValues(3 * inputs, seed: seed).map { $0 * 0.4 }, shape: [3, inputs], requiresGrad: true)
            bias = try Tensor(randomValues(3, seed: seed + 1), shape: [3], requiresGrad: true)
        }
        override func namedOwnParameters() -> [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
        override func forward(_ input: Tensor) throws -> Tensor { try linear(input, weight, bias: bias) }
    }

    let weight: Tensor
    let seenBatches: Tensor
    let head: Head
    init(seed: UInt64, inputs: Int = 5) throws {
        weight = try Tensor(randomValues(inputs * inputs, seed: seed).map { $0 * 0.4 }, shape: [inputs, inputs], requiresGrad: true)
        seenBatches = try Tensor.zeros([1])
        head = try Head(seed: seed + 10, inputs: inputs)
    }
    override func namedOwnParameters() -> [(String, Tensor)] { [("weight", weight)] }
    override func namedOwnBuffers() -> [(String, Tensor)] { [("seen_batches", seenBatches)] }
    override func namedChildren() -> [(String, Module)] { [("head", head)] }
    override func forward(_ input: Tensor) throws -> Tensor { try head(relu(linear(input, weight))) }
}

/// Another model type, to test the model check.
private final class OtherTestNet: Module {
    let weight = try! Tensor([1, 2], requiresGrad: true)
    override func namedOwnParameters() -> [(String, Tensor)] { [("weight", weight)] }
}

final class CheckpointTests: XCTestCase {
    private var directory: URL!
    private var savedGenerator: Philox!

    override func setUpWithError() throws {
        // These tests reseed the default generator; other tests get it back as it was.
        savedGenerator = RandomState.generatorState
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("convkit-checkpoint-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        RandomState.generatorState = savedGenerator
        try? FileManager.default.removeItem(at: directory)
    }

    /// One training step on a batch drawn from the default random generator (so a resumed run
    /// matches only if the generator was restored too).
    private func trainStep(_ model: CheckpointTestNet, _ optimizer: Optimizer) throws {
        let x = try Tensor.normal([4, 5])
        let target = try Tensor(indices: try Tensor.uniform([4], high: 3).toArray().map { Int32($0) })
        optimizer.zeroGrad()
        try crossEntropy(model(x), target).backward()
        try optimizer.step()
        try model.seenBatches.assign(Tensor([model.seenBatches.item() + 1]))
    }

    private func bits(_ model: Module) throws -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: try model.stateDict().map { ($0.0, try $0.1.toArray().map(\.bitPattern)) })
    }

    // MARK: Round trip and resume

    func testRoundTripKeepsEveryField() throws {
        RandomState.seed(42)
        let model = try CheckpointTestNet(seed: 1)
        let optimizer = try Adam(parameters: model.parameters(), learningRate: 0.01)
        let schedule = try CosineAnnealingLR(optimizer: optimizer, tMax: 4, etaMin: 1e-4)
        try trainStep(model, optimizer)
        schedule.step()
        let generator = RandomState.generatorState
        let metadata = ["dataset": "mnist", "args": #"{"lr": 0.01, "epochs": 3}"#, "note": "ünïcödé\nline"]
        let checkpoint = try Checkpoint(model: model, modelName: "tiny", modelConfig: #"{"inputs":5}"#, optimizer: optimizer,
                                        schedule: schedule, epoch: 1, globalStep: 17, metadata: metadata)
        let url = directory.appendingPathComponent("run.ckpt")
        try checkpoint.save(to: url)
        let loaded = try Checkpoint.load(from: url)
        XCTAssertEqual(loaded.modelType, "CheckpointTestNet")
        XCTAssertEqual(loaded.modelName, "tiny")
        XCTAssertEqual(loaded.modelConfig, #"{"inputs":5}"#)
        XCTAssertEqual(loaded.optimizerType, "Adam")
        XCTAssertEqual(loaded.scheduleType, "CosineAnnealingLR")
        XCTAssertEqual(loaded.scheduleState, schedule.stateDict())
        XCTAssertEqual(loaded.epoch, 1)
        XCTAssertEqual(loaded.globalStep, 17)
        XCTAssertEqual(loaded.generator?.seed, generator.seed)
        XCTAssertEqual(loaded.generator?.offset, generator.offset)
        XCTAssertEqual(loaded.metadata, metadata)
        XCTAssertEqual(Set(loaded.modelState.keys), ["weight", "seen_batches", "head.weight", "head.bias"])
        XCTAssertEqual(Set(loaded.optimizerState.keys), Set(optimizer.stateDict().map { $0.0 }))
        for (name, tensor) in optimizer.stateDict() {
            let read = try XCTUnwrap(loaded.optimizerState[name])
            XCTAssertEqual(read.dtype, tensor.dtype, name)
            XCTAssertEqual(read.shape, tensor.shape, name)
        }
        // The file is plain safetensors: PyTorch-style names under "model.".
        let raw = try SafeTensors.readContents(from: url)
        XCTAssertEqual(try raw.tensors["model.head.weight"]?.toArray(), try model.head.weight.toArray())
        XCTAssertEqual(raw.metadata["convkit.format"], "convkit-checkpoint")

        let fresh = try CheckpointTestNet(seed: 2)
        let freshOptimizer = try Adam(parameters: fresh.parameters())
        let freshSchedule = try CosineAnnealingLR(optimizer: freshOptimizer, tMax: 4, etaMin: 1e-4)
        RandomState.seed(0)
        try loaded.apply(to: fresh, modelName: "tiny", modelConfig: #"{"inputs":5}"#, optimizer: freshOptimizer, schedule: freshSchedule)
        XCTAssertEqual(try bits(fresh), try bits(model))
        XCTAssertEqual(freshOptimizer.steps, optimizer.steps)
        XCTAssertEqual(freshOptimizer.learningRate, optimizer.learningRate)
        XCTAssertEqual(freshSchedule.lastEpoch, 1)
        XCTAssertEqual(RandomState.generatorState.offset, generator.offset)
        XCTAssertEqual(RandomState.generatorState.seed, generator.seed)
    }

    func testTheCheckpointIsASnapshot() throws {
        let model = try CheckpointTestNet(seed: 1)
        let checkpoint = try Checkpoint(model: model)
        let before = try checkpoint.modelState["weight"]!.toArray()
        try model.weight.assign(Tensor.zeros([5, 5]))
        XCTAssertEqual(try checkpoint.modelState["weight"]!.toArray(), before)
        XCTAssertNil(checkpoint.optimizerType)
        XCTAssertEqual(checkpoint.modelName, "CheckpointTestNet")
    }

    func testResumeThroughAFileMatchesAnUninterruptedRunBitForBit() throws {
        let makers: [(String, ([Tensor]) throws -> Optimizer)] = [
            ("SGD", { try SGD(parameters: $0, learningRate: 0.1, momentum: 0.9, nesterov: true) }),
            ("AdamW", { try AdamW(parameters: $0, learningRate: 0.02) }),
        ]
        for (name, make) in makers {
            RandomState.seed(7)
            let full = try CheckpointTestNet(seed: 3)
            let fullOptimizer = try make(full.parameters())
            let fullSchedule = try StepLR(optimizer: fullOptimizer, stepSize: 2, gamma: 0.5)
            for epoch in 0..<4 {
                for _ in 0..<2 { try trainStep(full, fullOptimizer) }
                if epoch < 3 { fullSchedule.step() }
            }

            RandomState.seed(7)
            let first = try CheckpointTestNet(seed: 3)
            let firstOptimizer = try make(first.parameters())
            let firstSchedule = try StepLR(optimizer: firstOptimizer, stepSize: 2, gamma: 0.5)
            for _ in 0..<2 {
                for _ in 0..<2 { try trainStep(first, firstOptimizer) }
                firstSchedule.step()
            }
            let url = directory.appendingPathComponent("\(name).ckpt")
            try Checkpoint(model: first, optimizer: firstOptimizer, schedule: firstSchedule, epoch: 2, globalStep: 4).save(to: url)

            RandomState.seed(12345)  // a fresh process would start elsewhere
            let resumed = try CheckpointTestNet(seed: 99)
            let resumedOptimizer = try make(resumed.parameters())
            let resumedSchedule = try StepLR(optimizer: resumedOptimizer, stepSize: 2, gamma: 0.5)
            let checkpoint = try Checkpoint.load(from: url)
            try checkpoint.apply(to: resumed, optimizer: resumedOptimizer, schedule: resumedSchedule)
            XCTAssertEqual(checkpoint.epoch, 2)
            for epoch in checkpoint.epoch..<4 {
                for _ in 0..<2 { try trainStep(resumed, resumedOptimizer) }
                if epoch < 3 { resumedSchedule.step() }
            }
            XCTAssertEqual(try bits(resumed), try bits(full), name)
            XCTAssertEqual(resumedOptimizer.learningRate, fullOptimizer.learningRate, name)
        }
    }

    // MARK: Mismatches

    func testApplyRefusesAnotherModelOptimizerOrScheduleAndChangesNothing() throws {
        let model = try CheckpointTestNet(seed: 1)
        let optimizer = try SGD(parameters: model.parameters(), learningRate: 0.1, momentum: 0.9)
        let checkpoint = try Checkpoint(model: model, modelName: "alexnet", modelConfig: "small", optimizer: optimizer,
                                        schedule: try StepLR(optimizer: optimizer, stepSize: 3))
        let target = try CheckpointTestNet(seed: 5)
        let before = try bits(target)
        assertThrowsConvKitError(try checkpoint.apply(to: target, modelName: "lenet5"),
                                 "Checkpoint.apply", "checkpoint is for model 'alexnet' but 'lenet5' was requested")
        assertThrowsConvKitError(try checkpoint.apply(to: OtherTestNet()), "checkpoint is for model 'CheckpointTestNet' but 'OtherTestNet' was given")
        assertThrowsConvKitError(try checkpoint.apply(to: target, modelConfig: "large"), "model configuration 'small'", "'large'")
        let adam = try Adam(parameters: target.parameters(), learningRate: 0.5)
        assertThrowsConvKitError(try checkpoint.apply(to: target, optimizer: adam), "checkpoint holds SGD state but the optimizer is Adam")
        let sgd = try SGD(parameters: target.parameters(), learningRate: 0.5)
        assertThrowsConvKitError(try checkpoint.apply(to: target, optimizer: sgd, schedule: try CosineAnnealingLR(optimizer: sgd, tMax: 2)),
                                 "checkpoint holds StepLR state but the schedule is CosineAnnealingLR")
        // A parameter list that does not fit the optimizer state: found before anything is loaded.
        let partial = try SGD(parameters: Array(target.parameters().prefix(2)), learningRate: 0.5)
        assertThrowsConvKitError(try checkpoint.apply(to: target, optimizer: partial), "SGD.loadStateDict", "3 parameters", "has 2")
        let wider = try CheckpointTestNet(seed: 5, inputs: 6)
        assertThrowsConvKitError(try checkpoint.apply(to: wider), "weight", "[5, 5]", "[6, 6]")
        XCTAssertEqual(try bits(target), before)
        XCTAssertEqual(sgd.learningRate, 0.5)
        XCTAssertEqual(adam.learningRate, 0.5)
        let bare = try Checkpoint(model: model)
        assertThrowsConvKitError(try bare.apply(to: target, optimizer: sgd), "checkpoint has no optimizer state to load into SGD")
        XCTAssertEqual(try bits(target), before)
        // Without an optimizer the model alone loads (e.g. for evaluation).
        try checkpoint.apply(to: target, modelName: "alexnet", modelConfig: "small")
        XCTAssertEqual(try bits(target), try bits(model))
    }

    func testReservedMetadataAndCountersAreChecked() throws {
        let model = try CheckpointTestNet(seed: 1)
        assertThrowsConvKitError(try Checkpoint(model: model, metadata: ["convkit.epoch": "3"]), "Checkpoint", "reserved prefix", "convkit.epoch")
        assertThrowsConvKitError(try Checkpoint(model: model, epoch: -1), "epoch", "-1")
        var checkpoint = try Checkpoint(model: model)
        checkpoint.globalStep = -5
        assertThrowsConvKitError(try checkpoint.save(to: directory.appendingPathComponent("x.ckpt")), "Checkpoint.save", "globalStep")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("x.ckpt").path))
    }

    // MARK: Damaged files

    func testDamagedFilesGiveClearErrors() throws {
        let model = try CheckpointTestNet(seed: 1)
        let optimizer = try Adam(parameters: model.parameters())
        try trainStep(model, optimizer)
        let url = directory.appendingPathComponent("good.ckpt")
        try Checkpoint(model: model, optimizer: optimizer, epoch: 3).save(to: url)
        let bytes = try Data(contentsOf: url)

        let truncated = directory.appendingPathComponent("truncated.ckpt")
        for length in [0, 5, 40, bytes.count / 2, bytes.count - 1] {
            try bytes.prefix(length).write(to: truncated)
            assertThrowsConvKitError(try Checkpoint.load(from: truncated), truncated.path, "truncated")
        }
        // One flipped bit in the tensor data: the format still parses, the checksum does not match.
        var flipped = bytes
        flipped[flipped.count - 3] ^= 0x10
        let damaged = directory.appendingPathComponent("damaged.ckpt")
        try flipped.write(to: damaged)
        assertThrowsConvKitError(try Checkpoint.load(from: damaged), damaged.path, "damaged", "CRC-32")
        let garbage = directory.appendingPathComponent("garbage.ckpt")
        try Data("this is not a checkpoint at all, just some text".utf8).write(to: garbage)
        assertThrowsConvKitError(try Checkpoint.load(from: garbage), garbage.path, "corrupt")
        assertThrowsConvKitError(try Checkpoint.load(from: directory.appendingPathComponent("missing.ckpt")), "missing.ckpt", "cannot open")

        let weights = directory.appendingPathComponent("weights.safetensors")
        try SafeTensors.write(Dictionary(uniqueKeysWithValues: model.stateDict()), to: weights)
        assertThrowsConvKitError(try Checkpoint.load(from: weights), weights.path, "not a ConvKit checkpoint")

        // Files that claim to be checkpoints but break the format's rules.
        var contents = try SafeTensors.readContents(from: url)
        func rewritten(_ edit: (inout [String: Tensor], inout [String: String]) -> Void) throws -> URL {
            var tensors = contents.tensors, metadata = contents.metadata
            edit(&tensors, &metadata)
            let edited = directory.appendingPathComponent("edited.ckpt")
            try SafeTensors.write(tensors, metadata: metadata, to: edited)
            return edited
        }
        assertThrowsConvKitError(try Checkpoint.load(from: rewritten { _, m in m["convkit.format_version"] = "2" }),
                                 "Checkpoint.load", "format version 2", "reads version 1")
        assertThrowsConvKitError(try Checkpoint.load(from: rewritten { _, m in m["convkit.format_version"] = "one" }),
                                 "convkit.format_version", "\"one\"")
        assertThrowsConvKitError(try Checkpoint.load(from: rewritten { _, m in m["convkit.epoch"] = "-2" }), "convkit.epoch", "\"-2\"")
        assertThrowsConvKitError(try Checkpoint.load(from: rewritten { _, m in m["convkit.model_type"] = nil }), "no convkit.model_type")
        assertThrowsConvKitError(try Checkpoint.load(from: rewritten { _, m in m["convkit.generator_offset"] = nil }), "only one of")
        assertThrowsConvKitError(try Checkpoint.load(from: rewritten { t, _ in t["stray"] = try! Tensor([1]) }), "\"stray\"", "neither")
        assertThrowsConvKitError(try Checkpoint.load(from: rewritten { _, m in m["convkit.optimizer"] = nil }), "optimizer tensors but no convkit.optimizer")
        contents.metadata["convkit.schedule.last_epoch"] = "x"
        assertThrowsConvKitError(try Checkpoint.load(from: rewritten { _, _ in }), "convkit.schedule.last_epoch", "\"x\"")
    }

    // MARK: Atomic writes

    func testAFailedWriteLeavesTheExistingCheckpointIntact() throws {
        let url = directory.appendingPathComponent("run.ckpt")
        let small = try CheckpointTestNet(seed: 1)
        try Checkpoint(model: small, epoch: 1).save(to: url)
        let original = try Data(contentsOf: url)

        // A write that fails part-way: a file-size limit below the new checkpoint's size makes
        // write(2) fail with EFBIG (SIGXFSZ ignored so that the process is not killed).
        let big = try CheckpointTestNet(seed: 2, inputs: 64)
        var saved = rlimit()
        XCTAssertEqual(getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &saved), 0)
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var limited = rlimit(rlim_cur: rlim_t(original.count + 1024), rlim_max: saved.rlim_max)
        XCTAssertEqual(setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limited), 0)
        let failure = Result { try Checkpoint(model: big, epoch: 2).save(to: url) }
        XCTAssertEqual(setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &saved), 0)
        signal(SIGXFSZ, previousHandler)
        XCTAssertThrowsError(try failure.get()) { error in
            XCTAssert("\(error)".contains("write failed"), "\(error)")
        }
        XCTAssertEqual(try Data(contentsOf: url), original)
        XCTAssertEqual(try Checkpoint.load(from: url).epoch, 1)

        // A write that fails at the rename: the target is a directory.
        let occupied = directory.appendingPathComponent("occupied.ckpt")
        try FileManager.default.createDirectory(at: occupied.appendingPathComponent("inside"), withIntermediateDirectories: true)
        assertThrowsConvKitError(try Checkpoint(model: small).save(to: occupied), "rename")
        var isDirectory: ObjCBool = false
        XCTAssert(FileManager.default.fileExists(atPath: occupied.path, isDirectory: &isDirectory) && isDirectory.boolValue)

        // No temporary file is left behind, and a later save succeeds.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted(), ["occupied.ckpt", "run.ckpt"])
        try Checkpoint(model: big, epoch: 2).save(to: url)
        XCTAssertEqual(try Checkpoint.load(from: url).epoch, 2)
    }
}
