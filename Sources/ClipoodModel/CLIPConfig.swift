import ClipoodEngine

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

    /// Problems that would make the towers compute nonsense, as messages.
    public func validationErrors() -> [String] {
        var e: [String] = []
        if vision.width % vision.heads != 0 { e.append("vision width \(vision.width) is not divisible by \(vision.heads) heads") }
        if text.width % text.heads != 0 { e.append("text width \(text.width) is not divisible by \(text.heads) heads") }
        if vision.imageSize % vision.patchSize != 0 { e.append("image size \(vision.imageSize) is not a multiple of patch \(vision.patchSize)") }
        if [vision.width, vision.layers, vision.heads, vision.patchSize, text.width, text.heads, text.contextLength, text.vocabularySize, embedDim].contains(where: { $0 <= 0 }) {
            e.append("every size must be positive")
        }
        return e
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
