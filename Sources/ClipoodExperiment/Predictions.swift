import ClipoodData
import ClipoodEngine
import ClipoodImage
import ClipoodTrain

/// What a weight state predicts for every image of a split part: the scores `evaluate` sums
/// up, kept per image for the analyses that need them (the confusion matrix, the
/// misclassified images).
public struct Predictions: Sendable {
    /// Dataset indices of the part's images, in the part's order.
    public let indices: [Int]
    /// Class ids of the class set the part is scored among; labels and predictions index it.
    public let classes: [Int]
    /// Per image: the position of its true class in `classes`.
    public let labels: [Int]
    /// Per image: the position of the predicted class (the largest logit, the first of equal ones).
    public let predicted: [Int]
    /// Logits s·cos(image, class text), row-major (N, K).
    public let logits: [Float]
    /// The logit scale s.
    public let scale: Float

    public var count: Int { indices.count }
    public var classCount: Int { classes.count }
    public var correct: Int { zip(labels, predicted).filter { $0 == $1 }.count }

    /// Counts (K, K), row-major: row = true class, column = predicted class (positions in `classes`).
    public func confusion() -> [Int] {
        let K = classes.count
        var m = [Int](repeating: 0, count: K * K)
        for (y, p) in zip(labels, predicted) { m[y * K + p] += 1 }
        return m
    }

    /// The logit of the predicted class minus that of the true class, s·(cos_pred − cos_true):
    /// 0 for a correct prediction, positive for an error, larger for a more confident one.
    public func margin(_ n: Int) -> Float {
        let K = classes.count
        return logits[n * K + predicted[n]] - logits[n * K + labels[n]]
    }

    /// Positions (in the part) of the misclassified images, largest margin first (ties in the
    /// part's order).
    public func errors() -> [Int] {
        let wrong = (0 ..< count).filter { predicted[$0] != labels[$0] }
        return wrong.enumerated().sorted { a, b in
            let ma = margin(a.element), mb = margin(b.element)
            return ma != mb ? ma > mb : a.offset < b.offset
        }.map(\.element)
    }
}

extension FeatureStore {
    /// Per-image predictions of `run`'s weight `state` (the zero-shot model when `run` is nil)
    /// on `part` of `split`, from the same cached features and logits as `evaluate`, so that
    /// the two agree image by image. Nothing is kept with the run.
    public func predictions(model m: ModelEntry, data d: DataEntry, split: Split, run: Run?, state: String, part: String,
                            progress: ProgressSink) throws -> Predictions {
        let idx = FeatureStore.indices(part: part, split: split)
        guard !idx.isEmpty else { throw EvaluationProblem("the split has no '\(part)' part" + (part == "open" ? " (use split open=RATIO)" : "")) }
        let classes = FeatureStore.classSet(part: part, split: split, classCount: d.dataset.classes.count)
        let labels = try FeatureStore.labels(of: idx, among: classes, data: d, part: part)
        let text = try textFeatures(model: m, data: d, classes: classes)
        let interp = Interpolation(rawValue: run?.interpolation ?? "bicubic") ?? .bicubic
        let feats = try imageFeatures(model: m, data: d, indices: idx, run: run, state: state, part: part, interpolation: interp, progress: progress)
        let scale = run?.trainer.loss.scale ?? m.model.logitScale
        let N = idx.count, K = classes.count
        let z = Evaluation.logits(features: feats.base, N: N, textFeatures: text.base, K: K, D: m.model.config.embedDim, scale: scale)
        let predicted = (0 ..< N).map { Evaluation.predicted(z.base + $0 * K, K: K) }
        return Predictions(indices: idx, classes: classes, labels: labels.map(Int.init), predicted: predicted, logits: z.toArray(), scale: scale)
    }

    /// The position of each image's class in `classes`; an image of a class outside the set is
    /// an `EvaluationProblem`.
    static func labels(of indices: [Int], among classes: [Int], data d: DataEntry, part: String) throws -> [Int32] {
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let labels = indices.map { Int32(position[d.dataset.samples[$0].label] ?? -1) }
        guard !labels.contains(-1) else { throw EvaluationProblem("the '\(part)' part has images of classes outside its class set") }
        return labels
    }
}
