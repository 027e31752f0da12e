/// Bias-free projection with the weight stored input-major, out(N, OC) = inp(N, C) · P(C, OC) —
/// CLIP's `visual.proj` and `text_projection` as OpenAI and open_clip store them.
public enum Projection {
    public static func forward(out: UnsafeMutablePointer<Float>,      // (N, OC)
                               inp: UnsafePointer<Float>,             // (N, C)
                               weight: UnsafePointer<Float>,          // (C, OC)
                               N: Int, C: Int, OC: Int) {
        BLAS.sgemm(M: N, N: OC, K: C, A: inp, lda: C, B: weight, ldb: OC, C: out, ldc: OC)
    }

    public static func backward(dinp: UnsafeMutablePointer<Float>?,      // (N, C)
                                dweight: UnsafeMutablePointer<Float>?,   // (C, OC)
                                dout: UnsafePointer<Float>,              // (N, OC)
                                inp: UnsafePointer<Float>,               // (N, C)
                                weight: UnsafePointer<Float>,            // (C, OC)
                                N: Int, C: Int, OC: Int) {
        if let dinp {   // dinp += dout · Pᵀ
            BLAS.sgemm(transB: true, M: N, N: C, K: OC, A: dout, lda: OC, B: weight, ldb: OC, beta: 1, C: dinp, ldc: C)
        }
        if let dweight {   // dP += inpᵀ · dout
            BLAS.sgemm(transA: true, M: C, N: OC, K: N, A: inp, lda: C, B: dout, ldb: OC, beta: 1, C: dweight, ldc: OC)
        }
    }
}
