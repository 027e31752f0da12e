/// An 8-bit RGB image: `pixels` holds height × width × 3 bytes, row-major, channels interleaved
/// (the layout of `np.asarray(pil_image.convert("RGB"))`).
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "RGBImage: negative size \(width)×\(height)")
        precondition(pixels.count == width * height * 3,
                     "RGBImage: \(pixels.count) bytes for \(width)×\(height)×3 = \(width * height * 3)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with one value in every channel (0: black).
    public init(width: Int, height: Int, fill: UInt8 = 0) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: fill, count: width * height * 3))
    }

    /// The three channels of the pixel at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}

/// Everything that can go wrong reading an image. Every case names the file.
public enum ImageError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read at all (missing, a directory, no permission, I/O error).
    case unreadable(file: String, reason: String)
    /// The bytes are neither JPEG nor PNG, nor any other image format we recognise; `found`
    /// describes what the first bytes look like.
    case notAnImage(file: String, found: String)
    /// A recognised image format that clipood does not decode (GIF, BMP, WebP, TIFF, …), or a
    /// JPEG/PNG variant the decoder cannot handle, or an image too large to decode safely.
    case unsupported(file: String, reason: String)
    /// The data ends before the image does. `format` is "JPEG" or "PNG"; `message` is the
    /// decoding library's own wording.
    case truncated(file: String, format: String, message: String)
    /// The data is damaged in some other way (`message` from libjpeg-turbo or libpng).
    case corrupt(file: String, format: String, message: String)

    public var file: String {
        switch self {
        case .unreadable(let f, _), .notAnImage(let f, _), .unsupported(let f, _),
             .truncated(let f, _, _), .corrupt(let f, _, _):
            return f
        }
    }

    public var description: String {
        switch self {
        case .unreadable(let f, let r): return "cannot read '\(f)': \(r)"
        case .notAnImage(let f, let found): return "'\(f)' is not an image (JPEG or PNG): \(found)"
        case .unsupported(let f, let r): return "'\(f)': \(r)"
        case .truncated(let f, let fmt, let m): return "'\(f)' is a truncated \(fmt) file: \(m)"
        case .corrupt(let f, let fmt, let m): return "'\(f)' is a corrupt \(fmt) file: \(m)"
        }
    }
}
