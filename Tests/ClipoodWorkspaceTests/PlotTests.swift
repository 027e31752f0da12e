import ClipoodIO
import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

/// Strings that try to break out of a gnuplot string: shell substitution, system(), quotes,
/// line breaks that would start a new command (or end a datablock), macros, enhanced markup.
/// `MARK` is replaced by a file that must never come to exist.
private let hostileTemplates = [
    "`touch MARK`",
    "a `touch MARK` b",
    "system(\"touch MARK\")",
    "'; system('touch MARK'); print '",
    "\"; system(\"touch MARK\"); print \"",
    "\" . system(\"touch MARK\") . \"",
    "it's",
    "''",
    "'",
    "\\",
    "ends with a backslash \\",
    "\\' . system('touch MARK') . '",
    "@GPVAL_TERM and @MARK",
    "first line\nsystem('touch MARK')",
    "\nEOD\n! touch MARK\nprint 'x'",
    "cr\r! touch MARK",
    "tab\tnul\u{0}bell\u{7}del\u{7F}c1\u{85}end",
    "line\u{2028}separator\u{2029}paragraph",
    "x^2_i @a &b ~c {d} {/Symbol a} \\101 & &{x}",
    "# not a comment; set output '|touch MARK'",
    "$data << EOD",
    "λ β α — 日本語 😀",
    "100% %s%n %d %%",
    "",
]

private func hostile(_ mark: String) -> [String] { hostileTemplates.map { $0.replacingOccurrences(of: "MARK", with: mark) } }

/// The text of every <text> element of an SVG (tags stripped, entities decoded).
private func svgTexts(_ svg: String) -> [String] {
    var out: [String] = []
    var rest = svg[...]
    while let open = rest.range(of: "<text"), let close = rest.range(of: "</text>", range: open.upperBound ..< rest.endIndex) {
        let inner = rest[open.upperBound ..< close.lowerBound]
        let body = inner.drop { $0 != ">" }.dropFirst()
        let plain = String(body).replacingOccurrences(of: "<[^>]*>", with: "", options: .regularExpression)
        out.append(plain.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&amp;", with: "&"))
        rest = rest[close.upperBound...]
    }
    return out
}

private func isPNG(_ path: String) -> (ok: Bool, width: Int, height: Int, bytes: Int) {
    guard let d = FileManager.default.contents(atPath: path), d.count > 24 else { return (false, 0, 0, 0) }
    let b = [UInt8](d)
    let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
    return (Array(b[0 ..< 8]) == signature && String(decoding: b[12 ..< 16], as: UTF8.self) == "IHDR", be32(16), be32(20), b.count)
}

@Suite("gnuplot quoting and the driver")
struct GnuplotPlotTests {
    @Test func gnuplotIsFound() throws {
        let path = try Gnuplot.locate()
        #expect(FileManager.default.isExecutableFile(atPath: path), "gnuplot-nox must be installed for these tests: apt-get install gnuplot-nox")
    }

    /// Every hostile string, printed by gnuplot from its quoted form, comes back as itself
    /// (control characters as spaces), on one line each, and nothing gets executed.
    @Test func quotedStringsEvaluateToThemselvesAndExecuteNothing() throws {
        let dir = makeTemporaryDirectory("clipood-quote")
        defer { try? FileManager.default.removeItem(at: dir) }
        let mark = dir.appendingPathComponent("pwned-\(UUID().uuidString)").path
        let strings = hostile(mark)
        var script = "set print '-'\n"
        for s in strings {
            let q = gnuplotQuote(s)
            #expect(!q.contains("\n") && !q.contains("\r") && q.hasPrefix("\"") && q.hasSuffix("\""), "\(q)")
            script += "print \(q)\n"
            script += "s = \(gnuplotQuote(s, enhanced: true))\n"   // valid in enhanced form too
        }
        script += "print 'done'\n"
        let out = try Gnuplot().run(script)
        let lines = out.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(Array(lines.prefix(strings.count)) == strings.map(gnuplotSanitize))
        #expect(lines.dropFirst(strings.count).first == "done")
        #expect(!FileManager.default.fileExists(atPath: mark), "a quoted string ran a command")
    }

    @Test func quotingRules() {
        #expect(gnuplotQuote("plain text, λ") == "\"plain text, λ\"")
        #expect(gnuplotQuote("it's 'quoted'") == "\"it's 'quoted'\"")
        #expect(gnuplotQuote("a\nb\r\tc") == "\"a b  c\"")
        #expect(gnuplotQuote("`x` \\ @y \"z\"") == "\"\\140x\\140 \\134 \\100y \\042z\\042\"")
        #expect(gnuplotQuote("a^b_c", enhanced: true) == "\"a\\134^b\\134_c\"")
        #expect(gnuplotQuote("{x}&@~\\", enhanced: true) == "\"\\134{x\\134}\\134&\\134\\100\\134~\\134\\134\"")
        #expect(gnuplotTicLabel("100% %s") == "\"100%% %%s\"")
        #expect(gnuplotSanitize("a\u{0}b\u{1B}[31mc\u{2028}") == "a b [31mc ")
        #expect(gnuplotNumber(0.5) == "0.5" && gnuplotNumber(.nan) == "NaN" && gnuplotNumber(.infinity) == "NaN" && gnuplotNumber(1e-7) == "1e-07")
        // No quote character, backquote, backslash (other than an escape's), @ or line break survives inside.
        for s in hostile("/tmp/x") {
            for enhanced in [false, true] {
                let inner = gnuplotQuote(s, enhanced: enhanced).dropFirst().dropLast()
                #expect(!inner.contains("\"") && !inner.contains("`") && !inner.contains("@") && !inner.contains("\n"))
                #expect(inner.replacingOccurrences(of: #"\\[0-7]{3}"#, with: "", options: .regularExpression).contains("\\") == false)
            }
        }
    }

    /// Drawn as labels, in enhanced mode (escaped) and noenhanced (plain), every string shows
    /// literally in the SVG.
    @Test func labelsDrawLiterallyInBothTextModes() throws {
        let dir = makeTemporaryDirectory("clipood-labels")
        defer { try? FileManager.default.removeItem(at: dir) }
        let mark = dir.appendingPathComponent("pwned-\(UUID().uuidString)").path
        let strings = hostile(mark).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        var g = GnuplotScript()
        for (i, s) in strings.enumerated() {
            g.add("set label \(2 * i + 1) \(gnuplotQuote(s, enhanced: true)) at graph 0.05, graph \(0.02 + 0.02 * Double(i))",
                  "set label \(2 * i + 2) \(gnuplotQuote(s)) at graph 0.55, graph \(0.02 + 0.02 * Double(i)) noenhanced")
        }
        // Tic labels are printf formats as well: gnuplotTicLabel keeps them literal.
        g.add("set xtics (" + strings.enumerated().map { "\(gnuplotTicLabel($0.element)) \($0.offset)" }.joined(separator: ", ") + ") noenhanced",
              "set xrange [0:\(strings.count)]", "set title \(gnuplotQuote(strings[0])) noenhanced", "plot x notitle")
        let svg = dir.appendingPathComponent("labels.svg").path
        _ = try Gnuplot().draw(g, terminal: .svg(width: 800, height: 1200), output: svg)
        let texts = svgTexts(try String(contentsOfFile: svg, encoding: .utf8))
        for s in strings {
            let shown = gnuplotSanitize(s)
            #expect(texts.filter { $0 == shown }.count >= 3, "'\(shown)' not drawn literally three times; texts: \(texts.filter { !$0.hasPrefix(" ") && Double($0) == nil })")
        }
        #expect(!FileManager.default.fileExists(atPath: mark))
    }

    /// gnuplot's own error comes back, with the script line it stopped at; nothing after it runs.
    @Test func gnuplotErrorsAreThrownWithTheirMessage() throws {
        let gp = try Gnuplot()
        let e1 = #expect(throws: GnuplotError.self) { try gp.run("set print '-'\nprint 'one'\nplot no_such_variable_xyz\nprint 'two'\n") }
        #expect(e1?.description == "gnuplot failed: undefined variable: no_such_variable_xyz (script line 3: plot no_such_variable_xyz)")
        // The figure goes into place through AtomicWrite: a path under a regular file fails in one line.
        let e2 = #expect(throws: IOFailure.self) {
            try gp.draw(GnuplotScript(), terminal: .png(width: 100, height: 100), output: "/dev/null/a.png")
        }
        #expect(e2?.description == "cannot write '/dev/null/a.png': '/dev/null' is not a folder", "\(String(describing: e2))")
        // Warnings do not fail.
        var g = GnuplotScript()
        g.data("one", rows: [[1, 1]])
        g.add("plot $one using 1:2 notitle")
        let out = try gp.draw(g, terminal: .dumb(columns: 40, rows: 12), output: nil)
        #expect(out.warnings.contains { $0.contains("empty") })
        #expect(!out.text.contains("\u{0C}") && out.text.contains("+---"))
    }

    @Test func locatingFollowsOverridePathAndFallbacks() throws {
        let empty = makeTemporaryDirectory("clipood-nogp"), fake = makeTemporaryDirectory("clipood-fakegp")
        defer { for d in [empty, fake] { try? FileManager.default.removeItem(at: d) } }
        let missing = #expect(throws: GnuplotError.self) { try Gnuplot.locate(GnuplotSearch(environment: ["PATH": empty.path], fallbacks: [])) }
        #expect(missing?.description == "gnuplot is not installed: apt-get install gnuplot-nox")
        let forced = #expect(throws: GnuplotError.self) {
            try Gnuplot.locate(GnuplotSearch(environment: ["PATH": "/usr/bin", "CLIPOOD_GNUPLOT": empty.path + "/gnuplot"]))
        }
        #expect(forced?.description.hasPrefix("gnuplot is not installed: apt-get install gnuplot-nox (CLIPOOD_GNUPLOT=") == true)
        let program = fake.appendingPathComponent("gnuplot").path
        writeExecutable("#!/bin/sh\nexit 0\n", to: program)
        #expect(try Gnuplot.locate(GnuplotSearch(environment: ["PATH": "\(empty.path):\(fake.path):/usr/bin"], fallbacks: [])) == program)
        #expect(try Gnuplot.locate(GnuplotSearch(environment: ["PATH": empty.path, "CLIPOOD_GNUPLOT": program], fallbacks: [])) == program)
        #expect(try Gnuplot.locate(GnuplotSearch(environment: ["PATH": empty.path], fallbacks: ["/nonexistent/gnuplot", program])) == program)
    }
}

@Suite("plot commands")
struct PlotTests {
    func session(_ lines: [String], _ c: Captured = Captured()) throws -> Captured {
        for l in lines {
            let ok = try c.workspace.executeInteractive(l)
            #expect(ok, "'\(l)' failed: \(c.stderr)")
        }
        return c
    }

    @Test func bmaInTheTerminal() throws {
        let c = try session(["plot bma beta=0.1,0.5,1 steps=100 term=dumb"])
        let text = c.stdout
        #expect(text.split(separator: "\n").count >= 24)
        #expect(text.contains("β = 0.1: weight of each step") && text.contains("β = 1: cumulative share"))
        #expect(text.contains("+----") && text.contains("100"))
        #expect(!text.contains("wrote"))
        #expect(c.err.isEmpty, "\(c.stderr)")
    }

    @Test func bmaToPNGAndSVG() throws {
        let dir = makeTemporaryDirectory("clipood-plot")
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = dir.appendingPathComponent("new/sub/bma.png").path, svg = dir.appendingPathComponent("bma.svg").path
        let c = try session(["plot bma beta=0.1,0.5,1 steps=100 to \(png)", "plot bma beta=2 steps=50 to \(svg) title=\"β = 2 only\" size=640,400"])
        let p = isPNG(png)
        #expect(p.ok && p.width == 960 && p.height == 600 && p.bytes > 20_000, "\(p)")
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(text.hasPrefix("<?xml") && text.contains("<svg") && text.contains("width=\"640\"") && text.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("</svg>"))
        #expect(svgTexts(text).contains("β = 2 only"))
        #expect(c.stdout.contains("wrote the BMA weights of β = 0.1, 0.5, 1 over 100 steps to \(png) (PNG, 960×600)"))
        #expect(c.stdout.contains("to \(svg) (SVG, 640×400)"))
        // The default place: <plots setting>/bma.png, directory created.
        let plots = dir.appendingPathComponent("figures").path
        _ = try session(["set plots=\(plots)", "plot bma steps=10", "plot bma steps=10 term=svg"], c)
        #expect(isPNG(plots + "/bma.png").ok)
        #expect(FileManager.default.fileExists(atPath: plots + "/bma.svg"))
    }

    /// A hostile title reaches gnuplot as text, never as a command.
    @Test func hostileTitleRunsNothing() throws {
        let dir = makeTemporaryDirectory("clipood-plot")
        defer { try? FileManager.default.removeItem(at: dir) }
        let mark = dir.appendingPathComponent("pwned-\(UUID().uuidString)").path
        let png = dir.appendingPathComponent("t.png").path
        for title in ["`touch \(mark)`", "x' . system('touch \(mark)') . '", "a\\nsystem('touch \(mark)')\\n! touch \(mark)"] {
            let c = try session(["plot bma steps=20 to \(png) title=\"\(title)\""])
            #expect(c.err.isEmpty, "\(c.stderr)")
            #expect(isPNG(png).ok)
        }
        #expect(!FileManager.default.fileExists(atPath: mark), "a title ran a shell command")
    }

    @Test func missingGnuplotIsAClearError() throws {
        let empty = makeTemporaryDirectory("clipood-nogp")
        defer { try? FileManager.default.removeItem(at: empty) }
        let c = Captured()
        let ok = try Gnuplot.$search.withValue(GnuplotSearch(environment: ["PATH": empty.path], fallbacks: [])) {
            try c.workspace.executeInteractive("plot bma steps=10 term=dumb")
        }
        #expect(!ok)
        #expect(c.stderr.contains("error: gnuplot is not installed: apt-get install gnuplot-nox"), "\(c.stderr)")
        #expect(c.stdout.isEmpty)
        // The workspace goes on, and finds gnuplot again outside the override.
        #expect(try c.workspace.executeInteractive("plot bma steps=10 term=dumb"))
    }

    @Test func badArgumentsPointAtThemselves() throws {
        let c = Captured()
        // (line, message, the text the caret must underline; nil: the command word)
        let bad: [(String, String, String?)] = [
            ("plot bma to figure.jpg", "'to' expects a .png, .svg or .pdf file (or .txt with term=dumb), got 'figure.jpg'", "figure.jpg"),
            ("plot bma term=png to figure.svg", "term=png does not match 'figure.svg' (a svg file)", "png"),
            ("plot bma term=dumb to figure.png", "term=dumb does not match 'figure.png' (a png file)", "dumb"),
            ("plot bma size=100", "size= expects two numbers W,H, got '100'", "100"),
            ("plot bma beta=0", "beta= must be in 0.001…", "0"),
            ("plot bma steps=10 nope", "no run named 'nope'", "nope"),
            ("plot curves", "no run yet", nil),
            ("plot sweep", "no run yet", nil),
            ("plot margins", "no model loaded", nil),
            ("plot accuracy", "no model loaded", nil),
            ("plot histogram", "'plot' has no subcommand 'histogram'", "histogram"),
            ("plot", "'plot' needs a subcommand: margins, bma, curves, accuracy, sweep", nil),
        ]
        for (line, message, target) in bad {
            c.err.removeAll()
            #expect(try !c.workspace.executeInteractive(line), "'\(line)' succeeded")
            #expect(c.stderr.contains(message), "'\(line)': \(c.stderr)")
            let column = target.flatMap { line.range(of: $0, options: .backwards) }.map { line.distance(from: line.startIndex, to: $0.lowerBound) }
            if let target, let column {
                let caret = "\n    " + String(repeating: " ", count: column) + "^" + String(repeating: "~", count: target.count - 1) + "\n"
                #expect(c.stderr.contains(caret), "'\(line)': caret not under '\(target)': \(c.stderr)")
            }
        }
        #expect(try c.workspace.executeInteractive("help plot bma"))
        // Help wraps at 80 columns; the usage reads the same with its line breaks taken out.
        let unwrapped = c.stdout.replacingOccurrences(of: "\n +", with: " ", options: .regularExpression)
        #expect(unwrapped.contains("usage: plot bma [<run>] [beta=X,…] [steps=N] [to FILE.png|.svg|.pdf] [term=dumb|png|svg|pdf] [title=TEXT] [size=W,H]"))
    }

    /// The figures of a trained run: margins, curves, accuracy, sweep, bma — files and text.
    @Test func figuresOfARun() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let dir = world.root.appendingPathComponent("figs").path
        let c = try session([
            "load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch", "set plots=\(dir)",
            "plot margins", "plot margins lambda=0.1 to \(dir)/m.svg", "plot margins term=dumb",
            "train steps=4 batch=2 lr=1e-3 beta=0.1,0.5 ema=0.9 as mms", "train steps=3 batch=2 lr=1e-3 lambda=0 as ce",
            "plot bma mms", "plot curves mms", "plot curves to \(dir)/curves.svg", "plot accuracy", "plot accuracy mms on val to \(dir)/val.png",
            "plot sweep mms", "plot sweep ce on test vs=val to \(dir)/sweep.svg",
        ])
        for f in ["margins.png", "bma_mms.png", "curves_mms.png", "accuracy_test.png", "val.png", "sweep_mms.png"] {
            let p = isPNG(dir + "/" + f)
            #expect(p.ok && p.bytes > 5_000, "\(f): \(p)")
        }
        for f in ["m.svg", "curves.svg", "sweep.svg"] {
            let text = (try? String(contentsOfFile: dir + "/" + f, encoding: .utf8)) ?? ""
            #expect(text.contains("<svg") && text.contains("</svg>"), "\(f)")
        }
        let margins = svgTexts(try String(contentsOfFile: dir + "/m.svg", encoding: .utf8))
        for name in ["alarm clock", "cat", "dog", "tree"] { #expect(margins.contains(name), "class \(name) not a tic label") }
        let accuracy = isPNG(dir + "/accuracy_test.png")
        #expect(accuracy.width >= 760 && accuracy.height == 600)
        for line in ["wrote the 4×4 margin heatmap (λ=0.3) to \(dir)/margins.png (PNG,", "wrote the BMA weights of β = 0.1, 0.5 over 4 steps to \(dir)/bma_mms.png",
                     "wrote the training curves of mms (4 steps) to \(dir)/curves_mms.png", "wrote the training curves of ce (3 steps) to \(dir)/curves.svg",
                     "wrote accuracy on test (", "wrote the WiSE-FT sweep of mms (test against val) to \(dir)/sweep_mms.png"] {
            #expect(c.stdout.contains(line), "missing: \(line)")
        }
        // In the terminal.
        let t = try session(["plot curves mms term=dumb", "plot sweep mms term=dumb size=90,30", "plot accuracy term=dumb to \(dir)/acc.txt"], c)
        #expect(t.stdout.contains("loss per step") && t.stdout.contains("accuracy per batch") && t.stdout.contains("learning rate (right axis)"))
        #expect(t.stdout.contains("zero-shot (α = 0)") && t.stdout.contains("final (α = 1)") && t.stdout.contains("bma:0.5"))
        let acc = try String(contentsOfFile: dir + "/acc.txt", encoding: .utf8)
        #expect(acc.contains("zero-shot") && acc.contains("mms wise:0.5") && acc.contains("ce final"))
        // Errors about the run point at it.
        c.err.removeAll()
        #expect(try c.workspace.executeInteractive("plot bma mms beta=0.5,2 to \(dir)/bma2.png"))
        #expect(c.stdout.contains("wrote the BMA weights of β = 0.5, 2 over 4 steps to \(dir)/bma2.png"))
        #expect(try !c.workspace.executeInteractive("plot sweep mms vs=test"))
        #expect(c.stderr.contains("vs=test is the same part as 'on test'"))
        #expect(try !c.workspace.executeInteractive("plot accuracy mms nope"))
        #expect(c.stderr.contains("no run named 'nope'"))
    }

    /// Class names are data: a dataset whose class is called `touch …` plots without running it.
    @Test func hostileClassNamesRunNothing() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let token = "pwned-\(UUID().uuidString)"
        let fm = FileManager.default
        // The issue's own example (a directory name cannot hold "/", so the file is relative).
        let names = ["it's `touch \(token)`", "x^2_{i} & @y ~z", "''quoted'' 100% %s", "a\"; system(\"touch \(token)\") #"]
        for domain in ["cartoon", "photo", "sketch"] {
            for name in names {
                try fm.copyItem(atPath: world.data + "/\(domain)/cat", toPath: world.data + "/\(domain)/\(name)")
            }
        }
        let dir = world.root.appendingPathComponent("figs").path
        let c = try session([
            "load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch", "set plots=\(dir)",
            "plot margins to \(dir)/m.svg", "plot margins to \(dir)/m.png", "plot margins term=dumb", "train steps=2 batch=2 as r", "plot accuracy", "plot sweep",
        ])
        let texts = svgTexts(try String(contentsOfFile: dir + "/m.svg", encoding: .utf8))
        for n in names { #expect(texts.contains(n.replacingOccurrences(of: "_", with: " ")) || texts.contains(n), "\(n) not drawn literally: \(texts)") }
        #expect(c.stdout.contains("it's `touch"))
        #expect(!fm.fileExists(atPath: fm.currentDirectoryPath + "/" + token) && !fm.fileExists(atPath: dir + "/" + token))
    }
}

@Suite("plot runs")
struct PlotRunsTests {
    /// Runs that differ in λ and β, drawn in against out of distribution, as PNG, SVG and text.
    @Test func lambdaAndBetaSweep() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let dir = world.root.appendingPathComponent("figs").path
        let c = Captured()
        for l in ["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch",
                  "train steps=2 batch=1 lambda=0 beta=0.5 as ce", "train steps=2 batch=1 lambda=0.3 beta=0.1,1 as mms",
                  "plot runs to \(dir)/runs.png", "plot runs ce mms to \(dir)/runs.svg", "plot runs term=dumb"] {
            #expect(try c.workspace.executeInteractive(l), "\(l): \(c.stderr)")
        }
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/runs.png"))
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) && png.count > 5000)
        let svg = try String(contentsOfFile: dir + "/runs.svg", encoding: .utf8)
        #expect(svg.contains("ce (λ = 0)") && svg.contains("mms (λ = 0.3)") && svg.contains("bma:0.1") && svg.contains("wise:0.5"))
        #expect(c.stdout.contains("ce (λ = 0)") && c.stdout.contains("final") && c.stdout.contains("zero-shot"))
        #expect(try !c.workspace.executeInteractive("plot runs nope"))
        #expect(c.stderr.contains("no run named 'nope'"))
    }
}
