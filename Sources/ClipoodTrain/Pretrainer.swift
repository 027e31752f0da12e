import ClipoodEngine
import ClipoodModel

/// Linear warm-up to the peak learning rate, then cosine annealing to 0 (CLIP's schedule).
public struct WarmupCosineSchedule: Sendable {
    public let baseLR: Double, warmupSteps: Int, totalSteps: Int
    public init(baseLR: Double, warmupSteps: Int, totalSteps: Int) {
        self.baseLR = baseLR; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }
    /// The rate used at step t (0-based).
    public func lr(atStep t: Int) -> Double {
        if t < warmupSteps { return baseLR * Double(t + 1) / Double(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps)
        return CosineSchedule(baseLR: baseLR, totalSteps: span).lr(atStep: t - warmupSteps)
    }
}

/// Contrastive pretraining of a whole CLIP from scratch (for the built-in demo model): both
/// towers and the logit scale train on batches of matched image–caption pairs, with AdamW
/// under warm-up + cosine. exp(logit_scale) is clamped at 100 after every step, as CLIP does.
public final class Pretrainer {
    public let model: CLIPModel
    public let schedule: WarmupCosineSchedule
    public let optimizer: AdamW
    public let loss: ContrastiveLoss
    public private(set) var step = 0
    /// Activation recomputation in both towers (see `TrainingConfig.checkpoint`).
    public let checkpoint: Bool
    private let scaleSlot: TensorSlot
    private var dimage = FloatBuffer(count: 0), dtext = FloatBuffer(count: 0)
    private var allImage = FloatBuffer(count: 0), allText = FloatBuffer(count: 0)
    public static let maxLogitScale = logf(100)
    /// The ranks of a data-parallel job, when this pretrainer is one of them: each rank encodes
    /// its share of the pairs, the features of the whole batch are gathered so that every rank
    /// computes the same loss over all pairs, each back-propagates its own rows, and the
    /// gradients are summed over the ranks.
    public var collectives: Collectives? = nil

    public init(model: CLIPModel, steps: Int, learningRate: Double, warmupSteps: Int, weightDecay: Double = 0.1, checkpoint: Bool = false) {
        self.model = model
        self.checkpoint = checkpoint
        schedule = WarmupCosineSchedule(baseLR: learningRate, warmupSteps: warmupSteps, totalSteps: steps)
        optimizer = AdamW(range: 0 ..< model.parameters.count, weightDecay: weightDecay)
        loss = ContrastiveLoss(dim: model.config.embedDim)
        scaleSlot = model.parameters.layout["logit_scale"]!
    }

    /// One step on B pairs: images (B, 3, S, S) normalised, captions as (B, context) token ids.
    /// Returns the loss (before the update). A non-finite loss updates nothing and throws. In
    /// a data-parallel job the B pairs are this rank's share of a step of `batch` pairs.
    @discardableResult
    public func step(pixels: UnsafePointer<Float>, ids: [Int32], B: Int, batch: Int? = nil) throws -> (loss: Float, learningRate: Double) {
        let D = model.config.embedDim, N = batch ?? B
        if dimage.count < N * D { dimage = FloatBuffer(count: N * D); dtext = FloatBuffer(count: N * D) }
        let lr = schedule.lr(atStep: step)
        model.parameters.zeroGrads()
        var img = UnsafePointer(model.vision.forward(pixels: pixels, B: B, saveForBackward: true, checkpoint: checkpoint))
        var txt = UnsafePointer(model.text.forward(ids: ids, B: B, saveForBackward: true, checkpoint: checkpoint))
        var own = 0 ..< B
        if let c = collectives {
            if allImage.count < N * D { allImage = FloatBuffer(count: N * D); allText = FloatBuffer(count: N * D) }
            try c.gatherRows(img, count: N, width: D, into: allImage.base)
            try c.gatherRows(txt, count: N, width: D, into: allText.base)
            img = UnsafePointer(allImage.base); txt = UnsafePointer(allText.base)
            own = c.share(N)
        }
        let s = model.parameters.value(scaleSlot)[0]
        let value = loss.forward(image: img, text: txt, N: N, logitScale: s)
        guard value.isFinite else { throw Trainer.Stop.nonFiniteLoss(step: step + 1, loss: value) }
        dimage.base.update(repeating: 0, count: N * D)
        dtext.base.update(repeating: 0, count: N * D)
        let ds = loss.backward(dimage: dimage.base, dtext: dtext.base, N: N)
        model.vision.backward(dfeatures: dimage.base + own.lowerBound * D, B: B, trainable: .full)
        model.text.backward(dfeatures: dtext.base + own.lowerBound * D, B: B)
        // Every rank computed the same d loss / d s; the sum over ranks must count it once.
        if (collectives?.rank ?? 0) == 0 { model.parameters.grad(scaleSlot)[0] += ds }
        let grads = model.parameters.gradients(from: 0)
        try collectives?.sum(grads, count: model.parameters.count)
        optimizer.update(params: model.parameters.values.base, rangeGrads: grads, lr: lr)
        let p = model.parameters.value(scaleSlot)
        p[0] = min(p[0], Pretrainer.maxLogitScale)
        step += 1
        return (value, lr)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
