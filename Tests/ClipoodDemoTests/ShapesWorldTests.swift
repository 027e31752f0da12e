import ClipoodData
import ClipoodDemo
import ClipoodEngine
import ClipoodImage
import Foundation
import Testing

private func temporaryDirectory(_ tag: String) -> String {
    let path = NSTemporaryDirectory() + "shapesworld-\(tag)-\(getpid())-\(UInt32.random(in: 0 ... .max))"
    try? FileManager.default.removeItem(atPath: path)
    return path
}

private func files(under root: String) -> [String] {
    let e = FileManager.default.enumerator(atPath: root)!
    return (e.allObjects as! [String]).filter { $0.hasSuffix(".png") }.sorted()
}

/// Mean over channels of each pixel.
private func gray(_ im: RGBImage) -> [Double] {
    var g = [Double](repeating: 0, count: im.width * im.height)
    for i in g.indices {
        let s = Int(im.pixels[3 * i]) + Int(im.pixels[3 * i + 1]) + Int(im.pixels[3 * i + 2])
        g[i] = Double(s) / 3
    }
    return g
}

private struct Stats {
    var white = 0.0, dark = 0.0, topColours = 0.0, neighbourDiff = 0.0
    init(_ im: RGBImage) {
        let g = gray(im), n = Double(g.count)
        white = Double(g.filter { $0 > 225 }.count) / n
        dark = Double(g.filter { $0 < 100 }.count) / n
        var hist: [UInt32: Int] = [:]
        for i in 0 ..< im.width * im.height {
            let key = UInt32(im.pixels[3 * i]) << 16 | UInt32(im.pixels[3 * i + 1]) << 8 | UInt32(im.pixels[3 * i + 2])
            hist[key, default: 0] += 1
        }
        topColours = Double(hist.values.sorted(by: >).prefix(6).reduce(0, +)) / n
        var d = 0.0
        for y in 0 ..< im.height {
            for x in 0 ..< im.width - 1 {
                for k in 0 ..< 3 {
                    d += abs(Double(im.pixels[(y * im.width + x) * 3 + k]) - Double(im.pixels[(y * im.width + x + 1) * 3 + k]))
                }
            }
        }
        neighbourDiff = d / Double(im.height * (im.width - 1) * 3)
    }
}

/// One image per class (columns) and domain (rows), `size` pixels each with a 2-pixel gap.
private func contactSheet(size: Int, seed: Int, index: Int = 0, rows: Int = 1) -> RGBImage {
    let classes = ShapesWorld.classes, domains = ShapesWorld.domains, gap = 2
    let w = classes.count * (size + gap) + gap, h = domains.count * rows * (size + gap) + gap
    var sheet = RGBImage(width: w, height: h, fill: 40)
    for (d, domain) in domains.enumerated() {
        for r in 0 ..< rows {
            for (c, name) in classes.enumerated() {
                let im = ShapesWorld.render(className: name, domain: domain, index: index + r, size: size, seed: seed)
                let x0 = gap + c * (size + gap), y0 = gap + (d * rows + r) * (size + gap)
                for y in 0 ..< size {
                    for x in 0 ..< size * 3 {
                        sheet.pixels[((y0 + y) * w + x0) * 3 + x] = im.pixels[y * size * 3 + x]
                    }
                }
            }
        }
    }
    return sheet
}

@Suite struct ShapesWorldTests {
    @Test func namesAndLimits() throws {
        #expect(ShapesWorld.classes.count >= 16)
        #expect(Set(ShapesWorld.classes).count == ShapesWorld.classes.count)
        #expect(ShapesWorld.classes.allSatisfy { !$0.contains(" ") && !$0.isEmpty })
        #expect(ShapesWorld.domains == ["photo", "sketch", "cartoon", "painting"])
        #expect(ShapesWorld.fileName(7) == "0007.png")
        #expect(throws: ShapesWorldError.self) { try ShapesWorld.write(to: "/tmp/unused", classes: 0) }
        #expect(throws: ShapesWorldError.self) { try ShapesWorld.write(to: "/tmp/unused", classes: 999) }
        #expect(throws: ShapesWorldError.self) { try ShapesWorld.write(to: "/tmp/unused", perClass: 0) }
    }

    @Test func unwritableDirectoryNamesTheFile() throws {
        let root = temporaryDirectory("ro")
        try "not a directory".write(toFile: root, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: root) }
        do {
            try ShapesWorld.write(to: root, classes: 1, perClass: 1, size: 16)
            Issue.record("writing under a file should fail")
        } catch let e as ShapesWorldError {
            #expect(e.message.contains(root))
        }
    }

    @Test func deterministicForASeed() throws {
        let a = temporaryDirectory("a"), b = temporaryDirectory("b"), c = temporaryDirectory("c")
        defer { for p in [a, b, c] { try? FileManager.default.removeItem(atPath: p) } }
        try ShapesWorld.write(to: a, classes: 3, perClass: 3, size: 32, seed: 5)
        try ShapesWorld.write(to: b, classes: 3, perClass: 3, size: 32, seed: 5)
        try ShapesWorld.write(to: c, classes: 3, perClass: 3, size: 32, seed: 6)
        let names = files(under: a)
        #expect(names.count == 4 * 3 * 3)
        #expect(files(under: b) == names && files(under: c) == names)
        var differing = 0
        for n in names {
            let x = FileManager.default.contents(atPath: a + "/" + n)!
            #expect(x == FileManager.default.contents(atPath: b + "/" + n)!, "\(n) differs for the same seed")
            if x != FileManager.default.contents(atPath: c + "/" + n)! { differing += 1 }
        }
        #expect(differing == names.count, "\(names.count - differing) files equal across seeds")
        // Rendering alone, in any order, gives the same image; different indices differ.
        let one = ShapesWorld.render(className: "tree", domain: "cartoon", index: 4, size: 48, seed: 1)
        _ = ShapesWorld.render(className: "fish", domain: "photo", index: 0, size: 48, seed: 1)
        #expect(one == ShapesWorld.render(className: "tree", domain: "cartoon", index: 4, size: 48, seed: 1))
        #expect(one != ShapesWorld.render(className: "tree", domain: "cartoon", index: 5, size: 48, seed: 1))
    }

    @Test func everyClassAndDomainRendersSomething() {
        for domain in ShapesWorld.domains {
            for name in ShapesWorld.classes {
                for index in 0 ..< 3 {
                    let im = ShapesWorld.render(className: name, domain: domain, index: index, size: 64, seed: 0)
                    #expect(im.width == 64 && im.height == 64)
                    let g = gray(im)
                    let mean = g.reduce(0, +) / Double(g.count)
                    let sd = (g.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(g.count)).squareRoot()
                    #expect(sd > 8, "\(domain)/\(name)/\(index): nearly constant (sd \(sd))")
                    let f = ShapesWorld.foregroundFraction(className: name, domain: domain, index: index, size: 64, seed: 0)
                    #expect(f > 0.04 && f < 0.6, "\(domain)/\(name)/\(index): foreground \(f)")
                }
            }
        }
    }

    @Test func domainsDifferMeasurably() {
        var stats: [String: Stats] = [:]
        for domain in ShapesWorld.domains {
            var sum = Stats(RGBImage(width: 2, height: 2, fill: 0))
            sum.white = 0; sum.dark = 0; sum.topColours = 0; sum.neighbourDiff = 0
            var count = 0.0
            for name in ShapesWorld.classes.prefix(16) {
                for index in 0 ..< 4 {
                    let s = Stats(ShapesWorld.render(className: name, domain: domain, index: index, size: 64, seed: 3))
                    sum.white += s.white; sum.dark += s.dark; sum.topColours += s.topColours; sum.neighbourDiff += s.neighbourDiff
                    count += 1
                }
            }
            sum.white /= count; sum.dark /= count; sum.topColours /= count; sum.neighbourDiff /= count
            stats[domain] = sum
            print(String(format: "%-9@ white %.3f dark %.3f top6 %.3f |dx| %.2f", domain, sum.white, sum.dark, sum.topColours, sum.neighbourDiff))
        }
        let photo = stats["photo"]!, sketch = stats["sketch"]!, cartoon = stats["cartoon"]!, painting = stats["painting"]!
        // Sketch: mostly white paper with dark strokes.
        #expect(sketch.white > 0.75 && sketch.dark > 0.02)
        #expect(photo.white < 0.5 && cartoon.white < 0.5 && painting.white < 0.2)
        // Cartoon: a few flat colours cover most of the image; the photo's gradients do not.
        #expect(cartoon.topColours > 0.7 && photo.topColours < cartoon.topColours - 0.3 && painting.topColours < 0.2)
        // Painting: high local variance.
        #expect(painting.neighbourDiff > 2 * photo.neighbourDiff && painting.neighbourDiff > cartoon.neighbourDiff)
    }

    @Test func writtenFilesLoadAsDomainBed() throws {
        let root = temporaryDirectory("load")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var calls = 0, last = (0, 0)
        try ShapesWorld.write(to: root, classes: 16, perClass: 3, size: 32, seed: 9) { done, total in calls += 1; last = (done, total) }
        #expect(calls == 4 * 16 * 3 && last == (192, 192))
        let ds = try Dataset.load(root: root)
        #expect(ds.layout == .domainbed)
        #expect(Set(ds.domains) == Set(ShapesWorld.domains))
        #expect(Set(ds.classes) == Set(ShapesWorld.classes.prefix(16)))
        #expect(ds.imageCount == 192)
        #expect(ds.counts.allSatisfy { $0.count == 16 && $0.allSatisfy { $0 == 3 } })
        #expect(ds.classNames.contains("alarm clock"))
        for i in stride(from: 0, to: ds.imageCount, by: 5) {
            let s = ds.samples[i]
            let index = Int(URL(fileURLWithPath: s.path).deletingPathExtension().lastPathComponent)!
            let decoded = try ImageDecoder.decode(path: s.path)
            let rendered = ShapesWorld.render(className: ds.classes[s.label], domain: ds.domains[s.domain], index: index, size: 32, seed: 9)
            #expect(decoded == rendered, "\(s.path)")
        }
    }

    @Test func fullWorldTimingAndContactSheet() throws {
        let root = temporaryDirectory("full")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let start = Date()
        try ShapesWorld.write(to: root, classes: 16, perClass: 40, size: 64, seed: 0)
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "ShapesWorld: 16 classes × 4 domains × 40 images at 64 px in %.2f s", seconds))
        #expect(files(under: root).count == 2560)
        try PNGWriter.write(contactSheet(size: 64, seed: 0, rows: 2), to: root + "/contact.png")
        try PNGWriter.write(contactSheet(size: 128, seed: 0), to: root + "/contact-128.png")
        #expect(try ImageDecoder.decode(path: root + "/contact.png").width == ShapesWorld.classes.count * 66 + 2)
    }
}

@Suite("shapes world attributes and captions")
struct ShapesWorldAttributeTests {
    @Test func attributesFileMatchesRenderingAndReadsBack() throws {
        let root = temporaryDirectory("attributes")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try ShapesWorld.write(to: root, classes: 3, perClass: 4, size: 32, seed: 2, preset: .classic)
        let table = try #require(try ShapesWorld.readAttributes(root: root))
        #expect(table.count == 4 * 3 * 4)
        for d in ShapesWorld.domains {
            for c in ShapesWorld.classes.prefix(3) {
                for i in 0 ..< 4 {
                    let a = ShapesWorld.attributes(className: c, domain: d, index: i, size: 32, seed: 2)
                    #expect(table["\(d)/\(c)/\(ShapesWorld.fileName(i))"] == a)
                    // Sketches are pencil outlines: their captions must not name a colour.
                    #expect((a.colour == nil) == (d == "sketch"), "\(d)/\(c)/\(i): \(String(describing: a.colour))")
                }
            }
        }
        // The loader ignores the file; a damaged file is reported with its line.
        #expect(try Dataset.load(root: root).imageCount == 48)
        try "# header\nphoto/ball/0000.png\tred\n".write(toFile: root + "/attributes.tsv", atomically: true, encoding: .utf8)
        do {
            _ = try ShapesWorld.readAttributes(root: root)
            Issue.record("a line with two fields should be rejected")
        } catch let e as ShapesWorldError {
            #expect(e.message.contains("attributes.tsv:2"), "\(e.message)")
        }
        #expect(try ShapesWorld.readAttributes(root: root + "/photo") == nil)
    }

    /// The colour word names the colour actually drawn: the median colour of a cartoon ball's
    /// pixels is nearest to the named palette colour among the ball's four.
    @Test func colourWordIsTheDrawnColour() throws {
        let reference: [String: (Double, Double, Double)] = [
            "orange": (0.97, 0.55, 0.08), "blue": (0.15, 0.35, 0.85), "red": (0.82, 0.1, 0.1), "yellow": (0.97, 0.82, 0.15),
        ]
        var seen = Set<String>()
        for i in 0 ..< 24 {
            let image = ShapesWorld.render(className: "ball", domain: "cartoon", index: i, size: 64, seed: 4)
            let mask = ShapesWorld.foregroundMask(className: "ball", domain: "cartoon", index: i, size: 64, seed: 4)
            var channels: [[Double]] = [[], [], []]
            for p in 0 ..< 64 * 64 where mask[p] {
                for k in 0 ..< 3 { channels[k].append(Double(image.pixels[p * 3 + k]) / 255) }
            }
            let median = channels.map { $0.sorted()[$0.count / 2] }
            let nearest = reference.min { a, b in
                let da = pow(a.value.0 - median[0], 2) + pow(a.value.1 - median[1], 2) + pow(a.value.2 - median[2], 2)
                let db = pow(b.value.0 - median[0], 2) + pow(b.value.1 - median[1], 2) + pow(b.value.2 - median[2], 2)
                return da < db
            }!.key
            let named = ShapesWorld.attributes(className: "ball", domain: "cartoon", index: i, size: 64, seed: 4).colour
            #expect(named == nearest, "ball \(i): named \(String(describing: named)), drawn nearest \(nearest) \(median)")
            seen.insert(nearest)
        }
        #expect(seen.count >= 3, "the palette should vary: \(seen)")
    }

    /// Size words follow the drawn size: small objects cover less of the image than big ones.
    @Test func sizeWordsFollowTheDrawnSize() {
        var area: [String: [Double]] = [:]
        for c in ShapesWorld.classes.prefix(8) {
            for i in 0 ..< 30 {
                let a = ShapesWorld.attributes(className: c, domain: "photo", index: i, size: 64, seed: 1)
                let f = ShapesWorld.foregroundFraction(className: c, domain: "photo", index: i, size: 64, seed: 1)
                area[(a.size ?? "-") + "/" + c, default: []].append(f)
            }
        }
        var counts: [String: Int] = [:]
        for (k, v) in area { counts[String(k.split(separator: "/")[0]), default: 0] += v.count }
        // Thirds of the size range: each word on roughly a third of the images.
        for w in ["small", "-", "big"] { #expect((50 ... 110).contains(counts[w] ?? 0), "\(w): \(counts[w] ?? 0) of 240") }
        for c in ShapesWorld.classes.prefix(8) {
            guard let s = area["small/" + c], let b = area["big/" + c], !s.isEmpty, !b.isEmpty else { continue }
            #expect(s.max()! < b.min()!, "\(c): a small one covers \(s.max()!) and a big one only \(b.min()!)")
        }
    }

    @Test func captionsSayOnlyWhatIsTrue() {
        var rng = RNG(seed: 3)
        var withColour = 0, withSize = 0
        for _ in 0 ..< 400 {
            let c = Captions.caption(className: "alarm_clock", domain: "painting", colour: "red", size: "small", rng: &rng)
            #expect(c.contains("alarm clock"))
            #expect(!c.contains("blue") && !c.contains("big"), "\(c)")
            #expect(!c.contains(" a oil") && !c.hasPrefix("a alarm") && !c.contains(" a alarm") && !c.contains(" a artwork"), "article: \(c)")
            if c.contains("red alarm clock") { withColour += 1 }
            if c.contains("small ") { withSize += 1 }
            let bare = Captions.caption(className: "orange", domain: "photo", rng: &rng)
            #expect(!bare.contains(" a orange") && !bare.hasPrefix("a orange"), "article: \(bare)")
            #expect(!bare.contains("small") && !bare.contains("big"), "no size given, none said: \(bare)")
        }
        #expect((140 ... 260).contains(withColour) && (140 ... 260).contains(withSize), "\(withColour) \(withSize)")
        let corpus = Captions.corpus(classes: ["kite"], colours: ["purple"])
        #expect(corpus.contains("a purple kite.") && corpus.contains("a big kite.") && corpus.contains("a kite."))
    }
}

/// 64-bit FNV-1a of bytes.
private func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}

@Suite("shapes world presets: classic and broad")
struct ShapesWorldPresetTests {
    /// Pixel checksums of images of the default world (seed 0, 64 px) as the generator drew
    /// them before presets existed (decoded from a world written then).
    static let classicChecksums: [(String, String, Int, UInt64)] = [
        ("photo", "ball", 0, 0x49c6_6c1f_2e3f_2720),
        ("sketch", "apple", 1, 0x952d_9856_1150_09cd),
        ("cartoon", "bird", 2, 0xea41_d898_1863_cc1a),
        ("painting", "umbrella", 2, 0x08a4_6697_9979_3710),
    ]

    @Test func classicPresetDrawsTheOldImagesAndFile() throws {
        let classic = temporaryDirectory("classic"), broad = temporaryDirectory("broad")
        defer { for p in [classic, broad] { try? FileManager.default.removeItem(atPath: p) } }
        try ShapesWorld.write(to: classic, classes: 16, perClass: 3, size: 64, seed: 0, preset: .classic)
        try ShapesWorld.write(to: broad, classes: 16, perClass: 3, size: 64, seed: 0)
        for (d, c, i, sum) in Self.classicChecksums {
            let rel = "\(d)/\(c)/\(ShapesWorld.fileName(i))"
            let image = try ImageDecoder.decode(path: classic + "/" + rel)
            #expect(fnv1a(image.pixels) == sum, "\(rel): checksum \(String(fnv1a(image.pixels), radix: 16))")
            // The preset changes the captions, never the pixels.
            #expect(try ImageDecoder.decode(path: broad + "/" + rel) == image, "\(rel)")
        }
        // The classic attributes file keeps its three columns, and its header, exactly.
        let text = try String(contentsOfFile: classic + "/attributes.tsv", encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.first == "# clipood shapes world, seed 0: path\tcolour\tsize (- when a caption should not say)")
        #expect(lines.count == 1 + 4 * 16 * 3)
        #expect(lines.dropFirst().allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false).count == 3 })
        // Lines of the file the old generator wrote for this world.
        for line in ["photo/ball/0000.png\tyellow\t-", "photo/ball/0001.png\tred\tbig", "photo/ball/0002.png\torange\tsmall",
                     "sketch/apple/0001.png\t-\tsmall", "painting/umbrella/0002.png\tblue\t-"] {
            #expect(lines.contains(Substring(line)), "\(line)")
        }
        #expect(try ShapesWorld.readAttributes(root: classic)!.values.allSatisfy { $0.name == nil })
    }

    @Test func broadWorldNamesAFractionOfTheImages() throws {
        let root = temporaryDirectory("named")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try ShapesWorld.write(to: root, classes: 20, perClass: 30, size: 16, seed: 7, named: 0.25)
        let table = try #require(try ShapesWorld.readAttributes(root: root))
        #expect(table.count == 4 * 20 * 30)
        var named = 0
        var perDomain: [String: Int] = [:]
        for (path, a) in table {
            let parts = path.split(separator: "/").map(String.init)
            let (d, c, i) = (parts[0], parts[1], Int(parts[2].prefix(4))!)
            // The file says what the generator says, and unnamed images carry their category.
            #expect(a == ShapesWorld.attributes(className: c, domain: d, index: i, size: 16, seed: 7, named: 0.25), "\(path)")
            if let n = a.name { #expect(n == ShapesWorld.category(c) && n != c, "\(path): \(n)") } else { named += 1; perDomain[d, default: 0] += 1 }
            // Colour and size do not depend on naming.
            let plain = ShapesWorld.attributes(className: c, domain: d, index: i, size: 16, seed: 7)
            #expect(plain.name == nil && plain.colour == a.colour && plain.size == a.size)
        }
        // About a quarter of 2400, in every domain.
        #expect((480 ... 720).contains(named), "\(named) of 2400 named")
        for d in ShapesWorld.domains { #expect((100 ... 200).contains(perDomain[d] ?? 0), "\(d): \(perDomain[d] ?? 0) of 600") }
        // Another seed names other images; named=0 and 1 are all or nothing.
        let flips = (0 ..< 200).filter {
            ShapesWorld.isNamed(className: "kite", domain: "photo", index: $0, seed: 7, named: 0.5)
                != ShapesWorld.isNamed(className: "kite", domain: "photo", index: $0, seed: 8, named: 0.5)
        }.count
        #expect(flips > 60, "\(flips)")
        #expect((0 ..< 50).allSatisfy { ShapesWorld.isNamed(className: "fish", domain: "sketch", index: $0, seed: 1, named: 1) })
        #expect(!(0 ..< 50).contains { ShapesWorld.isNamed(className: "fish", domain: "sketch", index: $0, seed: 1, named: 0) })
        // Deterministic: the same call writes the same file.
        let again = temporaryDirectory("named-again")
        defer { try? FileManager.default.removeItem(atPath: again) }
        try ShapesWorld.write(to: again, classes: 20, perClass: 30, size: 16, seed: 7, named: 0.25)
        #expect(FileManager.default.contents(atPath: root + "/attributes.tsv") == FileManager.default.contents(atPath: again + "/attributes.tsv"))
        // The default preset is broad with its default fraction; classic takes only named=1.
        #expect(ShapesWorld.Preset.broad.defaultNamed > 0 && ShapesWorld.Preset.broad.defaultNamed < 0.5)
        #expect(throws: ShapesWorldError.self) { try ShapesWorld.write(to: again, classes: 1, perClass: 1, size: 8, preset: .classic, named: 0.5) }
        #expect(throws: ShapesWorldError.self) { try ShapesWorld.write(to: again, classes: 1, perClass: 1, size: 8, named: 1.5) }
    }

    @Test func categoriesAreCoarseAndNeverAClassName() {
        var members: [String: [String]] = [:]
        for c in ShapesWorld.classes { members[ShapesWorld.category(c), default: []].append(c) }
        #expect(members.keys.allSatisfy { !ShapesWorld.classes.contains($0) })
        // Coarse: several classes share each category, and there are only a few categories.
        #expect(members.values.allSatisfy { $0.count >= 2 }, "\(members)")
        #expect(members.count <= 8)
        #expect(members["fruit"]!.sorted() == ["apple", "cherry", "orange"])
        #expect(members["animal"]!.sorted() == ["bird", "cat_face", "fish"])
    }

    @Test func attributesFileRejectsEmptyFields() throws {
        let root = temporaryDirectory("bad-name")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let many = (0 ..< 300).map { "photo/ball/\($0).png\t-\t-\tword" + String(repeating: "x", count: $0 % 20) + String(UnicodeScalar(97 + $0 / 20)!) }
        for bad in ["photo/ball/0000.png\tred\t-\t\n", "photo/ball/0000.png\tred\t-\tfruit\textra\n",
                    "photo/ball/0000.png\tred\t-\ta fruit; set\n", "photo/ball/0000.png\t" + String(repeating: "r", count: 33) + "\t-\n",
                    many.joined(separator: "\n") + "\n"] {
            try ("# header\n" + bad).write(toFile: root + "/attributes.tsv", atomically: true, encoding: .utf8)
            #expect(throws: ShapesWorldError.self) { _ = try ShapesWorld.readAttributes(root: root) }
        }
        try "# header\nphoto/ball/0000.png\tred\t-\tfruit\nphoto/ball/0001.png\t-\tbig\t-\n".write(toFile: root + "/attributes.tsv", atomically: true, encoding: .utf8)
        let table = try #require(try ShapesWorld.readAttributes(root: root))
        #expect(table["photo/ball/0000.png"] == ShapesWorld.ObjectAttributes(colour: "red", size: nil, name: "fruit"))
        #expect(table["photo/ball/0001.png"] == ShapesWorld.ObjectAttributes(colour: nil, size: "big", name: nil))
    }

    @Test func captionsSayTheCategoryForUnnamedImages() {
        var rng = RNG(seed: 11), same = RNG(seed: 11)
        var sawColour = false
        for _ in 0 ..< 300 {
            let c = Captions.caption(className: "apple", domain: "photo", colour: "red", size: "small", name: "fruit", rng: &rng)
            #expect(c.contains("fruit") && !c.contains("apple"), "\(c)")
            if c.contains("red fruit") { sawColour = true }
            // Naming draws nothing extra: the same generator, asked for the class, gives the same words around it.
            let n = Captions.caption(className: "apple", domain: "photo", colour: "red", size: "small", rng: &same)
            #expect(n.replacingOccurrences(of: "an apple", with: "a fruit").replacingOccurrences(of: "apple", with: "fruit") == c, "\(n) / \(c)")
            let animal = Captions.caption(className: "cat_face", domain: "sketch", name: "animal", rng: &rng)
            #expect(animal.contains("an animal") || !animal.contains("a animal"), "article: \(animal)")
            _ = Captions.caption(className: "cat_face", domain: "sketch", rng: &same)
        }
        #expect(sawColour)
        let corpus = Captions.corpus(classes: ["kite"], colours: ["red"], names: ["toy"])
        #expect(corpus.contains("a red toy.") && corpus.contains("a kite.") && corpus.contains("a big toy."))
        // Without names the corpus is what it was.
        #expect(Captions.corpus(classes: ["kite"], colours: ["red"]) == Captions.corpus(classes: ["kite"], colours: ["red"], names: []))
        #expect(Captions.corpus(classes: ["kite"], colours: ["red"]).count * 2 - 4 == corpus.count)
    }
}
