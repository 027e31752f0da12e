import ClipoodEngine
import ClipoodModel
import Foundation
import TestSupport
import Testing

/// Activation recomputation (`checkpoint: true`) against the stored-activation path on a small
/// random CLIP: the recomputed blocks run the same kernels on the same inputs, so every
/// parameter gradient (and the pixel gradient) must be bit-identical, not merely close.
@Suite("activation checkpointing")
struct CheckpointingTests {
    static let config = CLIPConfig(vision: .init(width: 32, layers: 4, heads: 2, patchSize: 8, imageSize: 32),
                                   text: .init(width: 32, layers: 3, heads: 2, contextLength: 8, vocabularySize: 50), embedDim: 16)
    static let B = 3

    static func model() -> CLIPModel {
        let m = CLIPModel(config: config)
        m.initialiseRandomly(seed: 11)
        return m
    }

    /// The features and every gradient of one forward + backward, and how many gradient values are non-zero.
    struct Pass: Equatable {
        var features: [Float]
        var grads: [Float]
        var dpixels: [Float] = []
        var nonZero: Int { grads.filter { $0 != 0 }.count }
    }

    /// How two passes differ, in one line (never the arrays).
    static func difference(_ a: Pass, _ b: Pass) -> String {
        func diff(_ x: [Float], _ y: [Float]) -> String {
            guard x.count == y.count else { return "sizes \(x.count) vs \(y.count)" }
            let d = zip(x, y).filter { $0.0.bitPattern != $0.1.bitPattern }
            return "\(d.count) of \(x.count) differ, max |Δ| \(d.map { abs($0.0 - $0.1) }.max() ?? 0)"
        }
        return "features: \(diff(a.features, b.features)); grads: \(diff(a.grads, b.grads)); dpixels: \(diff(a.dpixels, b.dpixels))"
    }

    enum Source { case pixels, stream }

    /// One vision step on fixed pixels: forward (from pixels, or from the prefix's stream
    /// entering the first trained block), backward of fixed feature gradients.
    static func visionPass(_ m: CLIPModel, trainable: VisionTower.Trainable, source: Source, checkpoint: Bool) -> Pass {
        let c = config, S = c.vision.imageSize, L = c.vision.layers, D = c.embedDim, B = Self.B
        var v = TestValues(seed: 21)
        let pixels = FloatBuffer(v.array(B * 3 * S * S))
        let dfeatures = FloatBuffer(v.array(B * D))
        let first: Int
        switch trainable {
        case .full: first = 0
        case .projection: first = L
        case .lastBlocks(let k): first = L - k
        }
        m.parameters.zeroGrads()
        let features: UnsafeMutablePointer<Float>
        let stream = FloatBuffer(count: B * m.vision.streamSize)
        switch source {
        case .pixels:
            features = m.vision.forward(pixels: pixels.base, B: B, saveForBackward: true, keepFrom: first, checkpoint: checkpoint)
        case .stream:
            m.vision.prefix(pixels: pixels.base, B: B, upTo: first, into: stream.base)
            features = m.vision.forward(stream: stream.base, fromLayer: first, B: B, saveForBackward: true, checkpoint: checkpoint)
        }
        var pass = Pass(features: Array(UnsafeBufferPointer(start: features, count: B * D)), grads: [])
        let dpixels = trainable == .full ? FloatBuffer(count: B * 3 * S * S) : nil
        m.vision.backward(dfeatures: dfeatures.base, B: B, trainable: trainable, dpixels: dpixels?.base)
        withExtendedLifetime(stream) {}
        pass.grads = Array(UnsafeBufferPointer(start: m.parameters.gradients(), count: m.parameterCount))
        if let dpixels { pass.dpixels = Array(UnsafeBufferPointer(start: dpixels.base, count: dpixels.count)) }
        return pass
    }

    @Test(arguments: [(VisionTower.Trainable.full, Source.pixels), (.lastBlocks(2), .pixels), (.lastBlocks(2), .stream), (.lastBlocks(4), .stream)])
    func visionGradientsAreBitIdentical(_ trainable: VisionTower.Trainable, source: Source) {
        let m = Self.model()
        let stored = Self.visionPass(m, trainable: trainable, source: source, checkpoint: false)
        let recomputed = Self.visionPass(m, trainable: trainable, source: source, checkpoint: true)
        // Back to stored activations on the same tower: its slots are laid out again, same numbers.
        let storedAgain = Self.visionPass(m, trainable: trainable, source: source, checkpoint: false)
        #expect(stored.nonZero > 1000)
        let same = stored == recomputed, sameAgain = stored == storedAgain   // Bools: a failure prints the difference, not the arrays
        #expect(same, "\(Self.difference(stored, recomputed))")
        #expect(sameAgain, "\(Self.difference(stored, storedAgain))")
    }

    /// Every block trained from a cached stream entering block 0 (tune=lastK with K = the
    /// block count): the stream, not a stale ln_pre, is block 0's input, so the trained range
    /// gets the gradients of the same step from pixels.
    @Test func streamIntoBlockZeroMatchesPixels() {
        let m = Self.model(), L = Self.config.vision.layers
        let range = m.trainableRange(.lastBlocks(L))
        for checkpoint in [false, true] {
            let fromPixels = Self.visionPass(m, trainable: .lastBlocks(L), source: .pixels, checkpoint: checkpoint)
            let fromStream = Self.visionPass(m, trainable: .lastBlocks(L), source: .stream, checkpoint: checkpoint)
            let same = Array(fromPixels.grads[range]) == Array(fromStream.grads[range]) && fromPixels.features == fromStream.features
            #expect(same, "checkpoint \(checkpoint): \(Self.difference(fromPixels, fromStream))")
        }
    }

    static func textPass(_ m: CLIPModel, checkpoint: Bool) -> Pass {
        let D = config.embedDim, B = 4, context = config.text.contextLength
        // End tokens (the largest id, 49) at different places: the tower stops at the last one.
        var ids = [Int32](repeating: 0, count: B * context)
        for b in 0 ..< B {
            for i in 0 ..< b + 2 { ids[b * context + i] = Int32(1 + (7 * b + i) % 40) }
            ids[b * context + b + 2] = 49
        }
        var v = TestValues(seed: 31)
        let dfeatures = FloatBuffer(v.array(B * D))
        m.parameters.zeroGrads()
        let features = m.text.forward(ids: ids, B: B, saveForBackward: true, checkpoint: checkpoint)
        var pass = Pass(features: Array(UnsafeBufferPointer(start: features, count: B * D)), grads: [])
        m.text.backward(dfeatures: dfeatures.base, B: B)
        pass.grads = Array(UnsafeBufferPointer(start: m.parameters.gradients(), count: m.parameterCount))
        return pass
    }

    @Test func textGradientsAreBitIdentical() {
        let m = Self.model()
        let stored = Self.textPass(m, checkpoint: false)
        let recomputed = Self.textPass(m, checkpoint: true)
        #expect(stored.nonZero > 1000)
        let same = stored == recomputed
        #expect(same, "\(Self.difference(stored, recomputed))")
    }
}
