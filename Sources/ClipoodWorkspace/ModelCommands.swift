import ClipoodCommands
import ClipoodDistributed
import ClipoodEngine
import ClipoodExperiment
import ClipoodImage
import ClipoodModel
import ClipoodTokenizer
import Foundation

// load model, info model, tokenize, preprocess images, embed images / text.

/// The arguments of `load model`, `tokenize`, `preprocess` and `embed` (each subcommand
/// declares its own `to` for its file types; they are read alike).
private typealias M = ModelArguments
enum ModelArguments {
    static let source = Argument<String>.positional("source", .path(extensions: ["safetensors"], words: ["demo"]), metavar: "demo|dir|file.safetensors",
                                                    help: "checkpoint directory or file, or demo (the built-in model)")
    static let name = OptionalArgument<String>.keyword("as", .name(kind: "model"), metavar: "NAME", help: "name in the workspace (default: from the file name)")
    static let size = OptionalArgument<Int>.option("size", 1 ... 4096, help: "output size S (default: the active model's image size, else 224)")
    static let raw = Argument<Bool>.flag("raw", help: "unnormalised projected features (default: L2-normalised)")
    static let batch = Argument<Int>.option("batch", 1 ... 4096, default: "32", help: "images per forward pass")
    static let output = OptionalArgument<String>.keyword("to", .path(extensions: ["npy"]), metavar: "FILE.npy", help: "output file")
    static let pixelsFile = Argument<String>.requiredKeyword("to", .path(extensions: ["npy"]), metavar: "FILE.npy", help: "output file")
}

extension Workspace {
    static let loadCommand = CommandSpec<Workspace>(
        "load",
        summary: "load a model, a dataset or a saved run into the workspace (demo: the built-in model and world)",
        subcommands: [
            loadDataCommand,
            loadRunCommand,
            CommandSpec(
                "model",
                summary: "load a CLIP checkpoint: a Hugging Face directory or an open_clip/OpenAI .safetensors",
                discussion: """
                A Hugging Face CLIP directory holds config.json and model.safetensors (and vocab.json,
                merges.txt). An open_clip/OpenAI state dict saved as .safetensors is read with its
                open_clip config beside it (<name>.json or open_clip_config.json), or with the
                architecture inferred from the tensor shapes as OpenAI's build_model does.
                F32, F16 and BF16 weights load as F32. The loaded model becomes the active one.
                """,
                arguments: [
                    M.source.spec, M.name.spec,
                ],
                examples: ["load model demo", "load model ~/models/clip-vit-base-patch16", "load model ViT-B-16.safetensors as b16"],
                run: { ws, args in try ws.loadModel(args) }),
        ])

    static let infoCommand = CommandSpec<Workspace>(
        "info",
        summary: "describe something in the workspace",
        subcommands: [
            infoDataCommand,
            infoRunCommand,
            CommandSpec("model", summary: "architecture, parameter count, source and format of a model",
                        arguments: [.positional("name", .name(kind: "model"), optional: true, help: "a loaded model (default: the active one)")],
                        run: { ws, args in try ws.infoModel(args) }),
        ])

    static let tokenizeCommand = CommandSpec<Workspace>(
        "tokenize",
        summary: "CLIP token ids of texts (int32, N×77)",
        discussion: "Uses the active model's tokenizer: its vocab.json + merges.txt, or OpenAI's vocabulary from the cache (scripts/fetch_vocab).",
        arguments: [
            .positional("texts", .string, variadic: true, metavar: "text", help: "texts to tokenize (quote each)"),
            .keyword("to", .path(extensions: ["npy"]), metavar: "FILE.npy", help: "write the ids as an int32 N×77 .npy instead of printing them"),
        ],
        examples: [#"tokenize "a photo of a dog." "a sketch of a cat.""#, #"tokenize "a photo of a dog." to ids.npy"#],
        run: { ws, args in try ws.tokenize(args) })

    static let preprocessCommand = CommandSpec<Workspace>(
        "preprocess",
        summary: "CLIP's evaluation preprocessing of images",
        subcommands: [
            CommandSpec("images",
                        summary: "resize (shorter side), centre-crop and normalise images into an N×3×S×S float32 .npy",
                        arguments: [
                            .positional("paths", .path(extensions: ["jpg", "jpeg", "png"]), variadic: true, metavar: "image", help: "JPEG or PNG files"),
                            M.size.spec, Shared.interpolation.help("bicubic (CLIP's own) or bilinear (the official CLIPood transforms)").spec, M.pixelsFile.spec,
                        ],
                        examples: ["preprocess images cat.jpg dog.png to pixels.npy"],
                        run: { ws, args in try ws.preprocessImages(args) }),
        ])

    static let embedCommand = CommandSpec<Workspace>(
        "embed",
        summary: "image or text features of the active model",
        subcommands: [
            CommandSpec("images",
                        summary: "image features (N×D float32): from image files, or from an N×3×S×S .npy of normalised pixels",
                        arguments: [
                            .positional("inputs", .path(extensions: ["jpg", "jpeg", "png", "npy"]), variadic: true, metavar: "image|pixels.npy", help: "images or one pixels .npy"),
                            M.raw.spec, Shared.interpolation.help("resampling for image files").spec, M.batch.spec, M.output.spec,
                        ],
                        examples: ["embed images cat.jpg dog.png to feats.npy", "embed images pixels.npy raw to feats.npy"],
                        run: { ws, args in try ws.embedImages(args) }),
            CommandSpec("text",
                        summary: "text features (N×D float32) of quoted texts",
                        arguments: [
                            .positional("texts", .string, variadic: true, metavar: "text", help: "texts (quote each)"),
                            M.raw.spec, M.output.spec,
                        ],
                        examples: [#"embed text "a photo of a dog." "a photo of a cat." to text.npy"#],
                        run: { ws, args in try ws.embedText(args) }),
        ])

    // MARK: Implementations

    func loadModel(_ args: Arguments) throws {
        var source = expandPath(args[M.source])
        if source == "demo" && !FileManager.default.fileExists(atPath: "demo") {
            // The built-in demo model, shipped with clipood (Sessions/pretrain-demo.cood makes it).
            guard let demo = Bundle.module.url(forResource: "demo", withExtension: nil) else {
                throw args.error("source", "the built-in demo model is missing from this build")
            }
            source = demo.path
        }
        let loaded: LoadedModel
        do { loaded = try CheckpointLoader.load(path: source) } catch {
            throw args.error("source", String(describing: error))
        }
        var name = args[M.name] ?? URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
        if name.isEmpty { name = "model" }
        models[name] = ModelEntry(name: name, loaded: loaded)
        activeModelName = name
        let c = loaded.model.config
        say("loaded model '\(name)': ViT \(c.vision.width)w×\(c.vision.layers) patch \(c.vision.patchSize) @\(c.vision.imageSize)px, text \(c.text.width)w×\(c.text.layers), " +
              "\(formatCount(loaded.model.parameterCount)) parameters (\(loaded.model.format.rawValue), \(loaded.dtypes.joined(separator: "/")))")
        if !loaded.unexpectedTensors.isEmpty {
            let shown = loaded.unexpectedTensors.prefix(10).joined(separator: ", ")
            writeError("warning: \(loaded.unexpectedTensors.count) tensor(s) in '\(loaded.weightsFile)' are not used: \(shown)\(loaded.unexpectedTensors.count > 10 ? ", …" : "")")
        }
    }

    /// The model named in `name`, or the active one; a clear error otherwise.
    func model(_ args: Arguments, argument: String = "name") throws -> ModelEntry {
        try namedOrCurrent(args, argument: argument, in: models, current: activeModelName, noun: "model",
                           listed: "loaded: " + models.keys.sorted().joined(separator: ", "), none: "no model loaded", create: "load one with: load model PATH")
    }

    func infoModel(_ args: Arguments) throws {
        let e = try model(args)
        let m = e.model, c = m.config
        let rows: [[String]] = [
            ["name", e.name + (e.name == activeModelName ? " (active)" : "")],
            ["source", m.source],
            ["format", "\(m.format.rawValue), weights \(e.loaded.dtypes.joined(separator: "/")) → F32"],
            ["parameters", "\(formatCount(m.parameterCount)) (\(m.parameterCount))"],
            ["vision", "ViT width \(c.vision.width), \(c.vision.layers) layers, \(c.vision.heads) heads, patch \(c.vision.patchSize), image \(c.vision.imageSize), MLP \(c.vision.mlpWidth)"],
            ["text", "width \(c.text.width), \(c.text.layers) layers, \(c.text.heads) heads, context \(c.text.contextLength), vocabulary \(c.text.vocabularySize), MLP \(c.text.mlpWidth)"],
            ["embedding", "\(c.embedDim)"],
            ["activation", c.activation == .quickGELU ? "QuickGELU" : "GELU"],
            ["text pooling", c.pooling.description],
            ["logit scale", String(format: "%.2f (exp of %.4f)", m.logitScale, log(Double(m.logitScale)))],
        ]
        write(rows.map { $0[0].padding(toLength: 13, withPad: " ", startingAt: 0) + $0[1] }.joined(separator: "\n"))
        if !e.loaded.unexpectedTensors.isEmpty { write("unused tensors: " + e.loaded.unexpectedTensors.joined(separator: ", ")) }
    }

    func tokenize(_ args: Arguments) throws {
        let texts = args.strings("texts")
        guard !texts.isEmpty else { throw args.error("tokenize needs at least one quoted text") }
        let tokenizer: CLIPTokenizer
        if let e = try? model(args, argument: "model") { tokenizer = try e.tokenizer() } else { tokenizer = try wrapped { try CLIPTokenizer.cached() } }
        let ctx = (try? model(args, argument: "model"))?.model.config.text.contextLength ?? tokenizer.contextLength
        let ids = tokenizer.tokenize(texts, contextLength: ctx)
        if let out = args[M.output] {
            try writingTo(args) { try NPY.write(ints: ids, shape: [texts.count, ctx], to: expandPath(out)) }
            say("wrote \(texts.count)×\(ctx) token ids to \(out)")
        } else {
            for (i, t) in texts.enumerated() {
                let row = ids[(i * ctx) ..< ((i + 1) * ctx)]
                let used = row.prefix { $0 != 0 }
                write("\(t.debugDescription): \(used.map(String.init).joined(separator: " "))" + (used.count < ctx ? "  (+\(ctx - used.count) padding)" : ""))
            }
        }
    }

    /// Decodes and preprocesses image files into (N, 3, S, S) floats; errors point at the file.
    func pixels(from args: Arguments, argument: String, size: Int, interpolation: Interpolation) throws -> FloatBuffer {
        let paths = args.strings(argument), tokens = args.tokens(argument)
        let per = 3 * size * size
        let out = FloatBuffer(count: paths.count * per)
        for (i, p) in paths.enumerated() {
            let image: RGBImage
            do { image = try ImageDecoder.decode(path: expandPath(p)) } catch {
                throw CommandError(String(describing: error), at: tokens[i])
            }
            Preprocess.evalTransform(image, size: size, interpolation, into: out.base + i * per)
        }
        return out
    }

    func preprocessImages(_ args: Arguments) throws {
        let out = args[M.pixelsFile]
        let size = args[M.size] ?? activeModel?.model.config.vision.imageSize ?? 224
        let interp = args[Shared.interpolation]
        let px = try pixels(from: args, argument: "paths", size: size, interpolation: interp)
        let n = args.strings("paths").count
        try writingTo(args) { try NPY.write(floats: px.base, shape: [n, 3, size, size], to: expandPath(out)) }
        say("wrote \(n)×3×\(size)×\(size) pixels to \(out)")
    }

    func embedImages(_ args: Arguments) throws {
        let e = try model(args, argument: "model")
        let m = e.model, S = m.config.vision.imageSize, D = m.config.embedDim
        let inputs = args.strings("inputs")
        let px: FloatBuffer
        let n: Int
        if inputs.count == 1, inputs[0].hasSuffix(".npy") {
            let arr: NPY.Array
            do { arr = try NPY.read(expandPath(inputs[0])) } catch { throw args.error("inputs", String(describing: error)) }
            guard arr.element == .float32, arr.shape.count == 4, arr.shape[1] == 3, arr.shape[2] == S, arr.shape[3] == S else {
                throw args.error("inputs", "'\(inputs[0])' has shape \(arr.shape) (\(arr.element)); model '\(e.name)' needs N×3×\(S)×\(S) float32 normalised pixels")
            }
            n = arr.shape[0]
            px = FloatBuffer(arr.floats)
        } else {
            if let npy = inputs.firstIndex(where: { $0.hasSuffix(".npy") }) {
                throw CommandError("a pixels .npy must be the only input", at: args.tokens("inputs")[npy])
            }
            n = inputs.count
            px = try pixels(from: args, argument: "inputs", size: S, interpolation: args[Shared.interpolation])
        }
        let batch = args[M.batch]
        let features = FloatBuffer(count: n * D)
        // In an MPI job the batches are dealt out to the ranks and the rows summed (as evaluation does).
        let cluster = Cluster.current
        var start = 0, number = 0
        while start < n {
            let b = min(batch, n - start)
            if cluster.owns(number) {
                let f = m.vision.forward(pixels: px.base + start * 3 * S * S, B: b)
                (features.base + start * D).update(from: f, count: b * D)
            }
            start += b
            number += 1
        }
        try wrapped { try cluster.allreduceSum(features.base, count: features.count) }
        try finishEmbedding(features, n: n, D: D, args: args, what: "image")
    }

    func embedText(_ args: Arguments) throws {
        let e = try model(args, argument: "model")
        let texts = args.strings("texts")
        let ids = e.model.config.text.contextLength
        let tokens = try e.tokenizer().tokenize(texts, contextLength: ids)
        let D = e.model.config.embedDim
        let f = e.model.text.forward(ids: tokens, B: texts.count)
        let features = FloatBuffer(count: texts.count * D)
        features.base.update(from: f, count: texts.count * D)
        try finishEmbedding(features, n: texts.count, D: D, args: args, what: "text")
    }

    func finishEmbedding(_ features: FloatBuffer, n: Int, D: Int, args: Arguments, what: String) throws {
        if !args[M.raw] {
            let norms = FloatBuffer(count: n)
            L2Normalize.forward(out: features.base, norms: norms.base, inp: features.base, N: n, C: D)
        }
        let kind = args[M.raw] ? "raw" : "L2-normalised"
        if let out = args[M.output] {
            try writingTo(args) { try NPY.write(floats: features.base, shape: [n, D], to: expandPath(out)) }
            say("wrote \(n)×\(D) \(kind) \(what) features to \(out)")
        } else {
            for i in 0 ..< n {
                let row = (0 ..< min(D, 6)).map { String(format: "%.4f", features.base[i * D + $0]) }.joined(separator: " ")
                write("[\(i)] \(row)\(D > 6 ? " …" : "")  (\(D) \(kind) values)")
            }
        }
    }

    var activeModel: ModelEntry? { activeModelName.flatMap { models[$0] } }

    /// Runs `body`, turning any error into one located at argument `name`.
    func wrapped<T>(_ args: Arguments, _ name: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as CommandError { throw e } catch { throw args.error(name, String(describing: error)) }
    }

    func wrapped<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as CommandError { throw e } catch { throw CommandError(String(describing: error)) }
    }
}

/// "149.6 M", "1.2 k".
func formatCount(_ n: Int) -> String {
    if n >= 1_000_000 { return String(format: "%.1f M", Double(n) / 1e6) }
    if n >= 1_000 { return String(format: "%.1f k", Double(n) / 1e3) }
    return String(n)
}

/// `~/x` → the home directory's x.
func expandPath(_ p: String) -> String {
    p.hasPrefix("~/") ? FileManager.default.homeDirectoryForCurrentUser.path + String(p.dropFirst(1)) : p
}
