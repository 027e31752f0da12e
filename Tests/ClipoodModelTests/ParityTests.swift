import ClipoodEngine
import ClipoodModel
import Foundation
import TestSupport
import Testing

/// Committed PyTorch fixtures (scripts/make_fixtures.py): four random-initialised CLIPs of the
/// real architectures in both naming schemes, F32/F16/BF16, QuickGELU and GELU, both text
/// pooling rules, with float64 reference outputs and gradients.
let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/models")

struct ParityCase: CustomStringConvertible, Sendable {
    let model: String      // path relative to Fixtures/models
    let expected: String
    var description: String { model }
}

let parityCases = [
    ParityCase(model: "hf_quickgelu", expected: "hf_quickgelu.expected.safetensors"),
    ParityCase(model: "hf_gelu_f16", expected: "hf_gelu_f16.expected.safetensors"),
    ParityCase(model: "openclip_bf16.safetensors", expected: "openclip_bf16.expected.safetensors"),
    ParityCase(model: "openai_noconfig.safetensors", expected: "openai_noconfig.expected.safetensors"),
]

/// max |a − e|, and the same relative to max |e| — printed on failure.
func compare(_ label: String, _ actual: UnsafePointer<Float>, _ expected: [Float]) -> (abs: Double, rel: Double, text: String) {
    let d = maxAbsDifference(UnsafeBufferPointer(start: actual, count: expected.count), expected)
    let scale = expected.map { abs(Double($0)) }.max() ?? 0
    let rel = scale > 0 ? d.value / scale : d.value
    let first = (0 ..< min(5, expected.count)).map { "(\(actual[$0]), \(expected[$0]))" }.joined(separator: " ")
    return (d.value, rel, "\(label): max |Δ| = \(d.value) at [\(d.index)], relative \(rel); first pairs \(first)")
}

@Suite("CLIP parity with PyTorch")
struct ParityTests {
    /// Embeddings: ≤ 1e-4 absolute (the bar). The references are float64; a float32
    /// PyTorch run lands ~1e-6 from them, and so do we up to summation order.
    @Test(arguments: parityCases)
    func embeddingsAndGradients(_ c: ParityCase) throws {
        let loaded = try CheckpointLoader.load(path: fixtureDirectory.appendingPathComponent(c.model).path)
        #expect(loaded.unexpectedTensors.isEmpty, "unexpected: \(loaded.unexpectedTensors)")
        let model = loaded.model
        let exp = try SafeTensorsFile(path: fixtureDirectory.appendingPathComponent(c.expected).path)
        let pixels = try exp.floats("pixel_values"), ids = try exp.int32s("input_ids")
        let N = exp.entries["pixel_values"]!.shape[0], M = exp.entries["input_ids"]!.shape[0], D = model.config.embedDim

        // Forward, keeping activations for the backward.
        let pixelBuffer = FloatBuffer(pixels)
        let img = model.vision.forward(pixels: pixelBuffer.base, B: N, saveForBackward: true)
        let imageEmbeds = try exp.floats("image_embeds")
        let ri = compare("image_embeds", img, imageEmbeds)
        #expect(ri.abs <= 1e-4, "\(ri.text)")
        let rp = compare("vision_pooled", model.vision.pooledOutput, try exp.floats("vision_pooled"))
        #expect(rp.abs <= 1e-4, "\(rp.text)")
        let txt = model.text.forward(ids: ids, B: M, saveForBackward: true)
        #expect(model.text.poolIndex == (try exp.int32s("text_pool_index")))
        let rt = compare("text_embeds", txt, try exp.floats("text_embeds"))
        #expect(rt.abs <= 1e-4, "\(rt.text)")
        let rtp = compare("text_pooled", model.text.pooledOutput, try exp.floats("text_pooled"))
        #expect(rtp.abs <= 1e-4, "\(rtp.text)")

        // loss = Σ normalize(img)·G_img + Σ normalize(txt)·G_txt + 0.5·logit_scale
        let gImg = FloatBuffer(try exp.floats("G_img")), gTxt = FloatBuffer(try exp.floats("G_txt"))
        let nImg = FloatBuffer(count: N * D), normsImg = FloatBuffer(count: N), nTxt = FloatBuffer(count: M * D), normsTxt = FloatBuffer(count: M)
        L2Normalize.forward(out: nImg.base, norms: normsImg.base, inp: img, N: N, C: D)
        L2Normalize.forward(out: nTxt.base, norms: normsTxt.base, inp: txt, N: M, C: D)
        let logitScaleSlot = model.parameters.layout["logit_scale"]!
        let loss = GradientCheck.weightedSum(nImg.base, gImg.base, count: N * D) + GradientCheck.weightedSum(nTxt.base, gTxt.base, count: M * D)
            + 0.5 * Double(model.parameters.value(logitScaleSlot)[0])
        let expectedLoss = Double(try exp.floats("loss")[0])
        #expect(abs(loss - expectedLoss) <= 1e-4 * max(1, abs(expectedLoss)), "loss \(loss) vs \(expectedLoss)")

        // Backward.
        model.parameters.zeroGrads()
        let dImg = FloatBuffer(count: N * D), dTxt = FloatBuffer(count: M * D), dPixels = FloatBuffer(count: pixels.count)
        L2Normalize.backward(dinp: dImg.base, dout: gImg.base, out: nImg.base, norms: normsImg.base, N: N, C: D)
        L2Normalize.backward(dinp: dTxt.base, dout: gTxt.base, out: nTxt.base, norms: normsTxt.base, N: M, C: D)
        model.vision.backward(dfeatures: dImg.base, B: N, trainable: .full, dpixels: dPixels.base)
        model.text.backward(dfeatures: dTxt.base, B: M)
        model.parameters.grad(logitScaleSlot)[0] += 0.5

        // Reference gradients, read through the same name map as the weights.
        let expectedGrads = NamedBuffer(layout: model.parameters.layout)
        try CheckpointLoader.fill(expectedGrads, from: exp, naming: model.format == .huggingFace ? CheckpointNames.huggingFace : { .tensor($0) }, prefix: "grad.")
        var failures: [String] = []
        for slot in model.parameters.layout.slots {
            let r = compare("grad \(slot.name)", model.parameters.grad(slot), Array(UnsafeBufferPointer(start: expectedGrads.pointer(slot), count: slot.count)))
            // The bar: within 1e-3 relative to the tensor's largest gradient, or 1e-5 absolute
            // (the attention key biases have zero gradient in exact arithmetic).
            if !(r.rel <= 1e-3 || r.abs <= 1e-5) { failures.append(r.text) }
        }
        #expect(failures.isEmpty, "\(failures.count) gradients off:\n\(failures.prefix(8).joined(separator: "\n"))")
        let rpx = compare("grad.pixel_values", dPixels.base, try exp.floats("grad.pixel_values"))
        #expect(rpx.rel <= 1e-3 || rpx.abs <= 1e-5, "\(rpx.text)")
    }

    @Test func configsAreReadOrInferred() throws {
        let hf = try CheckpointLoader.load(path: fixtureDirectory.appendingPathComponent("hf_gelu_f16").path)
        #expect(hf.model.config.activation == .gelu)
        #expect(hf.model.config.pooling == .firstID(997))
        #expect(hf.dtypes == ["F16"])
        let oc = try CheckpointLoader.load(path: fixtureDirectory.appendingPathComponent("openclip_bf16.safetensors").path)
        #expect(oc.model.config.vision.heads == 3)   // width 48 / head_width 16
        #expect(oc.dtypes == ["BF16"])
        let inferred = try CheckpointLoader.load(path: fixtureDirectory.appendingPathComponent("openai_noconfig.safetensors").path)
        let c = inferred.model.config
        #expect(c.vision.width == 64 && c.vision.layers == 2 && c.vision.patchSize == 4 && c.vision.imageSize == 16)
        #expect(c.text.layers == 1 && c.text.vocabularySize == 256 && c.activation == .quickGELU)
    }

    /// Inference mode (activations not kept) reuses one layer's buffers: same numbers.
    @Test func inferenceModeMatchesTrainingMode() throws {
        let model = try CheckpointLoader.load(path: fixtureDirectory.appendingPathComponent("hf_quickgelu").path).model
        let exp = try SafeTensorsFile(path: fixtureDirectory.appendingPathComponent("hf_quickgelu.expected.safetensors").path)
        let pixels = FloatBuffer(try exp.floats("pixel_values"))
        let a = Array(UnsafeBufferPointer(start: model.vision.forward(pixels: pixels.base, B: 2, saveForBackward: true), count: 2 * 32))
        let b = Array(UnsafeBufferPointer(start: model.vision.forward(pixels: pixels.base, B: 2, saveForBackward: false), count: 2 * 32))
        #expect(a == b)
    }
}
