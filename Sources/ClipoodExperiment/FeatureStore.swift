import ClipoodData
import ClipoodDistributed
import ClipoodEngine
import ClipoodImage
import ClipoodModel
import ClipoodTrain
import Foundation

/// The evaluation pipeline: text features of a class set under a prompt, image features of a
/// split part under a run's weight state — both cached — and `evaluate`, which scores one
/// against the other and keeps the result with the run.
public final class FeatureStore {
    /// Decoded images shared with training (a memory-bounded cache).
    public let images: BatchBuilder
    private var text: [TextKey: FloatBuffer] = [:]
    private var image: [ImageKey: FloatBuffer] = [:]

    private struct TextKey: Hashable {
        let model: String, data: String, templates: [String], classes: [Int]
    }
    /// `run` is nil for the zero-shot model. Keyed by the indices themselves (a hash and the
    /// count), so a part that changed with the same size is not mistaken for the old one.
    private struct ImageKey: Hashable {
        let model: String, data: String, run: String?, state: String, part: String, count: Int, indexHash: UInt64, interpolation: Interpolation
    }

    public init(images: BatchBuilder) { self.images = images }

    /// Forgets the image features of one run (its weights changed, or it is gone).
    public func forget(run: String) { image = image.filter { $0.key.run != run } }
    /// Forgets the zero-shot image features (their part changed).
    public func forgetZeroShot() { image = image.filter { $0.key.run != nil } }
    /// Forgets every image feature (the split or the matrix backend changed).
    public func forgetImages() { image.removeAll() }
    /// Forgets every text feature (a prompt changed, or the matrix backend).
    public func forgetText() { text.removeAll() }

    /// Class ids a part is scored among.
    public static func classSet(part: String, split: Split, classCount: Int) -> [Int] {
        switch part {
        case "open": return split.openClasses
        case "test": return split.testClasses
        default: return split.baseClasses.isEmpty ? Array(0 ..< classCount) : split.baseClasses
        }
    }

    /// The dataset indices of a part ("test", "val", "open", "train").
    public static func indices(part: String, split: Split) -> [Int] {
        switch part {
        case "val": return split.val
        case "open": return split.open
        case "train": return split.train
        default: return split.test
        }
    }

    /// Normalised, template-averaged text features (K, D) of `classes`, cached per model and prompt.
    public func textFeatures(model m: ModelEntry, data d: DataEntry, classes: [Int]) throws -> FloatBuffer {
        let key = TextKey(model: m.name, data: d.name, templates: d.templates, classes: classes)
        if let t = text[key] { return t }
        let tokenizer = try m.tokenizer()
        let D = m.model.config.embedDim, ctx = m.model.config.text.contextLength, nT = d.templates.count
        let out = FloatBuffer(count: classes.count * D)
        let norms = FloatBuffer(count: nT), one = FloatBuffer(count: nT * D)
        for (k, c) in classes.enumerated() {
            let ids = tokenizer.tokenize(d.prompts(forClass: c), contextLength: ctx)
            let f = m.model.text.forward(ids: ids, B: nT)
            L2Normalize.forward(out: one.base, norms: norms.base, inp: f, N: nT, C: D)
            let row = out.base + k * D
            for t in 0 ..< nT { for i in 0 ..< D { row[i] += one.base[t * D + i] } }
        }
        let n2 = FloatBuffer(count: classes.count)
        L2Normalize.forward(out: out.base, norms: n2.base, inp: out.base, N: classes.count, C: D)
        text[key] = out
        return out
    }

    /// Image features (N, D) of a split part under a run's weight state, batched and cached.
    public func imageFeatures(model m: ModelEntry, data d: DataEntry, indices: [Int], run: Run?, state: String, part: String,
                              interpolation: Interpolation, progress: ProgressSink) throws -> FloatBuffer {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in indices { hash = (hash ^ UInt64(truncatingIfNeeded: i)) &* 0x100_0000_01b3 }
        let key = ImageKey(model: m.name, data: d.name, run: run?.name, state: run == nil ? "zeroshot" : state, part: part,
                           count: indices.count, indexHash: hash, interpolation: interpolation)
        if let f = image[key] { return f }
        let S = m.model.config.vision.imageSize, D = m.model.config.embedDim
        let batch = 32
        try MemoryEstimate.evaluation(m.model.config, images: indices.count, classes: d.dataset.classes.count, batch: batch,
                                      trainableCount: run?.trainer.range.count ?? 0).require(for: "embedding \(part) (\(indices.count) images)")
        let out = FloatBuffer(count: indices.count * D)
        let pixels = FloatBuffer(count: batch * 3 * S * S)
        var rng = RNG(seed: 0)   // unused by the eval transform
        // In an MPI job the batches are dealt out to the ranks in turn (each batch computed as
        // one process computes it) and the features summed over the ranks (the rows a rank did
        // not compute are zeros), so every rank holds the one-process features.
        let cluster = Cluster.current
        try withWeights(m, run: run, state: state) {
            progress.begin("embedding \(part)", indices.count)
            var start = 0, number = 0
            while start < indices.count {
                if try cluster.anyRank(progress.interrupted()) { progress.end(); throw Interrupted("interrupted (Ctrl-C) while embedding \(part)") }
                let b = min(batch, indices.count - start)
                if cluster.owns(number) {
                    try images.pixels(for: Array(indices[start ..< start + b]), in: d.dataset, size: S, augment: false,
                                      interpolation: interpolation, rng: &rng, into: pixels.base)
                    let f = m.model.vision.forward(pixels: pixels.base, B: b)
                    (out.base + start * D).update(from: f, count: b * D)
                }
                start += b
                number += 1
                progress.advance(start, "")
            }
            try cluster.allreduceSum(out.base, count: out.count)
        }
        image[key] = out
        return out
    }

    /// Runs `body` with a run's weight state in the model's trainable range, then restores it.
    /// The model already holds the zero-shot weights, and, while the run trains, its "final" ones.
    public func withWeights(_ m: ModelEntry, run: Run?, state: String, _ body: () throws -> Void) throws {
        guard let run, state != "zeroshot", !(run.isTraining && state == "final") else { try body(); return }
        let weights = try run.weights(state)
        let range = run.trainer.range
        let params = m.model.parameters.values.base + range.lowerBound
        let saved = FloatBuffer(count: range.count)
        saved.base.update(from: params, count: range.count)
        params.update(from: weights.base, count: range.count)
        defer { params.update(from: saved.base, count: range.count) }
        try body()
    }

    /// Scores `run`'s weight `state` (the zero-shot model when `run` is nil) on `part` of
    /// `split`, and keeps the result with the run. A part that is empty or has images of
    /// classes outside its class set is an `EvaluationProblem`.
    public func evaluate(model m: ModelEntry, data d: DataEntry, split: Split, run: Run?, state: String, part: String,
                         progress: ProgressSink) throws -> EvaluationResult {
        let idx = FeatureStore.indices(part: part, split: split)
        guard !idx.isEmpty else { throw EvaluationProblem("the split has no '\(part)' part" + (part == "open" ? " (use split open=RATIO)" : "")) }
        let classes = FeatureStore.classSet(part: part, split: split, classCount: d.dataset.classes.count)
        let text = try textFeatures(model: m, data: d, classes: classes)
        let interp = Interpolation(rawValue: run?.interpolation ?? "bicubic") ?? .bicubic
        let feats = try imageFeatures(model: m, data: d, indices: idx, run: run, state: state, part: part, interpolation: interp, progress: progress)
        let labels = try FeatureStore.labels(of: idx, among: classes, data: d, part: part)
        let scale = run?.trainer.loss.scale ?? m.model.logitScale
        let result = Evaluation.classify(features: feats.base, N: idx.count, textFeatures: text.base, K: classes.count, D: m.model.config.embedDim,
                                         scale: scale, labels: labels, groups: idx.map { d.dataset.samples[$0].domain }, groupNames: d.dataset.domains)
        run?.remember(result, weights: state, part: part)
        return result
    }
}

/// A request that the split cannot answer (an empty part, a part with classes outside its set).
public struct EvaluationProblem: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
