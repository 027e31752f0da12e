/// Layer normalisation over the last dimension: out = (x − mean) · rstd · w + b.
/// The forward saves mean and rstd per row for the backward.
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
                let x = inp + n * C
                var sum: Float = 0
                for i in 0 ..< C { sum += x[i] }
                let m = sum / Float(C)
                var sq: Float = 0   // two-pass variance: no cancellation for rows with a large mean
                for i in 0 ..< C { let d = x[i] - m; sq += d * d }
                let s = 1 / (sq / Float(C) + eps).squareRoot()
                let y = out + n * C
                for i in 0 ..< C { y[i] = (x[i] - m) * s * weight[i] + bias[i] }
                mean[n] = m
                rstd[n] = s
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
                    let x = inp + n * C, dy = dout + n * C
                    let m = mean[n], s = rstd[n]
                    // dx = rstd · (g − mean(g) − x̂ · mean(g · x̂)), with g = dy · w and x̂ the normalised input.
                    var gMean: Float = 0, gxMean: Float = 0
                    for i in 0 ..< C {
                        let xhat = (x[i] - m) * s
                        let g = dy[i] * weight[i]
                        gMean += g
                        gxMean += g * xhat
                    }
                    gMean /= Float(C)
                    gxMean /= Float(C)
                    for i in 0 ..< C {
                        let xhat = (x[i] - m) * s
                        dinp[n * C + i] += s * (dy[i] * weight[i] - gMean - xhat * gxMean)
                    }
                }
            }
        }
        guard dweight != nil || dbias != nil else { return }
        // Column sums over the rows, columns split over threads, rows in order.
        Parallel.chunks(C, minimum: Elementwise.minimumLines(length: N)) { cols in
            for n in 0 ..< N {
                let x = inp + n * C, dy = dout + n * C
                let m = mean[n], s = rstd[n]
                for i in cols {
                    if let dbias { dbias[i] += dy[i] }
                    if let dweight { dweight[i] += (x[i] - m) * s * dy[i] }
                }
            }
        }
    }
}
