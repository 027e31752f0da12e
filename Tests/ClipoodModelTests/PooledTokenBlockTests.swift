import ClipoodEngine
import ClipoodModel
import Foundation
import TestSupport
import Testing

/// The towers' last block run for the pooled token alone (the default: the image's class
/// token, the text's end-of-text token) against the same block run for every token
/// (`pooledTokenLastBlock = false`): the features, every parameter gradient and the pixels'
/// gradient agree up to float rounding, whatever is trained, from pixels or a cached stream,
/// with stored or recomputed activations.
@Suite("pooled-token last block")
struct PooledTokenBlockTests {
    static let config = CLIPConfig(vision: .init(width: 32, layers: 3, heads: 2, patchSize: 8, imageSize: 40),
                                   text: .init(width: 32, layers: 3, heads: 2, contextLength: 12, vocabularySize: 50), embedDim: 16)
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
        m.vision.pooledTokenLastBlock = classToken
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

    /// A text forward (and backward of fixed feature gradients when `train`) on four sequences
    /// whose end tokens (the largest id, 49) sit at different places; `tokens`: the context.
    static func textPass(pooledToken: Bool, train: Bool, checkpoint: Bool = false, layers: Int = 3) -> Pass {
        var c = config
        c.text.layers = layers
        let D = c.embedDim, B = 4, context = c.text.contextLength
        let m = CLIPModel(config: c)
        m.initialiseRandomly(seed: 6)
        m.text.pooledTokenLastBlock = pooledToken
        var ids = [Int32](repeating: 0, count: B * context)
        for (b, end) in [3, 9, 0, 6].enumerated() {
            for i in 0 ..< end { ids[b * context + i] = Int32(1 + (7 * b + i) % 40) }
            ids[b * context + end] = 49
        }
        var v = TestValues(seed: 31)
        let dfeatures = FloatBuffer(v.array(B * D))
        m.parameters.zeroGrads()
        let f = m.text.forward(ids: ids, B: B, saveForBackward: train, checkpoint: checkpoint)
        var p = Pass(features: Array(UnsafeBufferPointer(start: f, count: B * D)))
        if train {
            m.text.backward(dfeatures: dfeatures.base, B: B)
            p.grads = Array(UnsafeBufferPointer(start: m.parameters.gradients(), count: m.parameterCount))
        }
        return p
    }

    @Test(arguments: [(false, false, 3), (true, false, 3), (true, true, 3), (true, false, 1)])
    func textMatchesTheFullBlock(train: Bool, checkpoint: Bool, layers: Int) {
        let short = Self.textPass(pooledToken: true, train: train, checkpoint: checkpoint, layers: layers)
        let full = Self.textPass(pooledToken: false, train: train, checkpoint: checkpoint, layers: layers)
        let features = Self.relative(short.features, full.features)
        #expect(features.nonZero == short.features.count)
        #expect(features.error < 1e-5, "features differ by \(features.error) of their scale")
        guard train else { return }
        let grads = Self.relative(short.grads, full.grads)
        #expect(grads.nonZero > 1000)
        #expect(zip(short.grads, full.grads).allSatisfy { ($0 == 0) == ($1 == 0) }, "a different set of gradients is non-zero")
        #expect(grads.error < 1e-4, "gradients differ by \(grads.error) of their scale")
    }
}
