import ClipoodEngine
import ClipoodModel
import Foundation
import TestSupport
import Testing

/// The image tower's last block run for the class token alone (the default) against the same
/// block run for every token (`classTokenLastBlock = false`): the features, every parameter
/// gradient and the pixels' gradient agree up to float rounding, whatever is trained, from
/// pixels or a cached stream, with stored or recomputed activations.
@Suite("class-token last block")
struct ClassTokenBlockTests {
    static let config = CLIPConfig(vision: .init(width: 32, layers: 3, heads: 2, patchSize: 8, imageSize: 40),
                                   text: .init(width: 32, layers: 1, heads: 2, contextLength: 8, vocabularySize: 50), embedDim: 16)
    static let B = 3

    struct Pass {
        var features: [Float]
        var grads: [Float] = []
        var dpixels: [Float] = []
    }

    /// One forward (+ backward of fixed feature gradients when `trainable` is given) on fixed pixels.
    static func pass(classToken: Bool, trainable: VisionTower.Trainable?, stream: Bool = false, pixelGradient: Bool = false,
                     checkpoint: Bool = false) -> Pass {
        let c = config, S = c.vision.imageSize, L = c.vision.layers, D = c.embedDim, B = Self.B
        let m = CLIPModel(config: c)
        m.initialiseRandomly(seed: 5)
        m.vision.classTokenLastBlock = classToken
        var v = TestValues(seed: 9)
        let pixels = FloatBuffer(v.array(B * 3 * S * S))
        let dfeatures = FloatBuffer(v.array(B * D))
        guard let trainable else {
            let f = m.vision.forward(pixels: pixels.base, B: B)
            return Pass(features: Array(UnsafeBufferPointer(start: f, count: B * D)))
        }
        let first = trainable.firstBlock(layers: L)
        m.parameters.zeroGrads()
        let cache = FloatBuffer(count: B * m.vision.streamSize)
        let f: UnsafeMutablePointer<Float>
        if stream {
            m.vision.prefix(pixels: pixels.base, B: B, upTo: first, into: cache.base)
            f = m.vision.forward(stream: cache.base, fromLayer: first, B: B, saveForBackward: true, checkpoint: checkpoint)
        } else {
            f = m.vision.forward(pixels: pixels.base, B: B, saveForBackward: true, keepFrom: pixelGradient ? 0 : first, checkpoint: checkpoint)
        }
        var p = Pass(features: Array(UnsafeBufferPointer(start: f, count: B * D)))
        let dpixels = pixelGradient ? FloatBuffer(count: B * 3 * S * S) : nil
        m.vision.backward(dfeatures: dfeatures.base, B: B, trainable: trainable, dpixels: dpixels?.base)
        withExtendedLifetime(cache) {}
        p.grads = Array(UnsafeBufferPointer(start: m.parameters.gradients(), count: m.parameterCount))
        if let dpixels { p.dpixels = Array(UnsafeBufferPointer(start: dpixels.base, count: dpixels.count)) }
        return p
    }

    /// Largest |a − b| over the largest |b|, and how many of b are non-zero.
    static func relative(_ a: [Float], _ b: [Float]) -> (error: Float, nonZero: Int) {
        precondition(a.count == b.count)
        let scale = b.map(abs).max() ?? 0
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        return (scale > 0 ? worst / scale : worst, b.filter { $0 != 0 }.count)
    }

    @Test func inferenceFeaturesMatchTheFullBlock() {
        let short = Self.pass(classToken: true, trainable: nil), full = Self.pass(classToken: false, trainable: nil)
        let (error, nonZero) = Self.relative(short.features, full.features)
        #expect(nonZero == Self.B * Self.config.embedDim)
        #expect(error < 1e-5, "features differ by \(error) of their scale")
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var trainable: VisionTower.Trainable
        var stream = false, pixelGradient = false, checkpoint = false
        var testDescription: String { "\(trainable) stream \(stream) dpixels \(pixelGradient) checkpoint \(checkpoint)" }
    }

    @Test(arguments: [
        Case(trainable: .full, pixelGradient: true), Case(trainable: .full, pixelGradient: true, checkpoint: true),
        Case(trainable: .lastBlocks(2)), Case(trainable: .lastBlocks(2), checkpoint: true), Case(trainable: .lastBlocks(2), stream: true),
        Case(trainable: .lastBlocks(1)), Case(trainable: .lastBlocks(1), stream: true), Case(trainable: .lastBlocks(3), stream: true),
        Case(trainable: .projection, pixelGradient: true),
    ])
    func gradientsMatchTheFullBlock(_ c: Case) {
        let short = Self.pass(classToken: true, trainable: c.trainable, stream: c.stream, pixelGradient: c.pixelGradient, checkpoint: c.checkpoint)
        let full = Self.pass(classToken: false, trainable: c.trainable, stream: c.stream, pixelGradient: c.pixelGradient, checkpoint: c.checkpoint)
        let features = Self.relative(short.features, full.features)
        #expect(features.error < 1e-5, "features differ by \(features.error) of their scale")
        // Every gradient the full block gives is there (the same ones zero), within rounding.
        let grads = Self.relative(short.grads, full.grads)
        #expect(grads.nonZero > 100)
        #expect(zip(short.grads, full.grads).allSatisfy { ($0 == 0) == ($1 == 0) }, "a different set of gradients is non-zero")
        #expect(grads.error < 1e-4, "gradients differ by \(grads.error) of their scale")
        if c.pixelGradient {
            let dpixels = Self.relative(short.dpixels, full.dpixels)
            #expect(dpixels.nonZero == short.dpixels.count)
            #expect(dpixels.error < 1e-4, "pixel gradients differ by \(dpixels.error) of their scale")
        }
    }
}
