import ClipoodImage
import CTurboJPEG
import Foundation
import TestSupport
import Testing

/// Images whose headers lie: every one ends in one error naming the file, refused before the
/// decoder allocates what the header claims. Every input is made here.
@Suite("hostile image files")
struct HostileImageTests {
    /// A PNG of a signature, an IHDR for `width` × `height` (8-bit RGB), the `extra` chunks
    /// (raw: length field as given), a small IDAT and IEND. The IDAT holds one valid row, so the
    /// file is only plausible for small sizes: the point is what the header claims.
    static func png(width: UInt32, height: UInt32, extra: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        out += TestPNG.chunk("IHDR", TestPNG.be32(width) + TestPNG.be32(height) + [8, 2, 0, 0, 0])
        out += extra
        out += TestPNG.chunk("IDAT", TestPNG.zlibStored([0, 1, 2, 3]))
        out += TestPNG.chunk("IEND", [])
        return out
    }

    /// A chunk header declaring `length` bytes, followed by only `body` (the CRC is not needed:
    /// the declared length is refused first).
    static func lyingChunk(_ type: String, length: UInt32, body: [UInt8]) -> [UInt8] {
        TestPNG.be32(length) + Array(type.utf8) + body
    }

    /// A small baseline JPEG made by libjpeg-turbo (a gradient, 4:2:0).
    static func jpeg(width: Int = 40, height: Int = 24) throws -> [UInt8] {
        let handle = try #require(tjInitCompress())
        defer { tjDestroy(handle) }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0 ..< height { for x in 0 ..< width { rgb[3 * (y * width + x)] = UInt8(x * 6); rgb[3 * (y * width + x) + 1] = UInt8(y * 10) } }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let rc = rgb.withUnsafeBufferPointer {
            tjCompress2(handle, $0.baseAddress, Int32(width), 0, Int32(height), Int32(TJPF_RGB.rawValue), &out, &size, Int32(TJSAMP_420.rawValue), 90, 0)
        }
        #expect(rc == 0)
        defer { tjFree(out) }
        return Array(UnsafeBufferPointer(start: try #require(out), count: Int(size)))
    }

    /// The byte offset of the SOF0 segment's marker in a JPEG.
    static func sof(_ j: [UInt8]) -> Int? {
        var pos = 2
        while pos + 4 <= j.count, j[pos] == 0xFF {
            if j[pos + 1] == 0xC0 { return pos }
            pos += 2 + (Int(j[pos + 2]) << 8 | Int(j[pos + 3]))
        }
        return nil
    }

    @Test func pngHeaderClaiming100000Squared() throws {
        let error = #expect(throws: ImageError.self) { try ImageDecoder.decode(data: Data(Self.png(width: 100_000, height: 100_000)), name: "huge.png") }
        guard case .unsupported("huge.png", let reason)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(reason.contains("100000×100000") && reason.contains("\(ImageDecoder.maxSide)"))
        #expect(error!.description.hasPrefix("'huge.png': "))
    }

    /// Per side: at the cap a 1-pixel-high image decodes; one more pixel is refused. Under the
    /// side cap, the pixel-count cap still applies.
    @Test func sideAndPixelCaps() throws {
        let side = ImageDecoder.maxSide
        let row = (0 ..< side * 3).map { UInt8(truncatingIfNeeded: $0) }
        let ok = TestPNG.make(width: side, height: 1, bitDepth: 8, colorType: 2, rows: [row])
        let image = try ImageDecoder.decode(data: ok, name: "wide.png")
        #expect(image.width == side && image.height == 1 && image.pixels == row)

        let wider = Self.png(width: UInt32(side + 1), height: 1)
        let e1 = #expect(throws: ImageError.self) { try ImageDecoder.decode(data: Data(wider), name: "wider.png") }
        #expect(e1?.description.contains("\(side + 1)×1 is larger than the \(side)-pixel limit per side") == true)

        // 16384 × 16384 is within the side cap but over Pillow's pixel limit.
        let square = Self.png(width: UInt32(side), height: UInt32(side))
        #expect(side * side > ImageDecoder.maxPixels)
        let e2 = #expect(throws: ImageError.self) { try ImageDecoder.decode(data: Data(square), name: "square.png") }
        #expect(e2?.description.contains("is more than \(ImageDecoder.maxPixels) pixels") == true)
    }

    /// A text chunk declaring 2^31 − 1 bytes (PNG's largest legal length): refused by the chunk
    /// cap, never buffered. The same length on IDAT is more than the file holds: truncated. A
    /// length over 2^31 − 1 is corrupt.
    @Test func pngChunkLengths() throws {
        let text = Self.png(width: 1, height: 1, extra: Self.lyingChunk("tEXt", length: 0x7FFF_FFFF, body: Array("Comment\u{0}hi".utf8)))
        let e1 = #expect(throws: ImageError.self) { try ImageDecoder.decode(data: Data(text), name: "text.png") }
        guard case .unsupported("text.png", let r1)? = e1 else { Issue.record("got \(String(describing: e1))"); return }
        #expect(r1.contains("'tEXt'") && r1.contains("2147483647") && r1.contains("\(ImageDecoder.maxPNGChunkBytes)"))

        var idat: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        idat += TestPNG.chunk("IHDR", TestPNG.be32(1) + TestPNG.be32(1) + [8, 2, 0, 0, 0])
        idat += Self.lyingChunk("IDAT", length: 0x7FFF_FFFF, body: TestPNG.zlibStored([0, 1, 2, 3]))
        let e2 = #expect(throws: ImageError.self) { try ImageDecoder.decode(data: Data(idat), name: "idat.png") }
        guard case .truncated("idat.png", "PNG", let m2)? = e2 else { Issue.record("got \(String(describing: e2))"); return }
        #expect(m2.contains("'IDAT'") && m2.contains("2147483647"))

        let over = Self.png(width: 1, height: 1, extra: Self.lyingChunk("zTXt", length: 0xFFFF_FFF0, body: [0, 0, 0, 0]))
        let e3 = #expect(throws: ImageError.self) { try ImageDecoder.decode(data: Data(over), name: "over.png") }
        guard case .corrupt("over.png", "PNG", let m3)? = e3 else { Issue.record("got \(String(describing: e3))"); return }
        #expect(m3.contains("2^31"))

        // A legitimate small text chunk still decodes.
        let good = TestPNG.make(width: 2, height: 1, bitDepth: 8, colorType: 2, rows: [[1, 2, 3, 4, 5, 6]], before: [("tEXt", Array("Comment\u{0}ok".utf8))])
        #expect(try ImageDecoder.decode(data: good, name: "good.png").pixels == [1, 2, 3, 4, 5, 6])
    }

    @Test func truncatedJPEGMadeHere() throws {
        let full = try Self.jpeg()
        let whole = try ImageDecoder.decode(data: Data(full), name: "whole.jpg")
        #expect(whole.width == 40 && whole.height == 24)
        for cut in [full.count - 2, full.count / 2, Self.sof(full)! + 6] {
            let error = #expect(throws: ImageError.self) { try ImageDecoder.decode(data: Data(full.prefix(cut)), name: "cut.jpg") }
            guard case .truncated("cut.jpg", "JPEG", _)? = error else { Issue.record("cut at \(cut): got \(String(describing: error))"); continue }
        }
    }

    /// The frame header patched to claim 60000 × 60000 (libjpeg-turbo itself stops at 65500) or
    /// one side over the cap: refused from the header, before the decoder allocates.
    @Test func jpegHeaderClaimingHugeDimensions() throws {
        let full = try Self.jpeg()
        let sof = try #require(Self.sof(full))
        func patched(width: Int, height: Int) -> Data {
            var j = full
            j[sof + 5] = UInt8(height >> 8); j[sof + 6] = UInt8(height & 0xFF)
            j[sof + 7] = UInt8(width >> 8); j[sof + 8] = UInt8(width & 0xFF)
            return Data(j)
        }
        let e1 = #expect(throws: ImageError.self) { try ImageDecoder.decode(data: patched(width: 60000, height: 60000), name: "huge.jpg") }
        guard case .unsupported("huge.jpg", let r1)? = e1 else { Issue.record("got \(String(describing: e1))"); return }
        #expect(r1.contains("60000×60000"))
        let e2 = #expect(throws: ImageError.self) { try ImageDecoder.decode(data: patched(width: ImageDecoder.maxSide + 1, height: 8), name: "wide.jpg") }
        #expect(e2?.description.contains("\(ImageDecoder.maxSide + 1)×8 is larger than") == true)
    }

    /// Files that are not regular, or too large, are refused by the reader: a FIFO (no writer:
    /// opening it must not block), a link to /dev/zero (it never ends), a sparse file one byte
    /// over the cap (its size is checked before reading).
    @Test func specialAndOversizedFiles() throws {
        let dir = makeTemporaryDirectory("clipood-hostile")
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("fifo.png").path
        #expect(mkfifo(fifo, 0o644) == 0)
        let zero = dir.appendingPathComponent("zero.jpg").path
        try FileManager.default.createSymbolicLink(atPath: zero, withDestinationPath: "/dev/zero")
        let big = dir.appendingPathComponent("big.png").path
        #expect(FileManager.default.createFile(atPath: big, contents: Data(Self.png(width: 1, height: 1))))
        #expect(truncate(big, off_t(ImageDecoder.maxFileBytes + 1)) == 0)

        let start = Date()
        for path in [fifo, zero] {
            let error = #expect(throws: ImageError.self) { try ImageDecoder.decode(path: path) }
            #expect(error == .unreadable(file: path, reason: "it is not a regular file"))
        }
        let error = #expect(throws: ImageError.self) { try ImageDecoder.decode(path: big) }
        guard case .unreadable(big, let reason)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(reason.contains("\(ImageDecoder.maxFileBytes + 1) bytes") && reason.contains("\(ImageDecoder.maxFileBytes)-byte limit"))
        #expect(Date().timeIntervalSince(start) < 5)
    }
}
