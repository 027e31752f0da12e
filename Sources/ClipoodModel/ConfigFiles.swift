import ClipoodEngine
import ClipoodIO
import Foundation

/// Reading CLIP configs from JSON: transformers' `config.json` and open_clip's model config (or
/// a hub `open_clip_config.json` that wraps it). Every number is read from its literal (a
/// fraction where a whole number belongs is refused, never truncated), range-checked, and
/// checked against the others (heads divide widths, patches divide the image, token ids lie in
/// the vocabulary) before anything uses it. Errors name the file and the field.
extension CLIPConfig {
    /// The largest config file read.
    public static let maxConfigFileBytes = 4 << 20

    /// A transformers CLIPModel `config.json`, given as bytes; `file` names it in errors. Keys
    /// that are absent take transformers' defaults. Reads no file: a fuzzer can call it.
    public static func fromHuggingFace(json: Data, file: String) throws -> CLIPConfig {
        let root = try ConfigSection.root(json, file: file)
        guard let v = try root.section("vision_config"), let t = try root.section("text_config") else {
            let type = root.object["model_type"]?.string ?? "?"
            throw CheckpointError.badConfig(file: file, reason: "no vision_config / text_config: not a CLIPModel config (model_type '\(type)')")
        }
        // transformers' defaults for CLIPVisionConfig / CLIPTextConfig where a key is absent.
        let vision = CLIPConfig.Vision(width: try v.int("hidden_size", 768), layers: try v.int("num_hidden_layers", 12),
                                       heads: try v.int("num_attention_heads", 12), patchSize: try v.int("patch_size", 32),
                                       imageSize: try v.int("image_size", 224), mlpWidth: try v.int("intermediate_size", 3072))
        let text = CLIPConfig.Text(width: try t.int("hidden_size", 512), layers: try t.int("num_hidden_layers", 12),
                                   heads: try t.int("num_attention_heads", 8), contextLength: try t.int("max_position_embeddings", 77),
                                   vocabularySize: try t.int("vocab_size", 49408), mlpWidth: try t.int("intermediate_size", 2048))
        let embed = try root.int("projection_dim", 512)
        if let channels = try v.optionalInt("num_channels"), channels != 3 {
            throw v.fail("num_channels", channels, "must be 3 (clipood's vision tower takes RGB images)")
        }
        let acts = [try v.string("hidden_act") ?? "quick_gelu", try t.string("hidden_act") ?? "quick_gelu"]
        guard acts[0] == acts[1] else {
            throw CheckpointError.badConfig(file: file, reason: "the towers use different activations (\(acts[0]), \(acts[1])); clipood supports one per model")
        }
        guard let act = Activation(rawValue: acts[0]) else {
            throw CheckpointError.badConfig(file: file, reason: "hidden_act '\(acts[0].prefix(40))' is not supported (quick_gelu or gelu)")
        }
        // Token ids must lie inside the vocabulary (checked before any conversion to Int32).
        let vocab = text.vocabularySize
        var ids: [String: Int] = [:]
        for key in ["eos_token_id", "bos_token_id", "pad_token_id"] {
            guard let id = try t.optionalInt(key) else { continue }
            if vocab >= 1, id < 0 || id >= vocab {
                throw t.fail(key, id, "must be a token id inside the vocabulary (0 to \(vocab - 1), from text_config.vocab_size \(vocab))")
            }
            ids[key] = id
        }
        let eos = ids["eos_token_id"] ?? 2
        let pooling: TextPooling = eos == 2 || vocab < 1 ? .argmaxID : .firstID(Int32(eos))
        var config = CLIPConfig(vision: vision, text: text, embedDim: embed, activation: act, pooling: pooling)
        // One layer-norm epsilon per model: both towers' must be valid; the vision tower's is used.
        let epsV = try v.positiveFloat("layer_norm_eps", 1e-5, max: Limits.maxLayerNormEps)
        _ = try t.positiveFloat("layer_norm_eps", 1e-5, max: Limits.maxLayerNormEps)
        config.layerNormEps = epsV
        _ = try root.logitScale("logit_scale_init_value")
        try config.validate(file: file, fields: .huggingFace)
        return config
    }

    /// An open_clip model config (the JSON of `open_clip.create_model`, or a hub
    /// `open_clip_config.json` whose "model_cfg" holds it), given as bytes; `file` names it in
    /// errors. Reads no file: a fuzzer can call it.
    public static func fromOpenCLIP(json: Data, file: String) throws -> CLIPConfig {
        var root = try ConfigSection.root(json, file: file)
        if let inner = try root.section("model_cfg") { root = inner.asRoot }
        guard let v = try root.section("vision_cfg"), let t = try root.section("text_cfg"), root.object["embed_dim"] != nil else {
            throw CheckpointError.badConfig(file: file, reason: "not an open_clip model config (needs embed_dim, vision_cfg, text_cfg)")
        }
        for key in ["timm_model_name", "hf_model_name"] where v.object[key].map(isSet) ?? false || t.object[key].map(isSet) ?? false {
            throw CheckpointError.badConfig(file: file, reason: "\(key) towers are not supported; clipood runs CLIP's own ViT and text transformer")
        }
        for key in ["attentional_pool", "no_ln_pre", "final_ln_after_pool", "proj_bias"] where [v, t].contains(where: { $0.object[key]?.bool == true }) {
            throw CheckpointError.badConfig(file: file, reason: "'\(key)' is not supported")
        }
        for section in [v, t] {
            if let pool = try section.string("pool_type"), !["tok", "argmax"].contains(pool) {
                throw CheckpointError.badConfig(file: file, reason: "\(section.name).pool_type '\(pool.prefix(40))' is not supported (CLIP's class token / argmax pooling only)")
            }
        }
        let embed = try root.int("embed_dim", 0)
        let vw = try v.int("width", 768), tw = try t.int("width", 512)
        // head_width divides the width (checked before dividing by it).
        let headWidth = try v.int("head_width", 64)
        guard (1 ... Limits.maxWidth).contains(vw) else { throw v.fail("width", vw, "must be between 1 and \(Limits.maxWidth)") }
        guard headWidth >= 1, vw % headWidth == 0 else {
            throw v.fail("head_width", headWidth, "must be ≥ 1 and divide width \(vw)")
        }
        let vision = CLIPConfig.Vision(width: vw, layers: try v.int("layers", 12), heads: vw / headWidth,
                                       patchSize: try v.int("patch_size", 16), imageSize: try v.squareSize("image_size", 224),
                                       mlpWidth: try v.mlpWidth(width: vw))
        let text = CLIPConfig.Text(width: tw, layers: try t.int("layers", 12), heads: try t.int("heads", 8),
                                   contextLength: try t.int("context_length", 77), vocabularySize: try t.int("vocab_size", 49408),
                                   mlpWidth: try t.mlpWidth(width: tw))
        for key in ["eos_id", "pad_id"] {
            guard let id = try t.optionalInt(key) else { continue }
            if id < 0 || id >= text.vocabularySize {
                throw t.fail(key, id, "must be a token id inside the vocabulary (0 to \(text.vocabularySize - 1), from text_cfg.vocab_size \(text.vocabularySize))")
            }
        }
        _ = try root.logitScale("init_logit_scale")
        let act: Activation = try root.bool("quick_gelu") ?? false ? .quickGELU : .gelu
        let config = CLIPConfig(vision: vision, text: text, embedDim: embed, activation: act, pooling: .argmaxID)
        try config.validate(file: file, fields: .openCLIP)
        return config
    }

    private static func isSet(_ v: JSONValue) -> Bool {
        switch v {
        case .null: return false
        case .bool(let b): return b
        case .string(let s): return !s.isEmpty
        default: return true
        }
    }
}

/// One object of a config file, with the dotted name it has in messages ("vision_config").
struct ConfigSection {
    let file: String
    let name: String
    let object: JSONObject

    static func root(_ json: Data, file: String) throws -> ConfigSection {
        let value: JSONValue
        do { value = try StrictJSON.parse(json) } catch {
            throw CheckpointError.badConfig(file: file, reason: "not valid JSON (\(error))")
        }
        guard let object = value.object else { throw CheckpointError.badConfig(file: file, reason: "not a JSON object") }
        return ConfigSection(file: file, name: "", object: object)
    }

    var asRoot: ConfigSection { ConfigSection(file: file, name: "", object: object) }

    func field(_ key: String) -> String { name.isEmpty ? key : name + "." + key }

    func fail(_ key: String, _ value: CustomStringConvertible, _ rule: String) -> CheckpointError {
        .badConfig(file: file, reason: "\(field(key)) = \(value) \(rule)")
    }

    /// The value of `key`, nil when absent or null.
    func value(_ key: String) -> JSONValue? {
        guard let v = object[key] else { return nil }
        if case .null = v { return nil }
        return v
    }

    func section(_ key: String) throws -> ConfigSection? {
        guard let v = value(key) else { return nil }
        guard let o = v.object else { throw fail(key, v.brief, "must be an object") }
        return ConfigSection(file: file, name: field(key), object: o)
    }

    /// A whole number (a literal without fraction or exponent that fits in Int), nil when absent.
    func optionalInt(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let n = v.int else { throw fail(key, v.brief, "must be a whole number") }
        return n
    }

    func int(_ key: String, _ defaultValue: Int) throws -> Int { try optionalInt(key) ?? defaultValue }

    func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.string else { throw fail(key, v.brief, "must be a string") }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.bool else { throw fail(key, v.brief, "must be true or false") }
        return b
    }

    /// A finite number above 0 and at most `max`.
    func positiveFloat(_ key: String, _ defaultValue: Float, max: Float) throws -> Float {
        guard let v = value(key) else { return defaultValue }
        guard let d = v.double, d.isFinite, d > 0, d <= Double(max), Float(d) > 0 else {
            throw fail(key, v.brief, "must be a finite number above 0 and at most \(max)")
        }
        return Float(d)
    }

    /// A logit scale (log of the inverse temperature), if present: finite, with exp(scale)
    /// finite and positive — within `CLIPConfig.Limits`' logit-scale range.
    func logitScale(_ key: String) throws -> Float? {
        guard let v = value(key) else { return nil }
        let lo = CLIPConfig.Limits.minLogitScale, hi = CLIPConfig.Limits.maxLogitScale
        guard let d = v.double, d.isFinite, d >= Double(lo), d <= Double(hi) else {
            throw fail(key, v.brief, "must be a finite number from \(lo) to \(hi) (exp of it, the inverse temperature, from 1 to 10⁶)")
        }
        return Float(d)
    }

    /// An image size: a whole number, or open_clip's [height, width] with both equal.
    func squareSize(_ key: String, _ defaultValue: Int) throws -> Int {
        guard let v = value(key) else { return defaultValue }
        if let n = v.int { return n }
        if let a = v.array, a.count == 2, let h = a[0].int, let w = a[1].int {
            guard h == w else { throw fail(key, v.brief, "must be square (clipood's towers take square images)") }
            return h
        }
        throw fail(key, v.brief, "must be a whole number or [size, size]")
    }

    /// open_clip's MLP width: int(width × mlp_ratio), with the ratio checked before multiplying.
    func mlpWidth(width: Int) throws -> Int {
        // A width out of range is reported by the config's validation, which checks it first.
        guard (1 ... CLIPConfig.Limits.maxWidth).contains(width) else { return 1 }
        guard let v = value("mlp_ratio") else { return 4 * width }
        let maxRatio = Double(CLIPConfig.Limits.maxMLPWidth)
        guard let r = v.double, r.isFinite, r > 0, r <= maxRatio else {
            throw fail("mlp_ratio", v.brief, "must be a finite number above 0 and at most \(Int(maxRatio))")
        }
        let product = Double(width) * r
        guard product >= 1, product <= Double(CLIPConfig.Limits.maxMLPWidth) else {
            throw fail("mlp_ratio", v.brief, "gives an MLP width of \(product) for width \(width); it must be between 1 and \(CLIPConfig.Limits.maxMLPWidth)")
        }
        return Int(product)
    }
}
