import Foundation
import XCTest
@testable import ConvKit

/// The committed image fixtures (made by Fixtures/images/make_image_fixtures.py) and their pixels.
enum ImageFixtures {
    static var directory: URL { fixturesDirectory.appendingPathComponent("images") }

    struct Expected {
        var width: Int
        var height: Int
        /// RGBA in [0, 1], four per pixel (PNG files).
        var rgba: [Float]?
        /// Grey in [0, 1] (PGM files).
        var gray: [Float]?
    }

    static func expected() throws -> [String: Expected] {
        let compressed = try [UInt8](Data(contentsOf: directory.appendingPathComponent("expected.json.gz")))
        let json = try Gzip.decompress(compressed, maxOutputBytes: 1 << 22)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json)) as? [String: [String: Any]])
        var result: [String: Expected] = [:]
        for (name, entry) in object {
            func values(_ key: String) -> [Float]? { (entry[key] as? [Int]).map { $0.map { Float(Double($0) / 65535) } } }
            result[name] = Expected(width: try XCTUnwrap(entry["width"] as? Int), height: try XCTUnwrap(entry["height"] as? Int),
                                    rgba: values("rgba"), gray: values("gray"))
        }
        return result
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))
    }
}

/// A PNG assembled chunk by chunk (CRCs computed), for building malformed files.
struct PNGBuilder {
    var chunks: [(String, [UInt8])] = []

    static func header(width: UInt32, height: UInt32, depth: UInt8 = 8, colorType: UInt8 = 0, interlace: UInt8 = 0) -> [UInt8] {
        var data: [UInt8] = []
        PNG.appendUInt32(&data, width)
        PNG.appendUInt32(&data, height)
        return data + [depth, colorType, 0, 0, interlace]
    }

    /// A complete 8-bit greyscale PNG whose scanlines are `raw` (filter bytes included).
    static func gray(width: UInt32, height: UInt32, raw: [UInt8]) throws -> [UInt8] {
        PNGBuilder(chunks: [("IHDR", header(width: width, height: height)), ("IDAT", try PNG.deflate(raw)), ("IEND", [])]).bytes
    }

    var bytes: [UInt8] {
        var out = PNG.signature
        for (type, data) in chunks { PNG.appendChunk(&out, type, data) }
        return out
    }
}

final class ImageIOTests: XCTestCase {
    // MARK: PNG decoding of files made by other encoders

    func testDecodesEveryPNGFixtureToItsPixels() throws {
        let expected = try ImageFixtures.expected()
        let pngs = expected.keys.filter { $0.hasSuffix(".png") }.sorted()
        XCTAssertGreaterThanOrEqual(pngs.count, 30)
        for name in pngs {
            let want = expected[name]!
            let bytes = try ImageFixtures.bytes(name)
            let decoded = try PNG.decodeRGBA(bytes, path: name)
            XCTAssertEqual(decoded.width, want.width, name)
            XCTAssertEqual(decoded.height, want.height, name)
            let rgba = try XCTUnwrap(want.rgba)
            XCTAssertEqual(decoded.rgba.count, rgba.count, name)
            let worst = zip(decoded.rgba, rgba).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-6, "\(name): RGBA differs by \(worst)")

            // Greyscale: luma composited over black (default) and over white.
            for background: Float in [0, 1] {
                let gray = try PNG.decode(bytes, path: name, background: background)
                XCTAssertEqual(gray.width, want.width, name)
                for p in 0..<(want.width * want.height) {
                    let r = rgba[4 * p], g = rgba[4 * p + 1], b = rgba[4 * p + 2], a = rgba[4 * p + 3]
                    let luma = 0.299 * r + 0.587 * g + 0.114 * b
                    let reference = a * luma + (1 - a) * background
                    XCTAssertEqual(gray.pixels[p], reference, accuracy: 1e-5, "\(name) pixel \(p) on background \(background)")
                }
            }
        }
    }

    func testTransparencyAndInterlacingFixturesReallyExerciseThosePaths() throws {
        let expected = try ImageFixtures.expected()
        // The tRNS fixtures have transparent pixels, so compositing changes the result.
        for name in ["ct0_d8_trns.png", "ct2_d8_trns.png", "ct3_d2_trns.png", "ct4_d8.png", "ct6_d16.png"] {
            let rgba = try XCTUnwrap(expected[name]?.rgba)
            XCTAssertTrue(stride(from: 3, to: rgba.count, by: 4).contains { rgba[$0] < 1 }, name)
            let bytes = try ImageFixtures.bytes(name)
            XCTAssertNotEqual(try PNG.decode(bytes, background: 0).pixels, try PNG.decode(bytes, background: 1).pixels, name)
            let automatic = try PNG.decode(bytes).pixels
            XCTAssertTrue(try [PNG.decode(bytes, background: 0).pixels, PNG.decode(bytes, background: 1).pixels].contains(automatic), name)
        }
        let interlaced = try PNG.decodeRaster(ImageFixtures.bytes("interlaced_ct6_d16.png"), path: "x")
        XCTAssertTrue(interlaced.header.interlaced)
        XCTAssertEqual(PNG.passes(of: interlaced.header).count, 7)
        XCTAssertEqual(PNG.passes(of: PNG.Header(width: 1, height: 1, bitDepth: 8, colorType: 0, interlaced: true)).count, 1)
    }

    func testTransparentBackgroundContrastsWithTheStrokes() throws {
        // 3×1 grey + alpha: a stroke pixel, a half-transparent one and a transparent one.
        func picture(stroke: UInt8) throws -> [UInt8] {
            let raw: [UInt8] = [0, stroke, 255, stroke, 128, 77, 0]
            let header = PNGBuilder.header(width: 3, height: 1, colorType: 4)
            return PNGBuilder(chunks: [("IHDR", header), ("IDAT", try PNG.deflate(raw)), ("IEND", [])]).bytes
        }
        // Black ink on a transparent sheet: composited on white.
        let ink = try PNG.decode(picture(stroke: 0))
        for (v, r) in zip(ink.pixels, [0, Float(127) / 255, 1]) { XCTAssertEqual(v, r, accuracy: 1e-6) }
        // A white digit on transparency: composited on black, as MNIST.
        let chalk = try PNG.decode(picture(stroke: 255))
        for (v, r) in zip(chalk.pixels, [1, Float(128) / 255, 0]) { XCTAssertEqual(v, r, accuracy: 1e-6) }
        XCTAssertEqual(try PNG.decode(picture(stroke: 0), background: 0).pixels, [0, 0, 0])
        // Opaque images do not depend on the background.
        let opaque = try PNG.encode(GrayImage(width: 2, height: 1, bytes: [10, 200]))
        XCTAssertEqual(try PNG.decode(opaque, background: 1), try PNG.decode(opaque, background: 0))
    }

    // MARK: PNG encoding

    func testPNGRoundTripsGreyImagesOfManySizes() throws {
        var rng = TestRNG(seed: 11)
        for (width, height) in [(1, 1), (1, 9), (9, 1), (28, 28), (17, 5), (64, 3)] {
            let bytes = (0..<(width * height)).map { i -> UInt8 in
                // a mix of gradients (filters help) and noise (filters do not)
                i % 3 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : UInt8(truncatingIfNeeded: i * 7 + i / width)
            }
            let image = try GrayImage(width: width, height: height, bytes: bytes)
            let png = try PNG.encode(image)
            XCTAssertEqual(Array(png.prefix(8)), PNG.signature)
            let decoded = try PNG.decode(png)
            XCTAssertEqual(decoded.width, width)
            XCTAssertEqual(decoded.height, height)
            XCTAssertEqual(decoded.bytes, bytes, "\(width)×\(height)")
            XCTAssertEqual(decoded, image)
        }
    }

    func testPNGEncoderUsesEveryFilterAndRGBRoundTrips() throws {
        // A picture whose rows suit different filters: constant rows (Up), ramps (Sub), noise.
        var rng = TestRNG(seed: 5)
        let width = 20, height = 12
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    let value: Int
                    switch y % 4 {
                    case 0: value = Int(rng.next() % 256)
                    case 1: value = x * 12 + c
                    case 2: value = (x + y) * 9 + c * 40
                    default: value = 200
                    }
                    rgb[3 * (y * width + x) + c] = UInt8(truncatingIfNeeded: value)
                }
            }
        }
        let png = try PNG.encodeRGB(width: width, height: height, rgb: rgb)
        let raster = try PNG.decodeRaster(png, path: "rgb")
        XCTAssertEqual(raster.header.colorType, 2)
        let decoded = try PNG.decodeRGBA(png)
        for p in 0..<(width * height) {
            for c in 0..<3 { XCTAssertEqual(decoded.rgba[4 * p + c], Float(rgb[3 * p + c]) / 255, accuracy: 1e-7) }
            XCTAssertEqual(decoded.rgba[4 * p + 3], 1)
        }
        assertThrowsConvKitError(try PNG.encodeRGB(width: 2, height: 2, rgb: [1, 2, 3]), "PNG.encodeRGB", "12")
        assertThrowsConvKitError(try PNG.encodeRGB(width: 0, height: 2, rgb: []), "PNG.encodeRGB", "positive")
    }

    func testWriteAndLoadImageChooseTheFormatByContent() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("convkit-images-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let image = try GrayImage(width: 5, height: 3, bytes: (0..<15).map { UInt8($0 * 17) })

        // A PNG named .pgm and a PGM named .png: the content decides.
        let misnamedPNG = directory.appendingPathComponent("digit.pgm").path
        try PNG.write(image, to: misnamedPNG)
        XCTAssertEqual(try loadImage(misnamedPNG), image)
        let misnamedPGM = directory.appendingPathComponent("digit.png").path
        try PGM.write(image, to: misnamedPGM)
        XCTAssertEqual(try loadImage(URL(fileURLWithPath: misnamedPGM)), image)
        XCTAssertEqual(try PGM.read(from: misnamedPGM), image)
        XCTAssertEqual(try PNG.read(from: misnamedPNG), image)
        let link = directory.appendingPathComponent("link-to-digit").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: misnamedPNG)
        XCTAssertEqual(try loadImage(link), image)

        let jpeg = directory.appendingPathComponent("photo.jpg").path
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 0x4A, 0x46]).write(to: URL(fileURLWithPath: jpeg))
        assertThrowsConvKitError(try loadImage(jpeg), jpeg, "not a supported image format", "ff d8 ff", "PNG", "PGM")
        let empty = directory.appendingPathComponent("empty.png").path
        try Data().write(to: URL(fileURLWithPath: empty))
        assertThrowsConvKitError(try loadImage(empty), "empty")
        assertThrowsConvKitError(try loadImage(directory.appendingPathComponent("missing.png").path), "missing.png", "does not exist")
        assertThrowsConvKitError(try loadImage(directory.path), "directory")
        assertThrowsConvKitError(try loadImage("/dev/zero"), "/dev/zero", "not a regular file")
        assertThrowsConvKitError(try PNG.write(image, to: directory.appendingPathComponent("no/such/dir.png").path), "cannot write")

        XCTAssertEqual(ImageFormat.detect(PNG.signature), .png)
        XCTAssertEqual(ImageFormat.detect(Array("P5 1 1 255\n\0".utf8)), .pgm)
        XCTAssertEqual(ImageFormat.detect(Array("P2\n".utf8)), .pgm)
        XCTAssertNil(ImageFormat.detect(Array("P6\n".utf8)))
        XCTAssertNil(ImageFormat.detect([UInt8]()))
    }

    // MARK: PNG malformations

    func testPNGCorruptionsGiveClearErrors() throws {
        let good = try PNG.encode(GrayImage(width: 4, height: 3, bytes: (0..<12).map { UInt8($0 * 20) }))
        let path = "bad.png"
        func decode(_ bytes: [UInt8]) throws -> GrayImage { try PNG.decode(bytes, path: path) }

        var badSignature = good
        badSignature[1] = UInt8(ascii: "Q")
        assertThrowsConvKitError(try decode(badSignature), path, "corrupt", "bad signature", "89 51 4e 47")
        assertThrowsConvKitError(try decode([]), path, "bad signature", "empty")

        var badCRC = good
        badCRC[good.count - 20] ^= 0x40 // inside IDAT's data
        assertThrowsConvKitError(try decode(badCRC), path, "CRC mismatch", "IDAT")
        var badHeaderCRC = good
        badHeaderCRC[20] ^= 1 // IHDR's height
        assertThrowsConvKitError(try decode(badHeaderCRC), path, "CRC mismatch", "IHDR")

        var longChunk = good
        longChunk[8] = 0x7F // IHDR length 2^31-ish
        assertThrowsConvKitError(try decode(longChunk), path, "truncated chunk 'IHDR'", "declares")
        var hugeLength = good
        hugeLength[8] = 0xFF
        assertThrowsConvKitError(try decode(hugeLength), path, "more than the 2^31 − 1 maximum")
        var badType = good
        badType[12] = 0x31
        assertThrowsConvKitError(try decode(badType), path, "invalid chunk type")

        // Every prefix of a valid file is refused with an error, never a trap.
        for length in 0..<good.count {
            assertThrowsConvKitError(try decode(Array(good.prefix(length))), path, "corrupt file")
        }
        assertThrowsConvKitError(try decode(Array(good.prefix(good.count - 12))), "ends without an IEND chunk")
        assertThrowsConvKitError(try decode(Array(good.prefix(good.count - 5))), "truncated chunk at byte")

        let row = [UInt8](repeating: 0, count: 5)
        assertThrowsConvKitError(try decode(try PNGBuilder.gray(width: 0, height: 3, raw: row)), path, "0×3", "at least 1")
        assertThrowsConvKitError(try decode(try PNGBuilder.gray(width: 4, height: 0, raw: row)), "4×0")
        assertThrowsConvKitError(try decode(try PNGBuilder.gray(width: 100_000, height: 100_000, raw: row)),
                                 path, "100000×100000", "pixel limit")
        assertThrowsConvKitError(try decode(try PNGBuilder.gray(width: 0x8000_0000, height: 1, raw: row)), "at most 2^31 − 1")

        // 4×3 greyscale: 3 rows of 1 filter byte + 4 samples.
        let rows: [UInt8] = [0, 1, 2, 3, 4, 1, 1, 1, 1, 1, 4, 9, 9, 9, 9]
        XCTAssertEqual(try decode(try PNGBuilder.gray(width: 4, height: 3, raw: rows)).bytes, [1, 2, 3, 4, 1, 2, 3, 4, 10, 19, 28, 37])
        var badFilter = rows
        badFilter[5] = 5
        assertThrowsConvKitError(try decode(try PNGBuilder.gray(width: 4, height: 3, raw: badFilter)), path,
                                 "invalid filter type 5 on scanline 1")
        assertThrowsConvKitError(try decode(try PNGBuilder.gray(width: 4, height: 3, raw: Array(rows.dropLast()))),
                                 "inflates to 14 bytes, but the header implies 15")
        assertThrowsConvKitError(try decode(try PNGBuilder.gray(width: 4, height: 3, raw: rows + [0])),
                                 "inflates to more than the 15 bytes")
        var notZlib = PNGBuilder(chunks: [("IHDR", PNGBuilder.header(width: 4, height: 3)), ("IDAT", [1, 2, 3, 4, 5, 6]), ("IEND", [])])
        assertThrowsConvKitError(try decode(notZlib.bytes), "not a valid zlib stream")
        notZlib.chunks[1].1 = Array(try PNG.deflate(rows).dropLast(6))
        assertThrowsConvKitError(try decode(notZlib.bytes), "truncated")
        notZlib.chunks[1].1 = []
        assertThrowsConvKitError(try decode(notZlib.bytes), "truncated")

        let ihdr = ("IHDR", PNGBuilder.header(width: 4, height: 3))
        let idat = ("IDAT", try PNG.deflate(rows))
        func build(_ chunks: [(String, [UInt8])]) -> [UInt8] { PNGBuilder(chunks: chunks).bytes }
        assertThrowsConvKitError(try decode(build([idat, ihdr, ("IEND", [])])), "first chunk is 'IDAT'")
        assertThrowsConvKitError(try decode(build([ihdr, ("IEND", [])])), "no IDAT chunk")
        assertThrowsConvKitError(try decode(build([ihdr, ihdr, idat, ("IEND", [])])), "more than one IHDR")
        assertThrowsConvKitError(try decode(build([("IHDR", Array(ihdr.1.dropLast())), idat, ("IEND", [])])), "IHDR chunk has 12 bytes")
        assertThrowsConvKitError(try decode(build([ihdr, idat, ("tEXt", Array("a\0b".utf8)), idat, ("IEND", [])])), "not consecutive")
        assertThrowsConvKitError(try decode(build([ihdr, ("ABCD", []), idat, ("IEND", [])])), "unknown critical chunk 'ABCD'")
        XCTAssertNoThrow(try decode(build([ihdr, ("abCD", [1, 2]), idat, ("IEND", [])])))
        assertThrowsConvKitError(try decode(build([ihdr, ("PLTE", [1, 2, 3]), idat, ("IEND", [])])), "PLTE chunk in a greyscale image")
        assertThrowsConvKitError(try decode(build([ihdr, ("tRNS", [0]), idat, ("IEND", [])])), "tRNS chunk of 1 bytes")

        for (depth, colorType, message) in [(3, 0, "bit depth 3 is not allowed for colour type 0"),
                                            (4, 2, "bit depth 4 is not allowed for colour type 2"),
                                            (16, 3, "bit depth 16 is not allowed for colour type 3"),
                                            (8, 5, "invalid colour type 5")] {
            let header = PNGBuilder.header(width: 4, height: 3, depth: UInt8(depth), colorType: UInt8(colorType))
            assertThrowsConvKitError(try decode(build([("IHDR", header), idat, ("IEND", [])])), message)
        }
        var header = PNGBuilder.header(width: 4, height: 3)
        header[10] = 1
        assertThrowsConvKitError(try decode(build([("IHDR", header), idat, ("IEND", [])])), "compression method 1")
        header[10] = 0; header[11] = 1
        assertThrowsConvKitError(try decode(build([("IHDR", header), idat, ("IEND", [])])), "filter method 1")
        header[11] = 0; header[12] = 2
        assertThrowsConvKitError(try decode(build([("IHDR", header), idat, ("IEND", [])])), "interlace method 2")

        // Palette images: missing palette, index past its end, bad sizes.
        let paletteHeader = ("IHDR", PNGBuilder.header(width: 4, height: 3, depth: 8, colorType: 3))
        let indices: [UInt8] = [0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 2, 0]
        let paletteData = ("IDAT", try PNG.deflate(indices))
        assertThrowsConvKitError(try decode(build([paletteHeader, paletteData, ("IEND", [])])), "without a PLTE chunk")
        assertThrowsConvKitError(try decode(build([paletteHeader, ("PLTE", [9, 9, 9, 200, 200, 200]), paletteData, ("IEND", [])])),
                                 "pixel (2, 2) uses palette index 2 but the palette has 2 entries")
        XCTAssertNoThrow(try decode(build([paletteHeader, ("PLTE", [9, 9, 9, 200, 200, 200, 0, 0, 0]), paletteData, ("IEND", [])])))
        assertThrowsConvKitError(try decode(build([paletteHeader, ("PLTE", [1, 2, 3, 4]), paletteData, ("IEND", [])])), "PLTE chunk of 4 bytes")
        assertThrowsConvKitError(try decode(build([paletteHeader, ("PLTE", [1, 2, 3]), ("tRNS", [1, 2]), paletteData, ("IEND", [])])),
                                 "2 alpha values for a palette of 1")
        assertThrowsConvKitError(try decode(build([paletteHeader, ("PLTE", [1, 2, 3]), ("PLTE", [1, 2, 3]), paletteData, ("IEND", [])])),
                                 "more than one PLTE")
        let smallPalette = PNGBuilder.header(width: 4, height: 3, depth: 1, colorType: 3)
        assertThrowsConvKitError(try decode(build([("IHDR", smallPalette), ("PLTE", [1, 2, 3, 4, 5, 6, 7, 8, 9]), paletteData, ("IEND", [])])),
                                 "not 1 to 2 RGB entries")
        assertThrowsConvKitError(try PNG.decode(good, background: 2), "background")
    }

    /// Random damage (with CRCs repaired so it reaches the decoder's deeper checks) must give a
    /// picture or a ConvKitError, never a trap or another error.
    func testDamagedPNGsNeverTrap() throws {
        var rng = TestRNG(seed: 99)
        let names = ["ct0_d1.png", "ct3_d4.png", "ct6_d16.png", "interlaced_ct0_d8.png", "ct2_d8_trns.png", "split_idat_ancillary.png"]
        var errors = 0, decoded = 0
        for name in names {
            let original = try ImageFixtures.bytes(name)
            for _ in 0..<60 {
                var bytes = original
                for _ in 0..<rng.int(1...3) {
                    let at = rng.int(8...(bytes.count - 1))
                    bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                }
                repairCRCs(&bytes)
                do {
                    _ = try PNG.decode(bytes, path: name)
                    decoded += 1
                } catch let error as ConvKitError {
                    if case .corruptFile(let path, _) = error { XCTAssertEqual(path, name) } else { XCTFail("\(error)") }
                    errors += 1
                }
            }
        }
        XCTAssertGreaterThan(errors, 50)
        XCTAssertEqual(errors + decoded, names.count * 60)
    }

    /// Recomputes the CRC of every chunk whose length field still fits in the file.
    private func repairCRCs(_ bytes: inout [UInt8]) {
        var offset = 8
        while bytes.count - offset >= 12 {
            let length = Int(PNG.readUInt32(bytes, at: offset))
            guard length <= bytes.count - offset - 12 else { return }
            var crc: [UInt8] = []
            PNG.appendUInt32(&crc, PNG.crc(bytes[(offset + 4)..<(offset + 8 + length)]))
            bytes.replaceSubrange((offset + 8 + length)..<(offset + 12 + length), with: crc)
            offset += 12 + length
        }
    }

    // MARK: PGM

    func testPGMFixturesDecode() throws {
        let expected = try ImageFixtures.expected()
        for name in ["p5_8bit.pgm", "p5_16bit.pgm", "p2_plain.pgm"] {
            let want = try XCTUnwrap(expected[name])
            let image = try PGM.decode(ImageFixtures.bytes(name), path: name)
            XCTAssertEqual(image.width, want.width, name)
            XCTAssertEqual(image.height, want.height, name)
            let gray = try XCTUnwrap(want.gray)
            let worst = zip(image.pixels, gray).map { abs($0 - $1) }.max() ?? 1
            XCTAssertLessThan(worst, 1e-5, name) // the reference is rounded to 1/65535
            XCTAssertEqual(try loadImage(ImageFixtures.directory.appendingPathComponent(name)), image)
        }
    }

    func testPGMHeaderRules() throws {
        // Comments anywhere in the header, any whitespace, one whitespace byte before the raster
        // (here the raster's first byte is itself a space, 32, and a '#', 35).
        let header = Array("P5# comment right after the magic\n 3\t# width\n2\r\n# maxval next\n255\n".utf8)
        let image = try PGM.decode(header + [32, 35, 0, 255, 10, 128])
        XCTAssertEqual(image.bytes, [32, 35, 0, 255, 10, 128])
        // Trailing data (a second image) is ignored.
        XCTAssertEqual(try PGM.decode(header + [1, 2, 3, 4, 5, 6] + Array("P5 1 1 255\n\0".utf8)).bytes, [1, 2, 3, 4, 5, 6])
        // maxval other than 255 scales; 16-bit samples are big-endian.
        XCTAssertEqual(try PGM.decode(Array("P5 2 1 3\n".utf8) + [0, 3]).pixels, [0, 1])
        XCTAssertEqual(try PGM.decode(Array("P5 2 1 65535\n".utf8) + [0xFF, 0xFF, 0x80, 0x00]).pixels, [1, Float(32768) / 65535])
        XCTAssertEqual(try PGM.decode(Array("P2 3 1 100 0 50\n100".utf8)).pixels, [0, 0.5, 1])
    }

    func testPGMRoundTrips() throws {
        var rng = TestRNG(seed: 3)
        let image = try GrayImage(width: 7, height: 4, bytes: (0..<28).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        XCTAssertEqual(try PGM.decode(PGM.encode(image)), image)
        XCTAssertEqual(try PGM.decode(PGM.encode(image, plain: true)), image)
        let wide = try PGM.decode(PGM.encode(image, maxValue: 65535))
        XCTAssertEqual(wide.bytes, image.bytes)
        XCTAssertEqual(try PGM.encode(image, maxValue: 65535).count, Array("P5\n7 4\n65535\n".utf8).count + 56)
        let plain = String(decoding: try PGM.encode(image, plain: true, maxValue: 15), as: UTF8.self)
        XCTAssertTrue(plain.hasPrefix("P2\n7 4\n15\n"))
        assertThrowsConvKitError(try PGM.encode(image, maxValue: 0), "PGM.encode", "maxValue")
        assertThrowsConvKitError(try PGM.encode(image, maxValue: 65536), "PGM.encode", "maxValue")
    }

    func testPGMCorruptionsGiveClearErrors() throws {
        let path = "bad.pgm"
        func decode(_ text: String, _ raster: [UInt8] = []) throws -> GrayImage { try PGM.decode(Array(text.utf8) + raster, path: path) }
        assertThrowsConvKitError(try decode("P6 1 1 255\n", [0, 0, 0]), path, "corrupt", "bad magic number \"P6\"")
        assertThrowsConvKitError(try decode(""), path, "bad magic number")
        assertThrowsConvKitError(try decode("P51 1 255\n", [0]), "must be followed by whitespace")
        assertThrowsConvKitError(try decode("P5 2 2 255\n", [1, 2, 3]), path, "truncated raster: 3 bytes", "4 bytes needed")
        assertThrowsConvKitError(try decode("P5 2 2 256\n", [1, 2, 3, 4, 5, 6]), "truncated raster", "16-bit", "8 bytes needed")
        assertThrowsConvKitError(try decode("P5 2 2 255"), "truncated", "whitespace character")
        assertThrowsConvKitError(try decode("P5 2 2"), "truncated", "before the maximum value")
        assertThrowsConvKitError(try decode("P5 2 # only a comment"), "before the height")
        assertThrowsConvKitError(try decode("P5 0 2 255\n"), "0×2", "at least 1")
        assertThrowsConvKitError(try decode("P5 2 0 255\n"), "2×0")
        assertThrowsConvKitError(try decode("P5 100000 100000 255\n"), "100000×100000", "pixel limit")
        assertThrowsConvKitError(try decode("P5 99999999999999999999999 2 255\n"), "width is larger than")
        assertThrowsConvKitError(try decode("P5 2 1 0\n", [0, 0]), "maximum value 0")
        assertThrowsConvKitError(try decode("P5 2 1 65536\n", [0, 0]), "maximum value is larger than 65535")
        assertThrowsConvKitError(try decode("P5 2 1 100\n", [50, 101]), "sample 101 at pixel (1, 0) is above the maximum value 100")
        assertThrowsConvKitError(try decode("P5 1 1 1000\n", [0x03, 0xE9]), "sample 1001")
        assertThrowsConvKitError(try decode("P5 x 2 255\n"), "expected the width as a decimal number", "'x'")
        assertThrowsConvKitError(try decode("P5 2x 2 255\n"), "followed by 'x'")
        assertThrowsConvKitError(try decode("P5 -2 2 255\n"), "'-'")
        assertThrowsConvKitError(try decode("P2 2 2 10\n1 2 3"), "truncated raster: 6 bytes cannot hold 4 plain samples")
        assertThrowsConvKitError(try decode("P2 2 2 10\n1 2 3         "), "truncated", "sample 4 of 4")
        assertThrowsConvKitError(try decode("P2 8000 8000 10\n1 2 3"), "cannot hold 64000000 plain samples")
        assertThrowsConvKitError(try decode("P2 2 1 10\n1 11"), "sample 11 at pixel (1, 0)")
        assertThrowsConvKitError(try decode("P2 2 1 10\n1 a"), "expected the sample 2 of 2", "'a'")
        assertThrowsConvKitError(try decode("P2 2 1 10\n1 99999999"), "larger than 65535")
        // Every prefix of a valid file is an error, never a trap.
        let good = try PGM.encode(GrayImage(width: 3, height: 2, bytes: [1, 2, 3, 4, 5, 6]), plain: true)
        for length in 0..<(good.count - 1) {
            assertThrowsConvKitError(try PGM.decode(Array(good.prefix(length)), path: path), path)
        }
    }

    // MARK: GrayImage, resizing, tensors

    func testGrayImageValidatesItsArguments() throws {
        assertThrowsConvKitError(try GrayImage(width: 0, height: 1, pixels: []), "GrayImage", "positive")
        assertThrowsConvKitError(try GrayImage(width: 2, height: 2, pixels: [0, 0, 0]), "GrayImage", "3 pixels", "expected 4")
        assertThrowsConvKitError(try GrayImage(width: 2, height: 2, bytes: [0]), "GrayImage", "1 bytes")
        assertThrowsConvKitError(try GrayImage(width: 1 << 20, height: 1 << 20, pixels: []), "pixel limit")
        let clamped = try GrayImage(width: 4, height: 1, pixels: [-1, .nan, 0.25, 7])
        XCTAssertEqual(clamped.pixels, [0, 0, 0.25, 1])
        XCTAssertEqual(try clamped[2, 0], 0.25)
        XCTAssertEqual(clamped.inverted().pixels, [1, 1, 0.75, 0])
        XCTAssertEqual(clamped.bytes, [0, 0, 64, 255])
    }

    func testResizeKeepsConstantsAndIsIdentityAtTheSameSize() throws {
        let constant = try GrayImage(width: 37, height: 23, pixels: [Float](repeating: 0.3, count: 37 * 23))
        for (w, h) in [(28, 28), (50, 9), (1, 1), (37, 100), (5, 23)] {
            let resized = try constant.resized(width: w, height: h)
            XCTAssertEqual(resized.width, w)
            XCTAssertEqual(resized.height, h)
            for v in resized.pixels { XCTAssertEqual(v, 0.3, accuracy: 1e-6) }
        }
        var rng = TestRNG(seed: 8)
        let noise = try GrayImage(width: 9, height: 6, bytes: (0..<54).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        XCTAssertEqual(try noise.resized(to: Size2d(6, 9)), noise)
        assertThrowsConvKitError(try noise.resized(width: 0, height: 3), "GrayImage.resized", "positive")
    }

    func testDownscalingAveragesTheCoveredPixels() throws {
        // 2× shrink: each output pixel is the mean of a 2×2 block.
        var rng = TestRNG(seed: 21)
        let source = try GrayImage(width: 8, height: 6, bytes: (0..<48).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        let half = try source.resized(width: 4, height: 3)
        for y in 0..<3 {
            for x in 0..<4 {
                let mean = try (source[2 * x, 2 * y] + source[2 * x + 1, 2 * y] + source[2 * x, 2 * y + 1] + source[2 * x + 1, 2 * y + 1]) / 4
                XCTAssertEqual(try half[x, y], mean, accuracy: 1e-6)
            }
        }
        // Fractional coverage: 5×4 → 3×3; reference: the exact area integral (numpy, Float64).
        let ramp = try GrayImage(width: 5, height: 4, bytes: (0..<20).map { UInt8($0 * 10) })
        let box: [Float] = [0.064706, 0.127451, 0.190196, 0.309804, 0.372549, 0.435294, 0.554902, 0.617647, 0.680392]
        let shrunk = try ramp.resized(width: 3, height: 3)
        for (v, r) in zip(shrunk.pixels, box) { XCTAssertEqual(v, r, accuracy: 2e-6) }
        // A one-pixel line survives shrinking (it is averaged, not skipped).
        var line = [Float](repeating: 0, count: 56 * 56)
        for y in 0..<56 { line[y * 56 + 29] = 1 }
        let thin = try GrayImage(width: 56, height: 56, pixels: line).resized(width: 28, height: 28)
        XCTAssertEqual(try thin[14, 10], 0.5, accuracy: 1e-6)
        XCTAssertEqual(thin.pixels.reduce(0, +), 28 * 0.5, accuracy: 1e-4)
    }

    func testUpscalingMatchesPyTorchBilinear() throws {
        // F.interpolate(x, size=(3, 7), mode="bilinear", align_corners=False)
        let source = try GrayImage(width: 3, height: 2, pixels: [0, 0.2, 0.9, 1.0, 0.5, 0.1])
        let reference: [Float] = [0.0, 0.028571, 0.114286, 0.2, 0.5, 0.8, 0.9, 0.5, 0.478571, 0.414286, 0.35, 0.414286, 0.478571, 0.5,
                                  1.0, 0.928571, 0.714286, 0.5, 0.328571, 0.157143, 0.1]
        let resized = try source.resized(width: 7, height: 3)
        for (v, r) in zip(resized.pixels, reference) { XCTAssertEqual(v, r, accuracy: 2e-6) }
        XCTAssertEqual(GrayImage.resamplingTaps(from: 1, to: 4), Array(repeating: [GrayImage.Tap(index: 0, weight: 1)], count: 4))
    }

    func testPhotoSizedImageDecodesAndShrinksToModelInput() throws {
        // A 320×240 RGB picture with a known mean: decode to grey and shrink to 28×28.
        let width = 320, height = 240
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let p = 3 * (y * width + x)
                rgb[p] = UInt8(x % 256); rgb[p + 1] = UInt8(y % 256); rgb[p + 2] = UInt8((x + y) % 256)
            }
        }
        let start = Date()
        let gray = try PNG.decode(PNG.encodeRGB(width: width, height: height, rgb: rgb))
        let small = try gray.resized(width: 28, height: 28)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(small.meanIntensity, gray.meanIntensity, accuracy: 1e-4, "area shrinking keeps the mean")
        XCTAssertEqual(try gray[300, 200], (0.299 * 44 + 0.587 * 200 + 0.114 * 244) / 255, accuracy: 1e-6)
        print("encode + decode + resize of a \(width)×\(height) RGB PNG: \(String(format: "%.3f", seconds)) s")
    }

    func testFittedLikeMNISTCropsScalesAndCentresTheDigit() throws {
        // A 10×40 bright bar off-centre in a 100×60 dark picture.
        var pixels = [Float](repeating: 0.05, count: 100 * 60)
        for y in 5..<45 { for x in 70..<80 { pixels[y * 100 + x] = 1 } }
        let fitted = try GrayImage(width: 100, height: 60, pixels: pixels).fittedLikeMNIST()
        XCTAssertEqual(fitted.width, 28)
        XCTAssertEqual(fitted.height, 28)
        // Longer side 40 → 20 pixels, so the bar becomes 5×20, centred: columns 12..<16 or 11..<16, rows 4..<24.
        let bright = (0..<(28 * 28)).filter { fitted.pixels[$0] > 0.5 }
        let xs = bright.map { $0 % 28 }, ys = bright.map { $0 / 28 }
        XCTAssertEqual(ys.min(), 4)
        XCTAssertEqual(ys.max(), 23)
        XCTAssertEqual(xs.max()! - xs.min()! + 1, 5)
        XCTAssertEqual(Double(xs.min()! + xs.max()! + 1) / 2, 14, accuracy: 0.5)
        XCTAssertEqual(try fitted[0, 0], 0, "the background is black, the faint 0.05 is cropped away")
        XCTAssertEqual(fitted.meanIntensity, 100.0 / 784, accuracy: 0.01)

        // Nothing above the threshold: a plain resize.
        let dark = try GrayImage(width: 56, height: 56, pixels: [Float](repeating: 0.1, count: 56 * 56))
        XCTAssertEqual(try dark.fittedLikeMNIST(), try dark.resized(width: 28, height: 28))
        // A single pixel lands in the middle.
        var dot = [Float](repeating: 0, count: 9)
        dot[0] = 1
        let centred = try GrayImage(width: 3, height: 3, pixels: dot).fittedLikeMNIST(size: 5, box: 1)
        XCTAssertEqual(try centred[2, 2], 1)
        assertThrowsConvKitError(try dark.fittedLikeMNIST(size: 28, box: 29), "GrayImage.fittedLikeMNIST", "box")
        assertThrowsConvKitError(try dark.fittedLikeMNIST(threshold: 1), "threshold")
    }

    func testTensorConversions() throws {
        let image = try GrayImage(width: 3, height: 2, pixels: [0, 0.1, 0.2, 0.3, 0.4, 1])
        let tensor = try image.toTensor()
        XCTAssertEqual(tensor.shape, [1, 1, 2, 3])
        XCTAssertEqual(try tensor.toArray(), image.pixels)
        XCTAssertEqual(try GrayImage(tensor: tensor, normalize: false), image)

        // Channel 1 of a [2, 2, 2] tensor, normalised to its own range; channel 0 is constant.
        let channels = try Tensor([5, 5, 5, 5, -2, 0, 2, 6], shape: [2, 2, 2])
        XCTAssertEqual(try GrayImage(tensor: channels, channel: 1).pixels, [0, 0.25, 0.5, 1])
        XCTAssertEqual(try GrayImage(tensor: channels, channel: 0).pixels, [0.5, 0.5, 0.5, 0.5])
        XCTAssertEqual(try GrayImage(tensor: Tensor([1, .nan, 3, .infinity], shape: [2, 2])).pixels, [0, 0, 1, 0])
        XCTAssertEqual(try GrayImage(tensor: Tensor([0, 2, 0.5, -1], shape: [2, 2]), normalize: false).pixels, [0, 1, 0.5, 0])

        assertThrowsConvKitError(try GrayImage(tensor: channels, channel: 2), "GrayImage(tensor:)", "channel 2", "2 channels")
        assertThrowsConvKitError(try GrayImage(tensor: Tensor([1, 2], shape: [2])), "GrayImage(tensor:)", "[H, W]")
        assertThrowsConvKitError(try GrayImage(tensor: Tensor(indices: [1, 2, 3, 4], shape: [2, 2])), "float32")
        assertThrowsConvKitError(try GrayImage(tensor: Tensor.zeros([0, 1, 2, 2])), "empty")
        assertThrowsConvKitError(try GrayImage(tensor: Tensor.zeros([1, 0, 2])), "positive")
    }
}
