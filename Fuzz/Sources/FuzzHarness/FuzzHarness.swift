// What each fuzz target does with one input. The fuzz executables (Fuzz/Sources/Fuzz*) and the
// regression test (Tests/ConvKitTests/FuzzRegressionTests.swift, through a symbolic link to this
// file) run the same code, so an input replayed in CI goes exactly where the fuzzer sent it.
import ConvKit
import Foundation

/// The fuzz targets and what they feed each input to. Every reader is called through the public
/// API that the library itself uses; a reader may throw a `ConvKitError` or succeed, nothing else.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `IDX.decode` (gzip detected from the magic, as `IDX.read(contentsOf:)`), then `IDX.parse`.
    case idx
    /// `Gzip.decompress` under a small and an unbounded output limit; what inflates is re-compressed
    /// and must come back unchanged.
    case gzip
    /// `SafeTensors.decodeContents`.
    case safetensors
    /// `Checkpoint.decode`, then `apply` to the small model, optimizer and schedule of `FuzzModel`.
    case checkpoint
    /// `decodeImage` (PNG or PGM by magic), `PNG.decodeRGBA`; PNG inputs once more with every
    /// chunk CRC made right, so mutations get past the CRC check into the chunk logic.
    case image
    /// A PNG built from the input (IHDR fields, palette, tRNS, raw filtered scanlines) with right
    /// CRCs and a valid zlib stream, so that mutations reach unfiltering and pixel conversion.
    case pngRaster = "png-raster"

    /// Limits on what a reader may produce here: small enough for the fuzzer's memory limit.
    static let gzipLimit = 1 << 20
    static let idxLimit = 1 << 24

    /// Feeds `bytes` to this target's readers.
    /// - Throws: whatever a reader throws (a `ConvKitError` is the only acceptable kind).
    public func run(_ bytes: [UInt8]) throws {
        switch self {
        case .idx:
            _ = try? IDX.parse(bytes)
            _ = try IDX.decode(bytes, maxBytes: FuzzTarget.idxLimit)
        case .gzip:
            _ = try? Gzip.decompress(bytes, maxOutputBytes: 100)
            _ = try? Gzip.decompressIfNeeded(bytes, maxBytes: 1000)
            let inflated = try Gzip.decompress(bytes, maxOutputBytes: Int.max)
            let again = try Gzip.decompress(Gzip.compress(inflated, level: Int(bytes.count % 11) - 1),
                                            maxOutputBytes: inflated.count)
            guard again == inflated else { fatalError("gzip: compress then decompress changed \(inflated.count) bytes") }
        case .safetensors:
            let contents = try SafeTensors.decodeContents(bytes)
            for tensor in contents.tensors.values {
                // Every tensor read must be usable: its element count fits its storage.
                _ = tensor.dtype == .float32 ? try tensor.toArray().count : try tensor.toIntArray().count
            }
        case .checkpoint:
            let checkpoint = try Checkpoint.decode(bytes)
            try FuzzModel.shared.apply(checkpoint)
        case .image:
            var outcome: Error?
            do { _ = try decodeImage(bytes) } catch { outcome = error }
            if PNG.isPNG(bytes) {
                _ = try? PNG.decodeRGBA(bytes)
                let fixed = PNGBytes.withCorrectCRCs(bytes)
                if fixed != bytes {
                    _ = try? PNG.decodeRGBA(fixed)
                    _ = try decodeImage(fixed)
                }
            }
            if let outcome { throw outcome }
        case .pngRaster:
            guard let png = PNGBytes.build(fromRaster: bytes) else { return }
            _ = try? PNG.decodeRGBA(png)
            _ = try PNG.decode(png)
        }
    }

    /// Runs `bytes` through the target the way a fuzz executable does: a `ConvKitError` is an
    /// acceptable answer, any other error stops the process (the fuzzer records the input).
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
        let bytes = count > 0 && data != nil ? [UInt8](UnsafeBufferPointer(start: data, count: count)) : []
        do {
            try run(bytes)
        } catch is ConvKitError {
        } catch {
            fatalError("\(rawValue): a reader threw \(type(of: error)), not a ConvKitError: \(error)")
        }
        return 0
    }
}

/// The small model that checkpoints are applied to: a convolution, batch normalisation (buffers)
/// and a linear layer, with SGD (momentum buffers) and a StepLR schedule.
public final class FuzzModel {
    /// The model the checkpoint target applies to.
    public let model: Sequential
    /// Its optimizer.
    public let optimizer: SGD
    /// Its schedule.
    public let schedule: StepLR

    /// One instance for the whole fuzzing run (a successful `apply` only overwrites values).
    nonisolated(unsafe) public static let shared = try! FuzzModel()

    /// A freshly initialised model, optimizer and schedule (input `[N, 1, 4, 4]`, 3 classes).
    public init() throws {
        model = Sequential(try Conv2d(inChannels: 1, outChannels: 2, kernelSize: 3), try BatchNorm2d(numFeatures: 2),
                           ReLU(), Flatten(), try Linear(inFeatures: 8, outFeatures: 3))
        optimizer = try SGD(parameters: model.parameters(), learningRate: 0.1, momentum: 0.9)
        schedule = try StepLR(optimizer: optimizer, stepSize: 1, gamma: 0.5)
    }

    /// Applies `checkpoint` to the model, and to the optimizer and schedule when it holds their state.
    public func apply(_ checkpoint: Checkpoint) throws {
        try checkpoint.apply(to: model, optimizer: checkpoint.optimizerType == nil ? nil : optimizer,
                             schedule: checkpoint.scheduleType == nil ? nil : schedule, restoreRandomState: false)
    }
}

/// PNG byte surgery for the fuzz targets: chunk CRCs and a whole file from raw scanlines.
public enum PNGBytes {
    /// `bytes` with the CRC of every chunk that fits in the file recomputed (the rest unchanged).
    public static func withCorrectCRCs(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        var offset = 8
        while out.count - offset >= 12 {
            let length = Int(out[offset]) << 24 | Int(out[offset + 1]) << 16 | Int(out[offset + 2]) << 8 | Int(out[offset + 3])
            guard length <= out.count - offset - 12 else { break }
            let crc = crc32(out[(offset + 4)..<(offset + 8 + length)])
            let at = offset + 8 + length
            out[at] = UInt8(crc >> 24); out[at + 1] = UInt8(crc >> 16 & 0xFF)
            out[at + 2] = UInt8(crc >> 8 & 0xFF); out[at + 3] = UInt8(crc & 0xFF)
            offset = at + 4
        }
        return out
    }

    /// A PNG file from `raster`: 13 bytes of IHDR fields, a byte n then n RGB palette entries
    /// (a PLTE chunk when n > 0), a byte t then t bytes of a tRNS chunk (when t > 0), then the
    /// filtered scanlines (filter-type byte first), stored in a valid zlib stream split over two
    /// IDAT chunks. Nil when the input is shorter than its own layout.
    public static func build(fromRaster raster: [UInt8]) -> [UInt8]? {
        var position = 0
        func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count <= raster.count - position else { return nil }
            defer { position += count }
            return raster[position..<(position + count)]
        }
        guard let header = take(13), let paletteCount = take(1).map({ Int($0.first!) }),
              let palette = take(3 * paletteCount), let alphaCount = take(1).map({ Int($0.first!) }),
              let alpha = take(alphaCount) else { return nil }
        let scanlines = Array(raster[position...])
        var png = PNG.signature
        appendChunk(&png, "IHDR", header)
        if paletteCount > 0 { appendChunk(&png, "PLTE", palette) }
        if alphaCount > 0 { appendChunk(&png, "tRNS", alpha) }
        let stream = zlibStored(scanlines)
        let half = stream.count / 2
        appendChunk(&png, "IDAT", stream[0..<half])
        appendChunk(&png, "IDAT", stream[half...])
        appendChunk(&png, "IEND", [])
        return png
    }

    /// Appends one chunk (length, type, data, CRC).
    public static func appendChunk<Data: Collection>(_ png: inout [UInt8], _ type: String, _ data: Data) where Data.Element == UInt8 {
        appendUInt32(&png, UInt32(data.count))
        let typeAndData = Array(type.utf8) + data
        png += typeAndData
        appendUInt32(&png, crc32(typeAndData[...]))
    }

    static func appendUInt32(_ bytes: inout [UInt8], _ value: UInt32) {
        bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// A zlib stream (RFC 1950) holding `bytes` in stored (uncompressed) deflate blocks.
    public static func zlibStored(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var start = 0
        repeat {
            let count = min(bytes.count - start, 65535)
            let final: UInt8 = start + count == bytes.count ? 1 : 0
            out += [final, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8(~count >> 8 & 0xFF)]
            out += bytes[start..<(start + count)]
            start += count
        } while start < bytes.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        appendUInt32(&out, b << 16 | a)
        return out
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// The CRC-32 that PNG chunks carry (ISO 3309, as zlib's `crc32`).
    public static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
