import ClipoodEngine
import ClipoodModel
import ClipoodTrain
import Foundation
import TestSupport
import Testing

@Suite("MMS loss, AdamW, schedule and weight averages")
struct MethodTests {
    /// Unit text features for K classes in D dimensions.
    func textFeatures(K: Int, D: Int, seed: UInt64) -> FloatBuffer {
        var v = TestValues(seed: seed)
        var t = v.array(K * D)
        for k in 0 ..< K {
            let n = (0 ..< D).map { t[k * D + $0] * t[k * D + $0] }.reduce(0, +).squareRoot()
            for i in 0 ..< D { t[k * D + i] /= n }
        }
        return FloatBuffer(t)
    }

    @Test func mmsGradientMatchesFiniteDifferences() {
        let B = 4, K = 5, D = 6
        let loss = MMSLoss(textFeatures: textFeatures(K: K, D: D, seed: 1), classes: K, dim: D, lambda: 0.3, scale: 10)
        var v = TestValues(seed: 2)
        let feats = FloatBuffer(v.array(B * D)), labels: [Int32] = [0, 3, 4, 3]
        _ = loss.forward(features: feats.base, labels: labels, B: B)
        let d = FloatBuffer(count: B * D)
        loss.backward(dfeatures: d.base, B: B)
        // h = 1e-3: scale 10 makes the loss curvature ~100× a plain softmax's.
        let r = GradientCheck.check("mms dfeatures", x: feats.base, count: feats.count, analytic: d.toArray(), h: 1e-3) {
            Double(loss.forward(features: feats.base, labels: labels, B: B))
        }
        #expect(r.passed, "\(r)")
    }

    /// logit_j = s·(cos(f, t_j) − λ·cos(t_y, t_j)): the text-derived margin of the paper (§3).
    @Test func mmsLogitsAreMarginShiftedCosines() {
        let B = 3, K = 4, D = 5
        let T = textFeatures(K: K, D: D, seed: 3)
        let s: Float = 20, lambda: Float = 0.5
        let loss = MMSLoss(textFeatures: T, classes: K, dim: D, lambda: lambda, scale: s)
        var v = TestValues(seed: 4)
        let feats = FloatBuffer(v.array(B * D)), labels: [Int32] = [2, 0, 1]
        _ = loss.forward(features: feats.base, labels: labels, B: B)
        func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float { (0 ..< D).map { a[$0] * b[$0] }.reduce(0, +) }
        for b in 0 ..< B {
            let f = feats.base + b * D
            let norm = dot(f, f).squareRoot()
            let y = Int(labels[b])
            for j in 0 ..< K {
                let expected = s * (dot(f, T.base + j * D) / norm - lambda * dot(T.base + y * D, T.base + j * D))
                #expect(abs(loss.logits[b * K + j] - expected) < 1e-4)
            }
        }
        let m = loss.margins()
        #expect(abs(m[0]) < 1e-6)   // a class has no margin against itself
        #expect(m[1] > 0 && m[1] <= 2 * lambda)
    }

    @Test func lambdaZeroIsPlainCrossEntropy() {
        let B = 3, K = 4, D = 5
        let T = textFeatures(K: K, D: D, seed: 5)
        var v = TestValues(seed: 6)
        let feats = FloatBuffer(v.array(B * D)), labels: [Int32] = [1, 1, 3]
        let l = MMSLoss(textFeatures: T, classes: K, dim: D, lambda: 0, scale: 7).forward(features: feats.base, labels: labels, B: B)
        var ref = 0.0
        for b in 0 ..< B {
            let f = (0 ..< D).map { Double(feats[b * D + $0]) }, n = f.map { $0 * $0 }.reduce(0, +).squareRoot()
            let z = (0 ..< K).map { k in 7 * (0 ..< D).map { f[$0] / n * Double(T[k * D + $0]) }.reduce(0, +) }
            ref += log(z.map(exp).reduce(0, +)) - z[Int(labels[b])]
        }
        #expect(abs(Double(l) - ref / Double(B)) < 1e-5)
    }

    /// Two steps of AdamW written out by hand in Double from PyTorch's documented algorithm.
    @Test func adamWFollowsPyTorch() {
        let params = FloatBuffer([0.5, -1.0, 2.0, 0.0, 3.0])
        let opt = AdamW(range: 1 ..< 4, weightDecay: 0.1)
        var ref = [-1.0, 2.0, 0.0], m = [0.0, 0, 0], vv = [0.0, 0, 0]
        let gradsList: [[Float]] = [[0, 0.3, -0.2, 1e-3, 9], [0, -0.1, 0.4, 0, 9]]
        for (t, g) in gradsList.enumerated() {
            let lr = 0.01 * Double(t + 1)
            let grads = FloatBuffer(g)   // kept alive across the call
            opt.update(params: params.base, rangeGrads: grads.base + 1, lr: lr)
            for i in 0 ..< 3 {
                let gi = Double(g[i + 1])
                ref[i] *= 1 - lr * 0.1
                m[i] = 0.9 * m[i] + 0.1 * gi
                vv[i] = 0.999 * vv[i] + 0.001 * gi * gi
                let step = Double(t + 1)
                ref[i] -= lr / (1 - pow(0.9, step)) * m[i] / (vv[i].squareRoot() / (1 - pow(0.999, step)).squareRoot() + 1e-8)
            }
        }
        for i in 0 ..< 3 { #expect(abs(Double(params[i + 1]) - ref[i]) < 1e-6, "θ[\(i + 1)] = \(params[i + 1]) vs \(ref[i])") }
        #expect(params[0] == 0.5 && params[4] == 3)   // outside the range: untouched
    }

    /// The vectorised step gives the same bits as the update written out one Float at a time
    /// (53 values: three 16-lane blocks and a tail, over two steps).
    @Test func adamWIsTheScalarUpdateBitForBit() {
        var v = TestValues(seed: 31)
        let n = 53
        let start = v.array(n, -1, 1)
        let params = FloatBuffer(start)
        let opt = AdamW(range: 0 ..< n, weightDecay: 0.05)
        var p = start, m = [Float](repeating: 0, count: n), s = [Float](repeating: 0, count: n)
        for t in 1 ... 2 {
            let g = v.array(n, -0.5, 0.5)
            let grads = FloatBuffer(g)
            let lr = 3e-3 * Double(t)
            opt.update(params: params.base, rangeGrads: grads.base, lr: lr)
            let decay = Float(1 - lr * 0.05), b1: Float = 0.9, b2: Float = 0.999
            let stepSize = Float(lr / (1 - pow(0.9, Double(t)))), bc2Sqrt = Float((1 - pow(0.999, Double(t))).squareRoot())
            for i in 0 ..< n {
                p[i] *= decay
                m[i] += (1 - b1) * (g[i] - m[i])
                s[i] = b2 * s[i] + (1 - b2) * g[i] * g[i]
                p[i] -= stepSize * m[i] / (s[i].squareRoot() / bc2Sqrt + Float(1e-8))
            }
        }
        #expect(params.toArray() == p)
        #expect(opt.m.toArray() == m && opt.v.toArray() == s)
    }

    @Test func cosineScheduleMatchesCosineAnnealingLR() {
        let s = CosineSchedule(baseLR: 1e-3, totalSteps: 20)
        #expect(s.lr(atStep: 0) == 1e-3)
        #expect(abs(s.lr(atStep: 10) - 5e-4) < 1e-15)
        #expect(abs(s.lr(atStep: 20)) < 1e-15)
        #expect(abs(s.lr(atStep: 5) - 1e-3 * (1 + cos(Double.pi / 4)) / 2) < 1e-15)
    }

    @Test func betaWeights() {
        let uniform = BetaSchedule.weights(beta: 1, steps: 9)
        #expect(uniform.allSatisfy { abs($0 - 1) < 1e-12 })
        let u = BetaSchedule.weights(beta: 0.5, steps: 10)
        #expect(abs(u[0] - u[10]) < 1e-12)   // symmetric
        #expect(u[0] > u[5])                 // U-shaped: the zero-shot and final weights dominate
        #expect(abs(BetaSchedule.pdf(0.5, 2, 2) - 1.5) < 1e-12)
    }

    /// The incremental update equals the explicit weighted mean Σ w_k θ_k / Σ w_k.
    @Test func bmaIsTheBetaWeightedMeanOfAllIterates() {
        let T = 12, n = 4
        var v = TestValues(seed: 7)
        let iterates = (0 ... T).map { _ in v.array(n) }
        let params = FloatBuffer(iterates[0])
        let bma = BetaMovingAverage(beta: 0.5, totalSteps: T, range: 0 ..< n, initial: params.base)
        let ema = ExponentialMovingAverage(decay: 0.9, range: 0 ..< n, initial: params.base)
        let swa = UniformAverage(range: 0 ..< n, initial: params.base)
        var emaRef = iterates[0].map(Double.init)
        for t in 1 ... T {
            params.base.update(from: iterates[t], count: n)
            for a in [bma, ema, swa] as [WeightAverage] { a.observe(step: t, params: params.base) }
            for i in 0 ..< n { emaRef[i] = 0.9 * emaRef[i] + 0.1 * Double(iterates[t][i]) }
        }
        let w = BetaSchedule.weights(beta: 0.5, steps: T), W = w.reduce(0, +)
        for i in 0 ..< n {
            let explicit = (0 ... T).map { w[$0] * Double(iterates[$0][i]) }.reduce(0, +) / W
            #expect(abs(Double(bma.average[i]) - explicit) < 1e-5)
            let mean = (0 ... T).map { Double(iterates[$0][i]) }.reduce(0, +) / Double(T + 1)
            #expect(abs(Double(swa.average[i]) - mean) < 1e-5)
            #expect(abs(Double(ema.average[i]) - emaRef[i]) < 1e-5)
        }
    }

    /// Two orthogonal classes, each image exactly on its class: cos 1 vs 0, so with s = ln 3 every
    /// prediction is right with confidence 3/4 → accuracy 1, ECE 0.25.
    @Test func accuracyAndCalibration() {
        let text = FloatBuffer([1, 0, 0, 1]), feats = FloatBuffer([2, 0, 0, 5, 3, 0])
        let r = Evaluation.classify(features: feats.base, N: 3, textFeatures: text.base, K: 2, D: 2, scale: Float(log(3.0)),
                                    labels: [0, 1, 0], groups: [0, 1, 1], groupNames: ["a", "b"])
        #expect(r.accuracy == 1)
        #expect(abs(r.ece - 0.25) < 1e-6)
        #expect(r.groups.map(\.count) == [1, 2])
        let wrong = Evaluation.classify(features: feats.base, N: 3, textFeatures: text.base, K: 2, D: 2, scale: Float(log(3.0)),
                                        labels: [1, 1, 1], groups: [0, 0, 0], groupNames: ["a"])
        #expect(abs(wrong.accuracy - 1.0 / 3) < 1e-12)
        #expect(abs(wrong.ece - abs(1.0 / 3 - 0.75)) < 1e-6)
    }

    /// A NaN loss stops before any update: weights and averages keep the last good step.
    @Test func nonFiniteLossStopsCleanly() throws {
        let model = try CheckpointLoader.load(path: fixtures.appendingPathComponent("models/hf_quickgelu").path).model
        let K = 3, D = model.config.embedDim
        var v = TestValues(seed: 9)
        let text = FloatBuffer(v.array(K * D))
        var config = TrainingConfig(steps: 5)
        config.learningRate = 1e-3
        let trainer = Trainer(model: model, textFeatures: text, classes: K, config: config)
        let S = model.config.vision.imageSize
        let pixels = FloatBuffer(v.array(2 * 3 * S * S))
        try trainer.step(pixels: pixels.base, labels: [0, 2], B: 2)
        let before = model.parameters.values.storage.toArray()
        let bmaBefore = trainer.averages[0].average.toArray()
        pixels.base[5] = .nan
        do {
            try trainer.step(pixels: pixels.base, labels: [0, 2], B: 2)
            Issue.record("a NaN input trained on")
        } catch Trainer.Stop.nonFiniteLoss(let step, let loss) {
            #expect(step == 2 && loss.isNaN)
        }
        #expect(model.parameters.values.storage.toArray() == before)
        #expect(trainer.averages[0].average.toArray() == bmaBefore)
        #expect(trainer.step == 1)
    }
}

@Suite("training from cached prefix streams")
struct PrefixCacheTests {
    /// tune=last1 and proj from cached streams give the same trajectory as from pixels. For last1
    /// the cached path runs the last block for the class token only (`PooledTokenBlock`), so this
    /// also proves that shortcut exact against the full block.
    @Test(arguments: [VisionTower.Trainable.lastBlocks(1), .projection])
    func cachedEqualsUncached(_ trainable: VisionTower.Trainable) throws {
        func trainer() throws -> Trainer {
            let model = try CheckpointLoader.load(path: fixtures.appendingPathComponent("models/hf_quickgelu").path).model
            var v = TestValues(seed: 10)
            var config = TrainingConfig(steps: 6)
            config.learningRate = 1e-3
            config.trainable = trainable
            config.averages = [AverageChoice("bma", 0.5), AverageChoice("swa")]
            return Trainer(model: model, textFeatures: FloatBuffer(v.array(3 * model.config.embedDim)), classes: 3, config: config)
        }
        let a = try trainer(), b = try trainer()
        let zeroShot = Array(a.model.parameters.values.storage.toArray()[a.range])
        let S = a.model.config.vision.imageSize, B = 4
        var v = TestValues(seed: 11)
        let batches = (0 ..< 2).map { _ in FloatBuffer(v.array(B * 3 * S * S)) }
        let labels: [[Int32]] = [[0, 1, 2, 1], [2, 2, 0, 1]]
        // The cache: each batch's stream entering the first trainable block, computed once.
        let streams = batches.map { px -> FloatBuffer in
            let s = FloatBuffer(count: B * b.model.vision.streamSize)
            b.model.vision.prefix(pixels: px.base, B: B, upTo: b.firstTrainableLayer, into: s.base)
            return s
        }
        for t in 0 ..< 6 {
            let ra = try a.step(pixels: batches[t % 2].base, labels: labels[t % 2], B: B)
            let rb = try b.step(streams: streams[t % 2].base, labels: labels[t % 2], B: B)
            #expect(abs(ra.loss - rb.loss) <= 1e-5 * max(1, abs(ra.loss)), "step \(t + 1): \(ra.loss) vs \(rb.loss)")
        }
        let pa = a.model.parameters.values.storage.toArray(), pb = b.model.parameters.values.storage.toArray()
        #expect(maxAbsDifference(pa, pb).value <= 1e-5)
        #expect(maxAbsDifference(a.averages[0].average.toArray(), b.averages[0].average.toArray()).value <= 1e-5)
        // And training changed something, so the equality above is not vacuous.
        let moved = maxAbsDifference(Array(pa[a.range]), zeroShot).value
        #expect(moved > 1e-3)
        // Each model holds gradients for what its run trains, nothing below it.
        #expect(a.model.parameters.gradientStart == a.range.lowerBound && b.model.parameters.gradientStart == b.range.lowerBound)
    }

    /// A run holds gradients for its range only: a whole-tower run none for the text tower; a
    /// later pass that needs more (pretraining both towers) gets every gradient.
    @Test func gradientsCoverTheTrainedRangeOnly() throws {
        let model = try CheckpointLoader.load(path: fixtures.appendingPathComponent("models/hf_quickgelu").path).model
        var v = TestValues(seed: 12)
        let trainer = Trainer(model: model, textFeatures: FloatBuffer(v.array(3 * model.config.embedDim)), classes: 3,
                              config: TrainingConfig(steps: 2))
        let S = model.config.vision.imageSize
        try trainer.step(pixels: FloatBuffer(v.array(2 * 3 * S * S)).base, labels: [0, 2], B: 2)
        let visual = model.parameters.layout.suffixRange(fromFirstNamed: "visual.")!
        #expect(trainer.range == visual && visual.lowerBound > 0)
        #expect(model.parameters.gradientStart == visual.lowerBound)
        let ids = [Int32](repeating: 1, count: 2 * model.config.text.contextLength)
        model.text.forward(ids: ids, B: 2, saveForBackward: true)
        model.text.backward(dfeatures: FloatBuffer(v.array(2 * model.config.embedDim)).base, B: 2)
        let tokens = model.parameters.layout["token_embedding.weight"]!
        #expect(model.parameters.gradientStart <= tokens.offset)
        #expect(UnsafeBufferPointer(start: model.parameters.grad(tokens), count: tokens.count).contains { $0 != 0 })
    }
}

@Suite("contrastive pretraining")
struct PretrainingTests {
    @Test func contrastiveGradientsMatchFiniteDifferences() {
        let N = 4, D = 5
        var v = TestValues(seed: 30)
        let img = FloatBuffer(v.array(N * D)), txt = FloatBuffer(v.array(N * D))
        var s: Float = 1.2
        let loss = ContrastiveLoss(dim: D)
        _ = loss.forward(image: img.base, text: txt.base, N: N, logitScale: s)
        let di = FloatBuffer(count: N * D), dt = FloatBuffer(count: N * D)
        let ds = loss.backward(dimage: di.base, dtext: dt.base, N: N)
        func L() -> Double { Double(loss.forward(image: img.base, text: txt.base, N: N, logitScale: s)) }
        let ri = GradientCheck.check("contrastive dimage", x: img.base, count: img.count, analytic: di.toArray(), h: 1e-3, loss: L)
        let rt = GradientCheck.check("contrastive dtext", x: txt.base, count: txt.count, analytic: dt.toArray(), h: 1e-3, loss: L)
        #expect(ri.passed, "\(ri)")
        #expect(rt.passed, "\(rt)")
        let h: Float = 1e-3
        s += h; let up = L(); s -= 2 * h; let down = L(); s += h
        #expect(abs(Double(ds) - (up - down) / Double(2 * h)) < 1e-3 + 1e-2 * abs(Double(ds)))
    }

    @Test func warmupThenCosine() {
        let s = WarmupCosineSchedule(baseLR: 1e-3, warmupSteps: 10, totalSteps: 110)
        #expect(abs(s.lr(atStep: 0) - 1e-4) < 1e-15)
        #expect(abs(s.lr(atStep: 9) - 1e-3) < 1e-15)
        #expect(abs(s.lr(atStep: 10) - 1e-3) < 1e-15)
        #expect(abs(s.lr(atStep: 60) - 5e-4) < 1e-12)
    }

    /// A tiny CLIP from scratch learns to match 6 image–caption pairs.
    @Test func tinyCLIPLearnsToMatchPairs() throws {
        let config = CLIPConfig(vision: .init(width: 32, layers: 2, heads: 2, patchSize: 8, imageSize: 16),
                                text: .init(width: 32, layers: 2, heads: 2, contextLength: 8, vocabularySize: 20), embedDim: 16)
        let model = CLIPModel(config: config)
        model.initialiseRandomly(seed: 3)
        var v = TestValues(seed: 31)
        let B = 6
        let pixels = FloatBuffer(v.array(B * 3 * 16 * 16))
        let ids: [Int32] = (0 ..< B).flatMap { b -> [Int32] in [18, Int32(1 + b), Int32(7 + b % 3), 19, 0, 0, 0, 0] }
        let trainer = Pretrainer(model: model, steps: 60, learningRate: 3e-3, warmupSteps: 5, weightDecay: 0)
        let first = try trainer.step(pixels: pixels.base, ids: ids, B: B).loss
        var last = first
        for _ in 1 ..< 60 { last = try trainer.step(pixels: pixels.base, ids: ids, B: B).loss }
        #expect(first > 1.5)          // ≈ ln 6 for random features
        #expect(last < 0.3 * first, "loss \(first) → \(last)")
        #expect(model.logitScale <= 100.0001)
    }
}
