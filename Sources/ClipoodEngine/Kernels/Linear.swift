import CKernels

/// Fully connected layer: out(N, OC) = inp(N, C) · W(OC, C)ᵀ + b(OC), W stored as PyTorch does.
/// With `residual`, the forward adds it too (a transformer block's skip connection), for free.
public enum Linear {
    public static func forward(out: UnsafeMutablePointer<Float>,          // (N, OC)
                               inp: UnsafePointer<Float>,                 // (N, C)
                               weight: UnsafePointer<Float>,              // (OC, C)
                               bias: UnsafePointer<Float>?,               // (OC)
                               residual: UnsafePointer<Float>? = nil,     // (N, OC)
                               N: Int, C: Int, OC: Int) {
        if BLAS.fusesLinear(M: N, N: OC, K: C) {
            // oneDNN adds the bias in its epilogue; a residual is copied in first and summed (beta = 1).
            if let residual {
                Parallel.chunks(N * OC, minimum: Elementwise.minimumPerThread) { r in
                    (out + r.lowerBound).update(from: residual + r.lowerBound, count: r.count)
                }
            }
            BLAS.linear(M: N, N: OC, K: C, A: inp, lda: C, W: weight, bias: bias, beta: residual == nil ? 0 : 1, C: out, ldc: OC)
            return
        }
        // Bias (and residual) are written first and the GEMM adds to them (beta = 1): one pass
        // over the output instead of BLAS zeroing it and separate passes adding them.
        if bias != nil || residual != nil {
            Parallel.chunks(N, minimum: Elementwise.minimumLines(length: OC)) { rows in
                for n in rows {
                    let o = out + n * OC
                    switch (bias, residual) {
                    case let (b?, r?): let rr = r + n * OC; for j in 0 ..< OC { o[j] = rr[j] + b[j] }
                    case let (b?, nil): o.update(from: b, count: OC)
                    case let (nil, r?): o.update(from: r + n * OC, count: OC)
                    default: break
                    }
                }
            }
        }
        BLAS.sgemm(transB: true, M: N, N: OC, K: C, A: inp, lda: C, B: weight, ldb: C,
                   beta: bias == nil && residual == nil ? 0 : 1, C: out, ldc: OC)
    }

    /// Gradients, added (+=) to dinp, dweight and dbias; with `accumulateInput: false`, dinp
    /// is overwritten instead (for a caller that would otherwise zero it first).
    public static func backward(dinp: UnsafeMutablePointer<Float>?,      // (N, C)
                                dweight: UnsafeMutablePointer<Float>?,   // (OC, C)
                                dbias: UnsafeMutablePointer<Float>?,     // (OC)
                                dout: UnsafePointer<Float>,              // (N, OC)
                                inp: UnsafePointer<Float>,               // (N, C)
                                weight: UnsafePointer<Float>,            // (OC, C)
                                N: Int, C: Int, OC: Int, accumulateInput: Bool = true) {
        if let dinp, let dweight, BLAS.fusesLinearBackward(M: N, N: C, K: OC) {
            // bf16: both products in one call that converts dout once and sums dbias while at it.
            BLAS.linearBackward(N: N, C: C, OC: OC, dout: dout, inp: inp, weight: weight, dinp: dinp, accumulate: accumulateInput,
                                dweight: dweight, dbias: dbias)
            return
        }
        if let dinp {   // dinp += dout · W (or, without accumulateInput, dinp = dout · W)
            BLAS.gemm(M: N, N: C, K: OC, A: dout, lda: OC, B: weight, ldb: C, beta: accumulateInput ? 1 : 0, C: dinp, ldc: C)
        }
        if let dweight {   // dW += doutᵀ · inp
            BLAS.gemm(transA: true, M: OC, N: C, K: N, A: dout, lda: OC, B: inp, ldb: C, beta: 1, C: dweight, ldc: C)
        }
        if let dbias {   // column sums of dout, rows in order; columns split over threads
            Parallel.chunks(OC, minimum: Elementwise.minimumLines(length: N)) { cols in
                ck_add_column_sums(dbias, dout, N, OC, cols.lowerBound, cols.upperBound)
            }
        }
    }
}
