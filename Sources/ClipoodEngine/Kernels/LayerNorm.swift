import CKernels

/// Layer normalisation over the last dimension: out = (x − mean) · rstd · w + b.
/// The forward saves mean and rstd per row for the backward. The rows run in CKernels
/// (`ck_layernorm_*`: row sums over 16 lanes, vectorised).
/// Rows are independent: both passes split them over `Parallel.workers` threads, and the
/// weight and bias gradients are summed per column in row order, so the results do not
/// depend on the thread count.
public enum LayerNorm {
    public static func forward(out: UnsafeMutablePointer<Float>,      // (N, C)
                               mean: UnsafeMutablePointer<Float>,     // (N)
                               rstd: UnsafeMutablePointer<Float>,     // (N)
                               inp: UnsafePointer<Float>,             // (N, C)
                               weight: UnsafePointer<Float>,          // (C)
                               bias: UnsafePointer<Float>,            // (C)
                               N: Int, C: Int, eps: Float = 1e-5) {
        Parallel.chunks(N, minimum: Elementwise.minimumLines(length: C)) { rows in
            for n in rows {
                ck_layernorm_forward_row(out + n * C, mean + n, rstd + n, inp + n * C, weight, bias, C, eps)
            }
        }
    }

    public static func backward(dinp: UnsafeMutablePointer<Float>?,      // (N, C)
                                dweight: UnsafeMutablePointer<Float>?,   // (C)
                                dbias: UnsafeMutablePointer<Float>?,     // (C)
                                dout: UnsafePointer<Float>,              // (N, C)
                                inp: UnsafePointer<Float>,               // (N, C)
                                weight: UnsafePointer<Float>,            // (C)
                                mean: UnsafePointer<Float>,              // (N)
                                rstd: UnsafePointer<Float>,              // (N)
                                N: Int, C: Int) {
        if let dinp {
            Parallel.chunks(N, minimum: Elementwise.minimumLines(length: C)) { rows in
                for n in rows {
                    ck_layernorm_backward_row(dinp + n * C, dout + n * C, inp + n * C, weight, mean[n], rstd[n], C)
                }
            }
        }
        guard dweight != nil || dbias != nil else { return }
        // Column sums over the rows, columns split over threads, rows in order.
        Parallel.chunks(C, minimum: Elementwise.minimumLines(length: N)) { cols in
            ck_layernorm_param_grads(dweight, dbias, dout, inp, mean, rstd, N, C, cols.lowerBound, cols.upperBound)
        }
    }
}
