import CZlib
import Foundation

/// A training checkpoint: the model's state dict, the optimizer's and schedule's state, the epoch
/// and step counters, the default random generator's position and free-form metadata — all that
/// a run needs to continue exactly where it stopped.
///
/// On disk it is one safetensors file (written atomically): tensors `model.<name>` (the names of
/// `Module.stateDict()`, as PyTorch's) and `optimizer.<name>` (`Optimizer.stateDict()`), and
/// `__metadata__` entries `convkit.*` for the rest; free-form metadata keys are stored as they
/// are. A checkpoint holds copies of the tensors, taken when it is created.
public struct Checkpoint {
    /// The format version this build writes and the newest it reads.
    public static let formatVersion = 1
    /// The value of the `convkit.format` metadata entry that marks a checkpoint.
    public static let formatName = "convkit-checkpoint"

    /// The Swift type name of the model (`LeNet5`), checked by `apply`.
    public var modelType: String
    /// The model's name as the user chose it (e.g. the CLI's `lenet5`); defaults to `modelType`.
    public var modelName: String
    /// The model's configuration (e.g. JSON of its constructor arguments), checked by `apply` when given.
    public var modelConfig: String?
    /// The model's state dict (parameters and buffers) by name.
    public var modelState: [String: Tensor]
    /// The optimizer's type name (`SGD`, `Adam`, `AdamW`), nil when no optimizer was saved.
    public var optimizerType: String?
    /// The optimizer's state dict.
    public var optimizerState: [String: Tensor]
    /// The schedule's type name (`StepLR`, `CosineAnnealingLR`), nil when none was saved.
    public var scheduleType: String?
    /// The schedule's state dict.
    public var scheduleState: [String: Double]
    /// The number of completed epochs.
    public var epoch: Int
    /// The number of completed optimizer steps.
    public var globalStep: Int
    /// The default random generator's position (`RandomState.generatorState`), nil when not saved.
    public var generator: Philox?
    /// Free-form entries (dataset, CLI arguments as JSON, …); keys must not start with `convkit.`.
    public var metadata: [String: String]

    /// A checkpoint of `model` (and `optimizer`, `schedule` when given), copying their tensors now.
    /// - Parameters:
    ///   - modelName: the name `apply` can be asked to check (default: the model's type name).
    ///   - generator: the random generator to restore on resume (default: the current default generator).
    public init(model: Module, modelName: String? = nil, modelConfig: String? = nil,
                optimizer: Optimizer? = nil, schedule: LearningRateSchedule? = nil,
                epoch: Int = 0, globalStep: Int = 0, generator: Philox? = RandomState.generatorState,
                metadata: [String: String] = [:]) throws {
        modelType = String(describing: type(of: model))
        self.modelName = modelName ?? modelType
        self.modelConfig = modelConfig
        modelState = try Checkpoint.copies(model.stateDict())
        optimizerType = optimizer.map { String(describing: type(of: $0)) }
        optimizerState = try optimizer.map { try Checkpoint.copies($0.stateDict()) } ?? [:]
        scheduleType = schedule.map { String(describing: type(of: $0)) }
        scheduleState = schedule?.stateDict() ?? [:]
        self.epoch = epoch
        self.globalStep = globalStep
        self.generator = generator
        self.metadata = metadata
        try validate("Checkpoint")
    }

    /// A checkpoint from its parts (used by `load`).
    init(modelType: String, modelName: String, modelConfig: String?, modelState: [String: Tensor],
         optimizerType: String?, optimizerState: [String: Tensor], scheduleType: String?, scheduleState: [String: Double],
         epoch: Int, globalStep: Int, generator: Philox?, metadata: [String: String]) {
        self.modelType = modelType
        self.modelName = modelName
        self.modelConfig = modelConfig
        self.modelState = modelState
        self.optimizerType = optimizerType
        self.optimizerState = optimizerState
        self.scheduleType = scheduleType
        self.scheduleState = scheduleState
        self.epoch = epoch
        self.globalStep = globalStep
        self.generator = generator
        self.metadata = metadata
    }

    private static func copies(_ state: [(String, Tensor)]) throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (name, tensor) in state {
            let copy = try Tensor.empty(tensor.shape, dtype: tensor.dtype, on: tensor.device)
            try copy.assign(tensor)
            result[name] = copy
        }
        return result
    }

    private func validate(_ op: String) throws {
        try require(epoch >= 0, op, "epoch must be non-negative, got \(epoch)")
        try require(globalStep >= 0, op, "globalStep must be non-negative, got \(globalStep)")
        let reserved = metadata.keys.filter { $0.hasPrefix(Key.prefix) }.sorted()
        try require(reserved.isEmpty, op, "metadata keys \(reserved) use the reserved prefix \"\(Key.prefix)\"")
        try require(optimizerType != nil || optimizerState.isEmpty, op, "optimizer state without an optimizer type")
        try require(scheduleType != nil || scheduleState.isEmpty, op, "schedule state without a schedule type")
        for (key, value) in scheduleState {
            try require(value.isFinite, op, "schedule state \(key) is \(value), expected a finite number")
        }
    }

    private enum Key {
        static let prefix = "convkit."
        static let format = "convkit.format"
        static let version = "convkit.format_version"
        static let library = "convkit.library_version"
        static let modelType = "convkit.model_type"
        static let modelName = "convkit.model_name"
        static let modelConfig = "convkit.model_config"
        static let optimizer = "convkit.optimizer"
        static let schedule = "convkit.schedule"
        static let schedulePrefix = "convkit.schedule."
        static let epoch = "convkit.epoch"
        static let globalStep = "convkit.global_step"
        static let generatorSeed = "convkit.generator_seed"
        static let generatorOffset = "convkit.generator_offset"
        static let checksum = "convkit.data_crc32"
    }

    // MARK: Writing

    /// Writes the checkpoint to `url` atomically (`SafeTensors.write`: a temporary file in the
    /// same directory, flushed and renamed into place), so an existing file at `url` is replaced
    /// whole or, on any failure, left as it was.
    /// - Throws: `ConvKitError.invalidArgument` for reserved metadata keys or negative counters,
    ///   `ConvKitError.io` when the file cannot be written.
    public func save(to url: URL) throws {
        try validate("Checkpoint.save")
        var tensors: [String: Tensor] = [:]
        for (name, tensor) in modelState { tensors["model." + name] = tensor }
        for (name, tensor) in optimizerState { tensors["optimizer." + name] = tensor }
        var entries = metadata
        entries[Key.format] = Checkpoint.formatName
        entries[Key.version] = String(Checkpoint.formatVersion)
        entries[Key.library] = ConvKit.version
        entries[Key.modelType] = modelType
        entries[Key.modelName] = modelName
        entries[Key.modelConfig] = modelConfig
        entries[Key.optimizer] = optimizerType
        entries[Key.schedule] = scheduleType
        for (key, value) in scheduleState { entries[Key.schedulePrefix + key] = "\(value)" }
        entries[Key.epoch] = String(epoch)
        entries[Key.globalStep] = String(globalStep)
        if let generator {
            entries[Key.generatorSeed] = String(generator.seed)
            entries[Key.generatorOffset] = String(generator.offset)
        }
        entries[Key.checksum] = String(try Checkpoint.checksum(of: tensors), radix: 16)
        try SafeTensors.write(tensors, metadata: entries, to: url)
    }

    // MARK: Reading

    /// Reads a checkpoint written by `save(to:)`.
    /// - Throws: `ConvKitError.io` when the file cannot be read; `ConvKitError.corruptFile` when it
    ///   is truncated or damaged (including tensor bytes that no longer match the CRC-32 recorded
    ///   at save time); `ConvKitError.invalidArgument` when it is a safetensors file but
    ///   not a ConvKit checkpoint (e.g. bare model weights); `ConvKitError.unsupported` when it was
    ///   written by a newer format version.
    public static func load(from url: URL) throws -> Checkpoint {
        try load(path: url.path) { try SafeTensors.readContents(from: url) }
    }

    /// Decodes a checkpoint held in memory (the whole file's bytes): the in-memory form of
    /// `load(from:)`, through the same checks.
    /// - Parameter path: the file name used in error messages.
    /// - Throws: as `load(from:)`.
    public static func decode(_ bytes: [UInt8], path: String = "<checkpoint data>") throws -> Checkpoint {
        try load(path: path) { try SafeTensors.decodeContents(bytes, path: path) }
    }

    /// The one reader behind `load(from:)` and `decode(_:path:)`: `readContents` gives the
    /// safetensors contents, which are then checked as a checkpoint.
    private static func load(path: String, readContents: () throws -> SafeTensors.Contents) throws -> Checkpoint {
        let contents: SafeTensors.Contents
        do {
            contents = try readContents()
        } catch let ConvKitError.corruptFile(path, message) {
            throw ConvKitError.corruptFile(path: path, message: "not a readable checkpoint (truncated or damaged): \(message)")
        }
        var entries = contents.metadata
        func corrupt(_ message: String) -> ConvKitError { .corruptFile(path: path, message: "checkpoint " + message) }
        guard entries[Key.format] == formatName else {
            throw ConvKitError.invalidArgument(op: "Checkpoint.load",
                                               message: "\(path) is not a ConvKit checkpoint (its metadata has no \(Key.format) = \(formatName); bare model weights load with Module.loadStateDict)")
        }
        guard let versionText = entries[Key.version], let version = Int(versionText), version >= 1 else {
            throw corrupt("has no valid \(Key.version) (found \(entries[Key.version].map { "\"\($0)\"" } ?? "none"))")
        }
        guard version <= formatVersion else {
            throw ConvKitError.unsupported(op: "Checkpoint.load",
                                           message: "\(path) has checkpoint format version \(version) (written by ConvKit \(entries[Key.library] ?? "?")); this build reads version \(formatVersion) and older")
        }
        func required(_ key: String) throws -> String {
            guard let value = entries[key] else { throw corrupt("has no \(key) entry") }
            return value
        }
        func counter(_ key: String) throws -> Int {
            let text = try required(key)
            guard let value = Int(text), value >= 0 else { throw corrupt("\(key) is \"\(text)\", expected a non-negative integer") }
            return value
        }
        func unsigned(_ key: String) throws -> UInt64 {
            let text = try required(key)
            guard let value = UInt64(text) else { throw corrupt("\(key) is \"\(text)\", expected an unsigned 64-bit integer") }
            return value
        }
        let modelType = try required(Key.modelType)
        let modelName = try required(Key.modelName)
        let epoch = try counter(Key.epoch)
        let globalStep = try counter(Key.globalStep)
        var generator: Philox?
        switch (entries[Key.generatorSeed] != nil, entries[Key.generatorOffset] != nil) {
        case (true, true): generator = Philox(seed: try unsigned(Key.generatorSeed), offset: try unsigned(Key.generatorOffset))
        case (false, false): generator = nil
        default: throw corrupt("has only one of \(Key.generatorSeed) and \(Key.generatorOffset)")
        }
        var scheduleState: [String: Double] = [:]
        for (key, text) in entries where key.hasPrefix(Key.schedulePrefix) {
            guard let value = Double(text), value.isFinite else { throw corrupt("\(key) is \"\(text)\", expected a finite number") }
            scheduleState[String(key.dropFirst(Key.schedulePrefix.count))] = value
        }
        let optimizerType = entries[Key.optimizer], scheduleType = entries[Key.schedule]
        if scheduleType == nil && !scheduleState.isEmpty { throw corrupt("has schedule state but no \(Key.schedule) entry") }

        var modelState: [String: Tensor] = [:], optimizerState: [String: Tensor] = [:]
        for (name, tensor) in contents.tensors {
            if name.hasPrefix("model."), name.count > 6 {
                modelState[String(name.dropFirst(6))] = tensor
            } else if name.hasPrefix("optimizer."), name.count > 10 {
                optimizerState[String(name.dropFirst(10))] = tensor
            } else {
                throw corrupt("holds tensor \"\(name)\", which is neither model.<name> nor optimizer.<name>")
            }
        }
        if optimizerType == nil && !optimizerState.isEmpty { throw corrupt("has optimizer tensors but no \(Key.optimizer) entry") }
        if let stored = entries[Key.checksum] {
            let actual = try checksum(of: contents.tensors)
            guard UInt32(stored, radix: 16) == actual else {
                throw corrupt("data is damaged: its CRC-32 is \(String(actual, radix: 16)) but the file records \(stored)")
            }
        }

        entries = entries.filter { !$0.key.hasPrefix(Key.prefix) }
        return Checkpoint(modelType: modelType, modelName: modelName, modelConfig: contents.metadata[Key.modelConfig],
                          modelState: modelState, optimizerType: optimizerType, optimizerState: optimizerState,
                          scheduleType: scheduleType, scheduleState: scheduleState, epoch: epoch, globalStep: globalStep,
                          generator: generator, metadata: entries)
    }

    /// The CRC-32 (zlib's) of the tensors' bytes, in the order of their sorted names, as they are
    /// stored in the file (row-major, little-endian).
    static func checksum(of tensors: [String: Tensor]) throws -> UInt32 {
        var crc = CZlib.crc32(0, nil, 0)
        func add(_ bytes: UnsafeRawBufferPointer) {
            var offset = 0
            while offset < bytes.count {
                let length = min(bytes.count - offset, 1 << 30)
                crc = CZlib.crc32(crc, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self), uInt(length))
                offset += length
            }
        }
        for name in tensors.keys.sorted() {
            let tensor = tensors[name]!
            if tensor.device == .cpu {
                add(UnsafeRawBufferPointer(start: tensor.storage.address, count: tensor.count * tensor.dtype.size))
            } else if tensor.dtype == .float32 {
                try tensor.toArray().withUnsafeBytes(add)
            } else {
                try tensor.toIntArray().withUnsafeBytes(add)
            }
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    // MARK: Applying

    /// Loads the checkpoint into `model` (and `optimizer`, `schedule` when given), and restores the
    /// default random generator when `restoreRandomState` and the checkpoint has one. Everything
    /// is checked first, so on error nothing has changed.
    ///
    /// - Parameters:
    ///   - modelName: when given, must equal the checkpoint's `modelName`.
    ///   - modelConfig: when given, must equal the checkpoint's `modelConfig`.
    /// - Throws: `ConvKitError.invalidArgument` when the checkpoint is for another model type, name
    ///   or configuration ("checkpoint is for model 'alexnet' but 'lenet5' was requested"), for
    ///   another optimizer or schedule type, has no optimizer or schedule state when one is given,
    ///   or when a state dict does not fit (missing or unexpected keys, shapes).
    public func apply(to model: Module, modelName: String? = nil, modelConfig: String? = nil,
                      optimizer: Optimizer? = nil, schedule: LearningRateSchedule? = nil,
                      restoreRandomState: Bool = true) throws {
        let op = "Checkpoint.apply"
        let givenType = String(describing: type(of: model))
        if let modelName {
            try require(modelName == self.modelName, op, "checkpoint is for model '\(self.modelName)' but '\(modelName)' was requested")
        }
        try require(givenType == modelType, op, "checkpoint is for model '\(modelType)' but '\(givenType)' was given")
        if let modelConfig {
            try require(modelConfig == self.modelConfig, op,
                        "checkpoint's model configuration \(self.modelConfig.map { "'\($0)'" } ?? "(none)") differs from the requested '\(modelConfig)'")
        }
        try checkModelState(model, op)
        if let optimizer {
            let type = String(describing: Swift.type(of: optimizer))
            guard let saved = optimizerType else {
                throw ConvKitError.invalidArgument(op: op, message: "checkpoint has no optimizer state to load into \(type)")
            }
            try require(saved == type, op, "checkpoint holds \(saved) state but the optimizer is \(type)")
            try (optimizer as? StateDictChecking)?.checkStateDict(optimizerState)
        }
        if let schedule {
            let type = String(describing: Swift.type(of: schedule))
            guard let saved = scheduleType else {
                throw ConvKitError.invalidArgument(op: op, message: "checkpoint has no schedule state to load into \(type)")
            }
            try require(saved == type, op, "checkpoint holds \(saved) state but the schedule is \(type)")
            try (schedule as? ScheduleStateChecking)?.checkStateDict(scheduleState)
        }
        try model.loadStateDict(modelState, strict: true)
        try optimizer?.loadStateDict(optimizerState)
        try schedule?.loadStateDict(scheduleState)
        if restoreRandomState, let generator { RandomState.generatorState = generator }
    }

    /// The checks of `Module.loadStateDict(strict: true)`, without copying.
    private func checkModelState(_ model: Module, _ op: String) throws {
        let own = model.stateDict()
        let ownNames = Set(own.map { $0.0 })
        let missing = own.map { $0.0 }.filter { modelState[$0] == nil }
        let unexpected = modelState.keys.filter { !ownNames.contains($0) }.sorted()
        var problems: [String] = []
        if !missing.isEmpty { problems.append("missing keys \(missing)") }
        if !unexpected.isEmpty { problems.append("unexpected keys \(unexpected)") }
        try require(problems.isEmpty, op, "the checkpoint's model state does not match \(modelType): " + problems.joined(separator: "; "))
        for (name, tensor) in own {
            let saved = modelState[name]!
            try require(saved.shape == tensor.shape && saved.dtype == tensor.dtype, op,
                        "\(name) is \(saved.dtype) \(saved.shape) in the checkpoint but \(tensor.dtype) \(tensor.shape) in the model")
        }
    }
}
