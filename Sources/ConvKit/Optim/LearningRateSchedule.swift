import Foundation

/// A learning-rate schedule stepped once per epoch, as PyTorch's `torch.optim.lr_scheduler`:
/// creating one sets epoch 0 (the optimizer's learning rate becomes the base learning rate), and
/// each `step()` advances `lastEpoch` by one and sets the optimizer's learning rate for it.
///
/// Rates come from closed forms of the epoch and the base rate, computed in Float64, so a
/// schedule restored from a checkpoint continues exactly.
public protocol LearningRateSchedule: AnyObject {
    /// The optimizer whose learning rate this schedule sets.
    var optimizer: Optimizer { get }
    /// The epoch whose learning rate the optimizer holds (0 after creation).
    var lastEpoch: Int { get }
    /// The optimizer's learning rate when the schedule was created.
    var baseLearningRate: Float { get }
    /// The learning rate at `epoch` (≥ 0).
    func learningRate(atEpoch epoch: Int) -> Float
    /// Advances to the next epoch and sets the optimizer's learning rate for it.
    func step()
    /// The schedule's state (`last_epoch`, `base_lr` and its hyperparameters) for a checkpoint.
    func stateDict() -> [String: Double]
    /// Restores `stateDict()`'s output; the optimizer's learning rate is left alone (it is part of
    /// the optimizer's own state dict, as in PyTorch).
    /// - Throws: `ConvKitError.invalidArgument` naming a missing, unexpected or invalid entry.
    func loadStateDict(_ state: [String: Double]) throws
}

extension LearningRateSchedule {
    /// The learning rate set by the last `step()` (or by creation): PyTorch's `get_last_lr()`.
    public var lastLearningRate: Float { learningRate(atEpoch: lastEpoch) }
}

/// Schedules that can check a state dict without loading it (for checkpoints applied all or nothing).
protocol ScheduleStateChecking {
    /// Throws what `loadStateDict` would throw for `state`, changing nothing.
    func checkStateDict(_ state: [String: Double]) throws
}

/// Reads schedule state entries with errors naming the entry.
struct ScheduleStateReader {
    let op: String
    let state: [String: Double]
    let expected: [String]

    init(_ state: [String: Double], op: String, expected: [String]) throws {
        self.state = state
        self.op = op
        self.expected = expected
        let unexpected = state.keys.filter { !expected.contains($0) }.sorted()
        try require(unexpected.isEmpty, op, "unexpected entries \(unexpected) in the schedule state")
    }

    func value(_ key: String) throws -> Double {
        guard let value = state[key] else { throw ConvKitError.invalidArgument(op: op, message: "the schedule state has no \(key)") }
        try require(value.isFinite, op, "\(key) is \(value), expected a finite number")
        return value
    }

    func integer(_ key: String, minimum: Int) throws -> Int {
        let value = try value(key)
        try require(value.rounded() == value && value >= Double(minimum) && value < 9.0e15, op,
                    "\(key) is \(value), expected an integer ≥ \(minimum)")
        return Int(value)
    }

    func float(_ key: String) throws -> Float {
        let value = try value(key)
        try require(Double(Float(value)) == value, op, "\(key) is \(value), which is not a float32 value")
        return Float(value)
    }
}

/// Multiplies the learning rate by `gamma` every `stepSize` epochs:
/// `lr(epoch) = baseLR · gamma^⌊epoch / stepSize⌋` (PyTorch's `StepLR`).
public final class StepLR: LearningRateSchedule, ScheduleStateChecking {
    /// The optimizer whose learning rate this schedule sets.
    public let optimizer: Optimizer
    /// Epochs between two decays.
    public private(set) var stepSize: Int
    /// The factor applied at each decay.
    public private(set) var gamma: Float
    /// The epoch whose learning rate the optimizer holds.
    public private(set) var lastEpoch = 0
    /// The optimizer's learning rate when the schedule was created.
    public private(set) var baseLearningRate: Float

    /// A step schedule for `optimizer`, starting at its current learning rate.
    /// - Throws: `ConvKitError.invalidArgument` when `stepSize` < 1 or `gamma` is negative or not finite.
    public init(optimizer: Optimizer, stepSize: Int, gamma: Float = 0.1) throws {
        try StepLR.check(stepSize: stepSize, gamma: gamma, "StepLR")
        self.optimizer = optimizer
        self.stepSize = stepSize
        self.gamma = gamma
        baseLearningRate = optimizer.learningRate
        optimizer.learningRate = learningRate(atEpoch: 0)
    }

    private static func check(stepSize: Int, gamma: Float, _ op: String) throws {
        try require(stepSize >= 1, op, "stepSize must be at least 1, got \(stepSize)")
        try require(gamma.isFinite && gamma >= 0, op, "gamma must be finite and non-negative, got \(gamma)")
    }

    /// `baseLearningRate · gamma^⌊epoch / stepSize⌋`, computed in Float64.
    public func learningRate(atEpoch epoch: Int) -> Float {
        Float(Double(baseLearningRate) * Foundation.pow(Double(gamma), Double(epoch / stepSize)))
    }

    /// Advances one epoch and sets the optimizer's learning rate.
    public func step() {
        lastEpoch += 1
        optimizer.learningRate = learningRate(atEpoch: lastEpoch)
    }

    /// `last_epoch`, `base_lr`, `step_size`, `gamma`.
    public func stateDict() -> [String: Double] {
        ["last_epoch": Double(lastEpoch), "base_lr": Double(baseLearningRate),
         "step_size": Double(stepSize), "gamma": Double(gamma)]
    }

    private func parse(_ state: [String: Double]) throws -> (epoch: Int, base: Float, stepSize: Int, gamma: Float) {
        let op = "StepLR.loadStateDict"
        let reader = try ScheduleStateReader(state, op: op, expected: ["last_epoch", "base_lr", "step_size", "gamma"])
        let loaded = (try reader.integer("last_epoch", minimum: 0), try reader.float("base_lr"),
                      try reader.integer("step_size", minimum: 1), try reader.float("gamma"))
        try OptimizerChecks.checkNonNegative(loaded.1, "base_lr", op)
        try StepLR.check(stepSize: loaded.2, gamma: loaded.3, op)
        return loaded
    }

    func checkStateDict(_ state: [String: Double]) throws { _ = try parse(state) }

    /// Restores `stateDict()`'s output (see `LearningRateSchedule`).
    public func loadStateDict(_ state: [String: Double]) throws {
        (lastEpoch, baseLearningRate, stepSize, gamma) = try parse(state)
    }
}

/// Cosine annealing from the base learning rate down to `etaMin` over `tMax` epochs:
/// `lr(epoch) = etaMin + (baseLR − etaMin)·(1 + cos(π·epoch/tMax))/2` (PyTorch's
/// `CosineAnnealingLR` closed form; past `tMax` the cosine continues, rising again, as PyTorch's does).
public final class CosineAnnealingLR: LearningRateSchedule, ScheduleStateChecking {
    /// The optimizer whose learning rate this schedule sets.
    public let optimizer: Optimizer
    /// The number of epochs of the half cosine.
    public private(set) var tMax: Int
    /// The learning rate reached at epoch `tMax`.
    public private(set) var etaMin: Float
    /// The epoch whose learning rate the optimizer holds.
    public private(set) var lastEpoch = 0
    /// The optimizer's learning rate when the schedule was created.
    public private(set) var baseLearningRate: Float

    /// A cosine schedule for `optimizer`, starting at its current learning rate.
    /// - Throws: `ConvKitError.invalidArgument` when `tMax` < 1 or `etaMin` is negative or not finite.
    public init(optimizer: Optimizer, tMax: Int, etaMin: Float = 0) throws {
        try CosineAnnealingLR.check(tMax: tMax, etaMin: etaMin, "CosineAnnealingLR")
        self.optimizer = optimizer
        self.tMax = tMax
        self.etaMin = etaMin
        baseLearningRate = optimizer.learningRate
        optimizer.learningRate = learningRate(atEpoch: 0)
    }

    private static func check(tMax: Int, etaMin: Float, _ op: String) throws {
        try require(tMax >= 1, op, "tMax must be at least 1, got \(tMax)")
        try require(etaMin.isFinite && etaMin >= 0, op, "etaMin must be finite and non-negative, got \(etaMin)")
    }

    /// `etaMin + (baseLearningRate − etaMin)·(1 + cos(π·epoch/tMax))/2`, computed in Float64.
    public func learningRate(atEpoch epoch: Int) -> Float {
        let low = Double(etaMin), base = Double(baseLearningRate)
        return Float(low + (base - low) * (1 + Foundation.cos(Double.pi * Double(epoch) / Double(tMax))) / 2)
    }

    /// Advances one epoch and sets the optimizer's learning rate.
    public func step() {
        lastEpoch += 1
        optimizer.learningRate = learningRate(atEpoch: lastEpoch)
    }

    /// `last_epoch`, `base_lr`, `T_max`, `eta_min`.
    public func stateDict() -> [String: Double] {
        ["last_epoch": Double(lastEpoch), "base_lr": Double(baseLearningRate),
         "T_max": Double(tMax), "eta_min": Double(etaMin)]
    }

    private func parse(_ state: [String: Double]) throws -> (epoch: Int, base: Float, tMax: Int, etaMin: Float) {
        let op = "CosineAnnealingLR.loadStateDict"
        let reader = try ScheduleStateReader(state, op: op, expected: ["last_epoch", "base_lr", "T_max", "eta_min"])
        let loaded = (try reader.integer("last_epoch", minimum: 0), try reader.float("base_lr"),
                      try reader.integer("T_max", minimum: 1), try reader.float("eta_min"))
        try OptimizerChecks.checkNonNegative(loaded.1, "base_lr", op)
        try CosineAnnealingLR.check(tMax: loaded.2, etaMin: loaded.3, op)
        return loaded
    }

    func checkStateDict(_ state: [String: Double]) throws { _ = try parse(state) }

    /// Restores `stateDict()`'s output (see `LearningRateSchedule`).
    public func loadStateDict(_ state: [String: Double]) throws {
        (lastEpoch, baseLearningRate, tMax, etaMin) = try parse(state)
    }
}
