import Foundation

/// Reads and writes Netpbm greymaps (PGM, http://netpbm.sourceforge.net/doc/pgm.html).
///
/// Both variants are read: binary `P5` (one byte per sample when the maximum value is below
/// 256, otherwise two bytes, most significant first) and plain-text `P2`. The header is the
/// magic number, width, height and maximum value (1 to 65535) separated by whitespace (space,
/// tab, CR, LF, VT, FF), with `#` comments running to the end of a line anywhere before the
/// maximum value; exactly one whitespace character separates the maximum value from a `P5`
/// raster. `P2` rasters may also contain comments. Only the first image of a multi-image file
/// is read. Intensities are `sample / maxval`. Images over `GrayImage.maximumPixelCount` pixels,
/// samples above the maximum value and truncated rasters are `ConvKitError.corruptFile` errors
/// naming the path and the problem.
public enum PGM {
    /// Reads the PGM file at `path`.
    /// - Throws: `ConvKitError.io` when the file cannot be read, `ConvKitError.corruptFile`
    ///   when it is not a valid PGM.
    public static func read(from path: String) throws -> GrayImage {
        try decode(readImageFile(path), path: path)
    }

    /// Decodes a P5 or P2 greymap.
    /// - Parameter path: the file name used in error messages.
    /// - Throws: `ConvKitError.corruptFile` naming `path` and the problem.
    public static func decode(_ bytes: [UInt8], path: String = "<pgm data>") throws -> GrayImage {
        var parser = Parser(bytes: bytes, path: path)
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "2") else {
            let head = String(decoding: bytes.prefix(2).map { (32...126).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
            throw parser.corrupt("bad magic number \"\(head)\" (expected P5 for binary or P2 for plain PGM)")
        }
        let binary = bytes[1] == UInt8(ascii: "5")
        parser.position = 2
        guard parser.position < bytes.count, Parser.isWhitespace(bytes[parser.position]) || bytes[parser.position] == UInt8(ascii: "#") else {
            throw parser.corrupt("the magic number must be followed by whitespace")
        }
        let width = try parser.number("width", limit: GrayImage.maximumPixelCount)
        let height = try parser.number("height", limit: GrayImage.maximumPixelCount)
        let maxValue = try parser.number("maximum value", limit: 65535)
        guard width > 0, height > 0 else { throw parser.corrupt("image size \(width)×\(height): dimensions must be at least 1") }
        guard width * height <= GrayImage.maximumPixelCount else {
            throw parser.corrupt("image size \(width)×\(height) is more than the \(GrayImage.maximumPixelCount)-pixel limit")
        }
        guard maxValue >= 1 else { throw parser.corrupt("maximum value \(maxValue) must be in 1...65535") }
        let count = width * height
        let maximum = Float(maxValue)
        var pixels: [Float] = []

        if binary {
            guard parser.position < bytes.count, Parser.isWhitespace(bytes[parser.position]) else {
                throw parser.corrupt("truncated: the maximum value must be followed by one whitespace character and the raster")
            }
            let start = parser.position + 1
            let bytesPerSample = maxValue < 256 ? 1 : 2
            let available = bytes.count - start
            guard available >= count * bytesPerSample else {
                throw parser.corrupt("truncated raster: \(available) bytes for \(count) \(bytesPerSample * 8)-bit samples (\(count * bytesPerSample) bytes needed)")
            }
            pixels = [Float](repeating: 0, count: count)
            for i in 0..<count {
                let sample = bytesPerSample == 1 ? Int(bytes[start + i])
                    : Int(bytes[start + 2 * i]) << 8 | Int(bytes[start + 2 * i + 1])
                guard sample <= maxValue else {
                    throw parser.corrupt("sample \(sample) at pixel (\(i % width), \(i / width)) is above the maximum value \(maxValue)")
                }
                pixels[i] = Float(sample) / maximum
            }
        } else {
            // Each sample needs a digit and a whitespace before it: refuse before allocating.
            let available = bytes.count - parser.position
            guard available >= 2 * count else {
                throw parser.corrupt("truncated raster: \(available) bytes cannot hold \(count) plain samples")
            }
            pixels = [Float](repeating: 0, count: count)
            for i in 0..<count {
                let sample = try parser.number("sample \(i + 1) of \(count)", limit: 65535)
                guard sample <= maxValue else {
                    throw parser.corrupt("sample \(sample) at pixel (\(i % width), \(i / width)) is above the maximum value \(maxValue)")
                }
                pixels[i] = Float(sample) / maximum
            }
        }
        return GrayImage(validatedWidth: width, height: height, pixels: pixels)
    }

    /// Reads the whitespace-separated decimal numbers of a header or a plain raster.
    struct Parser {
        let bytes: [UInt8]
        let path: String
        var position = 0

        static func isWhitespace(_ byte: UInt8) -> Bool {
            byte == 0x20 || (0x09...0x0D).contains(byte)
        }

        func corrupt(_ message: String) -> ConvKitError {
            .corruptFile(path: path, message: "PGM: " + message)
        }

        /// Skips whitespace and comments, then reads a decimal number of at most `limit`.
        mutating func number(_ what: @autoclosure () -> String, limit: Int) throws -> Int {
            while position < bytes.count {
                if Parser.isWhitespace(bytes[position]) {
                    position += 1
                } else if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != 0x0A && bytes[position] != 0x0D { position += 1 }
                } else {
                    break
                }
            }
            guard position < bytes.count else { throw corrupt("truncated: the file ends before the \(what())") }
            let start = position
            var value = 0
            while position < bytes.count, (48...57).contains(bytes[position]) {
                value = value * 10 + Int(bytes[position] - 48)
                guard value <= limit else { throw corrupt("\(what()) is larger than \(limit)") }
                position += 1
            }
            guard position > start else {
                let found = bytes[start]
                let shown = (33...126).contains(found) ? "'\(Character(UnicodeScalar(found)))'" : String(format: "byte 0x%02x", found)
                throw corrupt("expected the \(what()) as a decimal number at byte \(start), found \(shown)")
            }
            if position < bytes.count && !Parser.isWhitespace(bytes[position]) && bytes[position] != UInt8(ascii: "#") {
                throw corrupt("the \(what()) at byte \(start) is followed by '\(String(decoding: [bytes[position]], as: UTF8.self))' instead of whitespace")
            }
            return value
        }
    }

    /// The PGM bytes of `image`.
    /// - Parameters:
    ///   - plain: write the text variant (P2) instead of binary P5.
    ///   - maxValue: the largest sample value, 1...65535 (above 255, P5 samples take two bytes).
    /// - Throws: `ConvKitError.invalidArgument` for a maximum value out of range.
    public static func encode(_ image: GrayImage, plain: Bool = false, maxValue: Int = 255) throws -> [UInt8] {
        try require((1...65535).contains(maxValue), "PGM.encode", "maxValue must be in 1...65535, got \(maxValue)")
        let samples = image.pixels.map { Int(($0 * Float(maxValue)).rounded()) }
        var output = Array("\(plain ? "P2" : "P5")\n\(image.width) \(image.height)\n\(maxValue)\n".utf8)
        if plain {
            for y in 0..<image.height {
                let row = samples[(y * image.width)..<((y + 1) * image.width)]
                output += Array(row.map(String.init).joined(separator: " ").utf8) + [0x0A]
            }
        } else if maxValue < 256 {
            output += samples.map { UInt8($0) }
        } else {
            output.reserveCapacity(output.count + 2 * samples.count)
            for s in samples { output += [UInt8(s >> 8), UInt8(s & 0xFF)] }
        }
        return output
    }

    /// Writes `image` to `path` as PGM (atomically: a temporary file is renamed into place).
    /// - Throws: `ConvKitError.io` when the file cannot be written.
    public static func write(_ image: GrayImage, to path: String, plain: Bool = false, maxValue: Int = 255) throws {
        try writeImageFile(encode(image, plain: plain, maxValue: maxValue), to: path)
    }
}
