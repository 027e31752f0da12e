import ClipoodEngine
import ClipoodModel
import ClipoodTrain
import Foundation
import Testing

/// A stand-in for a job of two ranks that hold the same share of the batch: every sum doubles
/// its input (rank 0's floats plus the same floats of rank 1). It records the ranges summed.
private final class MirroredPair: Collectives {
    let rank = 0, size = 2
    var base: UnsafeMutablePointer<Float>?
    var started: [Range<Int>] = []

    func sum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws { for i in 0 ..< count { buffer[i] *= 2 } }
    func sum(_ values: inout [Double]) throws { values = values.map { $0 * 2 } }
    func gather(_ mine: UnsafePointer<Float>, count: Int, into gathered: UnsafeMutablePointer<Float>) throws {
        gathered.update(from: mine, count: count)
        (gathered + count).update(from: mine, count: count)
    }
    func startSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        let offset = base.map { buffer - $0 } ?? 0
        started.append(offset ..< offset + count)
        try sum(buffer, count: count)
    }
    func finishSums() throws {}
}

@Suite("data-parallel step")
struct DataParallelStepTests {
    static let config = CLIPConfig(vision: .init(width: 64, layers: 3, heads: 2, patchSize: 8, imageSize: 32),
                                   text: .init(width: 32, layers: 1, heads: 2, contextLength: 8, vocabularySize: 50), embedDim: 32)

    /// A step that sees its B images as one rank's share of 2B (the other rank holding the same
    /// images) equals a plain step on the 2B images — so the loss is normalised by the whole
    /// batch, and the bucketed gradient sums cover the trainable range exactly once.
    @Test(arguments: ["full", "last2"])
    func aShareOfTheBatchStepsLikeTheWholeBatch(_ tune: String) throws {
        let K = 5, B = 3, D = Self.config.embedDim, S = Self.config.vision.imageSize
        var rng = RNG(seed: 3)
        let text = FloatBuffer(count: K * D)
        rng.fillNormal(text.base, count: text.count)
        let norms = FloatBuffer(count: K)
        L2Normalize.forward(out: text.base, norms: norms.base, inp: text.base, N: K, C: D)
        let pixels = FloatBuffer(count: 2 * B * 3 * S * S)
        rng.fillNormal(pixels.base, count: B * 3 * S * S)
        (pixels.base + B * 3 * S * S).update(from: pixels.base, count: B * 3 * S * S)
        let labels: [Int32] = [0, 3, 4]
        var tc = TrainingConfig(steps: 3)
        tc.learningRate = 1e-3
        tc.trainable = tune == "full" ? .full : .lastBlocks(2)
        func trainer() -> Trainer {
            let m = CLIPModel(config: Self.config)
            m.initialiseRandomly(seed: 7)
            return Trainer(model: m, textFeatures: text, classes: K, config: tc)
        }
        let whole = trainer(), share = trainer()
        let pair = MirroredPair()
        pair.base = share.model.parameters.gradients()   // every gradient, so offsets are the parameters'
        _ = whole.model.parameters.gradients()
        share.collectives = pair
        let range = whole.range
        for step in 0 ..< 3 {
            let a = try whole.step(pixels: pixels.base, labels: labels + labels, B: 2 * B)
            let b = try share.step(pixels: pixels.base, labels: labels, B: B, batch: 2 * B)
            #expect(abs(a.loss - b.loss) <= 1e-5 * max(1, abs(a.loss)), "step \(step + 1): loss \(a.loss) vs \(b.loss)")
            #expect(a.accuracy == b.accuracy)
            // The gradients of the first step, from the same weights (after it, Adam turns float
            // noise in near-zero gradients into steps of up to lr, and the weights drift apart
            // by more than the rounding of the sums).
            guard step == 0 else { continue }
            let g = whole.model.parameters.gradients(), h = share.model.parameters.gradients()
            var worst: Float = 0, largest: Float = 0
            for i in range { worst = max(worst, abs(g[i] - h[i])); largest = max(largest, abs(g[i])) }
            #expect(worst <= 1e-5 * largest, "step \(step + 1): largest gradient difference \(worst) (largest gradient \(largest))")
        }
        // One bucket per trained block (started as the backward pass leaves it), top down, and with
        // tune=full one for what lies below the blocks; together they cover the range once.
        let perStep = pair.started.count / 3
        #expect(perStep == (tune == "full" ? 4 : 2), "\(pair.started)")
        let oneStep = pair.started.prefix(perStep)
        #expect(oneStep.map(\.count).reduce(0, +) == range.count)
        #expect(oneStep.first?.upperBound == range.upperBound && oneStep.last?.lowerBound == range.lowerBound)
        #expect(zip(oneStep, oneStep.dropFirst()).allSatisfy { $0.lowerBound == $1.upperBound })
    }

    @Test func blocksOfRealArchitecturesAreContiguous() {
        for c in [CLIPConfig.vitB32, CLIPConfig.vitB16] {
            #expect(GradientBuckets.blockStarts(CLIPLayout.layout(c), layers: c.vision.layers)?.count == c.vision.layers)
        }
    }
}
