import ClipoodIO
import CPNG
import CTurboJPEG
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// JPEG and PNG files to RGB8, matching Pillow's `Image.open(f).convert("RGB")`.
///
/// The format is sniffed from the first bytes, never from the file name. What Pillow does, and so
/// what this does:
///   - JPEG (libjpeg-turbo, default decoding: ISLOW IDCT, fancy upsampling): RGB/YCbCr as decoded,
///     greyscale replicated. Four-channel JPEGs are CMYK (YCCK is converted to CMYK by the
///     library); Pillow always treats them as Adobe-style inverted ("CMYK;I") and converts with
///     R = round((255 − C)(255 − K)/255), which on the stored samples is round(c·k/255).
///     EXIF orientation is not applied (Pillow's `open` does not).
///   - PNG (libpng's simplified API): alpha is dropped, not composited; palette indices map through
///     the palette; grey is replicated; 1/2/4-bit grey is scaled to 0…255. Colour-management chunks
///     (gAMA, sRGB, cHRM, iCCP) and tRNS are ignored, as Pillow ignores them in `convert("RGB")`:
///     they are removed before libpng sees the data, since its simplified API would otherwise
///     gamma-convert. 16-bit samples: Pillow keeps the high byte of RGB(A) and LA; 16-bit grey
///     without alpha becomes Pillow's "I;16" whose conversion to RGB clips at 255 (so most
///     16-bit grey pixels come out white — that is Pillow's behaviour, reproduced for parity).
///     16-bit images *with* an alpha channel go through libpng's 8-bit path, which rounds
///     v/257 instead of taking the high byte: at most 1 level away from Pillow.
///   - A truncated file is an error (as in Pillow without LOAD_TRUNCATED_IMAGES). A JPEG that
///     libjpeg-turbo decodes completely with a recoverable warning (for instance "extraneous bytes
///     before marker") is accepted, as Pillow accepts it.
public enum ImageDecoder {
    /// Pillow's decompression-bomb limit (2 × Image.MAX_IMAGE_PIXELS): larger images are refused.
    public static let maxPixels = 2 * (1024 * 1024 * 1024 / 4 / 3)
    /// The longest side accepted, in pixels: a header claiming more is refused before anything
    /// is allocated (16384 px is beyond any photo a CLIP dataset holds).
    public static let maxSide = 16384
    /// The largest image file read, in bytes; the size is checked on the open descriptor.
    public static let maxFileBytes = 64 << 20
    /// The most bytes a PNG chunk other than IDAT may declare (libpng's build-time default for
    /// the chunks it buffers whole). IDAT is streamed by libpng, so it is only held to the bytes
    /// the file really has.
    public static let maxPNGChunkBytes = 8 << 20

    /// Reads a regular file of at most `maxFileBytes` (a FIFO, a device or a socket is refused
    /// without blocking) and decodes it.
    public static func decode(path: String) throws -> RGBImage {
        try decode(data: try readFile(path), name: path)
    }

    /// Decodes a JPEG or PNG held in memory; `name` is what errors call it. A pure function of
    /// the bytes (no file is touched): a fuzzing harness can call it on arbitrary input.
    public static func decode(data: Data, name: String) throws -> RGBImage {
        try data.withUnsafeBytes { raw -> RGBImage in
            let bytes = UnsafeRawBufferPointer(raw)
            switch sniff(bytes) {
            case .jpeg: return try decodeJPEG(bytes, name: name)
            case .png: return try decodePNG(bytes, name: name)
            case .other(let format): throw ImageError.unsupported(file: name, reason: "\(format) images are not supported (only JPEG and PNG)")
            case .unknown(let found): throw ImageError.notAnImage(file: name, found: found)
            }
        }
    }

    /// The number of bytes an image of `width` × `height` with `channels` bytes per pixel needs,
    /// or an error naming the file when a side is not positive, is over `maxSide`, the pixel
    /// count is over `maxPixels`, or the product overflows. Called before any pixel is allocated.
    static func checkedPixelBytes(width: Int, height: Int, channels: Int, name: String) throws -> Int {
        guard width > 0, height > 0 else {
            throw ImageError.corrupt(file: name, format: "image", message: "its header gives a size of \(width)×\(height)")
        }
        guard width <= maxSide, height <= maxSide else {
            throw ImageError.unsupported(file: name, reason: "\(width)×\(height) is larger than the \(maxSide)-pixel limit per side")
        }
        guard let pixels = Checked.multiply(width, height), pixels <= maxPixels,
              let bytes = Checked.multiply(pixels, channels) else {
            throw ImageError.unsupported(file: name, reason: "\(width)×\(height) is more than \(maxPixels) pixels (Pillow's decompression-bomb limit)")
        }
        return bytes
    }

    // MARK: - Reading and sniffing

    static func readFile(_ path: String) throws -> Data {
        do { return try FileReading.read(path, limit: maxFileBytes) } catch let e as IOFailure {
            throw ImageError.unreadable(file: path, reason: e.reason)
        }
    }

    enum Sniffed: Equatable { case jpeg, png, other(String), unknown(String) }

    static func sniff(_ b: UnsafeRawBufferPointer) -> Sniffed {
        func starts(_ s: [UInt8], at offset: Int = 0) -> Bool {
            b.count >= offset + s.count && s.indices.allSatisfy { b[offset + $0] == s[$0] }
        }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .other("GIF") }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .other("WebP") }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .other("TIFF") }
        if starts(Array("ftyp".utf8), at: 4) { return .other("HEIF/AVIF (ISO media)") }
        if starts(Array("BM".utf8)) && b.count >= 26 && b[14] >= 12 && b[15] == 0 && b[16] == 0 && b[17] == 0 { return .other("BMP") }
        if starts([0xFF, 0x4F, 0xFF, 0x51]) || starts([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) { return .other("JPEG 2000") }
        return .unknown(describeStart(b))
    }

    /// What the first bytes look like, for "not an image" messages.
    static func describeStart(_ b: UnsafeRawBufferPointer) -> String {
        if b.isEmpty { return "the file is empty" }
        let head = Array(b.prefix(32))
        let printable = head.filter { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || $0 >= 0x80 }
        if printable.count == head.count, let text = String(validating: head, as: UTF8.self) ?? String(validating: head.dropLast(3), as: UTF8.self) {
            let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            let shown = line.count > 24 ? String(line.prefix(24)) + "…" : line
            return "it looks like text, starting \"\(shown)\""
        }
        let hex = head.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        return "it starts with the bytes \(hex)"
    }

    // MARK: - JPEG

    static func decodeJPEG(_ bytes: UnsafeRawBufferPointer, name: String) throws -> RGBImage {
        guard let handle = tjInitDecompress() else {
            throw ImageError.unsupported(file: name, reason: "libjpeg-turbo could not be initialised")
        }
        defer { tjDestroy(handle) }
        let src = bytes.bindMemory(to: UInt8.self).baseAddress!
        let size = UInt(bytes.count)

        func failure() -> ImageError {
            let message = String(cString: tjGetErrorStr2(handle))
            if message.contains("Premature end") || jpegIsTruncated(bytes) {
                return .truncated(file: name, format: "JPEG", message: message)
            }
            if message.contains("Unsupported") || message.contains("unsupported") {
                return .unsupported(file: name, reason: "libjpeg-turbo: \(message)")
            }
            return .corrupt(file: name, format: "JPEG", message: message)
        }

        var w: Int32 = 0, h: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        if tjDecompressHeader3(handle, src, size, &w, &h, &subsamp, &colorspace) != 0 {
            // A recoverable warning (e.g. "extraneous bytes before marker") still fills in the
            // header; anything else, or a warning about missing data, is fatal.
            let warning = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
            let message = String(cString: tjGetErrorStr2(handle))
            if !warning || w <= 0 || h <= 0 || message.contains("Premature end") || jpegIsTruncated(bytes) { throw failure() }
        }
        guard w > 0, h > 0 else {
            // libjpeg-turbo may accept a header cut short before the frame header.
            throw jpegIsTruncated(bytes)
                ? ImageError.truncated(file: name, format: "JPEG", message: "the data ends before the frame header")
                : ImageError.corrupt(file: name, format: "JPEG", message: "no frame header (image size 0×0)")
        }
        let width = Int(w), height = Int(h)
        let cmyk = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        // Sizes from the header are checked (per side, pixel count, overflow) before allocating;
        // the CMYK path holds four bytes per pixel besides the RGB result.
        let count = try checkedPixelBytes(width: width, height: height, channels: 3, name: name)
        let samplesCount = cmyk ? try checkedPixelBytes(width: width, height: height, channels: 4, name: name) : 0

        /// Runs tjDecompress2 into `dst`; a warning is an error only when the data is truncated.
        func run(_ dst: UnsafeMutablePointer<UInt8>, _ format: TJPF) throws {
            // LIMITSCANS: a progressive JPEG with hundreds of scans (a CPU bomb) is an error.
            if tjDecompress2(handle, src, size, dst, w, 0, h, Int32(format.rawValue), TJFLAG_LIMITSCANS) != 0 {
                let warning = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
                let message = String(cString: tjGetErrorStr2(handle))
                if !warning || message.contains("Premature end") || jpegIsTruncated(bytes) { throw failure() }
            }
        }

        if !cmyk {
            var thrown: Error?
            let pixels = [UInt8](unsafeUninitializedCapacity: count) { buf, initialized in
                do { try run(buf.baseAddress!, TJPF_RGB) } catch {
                    thrown = error
                    buf.baseAddress!.update(repeating: 0, count: count)
                }
                initialized = count
            }
            if let thrown { throw thrown }
            return RGBImage(width: width, height: height, pixels: pixels)
        }

        var samples = [UInt8](repeating: 0, count: samplesCount)
        try samples.withUnsafeMutableBufferPointer { try run($0.baseAddress!, TJPF_CMYK) }
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            samples.withUnsafeBufferPointer { s in
                // Pillow: C = 255 − c (inverted Adobe samples), R = round((255 − C)(255 − K)/255)
                // = round(c·k/255); no ties are possible, so floor((c·k + 127)/255) is exact.
                for i in 0 ..< width * height {
                    let k = UInt32(s[4 * i + 3])
                    for ch in 0 ..< 3 { out[3 * i + ch] = UInt8((UInt32(s[4 * i + ch]) * k + 127) / 255) }
                }
            }
            initialized = count
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// True when the JPEG's marker structure ends before its EOI marker (the file was cut short).
    /// Walks the segments from SOI, skipping entropy-coded data after each SOS (where 0xFF is
    /// followed by 0x00 stuffing or an RSTn marker).
    static func jpegIsTruncated(_ b: UnsafeRawBufferPointer) -> Bool {
        let n = b.count
        var pos = 2
        while pos < n {
            // Find the next marker: 0xFF, any fill 0xFF bytes, then the code.
            guard b[pos] == 0xFF else { pos += 1; continue }   // stray byte (libjpeg warns and skips)
            while pos < n && b[pos] == 0xFF { pos += 1 }
            guard pos < n else { return true }
            let code = b[pos]
            pos += 1
            if code == 0xD9 { return false }                          // EOI
            if code == 0x00 || code == 0x01 || (0xD0 ... 0xD7).contains(code) { continue }
            guard pos + 2 <= n else { return true }
            let length = Int(b[pos]) << 8 | Int(b[pos + 1])
            guard length >= 2, pos + length <= n else { return true }
            pos += length
            if code == 0xDA {                                         // SOS: skip the scan's data
                while true {
                    guard pos < n else { return true }
                    if b[pos] != 0xFF { pos += 1; continue }
                    guard pos + 1 < n else { return true }
                    let next = b[pos + 1]
                    if next == 0x00 || (0xD0 ... 0xD7).contains(next) { pos += 2; continue }
                    if next == 0xFF { pos += 1; continue }
                    break                                             // a real marker at pos
                }
            }
        }
        return true
    }

    // MARK: - PNG

    private static let flagAlpha: UInt32 = 0x01, flagColor: UInt32 = 0x02, flagLinear: UInt32 = 0x04
    private static let flag16BitSRGB: UInt32 = 0x04   // PNG_IMAGE_FLAG_16BIT_sRGB

    static func decodePNG(_ bytes: UnsafeRawBufferPointer, name: String) throws -> RGBImage {
        try checkPNGChunks(bytes, name: name)
        if let stripped = withoutIgnoredChunks(bytes) {
            return try stripped.withUnsafeBytes { try decodePNGData($0, name: name) }
        }
        return try decodePNGData(bytes, name: name)
    }

    private static func decodePNGData(_ bytes: UnsafeRawBufferPointer, name: String) throws -> RGBImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)

        func failure(_ image: inout png_image) -> ImageError {
            let message = withUnsafeBytes(of: &image.message) { raw -> String in
                let chars = raw.prefix(while: { $0 != 0 })
                return String(decoding: chars, as: UTF8.self)
            }
            let lower = message.lowercased()
            if lower.contains("not enough") || lower.contains("end of") || lower.contains("beyond") || lower.contains("truncat") {
                return .truncated(file: name, format: "PNG", message: message)
            }
            if lower.contains("unsupported") || lower.contains("too large") || lower.contains("exceeds") {
                return .unsupported(file: name, reason: "libpng: \(message)")
            }
            return .corrupt(file: name, format: "PNG", message: message)
        }

        guard png_image_begin_read_from_memory(&image, bytes.baseAddress, bytes.count) != 0 else { throw failure(&image) }
        let width = Int(image.width), height = Int(image.height)
        let fileFormat = image.format
        let sixteen = fileFormat & flagLinear != 0
        let alpha = fileFormat & flagAlpha != 0
        let color = fileFormat & flagColor != 0
        let count: Int
        do {
            count = try checkedPixelBytes(width: width, height: height, channels: 3, name: name)
            // The widest buffer below: 16-bit RGB (6 bytes a pixel) or RGBA (4).
            _ = try checkedPixelBytes(width: width, height: height, channels: sixteen && !alpha ? 6 : 4, name: name)
        } catch {
            png_image_free(&image)
            throw error
        }

        if sixteen && !alpha {
            // No gamma information (stripped) and linear output: libpng hands back the stored
            // 16-bit samples unchanged.
            let channels = color ? 3 : 1
            image.format = color ? flagLinear | flagColor : flagLinear
            var wide = [UInt16](repeating: 0, count: width * height * channels)
            let ok = wide.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else { throw failure(&image) }
            let pixels = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
                wide.withUnsafeBufferPointer { s in
                    if color {
                        for i in 0 ..< count { out[i] = UInt8(s[i] >> 8) }               // "RGB;16B": high byte
                    } else {
                        for i in 0 ..< width * height {                                  // "I;16" → RGB clips
                            let v = UInt8(min(s[i], 255))
                            out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v
                        }
                    }
                }
                initialized = count
            }
            return RGBImage(width: width, height: height, pixels: pixels)
        }

        if sixteen { image.flags |= flag16BitSRGB }   // no gamma conversion on the way to 8 bits
        image.format = alpha ? flagColor | flagAlpha : flagColor
        if !alpha {
            var thrown: ImageError?
            let pixels = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
                if png_image_finish_read(&image, nil, out.baseAddress, 0, nil) == 0 {
                    thrown = failure(&image)
                    out.baseAddress!.update(repeating: 0, count: count)
                }
                initialized = count
            }
            if let thrown { throw thrown }
            return RGBImage(width: width, height: height, pixels: pixels)
        }
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        let ok = rgba.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard ok != 0 else { throw failure(&image) }
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            rgba.withUnsafeBufferPointer { s in
                for i in 0 ..< width * height {   // drop alpha, no compositing (Pillow's RGBA → RGB)
                    out[3 * i] = s[4 * i]; out[3 * i + 1] = s[4 * i + 1]; out[3 * i + 2] = s[4 * i + 2]
                }
            }
            initialized = count
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Walks the PNG's chunks before libpng sees them: the IHDR size is held to `maxSide` and
    /// `maxPixels` (with overflow-checked arithmetic), no chunk may declare more than PNG's
    /// 2^31 − 1 bytes, any chunk but IDAT more than `maxPNGChunkBytes`, or any chunk more bytes
    /// than the data holds. So libpng never buffers a chunk larger than the file, however large
    /// the declared length. A file cut before a chunk header (or missing only IEND) is left to
    /// libpng, which reports it as it always has.
    static func checkPNGChunks(_ b: UnsafeRawBufferPointer, name: String) throws {
        func be32(_ i: Int) -> UInt32 { UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3]) }
        func typeName(_ i: Int) -> String {
            let t = (0 ..< 4).map { b[i + $0] }
            return t.allSatisfy({ (0x41 ... 0x5A).contains($0) || (0x61 ... 0x7A).contains($0) })
                ? "'" + String(decoding: t, as: UTF8.self) + "'" : "0x" + t.map { String(format: "%02x", $0) }.joined()
        }
        let ihdr: UInt32 = 0x4948_4452, idat: UInt32 = 0x4944_4154, iend: UInt32 = 0x4945_4E44
        if b.count >= 8 + 8 + 13, be32(8) == 13, be32(12) == ihdr {
            let width = Int(be32(16)), height = Int(be32(20))
            if width > 0 && height > 0 { _ = try checkedPixelBytes(width: width, height: height, channels: 3, name: name) }
        }
        var pos = 8
        while pos + 8 <= b.count {
            let length = Int(be32(pos)), type = be32(pos + 4)
            if type == iend { return }
            if length > 0x7FFF_FFFF {
                throw ImageError.corrupt(file: name, format: "PNG", message: "chunk \(typeName(pos + 4)) at byte \(pos) declares \(length) bytes, more than PNG's limit of 2^31 − 1")
            }
            if type != idat && length > maxPNGChunkBytes {
                throw ImageError.unsupported(file: name, reason: "PNG chunk \(typeName(pos + 4)) at byte \(pos) declares \(length) bytes, more than the \(maxPNGChunkBytes)-byte limit for a chunk other than IDAT")
            }
            let available = b.count - pos - 12
            if length > available {
                throw ImageError.truncated(file: name, format: "PNG", message: "chunk \(typeName(pos + 4)) at byte \(pos) declares \(length) bytes but only \(max(0, available)) follow")
            }
            pos += 12 + length
        }
    }

    /// The PNG without its gAMA, sRGB, cHRM, iCCP and tRNS chunks (all before the first IDAT),
    /// or nil when it has none of them. Pillow ignores all five in `convert("RGB")`; libpng's
    /// simplified API would gamma-correct for the first four and composite for the last.
    /// Malformed chunk lengths stop the walk: libpng then reports the damage itself.
    static func withoutIgnoredChunks(_ b: UnsafeRawBufferPointer) -> [UInt8]? {
        let ignored: Set<UInt32> = [0x6741_4D41, 0x7352_4742, 0x6348_524D, 0x6943_4350, 0x7452_4E53] // gAMA sRGB cHRM iCCP tRNS
        let idat: UInt32 = 0x4944_4154, iend: UInt32 = 0x4945_4E44
        func be32(_ i: Int) -> UInt32 { UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3]) }
        var drop: [Range<Int>] = []
        var pos = 8
        while pos + 12 <= b.count {
            let length = Int(be32(pos)), type = be32(pos + 4)
            if type == idat || type == iend || length > b.count - pos - 12 { break }
            if ignored.contains(type) { drop.append(pos ..< pos + 12 + length) }
            pos += 12 + length
        }
        if drop.isEmpty { return nil }
        var out = [UInt8]()
        out.reserveCapacity(b.count)
        var from = 0
        for r in drop {
            out.append(contentsOf: b[from ..< r.lowerBound])
            from = r.upperBound
        }
        out.append(contentsOf: b[from...])
        return out
    }
}
