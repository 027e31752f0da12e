import ClipoodExperiment
import ClipoodTrain
import ClipoodWorkspace
import Foundation

// run.json, through `load run DIR` with a real saved run beside it (state.safetensors, log.csv):
// a tiny generated world and a tiny model pretrained on it (width 16, one block: every file of
// the run is under 150 KB, so the manifest's hashes cost little) are made once; every input is
// written as the run's run.json, and its entry in manifest.json is updated to match, as someone
// editing a run by hand would, so that the input reaches RunRecord and the restore behind it.
// The seeds say @MODEL@ and @DATA@ where a saved run.json has the model's weights file and the
// data folder, and the harness puts this machine's paths there.
// An accepted run has settings in range: steps ≥ 1, its step within them, a batch ≥ 1, finite
// non-negative rates.
enum Harness {
    struct Setup {
        let runDir: String
        let dataDir: String
        let modelFile: String
    }

    static func workspace() -> Workspace { Workspace(write: { _ in }, writeError: { _ in }) }

    static func execute(_ ws: Workspace, _ line: String) {
        do { try ws.interpreter.execute(line: line) } catch { Fuzz.fail("setting up the run harness: '\(line)': \(error)") }
    }

    /// A workspace with the model and data a run refers to, and one real saved run.
    static let setup: Setup = {
        let data = Fuzz.scratch + "/world", run = Fuzz.scratch + "/run", model = Fuzz.scratch + "/model"
        let ws = workspace()
        execute(ws, "set threads=1")
        execute(ws, "generate data shapes classes=2 per_class=3 size=16 seed=1 to \"\(data)\" as world")
        execute(ws, "pretrain steps=1 batch=4 width=16 layers=1 patch=8 warmup=1 seed=1 to \"\(model)\" as tiny")
        execute(ws, "split target=sketch")
        execute(ws, "train steps=2 batch=1 augment=off as saved")
        execute(ws, "save saved to \"\(run)\"")
        return Setup(runDir: run, dataDir: ws.datasets.values.first!.dataset.root, modelFile: ws.models["tiny"]!.loaded.weightsFile)
    }()

    static var current: Workspace?

    /// The workspace inputs are loaded into; replaced after every accepted run (runs accumulate).
    static func loaded() -> Workspace {
        if let ws = current { return ws }
        let ws = workspace()
        execute(ws, "set threads=1")
        execute(ws, "load model \"\(URL(fileURLWithPath: setup.modelFile).deletingLastPathComponent().path)\" as tiny")
        execute(ws, "load data \"\(setup.dataDir)\" as world")
        current = ws
        return ws
    }

    static func run(_ input: Data) {
        let s = setup
        let text = String(decoding: input, as: UTF8.self)
            .replacingOccurrences(of: "@MODEL@", with: s.modelFile).replacingOccurrences(of: "@DATA@", with: s.dataDir)
        // Today's `load run` reads a directory; a parse of run.json from Data would take `text` directly.
        do {
            let bytes = Data(text.utf8)
            try bytes.write(to: URL(fileURLWithPath: s.runDir + "/run.json"))
            let manifestURL = URL(fileURLWithPath: s.runDir + "/manifest.json")
            var manifest = try JSONDecoder().decode(RunStore.Manifest.self, from: Data(contentsOf: manifestURL))
            manifest.files["run.json"] = .init(size: bytes.count, sha256: SHA256.hex(bytes))
            try JSONEncoder().encode(manifest).write(to: manifestURL)
        } catch { Fuzz.fail("cannot write run.json and its manifest entry: \(error)") }
        let ws = loaded()
        do { try ws.interpreter.execute(line: "load run \"\(s.runDir)\" as fuzzed") } catch { Fuzz.checkRefusal(error); return }
        guard let run = ws.runs["fuzzed"] else { Fuzz.fail("load run succeeded but there is no run") }
        current = nil
        let c = run.config
        Fuzz.check(c.steps >= 1, "accepted steps \(c.steps)")
        Fuzz.check(run.stepsDone >= 0 && run.stepsDone <= c.steps, "accepted step \(run.stepsDone) of \(c.steps)")
        Fuzz.check(run.batchPerDomain >= 1, "accepted batch \(run.batchPerDomain)")
        Fuzz.check(c.learningRate.isFinite && c.learningRate >= 0, "accepted lr \(c.learningRate)")
        Fuzz.check(c.weightDecay.isFinite && c.weightDecay >= 0, "accepted weight decay \(c.weightDecay)")
        Fuzz.check(c.lambda.isFinite && c.lambda >= 0, "accepted lambda \(c.lambda)")
        Fuzz.check(c.betas.allSatisfy { $0.isFinite && $0 > 0 }, "accepted betas \(c.betas)")
        Fuzz.check(WeightAverageKind.problem(with: c.averages) == nil, "accepted averages \(c.averages)")
        for a in c.averages where a.kind == "ema" { Fuzz.check(a.value.map { $0.isFinite && $0 >= 0 && $0 < 1 } == true, "accepted EMA decay \(a)") }
        Fuzz.check(run.trainer.averages.map(\.label) == c.averages.map(WeightAverageKind.label(of:)), "averages made differ from the config")
        if let sc = c.scale { Fuzz.check(sc.isFinite && sc > 0, "accepted scale \(sc)") }
    }

    static func seeds() -> [String: Data] {
        let s = setup
        let saved = try! String(contentsOfFile: s.runDir + "/run.json", encoding: .utf8)
        let escaped = { (p: String) in p.replacingOccurrences(of: "/", with: "\\/") }
        var generic = saved
        for (path, placeholder) in [(s.modelFile, "@MODEL@"), (s.dataDir, "@DATA@")] {
            generic = generic.replacingOccurrences(of: path, with: placeholder).replacingOccurrences(of: escaped(path), with: placeholder)
        }
        precondition(generic.contains("@MODEL@") && generic.contains("@DATA@"), "the saved run.json does not name the model and data: \(saved)")
        // The same run as format 2 wrote it (averages as betas, ema, swa), which load still reads.
        var old = try! JSONSerialization.jsonObject(with: Data(generic.utf8)) as! [String: Any]
        let averages = old.removeValue(forKey: "averages") as! [[String: Any]]
        old["format"] = 2
        old["betas"] = averages.filter { $0["kind"] as? String == "bma" }.compactMap { $0["value"] }
        old["ema"] = averages.first { $0["kind"] as? String == "ema" }?["value"] ?? NSNull()
        old["swa"] = averages.contains { $0["kind"] as? String == "swa" }
        let format2 = try! JSONSerialization.data(withJSONObject: old, options: [.prettyPrinted, .sortedKeys])
        return ["saved-run.json": Data(generic.utf8), "saved-run-format2.json": format2]
    }
}
