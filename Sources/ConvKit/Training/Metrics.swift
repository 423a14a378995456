import Foundation

/// What one training epoch measured; one line of `metrics.jsonl`.
public struct EpochMetrics: Equatable, Codable {
    /// The epoch number, counting from 1.
    public var epoch: Int
    /// The mean training loss over the epoch's batches (weighted by batch size).
    public var trainLoss: Double
    /// The mean cross-entropy on the test set.
    public var testLoss: Double
    /// The test accuracy (fraction in [0, 1]).
    public var testAccuracy: Double
    /// The learning rate the epoch trained with.
    public var learningRate: Double
    /// Training images per second (training steps only, evaluation excluded).
    public var imagesPerSecond: Double
    /// Seconds of the epoch: training and evaluation (not writing the run directory's files).
    public var seconds: Double
    /// Seconds of the training steps alone.
    public var trainSeconds: Double

    enum CodingKeys: String, CodingKey {
        case epoch, trainLoss = "train_loss", testLoss = "test_loss",
             testAccuracy = "test_accuracy", learningRate = "lr", imagesPerSecond = "images_per_second",
             seconds, trainSeconds = "train_seconds"
    }

    /// Creates the metrics of one epoch.
    public init(epoch: Int, trainLoss: Double, testLoss: Double, testAccuracy: Double,
                learningRate: Double, imagesPerSecond: Double, seconds: Double, trainSeconds: Double) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.testLoss = testLoss
        self.testAccuracy = testAccuracy
        self.learningRate = learningRate
        self.imagesPerSecond = imagesPerSecond
        self.seconds = seconds
        self.trainSeconds = trainSeconds
    }

    /// One line of JSON (keys sorted, no newline). Non-finite numbers (a diverged loss) are
    /// written as `null`, since JSON has no NaN.
    public func jsonLine() -> String {
        let fields: [(String, Double?)] = [
            ("epoch", Double(epoch)), ("images_per_second", imagesPerSecond), ("lr", learningRate),
            ("seconds", seconds), ("test_accuracy", testAccuracy), ("test_loss", testLoss),
            ("train_loss", trainLoss), ("train_seconds", trainSeconds),
        ]
        let body = fields.map { key, value -> String in
            guard let value, value.isFinite else { return "\"\(key)\":null" }
            if key == "epoch" { return "\"epoch\":\(epoch)" }
            return "\"\(key)\":\(value)"
        }
        return "{" + body.joined(separator: ",") + "}"
    }

    /// Parses a line written by `jsonLine()` (`null` becomes NaN).
    /// - Throws: `ConvKitError.invalidArgument` when the line is not such an object.
    public static func parse(jsonLine line: String) throws -> EpochMetrics {
        // A flat object of numbers and nulls, read by hand: Foundation's JSON reader on Linux
        // does not round decimals correctly, and a resumed run must rewrite the same bytes.
        func invalid(_ why: String) -> ConvKitError {
            ConvKitError.invalidArgument(op: "EpochMetrics", message: "\(why): \(line.prefix(80))")
        }
        let text = line.trimmingCharacters(in: .whitespaces)
        guard text.hasPrefix("{"), text.hasSuffix("}"), text.count >= 2 else { throw invalid("not a JSON object") }
        var fields: [String: String] = [:]
        for pair in text.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false) {
            guard let colon = pair.firstIndex(of: ":") else { throw invalid("not a JSON object") }
            let key = pair[..<colon].trimmingCharacters(in: .whitespaces)
            guard key.count >= 2, key.hasPrefix("\""), key.hasSuffix("\"") else { throw invalid("not a JSON object") }
            fields[String(key.dropFirst().dropLast())] = pair[pair.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        func number(_ key: String) throws -> Double {
            guard let raw = fields[key] else { throw invalid("metrics line has no number \"\(key)\"") }
            if raw == "null" { return .nan }
            guard let value = Double(raw), value.isFinite else { throw invalid("metrics line has no number \"\(key)\"") }
            return value
        }
        let epoch = try number("epoch")
        try require(epoch.isFinite && epoch >= 1 && epoch.rounded() == epoch, "EpochMetrics", "epoch must be a positive integer, got \(epoch)")
        return EpochMetrics(epoch: Int(epoch), trainLoss: try number("train_loss"),
                            testLoss: try number("test_loss"), testAccuracy: try number("test_accuracy"),
                            learningRate: try number("lr"), imagesPerSecond: try number("images_per_second"),
                            seconds: try number("seconds"), trainSeconds: try number("train_seconds"))
    }
}

/// Counts of (true class, predicted class) pairs.
public struct ConfusionMatrix: Equatable {
    /// The number of classes.
    public let classes: Int
    /// `counts[truth][prediction]`.
    public private(set) var counts: [[Int]]

    /// An empty matrix for `classes` classes.
    /// - Throws: `ConvKitError.invalidArgument` (op `ConfusionMatrix`) for a negative count or more than 100,000 classes.
    public init(classes: Int) throws {
        try require(classes >= 0 && classes <= 100_000, "ConfusionMatrix", "classes must be in 0...100000, got \(classes)")
        self.classes = classes
        counts = Array(repeating: Array(repeating: 0, count: classes), count: classes)
    }

    /// Counts one sample.
    /// - Throws: `ConvKitError.invalidArgument` (op `ConfusionMatrix`) when a class is outside `0..<classes`.
    public mutating func add(truth: Int, prediction: Int) throws {
        try require(truth >= 0 && truth < classes && prediction >= 0 && prediction < classes, "ConfusionMatrix",
                    "truth \(truth) and prediction \(prediction) must be classes in 0..<\(classes)")
        counts[truth][prediction] += 1
    }

    /// Samples counted.
    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }
    /// Samples on the diagonal.
    public var correct: Int { (0..<classes).reduce(0) { $0 + counts[$1][$1] } }
    /// `correct / total` (0 when empty).
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

    /// The accuracy of each true class (nil for a class with no samples).
    public var perClassAccuracy: [Double?] {
        (0..<classes).map { c in
            let row = counts[c].reduce(0, +)
            return row == 0 ? nil : Double(counts[c][c]) / Double(row)
        }
    }

    /// The matrix as text: a header of predicted classes, one row per true class.
    public func table() -> String {
        let width = max(5, String(counts.flatMap { $0 }.max() ?? 0).count + 1)
        func cell(_ text: String) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        var lines = ["true\\pred" + (0..<classes).map { cell(String($0)) }.joined()]
        for c in 0..<classes {
            lines.append(cell(String(c)).padding(toLength: 9, withPad: " ", startingAt: 0) + counts[c].map { cell(String($0)) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}

/// The result of evaluating a model on a data set.
public struct EvaluationResult {
    /// The mean cross-entropy.
    public var loss: Double
    /// The confusion matrix of true and predicted classes.
    public var confusion: ConfusionMatrix
    /// The fraction classified correctly.
    public var accuracy: Double { confusion.accuracy }
    /// Samples evaluated.
    public var count: Int { confusion.total }
}
