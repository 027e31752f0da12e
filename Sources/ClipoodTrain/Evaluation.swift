import ClipoodEngine

/// Accuracy and calibration of zero-shot-style classification: image features against the
/// text features of a class set, logits = s · cos.
public struct EvaluationResult: Equatable, Sendable {
    public let count: Int
    public let correct: Int
    /// Per evaluation group (domain): (name, count, correct).
    public let groups: [(name: String, count: Int, correct: Int)]
    /// Per class id (in the class set's order): (count, correct).
    public let perClass: [(count: Int, correct: Int)]
    /// Expected calibration error over 15 equal-width confidence bins.
    public let ece: Double

    public var accuracy: Double { count == 0 ? .nan : Double(correct) / Double(count) }

    public static func == (a: EvaluationResult, b: EvaluationResult) -> Bool {
        a.count == b.count && a.correct == b.correct && a.ece == b.ece
            && a.groups.map(\.name) == b.groups.map(\.name) && a.groups.map(\.correct) == b.groups.map(\.correct)
    }
}

public enum Evaluation {
    /// Classifies N image features (N, D) — normalised here — among K classes (text features
    /// (K, D), normalised) with logits s·cos; `labels` index the class set; `groups[i]` names
    /// the group (domain) of sample i.
    public static func classify(features: UnsafePointer<Float>, N: Int, textFeatures: UnsafePointer<Float>, K: Int, D: Int,
                                scale: Float, labels: [Int32], groups: [Int], groupNames: [String], bins: Int = 15) -> EvaluationResult {
        precondition(labels.count == N && groups.count == N)
        let logits = Evaluation.logits(features: features, N: N, textFeatures: textFeatures, K: K, D: D, scale: scale)
        var groupCount = [Int](repeating: 0, count: groupNames.count), groupCorrect = groupCount
        var classCount = [Int](repeating: 0, count: K), classCorrect = classCount
        var binCount = [Int](repeating: 0, count: bins), binCorrect = binCount
        var binConfidence = [Double](repeating: 0, count: bins)
        var correct = 0
        for n in 0 ..< N {
            let z = logits.base + n * K
            let best = Evaluation.predicted(z, K: K)
            // Confidence = softmax probability of the prediction = 1 / Σ exp(z_k − z_best).
            var sum: Double = 0
            for k in 0 ..< K { sum += Double(expf(z[k] - z[best])) }
            let confidence = 1 / sum
            let y = Int(labels[n])
            let hit = best == y
            if hit { correct += 1; groupCorrect[groups[n]] += 1; classCorrect[y] += 1 }
            groupCount[groups[n]] += 1
            classCount[y] += 1
            let b = min(bins - 1, Int(confidence * Double(bins)))
            binCount[b] += 1
            binConfidence[b] += confidence
            if hit { binCorrect[b] += 1 }
        }
        var ece = 0.0
        for b in 0 ..< bins where binCount[b] > 0 {
            let acc = Double(binCorrect[b]) / Double(binCount[b]), conf = binConfidence[b] / Double(binCount[b])
            ece += Double(binCount[b]) / Double(max(N, 1)) * abs(acc - conf)
        }
        return EvaluationResult(count: N, correct: correct,
                                groups: (0 ..< groupNames.count).map { (groupNames[$0], groupCount[$0], groupCorrect[$0]) },
                                perClass: (0 ..< K).map { (classCount[$0], classCorrect[$0]) }, ece: ece)
    }

    /// The logits s·cos (N, K) of N image features (N, D), normalised here, against K text
    /// features (K, D), normalised: what `classify` scores, for callers that need them per image.
    public static func logits(features: UnsafePointer<Float>, N: Int, textFeatures: UnsafePointer<Float>, K: Int, D: Int, scale: Float) -> FloatBuffer {
        let normed = FloatBuffer(count: N * D), norms = FloatBuffer(count: N), logits = FloatBuffer(count: N * K)
        L2Normalize.forward(out: normed.base, norms: norms.base, inp: features, N: N, C: D)
        BLAS.sgemm(transB: true, M: N, N: K, K: D, alpha: scale, A: normed.base, lda: D, B: textFeatures, ldb: D, C: logits.base, ldc: K)
        return logits
    }

    /// The predicted class of one row of K logits: the largest, the first of equal ones.
    public static func predicted(_ z: UnsafePointer<Float>, K: Int) -> Int {
        var best = 0
        for k in 1 ..< K where z[k] > z[best] { best = k }
        return best
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
