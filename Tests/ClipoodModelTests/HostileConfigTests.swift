import ClipoodEngine
import ClipoodModel
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing

/// A tiny CLIP written by the test (both towers width 8, one block, vocabulary 10), with configs
/// in transformers' and open_clip's formats whose numbers each test replaces by a hostile one.
/// Every bad number must end in one `CheckpointError` naming the config file and the field,
/// and the good model beside it must still load.
enum TinyModel {
    static let config = CLIPConfig(vision: .init(width: 8, layers: 1, heads: 2, patchSize: 4, imageSize: 8, mlpWidth: 16),
                                   text: .init(width: 8, layers: 1, heads: 2, contextLength: 4, vocabularySize: 10, mlpWidth: 16),
                                   embedDim: 4)

    static func model(logitScale: Float? = nil) -> CLIPModel {
        let m = CLIPModel(config: config)
        m.initialiseRandomly(seed: 7)
        if let s = logitScale { m.parameters.value(m.parameters.layout["logit_scale"]!)[0] = s }
        return m
    }

    /// transformers' config.json as text; `overrides` replace (or add) members by dotted path
    /// with raw JSON literals, so that the test can write numbers no encoder would produce.
    static func huggingFaceJSON(_ overrides: [String: String] = [:]) -> String {
        let vision: [(String, String)] = [("hidden_size", "8"), ("num_hidden_layers", "1"), ("num_attention_heads", "2"),
                                          ("intermediate_size", "16"), ("image_size", "8"), ("patch_size", "4"),
                                          ("hidden_act", "\"quick_gelu\""), ("layer_norm_eps", "1e-05")]
        let text: [(String, String)] = [("hidden_size", "8"), ("num_hidden_layers", "1"), ("num_attention_heads", "2"),
                                        ("intermediate_size", "16"), ("max_position_embeddings", "4"), ("vocab_size", "10"),
                                        ("hidden_act", "\"quick_gelu\""), ("eos_token_id", "2"), ("layer_norm_eps", "1e-05")]
        let root: [(String, String)] = [("model_type", "\"clip\""), ("projection_dim", "4"), ("logit_scale_init_value", "2.6592")]
        return render(root: root, sections: [("vision_config", vision), ("text_config", text)], overrides)
    }

    /// open_clip's model config as text, with overrides as above.
    static func openCLIPJSON(_ overrides: [String: String] = [:]) -> String {
        let vision: [(String, String)] = [("image_size", "8"), ("layers", "1"), ("width", "8"), ("head_width", "4"),
                                          ("mlp_ratio", "2.0"), ("patch_size", "4")]
        let text: [(String, String)] = [("context_length", "4"), ("vocab_size", "10"), ("width", "8"), ("heads", "2"),
                                        ("layers", "1"), ("mlp_ratio", "2.0")]
        return render(root: [("embed_dim", "4"), ("quick_gelu", "true")], sections: [("vision_cfg", vision), ("text_cfg", text)], overrides)
    }

    static func render(root: [(String, String)], sections: [(String, [(String, String)])], _ overrides: [String: String]) -> String {
        func object(_ prefix: String, _ members: [(String, String)]) -> String {
            var m = members.map { (k, v) in (k, overrides[prefix + k] ?? v) }
            for (path, v) in overrides where path.hasPrefix(prefix) {
                let key = String(path.dropFirst(prefix.count))
                if !key.contains("."), !m.contains(where: { $0.0 == key }) { m.append((key, v)) }
            }
            return "{" + m.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
        }
        let parts = sections.map { (name, members) in (name, object(name + ".", members)) }
        return object("", root + parts)
    }

    /// A Hugging Face directory: model.safetensors and config.json.
    static func writeHuggingFace(in dir: URL, config: String = huggingFaceJSON(), model: CLIPModel = model()) throws -> URL {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try CheckpointWriter.write(model, format: .huggingFace, to: dir.appendingPathComponent("model.safetensors").path)
        try Data(config.utf8).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }

    /// An open_clip state dict `tiny.safetensors` with `tiny.json` beside it.
    static func writeOpenCLIP(in dir: URL, config: String = openCLIPJSON(), model: CLIPModel = model()) throws -> URL {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let weights = dir.appendingPathComponent("tiny.safetensors")
        try CheckpointWriter.write(model, format: .openCLIP, to: weights.path)
        try Data(config.utf8).write(to: dir.appendingPathComponent("tiny.json"))
        return weights
    }
}

/// Runs `body` and returns the description of the `CheckpointError` it throws (records an issue
/// for success or another error type).
func checkpointError(_ body: () throws -> Any, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    do {
        _ = try body()
        Issue.record("expected a CheckpointError, but it loaded", sourceLocation: sourceLocation)
    } catch let e as CheckpointError {
        return e.description
    } catch {
        Issue.record("expected a CheckpointError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
    return ""
}

@Suite("hostile configs")
struct HostileConfigTests {
    let dir = makeTemporaryDirectory("clipood-hostile-config")

    /// (field path → raw JSON literal, the message expected after the file name)
    static let huggingFaceCases: [(String, String, String)] = [
        ("vision_config.num_attention_heads", "0", "vision_config.num_attention_heads = 0 must be ≥ 1 and divide hidden_size 8"),
        ("text_config.num_attention_heads", "3", "text_config.num_attention_heads = 3 must be ≥ 1 and divide hidden_size 8"),
        ("vision_config.patch_size", "0", "vision_config.patch_size = 0 must be between 1 and 1024 and divide image_size 8"),
        ("vision_config.patch_size", "3", "vision_config.patch_size = 3 must be between 1 and 1024 and divide image_size 8"),
        ("vision_config.intermediate_size", "-16", "vision_config.intermediate_size = -16 must be between 1 and 262144"),
        ("text_config.intermediate_size", "0", "text_config.intermediate_size = 0 must be between 1 and 262144"),
        ("vision_config.image_size", "-224", "vision_config.image_size = -224 must be between 1 and 16384"),
        ("vision_config.hidden_size", "1000000000", "vision_config.hidden_size = 1000000000 must be between 1 and 16384"),
        ("text_config.hidden_size", "9223372036854775807", "text_config.hidden_size = 9223372036854775807 must be between 1 and 16384"),
        ("vision_config.hidden_size", "18446744073709551616", "vision_config.hidden_size = 18446744073709551616 must be a whole number"),
        ("vision_config.hidden_size", "8.5", "vision_config.hidden_size = 8.5 must be a whole number"),
        ("vision_config.hidden_size", "8e0", "vision_config.hidden_size = 8e0 must be a whole number"),
        ("vision_config.hidden_size", "\"8\"", "vision_config.hidden_size = \"8\" must be a whole number"),
        ("text_config.num_hidden_layers", "-1", "text_config.num_hidden_layers = -1 must be between 1 and 1024"),
        ("vision_config.num_hidden_layers", "0", "vision_config.num_hidden_layers = 0 must be between 1 and 1024"),
        ("vision_config.num_hidden_layers", "100000000", "vision_config.num_hidden_layers = 100000000 must be between 1 and 1024"),
        ("text_config.max_position_embeddings", "0", "text_config.max_position_embeddings = 0 must be between 1 and 8192"),
        ("text_config.vocab_size", "-10", "text_config.vocab_size = -10 must be between 1 and 1048576"),
        ("projection_dim", "0", "projection_dim = 0 must be between 1 and 16384"),
        ("vision_config.layer_norm_eps", "-1e-05", "vision_config.layer_norm_eps = -1e-05 must be a finite number above 0 and at most 1.0"),
        ("vision_config.layer_norm_eps", "0", "vision_config.layer_norm_eps = 0 must be a finite number above 0"),
        ("text_config.layer_norm_eps", "1e400", "text_config.layer_norm_eps = 1e400 must be a finite number above 0"),
        ("vision_config.layer_norm_eps", "1e-60", "vision_config.layer_norm_eps = 1e-60 must be a finite number above 0"),
        ("text_config.eos_token_id", "10", "text_config.eos_token_id = 10 must be a token id inside the vocabulary (0 to 9"),
        ("text_config.eos_token_id", "-1", "text_config.eos_token_id = -1 must be a token id inside the vocabulary (0 to 9"),
        ("text_config.eos_token_id", "4294967297", "text_config.eos_token_id = 4294967297 must be a token id inside the vocabulary"),
        ("text_config.pad_token_id", "99", "text_config.pad_token_id = 99 must be a token id inside the vocabulary"),
        ("text_config.bos_token_id", "-3", "text_config.bos_token_id = -3 must be a token id inside the vocabulary"),
        ("logit_scale_init_value", "-2.6592", "logit_scale_init_value = -2.6592 must be a finite number from 0.0 to"),
        ("logit_scale_init_value", "1e39", "logit_scale_init_value = 1e39 must be a finite number from 0.0 to"),
        ("vision_config", "[]", "vision_config = […] must be an object"),
        ("vision_config.hidden_act", "\"swish\"", "the towers use different activations"),
        ("vision_config.num_channels", "1", "vision_config.num_channels = 1 must be 3"),
    ]

    @Test("each bad number in config.json is one error naming the file and the field", arguments: 0 ..< huggingFaceCases.count)
    func huggingFaceNumbers(_ k: Int) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (field, literal, expected) = Self.huggingFaceCases[k]
        let bad = try TinyModel.writeHuggingFace(in: dir.appendingPathComponent("bad"), config: TinyModel.huggingFaceJSON([field: literal]))
        let configPath = bad.appendingPathComponent("config.json").path
        let message = checkpointError { try CheckpointLoader.load(path: bad.path) }
        #expect(message.hasPrefix("'\(configPath)': "), "\(field) = \(literal): \(message)")
        #expect(message.contains(expected), "\(field) = \(literal): \(message)")
        #expect(!message.contains("\n"))
        // The pure entry point says the same from the bytes.
        let pure = checkpointError { try CLIPConfig.fromHuggingFace(json: Data(TinyModel.huggingFaceJSON([field: literal]).utf8), file: "c.json") }
        #expect(pure.contains(expected), "\(pure)")
        // The good model next to it still loads.
        let good = try TinyModel.writeHuggingFace(in: dir.appendingPathComponent("good"))
        let loaded = try CheckpointLoader.load(path: good.path)
        #expect(loaded.model.config == TinyModel.config)
    }

    static let openCLIPCases: [(String, String, String)] = [
        ("vision_cfg.head_width", "0", "vision_cfg.head_width = 0 must be ≥ 1 and divide width 8"),
        ("vision_cfg.head_width", "3", "vision_cfg.head_width = 3 must be ≥ 1 and divide width 8"),
        ("vision_cfg.width", "-8", "vision_cfg.width = -8 must be between 1 and 16384"),
        ("vision_cfg.patch_size", "0", "vision_cfg.patch_size = 0 must be between 1 and 1024 and divide image_size 8"),
        ("vision_cfg.image_size", "-8", "vision_cfg.image_size = -8 must be between 1 and 16384"),
        ("vision_cfg.image_size", "[8, 16]", "vision_cfg.image_size = […] must be square"),
        ("vision_cfg.mlp_ratio", "-4.0", "vision_cfg.mlp_ratio = -4.0 must be a finite number above 0"),
        ("text_cfg.mlp_ratio", "1e300", "text_cfg.mlp_ratio = 1e300 must be a finite number above 0 and at most 262144"),
        ("text_cfg.mlp_ratio", "0.01", "text_cfg.mlp_ratio = 0.01 gives an MLP width of 0.08 for width 8"),
        ("text_cfg.heads", "0", "text_cfg.heads = 0 must be ≥ 1 and divide width 8"),
        ("text_cfg.layers", "-1", "text_cfg.layers = -1 must be between 1 and 1024"),
        ("vision_cfg.layers", "[3, 4, 6, 3]", "vision_cfg.layers = […] must be a whole number"),
        ("text_cfg.context_length", "2.5", "text_cfg.context_length = 2.5 must be a whole number"),
        ("text_cfg.eos_id", "10", "text_cfg.eos_id = 10 must be a token id inside the vocabulary"),
        ("embed_dim", "-4", "embed_dim = -4 must be between 1 and 16384"),
        ("init_logit_scale", "-1", "init_logit_scale = -1 must be a finite number from 0.0"),
    ]

    @Test("each bad number in an open_clip config is one error naming the file and the field", arguments: 0 ..< openCLIPCases.count)
    func openCLIPNumbers(_ k: Int) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (field, literal, expected) = Self.openCLIPCases[k]
        let weights = try TinyModel.writeOpenCLIP(in: dir.appendingPathComponent("bad"), config: TinyModel.openCLIPJSON([field: literal]))
        let configPath = weights.deletingPathExtension().appendingPathExtension("json").path
        let message = checkpointError { try CheckpointLoader.load(path: weights.path) }
        #expect(message.hasPrefix("'\(configPath)': "), "\(field) = \(literal): \(message)")
        #expect(message.contains(expected), "\(field) = \(literal): \(message)")
        let good = try TinyModel.writeOpenCLIP(in: dir.appendingPathComponent("good"))
        #expect(try CheckpointLoader.load(path: good.path).model.config == TinyModel.config)
        // A hub open_clip_config.json wraps the same config in "model_cfg".
        let hub = dir.appendingPathComponent("hub")
        try FileManager.default.createDirectory(at: hub, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: good, to: hub.appendingPathComponent("open_clip_model.safetensors"))
        try Data("{\"model_cfg\": \(TinyModel.openCLIPJSON([field: literal]))}".utf8).write(to: hub.appendingPathComponent("open_clip_config.json"))
        let hubMessage = checkpointError { try CheckpointLoader.load(path: hub.path) }
        #expect(hubMessage.contains(expected) && hubMessage.contains("open_clip_config.json"), "\(hubMessage)")
    }

    @Test("a config that asks for more parameters than the checkpoint holds")
    func moreParametersThanTheCheckpoint() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        // Valid numbers, but a wider vision tower than the weights have: refused before allocating.
        let bad = try TinyModel.writeHuggingFace(in: dir.appendingPathComponent("bad"),
                                                 config: TinyModel.huggingFaceJSON(["vision_config.hidden_size": "16384", "vision_config.intermediate_size": "65536",
                                                                                    "vision_config.num_hidden_layers": "1024"]))
        let message = checkpointError { try CheckpointLoader.load(path: bad.path) }
        let weights = bad.appendingPathComponent("model.safetensors").path
        #expect(message.hasPrefix("'\(bad.appendingPathComponent("config.json").path)': the config asks for "), "\(message)")
        #expect(message.contains("parameters but '\(weights)' holds only"), "\(message)")
        #expect(message.contains("vision_model.embeddings.patch_embedding.weight' has shape [8, 3, 4, 4], the config needs [16384, 3, 4, 4]"), "\(message)")
        let counted = try #require(CLIPConfig.fromHuggingFace(json: Data(TinyModel.huggingFaceJSON(["vision_config.hidden_size": "16384", "vision_config.intermediate_size": "65536",
                                                                                                     "vision_config.num_hidden_layers": "1024"]).utf8), file: "c").parameterCount)
        #expect(message.contains("asks for \(counted) parameters"))
        #expect(counted > 1 << 40)
        // More text layers than the file has blocks: also the config's fault, listing what lacks.
        let deeper = try TinyModel.writeHuggingFace(in: dir.appendingPathComponent("deeper"), config: TinyModel.huggingFaceJSON(["text_config.num_hidden_layers": "3"]))
        let m2 = checkpointError { try CheckpointLoader.load(path: deeper.path) }
        #expect(m2.contains("the config asks for") && m2.contains("it lacks 32 tensors: text_model.encoder.layers.1."), "\(m2)")
        #expect(try CheckpointLoader.load(path: TinyModel.writeHuggingFace(in: dir.appendingPathComponent("good")).path).model.parameterCount == TinyModel.config.parameterCount)
    }

    @Test("a logit scale that is negative, NaN or huge", arguments: [Float(-1), .nan, .infinity, 20])
    func logitScale(_ scale: Float) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = try TinyModel.writeHuggingFace(in: dir.appendingPathComponent("bad"), model: TinyModel.model(logitScale: scale))
        let message = checkpointError { try CheckpointLoader.load(path: bad.path) }
        #expect(message.hasPrefix("'\(bad.appendingPathComponent("model.safetensors").path)': tensor 'logit_scale' = \(scale) must be a finite number from 0.0 to 13.8"),
                "\(message)")
        let oc = try TinyModel.writeOpenCLIP(in: dir.appendingPathComponent("oc"), model: TinyModel.model(logitScale: scale))
        #expect(checkpointError { try CheckpointLoader.load(path: oc.path) }.contains("tensor 'logit_scale' = \(scale) must be"))
        let good = try TinyModel.writeHuggingFace(in: dir.appendingPathComponent("good"), model: TinyModel.model(logitScale: 4.6))
        #expect(abs(try CheckpointLoader.load(path: good.path).model.logitScale - expf(4.6)) < 1e-3)
    }

    @Test("config files that are not JSON objects, too deep, or not regular files")
    func unreadableConfigs() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String)] = [
            ("{\"vision_config\": {\"hidden_size\": NaN}}", "not valid JSON (line 1, column 35: unexpected character"),
            ("[1, 2]", "not a JSON object"),
            (String(repeating: "[", count: 100_000), "nested more than 64 levels deep"),
            ("{\"a\": 1} trailing", "unexpected text after the JSON value"),
            ("{\"text_config\": {}, \"vision_config\": {\"hidden_size\": 8 ", "the text ends inside an object"),
        ]
        for (text, expected) in cases {
            let bad = try TinyModel.writeHuggingFace(in: dir.appendingPathComponent("bad"), config: text)
            let message = checkpointError { try CheckpointLoader.load(path: bad.path) }
            #expect(message.hasPrefix("'\(bad.appendingPathComponent("config.json").path)': ") && message.contains(expected), "\(message)")
        }
        // A FIFO where config.json should be: refused at once, never read (which would hang).
        let fifo = dir.appendingPathComponent("fifo")
        _ = try TinyModel.writeHuggingFace(in: fifo)
        try FileManager.default.removeItem(at: fifo.appendingPathComponent("config.json"))
        #expect(mkfifo(fifo.appendingPathComponent("config.json").path, 0o600) == 0)
        let message = checkpointError { try CheckpointLoader.load(path: fifo.path) }
        #expect(message.contains("config.json': cannot read it: it is not a regular file"), "\(message)")
    }

    @Test("a model built from outside numbers is validated first")
    func validatingInitialiser() throws {
        var c = TinyModel.config
        c.vision.heads = 3
        let message = checkpointError { try CLIPModel(validating: c, source: "pretrain arguments") }
        #expect(message == "'pretrain arguments': vision.heads = 3 must be ≥ 1 and divide width 8")
        c.vision.heads = 2
        c.layerNormEps = .nan
        #expect(checkpointError { try CLIPModel(validating: c, source: "x") } == "'x': layerNormEps = nan must be a finite number above 0 and at most 1.0")
        #expect(try CLIPModel(validating: TinyModel.config, source: "x").parameterCount == TinyModel.config.parameterCount)
    }

    @Test("shapes an inferred config cannot use")
    func inferredShapes() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func write(_ tensors: [(String, [Int])]) throws -> String {
            var w = SafeTensorsWriter()
            for (n, s) in tensors { w.add(n, shape: s, floats: [Float](repeating: 0.5, count: s.reduce(1, *))) }
            let path = dir.appendingPathComponent("x.safetensors").path
            try w.write(to: path)
            return path
        }
        let flat = try write([("visual.conv1.weight", [8, 48])])
        #expect(checkpointError { try CheckpointLoader.load(path: flat) }.contains("tensor 'visual.conv1.weight' has shape [8, 48], expected [-1, -1, -1, -1]"))
        let notSquare = try write([("visual.conv1.weight", [8, 3, 4, 4]), ("visual.positional_embedding", [6, 8])])
        #expect(checkpointError { try CheckpointLoader.load(path: notSquare) }.contains("visual.positional_embedding.shape[0] = 6 must be a square number"))
        let scalar = try write([("visual.conv1.weight", [8, 3, 4, 4]), ("visual.positional_embedding", [5, 8]), ("ln_final.weight", [])])
        #expect(checkpointError { try CheckpointLoader.load(path: scalar) }.contains("tensor 'ln_final.weight' has shape [], expected [-1]"))
    }
}
