import ClipoodData
import ClipoodEngine
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
    public let name: String
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

    init(name: String, modelName: String, dataName: String, split: Split, config: TrainingConfig, batchPerDomain: Int, augment: Bool,
         seed: Int, interpolation: String, tune: String, classes: [Int], trainer: Trainer, sampler: DomainSampler, augmentRNG: RNG,
         usesCache: Bool, views: Int) {
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
            guard let a = trainer.averages.first(where: { $0 is BetaMovingAverage }) else { throw MessageError("run '\(name)' kept no BMA") }
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
}

