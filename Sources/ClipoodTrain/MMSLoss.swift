import ClipoodEngine

/// Margin metric softmax (CLIPood's loss), as the official code computes it:
///   f = normalize(image features);  f' = f − λ·T[y];  logits = s · f' Tᵀ;  loss = mean CE.
/// So logit_j = s·(cos(f, t_j) − λ·cos(t_y, t_j)): relative to plain cross-entropy, class j
/// gets the margin λ·(1 − cos(t_y, t_j)) — "text-derived class margins". λ = 0 is plain CE.
/// f' is not renormalised after the subtraction (as in the official code).
public final class MMSLoss {
    public let classes: Int       // K
    public let dim: Int           // D
    /// Frozen, L2-normalised text features (K, D).
    public let textFeatures: FloatBuffer
    public var lambda: Float
    public var scale: Float

    // Saved by forward for backward, sized for `capacity` rows.
    private var capacity = 0
    private var normalized = FloatBuffer(count: 0), norms = FloatBuffer(count: 0), shifted = FloatBuffer(count: 0)
    private var dlogits = FloatBuffer(count: 0), dshifted = FloatBuffer(count: 0)
    public private(set) var logits = FloatBuffer(count: 0)
    public private(set) var probs = FloatBuffer(count: 0)
    private var targets: [Int32] = []

    public init(textFeatures: FloatBuffer, classes: Int, dim: Int, lambda: Float, scale: Float) {
        precondition(textFeatures.count == classes * dim, "MMSLoss: text features are not \(classes)×\(dim)")
        self.textFeatures = textFeatures
        self.classes = classes
        self.dim = dim
        self.lambda = lambda
        self.scale = scale
    }

    private func ensure(_ B: Int) {
        guard B > capacity else { return }
        capacity = B
        normalized = FloatBuffer(count: B * dim); norms = FloatBuffer(count: B); shifted = FloatBuffer(count: B * dim)
        logits = FloatBuffer(count: B * classes); probs = FloatBuffer(count: B * classes)
        dlogits = FloatBuffer(count: B * classes); dshifted = FloatBuffer(count: B * dim)
    }

    /// Returns the mean loss over the B rows of `features` (B, D) with labels `labels`.
    public func forward(features: UnsafePointer<Float>, labels: [Int32], B: Int) -> Float {
        Float(forwardTotal(features: features, labels: labels, B: B) / Double(B))
    }

    /// The same forward, returning the summed loss of the B rows (in double).
    public func forwardTotal(features: UnsafePointer<Float>, labels: [Int32], B: Int) -> Double {
        ensure(B)
        targets = labels
        let D = dim, K = classes
        L2Normalize.forward(out: normalized.base, norms: norms.base, inp: features, N: B, C: D)
        for b in 0 ..< B {
            let y = Int(labels[b])
            precondition(y >= 0 && y < K, "MMSLoss: label \(y) outside 0..<\(K)")
            let f = normalized.base + b * D, t = textFeatures.base + y * D, o = shifted.base + b * D
            for i in 0 ..< D { o[i] = f[i] - lambda * t[i] }
        }
        BLAS.sgemm(transB: true, M: B, N: K, K: D, alpha: scale, A: shifted.base, lda: D, B: textFeatures.base, ldb: D, C: logits.base, ldc: K)
        return labels.withUnsafeBufferPointer {
            SoftmaxCrossEntropy.total(probs: probs.base, logits: logits.base, targets: $0.baseAddress!, N: B, K: K)
        }
    }

    /// dfeatures (B, D) += dloss/dfeatures for the last forward (no allocation: buffers are
    /// sized by the largest batch seen). The loss is the mean over `over` rows (B, or the whole
    /// batch of a data-parallel step of which these B rows are one rank's share).
    public func backward(dfeatures: UnsafeMutablePointer<Float>, B: Int, over: Int? = nil) {
        let D = dim, K = classes
        dlogits.base.update(repeating: 0, count: B * K)
        targets.withUnsafeBufferPointer {
            SoftmaxCrossEntropy.backward(dlogits: dlogits.base, probs: probs.base, targets: $0.baseAddress!, N: B, K: K, over: over)
        }
        // d f' = s · dlogits · T ; the −λ·T[y] shift is a constant, so d f = d f'.
        BLAS.sgemm(M: B, N: D, K: K, alpha: scale, A: dlogits.base, lda: K, B: textFeatures.base, ldb: D, C: dshifted.base, ldc: D)
        L2Normalize.backward(dinp: dfeatures, dout: dshifted.base, out: normalized.base, norms: norms.base, N: B, C: D)
    }

    /// Top-1 predictions of the last forward (argmax of the MMS logits).
    public func predictions(B: Int) -> [Int32] {
        (0 ..< B).map { b in
            let row = logits.base + b * classes
            var best = 0
            for k in 1 ..< classes where row[k] > row[best] { best = k }
            return Int32(best)
        }
    }

    /// The margin matrix m(y, j) = λ·(1 − cos(t_y, t_j)) (K, K), for inspection.
    public func margins() -> [Float] {
        let K = classes, D = dim
        var out = [Float](repeating: 0, count: K * K)
        for y in 0 ..< K { for j in 0 ..< K {
            var c: Float = 0
            for i in 0 ..< D { c += textFeatures.base[y * D + i] * textFeatures.base[j * D + i] }
            out[y * K + j] = lambda * (1 - c)
        } }
        return out
    }
}
