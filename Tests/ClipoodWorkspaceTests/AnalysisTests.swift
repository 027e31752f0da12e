import ClipoodExperiment
import ClipoodImage
import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

/// The printed confusion matrix, read back: per true class (by row index) its n and its cells
/// ('.' is 0), over every block of columns; the 'all' row under "all".
private func readConfusion(_ text: String) -> (rows: [String: (n: Int, cells: [Int])], blocks: Int) {
    var rows: [String: (n: Int, cells: [Int])] = [:]
    var blocks = 0
    for line in text.split(separator: "\n").map(String.init) {
        if line.hasPrefix("true class") { blocks += 1; continue }
        guard let bar = line.firstIndex(of: "|"), !line.hasPrefix("-") else { continue }
        let prefix = line[..<bar].split(separator: " ").map(String.init)
        guard prefix.count >= 3, let n = Int(prefix[prefix.count - 2]) else { continue }
        let key = prefix[0] == "all" ? "all" : prefix[0]
        let cells = line[line.index(after: bar)...].split(separator: " ").map { $0 == "." ? 0 : Int($0) ?? -1 }
        rows[key] = (n, (rows[key]?.cells ?? []) + cells)
    }
    return (rows, blocks)
}

/// Width and height from a PNG's IHDR.
private func pngSize(_ path: String) -> (Int, Int)? {
    guard let d = FileManager.default.contents(atPath: path), d.count > 24, Array(d.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else { return nil }
    let b = Array(d)
    func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
    return (be32(16), be32(20))
}

@Suite("analyses: confusion, plot confusion, show errors, zeroshot per_class")
struct AnalysisTests {
    func session(_ lines: [String]) throws -> Captured {
        let c = Captured()
        for l in lines { #expect(try c.workspace.executeInteractive(l), "'\(l)' failed: \(c.stderr)") }
        return c
    }

    /// The matrix agrees with eval: its diagonal is eval's correct count, its rows hold each
    /// class's images, the 'all' row sums it up; zero-shot works without a run.
    @Test func confusionAgreesWithEval() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try session(["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch", "confusion"])
        #expect(c.stdout.contains("confusion matrix of zero-shot tiny on test: 24 images, 4 classes"), "\(c.stdout)")
        #expect(try c.workspace.executeInteractive("train steps=3 batch=2 lr=1e-3 as mms"), "\(c.stderr)")
        for (line, weights, part) in [("", "final", "test"), (" model=bma:0.5 on val", "bma:0.5", "val")] {
            c.out.removeAll()
            #expect(try c.workspace.executeInteractive("eval mms" + line), "\(c.stderr)")
            let result = try #require(c.workspace.runs["mms"]?.results.first { $0.weights == weights && $0.part == part })
            c.out.removeAll()
            #expect(try c.workspace.executeInteractive("confusion mms" + line), "\(c.stderr)")
            let m = readConfusion(c.stdout)
            #expect(m.blocks == 1)
            let K = 4
            var diagonal = 0, columnTotals = [Int](repeating: 0, count: K)
            for y in 0 ..< K {
                let row = try #require(m.rows[String(y)], "no row \(y) in \(c.stdout)")
                #expect(row.cells.count == K)
                #expect(row.cells.reduce(0, +) == row.n, "row \(y) does not sum to its n")
                diagonal += row.cells[y]
                for j in 0 ..< K { columnTotals[j] += row.cells[j] }
            }
            #expect(diagonal == result.correct, "diagonal \(diagonal), eval \(result.correct) correct")
            let all = try #require(m.rows["all"])
            #expect(all.n == result.images && all.cells == columnTotals)
            #expect(c.stdout.contains("accuracy \(String(format: "%.1f", 100 * Double(result.correct) / Double(result.images)))%"))
        }
        // The test part is the whole sketch domain: 6 images per class.
        c.out.removeAll()
        #expect(try c.workspace.executeInteractive("confusion"))
        #expect((0 ..< 4).allSatisfy { readConfusion(c.stdout).rows[String($0)]?.n == 6 }, "\(c.stdout)")
        // model= names a state of a run: without a run only zeroshot means anything.
        let fresh = try session(["load model \(world.model)", "load data \(world.data)", "split target=sketch"])
        #expect(try !fresh.workspace.executeInteractive("confusion model=bma"))
        #expect(fresh.stderr.contains("no run yet"), "\(fresh.stderr)")
        #expect(try !c.workspace.executeInteractive("confusion nosuchrun"))
        #expect(c.stderr.contains("no run named 'nosuchrun'"), "\(c.stderr)")
    }

    /// Thirty classes at 80 columns: the columns go into blocks, every line fits, a long name
    /// is cut in the row label and given in full below; a control character in a name is escaped.
    @Test func wideMatrixFitsEightyColumns() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let data = world.root.appendingPathComponent("wide").path
        let long = "a class whose name is much longer than a row label"
        let classes = (0 ..< 28).map { String(format: "class%02d", $0) } + [long.replacingOccurrences(of: " ", with: "_"), "zz\u{1B}[31mred"]
        for domain in ["photo", "sketch"] {
            for (k, cls) in classes.enumerated() {
                let dir = data + "/\(domain)/\(cls)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                let px = (0 ..< 8 * 8 * 3).map { UInt8(($0 * (k + 3) + (domain == "photo" ? 0 : 90)) % 256) }
                try TestPNG.write(dir + "/0.png", width: 8, height: 8, pixels: px)
            }
        }
        let c = try session(["load model \(world.model)", "load data \(data)", "split target=sketch", "confusion"])
        let text = c.stdout
        // Everything after the title line: the blocks, the legend and the confusions.
        let matrix = text.components(separatedBy: "accuracy 3.3%\n").last ?? ""
        #expect(text.contains("accuracy 3.3%\n") && matrix.split(separator: "\n").allSatisfy { $0.count <= 80 }, "\(text)")
        let m = readConfusion(text)
        #expect(m.blocks >= 2, "\(text)")
        #expect(text.contains("predicted classes 0–"))
        for y in 0 ..< 30 {
            let row = try #require(m.rows[String(y)], "no row \(y)")
            #expect(row.cells.count == 30 && row.n == 1 && row.cells.reduce(0, +) == 1)
        }
        #expect(text.contains("classes: 0 \(long)"), "\(text)")
        #expect(text.contains("zz\\u{1B}[31mred") && !text.contains("\u{1B}"))
    }

    /// plot confusion writes PNG and PDF (at the default size and at 400×300) and draws counts as text.
    @Test func plotConfusionWritesFigures() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let dir = world.root.appendingPathComponent("figs").path
        let c = try session(["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch",
                             "train steps=3 batch=2 lr=1e-3 as mms", "set plots=\(dir)"])
        for line in ["plot confusion", "plot confusion mms model=bma:0.5 to \(dir)/small.png size=400,300", "plot confusion to \(dir)/c.pdf",
                     "plot confusion on val to \(dir)/small.pdf size=400,300"] {
            #expect(try c.workspace.executeInteractive(line), "\(line): \(c.stderr)")
        }
        #expect(pngSize(dir + "/confusion_mms_test.png") != nil, "\(c.stdout)")
        #expect(pngSize(dir + "/small.png").map { $0 == (400, 300) } == true)
        for pdf in ["c.pdf", "small.pdf"] {
            let start = FileManager.default.contents(atPath: dir + "/" + pdf).map { Array($0.prefix(5)) } ?? []
            #expect(String(decoding: start, as: UTF8.self) == "%PDF-", "\(pdf)")
        }
        #expect(c.stdout.contains("wrote the 4×4 confusion matrix of mms final on test to \(dir)/confusion_mms_test.png (PNG, "), "\(c.stdout)")
        c.out.removeAll()
        #expect(try c.workspace.executeInteractive("plot confusion term=dumb"), "\(c.stderr)")
        #expect(c.stdout.contains("predicted class") && c.stdout.contains("alarm clock"), "\(c.stdout)")
    }

    /// show errors: a PNG of the layout's size with one filled tile per image, and white where
    /// the grid has no image; n larger than the errors shows them all.
    @Test func showErrorsWritesAMontage() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let dir = world.root.appendingPathComponent("figs").path
        let c = try session(["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch",
                             "train steps=3 batch=2 lr=1e-3 as mms", "eval mms"])
        let result = try #require(c.workspace.runs["mms"]?.results.first { $0.weights == "final" && $0.part == "test" })
        let errors = result.images - result.correct
        try #require(errors >= 5, "the tiny run gets \(errors) of 24 wrong; this test needs 5")
        for (n, tile) in [(5, 64), (100, 128)] {
            let file = "\(dir)/errors_\(n).png"
            #expect(try c.workspace.executeInteractive("show errors mms n=\(n) tile=\(tile) to \(file)"), "\(c.stderr)")
            let shown = min(n, errors)
            let layout = MontageLayout(tiles: shown, tile: tile)
            let image = try ImageDecoder.decode(path: file)
            #expect(image.width == layout.width && image.height == layout.height, "\(image.width)×\(image.height)")
            #expect(c.stdout.contains("a \(layout.columns)×\(layout.rows) montage of \(shown) of \(errors) misclassified test images of mms final to \(file) (PNG, \(layout.width)×\(layout.height))"),
                    "\(c.stdout)")
            // The centre of every cell's image area: an image or its grey ground where a tile is,
            // the white page where the grid is not filled.
            for i in 0 ..< layout.columns * layout.rows {
                let cell = layout.cell(i)
                let p = image[cell.x + layout.cellWidth / 2, cell.y + tile / 2]
                let white = p.r == 255 && p.g == 255 && p.b == 255
                #expect(white == (i >= shown), "cell \(i) of \(shown) tiles: \(p)")
            }
        }
        #expect(MontageLayout(tiles: 5, tile: 64).columns == 3 && MontageLayout(tiles: 5, tile: 64).rows == 2)
        // The default file, under the plots setting.
        #expect(try c.workspace.executeInteractive("set plots=\(dir)/default"))
        #expect(try c.workspace.executeInteractive("show errors n=2"), "\(c.stderr)")
        #expect(pngSize("\(dir)/default/errors_mms_test.png") != nil)
    }

    /// Clear errors: nothing misclassified, n out of its range, a file that is not a PNG.
    @Test func showErrorsRefusesWhatItCannotShow() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        // open=0.75 of 4 classes leaves one base class: the test part is scored among one class, all correct.
        let c = try session(["load model \(world.model) as tiny", "load data \(world.data) as toy", "split open=0.75"])
        let file = world.root.appendingPathComponent("none.png").path
        #expect(try !c.workspace.executeInteractive("show errors to \(file)"))
        #expect(c.stderr.contains("zero-shot tiny classifies all ") && c.stderr.contains(" test images correctly: there are no misclassified images to show"), "\(c.stderr)")
        #expect(!FileManager.default.fileExists(atPath: file))
        for (line, message) in [("show errors n=0", "n="), ("show errors n=101", "n="), ("show errors tile=8", "tile="),
                                ("show errors to \(world.root.path)/e.svg", "'to' expects a .png file")] {
            c.err.removeAll()
            #expect(try !c.workspace.executeInteractive(line), "\(line) succeeded")
            #expect(c.stderr.contains(message), "\(line): \(c.stderr)")
        }
    }

    /// zeroshot per_class lists each class of the part with its images and accuracy; the help of
    /// the new commands comes from their declarations.
    @Test func zeroshotPerClassAndHelp() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try session(["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch", "zeroshot per_class"])
        #expect(c.stdout.contains("class        images  acc %"), "\(c.stdout)")
        for name in ["alarm clock", "cat", "dog", "tree"] {
            #expect(c.stdout.split(separator: "\n").contains { $0.hasPrefix(name + " ") && $0.contains("  6  ") }, "\(name): \(c.stdout)")
        }
        c.out.removeAll()
        #expect(try c.workspace.executeInteractive("zeroshot"))
        #expect(!c.stdout.contains("\nclass "), "\(c.stdout)")
        for (line, usage) in [("help confusion", "usage: confusion [<run>] [model="), ("help show errors", "usage: show errors [<run>] [model="),
                              ("help plot confusion", "usage: plot confusion [<run>] [model="), ("help zeroshot", "[per_class]")] {
            c.out.removeAll()
            #expect(try c.workspace.executeInteractive(line))
            #expect(c.stdout.contains(usage), "\(line): \(c.stdout)")
        }
    }
}
