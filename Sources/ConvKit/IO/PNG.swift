import CZlib
import Foundation

/// Reads and writes PNG (ISO/IEC 15948, the W3C PNG specification).
///
/// Reading accepts every standard PNG: colour types greyscale, greyscale + alpha, RGB, RGBA and
/// palette; bit depths 1, 2, 4, 8 and 16; all five scanline filters; Adam7 interlacing; `tRNS`
/// transparency. Chunk CRCs are checked; ancillary chunks other than `tRNS` are skipped. The
/// picture is converted to greyscale with the luma weights 0.299 R + 0.587 G + 0.114 B;
/// transparent pixels are composited over a background chosen to contrast with the picture's
/// opaque content (white behind dark strokes, black behind light ones), unless one is given.
/// Images over `GrayImage.maximumPixelCount` pixels are refused before anything is allocated,
/// and every malformation is a `ConvKitError.corruptFile` naming the path and the problem.
///
/// Writing produces 8-bit greyscale (`encode(_:)`) or 8-bit RGB (`encodeRGB(width:height:rgb:)`)
/// PNGs, compressed by zlib with a per-row adaptive filter choice.
public enum PNG {
    /// The eight bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Whether `bytes` starts with the PNG signature.
    public static func isPNG<Bytes: Collection>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        Array(bytes.prefix(8)) == signature
    }

    // MARK: Reading

    /// Reads the PNG file at `path` as a greyscale image (see `decode(_:path:background:)`).
    /// - Throws: `ConvKitError.io` when the file cannot be read, `ConvKitError.corruptFile`
    ///   when it is not a valid PNG.
    public static func read(from path: String, background: Float? = nil) throws -> GrayImage {
        try decode(readImageFile(path), path: path, background: background)
    }

    /// Decodes PNG bytes into a greyscale image.
    ///
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - path: the file name used in error messages.
    ///   - background: the intensity (0 black ... 1 white) that transparent pixels are composited
    ///     over: `grey = alpha · luma + (1 − alpha) · background`. When nil (the default) and the
    ///     picture has transparency, it is white if the opaque content is dark on average (mean
    ///     luma weighted by alpha below 0.5: black ink on a transparent sheet stays visible) and
    ///     black otherwise (a light digit on transparency looks like MNIST's white on black).
    /// - Throws: `ConvKitError.corruptFile` naming `path` and the problem (bad signature, CRC
    ///   mismatch, truncated chunk, invalid or over-limit header, bad filter type, image data
    ///   that inflates to the wrong size, palette index out of range, ...).
    public static func decode(_ bytes: [UInt8], path: String = "<png data>", background: Float? = nil) throws -> GrayImage {
        if let background {
            try require(background >= 0 && background <= 1, "PNG.decode", "background must be in [0, 1], got \(background)")
        }
        let decoded = try decodeRaster(bytes, path: path)
        var pixels = [Float](repeating: 0, count: decoded.header.width * decoded.header.height)
        var alphas: [Float] = []
        let hasTransparency = decoded.header.colorType == 4 || decoded.header.colorType == 6
            || decoded.transparentKey != nil || !decoded.paletteAlpha.isEmpty
        if hasTransparency { alphas = [Float](repeating: 1, count: pixels.count) }
        try decoded.forEachPixel(path: path) { index, red, green, blue, alpha in
            // Grey stays exactly grey (the weights' rounding would shift it by an ulp).
            pixels[index] = red == green && green == blue ? red : 0.299 * red + 0.587 * green + 0.114 * blue
            if hasTransparency { alphas[index] = alpha }
        }
        if hasTransparency {
            let chosen = background ?? contrastingBackground(luma: pixels, alpha: alphas)
            for i in pixels.indices {
                pixels[i] = min(max(alphas[i] * pixels[i] + (1 - alphas[i]) * chosen, 0), 1)
            }
        }
        return GrayImage(validatedWidth: decoded.header.width, height: decoded.header.height, pixels: pixels)
    }

    /// White (1) behind content that is dark on average, black (0) otherwise; black when nothing is opaque.
    static func contrastingBackground(luma: [Float], alpha: [Float]) -> Float {
        var weighted: Double = 0, total: Double = 0
        for i in luma.indices {
            weighted += Double(alpha[i] * luma[i])
            total += Double(alpha[i])
        }
        return total > 0 && weighted / total < 0.5 ? 1 : 0
    }

    /// Decodes PNG bytes into non-premultiplied RGBA intensities in [0, 1], four per pixel, row
    /// by row (for tests and colour-aware callers).
    /// - Throws: as `decode(_:path:background:)`.
    public static func decodeRGBA(_ bytes: [UInt8], path: String = "<png data>") throws -> (width: Int, height: Int, rgba: [Float]) {
        let decoded = try decodeRaster(bytes, path: path)
        var rgba = [Float](repeating: 0, count: 4 * decoded.header.width * decoded.header.height)
        try decoded.forEachPixel(path: path) { index, red, green, blue, alpha in
            rgba[4 * index] = red
            rgba[4 * index + 1] = green
            rgba[4 * index + 2] = blue
            rgba[4 * index + 3] = alpha
        }
        return (decoded.header.width, decoded.header.height, rgba)
    }

    /// The image header (IHDR).
    struct Header {
        var width: Int
        var height: Int
        var bitDepth: Int
        var colorType: Int
        var interlaced: Bool

        var channels: Int {
            switch colorType {
            case 2: return 3
            case 4: return 2
            case 6: return 4
            default: return 1
            }
        }
        var bitsPerPixel: Int { channels * bitDepth }
        /// The byte distance to the corresponding byte of the previous pixel, used by the filters.
        var filterStride: Int { max(1, bitsPerPixel / 8) }
        func rowBytes(_ pixels: Int) -> Int { (pixels * bitsPerPixel + 7) / 8 }
    }

    /// One Adam7 pass (or the whole image when not interlaced): which pixels its rows hold.
    struct Pass {
        var xStart: Int, yStart: Int, xStep: Int, yStep: Int
        var width: Int, height: Int
    }

    static func passes(of header: Header) -> [Pass] {
        guard header.interlaced else {
            return [Pass(xStart: 0, yStart: 0, xStep: 1, yStep: 1, width: header.width, height: header.height)]
        }
        let adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        return adam7.map { xStart, yStart, xStep, yStep in
            Pass(xStart: xStart, yStart: yStart, xStep: xStep, yStep: yStep,
                 width: header.width > xStart ? (header.width - xStart + xStep - 1) / xStep : 0,
                 height: header.height > yStart ? (header.height - yStart + yStep - 1) / yStep : 0)
        }.filter { $0.width > 0 && $0.height > 0 }
    }

    /// A decoded, unfiltered image: the header, the scanlines of every pass and the colour tables.
    struct Raster {
        var header: Header
        /// Every pass's scanlines, each still preceded by its (now applied) filter-type byte.
        var scanlines: [UInt8]
        var palette: [(UInt8, UInt8, UInt8)]
        /// Alpha per palette entry (palette images) from `tRNS`.
        var paletteAlpha: [UInt8]
        /// The fully transparent sample values (greyscale: one, RGB: three) from `tRNS`.
        var transparentKey: [Int]?

        /// Calls `body(pixelIndex, red, green, blue, alpha)` for every pixel, values in [0, 1].
        func forEachPixel(path: String, _ body: (Int, Float, Float, Float, Float) -> Void) throws {
            let depth = header.bitDepth
            let maxSample = Float((1 << depth) - 1)
            let channels = header.channels
            var offset = 0
            var samples = [Int](repeating: 0, count: 4)
            for pass in PNG.passes(of: header) {
                let rowBytes = header.rowBytes(pass.width)
                for passRow in 0..<pass.height {
                    let rowStart = offset + 1
                    let y = pass.yStart + passRow * pass.yStep
                    for passColumn in 0..<pass.width {
                        for c in 0..<channels {
                            switch depth {
                            case 16:
                                let at = rowStart + 2 * (passColumn * channels + c)
                                samples[c] = Int(scanlines[at]) << 8 | Int(scanlines[at + 1])
                            case 8:
                                samples[c] = Int(scanlines[rowStart + passColumn * channels + c])
                            default: // 1, 2 or 4 bits: one channel, packed from the high bits
                                let bit = passColumn * depth
                                let byte = scanlines[rowStart + bit / 8]
                                samples[c] = Int(byte >> (8 - depth - bit % 8)) & ((1 << depth) - 1)
                            }
                        }
                        let index = y * header.width + pass.xStart + passColumn * pass.xStep
                        switch header.colorType {
                        case 0:
                            let v = Float(samples[0]) / maxSample
                            let alpha: Float = transparentKey.map { $0[0] == samples[0] ? 0 : 1 } ?? 1
                            body(index, v, v, v, alpha)
                        case 2:
                            let alpha: Float = transparentKey.map { $0 == Array(samples[0..<3]) ? 0 : 1 } ?? 1
                            body(index, Float(samples[0]) / maxSample, Float(samples[1]) / maxSample,
                                 Float(samples[2]) / maxSample, alpha)
                        case 3:
                            let entry = samples[0]
                            guard entry < palette.count else {
                                throw ConvKitError.corruptFile(path: path, message:
                                    "PNG: pixel (\(pass.xStart + passColumn * pass.xStep), \(y)) uses palette index \(entry) but the palette has \(palette.count) entries")
                            }
                            let color = palette[entry]
                            let alpha = entry < paletteAlpha.count ? Float(paletteAlpha[entry]) / 255 : 1
                            body(index, Float(color.0) / 255, Float(color.1) / 255, Float(color.2) / 255, alpha)
                        case 4:
                            let v = Float(samples[0]) / maxSample
                            body(index, v, v, v, Float(samples[1]) / maxSample)
                        default:
                            body(index, Float(samples[0]) / maxSample, Float(samples[1]) / maxSample,
                                 Float(samples[2]) / maxSample, Float(samples[3]) / maxSample)
                        }
                    }
                    offset += 1 + rowBytes
                }
            }
        }
    }

    /// Parses the chunks, inflates and unfilters the image data.
    static func decodeRaster(_ bytes: [UInt8], path: String) throws -> Raster {
        func corrupt(_ message: String) -> ConvKitError { .corruptFile(path: path, message: "PNG: " + message) }
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            let head = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw corrupt("bad signature (expected 89 50 4e 47 0d 0a 1a 0a, found \(head.isEmpty ? "an empty file" : head))")
        }
        var header: Header?
        var palette: [(UInt8, UInt8, UInt8)] = []
        var paletteAlpha: [UInt8] = []
        var transparentKey: [Int]?
        var compressed: [UInt8] = []
        var sawImageData = false
        var imageDataEnded = false
        var sawEnd = false
        var offset = 8

        while !sawEnd {
            guard bytes.count - offset >= 12 else {
                if offset == bytes.count { throw corrupt("truncated: the file ends without an IEND chunk") }
                throw corrupt("truncated chunk at byte \(offset): \(bytes.count - offset) bytes left, a chunk needs at least 12")
            }
            let length = Int(readUInt32(bytes, at: offset))
            let typeBytes = Array(bytes[(offset + 4)..<(offset + 8)])
            let isLetter = { (b: UInt8) in (65...90).contains(b) || (97...122).contains(b) }
            guard typeBytes.allSatisfy(isLetter) else {
                let hex = typeBytes.map { String(format: "%02x", $0) }.joined(separator: " ")
                throw corrupt("invalid chunk type (bytes \(hex)) at byte \(offset + 4)")
            }
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length <= Int(Int32.max) else { throw corrupt("chunk '\(type)' declares \(length) bytes, more than the 2^31 − 1 maximum") }
            guard length <= bytes.count - offset - 12 else {
                throw corrupt("truncated chunk '\(type)' at byte \(offset): it declares \(length) data bytes but only \(max(bytes.count - offset - 12, 0)) remain before its CRC")
            }
            let dataStart = offset + 8
            let stored = readUInt32(bytes, at: dataStart + length)
            let computed = crc(bytes[(offset + 4)..<(dataStart + length)])
            guard stored == computed else {
                throw corrupt("CRC mismatch in chunk '\(type)' at byte \(offset) (stored \(String(format: "%08x", stored)), computed \(String(format: "%08x", computed)))")
            }
            let data = bytes[dataStart..<(dataStart + length)]
            offset = dataStart + length + 4

            if header == nil && type != "IHDR" { throw corrupt("the first chunk is '\(type)', expected IHDR") }
            if sawImageData && type != "IDAT" { imageDataEnded = true }
            switch type {
            case "IHDR":
                guard header == nil else { throw corrupt("more than one IHDR chunk") }
                header = try parseHeader(data, corrupt: corrupt)
            case "PLTE":
                guard palette.isEmpty else { throw corrupt("more than one PLTE chunk") }
                guard !sawImageData else { throw corrupt("PLTE chunk after the image data") }
                guard header!.colorType != 0 && header!.colorType != 4 else {
                    throw corrupt("PLTE chunk in a greyscale image (colour type \(header!.colorType))")
                }
                let maximumEntries = header!.colorType == 3 ? 1 << header!.bitDepth : 256
                guard length % 3 == 0, length >= 3, length / 3 <= maximumEntries else {
                    throw corrupt("PLTE chunk of \(length) bytes is not 1 to \(maximumEntries) RGB entries")
                }
                palette = stride(from: data.startIndex, to: data.endIndex, by: 3).map { (bytes[$0], bytes[$0 + 1], bytes[$0 + 2]) }
            case "tRNS":
                guard !sawImageData else { throw corrupt("tRNS chunk after the image data") }
                switch header!.colorType {
                case 3:
                    guard !palette.isEmpty else { throw corrupt("tRNS chunk before the PLTE chunk") }
                    guard length <= palette.count else {
                        throw corrupt("tRNS chunk has \(length) alpha values for a palette of \(palette.count) entries")
                    }
                    paletteAlpha = Array(data)
                case 0, 2:
                    let expected = header!.colorType == 0 ? 2 : 6
                    guard length == expected else { throw corrupt("tRNS chunk of \(length) bytes, expected \(expected) for colour type \(header!.colorType)") }
                    transparentKey = stride(from: data.startIndex, to: data.endIndex, by: 2).map { Int(bytes[$0]) << 8 | Int(bytes[$0 + 1]) }
                default:
                    throw corrupt("tRNS chunk in an image that has an alpha channel (colour type \(header!.colorType))")
                }
            case "IDAT":
                guard !imageDataEnded else { throw corrupt("IDAT chunks are not consecutive") }
                if header!.colorType == 3 && palette.isEmpty { throw corrupt("palette image without a PLTE chunk before its image data") }
                sawImageData = true
                compressed.append(contentsOf: data)
            case "IEND":
                sawEnd = true
            default:
                // Bit 5 of the first letter clear (upper case) marks a chunk a decoder must understand.
                if typeBytes[0] & 0x20 == 0 { throw corrupt("unknown critical chunk '\(type)'") }
            }
        }
        guard sawImageData, let header else { throw corrupt("no IDAT chunk (the file has no image data)") }

        let passes = passes(of: header)
        let expectedBytes = passes.reduce(0) { $0 + $1.height * (1 + header.rowBytes($1.width)) }
        // Deflate never expands more than 1032:1 (plus the zlib header and checksum), so image data
        // too short for the header's size is refused before anything is inflated.
        guard expectedBytes <= compressed.count * 1032 + 64 else {
            throw corrupt("image data of \(compressed.count) bytes cannot inflate to the \(expectedBytes) bytes a \(header.width)×\(header.height) image needs (deflate's largest ratio is 1032:1)")
        }
        var scanlines = try inflate(compressed, expectedBytes: expectedBytes, corrupt: corrupt)
        try unfilter(&scanlines, header: header, passes: passes, corrupt: corrupt)
        return Raster(header: header, scanlines: scanlines, palette: palette, paletteAlpha: paletteAlpha,
                      transparentKey: transparentKey)
    }

    static func readUInt32<Bytes: RandomAccessCollection>(_ bytes: Bytes, at offset: Bytes.Index) -> UInt32
        where Bytes.Element == UInt8, Bytes.Index == Int {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    static func parseHeader(_ data: ArraySlice<UInt8>, corrupt: (String) -> ConvKitError) throws -> Header {
        guard data.count == 13 else { throw corrupt("IHDR chunk has \(data.count) bytes, expected 13") }
        let base = data.startIndex
        let width = Int(readUInt32(data, at: base)), height = Int(readUInt32(data, at: base + 4))
        let bitDepth = Int(data[base + 8]), colorType = Int(data[base + 9])
        let compression = data[base + 10], filter = data[base + 11], interlace = data[base + 12]
        guard width > 0, height > 0 else { throw corrupt("image size \(width)×\(height): dimensions must be at least 1") }
        guard width <= Int(Int32.max), height <= Int(Int32.max) else {
            throw corrupt("image size \(width)×\(height): dimensions must be at most 2^31 − 1")
        }
        guard width * height <= GrayImage.maximumPixelCount else {
            throw corrupt("image size \(width)×\(height) is more than the \(GrayImage.maximumPixelCount)-pixel limit")
        }
        let allowedDepths: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard let depths = allowedDepths[colorType] else {
            throw corrupt("invalid colour type \(colorType) (expected 0, 2, 3, 4 or 6)")
        }
        guard depths.contains(bitDepth) else {
            throw corrupt("bit depth \(bitDepth) is not allowed for colour type \(colorType) (allowed: \(depths.map(String.init).joined(separator: ", ")))")
        }
        guard compression == 0 else { throw corrupt("unknown compression method \(compression) (only 0, deflate, exists)") }
        guard filter == 0 else { throw corrupt("unknown filter method \(filter) (only 0 exists)") }
        guard interlace <= 1 else { throw corrupt("unknown interlace method \(interlace) (expected 0 or 1)") }
        return Header(width: width, height: height, bitDepth: bitDepth, colorType: colorType, interlaced: interlace == 1)
    }

    /// Inflates a zlib stream that must produce exactly `expectedBytes` bytes. The output buffer
    /// grows with what the stream actually produces, so a header that claims a huge image backed
    /// by a tiny stream costs little memory.
    static func inflate(_ compressed: [UInt8], expectedBytes: Int, corrupt: (String) -> ConvKitError) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw corrupt("zlib could not initialise the decoder")
        }
        defer { inflateEnd(&stream) }
        // One byte more than expected, so that a stream that is too long is noticed.
        let limit = expectedBytes + 1
        var output = [UInt8](repeating: 0, count: min(limit, max(1 << 16, 4 * compressed.count)))
        var produced = 0
        var consumed = 0
        var ended = false
        try compressed.withUnsafeBufferPointer { input in
            while !ended {
                if produced == output.count {
                    if output.count == limit { break }
                    output.append(contentsOf: repeatElement(0, count: min(output.count * 2, limit) - output.count))
                }
                let inputChunk = min(input.count - consumed, Int(UInt32.max))
                stream.next_in = input.baseAddress.map { UnsafeMutablePointer(mutating: $0 + consumed) }
                stream.avail_in = uInt(inputChunk)
                let room = min(output.count - produced, Int(UInt32.max))
                let status: Int32 = output.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = uInt(room)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                consumed += inputChunk - Int(stream.avail_in)
                produced += room - Int(stream.avail_out)
                switch status {
                case Z_STREAM_END:
                    ended = true
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    if produced == output.count { continue }
                    throw corrupt("image data is truncated: the zlib stream ends after \(produced) of \(expectedBytes) bytes")
                case Z_NEED_DICT:
                    throw corrupt("image data's zlib stream asks for a preset dictionary, which PNG forbids")
                case Z_MEM_ERROR:
                    throw corrupt("zlib ran out of memory")
                default:
                    let detail = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    throw corrupt("image data is not a valid zlib stream: \(detail)")
                }
            }
        }
        guard produced <= expectedBytes else {
            throw corrupt("image data inflates to more than the \(expectedBytes) bytes the header implies")
        }
        guard produced == expectedBytes else {
            throw corrupt("image data inflates to \(produced) bytes, but the header implies \(expectedBytes)")
        }
        guard ended else { throw corrupt("image data is truncated: the zlib stream has no end marker") }
        return output.count == produced ? output : Array(output[0..<produced])
    }

    /// Undoes the scanline filters in place (each row keeps its filter byte in front).
    static func unfilter(_ data: inout [UInt8], header: Header, passes: [Pass], corrupt: (String) -> ConvKitError) throws {
        let stride = header.filterStride
        var offset = 0
        try data.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            for (passIndex, pass) in passes.enumerated() {
                let rowBytes = header.rowBytes(pass.width)
                for row in 0..<pass.height {
                    let filter = base[offset]
                    let current = base + offset + 1
                    let previous: UnsafeMutablePointer<UInt8>? = row == 0 ? nil : current - (rowBytes + 1)
                    switch filter {
                    case 0:
                        break
                    case 1:
                        if rowBytes > stride { for i in stride..<rowBytes { current[i] &+= current[i - stride] } }
                    case 2:
                        if let previous { for i in 0..<rowBytes { current[i] &+= previous[i] } }
                    case 3:
                        for i in 0..<rowBytes {
                            let left = i >= stride ? Int(current[i - stride]) : 0
                            let up = previous.map { Int($0[i]) } ?? 0
                            current[i] &+= UInt8((left + up) / 2)
                        }
                    case 4:
                        for i in 0..<rowBytes {
                            let left = i >= stride ? Int(current[i - stride]) : 0
                            let up = previous.map { Int($0[i]) } ?? 0
                            let upLeft = i >= stride ? previous.map { Int($0[i - stride]) } ?? 0 : 0
                            current[i] &+= UInt8(paeth(left, up, upLeft))
                        }
                    default:
                        let place = header.interlaced ? " of interlace pass \(passIndex + 1)" : ""
                        throw corrupt("invalid filter type \(filter) on scanline \(row)\(place) (expected 0 to 4)")
                    }
                    offset += 1 + rowBytes
                }
            }
        }
    }

    @inline(__always)
    static func paeth(_ left: Int, _ up: Int, _ upLeft: Int) -> Int {
        let estimate = left + up - upLeft
        let toLeft = abs(estimate - left), toUp = abs(estimate - up), toUpLeft = abs(estimate - upLeft)
        if toLeft <= toUp && toLeft <= toUpLeft { return left }
        return toUp <= toUpLeft ? up : upLeft
    }

    // MARK: Writing

    /// An 8-bit greyscale PNG of `image`.
    public static func encode(_ image: GrayImage) throws -> [UInt8] {
        try encodeRaw(width: image.width, height: image.height, colorType: 0, channels: 1, samples: image.bytes)
    }

    /// An 8-bit RGB PNG: `rgb` holds `width * height * 3` bytes, red, green, blue per pixel, row by row.
    /// - Throws: `ConvKitError.invalidArgument` for a bad size or sample count.
    public static func encodeRGB(width: Int, height: Int, rgb: [UInt8]) throws -> [UInt8] {
        try GrayImage.validate(width: width, height: height, op: "PNG.encodeRGB")
        try require(rgb.count == width * height * 3, "PNG.encodeRGB",
                    "\(rgb.count) bytes given for a \(width)×\(height) RGB image (expected \(width * height * 3))")
        return try encodeRaw(width: width, height: height, colorType: 2, channels: 3, samples: rgb)
    }

    /// Writes `image` as an 8-bit greyscale PNG to `path` (atomically: a temporary file is renamed into place).
    /// - Throws: `ConvKitError.io` when the file cannot be written.
    public static func write(_ image: GrayImage, to path: String) throws {
        try writeImageFile(encode(image), to: path)
    }

    static func encodeRaw(width: Int, height: Int, colorType: UInt8, channels: Int, samples: [UInt8]) throws -> [UInt8] {
        let rowBytes = width * channels
        var filtered = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        var candidate = [UInt8](repeating: 0, count: rowBytes)
        for y in 0..<height {
            let row = y * rowBytes
            // The filter with the smallest sum of |signed residual| (the usual heuristic).
            var bestScore = Int.max
            for filter in 0...4 {
                var score = 0
                for i in 0..<rowBytes {
                    let left = i >= channels ? Int(samples[row + i - channels]) : 0
                    let up = y > 0 ? Int(samples[row - rowBytes + i]) : 0
                    let upLeft = (i >= channels && y > 0) ? Int(samples[row - rowBytes + i - channels]) : 0
                    let predictor: Int
                    switch filter {
                    case 0: predictor = 0
                    case 1: predictor = left
                    case 2: predictor = up
                    case 3: predictor = (left + up) / 2
                    default: predictor = paeth(left, up, upLeft)
                    }
                    let residual = UInt8(truncatingIfNeeded: Int(samples[row + i]) - predictor)
                    candidate[i] = residual
                    score += Int(min(residual, 0 &- residual))
                }
                if score < bestScore {
                    bestScore = score
                    let out = y * (rowBytes + 1)
                    filtered[out] = UInt8(filter)
                    for i in 0..<rowBytes { filtered[out + 1 + i] = candidate[i] }
                }
            }
        }
        var output = signature
        var header: [UInt8] = []
        appendUInt32(&header, UInt32(width))
        appendUInt32(&header, UInt32(height))
        header += [8, colorType, 0, 0, 0]
        appendChunk(&output, "IHDR", header)
        appendChunk(&output, "IDAT", try deflate(filtered))
        appendChunk(&output, "IEND", [])
        return output
    }

    static func appendUInt32(_ bytes: inout [UInt8], _ value: UInt32) {
        bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    static func appendChunk(_ output: inout [UInt8], _ type: String, _ data: [UInt8]) {
        appendUInt32(&output, UInt32(data.count))
        let typeAndData = Array(type.utf8) + data
        output += typeAndData
        appendUInt32(&output, crc(typeAndData[...]))
    }

    /// The CRC-32 of `bytes` (zlib's; the one PNG chunks carry over their type and data).
    static func crc(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.withUnsafeBufferPointer { UInt32(truncatingIfNeeded: crc32(0, $0.baseAddress, uInt($0.count))) }
    }

    /// A zlib stream (RFC 1950) of `bytes`.
    static func deflate(_ bytes: [UInt8]) throws -> [UInt8] {
        var length = compressBound(uLong(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(length))
        let status = output.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { input in
                compress2(out.baseAddress, &length, input.baseAddress, uLong(input.count), 9)
            }
        }
        guard status == Z_OK else {
            throw ConvKitError.io(path: "<png data>", message: "PNG: zlib compression failed with status \(status)")
        }
        return Array(output[0..<Int(length)])
    }
}
