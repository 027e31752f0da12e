import ClipoodCommands
import ClipoodIO
import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

/// `record` started in the middle of a session writes the lines that rebuilt the state so far,
/// and a train stopped early is recorded with the steps it did: the file replays on its own.
@Suite("recordings replay", .serialized)
struct RecordingReplayTests {
    /// At a person's terminal: set, load, split, a train stopped by Ctrl-C, then `record`, more
    /// training and `compare`. The recording, run in a fresh process, prints the same table.
    @Test func aRecordingStartedMidSessionReplaysTheSameTables() throws {
        let dir = makeTemporaryDirectory("clipood-replay")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("mid.cood").path
        let env = ["CLIPOOD_HISTORY": dir.appendingPathComponent("history").path, "TERM": "xterm", "NO_COLOR": "1"]
        let t = try PseudoTerminal(columns: 120)
        try t.spawn(Executable.url, [], environment: env)
        let atPrompt: (String) -> Bool = { $0.hasSuffix("› ") }
        #expect(t.waitUntil(atPrompt), "no prompt: \(t.plainScreen)")
        /// Runs one line and returns what it printed (the screen between the line and the next prompt).
        func type(_ line: String, timeout: Double = 120) -> String {
            t.clear()
            t.send(line + "\n")
            let done = t.waitUntil(timeout: timeout) { $0.hasPrefix(line + "\n") && atPrompt($0) }
            #expect(done, "'\(line)' did not finish: \(t.plainScreen)")
            return t.plainScreen.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().dropLast().joined(separator: "\n")
        }
        for l in ["set seed=3", "load model demo", "load data demo", "split target=sketch"] { _ = type(l) }
        // A long train, stopped by Ctrl-C once it has done a few steps.
        t.clear()
        t.send("train steps=3000 batch=4 as a\n")
        var stepsSeen = 0
        let started = t.waitUntil(timeout: 120) { screen in
            let counts = screen.matches(of: #/(\d+)\/3000/#).compactMap { Int($0.1) }
            stepsSeen = counts.max() ?? 0
            return stepsSeen >= 3
        }
        #expect(started, "training did not start: \(t.plainScreen)")
        // The test's terminal is not the child's controlling terminal: send SIGINT as the driver would.
        kill(t.process!.processIdentifier, SIGINT)
        #expect(t.waitUntil(timeout: 60) { $0.contains("interrupted (Ctrl-C)") && atPrompt($0) }, "Ctrl-C: \(t.plainScreen)")
        #expect(type("record \(file)").contains("after 5 lines that rebuild the state so far"))
        _ = type("train steps=6 batch=4 lambda=0 as ce")
        // The table itself (live progress lines of the embedding come before it at a terminal).
        func tableOf(_ output: String) -> String {
            let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
            guard let header = lines.lastIndex(where: { $0.hasPrefix("weights ") }) else { return "" }
            return lines[header...].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let table = tableOf(type("compare on val"))
        #expect(table.contains("a final") && table.contains("ce final"), "\(table)")
        _ = type("record stop")
        t.send("quit\n")
        t.send("quit\n")   // unsaved runs: quitting at a terminal asks once more
        #expect(t.waitForExit() == 0)

        let recorded = try String(contentsOfFile: file, encoding: .utf8)
        let lines = recorded.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        #expect(Array(lines.prefix(4)) == ["set seed=3", "load model demo", "load data demo", "split target=sketch"], "\(recorded)")
        // The interrupted train is recorded with the steps it did.
        let pause = lines.count > 4 ? lines[4].firstMatch(of: #/^train steps=3000 batch=4 as a pause=(\d+)$/#).flatMap { Int($0.1) } : nil
        #expect(pause.map { $0 >= stepsSeen && $0 < 3000 } == true, "\(recorded)")
        #expect(Array(lines.dropFirst(5)) == ["train steps=6 batch=4 lambda=0 as ce", "compare on val"], "\(recorded)")

        let replay = try Executable.run(["run", file], environment: ["NO_COLOR": "1"])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(!table.isEmpty && tableOf(replay.stdout) == table, "replayed:\n\(replay.stdout)\nfirst:\n\(table)")
    }

    /// In a session file, the lines of that file are recorded, not those of a file it runs; the
    /// lines before `record` (nested ones included) come first. A notebook records its cells.
    @Test func sessionsAndNotebooksRecordTheirOwnLines() throws {
        let dir = makeTemporaryDirectory("clipood-record-depth")
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try AtomicWrite.write("set threads=1\nshow settings\n", to: path("inner.cood"))
        try AtomicWrite.write("set seed=6\n", to: path("inner2.cood"))
        // A failing line (onerror=continue goes on) is neither journaled nor recorded.
        try AtomicWrite.write("set seed=4\nrun \(path("inner.cood"))\nset bogus=1\nrecord \(path("rec.cood"))\n"
                              + "run \(path("inner2.cood"))\nset bogus=2\nshow settings\n", to: path("outer.cood"))
        let d = Captured()
        #expect(try d.workspace.executeInteractive("set onerror=continue"))
        #expect(d.workspace.runSession(path: path("outer.cood")) == 0, "\(d.stderr)")
        let rec = try String(contentsOfFile: path("rec.cood"), encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        #expect(rec == ["set onerror=continue", "set seed=4", "set threads=1", "run \(path("inner2.cood"))", "show settings"], "\(rec)")

        let notebook = path("nb.md")
        try AtomicWrite.write("# Notes\n\n```clipood\nset seed=8\nrecord \(path("nb.cood"))\n```\n\nText.\n\n```clipood\nset seed=9\nshow settings\n```\n", to: notebook)
        let n = Captured()
        #expect(n.workspace.runNotebook(path: notebook, check: false) == 0, "\(n.stderr)")
        let nrec = try String(contentsOfFile: path("nb.cood"), encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        #expect(nrec == ["set seed=8", "set seed=9", "show settings"], "\(nrec)")
    }

    /// The line as it replays: only the option of that key changes; quotes stay as written.
    @Test func lineRewriting() throws {
        #expect(try Lexer.setting("pause", to: "35", in: "train steps=200 pause=50 as a  # mine") == "train steps=200 as a pause=35")
        #expect(try Lexer.setting("steps", to: "4", in: "train resume=a") == "train resume=a steps=4")
        #expect(try Lexer.setting("steps", to: "4", in: "prompt \"a photo of {}.\" steps=9") == "prompt \"a photo of {}.\" steps=4")
    }
}
