import ClipoodTrain
import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

/// Every registered weight average, through the whole life of a run: its train option, training,
/// evaluation, save, load in a fresh workspace and a bit-identical resume. Written once for all
/// kinds, so a new kind needs only its type, its entry in `WeightAverageKind.all` and its own test.
@Suite("every weight average in a run")
struct WeightAverageRunTests {
    @Test func everyKindTrainsSavesLoadsAndResumes() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let dir = world.root.path + "/saved"
        var options: [String] = []
        for k in WeightAverageKind.all {
            switch k.takes {
            case .values(let r, _): options.append("\(k.option)=\(formatBeta(r.lowerBound + 0.25)),\(formatBeta(r.lowerBound + 0.5))")
            case .value(let r): options.append("\(k.option)=\(formatBeta((r.lowerBound + r.upperBound) / 2))")
            case .toggle: options.append("\(k.option)=on")
            }
        }
        let setup = ["set progress=off", "load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch seed=2"]
        func session(_ lines: [String]) throws -> Captured {
            let c = Captured()
            for l in lines { #expect(try c.workspace.executeInteractive(l), "\(l): \(c.stderr)") }
            return c
        }
        let whole = try session(setup + ["train steps=6 batch=1 lr=1e-3 \(options.joined(separator: " ")) as r"])
        let run = try #require(whole.workspace.runs["r"])
        let labels = run.stateNames.filter { $0 != "zeroshot" && $0 != "final" }
        #expect(labels.count == WeightAverageKind.all.count + 1, "\(labels)")   // the list kind keeps two
        // The same run stopped at step 3, saved, loaded in a fresh workspace and resumed.
        _ = try session(setup + ["train steps=6 batch=1 lr=1e-3 \(options.joined(separator: " ")) pause=3 as r", "save r to \(dir)"])
        let resumed = try session(["set progress=off", "load run \(dir)"])
        for (k, option) in zip(WeightAverageKind.all, options) {   // a run keeps its averages
            #expect(try !resumed.workspace.executeInteractive("train resume=r \(option)"))
            #expect(resumed.stderr.contains("'\(k.option)' cannot change when resuming"), "\(resumed.stderr)")
        }
        #expect(try resumed.workspace.executeInteractive("train resume=r"), "\(resumed.stderr)")
        let again = try #require(resumed.workspace.runs["r"])
        for label in labels {
            let a = try #require(run.trainer.average(label)), b = try #require(again.trainer.average(label))
            #expect(Array(UnsafeBufferPointer(start: a.average.base, count: a.average.count))
                == Array(UnsafeBufferPointer(start: b.average.base, count: b.average.count)), "\(label) differs after resume")
            #expect(try whole.workspace.executeInteractive("eval r model=\(label) on val"), "\(whole.stderr)")
        }
    }
}
