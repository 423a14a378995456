import Foundation

/// A greyscale image: `height` rows of `width` intensities in [0, 1] (0 black, 1 white), row-major.
///
/// This is what the image readers (`PNG`, `PGM`, `loadImage(_:)`) return and what a model's
/// input is made from: `resized(to:)` brings any image to the model's size and `toTensor()`
/// gives the `[1, 1, H, W]` batch.
public struct GrayImage: Equatable {
    /// The largest number of pixels an image may have (2^26, e.g. 8192 × 8192). Readers refuse
    /// larger images before allocating anything.
    public static let maximumPixelCount = 1 << 26

    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// `width * height` intensities in [0, 1], row by row.
    public private(set) var pixels: [Float]

    /// An image from intensities in [0, 1] (values outside are clamped, NaN becomes 0).
    /// - Throws: `ConvKitError.invalidArgument` when a dimension is not positive, the image is
    ///   larger than `maximumPixelCount`, or `pixels.count != width * height`.
    public init(width: Int, height: Int, pixels: [Float]) throws {
        try GrayImage.validate(width: width, height: height, op: "GrayImage")
        try require(pixels.count == width * height, "GrayImage",
                    "\(pixels.count) pixels given for a \(width)×\(height) image (expected \(width * height))")
        self.width = width
        self.height = height
        self.pixels = pixels.map { $0.isNaN ? 0 : min(max($0, 0), 1) }
    }

    /// An image from 8-bit intensities (0 black, 255 white).
    /// - Throws: as `init(width:height:pixels:)`.
    public init(width: Int, height: Int, bytes: [UInt8]) throws {
        try GrayImage.validate(width: width, height: height, op: "GrayImage")
        try require(bytes.count == width * height, "GrayImage",
                    "\(bytes.count) bytes given for a \(width)×\(height) image (expected \(width * height))")
        self.width = width
        self.height = height
        self.pixels = bytes.map { Float($0) / 255 }
    }

    /// An image from pixels already known to be valid (used by the decoders).
    init(validatedWidth width: Int, height: Int, pixels: [Float]) {
        precondition(pixels.count == width * height)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    static func validate(width: Int, height: Int, op: String) throws {
        try require(width > 0 && height > 0, op, "image size \(width)×\(height) must be positive")
        try require(width <= maximumPixelCount && height <= maximumPixelCount && width * height <= maximumPixelCount, op,
                    "image size \(width)×\(height) is more than the \(maximumPixelCount)-pixel limit")
    }

    /// The intensity at column `x`, row `y`.
    /// - Throws: `ConvKitError.invalidArgument` (op `GrayImage`) when the pixel is outside the image.
    public subscript(x: Int, y: Int) -> Float {
        get throws {
            try require(x >= 0 && x < width && y >= 0 && y < height, "GrayImage",
                        "pixel (\(x), \(y)) is outside the \(width)×\(height) image")
            return pixels[y * width + x]
        }
    }

    /// The intensities rounded to 8 bits (0...255), row by row.
    public var bytes: [UInt8] {
        pixels.map { UInt8(($0 * 255).rounded()) }
    }

    /// The image with every intensity replaced by `1 - value` (white digits on black, as in
    /// MNIST, from black ink on white paper).
    public func inverted() -> GrayImage {
        GrayImage(validatedWidth: width, height: height, pixels: pixels.map { 1 - $0 })
    }

    // MARK: Resizing

    /// The image resampled to `size` (`size.h` rows, `size.w` columns).
    ///
    /// Each axis is resampled on its own. Enlarging an axis interpolates linearly between pixel
    /// centres (PyTorch's `interpolate(mode="bilinear", align_corners=False)`); shrinking one
    /// averages the input pixels each output pixel covers, weighted by the covered fraction
    /// (exact area averaging, like OpenCV's `INTER_AREA`), so thin strokes are not lost. Constant
    /// images stay constant, and shrinking keeps the mean intensity.
    /// - Throws: `ConvKitError.invalidArgument` for a non-positive or over-limit size.
    public func resized(to size: Size2d) throws -> GrayImage {
        try resized(width: size.w, height: size.h)
    }

    /// The image resampled to `width` × `height` (see `resized(to:)`).
    public func resized(width newWidth: Int, height newHeight: Int) throws -> GrayImage {
        try GrayImage.validate(width: newWidth, height: newHeight, op: "GrayImage.resized")
        if newWidth == width && newHeight == height { return self }
        let columnTaps = GrayImage.resamplingTaps(from: width, to: newWidth)
        let rowTaps = GrayImage.resamplingTaps(from: height, to: newHeight)
        // Columns first (height × newWidth), then rows.
        var horizontal = [Float](repeating: 0, count: height * newWidth)
        for y in 0..<height {
            let row = y * width
            for x in 0..<newWidth {
                var sum: Float = 0
                for tap in columnTaps[x] { sum += tap.weight * pixels[row + tap.index] }
                horizontal[y * newWidth + x] = sum
            }
        }
        var output = [Float](repeating: 0, count: newHeight * newWidth)
        for y in 0..<newHeight {
            for tap in rowTaps[y] {
                let source = tap.index * newWidth
                for x in 0..<newWidth { output[y * newWidth + x] += tap.weight * horizontal[source + x] }
            }
        }
        for i in output.indices { output[i] = min(max(output[i], 0), 1) }
        return GrayImage(validatedWidth: newWidth, height: newHeight, pixels: output)
    }

    /// One input sample and its weight in an output sample.
    struct Tap: Equatable {
        var index: Int
        var weight: Float
    }

    /// For each of `outputCount` samples, the input samples it is made of (weights sum to 1).
    static func resamplingTaps(from inputCount: Int, to outputCount: Int) -> [[Tap]] {
        let scale = Double(inputCount) / Double(outputCount)
        if outputCount >= inputCount {
            // Linear interpolation between pixel centres, clamped at the borders.
            return (0..<outputCount).map { i in
                let position = max((Double(i) + 0.5) * scale - 0.5, 0)
                let low = min(Int(position), inputCount - 1)
                let high = min(low + 1, inputCount - 1)
                let fraction = Float(position - Double(low))
                if high == low || fraction == 0 { return [Tap(index: low, weight: 1)] }
                return [Tap(index: low, weight: 1 - fraction), Tap(index: high, weight: fraction)]
            }
        }
        // Box filter: output sample i covers input interval [i·scale, (i+1)·scale).
        return (0..<outputCount).map { i in
            let start = Double(i) * scale
            let end = Double(i + 1) * scale
            var taps: [Tap] = []
            var j = Int(start)
            while Double(j) < end && j < inputCount {
                let covered = min(end, Double(j + 1)) - max(start, Double(j))
                if covered > 1e-12 { taps.append(Tap(index: j, weight: Float(covered / scale))) }
                j += 1
            }
            return taps
        }
    }

    /// The mean intensity of all pixels.
    public var meanIntensity: Float {
        pixels.reduce(0, +) / Float(pixels.count)
    }

    /// The image prepared the way MNIST's digits were: the bounding box of the pixels brighter
    /// than `threshold` is scaled (aspect ratio kept) so that its longer side is `box` pixels,
    /// then placed on a black `size` × `size` canvas with its centre of mass at the centre.
    /// Expects a light digit on a dark background (use `inverted()` first for dark ink on light
    /// paper). An image with no pixel above `threshold` is simply resized to `size` × `size`.
    /// - Throws: `ConvKitError.invalidArgument` unless `1 <= box <= size` and `threshold` is in [0, 1).
    public func fittedLikeMNIST(size: Int = 28, box: Int = 20, threshold: Float = 0.2) throws -> GrayImage {
        let op = "GrayImage.fittedLikeMNIST"
        try require(box >= 1 && box <= size, op, "box must be in 1...size (\(size)), got \(box)")
        try require(threshold >= 0 && threshold < 1, op, "threshold must be in [0, 1), got \(threshold)")
        try GrayImage.validate(width: size, height: size, op: op)
        var minX = width, maxX = -1, minY = height, maxY = -1
        for y in 0..<height {
            for x in 0..<width where pixels[y * width + x] > threshold {
                minX = min(minX, x); maxX = max(maxX, x)
                minY = min(minY, y); maxY = max(maxY, y)
            }
        }
        guard maxX >= 0 else { return try resized(width: size, height: size) }
        let cropW = maxX - minX + 1, cropH = maxY - minY + 1
        var crop = [Float](repeating: 0, count: cropW * cropH)
        for y in 0..<cropH {
            for x in 0..<cropW { crop[y * cropW + x] = pixels[(minY + y) * width + minX + x] }
        }
        let scale = Double(box) / Double(max(cropW, cropH))
        let digitW = max(1, min(box, Int((Double(cropW) * scale).rounded())))
        let digitH = max(1, min(box, Int((Double(cropH) * scale).rounded())))
        let digit = try GrayImage(validatedWidth: cropW, height: cropH, pixels: crop).resized(width: digitW, height: digitH)

        // Centre of mass of the scaled digit, then the integer shift that brings it to the middle.
        var mass: Float = 0, sumX: Float = 0, sumY: Float = 0
        for y in 0..<digitH {
            for x in 0..<digitW {
                let v = digit.pixels[y * digitW + x]
                mass += v; sumX += v * (Float(x) + 0.5); sumY += v * (Float(y) + 0.5)
            }
        }
        let centreX = mass > 0 ? sumX / mass : Float(digitW) / 2
        let centreY = mass > 0 ? sumY / mass : Float(digitH) / 2
        // Keep the whole digit on the canvas even when its mass is far off its box's centre.
        let originX = min(max(Int((Float(size) / 2 - centreX).rounded()), 0), size - digitW)
        let originY = min(max(Int((Float(size) / 2 - centreY).rounded()), 0), size - digitH)
        var canvas = [Float](repeating: 0, count: size * size)
        for y in 0..<digitH {
            for x in 0..<digitW { canvas[(originY + y) * size + originX + x] = digit.pixels[y * digitW + x] }
        }
        return GrayImage(validatedWidth: size, height: size, pixels: canvas)
    }

    // MARK: Tensors

    /// The image as a float32 tensor of shape `[1, 1, height, width]` (a batch of one
    /// single-channel image, values in [0, 1]).
    public func toTensor(on device: Device = .cpu) throws -> Tensor {
        try Tensor(pixels, shape: [1, 1, height, width], on: device)
    }

    /// A picture of one channel of a tensor, for looking at feature maps or filters.
    ///
    /// Accepts `[H, W]`, `[C, H, W]` or `[N, C, H, W]` (the first item of the batch is used).
    /// With `normalize` the channel's own minimum maps to black and its maximum to white (a
    /// constant channel becomes mid-grey); without it values are clamped to [0, 1]. NaN and
    /// infinite values become black and are left out of the minimum and maximum.
    /// - Throws: `ConvKitError.invalidArgument` for another rank, a non-float tensor or a
    ///   channel out of range.
    public init(tensor: Tensor, channel: Int = 0, normalize: Bool = true) throws {
        let op = "GrayImage(tensor:)"
        try require(tensor.dtype == .float32, op, "tensor is \(tensor.dtype), expected float32")
        try require((2...4).contains(tensor.rank), op,
                    "expected a tensor of shape [H, W], [C, H, W] or [N, C, H, W], got \(tensor.shape)")
        let shape = tensor.shape
        let height = shape[shape.count - 2], width = shape[shape.count - 1]
        let channels = tensor.rank == 2 ? 1 : shape[shape.count - 3]
        try require(tensor.rank < 4 || shape[0] > 0, op, "the batch of shape \(shape) is empty")
        try require(channel >= 0 && channel < channels, op, "channel \(channel) is out of range for \(channels) channels")
        try GrayImage.validate(width: width, height: height, op: op)
        let values = try tensor.detach().toArray()
        let start = channel * height * width
        let plane = Array(values[start..<(start + height * width)])
        self.init(validatedWidth: width, height: height, pixels: GrayImage.toUnitRange(plane, normalize: normalize))
    }

    /// Maps values to [0, 1]: by their own finite min/max (`normalize`) or by clamping.
    static func toUnitRange(_ values: [Float], normalize: Bool) -> [Float] {
        guard normalize else { return values.map { $0.isNaN ? 0 : min(max($0, 0), 1) } }
        var low = Float.infinity, high = -Float.infinity
        for v in values where v.isFinite {
            low = min(low, v)
            high = max(high, v)
        }
        guard low < high else { return values.map { $0.isFinite ? 0.5 : 0 } }
        let range = high - low
        return values.map { $0.isFinite ? min(max(($0 - low) / range, 0), 1) : 0 }
    }
}

// MARK: Loading by content

/// The image file formats `loadImage(_:)` reads.
public enum ImageFormat: String, CaseIterable {
    /// Portable Network Graphics (any colour type and bit depth, interlaced or not).
    case png
    /// Netpbm greymap, binary (P5, 8 or 16 bits) or plain text (P2).
    case pgm

    /// The format `bytes` is in, judged by its first bytes (magic number), or nil.
    public static func detect<Bytes: Collection>(_ bytes: Bytes) -> ImageFormat? where Bytes.Element == UInt8 {
        let head = Array(bytes.prefix(8))
        if head == PNG.signature { return .png }
        if head.count >= 2, head[0] == UInt8(ascii: "P"), head[1] == UInt8(ascii: "5") || head[1] == UInt8(ascii: "2") {
            return .pgm
        }
        return nil
    }
}

/// Files larger than this are refused by `loadImage(_:)` before being read (256 MiB).
let maximumImageFileBytes = 256 << 20

/// Reads the whole file at `path` (at most `maximumImageFileBytes`).
func readImageFile(_ path: String) throws -> [UInt8] {
    let attributes: [FileAttributeKey: Any]
    // Attributes of what a symbolic link points to, not of the link.
    let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    do { attributes = try FileManager.default.attributesOfItem(atPath: target) } catch {
        throw ConvKitError.io(path: path, message: "cannot read the image: the file does not exist or is not accessible")
    }
    if let type = attributes[.type] as? FileAttributeType, type != .typeRegular {
        // Devices and pipes could stream forever; directories have no bytes.
        let what = type == .typeDirectory ? "a directory" : "not a regular file"
        throw ConvKitError.io(path: path, message: "cannot read the image: it is \(what)")
    }
    let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
    guard size <= maximumImageFileBytes else {
        throw ConvKitError.corruptFile(path: path, message: "\(size) bytes, more than the \(maximumImageFileBytes)-byte limit for an image")
    }
    do {
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    } catch {
        throw ConvKitError.io(path: path, message: "cannot read the image: \(error.localizedDescription)")
    }
}

/// Writes `bytes` to `path` atomically (a temporary file renamed into place).
func writeImageFile(_ bytes: [UInt8], to path: String) throws {
    try AtomicFile.write(bytes, to: path)
}

/// Reads a greyscale image from a PNG or PGM file, choosing the format by the file's first
/// bytes (never by its extension). Colour is converted to luma (0.299 R + 0.587 G + 0.114 B);
/// transparent pixels are composited over the background that contrasts with the picture
/// (see `PNG.decode(_:path:background:)`).
/// - Throws: `ConvKitError.io` when the file cannot be read, `ConvKitError.corruptFile`
///   naming the path and the problem for a malformed file or an unknown format (the message
///   lists the supported formats).
public func loadImage(_ path: String) throws -> GrayImage {
    try decodeImage(readImageFile(path), path: path)
}

/// Decodes a greyscale image from the bytes of a PNG or PGM file, choosing the format by its
/// first bytes: the in-memory form of `loadImage(_: String)`, which calls it.
/// - Parameter path: the file name used in error messages.
/// - Throws: `ConvKitError.corruptFile` naming `path` and the problem for a malformed file or an
///   unknown format.
public func decodeImage(_ bytes: [UInt8], path: String = "<image data>") throws -> GrayImage {
    switch ImageFormat.detect(bytes) {
    case .png: return try PNG.decode(bytes, path: path)
    case .pgm: return try PGM.decode(bytes, path: path)
    case nil:
        let head = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        let what = bytes.isEmpty ? "the file is empty" : "it starts with bytes \(head)"
        throw ConvKitError.corruptFile(path: path, message:
            "not a supported image format (\(what)); supported: PNG (signature 89 50 4e 47 0d 0a 1a 0a), PGM (P5 binary or P2 plain)")
    }
}

/// Reads a greyscale image from a PNG or PGM file (see `loadImage(_: String)`).
public func loadImage(_ url: URL) throws -> GrayImage {
    try loadImage(url.path)
}
