import ClipoodCommands
import ClipoodData
import ClipoodDistributed
import ClipoodDemo
import ClipoodEngine
import ClipoodImage
import ClipoodModel
import ClipoodTokenizer
import ClipoodTrain
import ClipoodIO
import Foundation

// pretrain: a small CLIP from scratch on captioned images of the active dataset (the demo world).

/// The arguments of `pretrain`.
private typealias P = PretrainArguments
enum PretrainArguments {
    static let steps = Argument<Int>.option("steps", 1 ... 10_000_000, default: "1500", help: "optimiser steps")
    static let batch = Argument<Int>.option("batch", 2 ... 4096, default: "64", help: "image–caption pairs per step")
    static let lr = Argument<Double>.option("lr", 0 ... 1, default: "5e-4", help: "peak learning rate")
    static let warmup = Argument<Int>.option("warmup", 0 ... 1_000_000, default: "100", help: "linear warm-up steps")
    static let wd = Argument<Double>.option("wd", 0 ... 10, default: "0.05", help: "AdamW weight decay")
    static let width = Argument<Int>.option("width", 16 ... 2048, default: "128", help: "width of both towers")
    static let layers = Argument<Int>.option("layers", 1 ... 48, default: "4", help: "blocks per tower")
    static let patch = Argument<Int>.option("patch", 2 ... 64, default: "8", help: "vision patch size")
    static let vocab = Argument<Int>.option("vocab", 520 ... 49408, default: "800", help: "BPE vocabulary size")
    static let seed = Shared.seed
    static let output = OptionalArgument<String>.keyword("to", .path(), metavar: "DIR", help: "where to write the model (default: the cache)")
    static let name = OptionalArgument<String>.keyword("as", .name(kind: "model"), metavar: "NAME", help: "workspace name (default demo)")
}

extension Workspace {
    static let pretrainCommand = CommandSpec<Workspace>(
        "pretrain",
        summary: "pretrain a small CLIP from scratch on the active dataset's images and generated captions",
        discussion: """
        Contrastive pretraining (symmetric InfoNCE, learnable logit scale clamped at 100, AdamW with
        linear warm-up and cosine annealing) of a small CLIP on every image of the active dataset,
        each paired with a caption drawn from templates that name the object and, often, its style
        (its domain), its colour and its size (read from the dataset's attributes.tsv, which
        `generate data shapes` writes; without one, captions name class and style only). The object
        is called by its class name, or by the coarse category that attributes.tsv gives for it
        (preset broad: most images). A byte-level BPE vocabulary is learned from the caption templates first. The
        result is written as a Hugging Face-style directory (config.json, model.safetensors,
        vocab.json, merges.txt) and loaded as the active model. checkpoint=on recomputes both
        towers' block activations during backward: the same result with less memory, for about a
        third more compute.
        """,
        arguments: [
            P.steps.spec, P.batch.spec, P.lr.spec, P.warmup.spec, P.wd.spec, P.width.spec, P.layers.spec, P.patch.spec, P.vocab.spec,
            Shared.checkpoint.spec, P.seed.spec, P.output.spec, P.name.spec,
        ],
        examples: ["load data demo", "pretrain steps=1500 to models/demo as demo"],
        run: { ws, args in try ws.pretrain(args) })

    func pretrain(_ args: Arguments) throws {
        let d = try data(args, argument: "data")
        let seed = args[P.seed] ?? settings.seed
        let ds = d.dataset
        let S = ds.samples.isEmpty ? 64 : (try? images.store.image(path: ds.samples[0].path).width) ?? 64
        let patch = args[P.patch]
        guard S % patch == 0 else { throw args.error("patch", "the images are \(S) px, not a multiple of patch \(patch)") }
        // Colour and size words, where the dataset says them (the shapes world writes them).
        let attributes: [String: ShapesWorld.ObjectAttributes]
        do { attributes = try ShapesWorld.readAttributes(root: ds.root) ?? [:] } catch { throw MessageError(String(describing: error)) }
        let colours = Array(Set(attributes.values.compactMap(\.colour))).sorted()
        let names = Array(Set(attributes.values.compactMap(\.name))).sorted()
        // Vocabulary from every caption the templates can make.
        let vocabulary = BPETrainer.train(corpus: Captions.corpus(classes: ds.classes, colours: colours, names: names), vocabularySize: args[P.vocab])
        let width = args[P.width], layers = args[P.layers], heads = max(1, width / 32)
        guard width % heads == 0 else { throw args.error("width", "width=\(width) must split into heads of 32: a multiple of 32, or below 64") }
        let context = 16
        let config = CLIPConfig(vision: .init(width: width, layers: layers, heads: heads, patchSize: patch, imageSize: S),
                                text: .init(width: width, layers: layers, heads: heads, contextLength: context, vocabularySize: vocabulary.tokens.count),
                                embedDim: width / 2)
        let dir = args[P.output].map(expandPath) ?? VocabularyCache.directory.appendingPathComponent("models/pretrained-\(d.name)-seed\(seed)").path
        try wrapped(args, "to") { try leaderWrites { try BPETrainer.write(vocabulary, to: URL(fileURLWithPath: dir)) } }
        let tokenizer = try wrapped(args, "to") {
            try CLIPTokenizer(vocabJSON: URL(fileURLWithPath: dir + "/vocab.json"), merges: URL(fileURLWithPath: dir + "/merges.txt"))
        }
        let checkpoint = args[Shared.checkpoint]
        try MemoryEstimate.pretrainingStep(config, batch: min(args[P.batch], ds.samples.count), checkpoint: checkpoint)
            .require(for: "pretraining (batch \(min(args[P.batch], ds.samples.count)))",
                     hint: "use a smaller batch=, width= or layers=" + (checkpoint ? "" : "; checkpoint=on needs less"))
        let model = try CLIPModel(validating: config, source: "pretrain")
        model.initialiseRandomly(seed: seed)
        let steps = args[P.steps], B = min(args[P.batch], ds.samples.count)
        let trainer = Pretrainer(model: model, steps: steps, learningRate: args[P.lr], warmupSteps: args[P.warmup], weightDecay: args[P.wd], checkpoint: checkpoint)
        // In an MPI job every rank draws the same pairs and encodes its share of them.
        let cluster = Cluster.current, share = cluster.shard(B)
        if cluster.isDistributed {
            guard B >= cluster.size else { throw args.error("batch", "a step of \(B) pairs cannot be shared by \(cluster.size) ranks") }
            trainer.collectives = cluster
        }
        if attributes.isEmpty { say("note: no \(ShapesWorld.attributesFileName) in \(ds.root): captions will name class and style only") }
        say("pretraining a CLIP (width \(width), \(layers)+\(layers) blocks, patch \(patch) @\(S)px, vocabulary \(vocabulary.tokens.count), \(formatCount(model.parameterCount)) parameters) " +
              "on \(ds.samples.count) images of '\(d.name)': \(steps) steps × \(B) pairs")
        var order = RNG(seed: seed).derived("pretrain/order"), augment = RNG(seed: seed).derived("pretrain/augment"), captions = RNG(seed: seed).derived("pretrain/captions")
        var perm = order.permutation(ds.samples.count), cursor = 0
        let pixels = FloatBuffer(count: share.count * 3 * S * S)
        let progress = ProgressLine("pretrain", total: steps, workspace: self)
        Interrupt.clear()
        var last: Float = .nan
        for t in 0 ..< steps {
            if try cluster.anyRank(Interrupt.isRequested) { writeError("pretrain: interrupted after step \(t); writing the model as it is"); progress.finish(); break }
            var idx: [Int] = []
            while idx.count < B {
                if cursor == perm.count { perm = order.permutation(ds.samples.count); cursor = 0 }
                idx.append(perm[cursor]); cursor += 1
            }
            try images.pixels(for: idx, only: share, in: ds, size: S, augment: true, interpolation: .bicubic, rng: &augment, into: pixels.base)
            let texts = idx.map { i -> String in
                let s = ds.samples[i]
                let a = attributes[ds.relativePath(i)]
                return Captions.caption(className: ds.classes[s.label], domain: ds.domains[s.domain], colour: a?.colour, size: a?.size, name: a?.name, rng: &captions)
            }
            let r = try trainer.step(pixels: pixels.base, ids: tokenizer.tokenize(Array(texts[share]), contextLength: context), B: share.count, batch: B)
            last = r.loss
            progress.update(t + 1, detail: String(format: "loss %.4f scale %.1f lr %.2e", r.loss, model.logitScale, r.learningRate))
        }
        try wrapped(args, "to") {
            try leaderWrites {
                try CheckpointWriter.write(model, format: .huggingFace, metadata: ["clipood.pretrained_on": d.name], to: dir + "/model.safetensors")
                try AtomicWrite.write(huggingFaceConfigJSON(config), to: dir + "/config.json")
            }
        }
        say(String(format: "wrote the pretrained model to %@ (last loss %.4f, logit scale %.1f)", dir, last, model.logitScale))
        try executeNested("load model \"\(dir)\" as \(args[P.name] ?? "demo")")
    }

    /// A transformers CLIPConfig for `config` (so PyTorch's CLIPModel.from_pretrained reads the
    /// directory). eos_token_id 2 means "pool at the largest id": the end token is the last id.
    func huggingFaceConfigJSON(_ c: CLIPConfig) throws -> Data {
        let root: [String: Any] = [
            "architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": c.embedDim, "logit_scale_init_value": 2.6592,
            "text_config": ["hidden_size": c.text.width, "num_hidden_layers": c.text.layers, "num_attention_heads": c.text.heads,
                            "intermediate_size": c.text.mlpWidth, "max_position_embeddings": c.text.contextLength, "vocab_size": c.text.vocabularySize,
                            "hidden_act": c.activation.rawValue, "eos_token_id": 2, "layer_norm_eps": 1e-5, "projection_dim": c.embedDim],
            "vision_config": ["hidden_size": c.vision.width, "num_hidden_layers": c.vision.layers, "num_attention_heads": c.vision.heads,
                              "intermediate_size": c.vision.mlpWidth, "image_size": c.vision.imageSize, "patch_size": c.vision.patchSize,
                              "hidden_act": c.activation.rawValue, "layer_norm_eps": 1e-5, "projection_dim": c.embedDim],
        ]
        return try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
    }
}
