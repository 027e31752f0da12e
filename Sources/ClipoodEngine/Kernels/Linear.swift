/// Fully connected layer: out(N, OC) = inp(N, C) · W(OC, C)ᵀ + b(OC), W stored as PyTorch does.
public enum Linear {
    public static func forward(out: UnsafeMutablePointer<Float>,          // (N, OC)
                               inp: UnsafePointer<Float>,                 // (N, C)
                               weight: UnsafePointer<Float>,              // (OC, C)
                               bias: UnsafePointer<Float>?,               // (OC)
                               N: Int, C: Int, OC: Int) {
        BLAS.sgemm(transB: true, M: N, N: OC, K: C, A: inp, lda: C, B: weight, ldb: C, C: out, ldc: OC)
        if let bias {
            Parallel.chunks(N, minimum: max(1, Elementwise.minimumPerThread / max(1, OC))) { rows in
                for n in rows {
                    let row = out + n * OC
                    for o in 0 ..< OC { row[o] += bias[o] }
                }
            }
        }
    }

    public static func backward(dinp: UnsafeMutablePointer<Float>?,      // (N, C)
                                dweight: UnsafeMutablePointer<Float>?,   // (OC, C)
                                dbias: UnsafeMutablePointer<Float>?,     // (OC)
                                dout: UnsafePointer<Float>,              // (N, OC)
                                inp: UnsafePointer<Float>,               // (N, C)
                                weight: UnsafePointer<Float>,            // (OC, C)
                                N: Int, C: Int, OC: Int) {
        if let dinp {   // dinp += dout · W
            BLAS.sgemm(M: N, N: C, K: OC, A: dout, lda: OC, B: weight, ldb: C, beta: 1, C: dinp, ldc: C)
        }
        if let dweight {   // dW += doutᵀ · inp
            BLAS.sgemm(transA: true, M: OC, N: C, K: N, A: dout, lda: OC, B: inp, ldb: C, beta: 1, C: dweight, ldc: C)
        }
        if let dbias {   // column sums of dout, rows in order; columns split over threads
            Parallel.chunks(OC, minimum: max(1, Elementwise.minimumPerThread / max(1, N))) { cols in
                for n in 0 ..< N {
                    let row = dout + n * OC
                    for o in cols { dbias[o] += row[o] }
                }
            }
        }
    }
}
