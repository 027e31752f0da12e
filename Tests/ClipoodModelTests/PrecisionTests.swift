import ClipoodEngine
import ClipoodModel
import Foundation
import TestSupport
import Testing

/// bf16 needs native bf16 dot products; elsewhere the suite is skipped with the reason printed.
let modelBF16Available: Bool = {
    if !BLAS.cpuHasBF16 { print("bf16 accuracy tests skipped: this CPU has neither AVX512-BF16 nor AMX-BF16") }
    return BLAS.cpuHasBF16
}()

/// Cosine similarity of row r of two (N, D) matrices.
func rowCosine(_ a: [Float], _ b: [Float], row r: Int, D: Int) -> Double {
    var ab = 0.0, aa = 0.0, bb = 0.0
    for i in r * D ..< (r + 1) * D { ab += Double(a[i]) * Double(b[i]); aa += Double(a[i]) * Double(a[i]); bb += Double(b[i]) * Double(b[i]) }
    return ab / (aa.squareRoot() * bb.squareRoot())
}

/// Random ids for B sequences of the full context: a start token, `length` random tokens, the
/// end token (the highest id, where the text tower pools), then zeros.
func randomPrompts(B: Int, context: Int, vocabulary V: Int, seed: Int) -> [Int32] {
    var rng = RNG(seed: seed)
    var ids = [Int32](repeating: 0, count: B * context)
    for b in 0 ..< B {
        let length = 5 + rng.below(context - 8)
        ids[b * context] = Int32(V - 2)
        for t in 1 ... length { ids[b * context + t] = Int32(rng.below(V - 2)) }
        ids[b * context + length + 1] = Int32(V - 1)
    }
    return ids
}

@Suite("bf16 and oneDNN against fp32 OpenBLAS on a random ViT-B/16", .serialized)
struct PrecisionTests {
    /// A random-weight CLIP ViT-B/16 at full size (12 + 12 blocks, widths 768 / 512), seeded.
    /// Shared by the tests (its towers keep activations), hence the serialized suite.
    static let model: CLIPModel = {
        let m = CLIPModel(config: .vitB16)
        m.initialiseRandomly(seed: 5)
        return m
    }()

    /// Image and text embeddings of 2 inputs under a backend and precision.
    static func embeddings(_ scope: BLAS.Scope) -> (image: [Float], text: [Float]) {
        let m = model, S = m.config.vision.imageSize, D = m.config.embedDim
        var rng = RNG(seed: 3)
        let px = FloatBuffer(count: 2 * 3 * S * S)
        rng.fillNormal(px.base, count: px.count)
        let ids = randomPrompts(B: 2, context: m.config.text.contextLength, vocabulary: m.config.text.vocabularySize, seed: 4)
        return BLAS.$scoped.withValue(scope) {
            let img = m.vision.forward(pixels: px.base, B: 2)
            let image = Array(UnsafeBufferPointer(start: img, count: 2 * D))
            let txt = m.text.forward(ids: ids, B: 2)
            return (image, Array(UnsafeBufferPointer(start: txt, count: 2 * D)))
        }
    }

    static let reference = embeddings(.init(backend: .openblas, precision: .fp32))

    @Test func oneDNNfp32MatchesOpenBLAS() {
        let D = Self.model.config.embedDim
        let e = Self.embeddings(.init(backend: .onednn, precision: .fp32))
        for r in 0 ..< 2 {
            let ci = rowCosine(e.image, Self.reference.image, row: r, D: D), ct = rowCosine(e.text, Self.reference.text, row: r, D: D)
            #expect(ci > 0.999999 && ct > 0.999999, "oneDNN fp32 vs OpenBLAS: image cosine \(ci), text \(ct)")
        }
        // Deterministic: the same call gives the same bits.
        let again = Self.embeddings(.init(backend: .onednn, precision: .fp32))
        #expect(again.image == e.image && again.text == e.text)
    }

    @Test(.enabled(if: modelBF16Available)) func bf16EmbeddingsCloseToFP32() {
        let D = Self.model.config.embedDim
        for backend in GemmBackend.allCases {
            let e = Self.embeddings(.init(backend: backend, precision: .bf16))
            #expect(e.image != Self.reference.image, "bf16 gave fp32's bits: it did not run")
            for r in 0 ..< 2 {
                let ci = rowCosine(e.image, Self.reference.image, row: r, D: D), ct = rowCosine(e.text, Self.reference.text, row: r, D: D)
                #expect(ci >= 0.9999, "bf16 (\(backend)) image embedding \(r): cosine \(ci) to fp32")
                #expect(ct >= 0.9999, "bf16 (\(backend)) text embedding \(r): cosine \(ct) to fp32")
            }
            let again = Self.embeddings(.init(backend: backend, precision: .bf16))
            #expect(again.image == e.image && again.text == e.text, "bf16 is not deterministic")
        }
    }
}
