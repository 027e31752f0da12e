import ClipoodEngine
import Foundation

/// Everything that can go wrong loading a model; each names the file and, where there is one, the tensor.
public enum CheckpointError: Error, CustomStringConvertible {
    case notFound(String)
    case unrecognised(String, String)
    case badConfig(file: String, reason: String)
    case missingTensors(file: String, names: [String], total: Int)
    case wrongShape(file: String, tensor: String, expected: [Int], actual: [Int])
    case notFinite(file: String, tensor: String)

    public var description: String {
        switch self {
        case .notFound(let p): return "no model at '\(p)': expected a Hugging Face CLIP directory (config.json + model.safetensors) or a .safetensors state dict"
        case .unrecognised(let p, let why): return "'\(p)' is not a CLIP checkpoint clipood can read: \(why)"
        case .badConfig(let f, let r): return "'\(f)': \(r)"
        case .missingTensors(let f, let names, let total):
            return "'\(f)' lacks \(total) tensor\(total == 1 ? "" : "s") the model needs: " + names.joined(separator: ", ") + (total > names.count ? ", …" : "")
        case .wrongShape(let f, let t, let e, let a): return "'\(f)': tensor '\(t)' has shape \(a), expected \(e)"
        case .notFinite(let f, let t): return "'\(f)': tensor '\(t)' contains NaN or infinity"
        }
    }
}

/// A loaded model and what the loader noticed along the way.
public struct LoadedModel {
    public let model: CLIPModel
    /// Tensors in the file that no parameter uses (besides known buffers), sorted.
    public let unexpectedTensors: [String]
    /// The weight file that was read.
    public let weightsFile: String
    /// The dtypes found in the file ("F16", …) — shown by `info model`.
    public let dtypes: [String]
}

public enum CheckpointLoader {
    /// Loads a Hugging Face CLIP directory or an open_clip/OpenAI `.safetensors` state dict
    /// (with `<stem>.json` or `open_clip_config.json` beside it, or with the architecture
    /// inferred from tensor shapes as OpenAI's `build_model` does).
    public static func load(path: String) throws -> LoadedModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw CheckpointError.notFound(path) }
        if isDir.boolValue {
            let dir = URL(fileURLWithPath: path)
            let config = dir.appendingPathComponent("config.json").path
            let weights = dir.appendingPathComponent("model.safetensors").path
            if FileManager.default.fileExists(atPath: config) {
                guard FileManager.default.fileExists(atPath: weights) else {
                    let bin = FileManager.default.fileExists(atPath: dir.appendingPathComponent("pytorch_model.bin").path)
                    throw CheckpointError.unrecognised(path, bin ? "it has pytorch_model.bin but no model.safetensors; convert it with transformers' save_pretrained(safe_serialization=True)"
                                                             : "it has config.json but no model.safetensors")
                }
                return try loadHuggingFace(configPath: config, weightsPath: weights)
            }
            let candidates = ["open_clip_model.safetensors", "model.safetensors"].map { dir.appendingPathComponent($0).path }
            if let f = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return try loadOpenCLIP(weightsPath: f) }
            throw CheckpointError.unrecognised(path, "the directory has neither config.json + model.safetensors nor a .safetensors state dict")
        }
        guard path.hasSuffix(".safetensors") else {
            throw CheckpointError.unrecognised(path, "only .safetensors weights are read (convert a .pt/.bin with safetensors.torch.save_file)")
        }
        return try loadOpenCLIP(weightsPath: path)
    }

    // MARK: Hugging Face

    public static func loadHuggingFace(configPath: String, weightsPath: String) throws -> LoadedModel {
        let config = try huggingFaceConfig(configPath)
        let file = try SafeTensorsFile(path: weightsPath)
        let model = CLIPModel(config: config)
        model.format = .huggingFace
        model.source = URL(fileURLWithPath: weightsPath).deletingLastPathComponent().path
        let used = try fill(model.parameters.values, from: file, naming: CheckpointNames.huggingFace)
        return LoadedModel(model: model, unexpectedTensors: unexpected(file, used), weightsFile: weightsPath, dtypes: dtypes(file))
    }

    public static func huggingFaceConfig(_ path: String) throws -> CLIPConfig {
        let root = try readJSON(path)
        guard let v = root["vision_config"] as? [String: Any], let t = root["text_config"] as? [String: Any] else {
            throw CheckpointError.badConfig(file: path, reason: "no vision_config / text_config: not a CLIPModel config (model_type '\(root["model_type"] ?? "?")')")
        }
        func int(_ d: [String: Any], _ k: String, _ def: Int? = nil, _ section: String) throws -> Int {
            if let n = d[k] as? NSNumber { return n.intValue }
            if let def { return def }
            throw CheckpointError.badConfig(file: path, reason: "\(section).\(k) is missing")
        }
        // transformers' defaults for CLIPVisionConfig / CLIPTextConfig where a key is absent.
        let vw = try int(v, "hidden_size", 768, "vision_config"), tw = try int(t, "hidden_size", 512, "text_config")
        let vision = CLIPConfig.Vision(width: vw, layers: try int(v, "num_hidden_layers", 12, "vision_config"),
                                       heads: try int(v, "num_attention_heads", 12, "vision_config"),
                                       patchSize: try int(v, "patch_size", 32, "vision_config"), imageSize: try int(v, "image_size", 224, "vision_config"),
                                       mlpWidth: try int(v, "intermediate_size", 3072, "vision_config"))
        let text = CLIPConfig.Text(width: tw, layers: try int(t, "num_hidden_layers", 12, "text_config"),
                                   heads: try int(t, "num_attention_heads", 8, "text_config"),
                                   contextLength: try int(t, "max_position_embeddings", 77, "text_config"),
                                   vocabularySize: try int(t, "vocab_size", 49408, "text_config"),
                                   mlpWidth: try int(t, "intermediate_size", 2048, "text_config"))
        let embed = try int(root, "projection_dim", 512, "")
        let acts = [v["hidden_act"] as? String ?? "quick_gelu", t["hidden_act"] as? String ?? "quick_gelu"]
        guard acts[0] == acts[1] else { throw CheckpointError.badConfig(file: path, reason: "the towers use different activations (\(acts[0]), \(acts[1])); clipood supports one per model") }
        guard let act = Activation(rawValue: acts[0]) else {
            throw CheckpointError.badConfig(file: path, reason: "hidden_act '\(acts[0])' is not supported (quick_gelu or gelu)")
        }
        let eos = (t["eos_token_id"] as? NSNumber)?.intValue ?? 2
        var config = CLIPConfig(vision: vision, text: text, embedDim: embed, activation: act, pooling: eos == 2 ? .argmaxID : .firstID(Int32(eos)))
        if let e = (v["layer_norm_eps"] as? NSNumber)?.floatValue { config.layerNormEps = e }
        try validate(config, path)
        return config
    }

    // MARK: open_clip / OpenAI

    public static func loadOpenCLIP(weightsPath: String) throws -> LoadedModel {
        let file = try SafeTensorsFile(path: weightsPath)
        let url = URL(fileURLWithPath: weightsPath)
        let stemJSON = url.deletingPathExtension().appendingPathExtension("json").path
        let hubJSON = url.deletingLastPathComponent().appendingPathComponent("open_clip_config.json").path
        let config: CLIPConfig
        if FileManager.default.fileExists(atPath: stemJSON) {
            config = try openCLIPConfig(stemJSON, file: file)
        } else if FileManager.default.fileExists(atPath: hubJSON) {
            config = try openCLIPConfig(hubJSON, file: file)
        } else {
            config = try inferConfig(file)
        }
        let model = CLIPModel(config: config)
        model.format = .openCLIP
        model.source = weightsPath
        let used = try fill(model.parameters.values, from: file, naming: { .tensor($0) })
        return LoadedModel(model: model, unexpectedTensors: unexpected(file, used), weightsFile: weightsPath, dtypes: dtypes(file))
    }

    /// An open_clip model config (the JSON of `open_clip.create_model`, or a hub
    /// `open_clip_config.json` whose "model_cfg" holds it).
    public static func openCLIPConfig(_ path: String, file: SafeTensorsFile) throws -> CLIPConfig {
        var root = try readJSON(path)
        if let inner = root["model_cfg"] as? [String: Any] { root = inner }
        guard let v = root["vision_cfg"] as? [String: Any], let t = root["text_cfg"] as? [String: Any],
              let embed = (root["embed_dim"] as? NSNumber)?.intValue else {
            throw CheckpointError.badConfig(file: path, reason: "not an open_clip model config (needs embed_dim, vision_cfg, text_cfg)")
        }
        for key in ["timm_model_name", "hf_model_name"] where v[key] != nil || t[key] != nil {
            throw CheckpointError.badConfig(file: path, reason: "\(key) towers are not supported; clipood runs CLIP's own ViT and text transformer")
        }
        for key in ["attentional_pool", "no_ln_pre", "final_ln_after_pool", "proj_bias", "attn_pooler_heads"] {
            if let b = (v[key] ?? t[key]) as? Bool, b { throw CheckpointError.badConfig(file: path, reason: "'\(key)' is not supported") }
        }
        if let pool = (v["pool_type"] ?? t["pool_type"]) as? String, !["tok", "argmax"].contains(pool) {
            throw CheckpointError.badConfig(file: path, reason: "pool_type '\(pool)' is not supported (CLIP's class token / argmax pooling only)")
        }
        func int(_ d: [String: Any], _ k: String, _ def: Int) -> Int { (d[k] as? NSNumber)?.intValue ?? def }
        let vw = int(v, "width", 768), tw = int(t, "width", 512)
        let vMLP = Int(((v["mlp_ratio"] as? NSNumber)?.doubleValue ?? 4) * Double(vw))
        let tMLP = Int(((t["mlp_ratio"] as? NSNumber)?.doubleValue ?? 4) * Double(tw))
        let vision = CLIPConfig.Vision(width: vw, layers: int(v, "layers", 12), heads: vw / int(v, "head_width", 64),
                                       patchSize: int(v, "patch_size", 16), imageSize: int(v, "image_size", 224), mlpWidth: vMLP)
        let text = CLIPConfig.Text(width: tw, layers: int(t, "layers", 12), heads: int(t, "heads", 8), contextLength: int(t, "context_length", 77),
                                   vocabularySize: int(t, "vocab_size", 49408), mlpWidth: tMLP)
        let act: Activation = (root["quick_gelu"] as? Bool ?? false) ? .quickGELU : .gelu
        let config = CLIPConfig(vision: vision, text: text, embedDim: embed, activation: act, pooling: .argmaxID)
        try validate(config, path)
        return config
    }

    /// The architecture from tensor shapes, as OpenAI's `clip.model.build_model` infers it
    /// (heads = width / 64 in both towers; QuickGELU; argmax pooling).
    public static func inferConfig(_ file: SafeTensorsFile) throws -> CLIPConfig {
        func shape(_ n: String) throws -> [Int] {
            guard let e = file.entries[n] else {
                throw CheckpointError.unrecognised(file.path, "no '\(n)' tensor, so the architecture cannot be inferred (and there is no <name>.json config beside it)")
            }
            return e.shape
        }
        let conv = try shape("visual.conv1.weight")
        guard conv.count == 4 else { throw CheckpointError.wrongShape(file: file.path, tensor: "visual.conv1.weight", expected: [-1, 3, -1, -1], actual: conv) }
        let vWidth = conv[0], patch = conv[3]
        func countBlocks(_ prefix: String) -> Int {
            Set(file.entries.keys.compactMap { k -> Int? in
                guard k.hasPrefix(prefix) else { return nil }
                return Int(k.dropFirst(prefix.count).prefix { $0 != "." })
            }).count
        }
        let vLayers = countBlocks("visual.transformer.resblocks.")
        let grid = Int(Double(try shape("visual.positional_embedding")[0] - 1).squareRoot().rounded())
        let tWidth = try shape("ln_final.weight")[0]
        let embed = try shape("text_projection")[1]
        let context = try shape("positional_embedding")[0], vocab = try shape("token_embedding.weight")[0]
        let vMLP = try shape("visual.transformer.resblocks.0.mlp.c_fc.weight")[0]
        let tMLP = try shape("transformer.resblocks.0.mlp.c_fc.weight")[0]
        let config = CLIPConfig(vision: .init(width: vWidth, layers: vLayers, heads: max(1, vWidth / 64), patchSize: patch, imageSize: patch * grid, mlpWidth: vMLP),
                                text: .init(width: tWidth, layers: countBlocks("transformer.resblocks."), heads: max(1, tWidth / 64),
                                            contextLength: context, vocabularySize: vocab, mlpWidth: tMLP),
                                embedDim: embed, activation: .quickGELU, pooling: .argmaxID)
        try validate(config, file.path)
        return config
    }

    // MARK: Filling parameters

    /// Fills every canonical tensor of `target` from `file` through `naming` (canonical name →
    /// source). `prefix` is put before every file name (fixtures store gradients as "grad.<name>").
    /// Returns the file names used. Missing tensors and wrong shapes throw, listing them.
    @discardableResult
    public static func fill(_ target: NamedBuffer, from file: SafeTensorsFile, naming: (String) -> TensorSource, prefix: String = "") throws -> Set<String> {
        var used = Set<String>()
        var missing: [String] = []
        for slot in target.layout.slots {
            let source = naming(slot.name)
            let names = source.names.map { prefix + $0 }
            let absent = names.filter { file.entries[$0] == nil }
            if !absent.isEmpty { missing += absent; continue }
            let dst = target.pointer(slot)
            switch source {
            case .tensor:
                let e = file.entries[names[0]]!
                // A 0-d scalar (logit_scale) may be stored as [] or [1].
                guard e.shape == slot.shape || (e.count == 1 && slot.count == 1) else {
                    throw CheckpointError.wrongShape(file: file.path, tensor: names[0], expected: slot.shape, actual: e.shape)
                }
                try file.copyFloats(names[0], into: dst)
            case .transposed:
                let e = file.entries[names[0]]!
                let rows = slot.shape[0], cols = slot.shape[1]
                guard e.shape == [cols, rows] else { throw CheckpointError.wrongShape(file: file.path, tensor: names[0], expected: [cols, rows], actual: e.shape) }
                let tmp = try file.floats(names[0])   // (cols, rows)
                for r in 0 ..< rows { for c in 0 ..< cols { dst[r * cols + c] = tmp[c * rows + r] } }
            case .rows:
                var offset = 0
                let partRows = slot.shape[0] / names.count
                let partShape = [partRows] + slot.shape.dropFirst()
                for n in names {
                    let e = file.entries[n]!
                    guard e.shape == partShape else { throw CheckpointError.wrongShape(file: file.path, tensor: n, expected: partShape, actual: e.shape) }
                    try file.copyFloats(n, into: dst + offset)
                    offset += e.count
                }
            }
            for i in 0 ..< slot.count where !dst[i].isFinite {
                throw CheckpointError.notFinite(file: file.path, tensor: names[0])
            }
            used.formUnion(names)
        }
        if !missing.isEmpty { throw CheckpointError.missingTensors(file: file.path, names: Array(missing.sorted().prefix(10)), total: missing.count) }
        return used
    }

    static func unexpected(_ file: SafeTensorsFile, _ used: Set<String>) -> [String] {
        file.entries.keys.filter { !used.contains($0) && !CheckpointNames.isIgnorable($0) }.sorted()
    }

    static func dtypes(_ file: SafeTensorsFile) -> [String] { Set(file.entries.values.map(\.dtype.rawValue)).sorted() }

    static func readJSON(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else { throw CheckpointError.badConfig(file: path, reason: "cannot read the file") }
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw CheckpointError.badConfig(file: path, reason: "not a JSON object")
        }
        return obj
    }

    static func validate(_ c: CLIPConfig, _ path: String) throws {
        if let e = c.validationErrors().first { throw CheckpointError.badConfig(file: path, reason: e) }
    }
}
