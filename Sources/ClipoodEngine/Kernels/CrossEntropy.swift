#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Softmax cross-entropy over K logits per row, averaged over the N rows (PyTorch's
/// `F.cross_entropy` with reduction "mean"). The softmax probabilities are saved.
public enum SoftmaxCrossEntropy {
    /// Returns the mean loss.
    @discardableResult
    public static func forward(probs: UnsafeMutablePointer<Float>,     // (N, K)
                               logits: UnsafePointer<Float>,           // (N, K)
                               targets: UnsafePointer<Int32>,          // (N)
                               N: Int, K: Int) -> Float {
        Float(total(probs: probs, logits: logits, targets: targets, N: N, K: K) / Double(N))
    }

    /// The summed loss of the N rows (in double): a data-parallel step adds the sums of every
    /// rank's rows and divides by the whole batch.
    public static func total(probs: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                             N: Int, K: Int) -> Double {
        var total: Double = 0
        for n in 0 ..< N {
            let z = logits + n * K, p = probs + n * K
            let y = Int(targets[n])
            precondition(y >= 0 && y < K, "SoftmaxCrossEntropy: target \(y) outside 0..<\(K)")
            var maxv = -Float.infinity
            for j in 0 ..< K where z[j] > maxv { maxv = z[j] }
            var sum: Float = 0
            for j in 0 ..< K { let e = expf(z[j] - maxv); p[j] = e; sum += e }
            let inv = 1 / sum
            for j in 0 ..< K { p[j] *= inv }
            // −log softmax_y = log Σ exp(z − max) − (z_y − max): exact even when p_y underflows.
            total += Double(logf(sum) - (z[y] - maxv))
        }
        return total
    }

    /// dlogits += dloss · (p − onehot(y)) / `over` for the N rows; `over` is the number of rows
    /// the loss averages (N, or the whole batch of a data-parallel step when these are one
    /// rank's share of it).
    public static func backward(dlogits: UnsafeMutablePointer<Float>,  // (N, K)
                                probs: UnsafePointer<Float>,           // (N, K)
                                targets: UnsafePointer<Int32>,         // (N)
                                N: Int, K: Int, dloss: Float = 1, over: Int? = nil) {
        let scale = dloss / Float(over ?? N)
        for n in 0 ..< N {
            let p = probs + n * K, d = dlogits + n * K
            let y = Int(targets[n])
            for j in 0 ..< K { d[j] += scale * (p[j] - (j == y ? 1 : 0)) }
        }
    }
}
