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
    public static let maxLogitScale = logf(100)

    public init(model: CLIPModel, steps: Int, learningRate: Double, warmupSteps: Int, weightDecay: Double = 0.1, checkpoint: Bool = false) {
        self.model = model
        self.checkpoint = checkpoint
        schedule = WarmupCosineSchedule(baseLR: learningRate, warmupSteps: warmupSteps, totalSteps: steps)
        optimizer = AdamW(range: 0 ..< model.parameters.count, weightDecay: weightDecay)
        loss = ContrastiveLoss(dim: model.config.embedDim)
        scaleSlot = model.parameters.layout["logit_scale"]!
    }

    /// One step on B pairs: images (B, 3, S, S) normalised, captions as (B, context) token ids.
    /// Returns the loss (before the update). A non-finite loss updates nothing and throws.
    @discardableResult
    public func step(pixels: UnsafePointer<Float>, ids: [Int32], B: Int) throws -> (loss: Float, learningRate: Double) {
        let D = model.config.embedDim
        if dimage.count < B * D { dimage = FloatBuffer(count: B * D); dtext = FloatBuffer(count: B * D) }
        let lr = schedule.lr(atStep: step)
        model.parameters.zeroGrads()
        let img = model.vision.forward(pixels: pixels, B: B, saveForBackward: true, checkpoint: checkpoint)
        let txt = model.text.forward(ids: ids, B: B, saveForBackward: true, checkpoint: checkpoint)
        let s = model.parameters.value(scaleSlot)[0]
        let value = loss.forward(image: img, text: txt, N: B, logitScale: s)
        guard value.isFinite else { throw Trainer.Stop.nonFiniteLoss(step: step + 1, loss: value) }
        dimage.base.update(repeating: 0, count: B * D)
        dtext.base.update(repeating: 0, count: B * D)
        let ds = loss.backward(dimage: dimage.base, dtext: dtext.base, N: B)
        model.vision.backward(dfeatures: dimage.base, B: B, trainable: .full)
        model.text.backward(dfeatures: dtext.base, B: B)
        model.parameters.grad(scaleSlot)[0] += ds
        optimizer.update(params: model.parameters.values.base, grads: model.parameters.grads.base, lr: lr)
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
