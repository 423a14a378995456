import ConvKit
import Foundation

/// Draws training progress on standard error: on a terminal one line redrawn in place
/// (`\r`) with a bar, the running loss, images per second and the time left; otherwise (a log
/// file, a pipe) a plain line at every tenth of the epoch.
final class ProgressBar: TrainingProgress {
    private let isTerminal: Bool
    private let width = 30
    private var epochLabel = ""
    private var lastTenth = 0
    private var lastDraw: UInt64 = 0

    /// A progress bar; `isTerminal` defaults to whether standard error is a TTY.
    init(isTerminal: Bool = isatty(STDERR_FILENO) == 1) {
        self.isTerminal = isTerminal
    }

    func epochStarted(epoch: Int, totalEpochs: Int, batches: Int, images: Int) {
        epochLabel = "epoch \(epoch)/\(totalEpochs)"
        lastTenth = 0
        lastDraw = 0
    }

    func batchFinished(batch: Int, batches: Int, imagesSoFar: Int, meanLoss: Double, elapsed: Double) {
        let fraction = Double(batch) / Double(max(batches, 1))
        let rate = Double(imagesSoFar) / max(elapsed, 1e-9)
        let eta = elapsed / max(fraction, 1e-9) - elapsed
        let numbers = String(format: "loss %.4f  %.0f img/s  ETA %@", meanLoss, rate, ProgressBar.duration(eta))
        if isTerminal {
            let now = DispatchTime.now().uptimeNanoseconds
            guard batch == batches || now - lastDraw > 100_000_000 else { return }
            lastDraw = now
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            write("\r\(epochLabel) \(bar) \(String(format: "%3.0f%%", fraction * 100))  \(numbers)\u{1B}[K")
        } else {
            let tenth = Int(fraction * 10)
            guard tenth > lastTenth else { return }
            lastTenth = tenth
            write("\(epochLabel) \(String(format: "%3d%%", tenth * 10))  \(numbers)\n")
        }
    }

    func evaluationStarted(epoch: Int) {
        if isTerminal { write("\r\(epochLabel) evaluating…\u{1B}[K") }
    }

    func epochFinished(_ metrics: EpochMetrics) {
        if isTerminal { write("\r\u{1B}[K") }
    }

    /// `1m05s`, `42s`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s"
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
