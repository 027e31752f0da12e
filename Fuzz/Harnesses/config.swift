import ClipoodModel
import Foundation

// The Hugging Face config.json reader and the open_clip model config reader, on the same JSON.
// Accepted configurations: every size positive, heads divide widths, patches divide image sizes,
// eps finite and positive, the eos id inside the vocabulary, the parameter count representable.
enum Harness {
    /// The open_clip reader takes the weights file it belongs to; an empty one is enough here.
    static let weights: SafeTensorsFile = {
        let path = Fuzz.file(try! SafeTensorsWriter().serialized(), name: "empty.safetensors")
        return try! SafeTensorsFile(path: path)
    }()

    static func run(_ input: Data) {
        // Today's API reads a path; a parse from JSON Data would take `input` directly.
        let path = Fuzz.file(input, name: "config.json")
        do { ModelChecks.check(try CheckpointLoader.huggingFaceConfig(path), "Hugging Face config") } catch { Fuzz.checkRefusal(error) }
        do { ModelChecks.check(try CheckpointLoader.openCLIPConfig(path, file: weights), "open_clip config") } catch { Fuzz.checkRefusal(error) }
    }

    static func seeds() -> [String: Data] {
        let hf = """
        {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 512,
         "text_config": {"hidden_size": 512, "intermediate_size": 2048, "num_attention_heads": 8, "num_hidden_layers": 12,
                         "max_position_embeddings": 77, "vocab_size": 49408, "eos_token_id": 49407, "hidden_act": "quick_gelu"},
         "vision_config": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12,
                           "patch_size": 16, "image_size": 224, "layer_norm_eps": 1e-05, "hidden_act": "quick_gelu"}}
        """
        let openCLIP = """
        {"embed_dim": 512, "quick_gelu": true,
         "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32, "head_width": 64, "mlp_ratio": 4.0},
         "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12}}
        """
        let hub = """
        {"model_cfg": {"embed_dim": 8, "vision_cfg": {"image_size": 32, "layers": 1, "width": 16, "patch_size": 8, "head_width": 8},
                       "text_cfg": {"context_length": 16, "vocab_size": 64, "width": 16, "heads": 2, "layers": 1, "pool_type": "argmax"}},
         "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073]}}
        """
        let defaults = #"{"vision_config": {}, "text_config": {"eos_token_id": 2}}"#
        return ["hf-vit-b16.json": Data(hf.utf8), "open-clip-vit-b32.json": Data(openCLIP.utf8),
                "open-clip-hub.json": Data(hub.utf8), "hf-defaults.json": Data(defaults.utf8)]
    }
}
