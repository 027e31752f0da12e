/// Row-wise L2 normalisation y = x / ‖x‖ (CLIP's `features / features.norm(dim=-1)`).
/// The norms are saved; a zero row is divided by 1e-12 instead (PyTorch's F.normalize clamp).
public enum L2Normalize {
    public static func forward(out: UnsafeMutablePointer<Float>,     // (N, C)
                               norms: UnsafeMutablePointer<Float>,   // (N)
                               inp: UnsafePointer<Float>,            // (N, C)
                               N: Int, C: Int) {
        for n in 0 ..< N {
            let x = inp + n * C, y = out + n * C
            var sq: Float = 0
            for i in 0 ..< C { sq += x[i] * x[i] }
            let norm = max(sq.squareRoot(), 1e-12)
            let inv = 1 / norm
            for i in 0 ..< C { y[i] = x[i] * inv }
            norms[n] = norm
        }
    }

    /// dx += (dy − y·(y·dy)) / ‖x‖.
    public static func backward(dinp: UnsafeMutablePointer<Float>,     // (N, C)
                                dout: UnsafePointer<Float>,            // (N, C)
                                out: UnsafePointer<Float>,             // (N, C) the forward's output
                                norms: UnsafePointer<Float>,           // (N)
                                N: Int, C: Int) {
        for n in 0 ..< N {
            let y = out + n * C, dy = dout + n * C, dx = dinp + n * C
            var dot: Float = 0
            for i in 0 ..< C { dot += y[i] * dy[i] }
            let inv = 1 / norms[n]
            for i in 0 ..< C { dx[i] += (dy[i] - y[i] * dot) * inv }
        }
    }
}
