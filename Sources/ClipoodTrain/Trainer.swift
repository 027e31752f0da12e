import ClipoodEngine
import ClipoodModel

/// The hyper-parameters of one CLIPood fine-tuning run (the paper's §3; docs/ARCHITECTURE.md).
extension TrainingConfig {
    /// The peak learning rate when none is given, one rule for `train` and `ablate`: the paper's
    /// 5e-6 for CLIP-size image towers (width ≥ 512: ViT-B/32, B/16, L/14), where larger steps
    /// wash out what zero-shot CLIP knows; 1e-4 for small towers such as the demo model, which
    /// 5e-6 barely moves in a few hundred steps.
    public static func defaultLearningRate(visionWidth: Int) -> Double { visionWidth >= 512 ? 5e-6 : 1e-4 }
}

public struct TrainingConfig: Equatable, Sendable {
    public var steps: Int
    public var learningRate: Double = 5e-6
    public var weightDecay: Double = 0.1
    /// MMS margin strength; 0 is the plain cross-entropy baseline.
    public var lambda: Float = 0.3
    /// The weight averages kept during the run, in order (kinds from `WeightAverageKind.all`).
    public var averages: [AverageChoice] = WeightAverageKind.defaults
    /// Betas of the Beta moving averages among them.
    public var betas: [Double] { averages.filter { $0.kind == "bma" }.compactMap(\.value) }
    /// Logit scale s; nil means exp(logit_scale) of the checkpoint.
    public var scale: Float? = nil
    public var trainable: VisionTower.Trainable = .full
    /// Activation recomputation: keep only each trained block's input and recompute the block
    /// during backward (the same gradients; less memory for about a third more compute).
    public var checkpoint = false

    public init(steps: Int) { self.steps = steps }
}

/// One optimisation step's record (a row of the run log).
public struct StepRecord: Equatable, Sendable {
    public let step: Int
    public let loss: Float
    public let accuracy: Float
    public let learningRate: Double

    public init(step: Int, loss: Float, accuracy: Float, learningRate: Double) {
        self.step = step; self.loss = loss; self.accuracy = accuracy; self.learningRate = learningRate
    }
}

/// Runs CLIPood's update on a model's image tower: MMS loss → backward through the trainable
/// part → AdamW with cosine annealing → every weight average. The text side is frozen: its
/// features come in once. All state (parameters, moments, averages) is fp32 and flat.
public final class Trainer {
    public let model: CLIPModel
    public let config: TrainingConfig
    public let loss: MMSLoss
    public let range: Range<Int>
    public let optimizer: AdamW
    public let schedule: CosineSchedule
    public private(set) var averages: [WeightAverage] = []
    public private(set) var step = 0
    /// With tune=last1 from cached streams, run the last block for the class token only (exact).
    public var classTokenShortcut = true
    /// The ranks of a data-parallel job, when this trainer is one of them: each step then gets
    /// this rank's share of the batch, and the loss, counts and gradients are summed over the
    /// ranks before the update, which every rank applies alike.
    public var collectives: Collectives? = nil
    /// Where each image-tower block's parameters start in the flat buffer (nil: not contiguous,
    /// and the gradients are summed in one piece after the backward pass).
    private lazy var blockStarts = GradientBuckets.blockStarts(model.parameters.layout, layers: model.config.vision.layers)
    private var dfeatures = FloatBuffer(count: 0)

    public init(model: CLIPModel, textFeatures: FloatBuffer, classes: Int, config: TrainingConfig) {
        self.model = model
        self.config = config
        let D = model.config.embedDim
        loss = MMSLoss(textFeatures: textFeatures, classes: classes, dim: D, lambda: config.lambda, scale: config.scale ?? model.logitScale)
        range = model.trainableRange(config.trainable)
        optimizer = AdamW(range: range, weightDecay: config.weightDecay)
        schedule = CosineSchedule(baseLR: config.learningRate, totalSteps: config.steps)
        let params = model.parameters.values.base
        averages = config.averages.map { WeightAverageKind.make($0, steps: config.steps, range: range, initial: params) }
    }

    /// Why training stopped before its last step.
    public enum Stop: Error, CustomStringConvertible, Equatable {
        case nonFiniteLoss(step: Int, loss: Float)
        case nonFiniteGradient(step: Int)
        public var description: String {
            switch self {
            case .nonFiniteLoss(let s, let l): return "the loss is \(l) at step \(s); training stopped there, keeping the weights and averages of step \(s - 1)"
            case .nonFiniteGradient(let s): return "a gradient is NaN or infinite at step \(s); training stopped there, keeping the weights and averages of step \(s - 1)"
            }
        }
    }

    /// One step on a batch of B normalised images (B, 3, S, S) with labels. A non-finite loss
    /// or gradient throws `Stop` before anything is updated, so the weights, the optimiser and
    /// every average stay those of the last good step. In a data-parallel job the B images are
    /// this rank's share of a step of `batch` images.
    @discardableResult
    public func step(pixels: UnsafePointer<Float>, labels: [Int32], B: Int, batch: Int? = nil) throws -> StepRecord {
        try step(labels: labels, B: B, batch: batch ?? B) { model.vision.forward(pixels: pixels, B: B, saveForBackward: true, keepFrom: firstTrainableLayer, checkpoint: config.checkpoint) }
    }

    /// The first block that gets gradients under `config.trainable` (the layer count for `proj`).
    public var firstTrainableLayer: Int { config.trainable.firstBlock(layers: model.config.vision.layers) }

    /// The same step from cached residual streams (B, T, W) entering block `firstTrainableLayer`,
    /// as `VisionTower.prefix` computes them: the frozen prefix is not run again. Identical to
    /// `step(pixels:…)` on the pixels the streams came from, up to float rounding.
    @discardableResult
    public func step(streams: UnsafePointer<Float>, labels: [Int32], B: Int, batch: Int? = nil) throws -> StepRecord {
        precondition(config.trainable != .full, "Trainer: cached streams need a frozen prefix (tune=lastK or proj)")
        if config.trainable == .lastBlocks(1) && classTokenShortcut {
            // Exact shortcut: only the class token of the last block reaches the loss.
            return try step(labels: labels, B: B, batch: batch ?? B) { model.vision.forwardClassToken(stream: streams, B: B) }
        }
        return try step(labels: labels, B: B, batch: batch ?? B) { model.vision.forward(stream: streams, fromLayer: firstTrainableLayer, B: B, saveForBackward: true, checkpoint: config.checkpoint) }
    }

    private func step(labels: [Int32], B: Int, batch: Int, forward: () -> UnsafeMutablePointer<Float>) throws -> StepRecord {
        precondition(step < config.steps, "Trainer: all \(config.steps) steps are done")
        let D = model.config.embedDim
        if dfeatures.count < B * D { dfeatures = FloatBuffer(count: B * D) }
        let lr = schedule.lr(atStep: step)
        model.parameters.zeroGrads(range)
        let features = forward()
        let total = loss.forwardTotal(features: features, labels: labels, B: B)
        var sums = [total, Double(zip(loss.predictions(B: B), labels).filter { $0 == $1 }.count)]
        try collectives?.sum(&sums)
        let value = Float(sums[0] / Double(batch))
        guard value.isFinite else { throw Stop.nonFiniteLoss(step: step + 1, loss: value) }
        dfeatures.base.update(repeating: 0, count: B * D)
        loss.backward(dfeatures: dfeatures.base, B: B, over: batch)
        // Data parallel: each block's gradients start summing over the ranks as soon as the
        // backward pass is done with it; the rest (and the wait) follow the backward pass.
        let buckets = collectives.map {
            GradientBuckets(collectives: $0, rangeGradients: model.parameters.gradients(from: range.lowerBound), range: range, blockStarts: blockStarts ?? [])
        }
        model.vision.backward(dfeatures: dfeatures.base, B: B, trainable: config.trainable, blockDone: buckets?.blockDone)
        try buckets?.finish()
        let grads = model.parameters.gradients(from: range.lowerBound)
        guard allFinite(grads, count: range.count) else { throw Stop.nonFiniteGradient(step: step + 1) }
        optimizer.update(params: model.parameters.values.base, rangeGrads: grads, lr: lr)
        step += 1
        for a in averages { a.observe(step: step, params: model.parameters.values.base) }
        return StepRecord(step: step, loss: value, accuracy: Float(sums[1] / Double(batch)), learningRate: lr)
    }

    /// Puts the trainer back to the state of a saved run after `step` steps: Adam's moments and
    /// every average (each restoring its own scalars). The weights themselves are the caller's
    /// to place (a run keeps them beside the model, which holds the zero-shot weights).
    public func restore(step: Int, m: [Float], v: [Float], averages saved: [String: [Float]], scalars: [String: [String: Double]]) throws {
        guard step >= 0, step <= config.steps, m.count == range.count, v.count == range.count else {
            throw MessageError("saved state does not fit this run (moments of \(m.count) and \(v.count) values for a range of \(range.count), step \(step) of \(config.steps))")
        }
        for a in averages {
            guard let values = saved[a.label], values.count == range.count else { throw MessageError("saved state lacks the average '\(a.label)'") }
            try a.restore(scalars: scalars[a.label] ?? [:], step: step)
            values.withUnsafeBufferPointer { a.average.base.update(from: $0.baseAddress!, count: range.count) }
        }
        optimizer.restore(step: step, m: m, v: v)
        self.step = step
    }

    /// The average with this label ("bma:0.5", "ema", "swa").
    public func average(_ label: String) -> WeightAverage? { averages.first { $0.label == label } }
}



