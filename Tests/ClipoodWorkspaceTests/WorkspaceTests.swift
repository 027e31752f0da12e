import ClipoodCommands
import ClipoodEngine
import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

/// A workspace whose output is captured.
final class Captured {
    var out: [String] = []
    var err: [String] = []
    lazy var workspace = Workspace(write: { [unowned self] in out.append($0) }, writeError: { [unowned self] in err.append($0) })
    var stdout: String { out.joined(separator: "\n") }
    var stderr: String { err.joined(separator: "\n") }
}

@Suite("workspace built-in commands")
struct WorkspaceTests {
    @Test func everyDeclarationIsSound() {
        // Registration would stop on a problem; this names them all at once.
        let problems = Workspace.commands.flatMap { Registry<Workspace>.problems(in: $0) }
        #expect(problems.isEmpty, "\(problems)")
    }

    /// A sentence wider than the terminal wraps at spaces with a two-space hanging indent; a
    /// line that fits, and output that is not a terminal, stay as they are.
    @Test func proseFitsTheTerminal() {
        let long = "loaded model 'demo': ViT 128w×4 patch 8 @64px, text 128w×4, 1.7 M parameters (Hugging Face transformers, F32)"
        let wrapped = Workspace.prose(long + "\nshort line", width: 80)
        let lines = wrapped.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.allSatisfy { $0.count <= 80 }, "\(lines)")
        #expect(lines[1].hasPrefix("  ") && !lines[1].hasPrefix("   "))
        #expect(lines[2] == "short line")
        #expect(lines.map { $0.trimmingCharacters(in: .whitespaces) }.prefix(2).joined(separator: " ") == long)
        #expect(Workspace.prose("x " + String(repeating: "y", count: 100), width: 80) == "x\n  " + String(repeating: "y", count: 100))
        let c = Captured()
        c.workspace.say(long)
        #expect(c.out == [long])
        c.workspace.outputIsTerminal = true
        c.workspace.terminalWidth = { nil }   // a pseudo-terminal without a size (mpirun's)
        c.workspace.say(long)
        c.workspace.terminalWidth = { 60 }
        c.workspace.say(long)
        #expect(c.out.count == 3 && c.out[1] == long)
        #expect(c.out[2].contains("\n  ") && c.out[2].split(separator: "\n").allSatisfy { $0.count <= 60 }, "\(c.out[2])")
    }

    @Test func helpListsEveryCommandAndExplainsOne() throws {
        let c = Captured()
        try c.workspace.executeInteractive("help")
        for name in ["help", "set", "show", "run", "bench", "quit"] { #expect(c.stdout.contains("\n  \(name) ")) }
        try c.workspace.executeInteractive("help set")
        #expect(c.stdout.contains("usage: set [threads=N] [seed=N]"))
        #expect(c.stdout.contains("onerror=stop|continue"))
        try c.workspace.executeInteractive("help bench gemm")
        #expect(c.stdout.contains("usage: bench gemm [runs=N] [threads=N] [shapes=all|square|vit]"))
    }

    /// Every help page, of every command and subcommand, fits an 80-column terminal.
    @Test func everyHelpPageFitsEightyColumns() throws {
        func paths(_ spec: CommandSpec<Workspace>, _ prefix: [String]) -> [[String]] {
            let here = prefix + [spec.name]
            return [here] + spec.subcommands.flatMap { paths($0, here) }
        }
        let all = Workspace.commands.flatMap { paths($0, []) }
        #expect(all.count > 40)
        for path in all {
            let c = Captured()
            try c.workspace.executeInteractive("help " + path.joined(separator: " "))
            #expect(c.err.isEmpty, "\(path): \(c.stderr)")
            for line in c.stdout.split(separator: "\n") where line.count > 80 {
                Issue.record("help \(path.joined(separator: " ")): \(line.count) columns: '\(line)'")
            }
        }
    }

    @Test func setAndShowSettings() throws {
        let c = Captured()
        try c.workspace.executeInteractive("set seed=7 echo=on")
        #expect(c.workspace.settings.seed == 7 && c.workspace.settings.echo)
        try c.workspace.executeInteractive("show settings")
        // The value column is as wide as the longest value (the blas setting's differs by backend).
        #expect(c.stdout.range(of: #"\nseed +7 +\(default 0\) +default seed"#, options: .regularExpression) != nil, "\(c.stdout)")
        #expect(c.err.isEmpty)
    }

    @Test func badSettingLeavesStateAndPointsAtIt() throws {
        let c = Captured()
        let ok = try c.workspace.executeInteractive("set seed=3 color=purple")
        #expect(!ok)
        #expect(c.workspace.settings.seed == 0)   // nothing applied from a line that failed to parse
        #expect(c.stderr.contains("color= expects one of auto, on, off, got 'purple'"))
        #expect(c.stderr.contains("    set seed=3 color=purple\n                     ^~~~~~"))
        try c.workspace.executeInteractive("set nope=1")
        #expect(c.stderr.contains("'set' has no option 'nope'"))
        try c.workspace.executeInteractive("set")
        #expect(c.stderr.contains("set needs KEY=VALUE"))
        try c.workspace.executeInteractive("set seed=4")   // and the workspace still works
        #expect(c.workspace.settings.seed == 4)
    }

    @Test func nestedRunReportsTheInnerFileAndLine() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let inner = dir.appendingPathComponent("inner.cood"), outer = dir.appendingPathComponent("outer.cood")
        try "set seed=5\nset threads=zero\nset seed=6\n".write(to: inner, atomically: true, encoding: .utf8)
        try "# outer\nrun \(inner.path)\nset seed=9\n".write(to: outer, atomically: true, encoding: .utf8)
        let c = Captured()
        #expect(c.workspace.runSession(path: outer.path) == 1)
        #expect(c.workspace.settings.seed == 5)
        #expect(c.stderr.hasPrefix("\(inner.path):2:13: threads= expects a whole number, got 'zero'"))
    }

    @Test func quitEndsASessionCleanly() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("q.cood")
        try "set seed=1\nquit\nset seed=2\n".write(to: f, atomically: true, encoding: .utf8)
        let c = Captured()
        #expect(c.workspace.runSession(path: f.path) == 0)
        #expect(c.workspace.settings.seed == 1)
    }

    @Test func echoShowsSessionLines() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("e.cood")
        try "set echo=on\n\n# a comment\nset seed=3   # inline\n".write(to: f, atomically: true, encoding: .utf8)
        let c = Captured()
        #expect(c.workspace.runSession(path: f.path) == 0)
        #expect(c.out == ["› set seed=3   # inline"])
    }

    /// In a child process: `set blas=` changes the process's backend, which would reach every
    /// test running beside this one.
    @Test func benchGemmReportsATable() throws {
        let r = try Executable.run(["run", "-"], stdin: "bench gemm runs=1 shapes=square threads=1\nset blas=openblas\nbench gemm runs=1 shapes=square threads=1\n",
                                   environment: ["CLIPOOD_BLAS": BLAS.defaultBackendAtStart.rawValue])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
        #expect(r.stdout.contains("sgemm, fp32, 1 BLAS thread, \(BLAS.libraryDescription), median of 1 after warm-up"), "\(r.stdout)")
        #expect(r.stdout.contains("sgemm, fp32, 1 BLAS thread, OpenBLAS \(BLAS.kernelsDescription), median of 1 after warm-up"), "\(r.stdout)")
        #expect(r.stdout.contains("square 1024³"))
    }
}

/// The executable end to end: what a user sees in a terminal or a CI log.
@Suite("clipood executable")
struct ExecutableTests {
    @Test func badSessionFileNamesFileLineColumnAndExits1() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "# a session\nset seed=1\nfrobnicate now\nset seed=2\n".write(to: dir.appendingPathComponent("bad.cood"), atomically: true, encoding: .utf8)
        let r = try Executable.run(["run", "bad.cood"], directory: dir)
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("bad.cood:3:1: unknown command 'frobnicate'\n    frobnicate now\n    ^~~~~~~~~~"), "\(r.stderr)")
    }

    @Test func typoGetsASuggestion() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "shwo settings\n".write(to: dir.appendingPathComponent("typo.cood"), atomically: true, encoding: .utf8)
        let r = try Executable.run(["run", "typo.cood"], directory: dir)
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("typo.cood:1:1: unknown command 'shwo' (did you mean 'show'?)"))
    }

    @Test func runFromStandardInput() throws {
        let r = try Executable.run(["run", "-"], stdin: "help\nshow settings\n")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("commands:"))
        #expect(r.stdout.contains("threads"))
        #expect(r.stderr.isEmpty)
        let bad = try Executable.run(["run", "-"], stdin: "help\nset seed=-1\nhelp\n")
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix("<stdin>:2:10: seed= must be in 0…2147483647, got -1"))
    }

    @Test func missingSessionFile() throws {
        let r = try Executable.run(["run", "/nonexistent/x.cood"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot read session file '/nonexistent/x.cood': no such file"))
    }

    @Test func oneShotCommandsAndTheirErrors() throws {
        let ok = try Executable.run(["help", "run"])
        #expect(ok.status == 0)
        #expect(ok.stdout.hasPrefix("run — run the commands of a session file"))
        let bad = try Executable.run(["bench", "gemm", "runs=x"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("    bench gemm runs=x\n                    ^"))
        #expect(try Executable.run(["--version"]).stdout.hasPrefix("clipood "))
    }

    /// CLIPOOD_GEMM_PROFILE=1: at exit, one line per oneDNN product shape on standard error;
    /// each shape's primitive is created once however often it runs, and fp32 products with a
    /// plain B run oneDNN's jit GEMM on every CPU (brgemm ran the MLP's backward shapes at half
    /// the speed on an Intel Xeon, and 0.77× on an AMD EPYC).
    @Test func gemmProfileListsEachProductOnce() throws {
        let r = try Executable.run(["bench", "gemm", "runs=3", "shapes=square", "threads=1"],
                                   environment: ["CLIPOOD_GEMM_PROFILE": "1", "CLIPOOD_BLAS": "onednn"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("oneDNN products: ") && r.stderr.contains(" in 1 primitives (1 created, cache emptied 0 times)"), "\(r.stderr)")
        let row = r.stderr.split(separator: "\n").first { $0.contains("1024   1024   1024") }.map(String.init) ?? ""
        // Warm-up and three timed calls, one primitive.
        #expect(row.split(separator: " ").dropFirst().first == "4", "\(r.stderr)")
        #expect(row.hasSuffix("gemm:jit"), "\(r.stderr)")
        let quiet = try Executable.run(["bench", "gemm", "runs=1", "shapes=square", "threads=1"], environment: ["CLIPOOD_BLAS": "onednn"])
        #expect(!quiet.stderr.contains("oneDNN products"))
    }

    /// `bench gemm blas= precision=` times that backend and precision for this benchmark only.
    @Test func benchGemmTakesItsBackendAndPrecision() throws {
        let open = try Executable.run(["bench", "gemm", "runs=1", "shapes=square", "threads=1", "blas=openblas"], environment: ["CLIPOOD_BLAS": "onednn"])
        #expect(open.status == 0, "\(open.stderr)")
        #expect(open.stdout.hasPrefix("sgemm, fp32, 1 BLAS thread, OpenBLAS "), "\(open.stdout)")
        let dnnl = try Executable.run(["bench", "gemm", "runs=1", "shapes=square", "threads=1", "blas=onednn", "precision=bf16"],
                                      environment: ["CLIPOOD_BLAS": "openblas"])
        #expect(dnnl.status == 0, "\(dnnl.stderr)")
        let expected = BLAS.cpuHasBF16 ? "gemm, bf16 inputs with fp32 accumulation (oneDNN " : "sgemm, fp32, 1 BLAS thread, oneDNN "
        #expect(dnnl.stdout.hasPrefix(expected), "\(dnnl.stdout)")
        let bad = try Executable.run(["bench", "gemm", "blas=mkl"])
        #expect(bad.status == 1 && bad.stderr.contains("blas="), "\(bad.stderr)")
    }

    @Test func pipedPromptKeepsGoingAfterAnError() throws {
        // No terminal: the prompt reads lines without readline; a bad line is reported and the next one runs.
        let r = try Executable.run([], stdin: "set seed=oops\nset seed=3\nshow settings\n")
        #expect(r.status == 1)
        #expect(r.stderr.contains("seed= expects a whole number"))
        #expect(r.stdout.contains("seed       3"))
    }
}
