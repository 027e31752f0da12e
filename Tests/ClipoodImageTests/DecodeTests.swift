import ClipoodImage
import Foundation
import TestSupport
import Testing

@Suite("decoding JPEG and PNG like Pillow's convert(\"RGB\")")
struct DecodeTests {
    /// Every fixture decodes to exactly Pillow's bytes. For the PNGs that is libpng against
    /// Pillow's own zlib inflate plus its mode conversions (RGBA drops alpha, P maps through the
    /// palette, L replicates). For the JPEGs it is the system libjpeg-turbo (2.1.5 on the
    /// development machine) against Pillow's bundled 3.2.0: both use the ISLOW IDCT, fancy h2v2
    /// upsampling and the same YCbCr→RGB tables, and the measured difference is 0 on all four
    /// (4:2:0 baseline, progressive, greyscale, CMYK), so it is enforced as exact.
    @Test(arguments: try! Fixtures.manifest().images.map(\.file))
    func decodedMatchesPillow(file: String) throws {
        let expected = try Fixtures.image(try Fixtures.expected(), "decoded.\(file)")
        let decoded = try ImageDecoder.decode(path: Fixtures.path(file))
        #expect(decoded.width == expected.width && decoded.height == expected.height)
        let diff = ByteDifference(decoded, expected)
        print("decoded \(file): \(diff)")
        #expect(diff.max == 0, "\(file): \(diff)")
    }

    @Test func sniffsByContentNotExtension() throws {
        let dir = makeTemporaryDirectory("clipood-img")
        defer { try? FileManager.default.removeItem(at: dir) }
        let jpegNamedPNG = dir.appendingPathComponent("really_a_jpeg.png").path
        try FileManager.default.copyItem(atPath: Fixtures.path("photo_rgb.jpg"), toPath: jpegNamedPNG)
        let a = try ImageDecoder.decode(path: jpegNamedPNG)
        let b = try ImageDecoder.decode(path: Fixtures.path("photo_rgb.jpg"))
        #expect(a == b)
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("grad_rgb.png")))
        #expect(try ImageDecoder.decode(data: data, name: "anything") == ImageDecoder.decode(path: Fixtures.path("grad_rgb.png")))
    }

    // MARK: PNG variants Pillow handles in its own way (expected values checked with Pillow 13.0.0)

    /// 16-bit RGB: Pillow keeps the high byte ("RGB;16B"); the gAMA chunk (here 1.0, linear) is
    /// ignored by Pillow, so it must not make libpng gamma-convert either.
    @Test func sixteenBitRGBKeepsHighByteAndIgnoresGamma() throws {
        let values: [UInt16] = [0, 1, 127, 128, 200, 255, 256, 300, 32767, 32768, 40000, 65279, 65280, 65535, 1000, 25700, 513, 65000]
        let row = values.flatMap { TestPNG.be16($0) }
        for extra in [[], [("gAMA", TestPNG.be32(100_000))], [("gAMA", TestPNG.be32(45455)), ("cHRM", [UInt8](repeating: 1, count: 32))]] {
            let png = TestPNG.make(width: 6, height: 1, bitDepth: 16, colorType: 2, rows: [row], before: extra)
            let image = try ImageDecoder.decode(data: png, name: "rgb16.png")
            #expect(image.pixels == values.map { UInt8($0 >> 8) }, "chunks \(extra.map(\.0))")
        }
    }

    /// 16-bit grey opens in Pillow as "I;16", whose conversion to RGB clips at 255 (a Pillow quirk,
    /// reproduced for parity with the PyTorch pipeline).
    @Test func sixteenBitGreyClipsLikePillow() throws {
        let values: [UInt16] = [0, 1, 127, 128, 200, 255, 256, 300, 32767, 65535]
        let png = TestPNG.make(width: 10, height: 1, bitDepth: 16, colorType: 0, rows: [values.flatMap { TestPNG.be16($0) }])
        let image = try ImageDecoder.decode(data: png, name: "grey16.png")
        #expect(image.pixels == values.flatMap { v in [UInt8](repeating: UInt8(min(v, 255)), count: 3) })
    }

    /// 16-bit RGBA goes through libpng's 8-bit path (rounding v/257) where Pillow takes the high
    /// byte: at most one level apart, alpha dropped without compositing.
    @Test func sixteenBitRGBAWithinOneLevel() throws {
        let values: [UInt16] = [0, 1, 127, 0, 200, 255, 256, 300, 32767, 32768, 40000, 65279, 65280, 65535, 1000, 25700]
        let png = TestPNG.make(width: 4, height: 1, bitDepth: 16, colorType: 6, rows: [values.flatMap { TestPNG.be16($0) }])
        let image = try ImageDecoder.decode(data: png, name: "rgba16.png")
        let pillow: [UInt8] = [0, 0, 0, 0, 1, 1, 127, 128, 156, 255, 255, 3]   // high bytes of R, G, B
        #expect(zip(image.pixels, pillow).allSatisfy { abs(Int($0) - Int($1)) <= 1 }, "\(image.pixels) vs \(pillow)")
    }

    /// 8-bit RGB with gAMA 1.0, sRGB and a tRNS colour: Pillow ignores all three in convert("RGB").
    @Test func eightBitIgnoresGammaAndTransparency() throws {
        let row: [UInt8] = [0, 50, 100, 150, 200, 250, 10, 20, 30]
        let png = TestPNG.make(width: 3, height: 1, bitDepth: 8, colorType: 2, rows: [row],
                               before: [("gAMA", TestPNG.be32(100_000)), ("sRGB", [0]), ("tRNS", [0, 0, 0, 50, 0, 100])])
        #expect(try ImageDecoder.decode(data: png, name: "gamma.png").pixels == row)
    }

    /// Palette with transparent entries: indices map through the palette, alpha is dropped
    /// (no compositing onto black or white).
    @Test func paletteWithTransparencyMapsThroughPalette() throws {
        let palette: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 99, 199]
        let png = TestPNG.make(width: 4, height: 1, bitDepth: 8, colorType: 3, rows: [[3, 2, 1, 0]],
                               before: [("PLTE", palette), ("tRNS", [0, 128, 255, 7])])
        #expect(try ImageDecoder.decode(data: png, name: "p.png").pixels == [9, 99, 199, 0, 0, 255, 0, 255, 0, 255, 0, 0])
    }

    /// Low bit depths scale to 0…255 (2-bit 0,1,2,3 → 0,85,170,255); grey+alpha replicates grey.
    @Test func lowBitDepthAndGreyAlpha() throws {
        let two = TestPNG.make(width: 4, height: 1, bitDepth: 2, colorType: 0, rows: [[0b0001_1011]])
        #expect(try ImageDecoder.decode(data: two, name: "g2.png").pixels == [0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255])
        let ga = TestPNG.make(width: 2, height: 1, bitDepth: 8, colorType: 4, rows: [[40, 0, 200, 17]])
        #expect(try ImageDecoder.decode(data: ga, name: "ga.png").pixels == [40, 40, 40, 200, 200, 200])
    }

    // MARK: Errors: one clear error each, naming the file

    @Test func missingFile() throws {
        let path = "/nonexistent/clipood/missing.jpg"
        let error = #expect(throws: ImageError.self) { try ImageDecoder.decode(path: path) }
        #expect(error == .unreadable(file: path, reason: "no such file or directory"))
        #expect(error?.description == "cannot read '/nonexistent/clipood/missing.jpg': no such file or directory")
    }

    @Test func directoryIsUnreadable() throws {
        let dir = makeTemporaryDirectory("clipood-img")
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = #expect(throws: ImageError.self) { try ImageDecoder.decode(path: dir.path) }
        #expect(error == .unreadable(file: dir.path, reason: "it is a folder"))
    }

    @Test func textFileNamedPNGIsNotAnImage() throws {
        let dir = makeTemporaryDirectory("clipood-img")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("x.png").path
        try "hello, this is not a picture\nsecond line\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: ImageError.self) { try ImageDecoder.decode(path: path) }
        #expect(error == .notAnImage(file: path, found: "it looks like text, starting \"hello, this is not a pic…\""))
        #expect(error?.description.hasPrefix("'\(path)' is not an image (JPEG or PNG)") == true)

        let empty = dir.appendingPathComponent("empty.jpg").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        #expect(throws: ImageError.notAnImage(file: empty, found: "the file is empty")) { try ImageDecoder.decode(path: empty) }

        let binary = Data([0x00, 0x01, 0x02, 0xFE, 0x10, 0x20, 0x30, 0x40, 0x50])
        #expect(throws: ImageError.notAnImage(file: "b.bin", found: "it starts with the bytes 00 01 02 fe 10 20 30 40")) {
            try ImageDecoder.decode(data: binary, name: "b.bin")
        }
    }

    @Test func otherImageFormatsAreUnsupported() throws {
        let gif = Data("GIF89a\u{1}\u{0}\u{1}\u{0}".utf8)
        #expect(throws: ImageError.unsupported(file: "a.gif", reason: "GIF images are not supported (only JPEG and PNG)")) {
            try ImageDecoder.decode(data: gif, name: "a.gif")
        }
    }

    /// A JPEG cut anywhere — mid-scan, just before EOI, or inside the headers — is "truncated",
    /// never a partially grey image (libjpeg-turbo only warns and pads; Pillow refuses too).
    @Test(arguments: ["photo_rgb.jpg", "photo_progressive.jpg", "gray.jpg", "cmyk.jpg"])
    func truncatedJPEG(file: String) throws {
        let dir = makeTemporaryDirectory("clipood-img")
        defer { try? FileManager.default.removeItem(at: dir) }
        let full = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(file)))
        for length in [full.count / 2, full.count - 2, 100, 4] {
            let path = dir.appendingPathComponent("cut_\(length)_\(file)").path
            try full.prefix(length).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: ImageError.self) { try ImageDecoder.decode(path: path) }
            guard case .truncated(let f, let format, let message)? = error else {
                Issue.record("\(file) cut to \(length) bytes: expected truncated, got \(String(describing: error))")
                continue
            }
            #expect(f == path && format == "JPEG" && !message.isEmpty)
            #expect(error!.description.contains(path))
        }
    }

    /// A PNG cut inside its image data or headers is "truncated". Like Pillow, a file missing only
    /// its IEND chunk still decodes. (Cut inside the last IDAT's CRC, libpng refuses where Pillow,
    /// which does not check that CRC, would accept: the one place we are stricter.)
    /// Stray bytes between two header segments make libjpeg-turbo warn ("Corrupt JPEG data: 3
    /// extraneous bytes before marker 0xdb") but decode everything; Pillow accepts such files with
    /// the same pixels, so they are not an error.
    @Test func recoverableJPEGWarningIsAccepted() throws {
        let full = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("photo_rgb.jpg"))))
        let afterAPP0 = 4 + (Int(full[4]) << 8 | Int(full[5]))
        #expect(full[afterAPP0] == 0xFF)
        let patched = Array(full[..<afterAPP0]) + [0x00, 0x11, 0x22] + Array(full[afterAPP0...])
        let original = try ImageDecoder.decode(data: Data(full), name: "photo_rgb.jpg")
        #expect(try ImageDecoder.decode(data: Data(patched), name: "stray_bytes.jpg") == original)
    }

    @Test func truncatedPNG() throws {
        let dir = makeTemporaryDirectory("clipood-img")
        defer { try? FileManager.default.removeItem(at: dir) }
        let full = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("shapes_rgba.png")))
        let noIEND = try ImageDecoder.decode(data: full.prefix(full.count - 12), name: "no_iend.png")
        let whole = try ImageDecoder.decode(data: full, name: "full.png")
        #expect(noIEND == whole)
        for length in [full.count / 2, full.count - 14, 40] {
            let path = dir.appendingPathComponent("cut_\(length).png").path
            try full.prefix(length).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: ImageError.self) { try ImageDecoder.decode(path: path) }
            guard case .truncated(let f, "PNG", let message)? = error else {
                Issue.record("cut to \(length) bytes: expected truncated PNG, got \(String(describing: error))")
                continue
            }
            #expect(f == path && !message.isEmpty)
        }
    }

    /// Damaged files never crash or exit the process: random byte changes and cuts of every
    /// fixture either decode or throw an ImageError naming the file.
    @Test func damagedFilesNeverCrash() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        var decoded = 0, failed = 0
        for entry in try Fixtures.manifest().images {
            let full = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(entry.file))))
            for trial in 0 ..< 60 {
                var data = full
                for _ in 0 ..< 1 + next(8) { data[next(data.count)] = UInt8(next(256)) }
                if trial % 3 == 0 { data.removeLast(next(data.count)) }
                let name = "fuzz\(trial)_\(entry.file)"
                do {
                    let image = try ImageDecoder.decode(data: Data(data), name: name)
                    #expect(image.pixels.count == image.width * image.height * 3)
                    decoded += 1
                } catch let error as ImageError {
                    #expect(error.file == name)
                    failed += 1
                }
            }
        }
        #expect(decoded > 0 && failed > 0)
    }

    /// A flipped byte inside the image data: libpng's CRC check catches it, reported as corrupt.
    @Test func corruptPNG() throws {
        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("grad_rgb.png"))))
        let idat = (0 ..< data.count - 4).first { data[$0 ..< $0 + 4].elementsEqual("IDAT".utf8) }!
        data[idat + 20] ^= 0x55
        let error = #expect(throws: ImageError.self) { try ImageDecoder.decode(data: Data(data), name: "bad.png") }
        guard case .corrupt("bad.png", "PNG", let message)? = error else {
            Issue.record("expected corrupt PNG, got \(String(describing: error))")
            return
        }
        #expect(!message.isEmpty)
    }
}
