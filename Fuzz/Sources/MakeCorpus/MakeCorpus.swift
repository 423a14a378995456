// Writes the seed inputs of every fuzz target, each a small valid file made with ConvKit's own
// writers (or, for the PNG colour types and bit depths ConvKit does not write, the encoder below),
// and checks that each one reads back as intended. Run by `scripts/fuzz.sh seeds`:
//   swift run --package-path Fuzz MakeCorpus <corpus-directory> [<mnist-directory>]
import ConvKit
import Foundation
import FuzzHarness

@main
struct MakeCorpus {
    static func main() throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else {
            print("usage: MakeCorpus <corpus-directory> [<mnist-directory>]")
            exit(2)
        }
        let corpus = URL(fileURLWithPath: arguments[1])
        let mnist = URL(fileURLWithPath: arguments.count > 2 ? arguments[2]
            : ProcessInfo.processInfo.environment["CONVKIT_MNIST_DIR"] ?? "../shared/data/mnist")
        var writer = SeedWriter(corpus: corpus)
        try idxAndGzipSeeds(&writer, mnist: mnist)
        try safetensorsSeeds(&writer)
        try checkpointSeeds(&writer)
        try imageSeeds(&writer, mnist: mnist)
        for (target, count) in writer.counts.sorted(by: { $0.key < $1.key }) { print("\(target): \(count) seeds") }
    }

    // MARK: IDX and gzip

    static func idxAndGzipSeeds(_ writer: inout SeedWriter, mnist: URL) throws {
        let images = try IDX.read(contentsOf: mnist.appendingPathComponent("t10k-images-idx3-ubyte.gz"))
        let labels = try IDX.read(contentsOf: mnist.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        let twoImages = try IDX.encode(shape: [2, 28, 28], bytes: Array(images.bytes[0..<(2 * 784)]))
        let oneImage = try IDX.encode(shape: [1, 28, 28], bytes: Array(images.bytes[0..<784]))
        let eightLabels = try IDX.encode(shape: [8], bytes: Array(labels.bytes[0..<8]))
        try writer.write(.idx, "mnist-images-2.idx", twoImages)
        try writer.write(.idx, "mnist-labels-8.idx", eightLabels)
        let compressed = try Gzip.compress(oneImage, level: 9)
        try writer.write(.idx, "mnist-images-1.idx.gz", compressed)
        try writer.write(.gzip, "mnist-images-1.idx.gz", compressed)
        try writer.write(.gzip, "mnist-labels-8-stored.idx.gz", try Gzip.compress(eightLabels, level: 0))
        try writer.write(.gzip, "two-members.gz", try Gzip.compress(eightLabels, level: 1) + Gzip.compress(Array("x".utf8)))
        try writer.write(.gzip, "empty.gz", try Gzip.compress([]))
        // One of each element type, a zero-sized dimension and the most dimensions.
        let typed: [(String, [Int], IDXDataType)] = [
            ("int8", [3], .int8), ("int16", [2, 2], .int16), ("int32", [2], .int32),
            ("float32", [1, 2], .float32), ("float64", [2], .float64), ("empty", [0, 5], .uint8),
            ("rank8", [1, 1, 1, 1, 1, 1, 1, 2], .uint8),
        ]
        for (name, shape, type) in typed {
            let count = shape.reduce(1, *) * type.size
            try writer.write(.idx, "\(name).idx", try IDX.encode(shape: shape, dataType: type, bytes: (0..<count).map { UInt8($0 * 37 & 0xFF) }))
        }
        for (name, bytes) in writer.written(.idx) {
            let array = try IDX.decode(bytes)
            try check(!array.shape.isEmpty, "\(name) does not decode")
        }
        for (name, bytes) in writer.written(.gzip) { _ = try Gzip.decompress(bytes, maxOutputBytes: 1 << 20, path: name) }
    }

    // MARK: safetensors and checkpoints

    static func safetensorsSeeds(_ writer: inout SeedWriter) throws {
        try writer.writeFile(.safetensors, "f32-i32-metadata.safetensors") { url in
            try SafeTensors.write(["conv.weight": try Tensor([0.5, -1, 2, 0.25, 3, -4], shape: [2, 1, 3]),
                                   "conv.bias": try Tensor([1, 2]),
                                   "labels": try Tensor(indices: [3, 1, 4], shape: [3]),
                                   "scalar": try Tensor(scalar: 7)],
                                  metadata: ["format": "pt", "note": "fuzz seed"], to: url)
        }
        try writer.writeFile(.safetensors, "empty.safetensors") { try SafeTensors.write([:], to: $0) }
        // The element types ConvKit reads but does not write, and an empty tensor, by hand.
        var f64 = [UInt8](), i64 = [UInt8](), u8: [UInt8] = [0, 7, 255]
        for value in [1.5, -2.0] as [Double] { withUnsafeBytes(of: value.bitPattern.littleEndian) { f64 += $0 } }
        for value in [-3, 2_000_000_000] as [Int64] { withUnsafeBytes(of: value.littleEndian) { i64 += $0 } }
        let header = #"{"__metadata__":{"k":"v"},"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"#
            + #""e":{"dtype":"F32","shape":[0,3],"data_offsets":[16,16]},"#
            + #""l":{"dtype":"I64","shape":[1,2],"data_offsets":[16,32]},"#
            + #""u":{"dtype":"U8","shape":[3],"data_offsets":[32,35]}}"#
        try writer.write(.safetensors, "f64-i64-u8-empty.safetensors", safetensorsFile(header: header, data: f64 + i64 + u8))
        for (name, bytes) in writer.written(.safetensors) { _ = try SafeTensors.decodeContents(bytes, path: name) }
    }

    /// A safetensors file: the header length, the header padded to 8 bytes, the data.
    static func safetensorsFile(header: String, data: [UInt8]) -> [UInt8] {
        var json = Array(header.utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var out = [UInt8]()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out += $0 }
        return out + json + data
    }

    static func checkpointSeeds(_ writer: inout SeedWriter) throws {
        RandomState.generatorState = Philox(seed: 1)
        let fresh = try FuzzModel()
        try writer.writeFile(.checkpoint, "model-only.safetensors") { url in
            try Checkpoint(model: fresh.model, modelName: "fuzz", epoch: 0).save(to: url)
        }
        // After one training step, so that the optimizer holds momentum buffers.
        let trained = try FuzzModel()
        let x = try Tensor.normal([2, 1, 4, 4])
        try crossEntropy(trained.model(x), try Tensor(indices: [0, 2])).backward()
        try trained.optimizer.step()
        trained.schedule.step()
        try writer.writeFile(.checkpoint, "model-sgd-steplr.safetensors") { url in
            try Checkpoint(model: trained.model, modelName: "fuzz", modelConfig: #"{"classes":3}"#,
                           optimizer: trained.optimizer, schedule: trained.schedule, epoch: 1, globalStep: 1,
                           metadata: ["dataset": "random"]).save(to: url)
        }
        for (name, bytes) in writer.written(.checkpoint) { try FuzzModel().apply(try Checkpoint.decode(bytes, path: name)) }
    }

    // MARK: Images

    static func imageSeeds(_ writer: inout SeedWriter, mnist: URL) throws {
        // Every colour type and bit depth the reader supports, plain and Adam7, with tRNS where allowed.
        let depths: [(colorType: Int, depths: [Int])] = [(0, [1, 2, 4, 8, 16]), (2, [8, 16]), (3, [1, 2, 4, 8]), (4, [8, 16]), (6, [8, 16])]
        for (colorType, bitDepths) in depths {
            for depth in bitDepths {
                for interlaced in [false, true] {
                    let transparency = [0, 2, 3].contains(colorType) ? [false, true] : [false]
                    for withTRNS in transparency {
                        let picture = TestPicture(width: interlaced ? 9 : 7, height: interlaced ? 6 : 5, colorType: colorType,
                                                  bitDepth: depth, interlaced: interlaced, transparency: withTRNS)
                        let name = "c\(colorType)-d\(depth)\(interlaced ? "-adam7" : "")\(withTRNS ? "-trns" : "")"
                        let png = try picture.png()
                        try picture.verify(png, name: name)
                        try writer.write(.image, name + ".png", png)
                        try writer.write(.pngRaster, name + ".raster", picture.rasterInput())
                    }
                }
            }
        }
        // ConvKit's own writers: an MNIST digit as 8-bit grey PNG and PGM, an RGB PNG.
        let images = try IDX.read(contentsOf: mnist.appendingPathComponent("t10k-images-idx3-ubyte.gz"))
        let digit = try GrayImage(width: 28, height: 28, bytes: Array(images.bytes[0..<784]))
        try writer.write(.image, "mnist-digit.png", try PNG.encode(digit))
        try writer.write(.image, "rgb.png", try PNG.encodeRGB(width: 3, height: 2, rgb: (0..<18).map { UInt8($0 * 14) }))
        let small = try digit.resized(width: 8, height: 8)
        try writer.write(.image, "mnist-digit-p5.pgm", try PGM.encode(digit))
        try writer.write(.image, "p5-16bit.pgm", try PGM.encode(small, maxValue: 1000))
        try writer.write(.image, "p2.pgm", try PGM.encode(small, plain: true))
        try writer.write(.image, "p2-comments.pgm", Array("P2 # plain\n3 2 # size\n# maximum:\n15\n0 1 2 # row\n15 14\t13\n".utf8))
        for (name, bytes) in writer.written(.image) { _ = try decodeImage(bytes, path: name) }
    }
}

/// Throws unless `condition` holds (MakeCorpus refuses to write a seed that does not read back).
func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ConvKitError.corruptFile(path: "<seed>", message: message()) }
}

/// Writes seeds into `<corpus>/<target>/` and remembers them.
struct SeedWriter {
    let corpus: URL
    var counts: [String: Int] = [:]
    private var files: [FuzzTarget: [(String, [UInt8])]] = [:]

    init(corpus: URL) { self.corpus = corpus }

    mutating func write(_ target: FuzzTarget, _ name: String, _ bytes: [UInt8]) throws {
        let directory = corpus.appendingPathComponent(target.rawValue)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(bytes).write(to: directory.appendingPathComponent(name))
        files[target, default: []].append((name, bytes))
        counts[target.rawValue, default: 0] += 1
    }

    /// Lets `make` write the file (through a temporary path), then stores its bytes as a seed.
    mutating func writeFile(_ target: FuzzTarget, _ name: String, _ make: (URL) throws -> Void) throws {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("convkit-seed-\(getpid())-\(name)")
        defer { try? FileManager.default.removeItem(at: temporary) }
        try make(temporary)
        try write(target, name, [UInt8](try Data(contentsOf: temporary)))
    }

    func written(_ target: FuzzTarget) -> [(String, [UInt8])] { files[target] ?? [] }
}

/// A small synthetic picture of one PNG colour type and bit depth, its samples known, so the
/// encoded file can be checked against what the decoder returns.
struct TestPicture {
    let width: Int, height: Int, colorType: Int, bitDepth: Int, interlaced: Bool, transparency: Bool

    var channels: Int { [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType]! }
    var maxSample: Int { (1 << bitDepth) - 1 }
    var paletteSize: Int { min(1 << bitDepth, 6) }
    var palette: [[UInt8]] {
        (0..<paletteSize).map { (entry: Int) -> [UInt8] in
            let red = UInt8(entry * 40), green = UInt8(255 - entry * 30), blue = UInt8(entry * 17)
            return [red, green, blue]
        }
    }
    var paletteAlpha: [UInt8] { [0, 128] }
    /// The tRNS key (greyscale: one sample, RGB: three): the samples of pixel (1, 0).
    var key: [Int] { (0..<channels).map { sample(x: 1, y: 0, channel: $0) } }

    /// Sample `channel` of pixel (x, y): a pattern that reaches 0 and the maximum.
    func sample(x: Int, y: Int, channel: Int) -> Int {
        if colorType == 3 { return (x + 2 * y + channel) % paletteSize }
        let pattern = (x * 7 + y * 13 + channel * 5) % 11
        return pattern == 0 ? 0 : pattern == 10 ? maxSample : (pattern * maxSample / 10 + channel) % (maxSample + 1)
    }

    /// The passes: (xStart, yStart, xStep, yStep) of Adam7, or the whole image.
    var passes: [(Int, Int, Int, Int)] {
        interlaced ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)] : [(0, 0, 1, 1)]
    }

    /// The IHDR fields.
    var header: [UInt8] {
        var bytes: [UInt8] = []
        for value in [width, height] { bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
        return bytes + [UInt8(bitDepth), UInt8(colorType), 0, 0, interlaced ? 1 : 0]
    }

    var trnsData: [UInt8] {
        guard transparency else { return [] }
        if colorType == 3 { return paletteAlpha }
        return key.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// The scanlines of every pass, each filtered with a different one of the five filters.
    func filteredScanlines() -> [UInt8] {
        let bitsPerPixel = channels * bitDepth
        let stride = max(1, bitsPerPixel / 8)
        var out: [UInt8] = []
        for (passIndex, (xStart, yStart, xStep, yStep)) in passes.enumerated() {
            let columns = Array(Swift.stride(from: xStart, to: width, by: xStep))
            let rows = Array(Swift.stride(from: yStart, to: height, by: yStep))
            guard !columns.isEmpty else { continue }
            let rowBytes = (columns.count * bitsPerPixel + 7) / 8
            var previous = [UInt8](repeating: 0, count: rowBytes)
            for (rowIndex, y) in rows.enumerated() {
                var raw = [UInt8](repeating: 0, count: rowBytes)
                for (column, x) in columns.enumerated() {
                    for channel in 0..<channels {
                        let value = sample(x: x, y: y, channel: channel)
                        switch bitDepth {
                        case 16:
                            let at = 2 * (column * channels + channel)
                            raw[at] = UInt8(value >> 8); raw[at + 1] = UInt8(value & 0xFF)
                        case 8:
                            raw[column * channels + channel] = UInt8(value)
                        default:
                            let bit = column * bitDepth
                            raw[bit / 8] |= UInt8(value << (8 - bitDepth - bit % 8))
                        }
                    }
                }
                let filter = (rowIndex + passIndex) % 5
                var line: [UInt8] = [UInt8(filter)]
                for i in 0..<rowBytes {
                    let left = i >= stride ? Int(raw[i - stride]) : 0
                    let up = Int(previous[i])
                    let upLeft = i >= stride ? Int(previous[i - stride]) : 0
                    let predictor = [0, left, up, (left + up) / 2, paeth(left, up, upLeft)][filter]
                    line.append(UInt8(truncatingIfNeeded: Int(raw[i]) - predictor))
                }
                out += line
                previous = raw
            }
        }
        return out
    }

    func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
    }

    /// The PNG file, its image data deflated by zlib (ConvKit's gzip writer, rewrapped as zlib).
    func png() throws -> [UInt8] {
        let scanlines = filteredScanlines()
        let gzip = try Gzip.compress(scanlines, level: 9)
        let stored = PNGBytes.zlibStored(scanlines)
        let zlib = [0x78, 0xDA] + gzip[10..<(gzip.count - 8)] + stored.suffix(4)
        var file = PNG.signature
        PNGBytes.appendChunk(&file, "IHDR", header)
        if colorType == 3 {
            PNGBytes.appendChunk(&file, "PLTE", palette.flatMap { $0 })
        }
        if transparency { PNGBytes.appendChunk(&file, "tRNS", trnsData) }
        PNGBytes.appendChunk(&file, "tEXt", Array("Comment\0fuzz seed".utf8))
        let half = zlib.count / 2
        PNGBytes.appendChunk(&file, "IDAT", zlib[0..<half])
        PNGBytes.appendChunk(&file, "IDAT", zlib[half...])
        PNGBytes.appendChunk(&file, "IEND", [])
        return file
    }

    /// The input of the png-raster target that builds the same picture.
    func rasterInput() -> [UInt8] {
        let paletteBytes = colorType == 3 ? palette.flatMap { $0 } : []
        return header + [UInt8(paletteBytes.count / 3)] + paletteBytes + [UInt8(trnsData.count)] + trnsData + filteredScanlines()
    }

    /// Throws unless `png` (and the png-raster form of the picture) decode to this picture's pixels.
    func verify(_ png: [UInt8], name: String) throws {
        for (form, bytes) in [("file", png), ("raster", PNGBytes.build(fromRaster: rasterInput())!)] {
            let decoded = try PNG.decodeRGBA(bytes, path: name)
            try check(decoded.width == width && decoded.height == height, "\(name) (\(form)): size \(decoded.width)×\(decoded.height)")
            for y in 0..<height {
                for x in 0..<width {
                    let expected = expectedRGBA(x: x, y: y)
                    let got = Array(decoded.rgba[(4 * (y * width + x))..<(4 * (y * width + x) + 4)])
                    try check(zip(expected, got).allSatisfy { abs($0 - $1) < 1e-6 },
                              "\(name) (\(form)): pixel (\(x), \(y)) is \(got), expected \(expected)")
                }
            }
        }
    }

    func expectedRGBA(x: Int, y: Int) -> [Float] {
        let samples = (0..<channels).map { sample(x: x, y: y, channel: $0) }
        let m = Float(maxSample)
        switch colorType {
        case 0:
            let v = Float(samples[0]) / m
            return [v, v, v, transparency && samples == key ? 0 : 1]
        case 2:
            return samples.map { Float($0) / m } + [transparency && samples == key ? 0 : 1]
        case 3:
            let entry = palette[samples[0]]
            let alpha: Float = transparency && samples[0] < paletteAlpha.count ? Float(paletteAlpha[samples[0]]) / 255 : 1
            return entry.map { Float($0) / 255 } + [alpha]
        case 4:
            let v = Float(samples[0]) / m
            return [v, v, v, Float(samples[1]) / m]
        default:
            return samples.map { Float($0) / m }
        }
    }
}
