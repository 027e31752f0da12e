import ClipoodModel
import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

let fixtureRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

@Suite("model commands")
struct ModelCommandTests {
    let tiny = fixtureRoot.appendingPathComponent("models/hf_quickgelu").path
    let image = fixtureRoot.appendingPathComponent("preprocess/photo_rgb.jpg").path

    @Test func loadInfoAndEmbed() throws {
        let c = Captured()
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try c.workspace.executeInteractive("load model \(tiny) as tiny")
        #expect(c.stdout.contains("loaded model 'tiny'"))
        try c.workspace.executeInteractive("info model")
        #expect(c.stdout.contains("parameters   226.9 k (226865)"))
        #expect(c.stdout.contains("Hugging Face transformers"))
        let out = dir.appendingPathComponent("f.npy").path
        try c.workspace.executeInteractive("embed images \(image) \(image) to \(out)")
        let f = try NPY.read(out)
        #expect(f.shape == [2, 32])
        let norm = (0 ..< 32).map { f.floats[$0] * f.floats[$0] }.reduce(0, +)
        #expect(abs(norm - 1) < 1e-5)
        #expect(Array(f.floats[0 ..< 32]) == Array(f.floats[32 ..< 64]))
        // Pixels from preprocess feed embed and give the same features.
        let px = dir.appendingPathComponent("px.npy").path, f2 = dir.appendingPathComponent("f2.npy").path
        try c.workspace.executeInteractive("preprocess images \(image) to \(px)")
        try c.workspace.executeInteractive("embed images \(px) to \(f2)")
        // Batch 1 vs batch 2: BLAS may sum in another order, so equal to rounding, not bit for bit.
        #expect(maxAbsDifference(try NPY.read(f2).floats, Array(f.floats[0 ..< 32])).value < 1e-6)
        #expect(c.err.isEmpty, "\(c.stderr)")
    }

    /// Each bad input gives one clear error naming the file, and the workspace keeps its model.
    @Test func badInputsKeepTheWorkspace() throws {
        let c = Captured()
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try c.workspace.executeInteractive("load model \(tiny) as tiny")
        // A truncated weight file.
        let weights = try Data(contentsOf: URL(fileURLWithPath: tiny + "/model.safetensors"))
        let broken = dir.appendingPathComponent("broken.safetensors")
        try weights.prefix(weights.count / 2).write(to: broken)
        #expect(try !c.workspace.executeInteractive("load model \(broken.path)"))
        #expect(c.stderr.contains("'\(broken.path)' is truncated"))
        // Not an image; a truncated JPEG.
        let text = dir.appendingPathComponent("notes.png")
        try "just text".write(to: text, atomically: true, encoding: .utf8)
        #expect(try !c.workspace.executeInteractive("embed images \(image) \(text.path)"))
        #expect(c.stderr.contains(text.path))
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: image))
        let cut = dir.appendingPathComponent("cut.jpg")
        try jpeg.prefix(jpeg.count / 2).write(to: cut)
        #expect(try !c.workspace.executeInteractive("embed images \(cut.path)"))
        #expect(c.stderr.contains(cut.path))
        // Unknown model name.
        #expect(try !c.workspace.executeInteractive("info model tyni"))
        #expect(c.stderr.contains("no model named 'tyni' (did you mean 'tiny'?)"))
        // The model is still there and works.
        #expect(c.workspace.activeModelName == "tiny")
        try c.workspace.executeInteractive("info model tiny")
        #expect(c.stdout.contains("name         tiny (active)"))
    }

    @Test func missingVocabularyNamesTheFileAndTheFix() throws {
        let empty = makeTemporaryDirectory("clipood-empty-cache")
        defer { try? FileManager.default.removeItem(at: empty) }
        let r = try Executable.run(["run", "-"], stdin: "tokenize \"a photo of a dog.\"\n", environment: ["CLIPOOD_CACHE": empty.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains(empty.path), "\(r.stderr)")
        #expect(r.stderr.contains("fetch_vocab"), "\(r.stderr)")
    }

    @Test func noModelLoaded() throws {
        let c = Captured()
        #expect(try !c.workspace.executeInteractive("embed text \"a dog\""))
        #expect(c.stderr.contains("no model loaded"))
        #expect(c.stderr.contains("hint: load one with: load model PATH"))
    }
}
