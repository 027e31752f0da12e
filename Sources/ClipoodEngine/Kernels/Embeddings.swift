/// Vision input tokens: a learned class token in front of the patch tokens, plus learned
/// positional embeddings. out[b, 0] = cls + pos[0]; out[b, 1 + p] = patches[b, p] + pos[1 + p].
public enum ClassPositionEmbedding {
    public static func forward(out: UnsafeMutablePointer<Float>,        // (B, T, C), T = 1 + patches
                               patches: UnsafePointer<Float>,           // (B, T-1, C)
                               classToken: UnsafePointer<Float>,        // (C)
                               positions: UnsafePointer<Float>,         // (T, C)
                               B: Int, T: Int, C: Int) {
        for b in 0 ..< B {
            let o = out + b * T * C
            for i in 0 ..< C { o[i] = classToken[i] + positions[i] }
            let src = patches + b * (T - 1) * C
            for i in 0 ..< (T - 1) * C { o[C + i] = src[i] + positions[C + i] }
        }
    }

    public static func backward(dpatches: UnsafeMutablePointer<Float>?,   // (B, T-1, C)
                                dclassToken: UnsafeMutablePointer<Float>?,// (C)
                                dpositions: UnsafeMutablePointer<Float>?, // (T, C)
                                dout: UnsafePointer<Float>,               // (B, T, C)
                                B: Int, T: Int, C: Int) {
        for b in 0 ..< B {
            let d = dout + b * T * C
            if let dclassToken { for i in 0 ..< C { dclassToken[i] += d[i] } }
            if let dpositions { for i in 0 ..< T * C { dpositions[i] += d[i] } }
            if let dpatches {
                let dp = dpatches + b * (T - 1) * C
                for i in 0 ..< (T - 1) * C { dp[i] += d[C + i] }
            }
        }
    }
}

/// Text input tokens: out[b, t] = tokenTable[ids[b, t]] + positions[t].
public enum TokenEmbedding {
    public static func forward(out: UnsafeMutablePointer<Float>,      // (B, T, C)
                               ids: UnsafePointer<Int32>,             // (B, T)
                               table: UnsafePointer<Float>,           // (V, C)
                               positions: UnsafePointer<Float>,       // (≥T, C)
                               B: Int, T: Int, C: Int, V: Int) {
        for b in 0 ..< B {
            for t in 0 ..< T {
                let id = Int(ids[b * T + t])
                precondition(id >= 0 && id < V, "TokenEmbedding: token id \(id) outside the vocabulary of \(V)")
                let o = out + (b * T + t) * C, e = table + id * C, p = positions + t * C
                for i in 0 ..< C { o[i] = e[i] + p[i] }
            }
        }
    }

    /// Scatter-adds into the rows of the table that were used.
    public static func backward(dtable: UnsafeMutablePointer<Float>?,     // (V, C)
                                dpositions: UnsafeMutablePointer<Float>?, // (≥T, C)
                                dout: UnsafePointer<Float>,               // (B, T, C)
                                ids: UnsafePointer<Int32>,                // (B, T)
                                B: Int, T: Int, C: Int) {
        for b in 0 ..< B {
            for t in 0 ..< T {
                let d = dout + (b * T + t) * C
                if let dtable {
                    let e = dtable + Int(ids[b * T + t]) * C
                    for i in 0 ..< C { e[i] += d[i] }
                }
                if let dpositions {
                    let p = dpositions + t * C
                    for i in 0 ..< C { p[i] += d[i] }
                }
            }
        }
    }
}

/// Picks one row per sequence (the class token, or the end-of-text token), and its adjoint.
public enum GatherRows {
    /// out[b] = inp[b, index[b]].
    public static func forward(out: UnsafeMutablePointer<Float>,      // (B, C)
                               inp: UnsafePointer<Float>,             // (B, T, C)
                               index: UnsafePointer<Int32>,           // (B)
                               B: Int, T: Int, C: Int) {
        for b in 0 ..< B {
            let t = Int(index[b])
            precondition(t >= 0 && t < T, "GatherRows: row \(t) outside 0..<\(T)")
            (out + b * C).update(from: inp + (b * T + t) * C, count: C)
        }
    }

    public static func backward(dinp: UnsafeMutablePointer<Float>,        // (B, T, C)
                                dout: UnsafePointer<Float>,               // (B, C)
                                index: UnsafePointer<Int32>, B: Int, T: Int, C: Int) {
        for b in 0 ..< B {
            let d = dinp + (b * T + Int(index[b])) * C, s = dout + b * C
            for i in 0 ..< C { d[i] += s[i] }
        }
    }
}
