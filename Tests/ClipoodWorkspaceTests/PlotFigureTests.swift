import ClipoodIO
import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

/// A gnuplot that keeps the script it is given (in `script`) and hands it to the real one.
private struct RecordingGnuplot {
    let dir: URL
    let script: String
    let program: String

    init() throws {
        dir = makeTemporaryDirectory("clipood-gprec")
        script = dir.appendingPathComponent("last.gp").path
        program = dir.appendingPathComponent("gnuplot").path
        let real = try Gnuplot.locate()
        let text = "#!/bin/sh\ntee '\(script)' | exec '\(real)' \"$@\"\n"
        writeExecutable(text, to: program)
    }

    /// Runs `line` in `c` with this gnuplot and returns the script it drew.
    func run(_ c: Captured, _ line: String) throws -> String {
        let ok = try Gnuplot.$search.withValue(GnuplotSearch(environment: ["CLIPOOD_GNUPLOT": program], fallbacks: [])) {
            try c.workspace.executeInteractive(line)
        }
        #expect(ok, "'\(line)' failed: \(c.stderr)")
        return (try? String(contentsOfFile: script, encoding: .utf8)) ?? ""
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }
}

/// The first bytes of a file.
private func head(_ path: String, _ n: Int) -> [UInt8] {
    guard let d = FileManager.default.contents(atPath: path) else { return [] }
    return Array(d.prefix(n))
}

/// Text boxes of the SVG's <text> elements whose text satisfies `keep`: gnuplot writes each as
/// `<g transform="translate(X,Y)" …>` then the text with its font-size and text-anchor.
private func svgLabelBoxes(_ svg: String, keep: (String) -> Bool) -> [(text: String, x0: Double, x1: Double, y0: Double, y1: Double)] {
    var out: [(text: String, x0: Double, x1: Double, y0: Double, y1: Double)] = []
    let pattern = #"<g transform="translate\(([0-9.]+),([0-9.]+)\)"([^>]*)>\s*<text[^>]*>(.*?)</text>"#
    let re = try! NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators])
    let ns = svg as NSString
    for m in re.matches(in: svg, range: NSRange(location: 0, length: ns.length)) {
        let x = Double(ns.substring(with: m.range(at: 1)))!, y = Double(ns.substring(with: m.range(at: 2)))!
        let attributes = ns.substring(with: m.range(at: 3)), body = ns.substring(with: m.range(at: 4))
        let text = body.replacingOccurrences(of: "<[^>]*>", with: "", options: .regularExpression)
        guard keep(text) else { continue }
        let sizeText = attributes.range(of: #"font-size="[0-9.]+""#, options: .regularExpression).map { String(attributes[$0].dropFirst(11).dropLast()) }
        let size = sizeText.flatMap(Double.init) ?? 10
        // Narrow enough that only a real overlap (not a generous estimate) fails.
        let w = 0.5 * size * Double(text.count)
        let x0 = attributes.contains("text-anchor=\"end\"") ? x - w : attributes.contains("text-anchor=\"middle\"") ? x - w / 2 : x
        out.append((text, x0, x0 + w, y - 0.7 * size, y + 0.1 * size))
    }
    return out
}

private func overlapping(_ boxes: [(text: String, x0: Double, x1: Double, y0: Double, y1: Double)]) -> [(String, String)] {
    var pairs: [(String, String)] = []
    for i in boxes.indices {
        for j in boxes.indices where j > i {
            let a = boxes[i], b = boxes[j]
            if a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 { pairs.append((a.text, b.text)) }
        }
    }
    return pairs
}

/// The sample drawn before `title` on the key line that holds it (the dumb terminal's key:
/// a line of characters and/or a letter, then the title).
private func keySample(_ text: String, _ title: String) -> String? {
    guard let line = text.split(separator: "\n").first(where: { $0.contains(title) }) else { return nil }
    let before = line[..<line.range(of: title)!.lowerBound]
    let sample = before.reversed().drop { $0 == " " }.prefix { $0 != " " }
    return String(sample.reversed())
}

@Suite("plot figures: PDF, scaling, runs, sweep, accuracy, curves, text keys")
struct PlotFigureTests {
    static func trained(_ world: TinyWorld) throws -> Captured {
        let c = Captured()
        for l in ["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch",
                  "train steps=3 batch=1 lr=1e-3 lambda=0.3 beta=0.1,1 as mms", "train steps=3 batch=1 lr=1e-3 lambda=0 beta=0.5 as ce"] {
            #expect(try c.workspace.executeInteractive(l), "\(l): \(c.stderr)")
        }
        return c
    }

    /// Every plot kind writes PNG, SVG and PDF, each recognisable by its first bytes.
    @Test func everyKindWritesEveryFormat() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let dir = world.root.appendingPathComponent("figs").path
        let c = try Self.trained(world)
        #expect(try c.workspace.executeInteractive("ablate lambda=0,0.3 seeds=0,1 steps=2 batch=1"), "\(c.stderr)")
        let kinds = ["margins", "bma mms", "curves mms ce", "accuracy", "sweep mms", "runs", "ablation"]
        for (i, kind) in kinds.enumerated() {
            for ext in ["png", "svg", "pdf"] {
                let file = "\(dir)/\(i).\(ext)"
                #expect(try c.workspace.executeInteractive("plot \(kind) to \(file)"), "plot \(kind) to .\(ext): \(c.stderr)")
                let start = head(file, 8)
                switch ext {
                case "png": #expect(start == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "\(kind)")
                case "svg": #expect(String(decoding: start, as: UTF8.self).hasPrefix("<?xml"), "\(kind)")
                default: #expect(String(decoding: start.prefix(5), as: UTF8.self) == "%PDF-", "plot \(kind): not a PDF")
                }
            }
        }
        #expect(c.stdout.contains("to \(dir)/0.pdf (PDF, "))
        // term=pdf writes <plots>/NAME.pdf; the pdf page is size= points (1/72 in).
        #expect(try c.workspace.executeInteractive("set plots=\(dir)/default"))
        #expect(try c.workspace.executeInteractive("plot bma steps=10 term=pdf size=400,300"))
        let pdf = String(decoding: FileManager.default.contents(atPath: "\(dir)/default/bma.pdf") ?? Data(), as: UTF8.self)
        #expect(pdf.hasPrefix("%PDF-") && pdf.contains("/MediaBox [ 0 0 400 300 ]"), "\(pdf.prefix(400))")
        #expect(c.stdout.contains("to \(dir)/default/bma.pdf (PDF, 400×300 pt)"))
        #expect(try !c.workspace.executeInteractive("plot bma term=svg to \(dir)/x.pdf"))
        #expect(c.stderr.contains("term=svg does not match"))
    }

    /// size= scales fonts and lines: smaller than the default size, smaller text (down to 0.7);
    /// larger, larger text; a long title wraps into lines that fit a small figure.
    @Test func sizeScalesTextAndWrapsTitles() throws {
        let rec = try RecordingGnuplot()
        defer { rec.remove() }
        let dir = rec.dir.appendingPathComponent("figs").path
        let c = Captured()
        let normal = try rec.run(c, "plot bma steps=10 to \(dir)/a.png")
        #expect(normal.contains("font 'sans,10'") && !normal.contains("fontscale"))
        let small = try rec.run(c, "plot bma steps=10 to \(dir)/b.png size=400,300")
        #expect(small.contains("font 'sans,10' fontscale 0.7 linewidth 0.7"), "\(small.prefix(300))")
        let large = try rec.run(c, "plot bma steps=10 to \(dir)/c.svg size=1920,1200")
        #expect(large.contains("set terminal svg size 1920,1200 dynamic enhanced font 'sans,10' fontscale 2 linewidth 2"), "\(large.prefix(300))")
        let pdf = try rec.run(c, "plot bma steps=10 to \(dir)/d.pdf size=400,300")
        #expect(pdf.contains("set terminal pdfcairo size 5.55555556in,4.16666667in enhanced font 'sans,10' fontscale 0.7 linewidth 0.7"), "\(pdf.prefix(300))")
        // The default title is ~90 characters: two lines at 400 pixels, one at the default width.
        let titleLine = { (script: String) in script.split(separator: "\n").first { $0.hasPrefix("set title ") }.map(String.init) ?? "" }
        #expect(titleLine(small).contains(#" . "\n" . "#), "\(titleLine(small))")
        #expect(!titleLine(normal).contains(#"\n"#), "\(titleLine(normal))")
        // A wrapped title is still made only of quoted pieces.
        let hostile = try rec.run(c, "plot bma steps=10 to \(dir)/e.png size=400,300 title=\"`touch x` and a long title that needs wrapping at this small size, with quotes \\\" and more words\"")
        let line = titleLine(hostile)
        #expect(line.contains(#" . "\n" . "#) && !line.contains("`"), "\(line)")
    }

    /// plot runs: one colour per run, a line through each run's states, a key with the runs and
    /// the state symbols; labels never overlap.
    @Test func runsHaveAColourAndALineEach() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let rec = try RecordingGnuplot()
        defer { rec.remove() }
        let dir = world.root.appendingPathComponent("figs").path
        let c = try Self.trained(world)
        let script = try rec.run(c, "plot runs mms ce to \(dir)/runs.svg")
        let plot = script.split(separator: "\n").last { $0.hasPrefix("plot ") }.map(String.init) ?? ""
        let lines = plot.components(separatedBy: ", $").filter { $0.contains("with lines") }
        #expect(lines.count == 2, "\(plot)")
        let colourTexts = Set(lines.compactMap { l in l.range(of: #"lc rgb '#[0-9A-F]{6}'"#, options: .regularExpression).map { String(l[$0]) } })
        #expect(colourTexts.count == 2, "\(lines)")
        // A run's line holds zero-shot and its final, averages (bma:0.1, bma:1, swa) and wise:0.5.
        let block = script.components(separatedBy: "$line0 << EOD\n").dropFirst().first?.components(separatedBy: "EOD").first ?? ""
        #expect(block.split(separator: "\n").count == 6, "\(block)")
        for title in ["mms (λ = 0.3)", "ce (λ = 0)", "zero-shot", "final", "bma:0.1", "bma:1", "wise:0.5"] {
            #expect(plot.contains(gnuplotQuote(title)) || plot.contains("'\(title)'"), "no key entry \(title)")
        }
        let svg = try String(contentsOfFile: dir + "/runs.svg", encoding: .utf8)
        let labels = svgLabelBoxes(svg) { ["final", "bma:0.1", "bma:0.5", "bma:1", "swa", "ema", "wise:0.5"].contains($0) }
        #expect(overlapping(labels).isEmpty, "\(overlapping(labels))")
        // Small: still no overlap (labels left out when they crowd).
        _ = try rec.run(c, "plot runs mms ce to \(dir)/small.svg size=400,300")
        let small = svgLabelBoxes(try String(contentsOfFile: dir + "/small.svg", encoding: .utf8)) { $0.hasPrefix("bma") || $0 == "final" || $0 == "swa" || $0 == "wise:0.5" }
        #expect(overlapping(small).isEmpty, "\(overlapping(small))")
    }

    /// plot sweep: no two α labels overlap, at the default size and a small one.
    @Test func sweepLabelsDoNotCollide() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let dir = world.root.appendingPathComponent("figs").path
        let c = try Self.trained(world)
        for (i, size) in ["", "size=400,300", "size=1600,1200"].enumerated() {
            #expect(try c.workspace.executeInteractive("plot sweep mms to \(dir)/s\(i).svg \(size)"), "\(c.stderr)")
            let boxes = svgLabelBoxes(try String(contentsOfFile: "\(dir)/s\(i).svg", encoding: .utf8)) { $0.hasPrefix("α = ") }
            #expect(!boxes.isEmpty, "no α label at all (\(size))")
            #expect(overlapping(boxes).isEmpty, "\(size): \(overlapping(boxes))")
        }
    }

    /// plot accuracy: the y axis spans the data, zero-shot is a line, the bars take their run's colour.
    @Test func accuracyZoomsAndGroupsByRun() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let rec = try RecordingGnuplot()
        defer { rec.remove() }
        let dir = world.root.appendingPathComponent("figs").path
        let c = try Self.trained(world)
        let script = try rec.run(c, "plot accuracy mms ce to \(dir)/a.png")
        let yrange = script.split(separator: "\n").first { $0.hasPrefix("set yrange") }.map(String.init) ?? ""
        #expect(!yrange.isEmpty && yrange != "set yrange [0:109]" && yrange != "set yrange [0:100]", "\(yrange)")
        let plot = script.split(separator: "\n").last { $0.hasPrefix("plot ") }.map(String.init) ?? ""
        #expect(plot.contains("with vectors nohead dt 2") && plot.contains("title 'zero-shot'"))
        // mms: final, bma:0.1, bma:1, swa, wise:0.5 in shades of blue; ce: final, bma:0.5, swa, wise:0.5 of vermilion.
        let boxes = plot.components(separatedBy: ", $").filter { $0.contains("with boxes") }
        #expect(boxes.count == 9)
        #expect(boxes.first?.contains("lc rgb '#0072B2'") == true && boxes.count > 5 && boxes[5].contains("lc rgb '#D55E00'"), "\(boxes)")
    }

    /// plot curves overlays several runs, each its own colour, named in the key.
    @Test func curvesOverlayRuns() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let dir = world.root.appendingPathComponent("figs").path
        let c = try Self.trained(world)
        #expect(try c.workspace.executeInteractive("set plots=\(dir)"))
        #expect(try c.workspace.executeInteractive("plot curves mms ce"), "\(c.stderr)")
        #expect(head(dir + "/curves_mms_ce.png", 4) == [0x89, 0x50, 0x4E, 0x47])
        #expect(c.stdout.contains("wrote the training curves of mms, ce to \(dir)/curves_mms_ce.png"))
        #expect(try c.workspace.executeInteractive("plot curves mms ce term=dumb"))
        for t in ["mms per step", "ce per step", "mms learning rate (right)", "ce learning rate (right)"] { #expect(c.stdout.contains(t), "no key entry \(t)") }
        #expect(try !c.workspace.executeInteractive("plot curves mms nope"))
        #expect(c.stderr.contains("no run named 'nope'"))
    }

    /// term=dumb: the key is drawn, and every series has a sample of its own.
    @Test func textFiguresHaveAKeyWithDistinctSymbols() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try Self.trained(world)
        let cases: [(String, [String])] = [
            ("plot sweep mms term=dumb", ["WiSE-FT, α = 0, 0.1, …, 1", "zero-shot (α = 0)", "final (α = 1)", "bma:0.1", "bma:1"]),
            ("plot accuracy mms ce term=dumb size=120,40", ["zero-shot", "mms final", "mms bma:0.1", "mms bma:1", "mms wise:0.5", "ce final", "ce bma:0.5", "ce wise:0.5"]),
            ("plot runs mms ce term=dumb size=120,40", ["mms (λ = 0.3)", "ce (λ = 0)", "zero-shot", "final", "bma:0.1", "bma:0.5", "bma:1", "wise:0.5"]),
            ("plot bma beta=0.1,0.5,1 steps=50 term=dumb", ["β = 0.1: weight", "β = 0.5: weight", "β = 1: weight", "β = 0.1: cumulative", "β = 0.5: cumulative", "β = 1: cumulative"]),
            ("plot curves mms term=dumb", ["loss per step", "accuracy per batch", "learning rate (right axis)"]),
        ]
        for (line, titles) in cases {
            c.out.removeAll()
            #expect(try c.workspace.executeInteractive(line), "\(line): \(c.stderr)")
            let text = c.stdout
            let samples = titles.map { keySample(text, $0) }
            #expect(!samples.contains(nil), "\(line): key entries missing: \(zip(titles, samples).filter { $0.1 == nil }.map(\.0))\n\(text)")
            let found = samples.compactMap { $0 }
            #expect(found.allSatisfy { !$0.isEmpty } && Set(found).count == found.count, "\(line): samples \(found)\n\(text)")
        }
    }
}
