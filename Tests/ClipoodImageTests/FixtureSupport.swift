import ClipoodImage
import ClipoodModel
import Foundation

/// The committed Pillow + torchvision fixtures (Tests/Fixtures/preprocess, written by
/// scripts/make_fixtures.py with Pillow 13.0.0, torchvision 0.29.2, libjpeg-turbo 3.2.0).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/preprocess")

    static func path(_ file: String) -> String { directory.appendingPathComponent(file).path }

    struct Manifest: Decodable {
        let mean: [Float]
        let std: [Float]
        let images: [Image]
    }

    struct Image: Decodable {
        let file: String
        let format: String
        let mode: String
        let width: Int
        let height: Int
        let size: Int
        let outputs: [Output]
    }

    struct Output: Decodable {
        let interpolation: String
        let resized: String
        let resized_width: Int
        let resized_height: Int
        let crop_top: Int
        let crop_left: Int
        let pixels: String
    }

    static func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: directory.appendingPathComponent("manifest.json")))
    }

    static func expected() throws -> SafeTensorsFile { try SafeTensorsFile(path: path("expected.safetensors")) }

    /// An H×W×3 uint8 tensor of the fixture as an RGBImage.
    static func image(_ file: SafeTensorsFile, _ name: String) throws -> RGBImage {
        let shape = file.entries[name]!.shape
        return RGBImage(width: shape[1], height: shape[0], pixels: try file.bytes(name))
    }
}

/// Byte-level comparison of two images of the same size.
struct ByteDifference: CustomStringConvertible {
    let max: Int
    let differing: Int
    let count: Int
    let mean: Double

    init(_ a: RGBImage, _ b: RGBImage) {
        precondition(a.width == b.width && a.height == b.height, "sizes differ: \(a.width)×\(a.height) vs \(b.width)×\(b.height)")
        var mx = 0, n = 0, sum = 0
        for (x, y) in zip(a.pixels, b.pixels) {
            let d = abs(Int(x) - Int(y))
            mx = Swift.max(mx, d); sum += d
            if d != 0 { n += 1 }
        }
        max = mx; differing = n; count = a.pixels.count; mean = Double(sum) / Double(Swift.max(count, 1))
    }

    var description: String { "max \(max) levels, \(differing)/\(count) values differ, mean \(mean)" }
}

/// Deterministic test images: smooth ramps, a fine pattern and hard edges.
func patternImage(width: Int, height: Int) -> RGBImage {
    var p = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0 ..< height {
        for x in 0 ..< width {
            for c in 0 ..< 3 {
                p[(y * width + x) * 3 + c] = UInt8((x * x * 7 + y * y * 3 + x * y * 5 + c * 71 + ((x * 13 + y * 29 + c * 7) % 17) * 11) % 256)
            }
        }
    }
    return RGBImage(width: width, height: height, pixels: p)
}

func bytes(fromHex hex: String) -> [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(hex.utf8.count / 2)
    var hi: UInt8?
    for ch in hex.utf8 {
        let v: UInt8 = ch <= 0x39 ? ch - 0x30 : ch - 0x61 + 10
        if let h = hi { out.append(h << 4 | v); hi = nil } else { hi = v }
    }
    return out
}

/// A minimal PNG writer for tests: stored (uncompressed) deflate blocks, so any bit depth, colour
/// type and ancillary chunk can be produced without a compressor.
enum TestPNG {
    static let crcTable: [UInt32] = (0 ..< 256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var i = 0
        repeat {
            let n = min(65535, data.count - i)
            let last: UInt8 = i + n == data.count ? 1 : 0
            out += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[i ..< i + n]
            i += n
        } while i < data.count
        var a: UInt32 = 1, b: UInt32 = 0
        for x in data { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return out + be32(b << 16 | a)
    }

    /// `rows` are the raw scanlines (without filter bytes). `before` chunks go between IHDR and IDAT.
    static func make(width: Int, height: Int, bitDepth: UInt8, colorType: UInt8, rows: [[UInt8]],
                     before: [(String, [UInt8])] = []) -> Data {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [bitDepth, colorType, 0, 0, 0])
        for (type, data) in before { png += chunk(type, data) }
        png += chunk("IDAT", zlibStored(rows.flatMap { [0] + $0 }))
        png += chunk("IEND", [])
        return Data(png)
    }
}
