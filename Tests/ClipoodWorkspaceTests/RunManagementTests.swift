import ClipoodCommands
import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

@Suite("managing runs and restoring them whole")
struct RunManagementTests {
    /// Output blocks of a session run with echo=on, by the command that printed them.
    func blocks(_ stdout: String) -> [String: String] {
        var out: [String: String] = [:], current: String?
        for line in stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("› ") { current = String(line.dropFirst(2)); out[current!] = ""; continue }
            if let c = current { out[c]! += line + "\n" }
        }
        return out
    }

    /// A run saved in one process and loaded in a fresh one answers compare, eval, margins and
    /// zeroshot with exactly the tables the first process printed, with no command in between.
    @Test func aLoadedRunAnswersAsTheProcessThatTrainedIt() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let dir = world.root.path + "/saved"
        let asked = ["compare", "eval r model=bma:0.5 on val per_class", "eval r model=wise:0.5", "margins top=2", "zeroshot on val",
                     "plot accuracy term=dumb"]
        let first = (["set echo=on", "load model \(world.model)", "load data \(world.data)", "prompt \"a picture of a {}.\"",
                      "split target=sketch seed=2", "train steps=3 batch=1 lr=1e-3 beta=0.5 ema=0.9 as r"] + asked
                     + ["plot accuracy to \(world.root.path)/first.svg", "save r to \(dir)"]).joined(separator: "\n") + "\n"
        let a = try Executable.run(["run", "-"], stdin: first)
        #expect(a.status == 0, "\(a.stderr)")
        let second = (["set echo=on", "load run \(dir)"] + asked + ["plot accuracy to \(world.root.path)/second.svg", "info run r"]).joined(separator: "\n") + "\n"
        let b = try Executable.run(["run", "-"], stdin: second)
        #expect(b.status == 0, "\(b.stderr)")
        let ba = blocks(a.stdout), bb = blocks(b.stdout)
        for q in asked {
            #expect(ba[q] != nil && ba[q] == bb[q], "'\(q)' differs:\n\(ba[q] ?? "-")\nvs\n\(bb[q] ?? "-")")
            #expect((ba[q]?.count ?? 0) > 40, "'\(q)' printed too little")
        }
        // The same figure, byte for byte.
        let figures = try ["first", "second"].map { try Data(contentsOf: URL(fileURLWithPath: "\(world.root.path)/\($0).svg")) }
        #expect(figures[0].count > 1000 && figures[0] == figures[1])
        // run.json kept the evaluations made before the save.
        #expect(bb["info run r"]?.range(of: "\n *bma:0\\.5 +val +3 +10 ", options: .regularExpression) != nil, "\(bb["info run r"] ?? "")")
        #expect(bb["load run \(dir)"]?.contains("loaded run 'r': 3 of 3 steps, model 'model', data 'data', split target=sketch holdout=0.2 seed=2") == true, "\(b.stdout)")
    }

    /// A model that changed since the run was trained is refused unless forced; one that moved is found with model=.
    @Test func theModelIsCheckedByItsHash() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let dir = world.root.path + "/saved", moved = world.root.path + "/moved"
        let c = Captured()
        for l in ["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch", "train steps=1 batch=1 as r", "save r to \(dir)"] {
            #expect(try c.workspace.executeInteractive(l), "\(l): \(c.stderr)")
        }
        try FileManager.default.moveItem(atPath: world.model, toPath: moved)
        let d = Captured()
        #expect(try !d.workspace.executeInteractive("load run \(dir)"))
        #expect(d.stderr.contains("the run's model '\(world.model)/model.safetensors' is not there") && d.stderr.contains("model=PATH"), "\(d.stderr)")
        #expect(try d.workspace.executeInteractive("load run \(dir) model=\(moved)"), "\(d.stderr)")
        // Other weights under the recorded path.
        try FileManager.default.copyItem(atPath: moved, toPath: world.model)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: world.model + "/model.safetensors"))
        bytes[bytes.count - 1] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: world.model + "/model.safetensors"))
        let e = Captured()
        #expect(try !e.workspace.executeInteractive("load run \(dir)"))
        #expect(e.stderr.contains("are not the ones run 'r' was trained from"), "\(e.stderr)")
        #expect(try e.workspace.executeInteractive("load run \(dir) force"), "\(e.stderr)")
    }

    @Test func showInfoDropRenameAndTheCurrentSplit() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = Captured()
        let ws = c.workspace
        #expect(try ws.executeInteractive("show runs"))
        #expect(c.stdout.contains("no runs yet"))
        for l in ["load model \(world.model) as tiny", "load data \(world.data) as toy"] { #expect(try ws.executeInteractive(l), "\(l): \(c.stderr)") }
        #expect(try !ws.executeInteractive("split"))
        #expect(c.stderr.contains("dataset 'toy' has no split yet"))
        for l in ["split target=sketch seed=2", "train steps=2 batch=1 beta=0.5 as r", "train steps=1 batch=1 lambda=0 as s", "eval r on val"] {
            #expect(try ws.executeInteractive(l), "\(l): \(c.stderr)")
        }
        let before = ws.datasets["toy"]!.split
        c.out.removeAll()
        #expect(try ws.executeInteractive("split"))
        #expect(c.stdout.hasPrefix("split target=sketch holdout=0.2 seed=2\nsplit (domain shift)"), "\(c.stdout)")
        #expect(ws.datasets["toy"]!.split == before)
        c.out.removeAll()
        #expect(try ws.executeInteractive("show runs"))
        #expect(c.stdout.contains("run  model  data  steps    λ  tune  averages     saved"), "\(c.stdout)")
        #expect(c.stdout.contains("\nr    tiny   toy   2/2    0.3  full  bma:0.5,swa  not saved"), "\(c.stdout)")
        #expect(c.stdout.contains("\ns    tiny   toy   1/1    0.0"), "\(c.stdout)")
        c.out.removeAll()
        #expect(try ws.executeInteractive("info run r"))
        #expect(c.stdout.contains("run 'r': 2 of 2 steps done"))
        #expect(c.stdout.contains("averages: bma:0.5, swa"))
        #expect(c.stdout.contains("\nfinal    val         2      10"), "\(c.stdout)")
        #expect(try ws.executeInteractive("show models") && c.stdout.contains("* tiny"))
        #expect(try ws.executeInteractive("show data") && c.stdout.contains("* toy") && c.stdout.contains("target=sketch holdout=0.2 seed=2"))
        #expect(try ws.executeInteractive("rename run r mms"))
        #expect(ws.runOrder == ["mms", "s"] && ws.runs["r"] == nil && ws.runs["mms"]?.name == "mms")
        #expect(try !ws.executeInteractive("rename run s mms"))
        #expect(c.stderr.contains("a run named 'mms' exists already"))
        #expect(try ws.executeInteractive("eval mms model=bma:0.5"), "\(c.stderr)")
        #expect(try ws.executeInteractive("drop run s"))
        #expect(c.stdout.contains("dropped run 's' (it was never saved)"))
        #expect(try !ws.executeInteractive("info run s"))
        #expect(c.stderr.contains("no run named 's'"))
        c.out.removeAll()
        #expect(try ws.executeInteractive("show history"))
        #expect(c.stdout.hasPrefix(" 1  show runs\n"), "\(c.stdout)")
        #expect(c.stdout.contains("✗ split\n") && c.stdout.contains("✗ rename run s mms"), "\(c.stdout)")
        // Help and completion know the new commands.
        c.out.removeAll()
        #expect(try ws.executeInteractive("help"))
        #expect(c.stdout.contains("\n  drop ") && c.stdout.contains("\n  rename "))
        #expect(ws.registry.complete("show ", context: ws).candidates.contains("history"))
        #expect(ws.registry.complete("show ", context: ws).candidates.contains("runs"))
        #expect(ws.registry.complete("info ", context: ws).candidates.contains("run"))
        #expect(ws.registry.complete("drop run ", context: ws).candidates == ["mms"])
    }

    /// At a terminal, quitting with unsaved runs asks once more; scripts and saved runs never ask.
    @Test func quittingWithUnsavedRunsAsksOnceAtATerminal() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = Captured()
        let ws = c.workspace
        for l in ["load model \(world.model)", "load data \(world.data)", "split target=sketch", "train steps=1 batch=1 as r"] {
            #expect(try ws.executeInteractive(l))
        }
        #expect(throws: (any Error).self) { try ws.executeInteractive("quit") }   // not a terminal: leaves at once
        ws.isInteractiveTerminal = true
        #expect(try ws.executeInteractive("quit"))
        #expect(c.stderr.contains("unsaved runs: r (save RUN to DIR keeps one); quit again to leave anyway"))
        #expect(throws: (any Error).self) { try ws.executeInteractive("quit") }
        let d = Captured()
        d.workspace.isInteractiveTerminal = true
        for l in ["load model \(world.model)", "load data \(world.data)", "split target=sketch", "train steps=1 batch=1 as r", "save r to \(world.root.path)/r"] {
            #expect(try d.workspace.executeInteractive(l))
        }
        #expect(throws: (any Error).self) { try d.workspace.executeInteractive("quit") }
        // The session file path never asks.
        let script = "load model \(world.model)\nload data \(world.data)\nsplit target=sketch\ntrain steps=1 batch=1 as r\nquit\nshow runs\n"
        let r = try Executable.run(["run", "-"], stdin: script)
        #expect(r.status == 0 && !r.stderr.contains("unsaved") && !r.stdout.contains("not saved"), "\(r.stderr)")
    }
}
