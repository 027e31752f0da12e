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
