import ClipoodEngine
import Foundation
import TestSupport
import Testing

// Every backward against central finite differences of L = Σ w·out (w random, fixed), so
// dL/dout = w is what each backward receives.
//
// Tolerances (unless a test says otherwise): h = 1e-2, |analytic − numeric| ≤ 1e-3 + 1e-2·|numeric|.
// Why: the forward runs in Float32, so L carries a rounding error of about 1e-7·Σ|w·out| ≈ 1e-6
// on these small shapes, which the difference quotient divides by 2h = 2e-2 → ~5e-5; the
// central difference's truncation error is h²/6·|L'''| ≈ 2e-5·|L'''|, well under 1e-3 for these
// smooth kernels with O(1) inputs. A wrong backward (a missed term, a transposed GEMM) is off
// by O(0.1–1), orders of magnitude above the tolerance. Backward also ACCUMULATES: each test
// pre-fills a gradient with a known value and subtracts it, which fails if a kernel overwrites.

private func expectPassed(_ r: GradientReport, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.passed, "\(r)", sourceLocation: sourceLocation)
    #expect(r.maxAbsNumeric > 1e-3, "gradient of \(r.label) is ~0: the check proves nothing", sourceLocation: sourceLocation)
}

/// Pre-fills a gradient buffer with 0.25 (accumulation check) and returns a copy minus 0.25.
private func accumulated(_ g: FloatBuffer) -> [Float] { g.toArray().map { $0 - 0.25 } }
private func prefilled(_ count: Int) -> FloatBuffer { FloatBuffer([Float](repeating: 0.25, count: count)) }

@Suite("kernel backward vs finite differences")
struct KernelBackwardTests {
    @Test func linear() {
        let N = 4, C = 6, OC = 5
        var v = TestValues(seed: 11)
        let x = FloatBuffer(v.array(N * C)), w = FloatBuffer(v.array(OC * C)), b = FloatBuffer(v.array(OC))
        let wt = FloatBuffer(v.array(N * OC)), out = FloatBuffer(count: N * OC)
        func loss() -> Double {
            Linear.forward(out: out.base, inp: x.base, weight: w.base, bias: b.base, N: N, C: C, OC: OC)
            return GradientCheck.weightedSum(out.base, wt.base, count: N * OC)
        }
        let dx = prefilled(N * C), dw = prefilled(OC * C), db = prefilled(OC)
        Linear.backward(dinp: dx.base, dweight: dw.base, dbias: db.base, dout: wt.base, inp: x.base, weight: w.base, N: N, C: C, OC: OC)
        expectPassed(GradientCheck.check("linear dinp", x: x.base, count: x.count, analytic: accumulated(dx), loss: loss))
        expectPassed(GradientCheck.check("linear dweight", x: w.base, count: w.count, analytic: accumulated(dw), loss: loss))
        expectPassed(GradientCheck.check("linear dbias", x: b.base, count: b.count, analytic: accumulated(db), loss: loss))
    }

    @Test func projection() {
        let N = 3, C = 5, OC = 4
        var v = TestValues(seed: 22)
        let x = FloatBuffer(v.array(N * C)), w = FloatBuffer(v.array(C * OC)), wt = FloatBuffer(v.array(N * OC)), out = FloatBuffer(count: N * OC)
        func loss() -> Double {
            Projection.forward(out: out.base, inp: x.base, weight: w.base, N: N, C: C, OC: OC)
            return GradientCheck.weightedSum(out.base, wt.base, count: N * OC)
        }
        let dx = prefilled(N * C), dw = prefilled(C * OC)
        Projection.backward(dinp: dx.base, dweight: dw.base, dout: wt.base, inp: x.base, weight: w.base, N: N, C: C, OC: OC)
        expectPassed(GradientCheck.check("projection dinp", x: x.base, count: x.count, analytic: accumulated(dx), loss: loss))
        expectPassed(GradientCheck.check("projection dweight", x: w.base, count: w.count, analytic: accumulated(dw), loss: loss))
    }

    /// C = 5 runs only the rows' tail loops; C = 37, two 16-lane blocks and a tail.
    @Test(arguments: [5, 37])
    func layerNorm(C: Int) {
        let N = 3
        var v = TestValues(seed: 12)
        let x = FloatBuffer(v.array(N * C, -2, 2)), w = FloatBuffer(v.array(C, 0.5, 1.5)), b = FloatBuffer(v.array(C))
        let wt = FloatBuffer(v.array(N * C)), out = FloatBuffer(count: N * C), mean = FloatBuffer(count: N), rstd = FloatBuffer(count: N)
        func loss() -> Double {
            LayerNorm.forward(out: out.base, mean: mean.base, rstd: rstd.base, inp: x.base, weight: w.base, bias: b.base, N: N, C: C)
            return GradientCheck.weightedSum(out.base, wt.base, count: N * C)
        }
        _ = loss()
        let dx = prefilled(N * C), dw = prefilled(C), db = prefilled(C)
        LayerNorm.backward(dinp: dx.base, dweight: dw.base, dbias: db.base, dout: wt.base, inp: x.base, weight: w.base,
                           mean: mean.base, rstd: rstd.base, N: N, C: C)
        // h = 1e-3 for the input: layer norm of 5 values is strongly curved (rstd ~ 1/std).
        expectPassed(GradientCheck.check("layernorm dinp", x: x.base, count: x.count, analytic: accumulated(dx), h: 1e-3, loss: loss))
        expectPassed(GradientCheck.check("layernorm dweight", x: w.base, count: w.count, analytic: accumulated(dw), loss: loss))
        expectPassed(GradientCheck.check("layernorm dbias", x: b.base, count: b.count, analytic: accumulated(db), loss: loss))
    }

    /// T = 4 runs only the softmax rows' tail loops; T = 37, two 16-lane blocks and a tail.
    @Test(arguments: [false, true], [4, 37])
    func attention(causal: Bool, T: Int) {
        let B = 2, C = 6, NH = 2
        var v = TestValues(seed: 13)
        let qkv = FloatBuffer(v.array(B * T * 3 * C)), wt = FloatBuffer(v.array(B * T * C))
        let out = FloatBuffer(count: B * T * C), probs = FloatBuffer(count: B * NH * T * T), scratch = FloatBuffer(count: Attention.scratchCount(T: T, NH: NH))
        func loss() -> Double {
            Attention.forward(out: out.base, probs: probs.base, qkv: qkv.base, B: B, T: T, C: C, NH: NH, causal: causal)
            return GradientCheck.weightedSum(out.base, wt.base, count: out.count)
        }
        _ = loss()
        let dqkv = prefilled(qkv.count)
        Attention.backward(dqkv: dqkv.base, scratch: scratch.base, dout: wt.base, probs: probs.base, qkv: qkv.base, B: B, T: T, C: C, NH: NH)
        expectPassed(GradientCheck.check("attention dqkv causal=\(causal)", x: qkv.base, count: qkv.count, analytic: accumulated(dqkv), loss: loss))
    }

    /// The softmax of all heads is split over worker threads between the (single-issue) GEMMs:
    /// each row is computed the same way on any thread, so results are bit-identical.
    @Test func attentionOnSeveralThreadsIsBitIdentical() {
        // 16 heads × 64 rows of 64: enough rows (≥ 32 k values per thread) to split over 2 threads.
        let B = 2, T = 64, C = 32, NH = 16
        var v = TestValues(seed: 31)
        let qkv = FloatBuffer(v.array(B * T * 3 * C)), dout = FloatBuffer(v.array(B * T * C))
        func run(workers: Int, causal: Bool) -> (out: [Float], dqkv: [Float]) {
            let out = FloatBuffer(count: B * T * C), probs = FloatBuffer(count: B * NH * T * T)
            let scratch = FloatBuffer(count: Attention.scratchCount(T: T, NH: NH)), dqkv = FloatBuffer(count: qkv.count)
            Attention.forward(out: out.base, probs: probs.base, qkv: qkv.base, B: B, T: T, C: C, NH: NH, causal: causal, workers: workers)
            Attention.backward(dqkv: dqkv.base, scratch: scratch.base, dout: dout.base, probs: probs.base,
                               qkv: qkv.base, B: B, T: T, C: C, NH: NH, workers: workers)
            return (out.toArray(), dqkv.toArray())
        }
        for causal in [false, true] {
            let one = run(workers: 1, causal: causal), three = run(workers: 3, causal: causal)
            #expect(one.out == three.out && one.dqkv == three.dqkv)
            #expect(one.out.contains { $0 != 0 } && one.dqkv.contains { $0 != 0 })
        }
    }

    /// Without accumulation, the input gradients of Linear, Attention and the activations are
    /// written whole: the same values as accumulating into zeros, whatever the buffer held (NaN).
    @Test func writingBackwardsEqualAccumulatingIntoZeros() {
        var v = TestValues(seed: 15)
        func both(_ count: Int, _ run: (UnsafeMutablePointer<Float>, Bool) -> Void) -> (written: [Float], added: [Float]) {
            let written = FloatBuffer([Float](repeating: .nan, count: count)), added = FloatBuffer(count: count)
            run(written.base, false)
            run(added.base, true)
            return (written.toArray(), added.toArray())
        }
        let N = 4, C = 6, OC = 5
        let x = FloatBuffer(v.array(N * C)), w = FloatBuffer(v.array(OC * C)), dy = FloatBuffer(v.array(N * OC))
        let linear = both(N * C) { dinp, accumulate in
            Linear.backward(dinp: dinp, dweight: nil, dbias: nil, dout: dy.base, inp: x.base, weight: w.base, N: N, C: C, OC: OC,
                            accumulateInput: accumulate)
        }
        #expect(linear.written == linear.added && linear.added.contains { $0 != 0 })
        let B = 2, T = 4, W = 6, NH = 2
        let qkv = FloatBuffer(v.array(B * T * 3 * W)), dout = FloatBuffer(v.array(B * T * W))
        let out = FloatBuffer(count: B * T * W), probs = FloatBuffer(count: B * NH * T * T)
        let scratch = FloatBuffer(count: Attention.scratchCount(T: T, NH: NH))
        Attention.forward(out: out.base, probs: probs.base, qkv: qkv.base, B: B, T: T, C: W, NH: NH, causal: false)
        let attention = both(qkv.count) { dqkv, accumulate in
            Attention.backward(dqkv: dqkv, scratch: scratch.base, dout: dout.base, probs: probs.base, qkv: qkv.base,
                               B: B, T: T, C: W, NH: NH, accumulate: accumulate)
        }
        #expect(attention.written == attention.added && attention.added.contains { $0 != 0 })
        let a = FloatBuffer(v.array(40, -4, 4)), da = FloatBuffer(v.array(40))
        for act in Activation.allCases {
            let r = both(40) { dinp, accumulate in act.backward(dinp: dinp, dout: da.base, inp: a.base, count: 40, accumulate: accumulate) }
            #expect(r.written == r.added && r.added.contains { $0 != 0 }, "\(act)")
        }
    }

    @Test(arguments: Activation.allCases)
    func activation(_ act: Activation) {
        var v = TestValues(seed: 14)
        let x = FloatBuffer(v.array(40, -4, 4)), wt = FloatBuffer(v.array(40)), out = FloatBuffer(count: 40)
        func loss() -> Double {
            act.forward(out: out.base, inp: x.base, count: 40)
            return GradientCheck.weightedSum(out.base, wt.base, count: 40)
        }
        let dx = prefilled(40)
        act.backward(dinp: dx.base, dout: wt.base, inp: x.base, count: 40)
        expectPassed(GradientCheck.check("\(act.rawValue) dinp", x: x.base, count: 40, analytic: accumulated(dx), loss: loss))
    }

    @Test func residual() {
        var v = TestValues(seed: 15)
        let a = FloatBuffer(v.array(12)), b = FloatBuffer(v.array(12)), wt = FloatBuffer(v.array(12)), out = FloatBuffer(count: 12)
        func loss() -> Double {
            Residual.forward(out: out.base, a: a.base, b: b.base, count: 12)
            return GradientCheck.weightedSum(out.base, wt.base, count: 12)
        }
        let da = prefilled(12), db = prefilled(12)
        Residual.backward(da: da.base, db: db.base, dout: wt.base, count: 12)
        expectPassed(GradientCheck.check("residual da", x: a.base, count: 12, analytic: accumulated(da), loss: loss))
        expectPassed(GradientCheck.check("residual db", x: b.base, count: 12, analytic: accumulated(db), loss: loss))
    }

    @Test func patchEmbedding() {
        let B = 2, CI = 3, H = 4, W = 6, P = 2, C = 3
        let NP = (H / P) * (W / P), K = CI * P * P
        var v = TestValues(seed: 16)
        let img = FloatBuffer(v.array(B * CI * H * W)), w = FloatBuffer(v.array(C * K)), bias = FloatBuffer(v.array(C))
        let wt = FloatBuffer(v.array(B * NP * C)), out = FloatBuffer(count: B * NP * C), patches = FloatBuffer(count: B * NP * K)
        func loss() -> Double {
            PatchEmbedding.forward(out: out.base, patches: patches.base, images: img.base, weight: w.base, bias: bias.base,
                                   B: B, CI: CI, H: H, W: W, P: P, C: C)
            return GradientCheck.weightedSum(out.base, wt.base, count: out.count)
        }
        _ = loss()
        let dimg = prefilled(img.count), dw = prefilled(w.count), db = prefilled(C), scratch = FloatBuffer(count: B * NP * K)
        PatchEmbedding.backward(dimages: dimg.base, dweight: dw.base, dbias: db.base, scratch: scratch.base, dout: wt.base,
                                patches: patches.base, weight: w.base, B: B, CI: CI, H: H, W: W, P: P, C: C)
        expectPassed(GradientCheck.check("patch dimages", x: img.base, count: img.count, analytic: accumulated(dimg), loss: loss))
        expectPassed(GradientCheck.check("patch dweight", x: w.base, count: w.count, analytic: accumulated(dw), loss: loss))
        expectPassed(GradientCheck.check("patch dbias", x: bias.base, count: C, analytic: accumulated(db), loss: loss))
    }

    @Test func classAndPositionEmbedding() {
        let B = 3, T = 4, C = 2
        var v = TestValues(seed: 17)
        let patches = FloatBuffer(v.array(B * (T - 1) * C)), cls = FloatBuffer(v.array(C)), pos = FloatBuffer(v.array(T * C))
        let wt = FloatBuffer(v.array(B * T * C)), out = FloatBuffer(count: B * T * C)
        func loss() -> Double {
            ClassPositionEmbedding.forward(out: out.base, patches: patches.base, classToken: cls.base, positions: pos.base, B: B, T: T, C: C)
            return GradientCheck.weightedSum(out.base, wt.base, count: out.count)
        }
        let dp = prefilled(patches.count), dc = prefilled(C), dpos = prefilled(pos.count)
        ClassPositionEmbedding.backward(dpatches: dp.base, dclassToken: dc.base, dpositions: dpos.base, dout: wt.base, B: B, T: T, C: C)
        expectPassed(GradientCheck.check("cls/pos dpatches", x: patches.base, count: patches.count, analytic: accumulated(dp), loss: loss))
        expectPassed(GradientCheck.check("cls/pos dclass", x: cls.base, count: C, analytic: accumulated(dc), loss: loss))
        expectPassed(GradientCheck.check("cls/pos dpositions", x: pos.base, count: pos.count, analytic: accumulated(dpos), loss: loss))
    }

    @Test func tokenEmbeddingAndGather() {
        // Token 1 appears three times: its table row must collect all three gradients.
        let B = 2, T = 3, C = 3, V = 5
        var v = TestValues(seed: 18)
        let table = FloatBuffer(v.array(V * C)), pos = FloatBuffer(v.array(T * C))
        let ids: [Int32] = [1, 3, 1, 0, 1, 4], rows: [Int32] = [2, 1]
        let emb = FloatBuffer(count: B * T * C), pooled = FloatBuffer(count: B * C), wt = FloatBuffer(v.array(B * C))
        func loss() -> Double {
            ids.withUnsafeBufferPointer { TokenEmbedding.forward(out: emb.base, ids: $0.baseAddress!, table: table.base, positions: pos.base, B: B, T: T, C: C, V: V) }
            rows.withUnsafeBufferPointer { GatherRows.forward(out: pooled.base, inp: emb.base, index: $0.baseAddress!, B: B, T: T, C: C) }
            return GradientCheck.weightedSum(pooled.base, wt.base, count: pooled.count)
        }
        let demb = FloatBuffer(count: B * T * C), dtable = prefilled(table.count), dpos = prefilled(pos.count)
        rows.withUnsafeBufferPointer { GatherRows.backward(dinp: demb.base, dout: wt.base, index: $0.baseAddress!, B: B, T: T, C: C) }
        ids.withUnsafeBufferPointer { TokenEmbedding.backward(dtable: dtable.base, dpositions: dpos.base, dout: demb.base, ids: $0.baseAddress!, B: B, T: T, C: C) }
        expectPassed(GradientCheck.check("token dtable", x: table.base, count: table.count, analytic: accumulated(dtable), loss: loss))
        expectPassed(GradientCheck.check("token dpositions", x: pos.base, count: pos.count, analytic: accumulated(dpos), loss: loss))
    }

    @Test func l2Normalize() {
        let N = 3, C = 4
        var v = TestValues(seed: 19)
        let x = FloatBuffer(v.array(N * C, -2, 2)), wt = FloatBuffer(v.array(N * C))
        let out = FloatBuffer(count: N * C), norms = FloatBuffer(count: N)
        func loss() -> Double {
            L2Normalize.forward(out: out.base, norms: norms.base, inp: x.base, N: N, C: C)
            return GradientCheck.weightedSum(out.base, wt.base, count: out.count)
        }
        _ = loss()
        let dx = prefilled(x.count)
        L2Normalize.backward(dinp: dx.base, dout: wt.base, out: out.base, norms: norms.base, N: N, C: C)
        expectPassed(GradientCheck.check("l2norm dinp", x: x.base, count: x.count, analytic: accumulated(dx), h: 1e-3, loss: loss))
    }

    @Test func softmaxCrossEntropy() {
        let N = 3, K = 4
        var v = TestValues(seed: 20)
        let logits = FloatBuffer(v.array(N * K, -3, 3)), probs = FloatBuffer(count: N * K)
        let targets: [Int32] = [3, 0, 2]
        func loss() -> Double {
            Double(targets.withUnsafeBufferPointer { SoftmaxCrossEntropy.forward(probs: probs.base, logits: logits.base, targets: $0.baseAddress!, N: N, K: K) })
        }
        _ = loss()
        let dz = prefilled(N * K)
        targets.withUnsafeBufferPointer { SoftmaxCrossEntropy.backward(dlogits: dz.base, probs: probs.base, targets: $0.baseAddress!, N: N, K: K) }
        expectPassed(GradientCheck.check("cross-entropy dlogits", x: logits.base, count: logits.count, analytic: accumulated(dz), loss: loss))
    }

    /// A whole pre-norm transformer block (CLIP's residual attention block) chained from the
    /// kernels: ln1 → qkv → attention → out proj → residual → ln2 → fc → QuickGELU → proj →
    /// residual. Catches wiring mistakes (which buffer feeds which backward) that per-kernel
    /// checks cannot.
    @Test func transformerBlockChain() {
        let B = 2, T = 3, C = 8, NH = 2, N = B * T, H = 4 * C
        var v = TestValues(seed: 21)
        let x = FloatBuffer(v.array(N * C))
        var layout = BufferLayout()
        for (n, s) in [("ln1.w", [C]), ("ln1.b", [C]), ("qkv.w", [3 * C, C]), ("qkv.b", [3 * C]), ("proj.w", [C, C]), ("proj.b", [C]),
                       ("ln2.w", [C]), ("ln2.b", [C]), ("fc.w", [H, C]), ("fc.b", [H]), ("out.w", [C, H]), ("out.b", [C])] as [(String, [Int])] {
            layout.add(n, s)
        }
        let params = ParameterStore(layout: layout)
        for s in layout.slots {
            let p = params.value(s)
            for i in 0 ..< s.count { p[i] = s.name.hasSuffix(".w") && s.name.hasPrefix("ln") ? 1 + 0.2 * v.next() : 0.4 * v.next() }
        }
        func P(_ n: String) -> UnsafeMutablePointer<Float> { params.values.view(n).base }
        func G(_ n: String) -> UnsafeMutablePointer<Float> { params.grad(params.layout[n]!) }
        let ln1 = FloatBuffer(count: N * C), m1 = FloatBuffer(count: N), r1 = FloatBuffer(count: N), qkv = FloatBuffer(count: N * 3 * C)
        let att = FloatBuffer(count: N * C), probs = FloatBuffer(count: B * NH * T * T), proj = FloatBuffer(count: N * C), res1 = FloatBuffer(count: N * C)
        let ln2 = FloatBuffer(count: N * C), m2 = FloatBuffer(count: N), r2 = FloatBuffer(count: N), fc = FloatBuffer(count: N * H)
        let act = FloatBuffer(count: N * H), mlp = FloatBuffer(count: N * C), out = FloatBuffer(count: N * C), wt = FloatBuffer(v.array(N * C))
        func loss() -> Double {
            LayerNorm.forward(out: ln1.base, mean: m1.base, rstd: r1.base, inp: x.base, weight: P("ln1.w"), bias: P("ln1.b"), N: N, C: C)
            Linear.forward(out: qkv.base, inp: ln1.base, weight: P("qkv.w"), bias: P("qkv.b"), N: N, C: C, OC: 3 * C)
            Attention.forward(out: att.base, probs: probs.base, qkv: qkv.base, B: B, T: T, C: C, NH: NH, causal: true)
            Linear.forward(out: proj.base, inp: att.base, weight: P("proj.w"), bias: P("proj.b"), N: N, C: C, OC: C)
            Residual.forward(out: res1.base, a: x.base, b: proj.base, count: N * C)
            LayerNorm.forward(out: ln2.base, mean: m2.base, rstd: r2.base, inp: res1.base, weight: P("ln2.w"), bias: P("ln2.b"), N: N, C: C)
            Linear.forward(out: fc.base, inp: ln2.base, weight: P("fc.w"), bias: P("fc.b"), N: N, C: C, OC: H)
            QuickGELU.forward(out: act.base, inp: fc.base, count: N * H)
            Linear.forward(out: mlp.base, inp: act.base, weight: P("out.w"), bias: P("out.b"), N: N, C: H, OC: C)
            Residual.forward(out: out.base, a: res1.base, b: mlp.base, count: N * C)
            return GradientCheck.weightedSum(out.base, wt.base, count: N * C)
        }
        _ = loss()
        params.zeroGrads()
        let dx = FloatBuffer(count: N * C), dres1 = FloatBuffer(count: N * C), dmlp = FloatBuffer(count: N * C), dact = FloatBuffer(count: N * H)
        let dfc = FloatBuffer(count: N * H), dln2 = FloatBuffer(count: N * C), dproj = FloatBuffer(count: N * C), datt = FloatBuffer(count: N * C)
        let dqkv = FloatBuffer(count: N * 3 * C), dln1 = FloatBuffer(count: N * C), scratch = FloatBuffer(count: Attention.scratchCount(T: T, NH: NH))
        Residual.backward(da: dres1.base, db: dmlp.base, dout: wt.base, count: N * C)
        Linear.backward(dinp: dact.base, dweight: G("out.w"), dbias: G("out.b"), dout: dmlp.base, inp: act.base, weight: P("out.w"), N: N, C: H, OC: C)
        QuickGELU.backward(dinp: dfc.base, dout: dact.base, inp: fc.base, count: N * H)
        Linear.backward(dinp: dln2.base, dweight: G("fc.w"), dbias: G("fc.b"), dout: dfc.base, inp: ln2.base, weight: P("fc.w"), N: N, C: C, OC: H)
        LayerNorm.backward(dinp: dres1.base, dweight: G("ln2.w"), dbias: G("ln2.b"), dout: dln2.base, inp: res1.base, weight: P("ln2.w"), mean: m2.base, rstd: r2.base, N: N, C: C)
        Residual.backward(da: dx.base, db: dproj.base, dout: dres1.base, count: N * C)
        Linear.backward(dinp: datt.base, dweight: G("proj.w"), dbias: G("proj.b"), dout: dproj.base, inp: att.base, weight: P("proj.w"), N: N, C: C, OC: C)
        Attention.backward(dqkv: dqkv.base, scratch: scratch.base, dout: datt.base, probs: probs.base, qkv: qkv.base, B: B, T: T, C: C, NH: NH)
        Linear.backward(dinp: dln1.base, dweight: G("qkv.w"), dbias: G("qkv.b"), dout: dqkv.base, inp: ln1.base, weight: P("qkv.w"), N: N, C: C, OC: 3 * C)
        LayerNorm.backward(dinp: dx.base, dweight: G("ln1.w"), dbias: G("ln1.b"), dout: dln1.base, inp: x.base, weight: P("ln1.w"), mean: m1.base, rstd: r1.base, N: N, C: C)
        expectPassed(GradientCheck.check("block dinp", x: x.base, count: x.count, analytic: dx.toArray(), h: 1e-3, atol: 2e-3, loss: loss))
        expectPassed(GradientCheck.check("block params", x: params.values.base, count: params.count, analytic: Array(UnsafeBufferPointer(start: params.gradients(), count: params.count)), h: 1e-3, atol: 2e-3, loss: loss))
    }
}
