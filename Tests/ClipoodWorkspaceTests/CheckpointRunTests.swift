import ClipoodExperiment
import ClipoodModel
import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

/// `checkpoint=on` (activation recomputation) through whole commands: the same weights as
/// without it, recorded in run.json, shown by `info run`, kept by a resume.
@Suite("checkpoint=on end to end")
struct CheckpointRunTests {
    static func run(_ c: Captured, _ lines: [String]) {
        for l in lines { #expect((try? c.workspace.executeInteractive(l)) == true, "'\(l)' failed: \(c.stderr)") }
    }

    /// A few train steps with checkpoint=on and off save identical weights, averages and losses:
    /// whole tower from pixels, the last block from pixels (cache=off), and both blocks from the
    /// prefix cache (a stream entering block 0).
    @Test(arguments: ["tune=full", "tune=last1 cache=off", "tune=last2 views=2"])
    func trainWeightsAreIdentical(_ tune: String) throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let setup = ["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch seed=2"]
        let train = "train steps=3 batch=2 lr=1e-3 seed=3 beta=0.5 ema=0.9 \(tune)"
        let off = world.root.appendingPathComponent("off").path, on = world.root.appendingPathComponent("on").path
        let a = Captured(), b = Captured()
        Self.run(a, setup + ["\(train) as r", "save r to \(off)"])
        Self.run(b, setup + ["\(train) checkpoint=on as r", "save r to \(on)", "info run r"])
        #expect(b.stdout.contains(" checkpoint=on"), "\(b.stdout)")
        for file in ["final", "bma_0.5", "ema", "swa"] {
            let x = try SafeTensorsFile(path: "\(off)/\(file).safetensors"), y = try SafeTensorsFile(path: "\(on)/\(file).safetensors")
            for n in x.names { #expect(try x.floats(n) == y.floats(n), "\(file): \(n) differs") }
        }
        func losses(_ dir: String) throws -> [String] {
            try String(contentsOfFile: dir + "/log.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",").prefix(4).joined(separator: ",") }
        }
        #expect(try losses(off) == losses(on))
        #expect(try losses(on).count == 4)
    }

    /// run.json stores the flag; a file without it (older clipood) reads as off; a saved,
    /// loaded and resumed run keeps checkpoint=on and refuses to change it.
    @Test func recordedAndKeptOnResume() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let dir = world.root.appendingPathComponent("run").path
        let c = Captured()
        Self.run(c, ["load model \(world.model)", "load data \(world.data)", "split target=sketch",
                     "train steps=4 batch=1 pause=2 checkpoint=on as r", "save r to \(dir)"])
        let json = try Data(contentsOf: URL(fileURLWithPath: dir + "/run.json"))
        let record = try RunRecord.decode(json, file: "run.json")
        #expect(record.checkpoint == true)
        #expect(record.trainingConfig(trainable: .full).checkpoint)
        var object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        object["checkpoint"] = nil
        let old = try RunRecord.decode(JSONSerialization.data(withJSONObject: object), file: "run.json")
        #expect(old.checkpoint == nil)
        #expect(!old.trainingConfig(trainable: .full).checkpoint)

        let d = Captured()
        Self.run(d, ["load run \(dir)", "info run r"])
        #expect(d.stdout.contains(" checkpoint=on"), "\(d.stdout)")
        #expect(try !d.workspace.executeInteractive("train resume=r checkpoint=off"))
        #expect(d.stderr.contains("'checkpoint' cannot change when resuming"), "\(d.stderr)")
        Self.run(d, ["train resume=r", "info run r"])
        #expect(d.stdout.contains("run 'r': 4 of 4 steps done"), "\(d.stdout)")
        #expect(d.workspace.runs["r"]?.config.checkpoint == true)
    }

    /// pretrain with checkpoint=on writes the same model as without it.
    @Test func pretrainWeightsAreIdentical() throws {
        let dir = makeTemporaryDirectory("clipood-pretrain-ckpt")
        defer { try? FileManager.default.removeItem(at: dir) }
        let world = dir.appendingPathComponent("world").path
        let c = Captured()
        let common = "pretrain steps=2 batch=8 warmup=1 width=32 layers=2 patch=8 vocab=600"
        Self.run(c, ["generate data shapes classes=3 per_class=2 size=16 seed=5 to \(world) as w",
                     "\(common) to \(dir.path)/off as off", "\(common) checkpoint=on to \(dir.path)/on as on"])
        let x = try SafeTensorsFile(path: "\(dir.path)/off/model.safetensors"), y = try SafeTensorsFile(path: "\(dir.path)/on/model.safetensors")
        #expect(x.names.count > 10)
        for n in x.names { #expect(try x.floats(n) == y.floats(n), "\(n) differs") }
    }
}
