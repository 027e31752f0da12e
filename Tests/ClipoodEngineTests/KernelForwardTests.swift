import ClipoodEngine
import Foundation
import TestSupport
import Testing

// Every kernel's forward against a naive loop written here in Double, the most literal
// reading of the formula. Float32 kernels on O(1) inputs agree to ~1e-6 relative; the
// tolerance 1e-5 (absolute, on outputs of magnitude ≲ 10) leaves room for BLAS's different
// summation order and for expf/erff's last-bit differences.
let forwardTolerance = 1e-5

@Suite("kernel forward vs naive loops")
struct KernelForwardTests {
    @Test func linear() {
        let N = 5, C = 7, OC = 3
        var v = TestValues(seed: 1)
        let x = FloatBuffer(v.array(N * C)), w = FloatBuffer(v.array(OC * C)), b = FloatBuffer(v.array(OC))
        let out = FloatBuffer(count: N * OC)
        Linear.forward(out: out.base, inp: x.base, weight: w.base, bias: b.base, N: N, C: C, OC: OC)
        var ref = [Double](repeating: 0, count: N * OC)
        for n in 0 ..< N { for o in 0 ..< OC {
            var s = Double(b[o])
            for c in 0 ..< C { s += Double(x[n * C + c]) * Double(w[o * C + c]) }
            ref[n * OC + o] = s
        } }
        #expect(maxAbsDifference(out.toArray(), ref).value < forwardTolerance)
        // Without bias.
        Linear.forward(out: out.base, inp: x.base, weight: w.base, bias: nil, N: N, C: C, OC: OC)
        for n in 0 ..< N { for o in 0 ..< OC { ref[n * OC + o] -= Double(b[o]) } }
        #expect(maxAbsDifference(out.toArray(), ref).value < forwardTolerance)
        // With a residual added, with and without bias (the output starts as residual + bias).
        let r = FloatBuffer(v.array(N * OC))
        Linear.forward(out: out.base, inp: x.base, weight: w.base, bias: nil, residual: r.base, N: N, C: C, OC: OC)
        for i in 0 ..< N * OC { ref[i] += Double(r[i]) }
        #expect(maxAbsDifference(out.toArray(), ref).value < forwardTolerance)
        Linear.forward(out: out.base, inp: x.base, weight: w.base, bias: b.base, residual: r.base, N: N, C: C, OC: OC)
        for n in 0 ..< N { for o in 0 ..< OC { ref[n * OC + o] += Double(b[o]) } }
        #expect(maxAbsDifference(out.toArray(), ref).value < forwardTolerance)
    }

    @Test func projection() {
        let N = 3, C = 5, OC = 4
        var v = TestValues(seed: 23)
        let x = FloatBuffer(v.array(N * C)), w = FloatBuffer(v.array(C * OC)), out = FloatBuffer(count: N * OC)
        Projection.forward(out: out.base, inp: x.base, weight: w.base, N: N, C: C, OC: OC)
        var ref = [Double](repeating: 0, count: N * OC)
        for n in 0 ..< N { for o in 0 ..< OC { for c in 0 ..< C { ref[n * OC + o] += Double(x[n * C + c]) * Double(w[c * OC + o]) } } }
        #expect(maxAbsDifference(out.toArray(), ref).value < forwardTolerance)
    }

    /// C = 9 runs only the rows' tail loops; C = 37, two 16-lane blocks and a tail.
    @Test(arguments: [9, 37])
    func layerNorm(C: Int) {
        let N = 4
        var v = TestValues(seed: 2)
        // Rows with a large mean check the two-pass variance.
        let x = FloatBuffer((0 ..< N * C).map { i in v.next() * 3 + (i / C == 3 ? 100 : 0) })
        let w = FloatBuffer(v.array(C, 0.5, 1.5)), b = FloatBuffer(v.array(C))
        let out = FloatBuffer(count: N * C), mean = FloatBuffer(count: N), rstd = FloatBuffer(count: N)
        LayerNorm.forward(out: out.base, mean: mean.base, rstd: rstd.base, inp: x.base, weight: w.base, bias: b.base, N: N, C: C)
        var ref = [Double](repeating: 0, count: N * C)
        for n in 0 ..< N {
            let row = (0 ..< C).map { Double(x[n * C + $0]) }
            let m = row.reduce(0, +) / Double(C)
            let varc = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(C)
            for c in 0 ..< C { ref[n * C + c] = (row[c] - m) / (varc + 1e-5).squareRoot() * Double(w[c]) + Double(b[c]) }
            #expect(abs(Double(mean[n]) - m) < 1e-4 * max(1, abs(m)))
        }
        #expect(maxAbsDifference(out.toArray(), ref).value < 1e-4)   // the mean-100 row loses ~2 digits in Float
    }

    @Test(arguments: [false, true])
    func attention(causal: Bool) {
        let B = 2, T = 5, C = 8, NH = 2, HS = C / NH
        var v = TestValues(seed: 3)
        let qkv = FloatBuffer(v.array(B * T * 3 * C, -2, 2))
        let out = FloatBuffer(count: B * T * C), probs = FloatBuffer(count: B * NH * T * T)
        Attention.forward(out: out.base, probs: probs.base, qkv: qkv.base, B: B, T: T, C: C, NH: NH, causal: causal)
        var ref = [Double](repeating: 0, count: B * T * C)
        for b in 0 ..< B { for h in 0 ..< NH { for i in 0 ..< T {
            func at(_ t: Int, _ part: Int, _ d: Int) -> Double { Double(qkv[(b * T + t) * 3 * C + part * C + h * HS + d]) }
            let keys = causal ? Array(0 ... i) : Array(0 ..< T)
            let scores = keys.map { j in (0 ..< HS).map { at(i, 0, $0) * at(j, 1, $0) }.reduce(0, +) / Double(HS).squareRoot() }
            let mx = scores.max()!
            let e = scores.map { exp($0 - mx) }, z = e.reduce(0, +)
            for d in 0 ..< HS {
                ref[(b * T + i) * C + h * HS + d] = zip(keys, e).map { j, ej in ej / z * at(j, 2, d) }.reduce(0, +)
            }
            if causal { for j in (i + 1) ..< T { #expect(probs[((b * NH + h) * T + i) * T + j] == 0) } }
        } } }
        #expect(maxAbsDifference(out.toArray(), ref).value < forwardTolerance)
    }

    @Test func activations() {
        var v = TestValues(seed: 4)
        let x = FloatBuffer(v.array(64, -6, 6)), out = FloatBuffer(count: 64)
        GELU.forward(out: out.base, inp: x.base, count: 64)
        let gelu = x.toArray().map { Double($0) }.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
        #expect(maxAbsDifference(out.toArray(), gelu).value < forwardTolerance)
        QuickGELU.forward(out: out.base, inp: x.base, count: 64)
        let quick = x.toArray().map { Double($0) }.map { $0 / (1 + exp(-1.702 * $0)) }
        #expect(maxAbsDifference(out.toArray(), quick).value < forwardTolerance)
        Activation.gelu.forward(out: out.base, inp: x.base, count: 64)
        #expect(maxAbsDifference(out.toArray(), gelu).value < forwardTolerance)
    }

    @Test func residual() {
        var v = TestValues(seed: 5)
        let a = FloatBuffer(v.array(10)), b = FloatBuffer(v.array(10)), out = FloatBuffer(count: 10)
        Residual.forward(out: out.base, a: a.base, b: b.base, count: 10)
        #expect(out.toArray() == zip(a.toArray(), b.toArray()).map { $0 + $1 })
    }

    @Test func patchEmbedding() {
        // A 2-image batch of 3×8×12 images, patch 4 → 2×3 grid, 5 output channels: the
        // convolution written out as four nested loops, exactly as PyTorch's conv2d with stride = kernel.
        let B = 2, CI = 3, H = 8, W = 12, P = 4, C = 5, GH = H / P, GW = W / P
        var v = TestValues(seed: 6)
        let img = FloatBuffer(v.array(B * CI * H * W)), w = FloatBuffer(v.array(C * CI * P * P))
        let patches = FloatBuffer(count: B * GH * GW * CI * P * P), out = FloatBuffer(count: B * GH * GW * C)
        PatchEmbedding.forward(out: out.base, patches: patches.base, images: img.base, weight: w.base, bias: nil, B: B, CI: CI, H: H, W: W, P: P, C: C)
        var ref = [Double](repeating: 0, count: B * GH * GW * C)
        for b in 0 ..< B { for gy in 0 ..< GH { for gx in 0 ..< GW { for o in 0 ..< C {
            var s = 0.0
            for c in 0 ..< CI { for ky in 0 ..< P { for kx in 0 ..< P {
                s += Double(img[((b * CI + c) * H + gy * P + ky) * W + gx * P + kx]) * Double(w[((o * CI + c) * P + ky) * P + kx])
            } } }
            ref[((b * GH + gy) * GW + gx) * C + o] = s
        } } } }
        #expect(maxAbsDifference(out.toArray(), ref).value < forwardTolerance)
    }

    @Test func classAndPositionEmbedding() {
        let B = 2, T = 4, C = 3
        var v = TestValues(seed: 7)
        let patches = FloatBuffer(v.array(B * (T - 1) * C)), cls = FloatBuffer(v.array(C)), pos = FloatBuffer(v.array(T * C))
        let out = FloatBuffer(count: B * T * C)
        ClassPositionEmbedding.forward(out: out.base, patches: patches.base, classToken: cls.base, positions: pos.base, B: B, T: T, C: C)
        for b in 0 ..< B { for t in 0 ..< T { for c in 0 ..< C {
            let src = t == 0 ? cls[c] : patches[(b * (T - 1) + t - 1) * C + c]
            #expect(out[(b * T + t) * C + c] == src + pos[t * C + c])
        } } }
    }

    @Test func tokenEmbeddingAndGather() {
        let B = 2, T = 3, C = 4, V = 6
        var v = TestValues(seed: 8)
        let table = FloatBuffer(v.array(V * C)), pos = FloatBuffer(v.array(T * C)), out = FloatBuffer(count: B * T * C)
        let ids: [Int32] = [5, 0, 2, 1, 1, 4]
        ids.withUnsafeBufferPointer { TokenEmbedding.forward(out: out.base, ids: $0.baseAddress!, table: table.base, positions: pos.base, B: B, T: T, C: C, V: V) }
        for b in 0 ..< B { for t in 0 ..< T { for c in 0 ..< C {
            #expect(out[(b * T + t) * C + c] == table[Int(ids[b * T + t]) * C + c] + pos[t * C + c])
        } } }
        let picked = FloatBuffer(count: B * C)
        let rows: [Int32] = [2, 0]
        rows.withUnsafeBufferPointer { GatherRows.forward(out: picked.base, inp: out.base, index: $0.baseAddress!, B: B, T: T, C: C) }
        for c in 0 ..< C {
            #expect(picked[c] == out[2 * C + c])
            #expect(picked[C + c] == out[(T + 0) * C + c])
        }
    }

    @Test func l2Normalize() {
        let N = 3, C = 6
        var v = TestValues(seed: 9)
        let x = FloatBuffer(v.array(N * C, -3, 3)), out = FloatBuffer(count: N * C), norms = FloatBuffer(count: N)
        L2Normalize.forward(out: out.base, norms: norms.base, inp: x.base, N: N, C: C)
        for n in 0 ..< N {
            let row = (0 ..< C).map { Double(x[n * C + $0]) }
            let norm = row.map { $0 * $0 }.reduce(0, +).squareRoot()
            #expect(abs(Double(norms[n]) - norm) < 1e-5)
            for c in 0 ..< C { #expect(abs(Double(out[n * C + c]) - row[c] / norm) < forwardTolerance) }
        }
    }

    @Test func softmaxCrossEntropy() {
        let N = 4, K = 5
        var v = TestValues(seed: 10)
        // Row 3 has huge logits: the log-sum-exp form must stay finite and exact.
        let logits = FloatBuffer((0 ..< N * K).map { i in v.next(-4, 4) + (i / K == 3 ? 500 : 0) })
        let targets: [Int32] = [0, 4, 2, 1]
        let probs = FloatBuffer(count: N * K)
        let loss = targets.withUnsafeBufferPointer { SoftmaxCrossEntropy.forward(probs: probs.base, logits: logits.base, targets: $0.baseAddress!, N: N, K: K) }
        var ref = 0.0
        for n in 0 ..< N {
            let z = (0 ..< K).map { Double(logits[n * K + $0]) }
            let m = z.max()!
            let lse = m + log(z.map { exp($0 - m) }.reduce(0, +))
            ref += lse - z[Int(targets[n])]
            for k in 0 ..< K { #expect(abs(Double(probs[n * K + k]) - exp(z[k] - lse)) < 1e-6) }
        }
        #expect(abs(Double(loss) - ref / Double(N)) < 1e-5)
    }
}
