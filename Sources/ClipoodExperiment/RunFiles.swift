import ClipoodData
import ClipoodEngine
import ClipoodModel
import ClipoodTrain
import Foundation

// A run to and from its directory: run.json (`RunRecord`), state.safetensors (`RunState`),
// log.csv (`RunLog`) and one full checkpoint per weight state, through `RunStore`.

extension Run {
    /// run.json's content: `modelSHA256` of the model's weights file, `data` the dataset the
    /// run's class ids index (nil only when it is no longer loaded: the names are then ids).
    public func record(model m: ModelEntry, modelSHA256: String, data d: DataEntry?, weightFiles: [String: String]) -> RunRecord {
        let t = trainer
        return RunRecord(
            run: name, model: m.loaded.weightsFile, modelSHA256: modelSHA256, modelFormat: m.model.format.rawValue,
            data: d?.dataset.root ?? dataName, config: config, stepsDone: stepsDone, stopped: stopReason, scale: Double(t.loss.scale),
            tune: tune, batchPerDomain: batchPerDomain, augment: augment, interpolation: interpolation, seed: seed,
            classes: classes.map { d?.dataset.classes[$0] ?? String($0) }, split: split, prompt: templates, weights: weightFiles,
            cache: usesCache, views: views, range: t.range,
            resume: RunRecord.Resume(step: t.step, sampler: sampler.state, augmentRNG: augmentRNG.state.map { String($0) },
                                     averages: Dictionary(uniqueKeysWithValues: t.averages.compactMap { $0.scalars.isEmpty ? nil : ($0.label, $0.scalars) })),
            results: results, evalEvery: evalEvery, evalPart: evalEvery == nil ? nil : evalPart, evaluations: evalEvery == nil ? nil : evaluations)
    }

    /// The checkpoint file a weight state is saved in ("bma:0.5" → "bma_0.5.safetensors").
    public static func weightFile(_ state: String) -> String { state.replacingOccurrences(of: ":", with: "_") + ".safetensors" }

    /// Saves the run to `dir` (see `RunStore.save` for when an existing directory is replaced)
    /// and returns the checkpoint files written, one per weight state but zero-shot.
    @discardableResult
    public func save(to dir: String, model m: ModelEntry, modelSHA256: String, data d: DataEntry?, force: Bool) throws -> [String] {
        var files: [(name: String, write: (String) throws -> Void)] = []
        var weightFiles: [String: String] = [:]
        for state in stateNames where state != "zeroshot" {
            let file = Run.weightFile(state)
            weightFiles[state] = file
            files.append((file, { path in
                let full = try self.parameters(state, model: m)
                try CheckpointWriter.write(m.model, values: full.base, metadata: ["clipood.run": self.name, "clipood.weights": state], to: path)
            }))
        }
        let record = record(model: m, modelSHA256: modelSHA256, data: d, weightFiles: weightFiles)
        files.append((RunStore.logFile, { try Data(self.logCSV().utf8).write(to: URL(fileURLWithPath: $0)) }))
        files.append((RunStore.stateFile, { try RunState.write(run: self.name, trainer: self.trainer, final: self.final, to: $0) }))
        files.append((RunStore.recordFile, { try record.encoded().write(to: URL(fileURLWithPath: $0)) }))
        try RunStore.save(to: dir, run: name, force: force, files: files)
        savedTo = dir
        unsaved = false
        return files.map(\.name).filter { $0.hasSuffix(".safetensors") && $0 != RunStore.stateFile }
    }

    /// The run of an opened run directory (`requested` is the path the user gave, where the
    /// run counts as saved), on `model` and `data` (the caller found them from
    /// the record and checked the model's hash), named `name`: every field that must fit the
    /// model and data is checked against them first, then the run is rebuilt and its state,
    /// sampler, generator and log restored, so that training continues bit-identically. The
    /// model keeps its zero-shot weights. Errors name the file and the field.
    public static func restore(_ opened: RunStore.Opened, requested: String, as name: String, model m: ModelEntry, data d: DataEntry, features: FeatureStore) throws -> Run {
        let rec = opened.record, file = opened.dir + "/" + RunStore.recordFile
        do { try rec.split.validate(against: d.dataset) } catch {
            throw RunFileError(file, field: "split", "does not fit the data in \(d.dataset.root): \(error)")
        }
        guard let trainable = TuneSpec.parse(rec.tune, layers: m.model.config.vision.layers) else {
            throw RunFileError(file, field: "tune", "is '\(rec.tune)', which model '\(m.name)' (\(m.model.config.vision.layers) blocks) cannot train")
        }
        let range = m.model.trainableRange(trainable)
        guard rec.range == [range.lowerBound, range.upperBound] else {
            throw RunFileError(file, field: "range", "is \(rec.range), but tune=\(rec.tune) of model '\(m.name)' trains [\(range.lowerBound), \(range.upperBound))")
        }
        let classIDs = rec.split.baseClasses.isEmpty ? Array(0 ..< d.dataset.classes.count) : rec.split.baseClasses
        guard rec.classes == classIDs.map({ d.dataset.classes[$0] }) else {
            throw RunFileError(file, field: "classes", "does not match the split's training classes in \(d.dataset.root)")
        }
        guard let rng = RNG(state: rec.resume.augmentRNG.compactMap { UInt64($0) }) else {
            throw RunFileError(file, field: "resume.augment_rng", "is not a valid generator state")
        }
        // The run's text features come from its own prompt, so a resumed run continues exactly;
        // the data keeps that prompt when the run loads.
        let previousTemplates = d.templates
        d.templates = rec.prompt
        do {
            let run = try Run(name: name, model: m, data: d, split: rec.split, config: rec.trainingConfig(trainable: trainable),
                              batchPerDomain: rec.batchPerDomain, augment: rec.augment, seed: rec.seed, interpolation: rec.interpolation,
                              tune: rec.tune, cache: rec.cache, views: rec.views, evalEvery: rec.evalEvery, evalPart: rec.evalPart ?? "val",
                              features: features)
            let state = try RunState.read(opened.dir + "/" + RunStore.stateFile, count: range.count, step: rec.resume.step,
                                          averageLabels: run.trainer.averages.map(\.label))
            do {
                try run.trainer.restore(step: state.step, m: state.adamM, v: state.adamV, averages: state.averages, scalars: rec.resume.averages)
            } catch { throw RunFileError(file, field: "resume.averages", "\(error)") }
            // The model keeps its zero-shot weights; the run keeps its own in `final`.
            state.final.withUnsafeBufferPointer { run.final.base.update(from: $0.baseAddress!, count: range.count) }
            do {
                run.sampler = try DomainSampler(trainIndicesByDomain: rec.split.trainByDomain(d.dataset).filter { !$0.isEmpty }, state: rec.resume.sampler)
            } catch { throw RunFileError(file, field: "resume.sampler", "\(error)") }
            run.augmentRNG = rng
            run.log = try RunLog.read(opened.dir + "/" + RunStore.logFile, steps: rec.stepsDone)
            run.stopReason = rec.stopped
            run.results = rec.results
            run.evaluations = rec.evaluations ?? []
            run.savedTo = requested
            run.unsaved = opened.recoveredFrom != nil
            return run
        } catch {
            d.templates = previousTemplates
            throw error
        }
    }
}
