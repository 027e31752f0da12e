/// Where one canonical (OpenAI/open_clip-named) tensor comes from in another naming scheme.
public enum TensorSource: Equatable, Sendable {
    /// The same values under another name.
    case tensor(String)
    /// A 2-D tensor stored transposed (transformers' Linear projections vs OpenAI's x·P).
    case transposed(String)
    /// Several tensors stacked along the first dimension (transformers' q, k, v → in_proj).
    case rows([String])

    public var names: [String] {
        switch self {
        case .tensor(let n), .transposed(let n): return [n]
        case .rows(let ns): return ns
        }
    }
}

/// The one table of checkpoint names: canonical name → transformers' CLIPModel name(s).
public enum CheckpointNames {
    /// transformers' name(s) for a canonical tensor.
    public static func huggingFace(_ canonical: String) -> TensorSource {
        if canonical == "logit_scale" { return .tensor("logit_scale") }
        if canonical == "text_projection" { return .transposed("text_projection.weight") }
        if canonical == "visual.proj" { return .transposed("visual_projection.weight") }
        let fixed: [String: String] = [
            "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
            "positional_embedding": "text_model.embeddings.position_embedding.weight",
            "ln_final.weight": "text_model.final_layer_norm.weight",
            "ln_final.bias": "text_model.final_layer_norm.bias",
            "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
            "visual.class_embedding": "vision_model.embeddings.class_embedding",
            "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
            "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight",   // sic: transformers' spelling
            "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
            "visual.ln_post.weight": "vision_model.post_layernorm.weight",
            "visual.ln_post.bias": "vision_model.post_layernorm.bias",
        ]
        if let n = fixed[canonical] { return .tensor(n) }
        // Blocks: "[visual.]transformer.resblocks.L.<part>" → "<tower>_model.encoder.layers.L.<part'>".
        let isVision = canonical.hasPrefix("visual.")
        let rest = canonical.dropFirst(isVision ? "visual.transformer.resblocks.".count : "transformer.resblocks.".count)
        guard let dot = rest.firstIndex(of: ".") else { return .tensor(canonical) }
        let layer = rest[..<dot], part = String(rest[rest.index(after: dot)...])
        let p = "\(isVision ? "vision_model" : "text_model").encoder.layers.\(layer)."
        switch part {
        case "attn.in_proj_weight": return .rows(["q", "k", "v"].map { p + "self_attn.\($0)_proj.weight" })
        case "attn.in_proj_bias": return .rows(["q", "k", "v"].map { p + "self_attn.\($0)_proj.bias" })
        default:
            let renames = ["ln_1.": "layer_norm1.", "ln_2.": "layer_norm2.", "attn.out_proj.": "self_attn.out_proj.",
                           "mlp.c_fc.": "mlp.fc1.", "mlp.c_proj.": "mlp.fc2."]
            for (from, to) in renames where part.hasPrefix(from) { return .tensor(p + to + part.dropFirst(from.count)) }
            return .tensor(p + part)
        }
    }

    /// Tensors that checkpoints carry but that are not parameters (buffers, masks): ignored
    /// without a warning.
    public static func isIgnorable(_ name: String) -> Bool {
        name.hasSuffix("position_ids") || name == "attn_mask" || name.hasSuffix(".attn_mask")
            || name == "input_resolution" || name == "context_length" || name == "vocab_size"
    }
}
