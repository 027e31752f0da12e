import ClipoodEngine
import ClipoodIO
import Foundation

/// How the text tower picks the token whose features represent a sequence.
public enum TextPooling: Equatable, Sendable, CustomStringConvertible {
    /// The position of the largest id (OpenAI/open_clip, and transformers configs whose eos id is 2):
    /// the end-of-text token has the largest id in CLIP's vocabulary.
    case argmaxID
    /// The first position holding this id (transformers configs with a real eos id).
    case firstID(Int32)

    public var description: String {
        switch self {
        case .argmaxID: return "argmax of token ids"
        case .firstID(let id): return "first token with id \(id)"
        }
    }
}

/// Where a model's weights came from, so that it can be written back in the same naming.
public enum CheckpointFormat: String, Sendable {
    case huggingFace = "Hugging Face transformers"
    case openCLIP = "open_clip / OpenAI state dict"
}

/// The shape of a CLIP model: both towers and the shared embedding.
public struct CLIPConfig: Equatable, Sendable {
    public struct Vision: Equatable, Sendable {
        public var width: Int
        public var layers: Int
        public var heads: Int
        public var patchSize: Int
        public var imageSize: Int
        public var mlpWidth: Int
        public var grid: Int { imageSize / patchSize }
        public var tokens: Int { grid * grid + 1 }

        public init(width: Int, layers: Int, heads: Int, patchSize: Int, imageSize: Int, mlpWidth: Int? = nil) {
            self.width = width; self.layers = layers; self.heads = heads
            self.patchSize = patchSize; self.imageSize = imageSize; self.mlpWidth = mlpWidth ?? 4 * width
        }
    }

    public struct Text: Equatable, Sendable {
        public var width: Int
        public var layers: Int
        public var heads: Int
        public var contextLength: Int
        public var vocabularySize: Int
        public var mlpWidth: Int

        public init(width: Int, layers: Int, heads: Int, contextLength: Int = 77, vocabularySize: Int = 49408, mlpWidth: Int? = nil) {
            self.width = width; self.layers = layers; self.heads = heads
            self.contextLength = contextLength; self.vocabularySize = vocabularySize; self.mlpWidth = mlpWidth ?? 4 * width
        }
    }

    public var vision: Vision
    public var text: Text
    public var embedDim: Int
    public var activation: Activation
    public var pooling: TextPooling
    public var layerNormEps: Float = 1e-5

    public init(vision: Vision, text: Text, embedDim: Int, activation: Activation = .quickGELU, pooling: TextPooling = .argmaxID) {
        self.vision = vision; self.text = text; self.embedDim = embedDim; self.activation = activation; self.pooling = pooling
    }

    /// OpenAI's ViT-B/16 (the paper's backbone).
    public static let vitB16 = CLIPConfig(vision: Vision(width: 768, layers: 12, heads: 12, patchSize: 16, imageSize: 224),
                                          text: Text(width: 512, layers: 12, heads: 8), embedDim: 512)
    /// OpenAI's ViT-B/32.
    public static let vitB32 = CLIPConfig(vision: Vision(width: 768, layers: 12, heads: 12, patchSize: 32, imageSize: 224),
                                          text: Text(width: 512, layers: 12, heads: 8), embedDim: 512)
    /// OpenAI's ViT-L/14 at 224 px (304 M-parameter image tower).
    public static let vitL14 = CLIPConfig(vision: Vision(width: 1024, layers: 24, heads: 16, patchSize: 14, imageSize: 224),
                                          text: Text(width: 768, layers: 12, heads: 12), embedDim: 768)

    /// Problems that would make the towers compute nonsense or allocate without bound, as
    /// messages naming the fields by `fields` (canonical names unless given). Empty: valid.
    public func validationErrors(fields f: FieldNames = .canonical) -> [String] {
        typealias L = Limits
        var e: [String] = []
        func short(_ name: String) -> String { String(name.split(separator: ".").last ?? Substring(name)) }
        func size(_ v: Int, _ field: String, _ max: Int) {
            if v < 1 || v > max { e.append("\(field) = \(v) must be between 1 and \(max)") }
        }
        size(vision.width, f.visionWidth, L.maxWidth)
        size(vision.layers, f.visionLayers, L.maxLayers)
        size(vision.mlpWidth, f.visionMLP, L.maxMLPWidth)
        size(vision.imageSize, f.imageSize, L.maxImageSize)
        size(text.width, f.textWidth, L.maxWidth)
        size(text.layers, f.textLayers, L.maxLayers)
        size(text.mlpWidth, f.textMLP, L.maxMLPWidth)
        size(text.contextLength, f.contextLength, L.maxContextLength)
        size(text.vocabularySize, f.vocabularySize, L.maxVocabularySize)
        size(embedDim, f.embedDim, L.maxEmbedDim)
        if vision.heads < 1 || vision.heads > vision.width || vision.width % vision.heads != 0 {
            e.append("\(f.visionHeads) = \(vision.heads) must be ≥ 1 and divide \(short(f.visionWidth)) \(vision.width)")
        }
        if text.heads < 1 || text.heads > text.width || text.width % text.heads != 0 {
            e.append("\(f.textHeads) = \(text.heads) must be ≥ 1 and divide \(short(f.textWidth)) \(text.width)")
        }
        if vision.patchSize < 1 || vision.patchSize > L.maxPatchSize || vision.imageSize % vision.patchSize != 0 {
            e.append("\(f.patchSize) = \(vision.patchSize) must be between 1 and \(L.maxPatchSize) and divide \(short(f.imageSize)) \(vision.imageSize)")
        } else if vision.imageSize >= 1, vision.grid > L.maxGrid {
            e.append("\(short(f.imageSize)) \(vision.imageSize) / \(short(f.patchSize)) \(vision.patchSize) = \(vision.grid) patches per side, more than \(L.maxGrid)")
        }
        if !(layerNormEps > 0 && layerNormEps <= L.maxLayerNormEps) {
            e.append("\(f.layerNormEps) = \(layerNormEps) must be a finite number above 0 and at most \(L.maxLayerNormEps)")
        }
        if case .firstID(let id) = pooling, id < 0 || Int(id) >= text.vocabularySize {
            e.append("\(f.eosTokenID) = \(id) must be a token id inside the vocabulary (0 to \(text.vocabularySize - 1))")
        }
        return e
    }

    /// Throws the first validation error as `CheckpointError.badConfig` naming `file` and the field.
    public func validate(file: String, fields: FieldNames = .canonical) throws {
        if let first = validationErrors(fields: fields).first { throw CheckpointError.badConfig(file: file, reason: first) }
    }

    /// Bounds on every number a config may set: far beyond any CLIP (ViT-bigG has width 1664,
    /// 48 layers, MLP 8192), small enough that no product of them overflows and a typo such as
    /// an extra zero cannot ask for terabytes.
    public enum Limits {
        public static let maxWidth = 16_384
        public static let maxLayers = 1_024
        public static let maxMLPWidth = 262_144
        public static let maxPatchSize = 1_024
        public static let maxImageSize = 16_384
        /// Patches per side of the image (so at most 256² + 1 vision tokens).
        public static let maxGrid = 256
        public static let maxContextLength = 8_192
        public static let maxVocabularySize = 1 << 20
        public static let maxEmbedDim = 16_384
        public static let maxLayerNormEps: Float = 1
        /// logit_scale is log(inverse temperature): 0 ... log(10⁶), i.e. exp(logit_scale) from 1 to
        /// 10⁶ (the range `train scale=` accepts at its top; CLIP itself clamps at 100).
        public static let minLogitScale: Float = 0
        public static let maxLogitScale: Float = logf(1e6)
    }

    /// What a config's numbers are called in the file they came from, for error messages.
    public struct FieldNames: Sendable {
        public var visionWidth, visionLayers, visionHeads, patchSize, imageSize, visionMLP: String
        public var textWidth, textLayers, textHeads, contextLength, vocabularySize, textMLP: String
        public var embedDim, layerNormEps, eosTokenID: String

        public static let canonical = FieldNames(
            visionWidth: "vision.width", visionLayers: "vision.layers", visionHeads: "vision.heads", patchSize: "vision.patchSize",
            imageSize: "vision.imageSize", visionMLP: "vision.mlpWidth", textWidth: "text.width", textLayers: "text.layers",
            textHeads: "text.heads", contextLength: "text.contextLength", vocabularySize: "text.vocabularySize", textMLP: "text.mlpWidth",
            embedDim: "embedDim", layerNormEps: "layerNormEps", eosTokenID: "eos token id")
        /// transformers' `config.json`.
        public static let huggingFace = FieldNames(
            visionWidth: "vision_config.hidden_size", visionLayers: "vision_config.num_hidden_layers",
            visionHeads: "vision_config.num_attention_heads", patchSize: "vision_config.patch_size", imageSize: "vision_config.image_size",
            visionMLP: "vision_config.intermediate_size", textWidth: "text_config.hidden_size", textLayers: "text_config.num_hidden_layers",
            textHeads: "text_config.num_attention_heads", contextLength: "text_config.max_position_embeddings",
            vocabularySize: "text_config.vocab_size", textMLP: "text_config.intermediate_size", embedDim: "projection_dim",
            layerNormEps: "vision_config.layer_norm_eps", eosTokenID: "text_config.eos_token_id")
        /// open_clip's model config (heads and MLP widths are derived from head_width and mlp_ratio).
        public static let openCLIP = FieldNames(
            visionWidth: "vision_cfg.width", visionLayers: "vision_cfg.layers", visionHeads: "vision_cfg.width / vision_cfg.head_width",
            patchSize: "vision_cfg.patch_size", imageSize: "vision_cfg.image_size", visionMLP: "vision_cfg.width × vision_cfg.mlp_ratio",
            textWidth: "text_cfg.width", textLayers: "text_cfg.layers", textHeads: "text_cfg.heads", contextLength: "text_cfg.context_length",
            vocabularySize: "text_cfg.vocab_size", textMLP: "text_cfg.width × text_cfg.mlp_ratio", embedDim: "embed_dim",
            layerNormEps: "layer norm eps", eosTokenID: "text_cfg.eos_id")
        /// A config inferred from tensor shapes, as OpenAI's build_model does.
        public static let inferred = FieldNames(
            visionWidth: "visual.conv1.weight.shape[0]", visionLayers: "the number of visual.transformer.resblocks",
            visionHeads: "vision heads (width / 64)", patchSize: "visual.conv1.weight.shape[3]",
            imageSize: "the image size (patch × √(visual.positional_embedding.shape[0] − 1))",
            visionMLP: "visual.transformer.resblocks.0.mlp.c_fc.weight.shape[0]", textWidth: "ln_final.weight.shape[0]",
            textLayers: "the number of transformer.resblocks", textHeads: "text heads (width / 64)",
            contextLength: "positional_embedding.shape[0]", vocabularySize: "token_embedding.weight.shape[0]",
            textMLP: "transformer.resblocks.0.mlp.c_fc.weight.shape[0]", embedDim: "text_projection.shape[1]",
            layerNormEps: "layer norm eps", eosTokenID: "eos token id")
    }

    /// The number of parameters the config asks for, with overflow-checked arithmetic; nil for
    /// a config that does not validate (a valid one never overflows).
    public var parameterCount: Int? {
        guard validationErrors().isEmpty else { return nil }
        var total = 0
        for (_, shape) in CLIPLayout.tensors(self) {
            guard let n = Checked.product(shape), let t = Checked.add(total, n) else { return nil }
            total = t
        }
        return total
    }
}

/// Canonical parameter names and shapes: exactly an OpenAI/open_clip state dict, laid out as
/// logit_scale, the text tower, then the vision tower in forward order — so the vision tower's
/// last blocks, ln_post and proj (what `tune=lastK` trains) are the END of the buffer and one
/// contiguous range.
public enum CLIPLayout {
    public static func blockTensors(prefix: String, width W: Int, mlp H: Int) -> [(String, [Int])] {
        [("\(prefix).ln_1.weight", [W]), ("\(prefix).ln_1.bias", [W]),
         ("\(prefix).attn.in_proj_weight", [3 * W, W]), ("\(prefix).attn.in_proj_bias", [3 * W]),
         ("\(prefix).attn.out_proj.weight", [W, W]), ("\(prefix).attn.out_proj.bias", [W]),
         ("\(prefix).ln_2.weight", [W]), ("\(prefix).ln_2.bias", [W]),
         ("\(prefix).mlp.c_fc.weight", [H, W]), ("\(prefix).mlp.c_fc.bias", [H]),
         ("\(prefix).mlp.c_proj.weight", [W, H]), ("\(prefix).mlp.c_proj.bias", [W])]
    }

    public static func tensors(_ c: CLIPConfig) -> [(String, [Int])] {
        let v = c.vision, t = c.text
        var out: [(String, [Int])] = [("logit_scale", [])]
        out += [("token_embedding.weight", [t.vocabularySize, t.width]), ("positional_embedding", [t.contextLength, t.width])]
        for l in 0 ..< t.layers { out += blockTensors(prefix: "transformer.resblocks.\(l)", width: t.width, mlp: t.mlpWidth) }
        out += [("ln_final.weight", [t.width]), ("ln_final.bias", [t.width]), ("text_projection", [t.width, c.embedDim])]
        out += [("visual.conv1.weight", [v.width, 3, v.patchSize, v.patchSize]), ("visual.class_embedding", [v.width]),
                ("visual.positional_embedding", [v.tokens, v.width]), ("visual.ln_pre.weight", [v.width]), ("visual.ln_pre.bias", [v.width])]
        for l in 0 ..< v.layers { out += blockTensors(prefix: "visual.transformer.resblocks.\(l)", width: v.width, mlp: v.mlpWidth) }
        out += [("visual.ln_post.weight", [v.width]), ("visual.ln_post.bias", [v.width]), ("visual.proj", [v.width, c.embedDim])]
        return out
    }

    public static func layout(_ c: CLIPConfig) -> BufferLayout { BufferLayout(tensors(c)) }
}
