import ClipoodData
import ClipoodEngine
import ClipoodImage
import Foundation
import Testing

@Suite("Dataset loading")
struct DatasetTests {
    @Test func pngWriterOutputDecodes() throws {
        let t = Tree()
        defer { t.remove() }
        let p = t.image("x.png", seed: 3, width: 7, height: 5)
        let img = try ImageDecoder.decode(path: p)
        #expect(img.width == 7 && img.height == 5)
        #expect(img.pixels == Tree.pattern(seed: 3, width: 7, height: 5))
        // A stored block boundary: more than 65535 bytes of raw data.
        let q = t.image("big.png", seed: 1, width: 200, height: 120)
        #expect(try ImageDecoder.decode(path: q).pixels == Tree.pattern(seed: 1, width: 200, height: 120))
    }

    @Test func domainBedSortedByteOrder() throws {
        let fx = Fixture(domains: ["sketch", "Photo", "art_painting"], classes: ["dog", "alarm_clock", "Zebra", "cat"], perClass: 3)
        let ds = fx.dataset
        #expect(ds.layout == .domainbed)
        #expect(ds.domains == ["Photo", "art_painting", "sketch"])          // byte order: uppercase first
        #expect(ds.classes == ["Zebra", "alarm_clock", "cat", "dog"])
        #expect(ds.classNames == ["Zebra", "alarm clock", "cat", "dog"])
        #expect(ds.samples.count == 3 * 4 * 3)
        #expect(ds.counts == [[Int]](repeating: [3, 3, 3, 3], count: 3))
        #expect(ds.warnings.isEmpty)
        #expect(ds.name == URL(fileURLWithPath: fx.tree.root).lastPathComponent)
        // Ordered by domain, then class, then file name.
        let keys = ds.samples.map { [$0.domain, $0.label] }
        #expect(keys == keys.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(ds.samples[0].path == fx.tree.root + "/Photo/Zebra/img0.png")
        #expect(ds.samples[1].path == fx.tree.root + "/Photo/Zebra/img1.png")
        #expect(ds.relativePath(0) == "Photo/Zebra/img0.png")
        #expect(Dataset.displayName("alarm_clock") == "alarm clock")
        #expect(ds.classIndex("alarm clock") == 1 && ds.classIndex("alarm_clock") == 1)
        #expect(ds.domainIndex("SKETCH") == 2 && ds.domainIndex("nope") == nil)
        #expect(ds.description.contains(all: "3 domains", "4 classes", "36 images"))
        #expect(ds.countTable.contains(all: "alarm_clock", "art_painting", "36"))
    }

    @Test func imageExtensionsHiddenAndIgnoredFiles() throws {
        let t = Tree()
        defer { t.remove() }
        t.image("d1/c/b.PNG", seed: 1)
        t.image("d1/c/a.jpeg", seed: 2)     // only names matter at load (a PNG with a .jpeg name)
        t.image("d1/c/c.JpG", seed: 3)
        t.text("d1/c/notes.txt")
        t.text("d1/c/.hidden.png")
        t.image("d1/.hiddenclass/x.png", seed: 4)
        t.image(".hiddendomain/c/x.png", seed: 5)
        t.image("d2/c/a.png", seed: 6)
        t.text("d2/readme.md")
        let ds = try Dataset.load(root: t.root)
        #expect(ds.layout == .domainbed)
        #expect(ds.domains == ["d1", "d2"])
        #expect(ds.classes == ["c"])
        #expect(ds.samples.map { ds.relativePath(ds.samples.firstIndex(of: $0)!) } == ["d1/c/a.jpeg", "d1/c/b.PNG", "d1/c/c.JpG", "d2/c/a.png"])
        let note = ds.notes.first { $0.contains("ignored") }
        #expect(note != nil)
        #expect(note?.contains("ignored 2 ") == true, "\(ds.notes)")   // notes.txt and readme.md; hidden ones silently
        #expect(note?.contains("notes.txt") == true)
    }

    @Test func imageFolderLayout() throws {
        let t = Tree("clipood-pets")
        defer { t.remove() }
        for (k, c) in ["siamese_cat", "beagle", "pug"].enumerated() {
            for i in 0 ..< 2 { t.image("pets/\(c)/\(i).png", seed: 10 * k + i) }
        }
        let auto = try Dataset.load(root: t.root + "/pets/")
        #expect(auto.layout == .imagefolder)
        #expect(auto.domains == ["pets"])
        #expect(auto.name == "pets")
        #expect(auto.classes == ["beagle", "pug", "siamese_cat"])
        #expect(auto.classNames == ["beagle", "pug", "siamese cat"])
        #expect(auto.samples.count == 6)
        #expect(auto.samples.allSatisfy { $0.domain == 0 })
        #expect(auto.notes.contains { $0.contains("imagefolder") })
        let explicit = try Dataset.load(root: t.root + "/pets", layout: .imagefolder)
        #expect(explicit.samples == auto.samples)
        // The same folder read as DomainBed has no root/<domain>/<class>/<image> images.
        #expect(throws: DatasetError.self) { try Dataset.load(root: t.root + "/pets", layout: .domainbed) }
    }

    @Test func autoPicksDomainBedAndExplicitImageFolderOnIt() throws {
        let fx = Fixture(perClass: 2)
        #expect(fx.dataset.layout == .domainbed)
        #expect(fx.dataset.notes.contains { $0.contains("domainbed") })
        // Reading a DomainBed tree as an image folder finds no images at root/<class>/<image>, and says why.
        let error = #expect(throws: DatasetError.self) { try Dataset.load(root: fx.tree.root, layout: .imagefolder) }
        #expect(error?.description.contains(all: fx.tree.root, "domainbed") == true, "\(String(describing: error))")
    }

    @Test func errorsNameThePath() throws {
        let t = Tree()
        defer { t.remove() }
        let missing = t.root + "/nowhere"
        let e1 = #expect(throws: DatasetError.self) { try Dataset.load(root: missing) }
        #expect(e1 == .rootMissing(path: missing))
        #expect(e1?.description.contains(missing) == true)

        let file = t.text("file.txt")
        let e2 = #expect(throws: DatasetError.self) { try Dataset.load(root: file) }
        #expect(e2 == .rootNotDirectory(path: file))
        #expect(e2?.description.contains(file) == true)

        let empty = t.dir("empty")
        t.text("empty/.DS_Store")
        let e3 = #expect(throws: DatasetError.self) { try Dataset.load(root: empty) }
        #expect(e3 == .rootEmpty(path: empty))
        #expect(e3?.description.contains(empty) == true)

        t.text("noimages/d1/c1/a.txt")
        t.text("noimages/d2/c1/b.gif")
        let e4 = #expect(throws: DatasetError.self) { try Dataset.load(root: t.root + "/noimages") }
        guard case .noImages(let p, _, _)? = e4 else { Issue.record("expected noImages, got \(String(describing: e4))"); return }
        #expect(p == t.root + "/noimages")
        #expect(e4?.description.contains(t.root + "/noimages") == true)

        t.image("flat/a.png", seed: 1)
        let e5 = #expect(throws: DatasetError.self) { try Dataset.load(root: t.root + "/flat") }
        #expect(e5?.description.contains(all: t.root + "/flat", "directly in the root") == true, "\(String(describing: e5))")
    }

    @Test func domainWithoutImagesIsAnError() throws {
        let t = Tree()
        defer { t.remove() }
        t.image("d1/c1/a.png", seed: 1)
        t.image("d2/c1/a.png", seed: 2)
        t.dir("d3/c1")
        t.text("d3/c1/readme.txt")
        let e = #expect(throws: DatasetError.self) { try Dataset.load(root: t.root, layout: .domainbed) }
        #expect(e == .domainWithoutImages(domain: "d3", path: t.root + "/d3"))
        #expect(e?.description.contains(all: "'d3'", t.root + "/d3") == true)
    }

    @Test func classMissingFromSomeDomainsIsAWarning() throws {
        let t = Tree()
        defer { t.remove() }
        for d in ["d1", "d2", "d3"] {
            t.image("\(d)/common/a.png", seed: 1)
        }
        t.image("d2/rare_bird/a.png", seed: 2)
        t.dir("d3/rare_bird")                  // an empty class folder counts as missing
        t.dir("d1/ghost")                      // a class with no images anywhere is left out
        let ds = try Dataset.load(root: t.root)
        #expect(ds.classes == ["common", "rare_bird"])
        #expect(ds.counts == [[1, 0], [1, 1], [1, 0]])
        let w = ds.warnings.first { $0.contains("rare_bird") }
        #expect(w?.contains(all: "'d1'", "'d3'", t.root + "/d1/rare_bird") == true, "\(ds.warnings)")
        #expect(w?.contains("'d2'") == false)
        #expect(ds.warnings.contains { $0.contains(all: "ghost", t.root + "/d1/ghost") }, "\(ds.warnings)")
    }

    @Test func verifyImagesRemovesUnreadableOnes() throws {
        let fx = Fixture(perClass: 3)
        let bad1 = fx.tree.text("photo/cat/x.png", "hello, I am text\n")
        let bad2 = fx.tree.root + "/sketch/dog/y.jpg"
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00]).write(to: URL(fileURLWithPath: bad2))   // a truncated JPEG
        var ds = try Dataset.load(root: fx.tree.root)
        #expect(ds.samples.count == 36 + 2)      // load does not decode
        var calls: [(Int, Int)] = []
        let failures = ds.verifyImages(threads: 2) { calls.append(($0, $1)) }
        #expect(failures.map(\.path) == [bad1, bad2])
        #expect(failures[0].reason.contains("text"))
        #expect(failures[1].reason.contains("JPEG"))
        #expect(ds.samples.count == 36)
        #expect(!ds.samples.contains { $0.path == bad1 || $0.path == bad2 })
        #expect(ds.counts == [[Int]](repeating: [3, 3, 3, 3], count: 3))
        #expect(ds.warnings.contains { $0.contains(all: "removed 2", bad1) })
        #expect(calls.last.map { $0 == (38, 38) } == true)
        #expect(calls.map(\.0) == calls.map(\.0).sorted())
        // A second pass finds nothing.
        #expect(ds.verifyImages().isEmpty)
    }
}
