import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import ConvKit

/// Collects the elements and attributes of an XML document (and whether it parsed).
private final class SVGCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var texts: [String] = []
    private var currentText = ""
    var error: Error?

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append((elementName, attributes))
        currentText = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { currentText += string }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        if elementName == "text" || elementName == "title" { texts.append(currentText) }
        currentText = ""
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) { error = parseError }

    static func parse(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> SVGCollector {
        let collector = SVGCollector()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = collector
        let ok = parser.parse()
        XCTAssertTrue(ok, "SVG is not well-formed XML: \(String(describing: collector.error ?? parser.parserError))", file: file, line: line)
        return collector
    }

    func count(_ name: String) -> Int { elements.filter { $0.name == name }.count }
    func all(_ name: String) -> [[String: String]] { elements.filter { $0.name == name }.map(\.attributes) }
}

final class PlotTests: XCTestCase {
    func testTrainingCurvesSVGHasTwoPanelsAxesAndLegend() throws {
        let svg = Plots.trainingCurvesSVG(epochs: [1, 2, 3, 4, 5], trainLoss: [2.1, 0.9, 0.5, 0.3, 0.2],
                                          testLoss: [1.5, 0.8, 0.45, 0.35, 0.3], testAccuracy: [0.62, 0.85, 0.93, 0.97, 0.991])
        XCTAssertTrue(svg.hasPrefix("<?xml"))
        let xml = SVGCollector.parse(svg)
        XCTAssertEqual(xml.elements.first?.name, "svg")
        XCTAssertEqual(xml.elements.first?.attributes["xmlns"], "http://www.w3.org/2000/svg")
        XCTAssertEqual(xml.count("g"), 2, "two panels")
        // train + test loss lines, accuracy line.
        let lines = xml.all("polyline")
        XCTAssertEqual(lines.count, 3)
        XCTAssertEqual(lines.map { $0["class"] ?? "" }, ["series-train", "series-test", "series-test"])
        for line in lines { XCTAssertEqual(line["points"]?.split(separator: " ").count, 5) }
        XCTAssertEqual(xml.count("circle"), 15, "a marker per value")
        XCTAssertTrue(xml.texts.contains("Loss"))
        XCTAssertTrue(xml.texts.contains("Test accuracy (%)"))
        XCTAssertTrue(xml.texts.contains("train"), "legend")
        XCTAssertTrue(xml.texts.contains("test"), "legend")
        XCTAssertEqual(xml.texts.filter { $0 == "epoch" }.count, 2, "x-axis labels")
        XCTAssertTrue(xml.texts.contains("last: 99.10%"))
        XCTAssertTrue(xml.texts.contains("epoch 5: 99.1000"), "accuracy is shown in percent")
        // Epoch ticks 1...5 on both panels.
        for epoch in 1...5 { XCTAssertEqual(xml.texts.filter { $0 == "\(epoch)" }.count, 2, "tick \(epoch)") }

        // Markers lie inside the plotting areas (the panels' frames).
        let frames = xml.all("rect").dropFirst().map { rect in
            (x: Double(rect["x"]!)!, y: Double(rect["y"]!)!, width: Double(rect["width"]!)!, height: Double(rect["height"]!)!)
        }
        XCTAssertEqual(frames.count, 2)
        for circle in xml.all("circle") {
            let cx = Double(circle["cx"]!)!, cy = Double(circle["cy"]!)!
            XCTAssertTrue(frames.contains { cx >= $0.x && cx <= $0.x + $0.width && cy >= $0.y && cy <= $0.y + $0.height },
                          "marker (\(cx), \(cy)) outside the panels")
        }
        // Higher loss is drawn higher up (smaller y).
        let trainPoints = lines[0]["points"]!.split(separator: " ").map { Double($0.split(separator: ",")[1])! }
        XCTAssertEqual(trainPoints, trainPoints.sorted())
    }

    func testTrainingCurvesWithOneEpochNaNsAndNoData() throws {
        let one = SVGCollector.parse(Plots.trainingCurvesSVG(epochs: [1], trainLoss: [0.3], testLoss: [0.25], testAccuracy: [0.9]))
        XCTAssertEqual(one.count("polyline"), 0, "a single point has no line")
        XCTAssertEqual(one.count("circle"), 3)
        for circle in one.all("circle") { XCTAssertFalse(circle.values.contains { $0.contains("nan") || $0.contains("inf") }) }

        let nan = Plots.trainingCurvesSVG(epochs: [1, 2, 3, 4, 5], trainLoss: [1, .nan, 0.5, 0.4, 0.3],
                                          testLoss: [.infinity, 0.9, 0.6, .nan, 0.4], testAccuracy: [.nan, .nan, .nan, .nan, .nan])
        XCTAssertFalse(nan.lowercased().contains("nan\""), "no NaN coordinates")
        let xml = SVGCollector.parse(nan)
        // train: [1] | [0.5, 0.4, 0.3] → one polyline; test: [0.9, 0.6] | [0.4] → one polyline.
        XCTAssertEqual(xml.count("polyline"), 2)
        XCTAssertEqual(xml.count("circle"), 7)
        XCTAssertTrue(xml.texts.contains("train: 1 non-finite value not drawn"))
        XCTAssertTrue(xml.texts.contains("test: 2 non-finite values not drawn"))
        XCTAssertTrue(xml.texts.contains("test: 5 non-finite values not drawn"))
        for element in xml.elements {
            for (key, value) in element.attributes where ["x", "y", "cx", "cy", "points"].contains(key) {
                XCTAssertFalse(value.lowercased().contains("nan") || value.lowercased().contains("inf"), "\(key)=\(value)")
            }
        }

        let empty = SVGCollector.parse(Plots.trainingCurvesSVG(epochs: [], trainLoss: [], testLoss: [], testAccuracy: []))
        XCTAssertEqual(empty.texts.filter { $0 == "no data" }.count, 2)
        // Mismatched lengths draw what pairs up; percentages above 1 are taken as they are.
        let ragged = SVGCollector.parse(Plots.trainingCurvesSVG(epochs: [1, 2, 3], trainLoss: [1, 0.5], testLoss: [1, 0.7, 0.6, 0.5],
                                                                testAccuracy: [97.5, 98.25, 98.5]))
        XCTAssertEqual(ragged.all("polyline").map { $0["points"]!.split(separator: " ").count }, [2, 3, 3])
        XCTAssertTrue(ragged.texts.contains("last: 98.50%"))
    }

    func testNiceTicks() {
        let ticks = Plots.niceTicks(0, 2.3)
        XCTAssertEqual(ticks.step, 0.5)
        XCTAssertEqual(ticks.ticks, [0, 0.5, 1, 1.5, 2, 2.5])
        XCTAssertEqual(Plots.niceTicks(1, 30, target: 8, integer: true).step, 5)
        XCTAssertEqual(Plots.niceTicks(1, 2, target: 8, integer: true).ticks, [1, 2])
        XCTAssertEqual(Plots.niceTicks(97.3, 99.1).ticks.first, 97)
    }

    // MARK: Filter grid

    func testFilterGridPNGLayoutAndNormalisation() throws {
        // 5 filters of 1 input channel, 2×3 kernels: filter f holds f·6 + 0...5, except filter 2
        // (constant) and filter 4 (a NaN).
        var values = (0..<30).map(Float.init)
        for i in 12..<18 { values[i] = 7 }
        values[25] = .nan
        let weights = try Tensor(values, shape: [5, 1, 2, 3])
        let png = try Plots.filterGridPNG(weights: weights, scale: 4)
        let decoded = try PNG.decodeRGBA(png)
        // 3 columns (⌈√5⌉), 2 rows; tiles 12×8 plus 1-pixel borders.
        XCTAssertEqual(decoded.width, 3 * 13 + 1)
        XCTAssertEqual(decoded.height, 2 * 9 + 1)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] {
            (0..<3).map { UInt8((decoded.rgba[4 * (y * decoded.width + x) + $0] * 255).rounded()) }
        }
        let border = Plots.filterGridBorderColor
        let borderPixel = [border.red, border.green, border.blue]
        XCTAssertEqual(pixel(0, 0), borderPixel)
        XCTAssertEqual(pixel(13, 5), borderPixel, "between tiles")
        XCTAssertEqual(pixel(30, 15), borderPixel, "the empty sixth cell")
        // Filter 1 at tile (1, 0): weight (0, 0) is its minimum → black, (1, 2) its maximum → white.
        XCTAssertEqual(pixel(14, 1), [0, 0, 0])
        XCTAssertEqual(pixel(14 + 11, 1 + 7), [255, 255, 255])
        XCTAssertEqual(pixel(14 + 4, 1), [51, 51, 51], "weight (0, 1) = 1/5 of the range")
        XCTAssertEqual(pixel(14 + 7, 1 + 3), [51, 51, 51], "a 4×4 block per weight")
        XCTAssertEqual(pixel(27, 1), [128, 128, 128], "the constant filter is mid-grey")
        XCTAssertEqual(pixel(14 + 4, 10), [0, 0, 0], "NaN weight is black")
        XCTAssertEqual(pixel(14 + 8, 10 + 4), [255, 255, 255])

        let grey = try PNG.decode(png)
        XCTAssertEqual(grey.width, 40)
    }

    func testFilterGridPNGColourForThreeInputChannelsAndDefaults() throws {
        // One 1×1 RGB filter per output channel: pure red, green, blue after normalisation.
        var values: [Float] = []
        for f in 0..<4 { for c in 0..<3 { values.append(c == f % 3 ? 2 : -1) } }
        let png = try Plots.filterGridPNG(weights: Tensor(values, shape: [4, 3, 1, 1]), scale: 3, columns: 4)
        let decoded = try PNG.decodeRGBA(png)
        XCTAssertEqual(decoded.width, 4 * 4 + 1)
        XCTAssertEqual(decoded.height, 4 + 1)
        func pixel(_ x: Int, _ y: Int) -> [Float] { Array(decoded.rgba[(4 * (y * decoded.width + x))..<(4 * (y * decoded.width + x) + 3)]) }
        XCTAssertEqual(pixel(2, 2), [1, 0, 0])
        XCTAssertEqual(pixel(6, 2), [0, 1, 0])
        XCTAssertEqual(pixel(10, 2), [0, 0, 1])
        XCTAssertEqual(pixel(14, 2), [1, 0, 0])

        // Defaults: LeNet-5's first layer (6 filters 5×5) → 3×2 grid of 30-pixel tiles.
        var generator = Philox(seed: 1)
        let lenet = try Tensor.normal([6, 1, 5, 5], generator: &generator)
        let picture = try PNG.decode(Plots.filterGridPNG(weights: lenet))
        XCTAssertEqual(picture.width, 3 * 31 + 1)
        XCTAssertEqual(picture.height, 2 * 31 + 1)
        // AlexNet-like 11×11 with 4 input channels: the first channel in grey.
        let alex = try Tensor.normal([10, 4, 11, 11], generator: &generator)
        let alexPicture = try PNG.decodeRGBA(Plots.filterGridPNG(weights: alex))
        XCTAssertEqual(alexPicture.width, 4 * 23 + 1)
        XCTAssertEqual(alexPicture.height, 3 * 23 + 1)
        let tile = alexPicture.rgba[(4 * (1 * alexPicture.width + 1))..<(4 * (1 * alexPicture.width + 1) + 3)]
        XCTAssertEqual(Set(tile).count, 1, "grey")
    }

    func testFilterGridPNGRejectsBadArguments() throws {
        assertThrowsConvKitError(try Plots.filterGridPNG(weights: Tensor.zeros([2, 3, 3])), "Plots.filterGridPNG", "[outC, inC, kH, kW]")
        assertThrowsConvKitError(try Plots.filterGridPNG(weights: Tensor.zeros([0, 1, 3, 3])), "Plots.filterGridPNG", "empty")
        assertThrowsConvKitError(try Plots.filterGridPNG(weights: Tensor(indices: [1], shape: [1, 1, 1, 1])), "float32")
        assertThrowsConvKitError(try Plots.filterGridPNG(weights: Tensor.zeros([1, 1, 3, 3]), scale: 0), "scale")
        assertThrowsConvKitError(try Plots.filterGridPNG(weights: Tensor.zeros([1, 1, 3, 3]), columns: 0), "columns")
        assertThrowsConvKitError(try Plots.filterGridPNG(weights: Tensor.zeros([64, 1, 64, 64]), scale: 1000), "larger than")
        assertThrowsConvKitError(try Plots.filterGridPNG(weights: Tensor.zeros([3, 1, 3, 3]), columns: Int.max), "larger than")
    }
}

extension PlotTests {
    /// Extreme and random inputs always give well-formed SVG without NaN coordinates.
    func testTrainingCurvesSurviveExtremeValues() {
        var rng = TestRNG(seed: 17)
        let specials: [Double] = [0, -0.0, 1e-300, -1e-300, 1e300, -1e300, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                  .leastNonzeroMagnitude, .nan, .infinity, -.infinity, 1, 2.5, 1e9]
        for trial in 0..<40 {
            let count = rng.int(0...6)
            func series() -> [Double] {
                (0..<rng.int(0...7)).map { _ in rng.bool() ? specials[rng.int(0...(specials.count - 1))] : Double(rng.next() % 1000) / 100 }
            }
            let epochs = (0..<count).map { _ in rng.bool() ? rng.int(-3...50) : [Int.min, Int.max, 0][rng.int(0...2)] }
            let svg = Plots.trainingCurvesSVG(epochs: epochs, trainLoss: series(), testLoss: series(), testAccuracy: series())
            let xml = SVGCollector.parse(svg)
            for element in xml.elements {
                for (key, value) in element.attributes where ["x", "y", "cx", "cy", "points", "x1", "y1", "x2", "y2"].contains(key) {
                    XCTAssertFalse(value.lowercased().contains("nan") || value.lowercased().contains("inf"), "trial \(trial): \(key)=\(value)")
                }
            }
        }
    }
}
