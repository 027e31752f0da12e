import ClipoodEngine
import ClipoodModel
import Foundation
import TestSupport
import Testing

/// A full-size random ViT-B/16 (149.6 M parameters, ~600 MB per format) is too big to commit.
/// `python scripts/make_fixtures.py --full DIR` writes it in both formats with reference
/// embeddings; then `CLIPOOD_FULL_FIXTURES=DIR ./scripts/test` runs this check.
let fullFixtures = ProcessInfo.processInfo.environment["CLIPOOD_FULL_FIXTURES"]

@Suite("full-size ViT-B/16 (opt-in: CLIPOOD_FULL_FIXTURES=DIR)", .enabled(if: fullFixtures != nil))
struct FullSizeTests {
    @Test(arguments: ["hf_vit_b16", "openai_vit_b16.safetensors"])
    func loadsAndEmbeds(_ name: String) throws {
        let dir = URL(fileURLWithPath: fullFixtures!)
        let loaded = try CheckpointLoader.load(path: dir.appendingPathComponent(name).path)
        let m = loaded.model
        #expect(m.parameterCount == 149_620_737)
        #expect(m.config.vision == CLIPConfig.vitB16.vision && m.config.text == CLIPConfig.vitB16.text)
        let exp = try SafeTensorsFile(path: dir.appendingPathComponent("vit_b16.expected.safetensors").path)
        let px = FloatBuffer(try exp.floats("pixel_values"))
        let img = m.vision.forward(pixels: px.base, B: 1)
        let ri = compare("image_embeds", img, try exp.floats("image_embeds"))
        #expect(ri.abs <= 1e-4, "\(ri.text)")
        let txt = m.text.forward(ids: try exp.int32s("input_ids"), B: 2)
        let rt = compare("text_embeds", txt, try exp.floats("text_embeds"))
        #expect(rt.abs <= 1e-4, "\(rt.text)")
    }
}
