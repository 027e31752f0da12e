import ClipoodExperiment
import ClipoodIO
import ClipoodModel
import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

/// Saves that survive a kill at any instant, run directories that cannot be mixed, and run.json
/// numbers that are checked before use.
@Suite("run persistence")
struct RunPersistenceTests {
    static func setup(_ world: TinyWorld) -> [String] {
        ["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch seed=2"]
    }

    func session(_ lines: [String]) throws -> Captured {
        let c = Captured()
        for l in lines { #expect(try c.workspace.executeInteractive(l), "\(l): \(c.stderr)") }
        return c
    }

    /// Rewrites a saved file and the manifest entry that vouches for it, so that only the content
    /// check under test can refuse it.
    func tamper(_ dir: String, _ file: String, _ edit: (inout Data) throws -> Void) throws {
        let path = dir + "/" + file
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        try edit(&data)
        try data.write(to: URL(fileURLWithPath: path))
        let manifestURL = URL(fileURLWithPath: dir + "/manifest.json")
        var manifest = try JSONDecoder().decode(RunStore.Manifest.self, from: Data(contentsOf: manifestURL))
        manifest.files[file] = .init(size: data.count, sha256: SHA256.hex(data))
        try JSONEncoder().encode(manifest).write(to: manifestURL)
    }

    func editJSON(_ dir: String, _ edit: @escaping (inout [String: Any]) -> Void) throws {
        try tamper(dir, "run.json") { data in
            var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            edit(&object)
            data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        }
    }

    func copy(_ a: String, _ b: String) throws {
        try? FileManager.default.removeItem(atPath: b)
        try FileManager.default.copyItem(atPath: a, toPath: b)
    }

    /// A child process saving over a complete save kills itself after each step of the save in
    /// turn; every time, the directory loads as the complete old save or the complete new one.
    @Test func aKillAtAnyStepOfASaveLeavesTheOldOrTheNewSave() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let root = world.root.path
        let old = root + "/old", new = root + "/new"
        _ = try session(Self.setup(world) + ["train steps=2 batch=1 lr=1e-3 beta=0.5 ema=0.9 as r", "save r to \(old)"])
        let script = (Self.setup(world) + ["train steps=3 batch=1 lr=1e-3 beta=0.5 ema=0.9 as r", "save r to SAVE"]).joined(separator: "\n") + "\n"
        let reference = try Executable.run(["run", "-"], stdin: script.replacingOccurrences(of: "SAVE", with: new))
        #expect(reference.status == 0, "\(reference.stderr)")
        let oldState = try Data(contentsOf: URL(fileURLWithPath: old + "/state.safetensors"))
        let newState = try Data(contentsOf: URL(fileURLWithPath: new + "/state.safetensors"))
        #expect(oldState != newState)
        var sawOld = 0, sawNew = 0, completedAt: Int?
        for k in 1 ... 40 {
            let dir = root + "/k\(k)"
            try copy(old, dir)
            let r = try Executable.run(["run", "-"], stdin: script.replacingOccurrences(of: "SAVE", with: dir), environment: ["CLIPOOD_SAVE_KILL_AFTER": String(k)])
            let c = Captured()
            #expect(try c.workspace.executeInteractive("load run \(dir)"), "k=\(k): \(c.stderr)")
            let state = try Data(contentsOf: URL(fileURLWithPath: (AtomicDirectory.recoverable(dir) ?? dir) + "/state.safetensors"))
            if state == oldState { sawOld += 1; #expect(c.stdout.contains("loaded run 'r': 2 of 2 steps"), "k=\(k): \(c.stdout)") }
            else if state == newState { sawNew += 1; #expect(c.stdout.contains("loaded run 'r': 3 of 3 steps"), "k=\(k): \(c.stdout)") }
            else { Issue.record("k=\(k): the state is neither the old nor the new save") }
            if r.status == 0 { completedAt = k; break }
            #expect(r.status == SIGKILL, "k=\(k): exit \(r.status) \(r.stderr)")
        }
        let steps = try #require(completedAt, "the save never completed")
        // Seven files and the manifest, then sync, swap and removal of the old directory.
        #expect(steps >= 10, "only \(steps) steps")
        #expect(sawOld >= 5 && sawNew >= 2, "old \(sawOld), new \(sawNew)")
    }

    @Test func loadRefusesMixedIncompleteAndForeignDirectories() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let a = world.root.path + "/a", b = world.root.path + "/b", mixed = world.root.path + "/mixed"
        let c = try session(Self.setup(world) + ["train steps=2 batch=1 as r", "save r to \(a)", "train steps=3 batch=1 as s", "save s to \(b)"])
        func refused(_ dir: String, _ message: String) throws {
            #expect(try !c.workspace.executeInteractive("load run \(dir) as x"), "\(dir) loaded")
            #expect(c.stderr.contains(message), "wanted '\(message)' in: \(c.stderr)")
        }
        // A state file from another save.
        try copy(a, mixed)
        try FileManager.default.removeItem(atPath: mixed + "/state.safetensors")
        try FileManager.default.copyItem(atPath: b + "/state.safetensors", toPath: mixed + "/state.safetensors")
        try refused(mixed, "\(mixed)/state.safetensors does not match the manifest")
        // A file missing, a stray file, no manifest.
        try copy(a, mixed)
        try FileManager.default.removeItem(atPath: mixed + "/swa.safetensors")
        try refused(mixed, "\(mixed)/swa.safetensors is missing: the directory is not a complete save")
        try copy(a, mixed)
        try "x".write(toFile: mixed + "/extra.safetensors", atomically: false, encoding: .utf8)
        try refused(mixed, "holds files that are not in its manifest (extra.safetensors)")
        try copy(a, mixed)
        try FileManager.default.removeItem(atPath: mixed + "/manifest.json")
        try refused(mixed, "\(mixed)/manifest.json is missing: the save was interrupted or written by an older clipood")
        // Saving over another run, or over files that are not a run, needs force.
        #expect(try !c.workspace.executeInteractive("save s to \(a)"))
        #expect(c.stderr.contains("\(a) holds another run ('r'); save with force to replace it"), "\(c.stderr)")
        let other = world.root.path + "/notes"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try "keep me".write(toFile: other + "/notes.txt", atomically: false, encoding: .utf8)
        #expect(try !c.workspace.executeInteractive("save s to \(other)"))
        #expect(c.stderr.contains("holds files that are not a saved run"))
        #expect(FileManager.default.fileExists(atPath: other + "/notes.txt"))
        #expect(try c.workspace.executeInteractive("save s to \(a) force"), "\(c.stderr)")
        #expect(try c.workspace.executeInteractive("save s to \(a)"), "saving the same run again: \(c.stderr)")
        let fresh = Captured()
        #expect(try fresh.workspace.executeInteractive("load run \(a)"))
        #expect(fresh.stdout.contains("loaded run 's': 3 of 3 steps"))
    }

    /// Every number of run.json, the state file and the log is checked; the error names the file and field.
    @Test func savedNumbersAreValidatedOnLoad() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let good = world.root.path + "/good", bad = world.root.path + "/bad"
        let c = try session(Self.setup(world) + ["train steps=4 batch=1 pause=2 beta=0.5 as r", "save r to \(good)"])
        let cases: [(String, ([String: Any]) -> [String: Any])] = [
            ("field 'format' is 99, a run format this build does not know", { var o = $0; o["format"] = 99; return o }),
            ("field 'format' is missing", { var o = $0; o["format"] = nil; return o }),
            ("field 'steps_done' must be in 0…4 (steps), got -1", { var o = $0; o["steps_done"] = -1; return o }),
            ("field 'steps_done' must be in 0…4 (steps), got 9", { var o = $0; o["steps_done"] = 9; return o }),
            ("field 'steps' must be in 1…10000000, got 0", { var o = $0; o["steps"] = 0; return o }),
            ("field 'views' must be in 1…1000, got 0", { var o = $0; o["views"] = 0; return o }),
            ("field 'batch_per_domain' must be in 1…4096, got 0", { var o = $0; o["batch_per_domain"] = 0; return o }),
            ("field 'lambda' must be a number in 0…10, got -0.5", { var o = $0; o["lambda"] = -0.5; return o }),
            ("field 'lr' must be a number in 0…10, got 1e+30", { var o = $0; o["lr"] = 1e30; return o }),
            ("field 'averages' bma needs a number in 0.001…1000, got 0", { var o = $0; o["averages"] = [["kind": "bma", "value": 0]]; return o }),
            ("field 'averages' unknown kind 'lookahead' (known: bma, ema, swa, tail)", { var o = $0; o["averages"] = [["kind": "lookahead"]]; return o }),
            ("field 'averages' bma is kept twice", { var o = $0; o["averages"] = [["kind": "bma", "value": 0.5], ["kind": "bma", "value": 0.5]]; return o }),
            ("field 'averages' swa takes no number", { var o = $0; o["averages"] = [["kind": "swa", "value": 1]]; return o }),
            ("field 'scale' must be a positive finite logit scale", { var o = $0; o["scale"] = -1; return o }),
            ("field 'averages' ema needs a number in 0…0.999999, got 1", { var o = $0; o["averages"] = [["kind": "ema", "value": 1]]; return o }),
            ("field 'betas' is missing or not a list of numbers", { var o = $0; o["format"] = 2; return o }),
            ("field 'tune' must be full, proj or lastK, got 'last0'", { var o = $0; o["tune"] = "last0"; return o }),
            ("field 'range' is [0, 5], but tune=full of model 'tiny' trains", { var o = $0; o["range"] = [0, 5]; return o }),
            ("field 'steps' has the wrong type", { var o = $0; o["steps"] = "four"; return o }),
            ("field 'seed' is missing", { var o = $0; o["seed"] = nil; return o }),
            ("field 'resume.augment_rng' must be 7 unsigned 64-bit integers", { var o = $0; var r = o["resume"] as! [String: Any]; r["augment_rng"] = ["1"]; o["resume"] = r; return o }),
            ("field 'resume.step' is 3 but steps_done is 2", { var o = $0; var r = o["resume"] as! [String: Any]; r["step"] = 3; o["resume"] = r; return o }),
            ("field 'resume.averages' the saved average 'bma:0.5' has weight_sum 1e+20", { var o = $0; var r = o["resume"] as! [String: Any]; r["averages"] = ["bma:0.5": ["weight_sum": 1e20]]; o["resume"] = r; return o }),
            ("field 'weights.final' must be a .safetensors file name inside the run directory", { var o = $0; var w = o["weights"] as! [String: Any]; w["final"] = "../x.safetensors"; o["weights"] = w; return o }),
        ]
        for (message, edit) in cases {
            try copy(good, bad)
            try editJSON(bad) { $0 = edit($0) }
            #expect(try !c.workspace.executeInteractive("load run \(bad) as x"), "loaded despite: \(message)")
            #expect(c.stderr.contains("\(bad)/run.json: \(message)"), "wanted '\(message)' in: \(c.stderr.suffix(400))")
        }
        // The log: a non-finite loss, a missing row.
        try copy(good, bad)
        try tamper(bad, "log.csv") { d in
            var lines = String(decoding: d, as: UTF8.self).split(separator: "\n").map(String.init)
            var f = lines[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            f[1] = "nan"
            lines[1] = f.joined(separator: ",")
            d = Data((lines.joined(separator: "\n") + "\n").utf8)
        }
        #expect(try !c.workspace.executeInteractive("load run \(bad) as x"))
        #expect(c.stderr.contains("\(bad)/log.csv:2: field 'loss' is 'nan', expected a finite number ≥ 0"), "\(c.stderr.suffix(300))")
        try copy(good, bad)
        try tamper(bad, "log.csv") { d in d = Data(String(decoding: d, as: UTF8.self).split(separator: "\n").dropLast().map { $0 + "\n" }.joined().utf8) }
        #expect(try !c.workspace.executeInteractive("load run \(bad) as x"))
        #expect(c.stderr.contains("\(bad)/log.csv has 1 rows but run.json says 2 steps were done"), "\(c.stderr.suffix(300))")
        // The state: a tensor of the wrong size, a negative second moment.
        let original = try SafeTensorsFile(path: good + "/state.safetensors")
        for (tensor, message) in [("adam.v", "field 'adam.v' has -1.0 at [0] (values must be finite and ≥ 0)"), ("final", "field 'final' is F32 [3], expected F32 [")] {
            try copy(good, bad)
            try tamper(bad, "state.safetensors") { d in
                var w = SafeTensorsWriter(metadata: original.metadata)
                for n in original.names {
                    var v = try original.floats(n)
                    if n == tensor { if tensor == "final" { v = [1, 2, 3] } else { v[0] = -1 } }
                    w.add(n, shape: [v.count], floats: v)
                }
                d = try w.serialized()
            }
            #expect(try !c.workspace.executeInteractive("load run \(bad) as x"))
            #expect(c.stderr.contains("\(bad)/state.safetensors: \(message)"), "\(c.stderr.suffix(300))")
        }
        // The good save still loads and resumes.
        #expect(try c.workspace.executeInteractive("load run \(good) as again"), "\(c.stderr)")
        #expect(try c.workspace.executeInteractive("train resume=again"), "\(c.stderr)")
        // A run saved in format 2 (averages as betas, ema, swa) loads and resumes the same.
        try copy(good, bad)
        try editJSON(bad) { o in
            o["format"] = 2
            o["averages"] = nil
            o["betas"] = [0.5]
            o["swa"] = true
            o["ema"] = NSNull()
        }
        let manifestURL = URL(fileURLWithPath: bad + "/manifest.json")
        var manifest = try JSONDecoder().decode(RunStore.Manifest.self, from: Data(contentsOf: manifestURL))
        manifest.format = 2   // as format 2 wrote it
        try JSONEncoder().encode(manifest).write(to: manifestURL)
        #expect(try c.workspace.executeInteractive("load run \(bad) as old"), "\(c.stderr)")
        #expect(try c.workspace.executeInteractive("train resume=old"), "\(c.stderr)")
        #expect(try c.workspace.executeInteractive("compare again old on val"), "\(c.stderr)")
        let rows = c.stdout.split(separator: "\n").suffix(8).map { String($0) }
        for state in ["final", "bma:0.5", "swa"] {
            let pair = rows.filter { $0.hasPrefix("again \(state) ") || $0.hasPrefix("old \(state) ") }.map { $0.split(separator: " ").suffix(2).joined(separator: " ") }
            #expect(pair.count == 2 && pair[0] == pair[1], "\(state): \(rows)")
        }
    }
}
