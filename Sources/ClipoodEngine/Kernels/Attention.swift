import CKernels
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
///
/// The GEMMs are issued one at a time from the calling thread and use BLAS's own threads;
/// between them, the softmax of all heads of a sequence is split over `workers` threads.
/// (Issuing OpenBLAS 0.3.21 calls from several threads at once, with its thread count set to
/// one, ran them one after another here; and its results depend on its thread count, so the
/// count is never changed behind a computation's back.)
public enum Attention {
    public static func forward(out: UnsafeMutablePointer<Float>,     // (B, T, C)
                               probs: UnsafeMutablePointer<Float>,   // (B, NH, T, T)
                               qkv: UnsafePointer<Float>,            // (B, T, 3C)
                               B: Int, T: Int, C: Int, NH: Int, causal: Bool, workers: Int = Parallel.workers) {
        precondition(C % NH == 0, "Attention: width \(C) not divisible by \(NH) heads")
        let HS = C / NH, C3 = 3 * C
        let scale = 1 / Float(HS).squareRoot()
        for b in 0 ..< B {
            let q0 = qkv + b * T * C3
            for h in 0 ..< NH {
                let q = q0 + h * HS
                BLAS.gemm(transB: true, M: T, N: T, K: HS, alpha: scale, A: q, lda: C3, B: q + C, ldb: C3, C: probs + (b * NH + h) * T * T, ldc: T)
            }
            Parallel.chunks(NH * T, minimum: Elementwise.minimumLines(length: T), workers: workers) { rows in
                // Rows of the (NH·T, T) stack of this sequence's score matrices.
                for r in rows { softmaxRow(probs + (b * NH * T + r) * T, T: T, visible: causal ? r % T + 1 : T) }
            }
            for h in 0 ..< NH {
                BLAS.gemm(M: T, N: HS, K: T, A: probs + (b * NH + h) * T * T, lda: T, B: q0 + 2 * C + h * HS, ldb: C3,
                           C: out + b * T * C + h * HS, ldc: C)
            }
        }
    }

    /// Scratch floats `backward` needs: one T×T matrix per head.
    public static func scratchCount(T: Int, NH: Int) -> Int { NH * T * T }

    /// `scratch` holds `scratchCount(T:NH:)` floats.
    public static func backward(dqkv: UnsafeMutablePointer<Float>,     // (B, T, 3C)
                                scratch: UnsafeMutablePointer<Float>,  // (NH, T, T)
                                dout: UnsafePointer<Float>,            // (B, T, C)
                                probs: UnsafePointer<Float>,           // (B, NH, T, T)
                                qkv: UnsafePointer<Float>,             // (B, T, 3C)
                                B: Int, T: Int, C: Int, NH: Int, workers: Int = Parallel.workers) {
        let HS = C / NH, C3 = 3 * C
        let scale = 1 / Float(HS).squareRoot()
        for b in 0 ..< B {
            let q0 = qkv + b * T * C3, dq0 = dqkv + b * T * C3, dy0 = dout + b * T * C
            let p0 = probs + b * NH * T * T
            for h in 0 ..< NH {
                // dP = dY Vᵀ ; dV += Pᵀ dY
                BLAS.gemm(transB: true, M: T, N: T, K: HS, A: dy0 + h * HS, lda: C, B: q0 + 2 * C + h * HS, ldb: C3, C: scratch + h * T * T, ldc: T)
                BLAS.gemm(transA: true, M: T, N: HS, K: T, A: p0 + h * T * T, lda: T, B: dy0 + h * HS, ldb: C, beta: 1, C: dq0 + 2 * C + h * HS, ldc: C3)
            }
            // Softmax backward in place: dS = P ⊙ (dP − rowsum(dP ⊙ P)). Masked entries have P = 0.
            Parallel.chunks(NH * T, minimum: Elementwise.minimumLines(length: T), workers: workers) { rows in
                for r in rows {
                    let pr = p0 + r * T, dr = scratch + r * T
                    var dot: Float = 0
                    for j in 0 ..< T { dot += pr[j] * dr[j] }
                    for j in 0 ..< T { dr[j] = pr[j] * (dr[j] - dot) }
                }
            }
            for h in 0 ..< NH {
                let ds = scratch + h * T * T, q = q0 + h * HS, dq = dq0 + h * HS
                // dQ += scale · dS K ; dK += scale · dSᵀ Q
                BLAS.gemm(M: T, N: HS, K: T, alpha: scale, A: ds, lda: T, B: q + C, ldb: C3, beta: 1, C: dq, ldc: C3)
                BLAS.gemm(transA: true, M: T, N: HS, K: T, alpha: scale, A: ds, lda: T, B: q, ldb: C3, beta: 1, C: dq + C, ldc: C3)
            }
        }
    }

    /// Numerically stable softmax over each row of a (T, T) block; with `causal`, row i keeps
    /// columns 0…i and the rest become exactly 0 (PyTorch adds −inf there).
    /// `rows` (default T) rows of length T.
    @inline(__always)
    public static func softmaxRows(_ p: UnsafeMutablePointer<Float>, T: Int, causal: Bool, rows: Int? = nil) {
        for i in 0 ..< (rows ?? T) { softmaxRow(p + i * T, T: T, visible: causal ? i + 1 : T) }
    }

    /// Softmax over the first `visible` entries of a row of length T (CKernels' vectorised
    /// row softmax); the rest become 0.
    @inline(__always)
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, T: Int, visible n: Int) {
        ck_softmax_row(row, n)
        if n < T { (row + n).update(repeating: 0, count: T - n) }
    }
}
