import ClipoodData
import ClipoodDistributed
import ClipoodEngine
import ClipoodIO
import ClipoodModel
import ClipoodTrain
import Foundation

/// One fine-tuning run: its settings, split, log, weights (the trainable range only; the rest of
/// the model is the frozen zero-shot checkpoint it started from), the state it continues from,
/// and the evaluations computed so far. The model and data it refers to are named, and hashed
/// when it is saved; the training loop is in TrainingLoop.swift, saving and loading in
/// RunFiles.swift.
public final class Run {
    public private(set) var name: String
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
    /// The trainable range after the last completed step. While `train` runs, the model holds
    /// these weights and `final` holds the zero-shot ones (swapped, not copied: no run keeps a
    /// copy of the zero-shot weights; the model's own parameters are them whenever no run is
    /// training).
    public internal(set) var final: FloatBuffer
    /// Whether `train` is taking steps (the model holds this run's weights).
    public internal(set) var isTraining = false
    /// Where the batches and augmentations continue from (saved with the run, for resume).
    var sampler: DomainSampler
    var augmentRNG: RNG
    public let usesCache: Bool
    public let views: Int
    var cache: PrefixCache?
    /// The prompt templates the run's text features (its MMS class weights) were made from.
    public let templates: [String]
    /// Evaluations computed so far (kept in run.json), by weights and part.
    public internal(set) var results: [ResultRecord] = []
    /// Evaluation during training: the final weights on `evalPart` every `evalEvery` steps (and
    /// at the last step), kept in step order.
    public let evalEvery: Int?
    public let evalPart: String
    public internal(set) var evaluations: [ResultRecord] = []
    /// Where the run was last saved or loaded from, and whether it changed since.
    public internal(set) var savedTo: String?
    public internal(set) var unsaved = true

    /// A new run of `config` on `data`'s `split`, starting from `model`'s weights: checks that
    /// a step fits in memory, makes the MMS class weights from the data's prompt (through
    /// `features`' cache) and seeds the sampler and augmentation streams from `seed`.
    public init(name: String, model m: ModelEntry, data d: DataEntry, split: Split, config: TrainingConfig, batchPerDomain: Int, augment: Bool,
                seed: Int, interpolation: String, tune: String, cache: Bool, views: Int, evalEvery: Int? = nil, evalPart: String = "val",
                features: FeatureStore) throws {
        let classes = split.baseClasses.isEmpty ? Array(0 ..< d.dataset.classes.count) : split.baseClasses
        let byDomain = split.trainByDomain(d.dataset).filter { !$0.isEmpty }
        try MemoryEstimate.trainingStep(m.model.config, trainableCount: m.model.trainableRange(config.trainable).count,
                                        trainable: config.trainable, batch: MemoryEstimate.times(batchPerDomain, byDomain.count), classes: classes.count,
                                        averages: config.averages.count, cachedViews: cache ? MemoryEstimate.times(split.train.count, views) : 0,
                                        checkpoint: config.checkpoint)
            .require(for: "training '\(name)' (batch \(batchPerDomain) × \(byDomain.count) domains)", hint: "use a smaller batch=" + (cache ? ", fewer views= or cache=off" : "") + (config.checkpoint ? "" : "; checkpoint=on needs less"))
        let text = try features.textFeatures(model: m, data: d, classes: classes)
        trainer = Trainer(model: m.model, textFeatures: text, classes: classes.count, config: config)
        let cluster = Cluster.current
        if cluster.isDistributed {
            let batch = batchPerDomain * byDomain.count
            guard batch >= cluster.size else {
                throw MessageError("a step of \(batch) images cannot be shared by \(cluster.size) ranks; use batch= ≥ \((cluster.size + byDomain.count - 1) / byDomain.count) or fewer ranks")
            }
            trainer.collectives = cluster
            try JobAgreement.checkRun(model: m, data: d, split: split)
        }
        self.name = name; modelName = m.name; dataName = d.name; self.split = split; self.config = config
        self.batchPerDomain = batchPerDomain; self.augment = augment; self.seed = seed; self.interpolation = interpolation
        self.tune = tune; self.classes = classes; templates = d.templates
        sampler = DomainSampler(trainIndicesByDomain: byDomain, batchPerDomain: batchPerDomain, rng: RNG(seed: seed).derived("sampler"))
        augmentRNG = RNG(seed: seed).derived("augment")
        usesCache = cache; self.views = views
        self.evalEvery = evalEvery; self.evalPart = evalPart
        final = FloatBuffer(count: trainer.range.count)
        final.base.update(from: zeroShotWeights, count: trainer.range.count)
    }

    /// θ_0, the trainable range before any step (for WiSE-FT and `zeroshot`): the model's own
    /// parameters, which hold the zero-shot weights whenever no run is training.
    var zeroShotWeights: UnsafePointer<Float> {
        precondition(!isTraining, "run '\(name)': the zero-shot weights are swapped out while it trains")
        return UnsafePointer(trainer.model.parameters.values.base + trainer.range.lowerBound)
    }

    public var stepsDone: Int { trainer.step }
    /// Images per step: `batchPerDomain` from each training domain.
    public var batchSize: Int { sampler.batchSize }

    /// Weight states this run can be evaluated with: zeroshot, final, every average, wise:α.
    public var stateNames: [String] { ["zeroshot", "final"] + trainer.averages.map(\.label) }

    /// The states `compare` and `ablate` score, with their row labels: the final weights, every
    /// average, and WiSE-FT halfway between zero-shot and final.
    public var comparedStates: [(label: String, state: String)] {
        let kind = config.lambda == 0 ? "CE" : "MMS λ=\(config.lambda)"
        return [("final (\(kind))", "final")] + trainer.averages.map { ($0.label, $0.label) } + [("wise:0.5", "wise:0.5")]
    }

    /// What a weight-state name stands for, before any values are made.
    enum WeightState {
        case final, zeroShot
        /// An average's own buffer.
        case average(FloatBuffer)
        /// WiSE-FT: (1 − α)·zero-shot + α·final.
        case wise(Float)
    }

    /// The state a name ("final", "bma", "bma:0.1", "ema", "swa", "zeroshot", "wise:0.5") stands
    /// for; an error names the states the run has.
    func resolve(_ state: String) throws -> WeightState {
        switch state {
        case "final": return .final
        case "zeroshot": return .zeroShot
        case "bma":
            guard let a = trainer.averages.first(where: { $0.label.hasPrefix("bma:") }) else { throw MessageError("run '\(name)' kept no BMA") }
            return .average(a.average)
        default:
            if state.hasPrefix("wise:"), let alpha = Float(state.dropFirst(5)), alpha >= 0, alpha <= 1 { return .wise(alpha) }
            if let a = trainer.average(state) { return .average(a.average) }
            throw MessageError("run '\(name)' has no weights '\(state)' (it has: \(stateNames.joined(separator: ", ")), wise:ALPHA)")
        }
    }

    /// Throws what `weights` would for a name, without making the values (zero-shot and WiSE-FT
    /// states are copies as large as the trainable range).
    public func checkWeights(_ state: String) throws { _ = try resolve(state) }

    /// The trainable-range values for a state name (see `resolve`).
    public func weights(_ state: String) throws -> FloatBuffer { values(try resolve(state)) }

    /// The trainable-range values of a resolved state.
    func values(_ state: WeightState) -> FloatBuffer {
        switch state {
        case .final:
            precondition(!isTraining, "run '\(name)': its final weights are in the model while it trains")
            return final
        case .zeroShot:
            let out = FloatBuffer(count: final.count)
            out.base.update(from: zeroShotWeights, count: final.count)
            return out
        case .average(let values):
            return values
        case .wise(let alpha):
            let out = FloatBuffer(count: final.count)
            wiseInterpolate(zeroShot: zeroShotWeights, final: final.base, alpha: alpha, count: final.count, into: out.base)
            return out
        }
    }

    /// A full parameter buffer: `model`'s (zero-shot) parameters with a state of this run spliced
    /// in (for the zero-shot state, the model's parameters as they are).
    public func parameters(_ state: String, model m: ModelEntry) throws -> FloatBuffer {
        let resolved = try resolve(state)
        let full = FloatBuffer(count: m.model.parameters.count)
        full.copy(from: m.model.parameters.values.storage)
        if case .zeroShot = resolved { return full }
        (full.base + trainer.range.lowerBound).update(from: values(resolved).base, count: trainer.range.count)
        return full
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

    /// Gives the run another name (the caller checks that it is free).
    public func rename(to newName: String) {
        name = newName
        unsaved = true
    }

    /// The log as CSV (log.csv of a saved run, `export log`), with the share of each step in
    /// the first average that weighs steps unevenly.
    public func logCSV() -> String {
        let first = trainer.averages.first { $0.share(ofStep: 0) != nil }
        return RunLog.csv(log) { first?.share(ofStep: $0) }
    }
}
