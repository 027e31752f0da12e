import CZlib
import Foundation

// PNG decoding (libpng through ImageDecoder), from memory. See ImageChecks for the invariants.
enum Harness {
    static let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

    static func run(_ input: Data) {
        ImageChecks.decode(ImageChecks.withMagic(input, signature), name: "fuzz.png")
    }

    /// Small PNGs of every colour type, written by hand (chunk CRCs and zlib from zlib itself).
    static func seeds() -> [String: Data] {
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            let crc = typed.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
            let n = UInt32(body.count)
            return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + typed
                + [UInt8(crc >> 24), UInt8(crc >> 16 & 0xff), UInt8(crc >> 8 & 0xff), UInt8(crc & 0xff)]
        }
        func png(width: Int, height: Int, depth: UInt8, colour: UInt8, rowBytes: Int, extra: [[UInt8]] = [], seed: Int = 1) -> Data {
            var raw: [UInt8] = []
            var v = seed
            for _ in 0 ..< height {
                raw.append(0)   // filter: none
                for _ in 0 ..< rowBytes { v = (v &* 1103515245 &+ 12345) & 0x7fff_ffff; raw.append(UInt8(v >> 16 & 0xff)) }
            }
            var packedSize = compressBound(uLong(raw.count))
            var packed = [UInt8](repeating: 0, count: Int(packedSize))
            _ = compress2(&packed, &packedSize, raw, uLong(raw.count), 9)
            packed.removeLast(packed.count - Int(packedSize))
            let w = UInt32(width), h = UInt32(height)
            let ihdr: [UInt8] = [UInt8(w >> 24), UInt8(w >> 16 & 0xff), UInt8(w >> 8 & 0xff), UInt8(w & 0xff),
                                 UInt8(h >> 24), UInt8(h >> 16 & 0xff), UInt8(h >> 8 & 0xff), UInt8(h & 0xff), depth, colour, 0, 0, 0]
            var out = signature + chunk("IHDR", ihdr)
            for c in extra { out += c }
            out += chunk("IDAT", packed) + chunk("IEND", [])
            return Data(out)
        }
        let palette = chunk("PLTE", (0 ..< 12).map { UInt8($0 * 20) })
        return [
            "rgb8.png": png(width: 5, height: 4, depth: 8, colour: 2, rowBytes: 15),
            "rgba8.png": png(width: 3, height: 3, depth: 8, colour: 6, rowBytes: 12),
            "grey8.png": png(width: 6, height: 2, depth: 8, colour: 0, rowBytes: 6),
            "grey1.png": png(width: 9, height: 3, depth: 1, colour: 0, rowBytes: 2),
            "grey16.png": png(width: 2, height: 2, depth: 16, colour: 0, rowBytes: 4),
            "greyalpha8.png": png(width: 2, height: 3, depth: 8, colour: 4, rowBytes: 4),
            "rgb16.png": png(width: 2, height: 2, depth: 16, colour: 2, rowBytes: 12),
            "palette4.png": png(width: 4, height: 4, depth: 4, colour: 3, rowBytes: 2, extra: [palette, chunk("tRNS", [0, 255])]),
            "rgb8-gamma.png": png(width: 2, height: 2, depth: 8, colour: 2, rowBytes: 6,
                                  extra: [chunk("gAMA", [0, 0, 0xb1, 0x8f]), chunk("sRGB", [0]), chunk("tEXt", Array("k\u{0}v".utf8))]),
        ]
    }
}
