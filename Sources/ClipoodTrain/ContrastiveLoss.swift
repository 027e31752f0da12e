import ClipoodEngine

/// CLIP's pretraining objective: symmetric InfoNCE over N matched image–text pairs.
///   î = normalize(image), t̂ = normalize(text), logits = exp(s) · î t̂ᵀ (N × N),
///   loss = ½ (CE(logits, diag) + CE(logitsᵀ, diag)),
/// with s = logit_scale learned (CLIP clamps exp(s) at 100). Row i's positive is column i.
public final class ContrastiveLoss {
    public let dim: Int
    private var capacity = 0
    private var img = FloatBuffer(count: 0), imgNorms = FloatBuffer(count: 0), txt = FloatBuffer(count: 0), txtNorms = FloatBuffer(count: 0)
    private var logits = FloatBuffer(count: 0), rowProbs = FloatBuffer(count: 0), colProbs = FloatBuffer(count: 0), transposed = FloatBuffer(count: 0)
    private var dlogits = FloatBuffer(count: 0), dimg = FloatBuffer(count: 0), dtxt = FloatBuffer(count: 0)
    private var diagonal: [Int32] = []
    private var scale: Float = 1

    public init(dim: Int) { self.dim = dim }

    private func ensure(_ N: Int) {
        guard N > capacity else { return }
        capacity = N
        let D = dim
        img = FloatBuffer(count: N * D); imgNorms = FloatBuffer(count: N); txt = FloatBuffer(count: N * D); txtNorms = FloatBuffer(count: N)
        logits = FloatBuffer(count: N * N); rowProbs = FloatBuffer(count: N * N); colProbs = FloatBuffer(count: N * N); transposed = FloatBuffer(count: N * N)
        dlogits = FloatBuffer(count: N * N); dimg = FloatBuffer(count: N * D); dtxt = FloatBuffer(count: N * D)
    }

    /// The mean loss for N pairs; `logitScale` is s (the log of the temperature's inverse).
    public func forward(image: UnsafePointer<Float>, text: UnsafePointer<Float>, N: Int, logitScale: Float) -> Float {
        ensure(N)
        let D = dim
        diagonal = (0 ..< N).map(Int32.init)
        scale = expf(logitScale)
        L2Normalize.forward(out: img.base, norms: imgNorms.base, inp: image, N: N, C: D)
        L2Normalize.forward(out: txt.base, norms: txtNorms.base, inp: text, N: N, C: D)
        BLAS.sgemm(transB: true, M: N, N: N, K: D, alpha: scale, A: img.base, lda: D, B: txt.base, ldb: D, C: logits.base, ldc: N)
        for i in 0 ..< N { for j in 0 ..< N { transposed.base[j * N + i] = logits.base[i * N + j] } }
        return diagonal.withUnsafeBufferPointer { d in
            let a = SoftmaxCrossEntropy.forward(probs: rowProbs.base, logits: logits.base, targets: d.baseAddress!, N: N, K: N)
            let b = SoftmaxCrossEntropy.forward(probs: colProbs.base, logits: transposed.base, targets: d.baseAddress!, N: N, K: N)
            return (a + b) / 2
        }
    }

    /// Accumulates the gradients of the last forward's loss into `dimage`, `dtext` (N, D) and
    /// returns d loss / d s.
    public func backward(dimage: UnsafeMutablePointer<Float>, dtext: UnsafeMutablePointer<Float>, N: Int) -> Float {
        let D = dim
        dlogits.base.update(repeating: 0, count: N * N)
        diagonal.withUnsafeBufferPointer { d in
            SoftmaxCrossEntropy.backward(dlogits: dlogits.base, probs: rowProbs.base, targets: d.baseAddress!, N: N, K: N, dloss: 0.5)
            // The column loss's gradient is w.r.t. the transposed logits: add it back transposed.
            transposed.base.update(repeating: 0, count: N * N)
            SoftmaxCrossEntropy.backward(dlogits: transposed.base, probs: colProbs.base, targets: d.baseAddress!, N: N, K: N, dloss: 0.5)
        }
        for i in 0 ..< N { for j in 0 ..< N { dlogits.base[i * N + j] += transposed.base[j * N + i] } }
        // logits = e^s · î t̂ᵀ : d î = e^s · dL t̂, d t̂ = e^s · dLᵀ î, d s = Σ dL ⊙ logits.
        BLAS.sgemm(M: N, N: D, K: N, alpha: scale, A: dlogits.base, lda: N, B: txt.base, ldb: D, C: dimg.base, ldc: D)
        BLAS.sgemm(transA: true, M: N, N: D, K: N, alpha: scale, A: dlogits.base, lda: N, B: img.base, ldb: D, C: dtxt.base, ldc: D)
        var ds: Float = 0
        for i in 0 ..< N * N { ds += dlogits.base[i] * logits.base[i] }
        L2Normalize.backward(dinp: dimage, dout: dimg.base, out: img.base, norms: imgNorms.base, N: N, C: D)
        L2Normalize.backward(dinp: dtext, dout: dtxt.base, out: txt.base, norms: txtNorms.base, N: N, C: D)
        return ds
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
