import ClipoodEngine
import ClipoodIO
import Foundation

/// Everything that can go wrong loading a model; each names the file and, where there is one, the tensor.
public enum CheckpointError: Error, CustomStringConvertible {
    case notFound(String)
    case unrecognised(String, String)
    case badConfig(file: String, reason: String)
    case missingTensors(file: String, names: [String], total: Int)
    case wrongShape(file: String, tensor: String, expected: [Int], actual: [Int])
    case notFinite(file: String, tensor: String)
    /// A tensor whose values are finite but unusable (a logit scale out of range).
    case badValue(file: String, tensor: String, reason: String)
    /// The config asks for more parameters than the weight file holds.
    /// `detail`: the first tensor that does not fit, if known.
    case tooManyParameters(config: String, weights: String, needed: Int, held: Int, detail: String?)

    public var description: String {
        switch self {
        case .notFound(let p): return "no model at '\(p)': expected a Hugging Face CLIP directory (config.json + model.safetensors) or a .safetensors state dict"
        case .unrecognised(let p, let why): return "'\(p)' is not a CLIP checkpoint clipood can read: \(why)"
        case .badConfig(let f, let r): return "'\(f)': \(r)"
        case .missingTensors(let f, let names, let total):
            return "'\(f)' lacks \(total) tensor\(total == 1 ? "" : "s") the model needs: " + names.joined(separator: ", ") + (total > names.count ? ", …" : "")
        case .wrongShape(let f, let t, let e, let a): return "'\(f)': tensor '\(t)' has shape \(a), expected \(e)"
        case .notFinite(let f, let t): return "'\(f)': tensor '\(t)' contains NaN or infinity"
        case .badValue(let f, let t, let r): return "'\(f)': tensor '\(t)' \(r)"
        case .tooManyParameters(let c, let w, let n, let h, let d):
            return "'\(c)': the config asks for \(n) parameters but '\(w)' holds only \(h) values" + (d.map { " (\($0))" } ?? "")
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
        try checkFits(config, configFile: configPath, weights: file, naming: CheckpointNames.huggingFace)
        let model = CLIPModel(config: config)
        model.format = .huggingFace
        model.source = URL(fileURLWithPath: weightsPath).deletingLastPathComponent().path
        let used = try fill(model.parameters.values, from: file, naming: CheckpointNames.huggingFace)
        return LoadedModel(model: model, unexpectedTensors: unexpected(file, used), weightsFile: weightsPath, dtypes: dtypes(file))
    }

    /// A transformers `config.json` (see `CLIPConfig.fromHuggingFace(json:file:)`).
    public static func huggingFaceConfig(_ path: String) throws -> CLIPConfig {
        try CLIPConfig.fromHuggingFace(json: readConfigFile(path), file: path)
    }

    // MARK: open_clip / OpenAI

    public static func loadOpenCLIP(weightsPath: String) throws -> LoadedModel {
        let file = try SafeTensorsFile(path: weightsPath)
        let url = URL(fileURLWithPath: weightsPath)
        let stemJSON = url.deletingPathExtension().appendingPathExtension("json").path
        let hubJSON = url.deletingLastPathComponent().appendingPathComponent("open_clip_config.json").path
        let config: CLIPConfig
        let configFile: String
        if FileManager.default.fileExists(atPath: stemJSON) {
            (config, configFile) = (try openCLIPConfig(stemJSON, file: file), stemJSON)
        } else if FileManager.default.fileExists(atPath: hubJSON) {
            (config, configFile) = (try openCLIPConfig(hubJSON, file: file), hubJSON)
        } else {
            (config, configFile) = (try inferConfig(file), weightsPath)
        }
        try checkFits(config, configFile: configFile, weights: file, naming: { .tensor($0) })
        let model = CLIPModel(config: config)
        model.format = .openCLIP
        model.source = weightsPath
        let used = try fill(model.parameters.values, from: file, naming: { .tensor($0) })
        return LoadedModel(model: model, unexpectedTensors: unexpected(file, used), weightsFile: weightsPath, dtypes: dtypes(file))
    }

    /// An open_clip model config (the JSON of `open_clip.create_model`, or a hub
    /// `open_clip_config.json` whose "model_cfg" holds it); see `CLIPConfig.fromOpenCLIP(json:file:)`.
    public static func openCLIPConfig(_ path: String, file: SafeTensorsFile) throws -> CLIPConfig {
        try CLIPConfig.fromOpenCLIP(json: readConfigFile(path), file: path)
    }

    /// The architecture from tensor shapes, as OpenAI's `clip.model.build_model` infers it
    /// (heads = width / 64 in both towers; QuickGELU; argmax pooling). Every shape used is
    /// checked for its rank first, and the result is validated like a config file.
    public static func inferConfig(_ file: SafeTensorsFile) throws -> CLIPConfig {
        func shape(_ n: String, rank: Int) throws -> [Int] {
            guard let e = file.entries[n] else {
                throw CheckpointError.unrecognised(file.path, "no '\(n)' tensor, so the architecture cannot be inferred (and there is no <name>.json config beside it)")
            }
            guard e.shape.count == rank else {
                throw CheckpointError.wrongShape(file: file.path, tensor: n, expected: [Int](repeating: -1, count: rank), actual: e.shape)
            }
            return e.shape
        }
        let conv = try shape("visual.conv1.weight", rank: 4)
        guard conv[1] == 3, conv[2] == conv[3] else {
            throw CheckpointError.wrongShape(file: file.path, tensor: "visual.conv1.weight", expected: [conv[0], 3, conv[3], conv[3]], actual: conv)
        }
        let vWidth = conv[0], patch = conv[3]
        func countBlocks(_ prefix: String) -> Int {
            Set(file.entries.keys.compactMap { k -> Int? in
                guard k.hasPrefix(prefix) else { return nil }
                return Int(k.dropFirst(prefix.count).prefix { $0 != "." })
            }).count
        }
        let vLayers = countBlocks("visual.transformer.resblocks.")
        let positions = try shape("visual.positional_embedding", rank: 2)[0]
        let limits = CLIPConfig.Limits.self
        // positions = grid² + 1, with the grid bounded before squaring.
        var grid = 0
        while grid <= limits.maxGrid, grid * grid + 1 < positions { grid += 1 }
        guard positions >= 2, grid * grid + 1 == positions else {
            throw CheckpointError.badConfig(file: file.path, reason: "visual.positional_embedding.shape[0] = \(positions) must be a square number of patches (at most \(limits.maxGrid)²) plus 1")
        }
        let tWidth = try shape("ln_final.weight", rank: 1)[0]
        let embed = try shape("text_projection", rank: 2)[1]
        let context = try shape("positional_embedding", rank: 2)[0], vocab = try shape("token_embedding.weight", rank: 2)[0]
        let vMLP = try shape("visual.transformer.resblocks.0.mlp.c_fc.weight", rank: 2)[0]
        let tMLP = try shape("transformer.resblocks.0.mlp.c_fc.weight", rank: 2)[0]
        guard let imageSize = Checked.multiply(patch, grid) else {
            throw CheckpointError.badConfig(file: file.path, reason: "visual.conv1.weight.shape[3] = \(patch) must be between 1 and \(limits.maxPatchSize)")
        }
        let config = CLIPConfig(vision: .init(width: vWidth, layers: vLayers, heads: max(1, vWidth / 64), patchSize: patch, imageSize: imageSize, mlpWidth: vMLP),
                                text: .init(width: tWidth, layers: countBlocks("transformer.resblocks."), heads: max(1, tWidth / 64),
                                            contextLength: context, vocabularySize: vocab, mlpWidth: tMLP),
                                embedDim: embed, activation: .quickGELU, pooling: .argmaxID)
        try config.validate(file: file.path, fields: .inferred)
        return config
    }

    // MARK: Checking a config against its weights

    /// Checks, before anything is allocated, that `weights` can supply every parameter a
    /// (validated) config asks for: the parameter count (overflow-checked) is at most what the
    /// file holds, every tensor is there with the expected shape, and the logit scale is usable.
    public static func checkFits(_ config: CLIPConfig, configFile: String, weights: SafeTensorsFile, naming: (String) -> TensorSource) throws {
        try config.validate(file: configFile)
        guard let needed = config.parameterCount else {
            throw CheckpointError.badConfig(file: configFile, reason: "the config's parameter count overflows")
        }
        let held = weights.totalElements
        do { try checkShapes(CLIPLayout.tensors(config), in: weights, naming: naming) } catch let e as CheckpointError {
            // A separate config that asks for more than the file holds is the config's fault: say so,
            // with the first tensor that does not fit. (An inferred config's problems are the file's.)
            guard configFile != weights.path, needed > held else { throw e }
            let detail: String
            switch e {
            case .wrongShape(_, let t, let expected, let actual): detail = "tensor '\(t)' has shape \(actual), the config needs \(expected)"
            case .missingTensors(_, let names, let total): detail = "it lacks \(total) tensor\(total == 1 ? "" : "s"): " + names.joined(separator: ", ") + (total > names.count ? ", …" : "")
            default: detail = e.description
            }
            throw CheckpointError.tooManyParameters(config: configFile, weights: weights.path, needed: needed, held: held, detail: detail)
        }
        guard needed <= held else {
            throw CheckpointError.tooManyParameters(config: configFile, weights: weights.path, needed: needed, held: held, detail: nil)
        }
        let scaleName = naming("logit_scale").names[0]
        let scale = try weights.floats(scaleName)[0]
        let limits = CLIPConfig.Limits.self
        guard scale.isFinite, scale >= limits.minLogitScale, scale <= limits.maxLogitScale else {
            throw CheckpointError.badValue(file: weights.path, tensor: scaleName,
                                           reason: "= \(scale) must be a finite number from \(limits.minLogitScale) to \(limits.maxLogitScale) (exp of it, the inverse temperature, from 1 to 10⁶)")
        }
    }

    /// Every tensor in `tensors` (canonical names and shapes) is in `file` through `naming`
    /// with the shape it needs; throws the missing ones (listed) or the first wrong shape.
    static func checkShapes(_ tensors: [(String, [Int])], in file: SafeTensorsFile, naming: (String) -> TensorSource, prefix: String = "") throws {
        var missing: [String] = []
        for (name, shape) in tensors {
            let source = naming(name)
            let names = source.names.map { prefix + $0 }
            let absent = names.filter { file.entries[$0] == nil }
            if !absent.isEmpty { missing += absent; continue }
            switch source {
            case .tensor:
                let e = file.entries[names[0]]!
                // A 0-d scalar (logit_scale) may be stored as [] or [1].
                let count = Checked.product(shape)
                guard e.shape == shape || (e.count == 1 && count == 1) else {
                    throw CheckpointError.wrongShape(file: file.path, tensor: names[0], expected: shape, actual: e.shape)
                }
            case .transposed:
                let e = file.entries[names[0]]!
                guard shape.count == 2, e.shape == [shape[1], shape[0]] else {
                    throw CheckpointError.wrongShape(file: file.path, tensor: names[0], expected: shape.reversed(), actual: e.shape)
                }
            case .rows:
                guard let rows = shape.first, rows % names.count == 0 else {
                    throw CheckpointError.wrongShape(file: file.path, tensor: names[0], expected: shape, actual: file.entries[names[0]]!.shape)
                }
                let partShape = [rows / names.count] + shape.dropFirst()
                for n in names where file.entries[n]!.shape != partShape {
                    throw CheckpointError.wrongShape(file: file.path, tensor: n, expected: partShape, actual: file.entries[n]!.shape)
                }
            }
        }
        if !missing.isEmpty { throw CheckpointError.missingTensors(file: file.path, names: Array(missing.sorted().prefix(10)), total: missing.count) }
    }

    // MARK: Filling parameters

    /// Fills every canonical tensor of `target` from `file` through `naming` (canonical name →
    /// source). `prefix` is put before every file name (fixtures store gradients as "grad.<name>").
    /// Returns the file names used. Missing tensors and wrong shapes throw, listing them.
    @discardableResult
    public static func fill(_ target: NamedBuffer, from file: SafeTensorsFile, naming: (String) -> TensorSource, prefix: String = "") throws -> Set<String> {
        try checkShapes(target.layout.slots.map { ($0.name, $0.shape) }, in: file, naming: naming, prefix: prefix)
        var used = Set<String>()
        for slot in target.layout.slots {
            let source = naming(slot.name)
            let names = source.names.map { prefix + $0 }
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
        return used
    }

    static func unexpected(_ file: SafeTensorsFile, _ used: Set<String>) -> [String] {
        file.entries.keys.filter { !used.contains($0) && !CheckpointNames.isIgnorable($0) }.sorted()
    }

    static func dtypes(_ file: SafeTensorsFile) -> [String] { Set(file.entries.values.map(\.dtype.rawValue)).sorted() }

    /// A config file's bytes: a regular file of at most `CLIPConfig.maxConfigFileBytes`.
    static func readConfigFile(_ path: String) throws -> Data {
        do { return try FileReading.read(path, limit: CLIPConfig.maxConfigFileBytes) } catch let e as IOFailure {
            throw CheckpointError.badConfig(file: path, reason: "cannot read it: \(e.reason)")
        }
    }
}
