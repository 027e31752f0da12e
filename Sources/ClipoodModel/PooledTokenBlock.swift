import ClipoodEngine

/// A tower's last transformer block, computed for the one token per sequence that the tower
/// pools: the image's class token (row 0), the text's end-of-text token (its own row, seeing
/// only the rows up to it: causal).
///
/// Everything downstream of a tower reads only that token of the last block's output, so the
/// block needs keys and values for every token but a query, attention row, out-projection and
/// MLP for the pooled token alone: the same output and gradients as the full block (exact up to
/// float rounding) for about a sixth of its work. The towers run their last block this way in
/// every forward (inference, evaluation, training), and the image tower with its cached prefix
/// for `tune=last1`.
final class PooledTokenBlock {
    let p: BlockParameters
    let W: Int, NH: Int, H: Int
    let activation: Activation
    let eps: Float
    private var capacity = (B: 0, T: 0)
    private var gradCapacity = (B: 0, T: 0)
    // Saved by forward (B, T, … for all tokens; B, … for the pooled token).
    private var ln1 = FloatBuffer(count: 0), mean1 = FloatBuffer(count: 0), rstd1 = FloatBuffer(count: 0)
    private var kv = FloatBuffer(count: 0)          // (B·T, 2W): keys then values of every token
    private var q = FloatBuffer(count: 0)           // (B, W)
    private var probs = FloatBuffer(count: 0)       // (B, NH, T)
    private var att = FloatBuffer(count: 0)         // (B, W)
    private var res1 = FloatBuffer(count: 0)        // (B, W)
    private var ln2 = FloatBuffer(count: 0), mean2 = FloatBuffer(count: 0), rstd2 = FloatBuffer(count: 0)
    private var fc = FloatBuffer(count: 0), act = FloatBuffer(count: 0)
    private(set) var out = FloatBuffer(count: 0)    // (B, W)
    private var lnCls = FloatBuffer(count: 0)       // (B, W)
    // Backward scratch, made by the first backward (inference never needs it).
    private var dres1 = FloatBuffer(count: 0), dln2 = FloatBuffer(count: 0), dfc = FloatBuffer(count: 0), dact = FloatBuffer(count: 0)
    private var datt = FloatBuffer(count: 0), dq = FloatBuffer(count: 0), dkv = FloatBuffer(count: 0), dln1 = FloatBuffer(count: 0)
    private var dp = FloatBuffer(count: 0)
    /// The pooled row of each sequence, and how many rows its query sees (set by forward).
    private var row: [Int] = [], seen: [Int] = []

    init(parameters: BlockParameters, width: Int, heads: Int, mlpWidth: Int, activation: Activation, eps: Float) {
        p = parameters; W = width; NH = heads; H = mlpWidth; self.activation = activation; self.eps = eps
    }

    private func ensure(B: Int, T: Int) {
        guard B > capacity.B || T > capacity.T else { return }
        capacity = (max(B, capacity.B), max(T, capacity.T))
        let (b, t) = capacity
        ln1 = FloatBuffer(count: b * t * W); mean1 = FloatBuffer(count: b * t); rstd1 = FloatBuffer(count: b * t)
        kv = FloatBuffer(count: b * t * 2 * W); q = FloatBuffer(count: b * W); probs = FloatBuffer(count: b * NH * t)
        att = FloatBuffer(count: b * W); res1 = FloatBuffer(count: b * W)
        ln2 = FloatBuffer(count: b * W); mean2 = FloatBuffer(count: b); rstd2 = FloatBuffer(count: b)
        fc = FloatBuffer(count: b * H); act = FloatBuffer(count: b * H); out = FloatBuffer(count: b * W); lnCls = FloatBuffer(count: b * W)
    }

    private func ensureGradients(B: Int, T: Int) {
        guard B > gradCapacity.B || T > gradCapacity.T else { return }
        gradCapacity = (max(B, gradCapacity.B), max(T, gradCapacity.T))
        let (b, t) = gradCapacity
        dres1 = FloatBuffer(count: b * W); dln2 = FloatBuffer(count: b * W); dfc = FloatBuffer(count: b * H); dact = FloatBuffer(count: b * H)
        datt = FloatBuffer(count: b * W); dq = FloatBuffer(count: b * W); dkv = FloatBuffer(count: b * t * 2 * W); dln1 = FloatBuffer(count: b * t * W)
        dp = FloatBuffer(count: b * t)
    }

    /// x: (B, T, W), the stream entering the block. `pool`: each sequence's pooled row (nil:
    /// row 0, the class token); `causal`: that row sees rows 0 ... it only. Returns the pooled
    /// token's output (B, W).
    func forward(x: UnsafePointer<Float>, B: Int, T: Int, params: ParameterStore, pool: [Int32]? = nil, causal: Bool = false) -> UnsafeMutablePointer<Float> {
        ensure(B: B, T: T)
        row = (0 ..< B).map { b in pool.map { Int($0[b]) } ?? 0 }
        precondition(row.allSatisfy { $0 >= 0 && $0 < T }, "PooledTokenBlock: a pooled row outside 0 ..< \(T)")
        seen = row.map { causal ? $0 + 1 : T }
        func P(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { params.value(t) }
        let HS = W / NH, scale = 1 / Float(HS).squareRoot()
        LayerNorm.forward(out: ln1.base, mean: mean1.base, rstd: rstd1.base, inp: x, weight: P(p.ln1w), bias: P(p.ln1b), N: B * T, C: W, eps: eps)
        // Keys and values of every token: rows W ..< 3W of in_proj.
        Linear.forward(out: kv.base, inp: ln1.base, weight: P(p.qkvw) + W * W, bias: P(p.qkvb) + W, N: B * T, C: W, OC: 2 * W)
        for b in 0 ..< B { (lnCls.base + b * W).update(from: ln1.base + (b * T + row[b]) * W, count: W) }
        Linear.forward(out: q.base, inp: lnCls.base, weight: P(p.qkvw), bias: P(p.qkvb), N: B, C: W, OC: W)
        for b in 0 ..< B {
            let n = seen[b]
            for h in 0 ..< NH {
                let qh = q.base + b * W + h * HS, k = kv.base + b * T * 2 * W + h * HS, v = k + W
                let pr = probs.base + (b * NH + h) * T
                BLAS.sgemm(transB: true, M: 1, N: n, K: HS, alpha: scale, A: qh, lda: HS, B: k, ldb: 2 * W, C: pr, ldc: T)
                Attention.softmaxRows(pr, T: n, causal: false, rows: 1)
                BLAS.sgemm(M: 1, N: HS, K: n, A: pr, lda: T, B: v, ldb: 2 * W, C: att.base + b * W + h * HS, ldc: HS)
            }
        }
        Linear.forward(out: res1.base, inp: att.base, weight: P(p.projw), bias: P(p.projb), N: B, C: W, OC: W)
        for b in 0 ..< B {
            let r = res1.base + b * W, xr = x + (b * T + row[b]) * W
            for i in 0 ..< W { r[i] += xr[i] }
        }
        LayerNorm.forward(out: ln2.base, mean: mean2.base, rstd: rstd2.base, inp: res1.base, weight: P(p.ln2w), bias: P(p.ln2b), N: B, C: W, eps: eps)
        Linear.forward(out: fc.base, inp: ln2.base, weight: P(p.fcw), bias: P(p.fcb), N: B, C: W, OC: H)
        activation.forward(out: act.base, inp: fc.base, count: B * H)
        Linear.forward(out: out.base, inp: act.base, weight: P(p.outw), bias: P(p.outb), N: B, C: H, OC: W)
        Residual.forward(out: out.base, a: out.base, b: res1.base, count: B * W)
        return out.base
    }

    /// dout: (B, W) gradient of the pooled token's output, after `forward` on the same x.
    /// Accumulates every parameter gradient of the block. With `dx`, writes the gradient w.r.t.
    /// the input stream x (B, T, W) there (overwriting it): keys and values reach every row the
    /// query sees, the query and the residual the pooled row. Without it the stream is frozen
    /// and nothing flows below the block.
    func backward(dout: UnsafePointer<Float>, x: UnsafePointer<Float>, B: Int, T: Int, params: ParameterStore,
                  dx: UnsafeMutablePointer<Float>? = nil) {
        ensureGradients(B: B, T: T)
        func P(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { params.value(t) }
        func G(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { params.grad(t) }
        let HS = W / NH, scale = 1 / Float(HS).squareRoot()
        // MLP half.
        dres1.base.update(from: dout, count: B * W)
        Linear.backward(dinp: dact.base, dweight: G(p.outw), dbias: G(p.outb), dout: dout, inp: act.base, weight: P(p.outw), N: B, C: H, OC: W,
                        accumulateInput: false)
        activation.backward(dinp: dfc.base, dout: dact.base, inp: fc.base, count: B * H, accumulate: false)
        Linear.backward(dinp: dln2.base, dweight: G(p.fcw), dbias: G(p.fcb), dout: dfc.base, inp: ln2.base, weight: P(p.fcw), N: B, C: W, OC: H,
                        accumulateInput: false)
        LayerNorm.backward(dinp: dres1.base, dweight: G(p.ln2w), dbias: G(p.ln2b), dout: dln2.base, inp: res1.base, weight: P(p.ln2w),
                           mean: mean2.base, rstd: rstd2.base, N: B, C: W)
        // Attention half.
        dq.base.update(repeating: 0, count: B * W); dkv.base.update(repeating: 0, count: B * T * 2 * W)
        Linear.backward(dinp: datt.base, dweight: G(p.projw), dbias: G(p.projb), dout: dres1.base, inp: att.base, weight: P(p.projw), N: B, C: W, OC: W,
                        accumulateInput: false)
        for b in 0 ..< B {
            let n = seen[b]
            for h in 0 ..< NH {
                let qh = q.base + b * W + h * HS, k = kv.base + b * T * 2 * W + h * HS, v = k + W
                let dk = dkv.base + b * T * 2 * W + h * HS, dv = dk + W
                let pr = probs.base + (b * NH + h) * T, da = datt.base + b * W + h * HS, dpb = dp.base + b * T
                // dp = dA·Vᵀ ; dV += pᵀ ⊗ dA (rows the query sees; the others stay zero)
                BLAS.sgemm(transB: true, M: 1, N: n, K: HS, A: da, lda: HS, B: v, ldb: 2 * W, C: dpb, ldc: T)
                BLAS.sgemm(transA: true, M: n, N: HS, K: 1, A: pr, lda: T, B: da, ldb: HS, beta: 1, C: dv, ldc: 2 * W)
                var dot: Float = 0
                for j in 0 ..< n { dot += pr[j] * dpb[j] }
                for j in 0 ..< n { dpb[j] = pr[j] * (dpb[j] - dot) }
                // dq += scale·ds·K ; dK += scale·dsᵀ ⊗ q
                BLAS.sgemm(M: 1, N: HS, K: n, alpha: scale, A: dpb, lda: T, B: k, ldb: 2 * W, beta: 1, C: dq.base + b * W + h * HS, ldc: HS)
                BLAS.sgemm(transA: true, M: n, N: HS, K: 1, alpha: scale, A: dpb, lda: T, B: qh, ldb: HS, beta: 1, C: dk, ldc: 2 * W)
            }
        }
        // Projections back to ln_1: the query from the pooled token, keys and values from every token.
        Linear.backward(dinp: nil, dweight: G(p.qkvw), dbias: G(p.qkvb), dout: dq.base, inp: lnCls.base, weight: P(p.qkvw), N: B, C: W, OC: W)
        Linear.backward(dinp: dln1.base, dweight: G(p.qkvw) + W * W, dbias: G(p.qkvb) + W, dout: dkv.base, inp: ln1.base, weight: P(p.qkvw) + W * W,
                        N: B * T, C: W, OC: 2 * W, accumulateInput: false)
        // d ln_1 of the pooled row also gets the query's share (datt, done with, holds it).
        BLAS.gemm(M: B, N: W, K: W, A: dq.base, lda: W, B: P(p.qkvw), ldb: W, C: datt.base, ldc: W)
        for b in 0 ..< B {
            let d = dln1.base + (b * T + row[b]) * W, s = datt.base + b * W
            for i in 0 ..< W { d[i] += s[i] }
        }
        (G(p.qkvb) + W).update(repeating: 0, count: W)   // the key bias: exactly zero (see TransformerStack)
        if let dx {
            // The residual: the pooled row's res1 = x + attention, and its gradient is dres1.
            Parallel.chunks(B * T * W, minimum: Elementwise.minimumPerThread) { r in (dx + r.lowerBound).update(repeating: 0, count: r.count) }
            for b in 0 ..< B { (dx + (b * T + row[b]) * W).update(from: dres1.base + b * W, count: W) }
        }
        LayerNorm.backward(dinp: dx, dweight: G(p.ln1w), dbias: G(p.ln1b), dout: dln1.base, inp: x, weight: P(p.ln1w),
                           mean: mean1.base, rstd: rstd1.base, N: B * T, C: W)
    }
}
