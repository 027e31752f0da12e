import CPNG
import ClipoodImage
import ClipoodIO
import Foundation

/// A failure while writing the built-in world; the message names the file.
public struct ShapesWorldError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// PNG encoding through libpng's simplified write API.
public enum PNGWriter {
    /// The PNG bytes of an RGB8 image (deterministic: same pixels → same bytes).
    public static func encode(_ image: RGBImage) throws -> [UInt8] {
        guard image.width > 0, image.height > 0 else { throw ShapesWorldError("PNG: empty image \(image.width)×\(image.height)") }
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = UInt32(PNG_FORMAT_RGB)
        let stride = Int32(image.width * 3)
        return try image.pixels.withUnsafeBytes { src -> [UInt8] in
            // First call asks for the size, second writes.
            var size = 0
            guard png_image_write_to_memory(&png, nil, &size, 0, src.baseAddress, stride, nil) != 0 else {
                throw failure(&png)
            }
            var out = [UInt8](repeating: 0, count: size)
            let ok = out.withUnsafeMutableBytes {
                png_image_write_to_memory(&png, $0.baseAddress, &size, 0, src.baseAddress, stride, nil)
            }
            guard ok != 0 else { throw failure(&png) }
            out.removeLast(out.count - size)
            return out
        }
    }

    /// Writes `image` as a PNG file; a failure names the path.
    public static func write(_ image: RGBImage, to path: String) throws {
        let bytes: [UInt8]
        do { bytes = try encode(image) } catch let e as ShapesWorldError {
            throw ShapesWorldError("cannot write \(path): \(e.message)")
        }
        // Not flushed one by one: the world's marker file, written last, records completion.
        do { try AtomicWrite.write(Data(bytes), to: path, durable: false) } catch { throw ShapesWorldError(String(describing: error)) }
    }

    private static func failure(_ png: inout png_image) -> ShapesWorldError {
        let message = withUnsafeBytes(of: &png.message) { raw -> String in
            let b = raw.bindMemory(to: UInt8.self)
            let end = b.firstIndex(of: 0) ?? b.count
            return String(decoding: b[..<end], as: UTF8.self)
        }
        png_image_free(&png)
        return ShapesWorldError("PNG: \(message.isEmpty ? "libpng failed" : message)")
    }
}
