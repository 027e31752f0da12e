import ClipoodData
import ClipoodEngine
import ClipoodExperiment
import ClipoodModel
import ClipoodTrain
import Foundation
import TestSupport
import Testing

/// The experiment layer on its own — no workspace, nothing printed: a run trains through
/// `Run.train`, reports through a `ProgressSink`, stops at a step boundary when asked, saves
/// and restores itself, and the feature store evaluates and caches.
@Suite("experiment layer")
struct ExperimentLayerTests {
    struct Setup {
        let world: TinyWorld
        let model: ModelEntry
        let data: DataEntry
        let split: Split
        let features = FeatureStore(images: BatchBuilder())

        init() throws {
            world = try TinyWorld()
            model = ModelEntry(name: "tiny", loaded: try CheckpointLoader.load(path: world.model))
            data = DataEntry(name: "world", dataset: try Dataset.load(root: world.data))
            split = try Split.make(dataset: data.dataset, spec: SplitSpec(targets: ["sketch"], seed: 0))
            data.split = split
        }

        func run(_ name: String, steps: Int, model m: ModelEntry? = nil, evalEvery: Int? = nil) throws -> Run {
            var config = TrainingConfig(steps: steps)
            config.learningRate = 1e-3
            config.lambda = 0.3
            config.averages = [AverageChoice("bma", 0.5), AverageChoice("ema", 0.9)]
            config.trainable = TuneSpec.parse("full", layers: model.model.config.vision.layers)!
            return try Run(name: name, model: m ?? model, data: data, split: split, config: config, batchPerDomain: 2, augment: true,
                           seed: 7, interpolation: "bicubic", tune: "full", cache: false, views: 1, evalEvery: evalEvery, features: features)
        }

        func trainableRange(_ m: ModelEntry, _ run: Run) -> [Float] {
            Array(UnsafeBufferPointer(start: m.model.parameters.values.base + run.trainer.range.lowerBound, count: run.trainer.range.count))
        }
    }

    static func values(_ b: FloatBuffer) -> [Float] { Array(UnsafeBufferPointer(start: b.base, count: b.count)) }
    /// Bitwise equality, reported as one Bool (an expectation on the arrays would print them whole).
    static func same(_ a: [Float], _ b: [Float]) -> Bool { a.map(\.bitPattern) == b.map(\.bitPattern) }

    @Test func theLoopReportsStopsWhenAskedAndLeavesTheModelZeroShot() throws {
        let s = try Setup()
        defer { s.world.remove() }
        let run = try s.run("r", steps: 5)
        var events: [String] = []
        var advances = 0
        let sink = ProgressSink(begin: { label, total in events.append("begin \(label) \(total)") },
                                advance: { done, detail in
                                    advances += 1
                                    // The detail: the job's images/s, then loss, accuracy and learning rate.
                                    let parts = detail.split(separator: " ")
                                    events.append("advance \(done) " + (parts.count > 2 && parts[1] == "img/s" ? String(parts[2]) : detail))
                                },
                                end: { events.append("end") },
                                interrupted: { advances >= 2 })
        let zeroShot = s.trainableRange(s.model, run)
        let stint = run.train(model: s.model, data: s.data, images: s.features.images, limit: nil, progress: sink)
        #expect(events == ["begin train r 5", "advance 1 loss", "advance 2 loss", "end"])
        #expect(stint.from == 0 && stint.to == 2)
        #expect(run.stepsDone == 2 && run.log.count == 2)
        #expect(run.stopReason == "interrupted (Ctrl-C) after step 2 of 5")
        #expect(run.unsaved)
        // The model is the zero-shot checkpoint again; the run keeps its own weights.
        #expect(Self.same(s.trainableRange(s.model, run), zeroShot))
        #expect(!Self.same(Self.values(run.final), zeroShot))
        // A second call continues where the first stopped and clears the reason.
        let rest = run.train(model: s.model, data: s.data, images: s.features.images, limit: nil, progress: .silent)
        #expect(rest.from == 2 && rest.to == 5 && run.stopReason == nil && run.log.map(\.record.step) == [1, 2, 3, 4, 5])
    }

    /// No run keeps a copy of the zero-shot weights: the model holds them whenever no run
    /// trains. Two runs trained on one model, one of them stopped and continued, still see
    /// θ_0 as `zeroshot` and at WiSE-FT's two ends, and their own weights as `final`.
    @Test func runsReadTheZeroShotWeightsFromTheModel() throws {
        let s = try Setup()
        defer { s.world.remove() }
        let a = try s.run("a", steps: 4), b = try s.run("b", steps: 3)
        let theta0 = s.trainableRange(s.model, a)
        _ = a.train(model: s.model, data: s.data, images: s.features.images, limit: 2, progress: .silent)
        _ = b.train(model: s.model, data: s.data, images: s.features.images, limit: nil, progress: .silent)
        _ = a.train(model: s.model, data: s.data, images: s.features.images, limit: nil, progress: .silent)
        #expect(a.stepsDone == 4 && b.stepsDone == 3 && !a.isTraining && !b.isTraining)
        #expect(Self.same(s.trainableRange(s.model, a), theta0))
        for r in [a, b] {
            #expect(!Self.same(Self.values(r.final), theta0), "\(r.name) did not move")
            #expect(Self.same(Self.values(try r.weights("zeroshot")), theta0), "\(r.name)")
            #expect(Self.values(try r.weights("wise:0")) == theta0, "\(r.name)")
            #expect(Self.values(try r.weights("wise:1")) == Self.values(r.final), "\(r.name)")
        }
        // b's final weights, spliced into the model's parameters for export.
        let full = Self.values(try b.parameters("final", model: s.model))
        #expect(Self.same(Array(full[b.trainer.range]), Self.values(b.final)))
        // The zero-shot state for export is the model's parameters as they are.
        #expect(Self.same(Self.values(try b.parameters("zeroshot", model: s.model)), Self.values(s.model.model.parameters.values.storage)))
        // A name is checked without making its values; an unknown one names what the run has.
        try a.checkWeights("zeroshot")
        try a.checkWeights("wise:0.3")
        #expect(throws: (any Error).self) { try a.checkWeights("wise:2") }
    }

    @Test func stintsAndASaveInBetweenEndBitIdenticalToOneCall() throws {
        let s = try Setup()
        defer { s.world.remove() }
        let whole = try s.run("whole", steps: 6)
        _ = whole.train(model: s.model, data: s.data, images: s.features.images, limit: nil, progress: .silent)

        let half = try s.run("half", steps: 6)
        _ = half.train(model: s.model, data: s.data, images: s.features.images, limit: 3, progress: .silent)
        #expect(half.stepsDone == 3 && half.stopReason == nil)
        let dir = s.world.root.appendingPathComponent("runs/half").path
        let hash = try FileHashes().sha256(s.model.loaded.weightsFile)
        let written = try half.save(to: dir, model: s.model, modelSHA256: hash, data: s.data, force: false)
        #expect(written == ["final.safetensors", "bma_0.5.safetensors", "ema.safetensors"])
        #expect(!half.unsaved && half.savedTo == dir)

        // A fresh model entry and feature store, as in another process.
        let other = ModelEntry(name: "tiny", loaded: try CheckpointLoader.load(path: s.world.model))
        let restored = try Run.restore(try RunStore.open(dir), requested: dir, as: "again", model: other, data: s.data,
                                       features: FeatureStore(images: BatchBuilder()))
        #expect(restored.name == "again" && restored.stepsDone == 3 && !restored.unsaved && restored.log.count == 3)
        #expect(Self.same(Self.values(restored.final), Self.values(half.final)))
        _ = restored.train(model: other, data: s.data, images: s.features.images, limit: nil, progress: .silent)
        #expect(Self.same(Self.values(restored.final), Self.values(whole.final)), "resumed from the save ends where one call ends")
        for (a, b) in zip(restored.trainer.averages, whole.trainer.averages) {
            #expect(a.label == b.label && Self.same(Self.values(a.average), Self.values(b.average)), "average \(a.label)")
        }
        #expect(restored.log.map(\.record.loss) == whole.log.map(\.record.loss))

        // A record that does not fit the data is refused, naming the file and the field.
        let renamed = s.world.root.appendingPathComponent("renamed").path
        try FileManager.default.copyItem(atPath: s.world.data, toPath: renamed)
        for domain in ["cartoon", "photo", "sketch"] {
            try FileManager.default.moveItem(atPath: renamed + "/\(domain)/tree", toPath: renamed + "/\(domain)/trees")
        }
        let other2 = DataEntry(name: "w2", dataset: try Dataset.load(root: renamed))
        #expect(throws: RunFileError.self) {
            _ = try Run.restore(try RunStore.open(dir), requested: dir, as: "x", model: other, data: other2, features: s.features)
        }
        #expect(other2.templates == ["a photo of a {}."], "a refused restore leaves the data's prompt alone")
    }

    @Test func evaluatingDuringTrainingChangesNothingAndIsSavedAndContinued() throws {
        let s = try Setup()
        defer { s.world.remove() }
        let plain = try s.run("plain", steps: 5)
        _ = plain.train(model: s.model, data: s.data, images: s.features.images, limit: nil, progress: .silent)
        let watched = try s.run("watched", steps: 5, evalEvery: 2)
        let evaluate: (Run) throws -> EvaluationResult = { r in
            s.features.forget(run: r.name)
            return try s.features.evaluate(model: s.model, data: s.data, split: r.split, run: r, state: "final", part: r.evalPart, progress: .silent)
        }
        _ = watched.train(model: s.model, data: s.data, images: s.features.images, limit: 3, progress: .silent, evaluate: evaluate)
        #expect(watched.evaluations.map(\.step) == [2])
        let dir = s.world.root.appendingPathComponent("runs/watched").path
        try watched.save(to: dir, model: s.model, modelSHA256: try FileHashes().sha256(s.model.loaded.weightsFile), data: s.data, force: false)
        let back = try Run.restore(try RunStore.open(dir), requested: dir, as: "watched", model: s.model, data: s.data, features: FeatureStore(images: BatchBuilder()))
        #expect(back.evalEvery == 2 && back.evalPart == "val" && back.evaluations == watched.evaluations)
        _ = back.train(model: s.model, data: s.data, images: s.features.images, limit: nil, progress: .silent, evaluate: evaluate)
        // Every second step and the last; the weights as if nobody had looked.
        #expect(back.evaluations.map(\.step) == [2, 4, 5] && back.evaluations.allSatisfy { $0.part == "val" && $0.images == s.split.val.count })
        #expect(Self.same(Self.values(back.final), Self.values(plain.final)))
        #expect(back.log.map(\.record.loss) == plain.log.map(\.record.loss))
        // The last evaluation is of the final weights: evaluating them afterwards agrees.
        let after = try s.features.evaluate(model: s.model, data: s.data, split: s.split, run: back, state: "final", part: "val", progress: .silent)
        #expect(after.correct == back.evaluations.last!.correct)
    }

    @Test func evaluationIsCachedPerStateAndKeptWithTheRun() throws {
        let s = try Setup()
        defer { s.world.remove() }
        let run = try s.run("r", steps: 3)
        _ = run.train(model: s.model, data: s.data, images: s.features.images, limit: nil, progress: .silent)
        var embeds = 0
        let counting = ProgressSink(begin: { label, _ in if label.hasPrefix("embedding") { embeds += 1 } }, advance: { _, _ in }, end: {}, interrupted: { false })
        let z1 = try s.features.evaluate(model: s.model, data: s.data, split: s.split, run: nil, state: "zeroshot", part: "test", progress: counting)
        let f1 = try s.features.evaluate(model: s.model, data: s.data, split: s.split, run: run, state: "final", part: "test", progress: counting)
        let z2 = try s.features.evaluate(model: s.model, data: s.data, split: s.split, run: nil, state: "zeroshot", part: "test", progress: counting)
        #expect(embeds == 2, "the second zero-shot evaluation reads the cache")
        #expect(z1.correct == z2.correct && z1.count == s.split.test.count)
        #expect(run.results.map(\.weights) == ["final"] && run.results[0].correct == f1.correct && run.results[0].step == 3)
        s.features.forget(run: "r")
        let f2 = try s.features.evaluate(model: s.model, data: s.data, split: s.split, run: run, state: "final", part: "test", progress: counting)
        #expect(embeds == 3 && f2.correct == f1.correct && f2.ece == f1.ece)
        #expect(throws: EvaluationProblem.self) {
            _ = try s.features.evaluate(model: s.model, data: s.data, split: s.split, run: run, state: "final", part: "open", progress: .silent)
        }
        let stop = ProgressSink(begin: { _, _ in }, advance: { _, _ in }, end: {}, interrupted: { true })
        #expect(throws: Interrupted.self) {
            _ = try s.features.evaluate(model: s.model, data: s.data, split: s.split, run: run, state: "ema", part: "test", progress: stop)
        }
    }
}
