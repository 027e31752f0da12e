import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Multi-head scaled dot-product self-attention on a packed qkv tensor, as CLIP's
/// `in_proj` produces it: each row is [q (C) | k (C) | v (C)], heads split each part into NH × HS.
///
/// Per (batch, head): scores = (Q Kᵀ) / √HS (a GEMM with strided rows), an optional causal
/// mask (query i sees keys 0…i, as CLIP's text tower), softmax in place, out = P V (a GEMM
/// writing the head's columns of `out`). The softmax probabilities P are saved for backward.
///
/// The GEMMs of all heads are issued together (`BLAS.sgemmBatched`: one oneDNN primitive for
/// the whole grid, or one call each on OpenBLAS, from the calling thread on BLAS's own
/// threads); between them, the softmax rows are split over `workers` threads. (Issuing
/// OpenBLAS 0.3.21 calls from several threads at once, with its thread count set to one, ran
/// them one after another here; and its results depend on its thread count, so the count is
/// never changed behind a computation's back.) Attention's products stay fp32 under
/// precision=bf16.
public enum Attention {
    public static func forward(out: UnsafeMutablePointer<Float>,     // (B, T, C)
                               probs: UnsafeMutablePointer<Float>,   // (B, NH, T, T)
                               qkv: UnsafePointer<Float>,            // (B, T, 3C)
                               B: Int, T: Int, C: Int, NH: Int, causal: Bool, workers: Int = Parallel.workers) {
        precondition(C % NH == 0, "Attention: width \(C) not divisible by \(NH) heads")
        let HS = C / NH, C3 = 3 * C
        let scale = 1 / Float(HS).squareRoot()
        // Sequence b, head h: Q at qkv + b·T·3C + h·HS, K at + C, V at + 2C, rows 3C apart.
        let perSequence = T * C3, perHead = HS
        BLAS.sgemmBatched(batch: (B, NH), transB: true, M: T, N: T, K: HS, alpha: scale,
                          A: qkv, lda: C3, strideA: (perSequence, perHead),
                          B: qkv + C, ldb: C3, strideB: (perSequence, perHead),
                          C: probs, ldc: T, strideC: (NH * T * T, T * T))
        Parallel.chunks(B * NH * T, minimum: Elementwise.minimumLines(length: T), workers: workers) { rows in
            // Rows of the (B·NH·T, T) stack of score matrices.
            for r in rows { softmaxRow(probs + r * T, T: T, visible: causal ? r % T + 1 : T) }
        }
        BLAS.sgemmBatched(batch: (B, NH), M: T, N: HS, K: T,
                          A: probs, lda: T, strideA: (NH * T * T, T * T),
                          B: qkv + 2 * C, ldb: C3, strideB: (perSequence, perHead),
                          C: out, ldc: C, strideC: (T * C, HS))
    }

    /// Scratch floats `backward` needs: one T×T matrix per head.
    public static func scratchCount(T: Int, NH: Int) -> Int { NH * T * T }

    /// `scratch` holds `scratchCount(T:NH:)` floats. The gradients are added to dqkv; without
    /// `accumulate`, dqkv is overwritten instead (every value of it is written once).
    public static func backward(dqkv: UnsafeMutablePointer<Float>,     // (B, T, 3C)
                                scratch: UnsafeMutablePointer<Float>,  // (NH, T, T)
                                dout: UnsafePointer<Float>,            // (B, T, C)
                                probs: UnsafePointer<Float>,           // (B, NH, T, T)
                                qkv: UnsafePointer<Float>,             // (B, T, 3C)
                                B: Int, T: Int, C: Int, NH: Int, accumulate: Bool = true, workers: Int = Parallel.workers) {
        let HS = C / NH, C3 = 3 * C
        let scale = 1 / Float(HS).squareRoot()
        let beta: Float = accumulate ? 1 : 0
        for b in 0 ..< B {
            let q0 = qkv + b * T * C3, dq0 = dqkv + b * T * C3, dy0 = dout + b * T * C
            let p0 = probs + b * NH * T * T
            // Head h: columns h·HS of Q, K, V (and of their gradients) and of dY; matrix h of P and scratch.
            let heads = (1, NH), perHead = (0, HS), perMatrix = (0, T * T)
            // dP = dY Vᵀ ; dV += Pᵀ dY
            BLAS.sgemmBatched(batch: heads, transB: true, M: T, N: T, K: HS, A: dy0, lda: C, strideA: perHead,
                              B: q0 + 2 * C, ldb: C3, strideB: perHead, C: scratch, ldc: T, strideC: perMatrix)
            BLAS.sgemmBatched(batch: heads, transA: true, M: T, N: HS, K: T, A: p0, lda: T, strideA: perMatrix,
                              B: dy0, ldb: C, strideB: perHead, beta: beta, C: dq0 + 2 * C, ldc: C3, strideC: perHead)
            // Softmax backward in place: dS = P ⊙ (dP − rowsum(dP ⊙ P)). Masked entries have P = 0.
            Parallel.chunks(NH * T, minimum: Elementwise.minimumLines(length: T), workers: workers) { rows in
                for r in rows { ck_softmax_backward_row(scratch + r * T, p0 + r * T, T) }
            }
            // dQ += scale · dS K ; dK += scale · dSᵀ Q
            BLAS.sgemmBatched(batch: heads, M: T, N: HS, K: T, alpha: scale, A: scratch, lda: T, strideA: perMatrix,
                              B: q0 + C, ldb: C3, strideB: perHead, beta: beta, C: dq0, ldc: C3, strideC: perHead)
            BLAS.sgemmBatched(batch: heads, transA: true, M: T, N: HS, K: T, alpha: scale, A: scratch, lda: T, strideA: perMatrix,
                              B: q0, ldb: C3, strideB: perHead, beta: beta, C: dq0 + C, ldc: C3, strideC: perHead)
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
