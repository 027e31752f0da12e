import ClipoodEngine

/// A CLIP model: one flat parameter buffer (canonical OpenAI names, see `CLIPLayout`) shared
/// by the two towers.
public final class CLIPModel {
    public let config: CLIPConfig
    public let parameters: ParameterStore
    public let vision: VisionTower
    public let text: TextTower
    /// Where the weights came from (for `info model` and for saving in the same naming).
    public var format: CheckpointFormat = .openCLIP
    public var source: String = "(new)"

    public init(config: CLIPConfig) {
        self.config = config
        parameters = ParameterStore(layout: CLIPLayout.layout(config))
        vision = VisionTower(config: config, params: parameters)
        text = TextTower(config: config, params: parameters)
    }

    /// A model for a config that comes from outside (a file, a user's arguments): validated
    /// first (`CLIPConfig.validate`), so that a size the towers cannot use is one error naming
    /// `source` and the field, never an allocation without bound or a model computing nonsense.
    /// `init(config:)` trusts its caller; the checkpoint loaders validate before calling it.
    public convenience init(validating config: CLIPConfig, source: String) throws {
        try config.validate(file: source)
        self.init(config: config)
    }

    public var parameterCount: Int { parameters.count }

    /// exp(logit_scale): the temperature CLIP learned (100 for OpenAI's checkpoints).
    public var logitScale: Float {
        let p = parameters.value(parameters.layout["logit_scale"]!)
        return expf(p[0])
    }

    /// The contiguous parameter range that `trainable` covers (vision tower suffix).
    public func trainableRange(_ trainable: VisionTower.Trainable) -> Range<Int> {
        let L = parameters.layout
        switch trainable {
        case .full: return L.suffixRange(fromFirstNamed: "visual.")!
        case .projection: return L["visual.proj"]!.range
        case .lastBlocks:
            return L.suffixRange(fromFirstNamed: "visual.transformer.resblocks.\(trainable.firstBlock(layers: config.vision.layers)).")!
        }
    }

    /// Random initialisation in the style of CLIP's own (normal weights scaled by width, unit
    /// layer norms, zero biases), for the demo model and tests.
    public func initialiseRandomly(seed: Int) {
        var rng = RNG(seed: seed)
        for s in parameters.layout.slots {
            let p = parameters.value(s)
            let n = s.name
            if n == "logit_scale" { p[0] = logf(1 / 0.07); continue }
            if n.hasSuffix("ln_1.weight") || n.hasSuffix("ln_2.weight") || n.contains("ln_pre.weight") || n.contains("ln_post.weight") || n.contains("ln_final.weight") {
                p.update(repeating: 1, count: s.count); continue
            }
            if n.hasSuffix("bias") { p.update(repeating: 0, count: s.count); continue }
            let fanIn = s.shape.count >= 2 ? s.shape.dropFirst().reduce(1, *) : (s.shape.first ?? 1)
            let std: Float = n.contains("embedding") ? 0.02 : (n == "visual.proj" || n == "text_projection") ? 1 / Float(s.shape[0]).squareRoot() : 1 / Float(fanIn).squareRoot()
            rng.fillNormal(p, count: s.count, std: std)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
