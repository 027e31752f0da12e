import ClipoodIO
import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

/// Writes from the commands: exports, records, notebooks and figures never lose data, never
/// replace links or special files, and fail in one line with the path.
@Suite("writes from commands")
struct WritesTests {
    func loaded(_ world: TinyWorld) throws -> Captured {
        let c = Captured()
        for l in ["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch"] {
            #expect(try c.workspace.executeInteractive(l), "\(l): \(c.stderr)")
        }
        return c
    }

    func kind(_ p: String) -> mode_t {
        var st = stat()
        _ = lstat(p, &st)
        return st.st_mode & S_IFMT
    }

    @Test func exportIntoMissingFolderCreatesIt() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try loaded(world)
        let csv = world.root.appendingPathComponent("out/new/deeper/m.csv").path
        #expect(try c.workspace.executeInteractive("margins to \(csv)"), "\(c.stderr)")
        let text = try String(contentsOfFile: csv, encoding: .utf8)
        #expect(text.hasPrefix("class,alarm clock,cat,dog,tree\n") || text.hasPrefix("class,"), "\(text.prefix(80))")
        #expect(text.split(separator: "\n").count == 5)
        let npy = world.root.appendingPathComponent("ids/more/ids.npy").path
        #expect(try c.workspace.executeInteractive("tokenize \"a photo\" to \(npy)"), "\(c.stderr)")
        #expect(FileManager.default.contents(atPath: npy)?.prefix(6) == Data([0x93] + Array("NUMPY".utf8)))
        // No temporary files are left beside the outputs.
        let beside = try FileManager.default.contentsOfDirectory(atPath: world.root.appendingPathComponent("ids/more").path)
        #expect(beside == ["ids.npy"])
    }

    @Test func exportErrorIsOneLineWithPathAndReason() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try loaded(world)
        let file = world.root.appendingPathComponent("a-file").path
        try AtomicWrite.write("not a folder", to: file)
        for line in ["margins to \(file)/sub/m.csv", "tokenize \"x\" to \(file)/ids.npy"] {
            c.err = []
            #expect(try !c.workspace.executeInteractive(line))
            // The diagnostic shows the line and a caret, then the error: one line with path and reason.
            #expect(c.err.count == 1)
            let message = c.stderr.split(separator: "\n").first { $0.contains("error:") }.map(String.init) ?? ""
            #expect(message.contains("cannot write '\(file)/"), "\(c.stderr)")
            #expect(message.contains("'\(file)' is not a folder"), "\(c.stderr)")
            #expect(!c.stderr.contains("Error Domain") && !c.stderr.contains("NSCocoa") && !c.stderr.contains("NSFilePath"), "\(c.stderr)")
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "not a folder")
    }

    @Test func exportThroughSymlinkKeepsTheLink() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try loaded(world)
        let real = world.root.appendingPathComponent("real.csv").path, link = world.root.appendingPathComponent("link.csv").path
        try AtomicWrite.write("old", to: real)
        #expect(symlink("real.csv", link) == 0)
        #expect(try c.workspace.executeInteractive("margins to \(link)"), "\(c.stderr)")
        #expect(kind(link) == S_IFLNK)
        #expect(try String(contentsOfFile: real, encoding: .utf8).hasPrefix("class,"))
    }

    @Test func recordAppendsToAnExistingFile() throws {
        let dir = makeTemporaryDirectory("clipood-record")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("kept.cood").path
        try AtomicWrite.write("# mine\nset seed=5", to: file)   // no final newline
        let c = Captured()
        for l in ["record \(file)", "set seed=9", "set bogus=1", "record stop"] { _ = try c.workspace.executeInteractive(l) }
        #expect(c.stdout.contains("appending successful commands to \(file)"))
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count == 5, "\(lines)")
        #expect(Array(lines.prefix(2)) == ["# mine", "set seed=5"])
        #expect(lines[2].hasPrefix("# recorded by clipood on 20"))
        #expect(Array(lines.suffix(2)) == ["set seed=9", ""])
        // A second recording keeps both.
        for l in ["record \(file)", "set seed=11", "record stop"] { _ = try c.workspace.executeInteractive(l) }
        let again = try String(contentsOfFile: file, encoding: .utf8)
        #expect(again.hasPrefix(lines.joined(separator: "\n")))
        #expect(again.hasSuffix("set seed=11\n"))
        #expect(again.components(separatedBy: "# recorded by clipood on").count == 3)
        // Into a missing folder: created.
        let nested = dir.appendingPathComponent("new/folder/s.cood").path
        #expect(try c.workspace.executeInteractive("record \(nested)"), "\(c.stderr)")
        #expect(try c.workspace.executeInteractive("record stop"))
        #expect(try String(contentsOfFile: nested, encoding: .utf8).hasPrefix("# recorded by clipood on"))
    }

    @Test func recordingIntoTheRunningNotebookOrSessionIsRefused() throws {
        let dir = makeTemporaryDirectory("clipood-record-self")
        defer { try? FileManager.default.removeItem(at: dir) }
        let notebook = dir.appendingPathComponent("nb.md").path
        let source = "# A notebook\n\nSome prose.\n\n```clipood\nrecord \(notebook)\n```\n\nMore prose.\n"
        try AtomicWrite.write(source, to: notebook)
        let c = Captured()
        #expect(c.workspace.runNotebook(path: notebook, check: false) == 1)
        let after = try String(contentsOfFile: notebook, encoding: .utf8)
        #expect(after.hasPrefix("# A notebook\n\nSome prose.\n\n```clipood\nrecord \(notebook)\n```\n"), "\(after)")
        #expect(after.contains("it cannot record into itself"), "\(after)")
        #expect(after.hasSuffix("More prose.\n"))
        #expect(!after.contains("# recorded by clipood"))
        #expect(c.workspace.recording == nil)

        let session = dir.appendingPathComponent("s.cood").path
        try AtomicWrite.write("set seed=3\nrecord \(session)\n", to: session)
        let s = Captured()
        #expect(s.workspace.runSession(path: session) == 1)
        #expect(s.stderr.contains("cannot record into itself"), "\(s.stderr)")
        #expect(try String(contentsOfFile: session, encoding: .utf8) == "set seed=3\nrecord \(session)\n")
    }

    @Test func byteOrderMarkAndCROnlySessionsRun() throws {
        let dir = makeTemporaryDirectory("clipood-text")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("mac.cood").path
        try AtomicWrite.write(Data([0xEF, 0xBB, 0xBF]) + Data("set seed=77\rset echo=on\r# a comment\rshow settings\r".utf8), to: file)
        let c = Captured()
        #expect(c.workspace.runSession(path: file) == 0, "\(c.stderr)")
        #expect(c.stdout.contains("› show settings"), "\(c.stdout)")
        #expect(c.stdout.contains("77"), "\(c.stdout)")
        // The same through the executable, and CRLF and LF with a BOM too.
        for ending in ["\r", "\r\n", "\n"] {
            try AtomicWrite.write(Data([0xEF, 0xBB, 0xBF]) + Data(["set seed=31", "set echo=on", "show settings"].joined(separator: ending).utf8), to: file)
            let r = try Executable.run(["run", file])
            #expect(r.status == 0, "\(ending.debugDescription): \(r.stderr)")
            #expect(r.stdout.contains("› show settings"), "\(ending.debugDescription): \(r.stdout)")
        }
        // Without the BOM handling, the first line would fail; a stray BOM later is still an error.
        try AtomicWrite.write("set seed=1\n\u{FEFF}set seed=2\n", to: file)
        let stray = Captured()
        #expect(stray.workspace.runSession(path: file) == 1)
    }

    @Test func byteOrderMarkAndCROnlyNotebooksRunAndKeepTheirForm() throws {
        let dir = makeTemporaryDirectory("clipood-nb-text")
        defer { try? FileManager.default.removeItem(at: dir) }
        let notebook = dir.appendingPathComponent("mac.md").path
        let body = ["# Title", "", "```clipood", "help set", "```", "", "The end.", ""].joined(separator: "\r")
        try AtomicWrite.write(Data([0xEF, 0xBB, 0xBF]) + Data(body.utf8), to: notebook)
        let c = Captured()
        #expect(c.workspace.runNotebook(path: notebook, check: false) == 0, "\(c.stderr)")
        let bytes = try #require(FileManager.default.contents(atPath: notebook))
        #expect(Array(bytes.prefix(3)) == [0xEF, 0xBB, 0xBF])
        #expect(!bytes.contains(UInt8(ascii: "\n")), "a CR-only notebook got LF line ends")
        let text = String(decoding: bytes.dropFirst(3), as: UTF8.self)
        #expect(text.hasPrefix("# Title\r\r```clipood\rhelp set\r```\r\r<!-- clipood output -->\r```text\rset — change settings"), "\(text.debugDescription)")
        #expect(text.hasSuffix("<!-- /clipood output -->\r\rThe end.\r"))
        // Up to date now: --check agrees.
        let checker = Captured()
        #expect(checker.workspace.runNotebook(path: notebook, check: true) == 0, "\(checker.stderr)")
    }

    @Test func controlCharactersInClassNamesAreEscapedOnTheTerminal() throws {
        let table = TextTable.render(header: ["class", "n"], rows: [["two\nlines", "1"], ["red\u{1B}[31m", "2"], ["plain", "3"]])
        #expect(!table.contains("\u{1B}"))
        #expect(table.split(separator: "\n").count == 5, "\(table)")
        #expect(table.contains("\ntwo\\nlines     1\n"), "\(table)")
        #expect(table.contains("red\\u{1B}[31m"), "\(table)")

        // A dataset whose folders carry such names: listings and tables are escaped, CSV keeps them.
        let root = makeTemporaryDirectory("clipood-ctrl-names")
        defer { try? FileManager.default.removeItem(at: root) }
        let classes = ["bad\nname", "esc\u{1B}[2Jape", "fine"]
        for domain in ["photo", "sketch"] {
            for (k, cls) in classes.enumerated() {
                let folder = root.appendingPathComponent("\(domain)/\(cls)").path
                try AtomicWrite.makeFolders(folder)
                for i in 0 ..< 2 {
                    let px = [UInt8](repeating: UInt8(40 + 60 * k + 10 * i), count: 12 * 12 * 3)
                    try TestPNG.write(folder + "/\(i).png", width: 12, height: 12, pixels: px)
                }
            }
        }
        let c = Captured()
        #expect(try c.workspace.executeInteractive("load data \"\(root.path)\" as odd"), "\(c.stderr)")
        #expect(try c.workspace.executeInteractive("info data odd"), "\(c.stderr)")
        #expect(!c.stdout.contains("\u{1B}"), "\(c.stdout.debugDescription)")
        #expect(c.stdout.contains("bad\\nname"), "\(c.stdout)")
        #expect(c.stdout.contains("esc\\u{1B}[2Jape"), "\(c.stdout)")
        #expect(!c.stdout.contains("bad\nname"))
    }
}

/// gnuplot that never exits, or never stops printing, cannot hang clipood.
@Suite("gnuplot limits", .serialized)
struct GnuplotLimitTests {
    /// A fake `gnuplot` (a shell script) in a folder of its own; the script writes its pid to the
    /// file `$PIDS` (and `body` may add its children's).
    func fake(_ body: String) throws -> (folder: URL, pids: String) {
        let folder = makeTemporaryDirectory("clipood-fake-gnuplot")
        let pids = folder.appendingPathComponent("pids").path
        let program = folder.appendingPathComponent("gnuplot").path
        try AtomicWrite.write("#!/bin/sh\nPIDS='\(pids)'\necho $$ > \"$PIDS\"\n" + body, to: program)
        #expect(chmod(program, 0o755) == 0)
        return (folder, pids)
    }

    /// Whether the process is gone (or a zombie nobody has reaped yet).
    func gone(_ pid: pid_t) -> Bool {
        if kill(pid, 0) != 0 { return true }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(close, offsetBy: 2)] == "Z"
    }

    func pids(_ file: String) -> [pid_t] {
        ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { pid_t($0) }
    }

    @Test func gnuplotThatNeverExitsIsStopped() throws {
        let (folder, pidFile) = try fake("sleep 1000 &\necho $! >> \"$PIDS\"\nwait\n")
        defer { try? FileManager.default.removeItem(at: folder) }
        let c = Captured()
        let started = Date()
        let ok = try Gnuplot.$search.withValue(GnuplotSearch(environment: ["PATH": folder.path], fallbacks: [])) {
            try Gnuplot.$limits.withValue(GnuplotLimits(timeout: 1.5, outputBytes: 1 << 20)) {
                try c.workspace.executeInteractive("plot bma steps=10 term=dumb")
            }
        }
        let took = Date().timeIntervalSince(started)
        #expect(!ok)
        #expect(c.stderr.contains("gnuplot did not finish within 1.5 s and was stopped"), "\(c.stderr)")
        #expect(took >= 1.4 && took < 10, "took \(took) s")
        let started2 = pids(pidFile)
        #expect(started2.count == 2, "\(started2)")
        usleep(200_000)
        for pid in started2 { #expect(gone(pid), "process \(pid) of the fake gnuplot still runs") }
        // The default is a named minute.
        #expect(GnuplotLimits.standard.timeout == GnuplotLimits.timeoutSeconds && GnuplotLimits.timeoutSeconds == 60)
    }

    @Test func gnuplotThatPrintsEndlesslyIsStopped() throws {
        for stream in ["", " >&2"] {
            let (folder, pidFile) = try fake("yes 'endless line of output'\(stream)\n")
            defer { try? FileManager.default.removeItem(at: folder) }
            let started = Date()
            let error = #expect(throws: GnuplotError.self) {
                try Gnuplot(executable: folder.appendingPathComponent("gnuplot").path)
                    .run("plot x\n", limits: GnuplotLimits(timeout: 30, outputBytes: 256 << 10))
            }
            #expect(error?.description == "gnuplot printed more than 256 KiB and was stopped")
            #expect(Date().timeIntervalSince(started) < 10)
            usleep(200_000)
            for pid in pids(pidFile) { #expect(gone(pid)) }
        }
    }

    @Test func figuresGoThroughLinksAndFIFOsAreNotReplaced() throws {
        guard (try? Gnuplot.locate()) != nil else { return }   // needs the real gnuplot
        let dir = makeTemporaryDirectory("clipood-plot-link")
        defer { try? FileManager.default.removeItem(at: dir) }
        let real = dir.appendingPathComponent("real.txt").path, link = dir.appendingPathComponent("fig.txt").path
        try AtomicWrite.write("old", to: real)
        #expect(symlink("real.txt", link) == 0)
        let c = Captured()
        #expect(try c.workspace.executeInteractive("plot bma steps=10 to \(link)"), "\(c.stderr)")
        #expect(kind(link) == S_IFLNK)
        #expect(try String(contentsOfFile: real, encoding: .utf8).count > 100)
        // Into a missing folder: created.
        let deep = dir.appendingPathComponent("a/b/fig.svg").path
        #expect(try c.workspace.executeInteractive("plot bma steps=10 to \(deep)"), "\(c.stderr)")
        #expect(FileManager.default.fileExists(atPath: deep))
    }

    func kind(_ p: String) -> mode_t {
        var st = stat()
        _ = lstat(p, &st)
        return st.st_mode & S_IFMT
    }
}
