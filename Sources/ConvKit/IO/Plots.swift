import Foundation

/// Pictures of a training run: loss and accuracy curves (SVG) and a convolution layer's
/// filters (PNG).
public enum Plots {
    // MARK: Training curves

    /// A self-contained SVG document with two panels: the training and test loss per epoch, and
    /// the test accuracy per epoch in percent.
    ///
    /// - Parameters:
    ///   - epochs: the epoch numbers (x axis).
    ///   - trainLoss: the mean training loss of each epoch.
    ///   - testLoss: the test loss of each epoch.
    ///   - testAccuracy: the test accuracy of each epoch as a fraction in [0, 1]; when any value is
    ///     above 1 the values are taken to be percentages already.
    ///
    /// Each series is paired with `epochs` element by element (a shorter series is drawn as far
    /// as it goes). NaN and infinite values (and magnitudes above 1e300) are not drawn: the line
    /// breaks there and the panel notes how many were left out. A single epoch is drawn as markers; no epochs give empty
    /// panels saying so.
    public static func trainingCurvesSVG(epochs: [Int], trainLoss: [Double], testLoss: [Double],
                                         testAccuracy: [Double]) -> String {
        let accuracyIsFraction = !testAccuracy.contains { $0.isFinite && $0 > 1 }
        let accuracyPercent = testAccuracy.map { accuracyIsFraction ? $0 * 100 : $0 }
        let x = epochs.map(Double.init)
        let train = Series(name: "train", color: "#1f77b4", dashed: false, x: x, y: trainLoss)
        let test = Series(name: "test", color: "#d62728", dashed: true, x: x, y: testLoss)
        let accuracy = Series(name: "test", color: "#2ca02c", dashed: false, x: x, y: accuracyPercent)

        let panelWidth = 460.0, height = 360.0
        var svg = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(format(2 * panelWidth))" height="\(format(height))" \
        viewBox="0 0 \(format(2 * panelWidth)) \(format(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect x="0" y="0" width="\(format(2 * panelWidth))" height="\(format(height))" fill="#ffffff"/>

        """
        let lastAccuracy = Array(zip(epochs, accuracyPercent)).last(where: { $0.1.isFinite }).map { "last: \(format($0.1, decimals: 2))%" }
        svg += panel(title: "Loss", yLabel: "loss", series: [train, test], offsetX: 0, width: panelWidth, height: height,
                     yRange: lossRange([train, test]), legend: true, note: nil)
        svg += panel(title: "Test accuracy (%)", yLabel: "accuracy (%)", series: [accuracy], offsetX: panelWidth,
                     width: panelWidth, height: height, yRange: accuracyRange(accuracy), legend: false, note: lastAccuracy)
        svg += "</svg>\n"
        return svg
    }

    /// One line of a panel.
    struct Series {
        var name: String
        var color: String
        var dashed: Bool
        var points: [(x: Double, y: Double)]
        var skipped: Int

        init(name: String, color: String, dashed: Bool, x: [Double], y: [Double]) {
            self.name = name
            self.color = color
            self.dashed = dashed
            // Magnitudes past 1e300 are treated as infinite (the axis arithmetic would overflow).
            let pairs = zip(x, y).map { (x: $0.0, y: abs($0.1) <= 1e300 ? $0.1 : .infinity) }
            points = pairs
            skipped = pairs.filter { !$0.y.isFinite }.count
        }

        var finiteValues: [Double] { points.map(\.y).filter(\.isFinite) }
    }

    static func lossRange(_ series: [Series]) -> (Double, Double) {
        let values = series.flatMap(\.finiteValues)
        guard let high = values.max() else { return (0, 1) }
        let low = min(values.min()!, 0)
        // 5% headroom so that the largest value does not sit on the frame.
        return high > low ? (low, high + 0.05 * (high - low)) : (low, low + 1)
    }

    static func accuracyRange(_ series: Series) -> (Double, Double) {
        let values = series.finiteValues
        guard var low = values.min(), var high = values.max() else { return (0, 100) }
        if high - low < 1 {
            low -= 0.5
            high += 0.5
        }
        high = max(high, low + 1)
        return (max(low, 0), min(high + 0.05 * (high - low), 100))
    }

    /// Round tick values covering [low, high] with a 1-2-5 step, about `target` of them.
    static func niceTicks(_ low: Double, _ high: Double, target: Int = 6, integer: Bool = false) -> (ticks: [Double], low: Double, high: Double, step: Double) {
        let span = max(high - low, 1e-12)
        let rough = span / Double(max(target - 1, 1))
        let magnitude = pow(10, floor(log10(rough)))
        var step = magnitude
        for multiple in [1.0, 2.0, 5.0, 10.0] where multiple * magnitude >= rough {
            step = multiple * magnitude
            break
        }
        if integer { step = max(1, step.rounded(.up)) }
        let first = (low / step).rounded(.down) * step
        let last = (high / step).rounded(.up) * step
        var ticks: [Double] = []
        var k = 0
        while true {
            let value = first + Double(k) * step
            if value > last + step * 1e-9 || ticks.count > 100 { break }
            ticks.append(abs(value) < step * 1e-9 ? 0 : value)
            k += 1
        }
        return (ticks, first, last, step)
    }

    static func panel(title: String, yLabel: String, series: [Series], offsetX: Double, width: Double, height: Double,
                      yRange: (Double, Double), legend: Bool, note: String?) -> String {
        let left = offsetX + 64, right = offsetX + width - 16, top = 40.0, bottom = height - 72
        var out = "<g class=\"panel\">\n"
        out += "<text x=\"\(format((left + right) / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(escape(title))</text>\n"
        out += "<rect x=\"\(format(left))\" y=\"\(format(top))\" width=\"\(format(right - left))\" height=\"\(format(bottom - top))\" fill=\"none\" stroke=\"#333333\"/>\n"

        let allX = series.flatMap { $0.points.map(\.x) }.filter(\.isFinite)
        guard let minX = allX.min(), let maxX = allX.max() else {
            out += "<text x=\"\(format((left + right) / 2))\" y=\"\(format((top + bottom) / 2))\" text-anchor=\"middle\" fill=\"#777777\">no data</text>\n"
            return out + "</g>\n"
        }
        let xTicks = niceTicks(minX, maxX, target: 8, integer: true)
        // Half a step of room on each side so that a single epoch sits in the middle.
        let xLow = minX == maxX ? minX - 1 : minX, xHigh = minX == maxX ? maxX + 1 : maxX
        let yTicks = niceTicks(yRange.0, yRange.1, target: 6)
        let yLow = yTicks.low, yHigh = yTicks.high
        func px(_ x: Double) -> Double { left + 12 + (x - xLow) / (xHigh - xLow) * (right - left - 24) }
        func py(_ y: Double) -> Double { bottom - (y - yLow) / (yHigh - yLow) * (bottom - top) }

        let yDecimals = Int(min(max(-floor(log10(yTicks.step)), 0), 12))
        for tick in yTicks.ticks {
            let y = py(tick)
            out += "<line x1=\"\(format(left))\" y1=\"\(format(y))\" x2=\"\(format(right))\" y2=\"\(format(y))\" stroke=\"#e5e5e5\"/>\n"
            out += "<line x1=\"\(format(left - 5))\" y1=\"\(format(y))\" x2=\"\(format(left))\" y2=\"\(format(y))\" stroke=\"#333333\"/>\n"
            out += "<text x=\"\(format(left - 8))\" y=\"\(format(y + 4))\" text-anchor=\"end\">\(format(tick, decimals: yDecimals))</text>\n"
        }
        for tick in xTicks.ticks where tick >= xLow - 1e-9 && tick <= xHigh + 1e-9 {
            let x = px(tick)
            out += "<line x1=\"\(format(x))\" y1=\"\(format(bottom))\" x2=\"\(format(x))\" y2=\"\(format(bottom + 5))\" stroke=\"#333333\"/>\n"
            out += "<text x=\"\(format(x))\" y=\"\(format(bottom + 19))\" text-anchor=\"middle\">\(format(tick, decimals: 0))</text>\n"
        }
        out += "<text x=\"\(format((left + right) / 2))\" y=\"\(format(bottom + 36))\" text-anchor=\"middle\">epoch</text>\n"
        out += "<text transform=\"translate(\(format(offsetX + 16)) \(format((top + bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"

        for line in series {
            let dash = line.dashed ? " stroke-dasharray=\"6 4\"" : ""
            var run: [String] = []
            func flush() {
                if run.count >= 2 {
                    out += "<polyline class=\"series-\(line.name)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"\(dash) points=\"\(run.joined(separator: " "))\"/>\n"
                }
                run.removeAll()
            }
            for point in line.points {
                guard point.y.isFinite, point.x.isFinite else { flush(); continue }
                run.append("\(format(px(point.x))),\(format(py(point.y)))")
            }
            flush()
            for point in line.points where point.y.isFinite && point.x.isFinite {
                out += "<circle cx=\"\(format(px(point.x)))\" cy=\"\(format(py(point.y)))\" r=\"3\" fill=\"\(line.color)\">"
                out += "<title>epoch \(format(point.x, decimals: 0)): \(format(point.y, decimals: 4))</title></circle>\n"
            }
        }

        if let note {
            out += "<text x=\"\(format(left + 8))\" y=\"\(format(top + 16))\" fill=\"#555555\">\(escape(note))</text>\n"
        }
        // Values left out are listed under the axis, where they cannot hide data.
        for (i, line) in series.filter({ $0.skipped > 0 }).enumerated() {
            let text = "\(line.name): \(line.skipped) non-finite value\(line.skipped == 1 ? "" : "s") not drawn"
            out += "<text x=\"\(format(offsetX + 16))\" y=\"\(format(height - 14 + 12 * Double(i) - 12 * Double(series.filter { $0.skipped > 0 }.count - 1)))\" font-size=\"11\" fill=\"#b22222\">\(escape(text))</text>\n"
        }
        if legend {
            let legendX = right - 96
            for (i, line) in series.enumerated() {
                let y = top + 16 + 16 * Double(i)
                let dash = line.dashed ? " stroke-dasharray=\"6 4\"" : ""
                out += "<line x1=\"\(format(legendX))\" y1=\"\(format(y - 4))\" x2=\"\(format(legendX + 26))\" y2=\"\(format(y - 4))\" stroke=\"\(line.color)\" stroke-width=\"2\"\(dash)/>\n"
                out += "<text x=\"\(format(legendX + 32))\" y=\"\(format(y))\">\(escape(line.name))</text>\n"
            }
        }
        return out + "</g>\n"
    }

    static func format(_ value: Double, decimals: Int = 1) -> String {
        guard value.isFinite else { return "0" }
        return String(format: "%.\(decimals)f", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    // MARK: Filter grid

    /// The colour of the grid lines and empty cells of `filterGridPNG` (a blue no filter pixel
    /// can take, since single-channel filters are grey).
    public static let filterGridBorderColor: (red: UInt8, green: UInt8, blue: UInt8) = (40, 80, 150)

    /// A PNG (8-bit RGB) picture of a convolution layer's filters: one tile per output channel,
    /// row by row, separated and surrounded by a 1-pixel border of `filterGridBorderColor`.
    ///
    /// Each filter is normalised to its own minimum (black) and maximum (white); a constant
    /// filter is mid-grey and non-finite weights are black. With three input channels the
    /// filter is shown in colour (R, G, B = input channels 0, 1, 2, normalised together);
    /// otherwise its first input channel is shown in grey.
    /// - Parameters:
    ///   - weights: a float32 tensor `[outC, inC, kH, kW]` (any device).
    ///   - scale: each weight becomes a `scale` × `scale` block; by default about 32 pixels per tile side.
    ///   - columns: tiles per row; by default ⌈√outC⌉.
    /// - Throws: `ConvKitError.invalidArgument` for another rank, dtype, an empty dimension, a
    ///   non-positive `scale` or `columns`, or a picture over `GrayImage.maximumPixelCount` pixels.
    public static func filterGridPNG(weights: Tensor, scale: Int? = nil, columns: Int? = nil) throws -> [UInt8] {
        let op = "Plots.filterGridPNG"
        try require(weights.dtype == .float32, op, "weights are \(weights.dtype), expected float32")
        try require(weights.rank == 4, op, "expected weights of shape [outC, inC, kH, kW], got \(weights.shape)")
        let outChannels = weights.shape[0], inChannels = weights.shape[1], kernelH = weights.shape[2], kernelW = weights.shape[3]
        try require(weights.shape.allSatisfy { $0 > 0 }, op, "weights of shape \(weights.shape) are empty")
        let tileScale = scale ?? max(1, 32 / max(kernelH, kernelW))
        try require(tileScale >= 1 && tileScale <= 1024, op, "scale must be in 1...1024, got \(tileScale)")
        let gridColumns = columns ?? Int(Double(outChannels).squareRoot().rounded(.up))
        try require(gridColumns >= 1, op, "columns must be positive, got \(gridColumns)")
        let gridRows = (outChannels - 1) / gridColumns + 1
        let tileW = kernelW * tileScale, tileH = kernelH * tileScale
        let (widthPart, overflowW) = gridColumns.multipliedReportingOverflow(by: tileW + 1)
        let (heightPart, overflowH) = gridRows.multipliedReportingOverflow(by: tileH + 1)
        try require(!overflowW && !overflowH && widthPart < GrayImage.maximumPixelCount && heightPart < GrayImage.maximumPixelCount
                    && (widthPart + 1) * (heightPart + 1) <= GrayImage.maximumPixelCount, op,
                    "the picture would be larger than \(GrayImage.maximumPixelCount) pixels; use a smaller scale")
        let width = widthPart + 1, height = heightPart + 1

        let values = try weights.detach().toArray()
        let border = filterGridBorderColor
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for p in 0..<(width * height) {
            rgb[3 * p] = border.red
            rgb[3 * p + 1] = border.green
            rgb[3 * p + 2] = border.blue
        }
        let plane = kernelH * kernelW
        let colour = inChannels == 3
        for filter in 0..<outChannels {
            let start = filter * inChannels * plane
            let shown = Array(values[start..<(start + (colour ? 3 : 1) * plane)])
            let unit = GrayImage.toUnitRange(shown, normalize: true)
            let originX = 1 + (filter % gridColumns) * (tileW + 1)
            let originY = 1 + (filter / gridColumns) * (tileH + 1)
            for ty in 0..<tileH {
                for tx in 0..<tileW {
                    let k = (ty / tileScale) * kernelW + tx / tileScale
                    let pixel = 3 * ((originY + ty) * width + originX + tx)
                    for c in 0..<3 {
                        let value = unit[(colour ? c * plane : 0) + k]
                        rgb[pixel + c] = UInt8((value * 255).rounded())
                    }
                }
            }
        }
        return try PNG.encodeRGB(width: width, height: height, rgb: rgb)
    }
}
