import ClipoodModel
import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

/// A tiny world built on the fly: the fixture CLIP (vocabulary 1000) with a byte-level
/// vocabulary of its own (256 bytes, 256 word ends, start/end: 514 ids, no merges), and a
/// DomainBed-layout folder of 3 domains × 4 classes × 6 small PNGs.
struct TinyWorld {
    let root: URL
    var model: String { root.appendingPathComponent("model").path }
    var data: String { root.appendingPathComponent("data").path }

    init() throws {
        root = makeTemporaryDirectory("clipood-world")
        let fm = FileManager.default
        try fm.copyItem(atPath: fixtureRoot.appendingPathComponent("models/hf_quickgelu").path, toPath: model)
        var vocab: [String: Int] = [:]
        let bytes = TinyWorld.byteSymbols()
        for (i, s) in bytes.enumerated() { vocab[s] = i; vocab[s + "</w>"] = 256 + i }
        vocab["<|startoftext|>"] = 512
        vocab["<|endoftext|>"] = 513
        try JSONSerialization.data(withJSONObject: vocab).write(to: URL(fileURLWithPath: model + "/vocab.json"))
        try "#version: 0.2\n".write(toFile: model + "/merges.txt", atomically: true, encoding: .utf8)
        let colours: [[UInt8]] = [[220, 40, 40], [40, 200, 60], [50, 60, 230], [230, 210, 40]]
        for (d, domain) in ["cartoon", "photo", "sketch"].enumerated() {
            for (c, cls) in ["alarm_clock", "cat", "dog", "tree"].enumerated() {
                let dir = data + "/\(domain)/\(cls)"
                try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
                for i in 0 ..< 6 {
                    var px = [UInt8](repeating: 0, count: 20 * 16 * 3)
                    for p in 0 ..< 20 * 16 {
                        for ch in 0 ..< 3 { px[3 * p + ch] = UInt8(clamping: Int(colours[c][ch]) / (d + 1) + (p * (i + 1)) % 23) }
                    }
                    try TestPNG.write(dir + "/\(i).png", width: 20, height: 16, pixels: px)
                }
            }
        }
    }

    /// GPT-2/CLIP's byte-to-unicode table, in byte order.
    static func byteSymbols() -> [String] {
        var printable = Array(33 ... 126) + Array(161 ... 172) + Array(174 ... 255)
        var n = 0
        var map: [Int: Int] = [:]
        for b in printable { map[b] = b }
        for b in 0 ..< 256 where map[b] == nil { map[b] = 256 + n; n += 1; printable.append(b) }
        return (0 ..< 256).map { String(Unicode.Scalar(UInt32(map[$0]!))!) }
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

@Suite("experiments end to end")
struct ExperimentTests {
    func session(_ world: TinyWorld, _ lines: [String]) throws -> Captured {
        let c = Captured()
        for l in lines {
            let ok = try c.workspace.executeInteractive(l)
            #expect(ok, "'\(l)' failed: \(c.stderr)")
        }
        return c
    }

    @Test func domainShiftTrainEvaluateCompareSave() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let out = world.root.appendingPathComponent("runs/mms").path
        let c = try session(world, [
            "load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch", "zeroshot", "margins top=2",
            "train steps=3 batch=2 lr=1e-3 beta=0.1,0.5 ema=0.9 as mms", "train steps=3 batch=2 lr=1e-3 lambda=0 as ce",
            "eval mms model=bma:0.5", "eval ce model=wise:0.5 on val per_class", "compare", "save mms to \(out)",
            "export logits mms model=bma:0.5 to \(out)/logits.npy", "export features to \(out)/zs.npy", "export weights ce model=swa to \(out)/ce_swa.safetensors",
        ])
        let logits = try NPY.read(out + "/logits.npy"), labels = try NPY.read(out + "/logits.labels.npy")
        #expect(logits.shape == [24, 4] && labels.shape == [24])   // the whole sketch domain, 4 classes
        let zs = try NPY.read(out + "/zs.npy")
        #expect(zs.shape == [24, 32])
        #expect(Set(try SafeTensorsFile(path: out + "/ce_swa.safetensors").names) == Set(try SafeTensorsFile(path: world.model + "/model.safetensors").names))
        #expect(c.stdout.contains("zero-shot tiny on toy test: accuracy"))
        #expect(c.stdout.contains("closest pairs (smallest margins):"))
        for row in ["zero-shot", "mms final (MMS λ=0.3)", "mms bma:0.1", "mms bma:0.5", "mms ema", "mms swa", "mms wise:0.5", "ce final (CE)"] {
            #expect(c.stdout.contains("\n" + row), "compare lacks \(row)")
        }
        // Saved weights are full state dicts in the loaded checkpoint's (transformers) names.
        for f in ["run.json", "log.csv", "final.safetensors", "bma_0.5.safetensors", "bma_0.1.safetensors", "ema.safetensors", "swa.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + f), "missing \(f)")
        }
        let saved = try SafeTensorsFile(path: out + "/bma_0.5.safetensors")
        let original = try SafeTensorsFile(path: world.model + "/model.safetensors")
        #expect(Set(saved.names) == Set(original.names))
        let log = try String(contentsOfFile: out + "/log.csv", encoding: .utf8)
        #expect(log.hasPrefix("step,loss,accuracy,lr,bma_weight,seconds\n1,"))
        #expect(log.split(separator: "\n").count == 4)
        // The workspace model is still the zero-shot checkpoint after training.
        let reloaded = try CheckpointLoader.load(path: world.model).model
        #expect(c.workspace.models["tiny"]!.model.parameters.values.storage.toArray() == reloaded.parameters.values.storage.toArray())
    }

    @Test func helpAndCompletionKnowDemoStatesTuneAndRequiredKeywords() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try session(world, ["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch",
                                    "train steps=1 batch=2 beta=0.5 ema=0.9 as r", "help save", "help load model", "help train"])
        let ws = c.workspace
        func complete(_ line: String) -> [String] { ws.registry.complete(line, context: ws).candidates }
        #expect(complete("load model de") == ["demo"])
        #expect(complete("load data de") == ["demo"])
        #expect(complete("eval r model=") == ["model=bma:0.5", "model=ema", "model=final", "model=swa", "model=wise:0.5", "model=zeroshot"])
        #expect(complete("train tune=l") == (1 ... ws.models["tiny"]!.model.config.vision.layers).map { "tune=last\($0)" })
        #expect(c.stdout.contains("usage: save <run> to DIR [force]"))
        #expect(c.stdout.contains("(required)"))
        let unwrapped = c.stdout.replacingOccurrences(of: "\n +", with: " ", options: .regularExpression)
        #expect(unwrapped.contains("demo (the built-in model)"))
        #expect(c.stdout.contains("5e-6") && c.stdout.contains("1e-4"), "help train gives the learning-rate rule")
        #expect(try !ws.executeInteractive("save r"))
        #expect(c.stderr.contains("'save' needs 'to DIR'"))
        // The rule: the fixture model is small, so it trained at 1e-4.
        #expect(ws.runs["r"]!.config.learningRate == 1e-4)
    }

    @Test func trainEvalEveryFeedsCurvesAndPlotCurves() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let png = world.root.appendingPathComponent("curves.png").path
        let c = try session(world, ["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch",
                                    "train steps=4 batch=2 eval_every=2 on test as r", "curves r", "plot curves r term=dumb size=100,40",
                                    "plot curves r to \(png)"])
        #expect(c.stdout.contains("'r' on test at step 4: accuracy"))
        #expect(c.stdout.contains("evaluated on test every 2 steps (2 times)"))
        #expect(c.stdout.contains("test accuracy (every 2 steps)"), "the text plot's key names the evaluations")
        #expect(FileManager.default.fileExists(atPath: png))
        #expect(c.workspace.runs["r"]!.evaluations.map(\.step) == [2, 4])
        #expect(try !c.workspace.executeInteractive("train steps=2 on val as q"))
        #expect(c.stderr.contains("give eval_every=N too"))
    }

    @Test func weightsARunLacksAreAnErrorAtModel() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try session(world, ["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch",
                                    "train steps=1 batch=2 as r"])
        for line in ["eval r model=ema", "export features r model=bma:0.7 to \(world.root.path)/f.npy"] {
            c.err.removeAll()
            #expect(try !c.workspace.executeInteractive(line))
            let caretLine = c.stderr.split(separator: "\n").first { $0.contains("^") }.map(String.init) ?? ""
            let column = line.range(of: "model=")!.lowerBound.utf16Offset(in: line) + "model=".count
            #expect(caretLine.firstIndex(of: "^").map { caretLine.distance(from: caretLine.startIndex, to: $0) } == column + 4, "\(c.stderr)")
            #expect(c.stderr.contains("has no weights"))
        }
    }

    @Test func openClassAndInTheWild() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try session(world, [
            "load model \(world.model)", "load data \(world.data)", "split open=0.5 shots=2", "train steps=2 batch=2 as open", "compare",
            "split target=sketch open=0.5", "train steps=2 batch=2 as wild", "compare wild on test,open",
        ])
        #expect(c.stdout.contains("test acc %  test ECE  open acc %  open ECE"))
        #expect(c.stdout.contains("\nopen final"))
        #expect(c.stdout.contains("\nwild bma:0.5"))
    }

    /// Each bad input is one clear error; nothing already in the workspace is lost.
    @Test func badInputsKeepTheWorkspace() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try session(world, ["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch"])
        let bad: [(String, String)] = [
            ("load data /nonexistent/dir", "/nonexistent/dir"),
            ("split target=skech", "no domain 'skech' in 'toy' (did you mean 'sketch'?)"),
            ("train lambda=abc", "lambda= expects a number, got 'abc'"),
            ("train steps=-1", "steps= must be in 1…10000000, got -1"),
            ("train tune=last9", "tune= expects full, proj or lastK with 1 ≤ K ≤ 2"),
            ("eval nope", "no run named 'nope'"),
            ("info model nope", "no model named 'nope'"),
            ("prompt \"no placeholder\"", "has no {} for the class name"),
        ]
        for (line, message) in bad {
            #expect(try !c.workspace.executeInteractive(line), "'\(line)' succeeded")
            #expect(c.stderr.contains(message), "'\(line)': \(c.stderr)")
        }
        #expect(c.workspace.models.count == 1 && c.workspace.datasets.count == 1)
        #expect(c.workspace.datasets["toy"]?.split != nil)
        #expect(try c.workspace.executeInteractive("train steps=1 batch=1 as ok"))
    }
}

@Suite("runs that save, load and resume")
struct ResumeTests {
    /// Interrupted after 3 of 6 steps, saved, loaded into a fresh workspace and resumed, a run
    /// ends with exactly the weights, averages and losses of the uninterrupted run.
    @Test(arguments: ["full", "last1"])
    func resumedRunIsBitIdentical(_ tune: String) throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let dirA = world.root.appendingPathComponent("a").path, dirB = world.root.appendingPathComponent("b").path
        let dirC = world.root.appendingPathComponent("c").path
        let setup = ["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch seed=2"]
        let train = "train steps=6 batch=2 lr=1e-3 seed=3 beta=0.1,0.5 ema=0.9 tune=\(tune) views=2"
        let w1 = Captured(), w2 = Captured(), w3 = Captured()
        for l in setup + ["\(train) as run", "save run to \(dirA)"] { #expect(try w1.workspace.executeInteractive(l), "\(l): \(w1.stderr)") }
        for l in setup + ["\(train) pause=3 as run", "save run to \(dirB)"] { #expect(try w2.workspace.executeInteractive(l), "\(l): \(w2.stderr)") }
        #expect(w2.stdout.contains("'run': 3 of 6 steps done"))
        for l in ["load run \(dirB)", "train resume=run", "save run to \(dirC)"] { #expect(try w3.workspace.executeInteractive(l), "\(l): \(w3.stderr)") }
        #expect(w3.stdout.contains("resuming 'run' at step 4"))
        for file in ["final", "bma_0.1", "bma_0.5", "ema", "swa"] {
            let a = try SafeTensorsFile(path: "\(dirA)/\(file).safetensors"), c = try SafeTensorsFile(path: "\(dirC)/\(file).safetensors")
            for n in a.names { #expect(try a.floats(n) == c.floats(n), "\(file): \(n) differs") }
        }
        let logA = try String(contentsOfFile: dirA + "/log.csv", encoding: .utf8), logC = try String(contentsOfFile: dirC + "/log.csv", encoding: .utf8)
        func losses(_ csv: String) -> [String] { csv.split(separator: "\n").map { $0.split(separator: ",").prefix(4).joined(separator: ",") } }
        #expect(losses(logA) == losses(logC))
        #expect(losses(logA).count == 7)
    }

    @Test func resumeRefusesNewSettings() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = Captured()
        for l in ["load model \(world.model)", "load data \(world.data)", "split target=sketch", "train steps=4 batch=1 pause=1 as r"] {
            #expect(try c.workspace.executeInteractive(l))
        }
        #expect(try !c.workspace.executeInteractive("train resume=r lr=1"))
        #expect(c.stderr.contains("'lr' cannot change when resuming"))
        #expect(try c.workspace.executeInteractive("train resume=r"))
        #expect(try !c.workspace.executeInteractive("train resume=r"))
        #expect(c.stderr.contains("has done all its 4 steps"))
    }
}

@Suite("Ctrl-C during training")
struct InterruptTests {
    /// SIGINT while `train` runs: training stops at the next step boundary, says where, saves the
    /// run to interrupted/NAME, and the session file stops there (exit 130) instead of running on.
    @Test func ctrlCStopsAtAStepBoundary() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let session = world.root.appendingPathComponent("long.cood")
        try """
        load model \(world.model) as tiny
        load data \(world.data) as toy
        split target=sketch
        train steps=10000000 batch=1 lr=1e-4 as long
        save long to \(world.root.path)/saved
        """.write(to: session, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = Executable.url
        p.arguments = ["run", session.path]
        p.currentDirectoryURL = world.root   // where interrupted/ goes
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        final class Text: @unchecked Sendable { var s = ""; let lock = NSLock() }
        let stdout = Text(), stderr = Text()
        out.fileHandleForReading.readabilityHandler = { h in let d = h.availableData; stdout.lock.lock(); stdout.s += String(decoding: d, as: UTF8.self); stdout.lock.unlock() }
        err.fileHandleForReading.readabilityHandler = { h in let d = h.availableData; stderr.lock.lock(); stderr.s += String(decoding: d, as: UTF8.self); stderr.lock.unlock() }
        try p.run()
        // Wait (bounded, so a broken build cannot hang the suite) until training has started.
        var waited = 0
        while waited < 600 {
            stdout.lock.lock(); let started = stdout.s.contains("training 'long'"); stdout.lock.unlock()
            if started { break }
            usleep(100_000); waited += 1
        }
        usleep(300_000)
        // No thread that computes takes the signal: the main thread, and every thread started
        // after the signal thread (oneDNN's OpenMP threads, Dispatch's), block it; the signal
        // thread takes it. (oneDNN's jit sgemm kernel runs with its stack pointer in a heap
        // workspace: a handler run on that thread writes its frame over the heap.)
        let threads = Self.threads(of: p.processIdentifier)
        let taker = threads.first { $0.name == "clipood-signals" }
        #expect(taker?.blocksInterrupt == false, "\(threads)")
        #expect(threads.first { $0.tid == Int(p.processIdentifier) }?.blocksInterrupt == true, "\(threads)")
        if let taker {
            let later = threads.filter { $0.start > taker.start }
            #expect(later.allSatisfy { $0.blocksInterrupt }, "\(threads)")
        }
        kill(p.processIdentifier, SIGINT)
        // Bounded wait: a process that ignores Ctrl-C is a failure, not a hung suite.
        var polls = 0
        while p.isRunning && polls < 600 { usleep(100_000); polls += 1 }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            Issue.record("clipood did not stop within 60 s of SIGINT")
        }
        p.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        err.fileHandleForReading.readabilityHandler = nil
        let e = stderr.s + String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 130)
        #expect(e.contains("train 'long': interrupted (Ctrl-C) after step "), "\(e)")
        #expect(e.contains("(continue with: train resume=long)"))
        #expect(e.contains("to interrupted/long; continue with: load run interrupted/long, then train resume=long"), "\(e)")
        #expect(e.contains("long.cood:5:1: interrupted (Ctrl-C)"))
        #expect(!FileManager.default.fileExists(atPath: world.root.path + "/saved"))
        #expect(FileManager.default.fileExists(atPath: world.root.path + "/interrupted/long/run.json"))
    }

    /// Each thread of a process (Linux's /proc): its name, when it started (clock ticks after
    /// boot) and whether it blocks SIGINT.
    static func threads(of pid: pid_t) -> [(tid: Int, name: String, start: Int, blocksInterrupt: Bool)] {
        let dir = "/proc/\(pid)/task"
        let tids = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).compactMap { Int($0) }.sorted()
        return tids.compactMap { tid in
            guard let stat = try? String(contentsOfFile: "\(dir)/\(tid)/stat", encoding: .utf8),
                  let status = try? String(contentsOfFile: "\(dir)/\(tid)/status", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
            // After the name: state is field 3 of stat, starttime field 22.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 19, let start = Int(fields[19]),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") }),
                  let mask = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            let name = String(stat[stat.index(after: open) ..< close])
            return (tid, name, start, mask & (1 << UInt64(SIGINT - 1)) != 0)
        }
    }
}

@Suite("inspection and recording")
struct InspectionTests {
    @Test func bmaScheduleWithoutARun() throws {
        let c = Captured()
        #expect(try c.workspace.executeInteractive("bma beta=0.1,0.5,1 steps=200"))
        // β = 1 is uniform: θ_0 holds 1/201 of the weight; β < 1 gives the ends more.
        #expect(c.stdout.contains("\n  1           0.0050      0.100     0.100       0.0050          201  ▄▄▄▄▄▄▄▄▄▄"))
        #expect(c.stdout.contains("\n0.1           0.1089"))
    }

    @Test func curvesAndRecording() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = Captured()
        let file = world.root.appendingPathComponent("rec.cood").path
        for l in ["record \(file)", "load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch",
                  "split target=nowhere", "train steps=4 batch=1 as r", "curves", "bma r", "record stop"] {
            _ = try c.workspace.executeInteractive(l)
        }
        #expect(c.stdout.contains("run 'r': 4 of 4 steps"))
        #expect(c.stdout.contains("\nloss  "))
        #expect(c.stdout.contains("recorded 6 commands to \(file)"))
        let recorded = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(recorded == ["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch",
                             "train steps=4 batch=1 as r", "curves", "bma r"].map { Substring($0) })
        // The recording replays (failed lines were left out).
        let replay = Captured()
        #expect(replay.workspace.runSession(path: file) == 0, "\(replay.stderr)")
    }
}

@Suite("the built-in world")
struct WorldCommandTests {
    @Test func generateShapesAndLoad() throws {
        let dir = makeTemporaryDirectory("clipood-shapes")
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = Captured()
        #expect(try c.workspace.executeInteractive("generate data shapes classes=5 per_class=3 size=24 seed=4 to \(dir.path)/w as w"), "\(c.stderr)")
        #expect(c.stdout.contains("generated 60 images (5 classes × 4 domains × 3, 24 px, seed 4)"))
        #expect(c.stdout.contains("loaded data 'w': 60 images, 4 domains (cartoon, painting, photo, sketch), 5 classes"))
        // A second call finds the finished world and writes nothing.
        c.out.removeAll()
        #expect(try c.workspace.executeInteractive("generate data shapes classes=5 per_class=3 size=24 seed=4 to \(dir.path)/w"))
        #expect(!c.stdout.contains("generated"))
        #expect(try c.workspace.executeInteractive("split target=sketch open=0.5"))
    }
}

@Suite("the quickstart")
struct QuickstartTests {
    /// Sessions/quickstart.cood, shortened (5 steps per run, figures into a temporary folder),
    /// on the shipped demo model and the generated demo world.
    @Test func shortenedQuickstartRuns() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sessions/quickstart.cood").path
        let dir = makeTemporaryDirectory("clipood-quickstart")
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "steps=150", with: "steps=5")
            .replacingOccurrences(of: "to plots/", with: "to \(dir.path)/")
        let short = dir.appendingPathComponent("quickstart.cood")
        try text.write(to: short, atomically: true, encoding: .utf8)
        let c = Captured()
        #expect(c.workspace.runSession(path: short.path) == 0, "\(c.stderr)")
        #expect(c.stdout.contains("zero-shot demo on"))
        #expect(c.stdout.contains("\nmms bma:0.5"))
        #expect(c.stdout.contains("\nce final (CE)"))
        #expect(c.stdout.contains("open acc %"))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/quickstart-margins.png"))
    }
}

@Suite("ablate")
struct AblateTests {
    @Test func gridOfRunsAsMeanAndStd() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = Captured()
        for l in ["load model \(world.model) as tiny", "load data \(world.data) as toy",
                  "ablate setting=wild target=sketch lambda=0,0.3 beta=0.5 seeds=0,1 steps=2 batch=1"] {
            #expect(try c.workspace.executeInteractive(l), "\(l): \(c.stderr)")
        }
        #expect(c.stdout.contains("test accuracy % (held-out domain sketch, among all class names), mean ± std over seeds 0,1, 2 steps per run:"))
        #expect(c.stdout.contains("open accuracy % (new classes, among new class names)"))
        #expect(c.stdout.contains("weights   ") && c.stdout.contains("λ=0.3"))
        #expect(c.stdout.contains("\nbma:0.5 "))
        #expect(c.workspace.runOrder.count == 4)
        #expect(c.workspace.datasets["toy"]?.split == nil)   // the workspace's own split is left as it was
    }

    @Test func plotAblationDrawsTheLastGrid() throws {
        let world = try TinyWorld()
        let dir = makeTemporaryDirectory("clipood-ablation-plot")
        defer { world.remove(); try? FileManager.default.removeItem(at: dir) }
        let c = Captured()
        #expect(try c.workspace.executeInteractive("load model \(world.model) as tiny"))
        #expect(try c.workspace.executeInteractive("load data \(world.data) as toy"))
        #expect(try !c.workspace.executeInteractive("plot ablation"))
        #expect(c.stderr.contains("no ablate grid to plot") && c.stderr.contains("ablate setting=shift"), "\(c.stderr)")
        #expect(try c.workspace.executeInteractive("ablate setting=wild target=sketch lambda=0,0.3 beta=0.5 seeds=0,1 steps=2 batch=1"))
        let png = dir.appendingPathComponent("wild-open.png").path
        #expect(try c.workspace.executeInteractive("plot ablation wild on open to \(png)"), "\(c.stderr)")
        let data = try #require(FileManager.default.contents(atPath: png))
        #expect(data.count > 2000 && data.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(c.stdout.contains("wrote the wild ablation (open, 5 weight states × 2 λ) to \(png)"), "\(c.stdout)")
        #expect(try c.workspace.executeInteractive("plot ablation term=dumb"), "\(c.stderr)")
        #expect(c.stdout.contains("zero-shot") && c.stdout.contains("bma:0.5") && c.stdout.contains("λ=0.3"))
        #expect(try !c.workspace.executeInteractive("plot ablation shift"))
        #expect(c.stderr.contains("no 'shift' ablate grid in this session") && c.stderr.contains("done: wild"), "\(c.stderr)")
    }
}

@Suite("pretrain")
struct PretrainCommandTests {
    /// A tiny pretraining run on a generated world: the model directory PyTorch reads, loaded as
    /// the active model; captions use the world's attributes.tsv, and say so when there is none.
    @Test func pretrainsOnAGeneratedWorldAndLoadsTheModel() throws {
        let dir = makeTemporaryDirectory("clipood-pretrain")
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = Captured()
        let world = dir.appendingPathComponent("world").path, out = dir.appendingPathComponent("model").path
        for l in ["generate data shapes classes=3 per_class=2 size=16 seed=5 to \(world) as w",
                  "pretrain steps=2 batch=8 warmup=1 width=32 layers=1 patch=8 vocab=600 to \(out) as p"] {
            #expect(try c.workspace.executeInteractive(l), "\(l): \(c.stderr)")
        }
        for f in ["config.json", "model.safetensors", "vocab.json", "merges.txt"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + f), "\(f) missing")
        }
        #expect(c.stdout.contains("loaded model 'p'"), "\(c.stdout)")
        #expect(!c.stdout.contains("note: no attributes.tsv"))
        let vocab = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/vocab.json"))) as? [String: Int])
        // Colour and size words are frequent in the captions: BPE makes them whole tokens.
        #expect(vocab["small</w>"] != nil && vocab["big</w>"] != nil && vocab["red</w>"] != nil, "\(vocab.keys.sorted().suffix(40))")
        try FileManager.default.removeItem(atPath: world + "/attributes.tsv")
        #expect(try c.workspace.executeInteractive("load data \(world) as bare"))
        #expect(try c.workspace.executeInteractive("pretrain steps=1 batch=4 width=32 layers=1 patch=8 vocab=520 to \(out)-bare as q"), "\(c.stderr)")
        #expect(c.stdout.contains("note: no attributes.tsv in \(world): captions will name class and style only"), "\(c.stdout)")
    }
}
