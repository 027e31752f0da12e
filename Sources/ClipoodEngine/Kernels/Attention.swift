#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Multi-head scaled dot-product self-attention on a packed qkv tensor, as CLIP's
/// `in_proj` produces it: each row is [q (C) | k (C) | v (C)], heads split each part into NH × HS.
///
/// Per (batch, head): scores = (Q Kᵀ) / √HS (one GEMM with strided rows), an optional causal
/// mask (query i sees keys 0…i, as CLIP's text tower), softmax in place, out = P V (one GEMM
/// writing the head's columns of `out`). The softmax probabilities P are saved for backward.
public enum Attention {
    public static func forward(out: UnsafeMutablePointer<Float>,     // (B, T, C)
                               probs: UnsafeMutablePointer<Float>,   // (B, NH, T, T)
                               qkv: UnsafePointer<Float>,            // (B, T, 3C)
                               B: Int, T: Int, C: Int, NH: Int, causal: Bool) {
        precondition(C % NH == 0, "Attention: width \(C) not divisible by \(NH) heads")
        let HS = C / NH, C3 = 3 * C
        let scale = 1 / Float(HS).squareRoot()
        for b in 0 ..< B {
            for h in 0 ..< NH {
                let q = qkv + b * T * C3 + h * HS
                let k = q + C, v = q + 2 * C
                let p = probs + (b * NH + h) * T * T
                BLAS.sgemm(transB: true, M: T, N: T, K: HS, alpha: scale, A: q, lda: C3, B: k, ldb: C3, C: p, ldc: T)
                softmaxRows(p, T: T, causal: causal)
                BLAS.sgemm(M: T, N: HS, K: T, A: p, lda: T, B: v, ldb: C3, C: out + b * T * C + h * HS, ldc: C)
            }
        }
    }

    /// `scratch` needs T·T floats.
    public static func backward(dqkv: UnsafeMutablePointer<Float>,     // (B, T, 3C)
                                scratch: UnsafeMutablePointer<Float>,  // (T, T)
                                dout: UnsafePointer<Float>,            // (B, T, C)
                                probs: UnsafePointer<Float>,           // (B, NH, T, T)
                                qkv: UnsafePointer<Float>,             // (B, T, 3C)
                                B: Int, T: Int, C: Int, NH: Int) {
        let HS = C / NH, C3 = 3 * C
        let scale = 1 / Float(HS).squareRoot()
        for b in 0 ..< B {
            for h in 0 ..< NH {
                let q = qkv + b * T * C3 + h * HS
                let k = q + C, v = q + 2 * C
                let dq = dqkv + b * T * C3 + h * HS
                let dk = dq + C, dv = dq + 2 * C
                let p = probs + (b * NH + h) * T * T
                let dy = dout + b * T * C + h * HS
                // dP = dY Vᵀ ; dV += Pᵀ dY
                BLAS.sgemm(transB: true, M: T, N: T, K: HS, A: dy, lda: C, B: v, ldb: C3, C: scratch, ldc: T)
                BLAS.sgemm(transA: true, M: T, N: HS, K: T, A: p, lda: T, B: dy, ldb: C, beta: 1, C: dv, ldc: C3)
                // Softmax backward in place: dS = P ⊙ (dP − rowsum(dP ⊙ P)). Masked entries have P = 0.
                for i in 0 ..< T {
                    let pr = p + i * T, dr = scratch + i * T
                    var dot: Float = 0
                    for j in 0 ..< T { dot += pr[j] * dr[j] }
                    for j in 0 ..< T { dr[j] = pr[j] * (dr[j] - dot) }
                }
                // dQ += scale · dS K ; dK += scale · dSᵀ Q
                BLAS.sgemm(M: T, N: HS, K: T, alpha: scale, A: scratch, lda: T, B: k, ldb: C3, beta: 1, C: dq, ldc: C3)
                BLAS.sgemm(transA: true, M: T, N: HS, K: T, alpha: scale, A: scratch, lda: T, B: q, ldb: C3, beta: 1, C: dk, ldc: C3)
            }
        }
    }

    /// Numerically stable softmax over each row of a (T, T) block; with `causal`, row i keeps
    /// columns 0…i and the rest become exactly 0 (PyTorch adds −inf there).
    /// `rows` (default T) rows of length T.
    @inline(__always)
    public static func softmaxRows(_ p: UnsafeMutablePointer<Float>, T: Int, causal: Bool, rows: Int? = nil) {
        for i in 0 ..< (rows ?? T) {
            let row = p + i * T
            let n = causal ? i + 1 : T
            var maxv = -Float.infinity
            for j in 0 ..< n where row[j] > maxv { maxv = row[j] }
            var sum: Float = 0
            for j in 0 ..< n { let e = expf(row[j] - maxv); row[j] = e; sum += e }
            let inv = 1 / sum
            for j in 0 ..< n { row[j] *= inv }
            if n < T { (row + n).update(repeating: 0, count: T - n) }
        }
    }
}
