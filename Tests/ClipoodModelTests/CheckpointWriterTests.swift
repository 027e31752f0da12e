import ClipoodEngine
import ClipoodModel
import Foundation
import TestSupport
import Testing

@Suite("writing checkpoints back")
struct CheckpointWriterTests {
    /// Saved in the loaded format, a model reloads to the same parameters, bit for bit.
    @Test(arguments: ["hf_quickgelu", "openclip_bf16.safetensors"])
    func roundTrip(_ name: String) throws {
        let loaded = try CheckpointLoader.load(path: fixtureDirectory.appendingPathComponent(name).path)
        let dir = makeTemporaryDirectory("clipood-writer")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("w.safetensors").path
        try CheckpointWriter.write(loaded.model, to: out)
        let file = try SafeTensorsFile(path: out)
        let original = try SafeTensorsFile(path: loaded.weightsFile)
        // Same tensor names as the checkpoint that was loaded (so PyTorch's load_state_dict accepts it).
        #expect(Set(file.names) == Set(original.names.filter { !CheckpointNames.isIgnorable($0) }))
        let again = NamedBuffer(layout: loaded.model.parameters.layout)
        try CheckpointLoader.fill(again, from: file, naming: loaded.model.format == .huggingFace ? CheckpointNames.huggingFace : { .tensor($0) })
        #expect(again.storage.toArray() == loaded.model.parameters.values.storage.toArray())
    }
}
