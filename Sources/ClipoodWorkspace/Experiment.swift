import ClipoodData
import ClipoodEngine
import ClipoodExperiment
import ClipoodModel
import ClipoodTrain
import Foundation

/// A dataset in the workspace with its current split and prompt templates.
public final class DataEntry {
    public let name: String
    public var dataset: Dataset
    public var split: Split?
    public var templates: [String] = ["a photo of a {}."]
    public var skipped: [String] = []

    init(name: String, dataset: Dataset) {
        self.name = name
        self.dataset = dataset
    }

    /// The prompts of one class: every template with `{}` replaced by the class's display name.
    func prompts(forClass c: Int) -> [String] {
        templates.map { $0.replacingOccurrences(of: "{}", with: dataset.classNames[c]) }
    }
}

/// One `train`: its settings, split, log and weights (the trainable range only; the rest of the
/// model is the frozen zero-shot checkpoint it started from).
public final class Run {
    public internal(set) var name: String
    public let modelName: String
    public let dataName: String
    public let split: Split
    public let config: TrainingConfig
    public let batchPerDomain: Int
    public let augment: Bool
    public let seed: Int
    public let interpolation: String
    public let tune: String
    /// Dataset class ids trained on (the MMS class set), in order.
    public let classes: [Int]
    public let trainer: Trainer
    public internal(set) var log: [(record: StepRecord, seconds: Double)] = []
    /// Why the run ended early, if it did.
    public internal(set) var stopReason: String?
    /// Snapshot of the trainable range after the last completed step.
    public internal(set) var final: FloatBuffer
    /// Where the batches and augmentations continue from (saved with the run, for resume).
    var sampler: DomainSampler
    var augmentRNG: RNG
    let usesCache: Bool
    let views: Int
    var cache: PrefixCache?
    /// The prompt templates the run's text features (its MMS class weights) were made from.
    public let templates: [String]
    /// Evaluations computed so far (kept in run.json), by "weights|part".
    public internal(set) var results: [ResultRecord] = []
    /// Where the run was last saved or loaded from, and whether it changed since.
    public internal(set) var savedTo: String?
    public internal(set) var unsaved = true

    init(name: String, modelName: String, dataName: String, split: Split, config: TrainingConfig, batchPerDomain: Int, augment: Bool,
         seed: Int, interpolation: String, tune: String, classes: [Int], trainer: Trainer, sampler: DomainSampler, augmentRNG: RNG,
         usesCache: Bool, views: Int, templates: [String]) {
        self.templates = templates
        self.name = name; self.modelName = modelName; self.dataName = dataName; self.split = split; self.config = config
        self.batchPerDomain = batchPerDomain; self.augment = augment; self.seed = seed; self.interpolation = interpolation
        self.tune = tune; self.classes = classes; self.trainer = trainer
        self.sampler = sampler; self.augmentRNG = augmentRNG; self.usesCache = usesCache; self.views = views
        final = FloatBuffer(count: trainer.range.count)
        final.copy(from: trainer.zeroShot)
    }

    public var stepsDone: Int { trainer.step }

    /// Weight states this run can be evaluated with: zeroshot, final, every average, wise:α.
    public var stateNames: [String] { ["zeroshot", "final"] + trainer.averages.map(\.label) }

    /// The trainable-range values for a state name ("final", "bma", "bma:0.1", "ema", "swa", "zeroshot", "wise:0.5").
    func weights(_ state: String) throws -> FloatBuffer {
        switch state {
        case "final": return final
        case "zeroshot": return trainer.zeroShot
        case "bma":
            guard let a = trainer.averages.first(where: { $0.label.hasPrefix("bma:") }) else { throw MessageError("run '\(name)' kept no BMA") }
            return a.average
        default:
            if state.hasPrefix("wise:"), let alpha = Float(state.dropFirst(5)), alpha >= 0, alpha <= 1 {
                let out = FloatBuffer(count: final.count)
                wiseInterpolate(zeroShot: trainer.zeroShot.base, final: final.base, alpha: alpha, count: final.count, into: out.base)
                return out
            }
            if let a = trainer.average(state) { return a.average }
            throw MessageError("run '\(name)' has no weights '\(state)' (it has: \(stateNames.joined(separator: ", ")), wise:ALPHA)")
        }
    }

    /// Keeps an evaluation of `weights` on `part` at the current step (replacing an earlier one of
    /// the same weights and part). Results can be recomputed, so they do not make a run unsaved.
    func remember(_ r: EvaluationResult, weights: String, part: String) {
        let record = ResultRecord(weights: weights, part: part, step: stepsDone, images: r.count, correct: r.correct, ece: r.ece.isFinite ? min(max(r.ece, 0), 1) : 0)
        if let i = results.firstIndex(where: { $0.weights == weights && $0.part == part }) {
            results[i] = record
        } else {
            results.append(record)
        }
    }
}

extension Workspace {
    /// The SHA-256 of a model's weights file, computed once per file version (size and mtime).
    func modelHash(_ path: String) throws -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let stamp = "\((attributes?[.size] as? NSNumber)?.intValue ?? -1)|\((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        if let (s, h) = modelHashes[path], s == stamp { return h }
        let h = try SHA256.file(path).hash
        modelHashes[path] = (stamp, h)
        return h
    }

    /// run.json's content for a run.
    func runRecord(_ run: Run, model m: ModelEntry, weightFiles: [String: String]) throws -> RunRecord {
        let t = run.trainer
        let d = datasets[run.dataName]
        return RunRecord(
            run: run.name, model: m.loaded.weightsFile, modelSHA256: try modelHash(m.loaded.weightsFile), modelFormat: m.model.format.rawValue,
            data: d?.dataset.root ?? run.dataName, config: run.config, stepsDone: run.stepsDone, stopped: run.stopReason, scale: Double(t.loss.scale),
            tune: run.tune, batchPerDomain: run.batchPerDomain, augment: run.augment, interpolation: run.interpolation, seed: run.seed,
            classes: run.classes.map { d?.dataset.classes[$0] ?? String($0) }, split: run.split, prompt: run.templates, weights: weightFiles,
            cache: run.usesCache, views: run.views, range: t.range,
            resume: RunRecord.Resume(step: t.step, sampler: run.sampler.state, augmentRNG: run.augmentRNG.state.map { String($0) },
                                     averages: Dictionary(uniqueKeysWithValues: t.averages.compactMap { $0.scalars.isEmpty ? nil : ($0.label, $0.scalars) })),
            results: run.results)
    }
}

/// The `split` arguments that make this split again ("target=sketch seed=0").
func splitArguments(_ spec: SplitSpec) -> String {
    var words: [String] = []
    if !spec.targets.isEmpty { words.append("target=" + spec.targets.joined(separator: ",")) }
    words.append("holdout=\(spec.holdout)")
    if let r = spec.openRatio { words.append("open=\(r)") }
    if let n = spec.shots { words.append("shots=\(n)") }
    words.append("seed=\(spec.seed)")
    if spec.testScope != .wholeTarget { words.append("test=holdout") }
    return words.joined(separator: " ")
}
