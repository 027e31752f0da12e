import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

/// A notebook in a fresh directory, run by a workspace whose plots go to that directory (so
/// figures written by tests running in parallel never show up in it).
final class NotebookFixture {
    let dir = makeTemporaryDirectory()
    let captured = Captured()
    var url: URL { dir.appendingPathComponent("nb.md") }
    var path: String { url.path }

    init(_ text: String) throws {
        try Data(text.utf8).write(to: url)
        try captured.workspace.executeInteractive(plotsSetting)
    }

    var plotsSetting: String { "set plots=\"\(dir.appendingPathComponent("plots").path)\"" }

    /// Another workspace with the same settings, as a new `clipood notebook` process would have.
    func freshWorkspace() throws -> Captured {
        let c = Captured()
        try c.workspace.executeInteractive(plotsSetting)
        return c
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    var text: String { get throws { try String(contentsOf: url, encoding: .utf8) } }
    func write(_ s: String) throws { try Data(s.utf8).write(to: url) }
    func run(check: Bool = false) -> Int32 { captured.workspace.runNotebook(path: path, check: check) }
}

/// The notebook with every output block this tool writes taken out (blank line before included).
func withoutOutputs(_ text: String) -> String {
    text.replacingOccurrences(of: "\n\n<!-- clipood output -->\n[\\s\\S]*?\n<!-- /clipood output -->", with: "", options: .regularExpression)
}

@Suite("notebooks")
struct NotebookTests {
    static let basic = """
    # A notebook

    Some prose with `inline code`.

    ```clipood
    set seed=7
    show settings
    ```

    More prose.

    ```clipood
    help quit
    ```

    The end.

    """

    @Test func outputsAreInsertedAfterTheirCells() throws {
        let nb = try NotebookFixture(Self.basic)
        #expect(nb.run() == 0, "\(nb.captured.stderr)")
        let text = try nb.text
        #expect(text.contains("""
        ```clipood
        set seed=7
        show settings
        ```

        <!-- clipood output -->
        ```text
        setting    value
        """))
        #expect(text.range(of: #"\nseed +7 +\(default 0\)"#, options: .regularExpression) != nil)
        #expect(text.contains("""
        ```clipood
        help quit
        ```

        <!-- clipood output -->
        ```text
        quit — end the session (Ctrl-D at the prompt does the same)

        usage: quit
        aliases: exit
        ```
        <!-- /clipood output -->
        """))
        #expect(text.contains("```\n<!-- /clipood output -->\n\nMore prose.\n"))
        #expect(text.hasSuffix("<!-- /clipood output -->\n\nThe end.\n"))
        #expect(withoutOutputs(text) == Self.basic)
        #expect(nb.captured.out.contains("cell 1 (line 5): ok"))
        #expect(nb.captured.out.contains("cell 2 (line 12): ok"))
        #expect(nb.captured.err.isEmpty)
    }

    @Test func rerunLeavesTheFileByteIdenticalAndCheckPasses() throws {
        let nb = try NotebookFixture(Self.basic)
        #expect(nb.run() == 0)
        let first = try Data(contentsOf: nb.url)
        let again = try nb.freshWorkspace()
        #expect(again.workspace.runNotebook(path: nb.path, check: false) == 0)
        #expect(try Data(contentsOf: nb.url) == first)
        #expect(again.stdout.hasSuffix("nb.md: unchanged"))
        let checker = try nb.freshWorkspace()
        #expect(checker.workspace.runNotebook(path: nb.path, check: true) == 0, "\(checker.stderr)")
        #expect(nb.run(check: true) == 0)   // and the workspace that wrote it
        #expect(try Data(contentsOf: nb.url) == first)
    }

    @Test func checkFailsNamingTheEditedCellAndDoesNotWrite() throws {
        let nb = try NotebookFixture(Self.basic)
        #expect(nb.run() == 0)
        let edited = try nb.text.replacingOccurrences(of: "set seed=7", with: "set seed=8")
        try nb.write(edited)
        let checker = try nb.freshWorkspace()
        #expect(checker.workspace.runNotebook(path: nb.path, check: true) == 1)
        #expect(try nb.text == edited)   // --check never writes
        #expect(checker.out.contains("cell 1 (line 5): output would change"))
        #expect(checker.out.contains { $0.hasPrefix("cell 2 (line ") && $0.hasSuffix("): ok") })
        // A unified diff located in the .md file: the settings table starts at line 11.
        #expect(checker.stderr.contains("nb.md:9: cell 1 (line 5): output would change"), "\(checker.stderr)")
        #expect(checker.stderr.range(of: #"\n-seed +7 +\(default 0\)"#, options: .regularExpression) != nil)
        #expect(checker.stderr.range(of: #"\n\+seed +8 +\(default 0\)"#, options: .regularExpression) != nil)
        #expect(checker.stderr.contains("@@ -"))
        #expect(checker.stderr.hasSuffix("1 cell would change; run `clipood notebook \(nb.path)` to update"))
    }

    @Test func aFailingCellRecordsItsErrorAndStopsTheRun() throws {
        let nb = try NotebookFixture("""
        ```clipood
        set seed=1
        ```

        ```clipood
        help quit
        ```

        ```clipood
        set seed=9
        help run
        ```

        """)
        #expect(nb.run() == 0)
        // Break cell 2 and mark cell 3's old output, which must survive untouched.
        let marked = try nb.text.replacingOccurrences(of: "help quit", with: "set seed=2\nfrobnicate now")
            .replacingOccurrences(of: "usage: run <file>", with: "usage: OLD OUTPUT")
        try nb.write(marked)
        let c = nb.captured
        c.out = []
        #expect(nb.run() == 1)
        #expect(c.workspace.settings.seed == 2)   // cell 2's first line ran, cell 3 did not
        let text = try nb.text
        #expect(text.contains("""
        ```clipood
        set seed=2
        frobnicate now
        ```

        <!-- clipood output -->
        ```text
        nb.md:7:1: unknown command 'frobnicate'
            frobnicate now
            ^~~~~~~~~~
        hint: type 'help' for the list of commands
        ```
        <!-- /clipood output -->
        """), "\(text)")
        #expect(text.contains("usage: OLD OUTPUT"))
        #expect(!text.contains("usage: quit"))
        #expect(c.out.contains("cell 2 (line 5): failed"))
        #expect(!c.out.contains { $0.hasPrefix("cell 3") })
        #expect(c.stderr.contains("\(nb.path):7:1: unknown command 'frobnicate'"))
        // The error is recorded, so a second run fails the same way and writes the same file.
        #expect(nb.run() == 1)
        #expect(try nb.text == text)
    }

    @Test func proseAndOtherCodeBlocksAreNeverTouched() throws {
        let original = """
        Intro, with a fence-looking line inside text: ```clipood is how cells start.

        ```python
        print("not clipood")
        ```

        ````markdown
        ```clipood
        frobnicate   # quoted in a longer fence: not a cell
        ```
        ````

        ~~~clipood
        set seed=3
        ~~~
        ```text
        a text block written by hand right after a cell stays
        ```

            ```clipood
            indented four spaces: an indented code block, not a cell
            ```

        ```clipood
        help quit
        ```
        Trailing prose without a blank line.
        ```sh
        echo hi
        ```
        """   // and no final newline
        let nb = try NotebookFixture(original)
        #expect(nb.run() == 0, "\(nb.captured.stderr)")
        let text = try nb.text
        #expect(withoutOutputs(text) == original)
        #expect(text.components(separatedBy: "<!-- clipood output -->").count == 2)   // only `help quit` printed
        #expect(nb.captured.out.contains("cell 1 (line 13): ok"))
        #expect(nb.captured.out.contains("cell 2 (line 24): ok"))
        #expect(nb.run() == 0)
        #expect(try nb.text == text)
    }

    @Test func crlfNotebooksKeepTheirLineEndings() throws {
        let original = "Prose\r\n\r\n```clipood\r\nset seed=3\r\nhelp quit\r\n```\r\n\r\nEnd\r\n"
        let nb = try NotebookFixture(original)
        #expect(nb.run() == 0, "\(nb.captured.stderr)")
        let text = try nb.text
        #expect(nb.captured.workspace.settings.seed == 3)
        #expect(text.contains("```\r\n\r\n<!-- clipood output -->\r\n```text\r\nquit — end the session"), "\(text.debugDescription)")
        #expect(text.hasSuffix("<!-- /clipood output -->\r\n\r\nEnd\r\n"))
        let bytes = Array(text.utf8)
        #expect(bytes.indices.allSatisfy { bytes[$0] != 10 || ($0 > 0 && bytes[$0 - 1] == 13) })   // every LF after a CR
        #expect(nb.run() == 0)
        #expect(try nb.text == text)
    }

    @Test func structuralErrorsLeaveTheFileAlone() throws {
        let nb = try NotebookFixture("prose\n\n```clipood\nset seed=1\n")
        #expect(nb.run() == 1)
        #expect(nb.captured.stderr.contains("nb.md:3: the clipood cell opened here is never closed"))
        #expect(try nb.text == "prose\n\n```clipood\nset seed=1\n")
        let broken = "```clipood\nhelp quit\n```\n\n<!-- clipood output -->\n```text\nx\n```\n"
        try nb.write(broken)
        #expect(nb.run() == 1)
        #expect(nb.captured.stderr.contains("nb.md:5: the output block opened here has no '<!-- /clipood output -->' line"))
        #expect(try nb.text == broken)
    }

    @Test func commandLineArguments() throws {
        let nb = try NotebookFixture("```clipood\nhelp quit\n```\n")
        #expect(nb.captured.workspace.runNotebook(arguments: []) == 2)
        #expect(nb.captured.workspace.runNotebook(arguments: ["--frob", nb.path]) == 2)
        #expect(nb.captured.stderr.contains("usage: clipood notebook [--check] FILE.md"))
        #expect(nb.captured.workspace.runNotebook(arguments: ["--check", nb.path]) == 1)   // never run: no recorded output
        #expect(nb.captured.stderr.contains("nb.md:4: cell 1 (line 1): has no recorded output"))
        #expect(nb.captured.workspace.runNotebook(arguments: [nb.path]) == 0)
        #expect(nb.captured.workspace.runNotebook(arguments: [nb.path, "--check"]) == 0)
        #expect(nb.captured.workspace.runNotebook(arguments: [nb.dir.appendingPathComponent("missing.md").path]) == 1)
        #expect(nb.captured.stderr.contains("cannot read notebook"))
    }

    @Test func quitEndsTheRunQuietly() throws {
        let nb = try NotebookFixture("```clipood\nset seed=4\nquit\nset seed=5\n```\n\n```clipood\nset seed=6\n```\n")
        #expect(nb.run() == 0)
        #expect(nb.captured.workspace.settings.seed == 4)
    }

    @Test func volatileCellsRunButAreNotCompared() throws {
        let nb = try NotebookFixture("```clipood volatile\nhelp quit\n```\n")
        #expect(nb.run() == 0)
        try nb.write(try nb.text.replacingOccurrences(of: "usage: quit", with: "usage: something else"))
        #expect(nb.run(check: true) == 0)
        #expect(nb.captured.out.contains("cell 1 (line 1): ok (volatile: output not compared)"))
        #expect(nb.run() == 0)
        #expect(try nb.text.contains("usage: quit"))
    }

    @Test func timingsAreMaskedAndProgressLinesDropped() {
        let raw = """
        \u{1B}[1;31mred\u{1B}[0m text
        train r 10/40 12.3/s, 3s elapsed loss 1.2345 acc 0.50 lr 1.00e-05
        embedding test 5/10 , 1m05s elapsed
        'r': 40 of 40 steps done (40 in 5s), last loss 0.1234, train accuracy 0.90
        took 1h02m, 0.52 s each, 250ms, 1.5s, 12µs
        ViT-B/16 seed=16 16 steps 3 s per 2.5 GB 1024³
        drawn\rredrawn   \n\n
        """
        #expect(NotebookOutput.normalise(raw) == """
        red text
        'r': 40 of 40 steps done (40 in …), last loss 0.1234, train accuracy 0.90
        took …, …, …, …, …
        ViT-B/16 seed=16 16 steps 3 s per 2.5 GB 1024³
        redrawn
        """)
        #expect(NotebookOutput.normalise(NotebookOutput.normalise(raw)) == NotebookOutput.normalise(raw))
    }

    @Test func figuresWrittenDuringACellAreFoundAndLinked() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plots = dir.appendingPathComponent("plots"), notebooks = dir.appendingPathComponent("Notebooks")
        try FileManager.default.createDirectory(at: plots.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: notebooks, withIntermediateDirectories: true)
        let old = plots.appendingPathComponent("old.png"), kept = plots.appendingPathComponent("kept.svg")
        try Data([1]).write(to: old)
        try Data([1]).write(to: kept)
        let past = Date(timeIntervalSinceNow: -100)
        for f in [old, kept] { try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: f.path) }

        #expect(NotebookFigures.snapshot(directory: dir.appendingPathComponent("missing").path).isEmpty)
        let before = NotebookFigures.snapshot(directory: plots.path)
        #expect(before.count == 2)
        try Data([1, 2]).write(to: plots.appendingPathComponent("new.png"))
        try Data([1, 2]).write(to: plots.appendingPathComponent("sub/curve.svg"))
        try Data([1, 2]).write(to: plots.appendingPathComponent("table.csv"))   // not an image
        try Data([2]).write(to: old)                                            // rewritten: changed
        let after = NotebookFigures.snapshot(directory: plots.path)
        let added = NotebookFigures.added(before: before, after: after)
        #expect(added.map { ($0 as NSString).lastPathComponent } == ["new.png", "old.png", "curve.svg"])

        let links = added.map { NotebookFigures.link(figure: $0, notebookDirectory: notebooks.path) }
        #expect(links == ["![new.png](../plots/new.png)", "![old.png](../plots/old.png)", "![curve.svg](../plots/sub/curve.svg)"])
        #expect(NotebookFigures.link(figure: dir.appendingPathComponent("a b.png").path, notebookDirectory: notebooks.path) == "![a b.png](<../a b.png>)")

        // The links go into the cell's block after its text, inside the markers.
        #expect(NotebookDocument.outputBlock(text: "drew 2 figures", figureLinks: links) == [
            "", "<!-- clipood output -->", "```text", "drew 2 figures", "```",
            "![new.png](../plots/new.png)", "![old.png](../plots/old.png)", "![curve.svg](../plots/sub/curve.svg)",
            "<!-- /clipood output -->",
        ])
        #expect(NotebookDocument.outputBlock(text: "", figureLinks: []) == [])
        #expect(NotebookDocument.outputBlock(text: "a\n```\nb", figureLinks: [])[2] == "````text")
    }

    @Test func aCellThatMovesThePlotsDirectoryLinksWhatAppearsThere() throws {
        // No command draws yet. A cell that moves the plots directory has no "before" snapshot
        // of the new one: files written there since the cell started (less a second of clock
        // slack) count, so a file the test writes just before the run stands in for a figure.
        let nb = try NotebookFixture("")
        let plots = nb.dir.appendingPathComponent("figs")
        try FileManager.default.createDirectory(at: plots, withIntermediateDirectories: true)
        try nb.write("```clipood\nset plots=\"\(plots.path)\"\n```\n")
        try Data([1]).write(to: plots.appendingPathComponent("fresh.png"))   // written "during" the cell (within a second)
        #expect(nb.run() == 0)
        #expect(try nb.text.contains("<!-- clipood output -->\n![fresh.png](figs/fresh.png)\n<!-- /clipood output -->"))
    }

    @Test func theTourNotebookIsUpToDate() throws {
        // Notebooks/tour.md, checked as `clipood notebook --check Notebooks/tour.md` would.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let tour = root.appendingPathComponent("Notebooks/tour.md").path
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = Captured()
        try c.workspace.executeInteractive("set plots=\"\(dir.path)\"")
        #expect(c.workspace.runNotebook(path: tour, check: true) == 0, "\(c.stderr)")
    }
}
