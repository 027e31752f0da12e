import ClipoodData
import ClipoodModel
import ClipoodTrain
import Foundation

/// Everything of a run that is not a tensor, as written to `run.json`: its settings, where its
/// model and data came from, its split and prompt, where its sampler and random streams stand,
/// each average's scalars, and the evaluation results computed so far. The one type that reads
/// and writes run.json; `validate` checks every number before anything uses it.
public struct RunRecord: Codable, Equatable {
    /// The run.json layout this build writes. It also reads format 2, which named the averages
    /// in three fields of their own (`betas`, `ema`, `swa`) instead of the list `averages`.
    public static let currentFormat = 4
    /// The formats this build reads (run.json and the run's manifest.json).
    public static let readableFormats: Set<Int> = [2, 3, currentFormat]
    /// Why a file of `format` cannot be read: the end of its one-line error.
    static func unknownFormat(_ format: Any) -> String {
        "is \(format), a run format this build does not know (it reads formats \(readableFormats.sorted().map(String.init).dropLast().joined(separator: ", ")) and \(readableFormats.max()!))"
    }

    public var format: Int = RunRecord.currentFormat
    public var run: String
    /// The model's weights file, its SHA-256 and its tensor naming (transformers / open_clip).
    public var model: String
    public var modelSHA256: String
    public var modelFormat: String
    /// The dataset's root folder.
    public var data: String
    public var steps: Int
    public var stepsDone: Int
    public var stopped: String?
    public var lr: Double
    public var weightDecay: Double
    public var lambda: Double
    /// The weight averages kept, in order.
    public var averages: [AverageChoice]
    public var scale: Double
    public var tune: String
    public var batchPerDomain: Int
    public var augment: Bool
    public var interpolation: String
    public var seed: Int
    /// Class folder names trained on (the MMS class set), in order.
    public var classes: [String]
    public var split: Split
    /// Prompt templates (each with one `{}`).
    public var prompt: [String]
    /// Weight state → its full state-dict file in the run directory.
    public var weights: [String: String]
    public var precision: String = "fp32 weights, moments and averages"
    public var cache: Bool
    public var views: Int
    /// The trainable range [lower, upper) of the parameter buffer.
    public var range: [Int]
    public var resume: Resume
    /// Evaluations computed so far, in the order they were first made.
    public var results: [ResultRecord] = []
    /// Evaluation during training (format 4; absent in older files): every `evalEvery` steps on
    /// `evalPart`, with the results in step order.
    public var evalEvery: Int?
    public var evalPart: String?
    public var evaluations: [ResultRecord]?
    /// Activation recomputation (`checkpoint=on`; absent in older files, which is off). It
    /// changes memory and time, not the numbers, but a resumed run keeps it.
    public var checkpoint: Bool?

    public struct Resume: Codable, Equatable {
        public var step: Int
        public var sampler: DomainSampler.State
        /// The augmentation RNG's state words, as decimal strings (JSON numbers lose 64-bit precision).
        public var augmentRNG: [String]
        /// Each average's scalars besides its buffer (e.g. a BMA's weight sum), by label.
        public var averages: [String: [String: Double]]

        public init(step: Int, sampler: DomainSampler.State, augmentRNG: [String], averages: [String: [String: Double]]) {
            self.step = step; self.sampler = sampler; self.augmentRNG = augmentRNG; self.averages = averages
        }

        enum CodingKeys: String, CodingKey {
            case step, sampler, averages
            case augmentRNG = "augment_rng"
        }
    }

    enum CodingKeys: String, CodingKey {
        case format, run, model, data, steps, stopped, lr, lambda, averages, scale, tune, augment, interpolation, seed, classes, split
        case prompt, weights, precision, cache, views, range, resume, results, evaluations, checkpoint
        case evalEvery = "eval_every", evalPart = "eval_part"
        case modelSHA256 = "model_sha256", modelFormat = "model_format", stepsDone = "steps_done", weightDecay = "weight_decay"
        case batchPerDomain = "batch_per_domain"
    }

    public init(run: String, model: String, modelSHA256: String, modelFormat: String, data: String, config: TrainingConfig, stepsDone: Int,
                stopped: String?, scale: Double, tune: String, batchPerDomain: Int, augment: Bool, interpolation: String, seed: Int,
                classes: [String], split: Split, prompt: [String], weights: [String: String], cache: Bool, views: Int, range: Range<Int>,
                resume: Resume, results: [ResultRecord], evalEvery: Int? = nil, evalPart: String? = nil, evaluations: [ResultRecord]? = nil) {
        self.evalEvery = evalEvery; self.evalPart = evalPart; self.evaluations = evaluations
        self.run = run; self.model = model; self.modelSHA256 = modelSHA256; self.modelFormat = modelFormat; self.data = data
        steps = config.steps; self.stepsDone = stepsDone; self.stopped = stopped; lr = config.learningRate; weightDecay = config.weightDecay
        // Through the Float's shortest decimal, so 0.3 is written as 0.3 and not 0.30000001192092896.
        lambda = Double("\(config.lambda)") ?? Double(config.lambda)
        averages = config.averages
        checkpoint = config.checkpoint
        self.scale = scale; self.tune = tune; self.batchPerDomain = batchPerDomain; self.augment = augment; self.interpolation = interpolation
        self.seed = seed; self.classes = classes; self.split = split; self.prompt = prompt; self.weights = weights; self.cache = cache
        self.views = views; self.range = [range.lowerBound, range.upperBound]; self.resume = resume; self.results = results
    }

    /// The training configuration the record describes (`trainable` from `tune`).
    public func trainingConfig(trainable: VisionTower.Trainable) -> TrainingConfig {
        var c = TrainingConfig(steps: steps)
        c.learningRate = lr
        c.weightDecay = weightDecay
        c.lambda = Float(lambda)
        c.averages = averages
        c.scale = Float(scale)
        c.trainable = trainable
        c.checkpoint = checkpoint ?? false
        return c
    }

    // MARK: Reading and writing

    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }

    /// Decodes and validates run.json's bytes; `file` names it in errors. An unknown format,
    /// a missing or mistyped field and an out-of-range number are each one `RunFileError`.
    public static func decode(_ data: Data, file: String) throws -> RunRecord {
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: data) } catch { throw RunFileError(file, "is not valid JSON") }
        guard let object = any as? [String: Any] else { throw RunFileError(file, "is not a JSON object") }
        guard let format = object["format"] else {
            throw RunFileError(file, field: "format", "is missing: written by an older clipood (format 1), which this build does not read; save the run again")
        }
        guard let f = format as? Int, readableFormats.contains(f) else { throw RunFileError(file, field: "format", unknownFormat(format)) }
        var record: RunRecord
        do {
            if f == 2 {
                var upgraded = object
                upgraded["averages"] = try Format2Averages.choices(object, file: file)
                upgraded["format"] = currentFormat
                record = try JSONDecoder().decode(RunRecord.self, from: JSONSerialization.data(withJSONObject: upgraded))
            } else {
                record = try JSONDecoder().decode(RunRecord.self, from: data)
            }
        } catch let e as DecodingError {
            throw RunFileError(file, field: e.fieldPath, e.reason)
        }
        try record.validate(file: file)
        return record
    }

    /// Checks every number and name against the ranges `train` accepts.
    public func validate(file: String) throws {
        func fail(_ field: String, _ why: String) -> RunFileError { RunFileError(file, field: field, why) }
        func check(_ ok: Bool, _ field: String, _ why: @autoclosure () -> String) throws { if !ok { throw fail(field, why()) } }
        try check(!run.isEmpty && run.count <= 200 && !run.contains(where: { $0.isNewline || $0 == "/" }), "run", "must be a name of 1–200 characters without '/' or line breaks")
        try check(!model.isEmpty, "model", "must name the model's weights file")
        try check(modelSHA256.count == 64 && modelSHA256.allSatisfy(\.isHexDigit), "model_sha256", "must be 64 hex digits, got '\(modelSHA256)'")
        try check(!modelFormat.isEmpty, "model_format", "is empty")
        try check(!data.isEmpty, "data", "must name the dataset's folder")
        try check((1 ... 10_000_000).contains(steps), "steps", "must be in 1…10000000, got \(steps)")
        try check((0 ... steps).contains(stepsDone), "steps_done", "must be in 0…\(steps) (steps), got \(stepsDone)")
        try check(resume.step == stepsDone, "resume.step", "is \(resume.step) but steps_done is \(stepsDone)")
        try check(lr.isFinite && (0 ... 10).contains(lr), "lr", "must be a number in 0…10, got \(lr)")
        try check(weightDecay.isFinite && (0 ... 10).contains(weightDecay), "weight_decay", "must be a number in 0…10, got \(weightDecay)")
        try check(lambda.isFinite && (0 ... 10).contains(lambda), "lambda", "must be a number in 0…10, got \(lambda)")
        if let why = WeightAverageKind.problem(with: averages) { throw fail("averages", why) }
        try check(scale.isFinite && scale > 0 && scale <= 1e6, "scale", "must be a positive finite logit scale ≤ 1e6, got \(scale)")
        try check(TuneSpec(tune) != nil, "tune", "must be full, proj or lastK, got '\(tune)'")
        try check((1 ... 4096).contains(batchPerDomain), "batch_per_domain", "must be in 1…4096, got \(batchPerDomain)")
        try check(["bicubic", "bilinear"].contains(interpolation), "interpolation", "must be bicubic or bilinear, got '\(interpolation)'")
        try check((0 ... Int(Int32.max)).contains(seed), "seed", "must be in 0…\(Int32.max), got \(seed)")
        try check((1 ... 1000).contains(views), "views", "must be in 1…1000, got \(views)")
        try check(!classes.isEmpty, "classes", "is empty")
        try check(!prompt.isEmpty && prompt.allSatisfy { $0.contains("{}") }, "prompt", "must be templates that each contain {}")
        try check(range.count == 2 && range[0] >= 0 && range[0] < range[1], "range", "must be [lower, upper) with 0 ≤ lower < upper, got \(range)")
        try check(resume.augmentRNG.count == 7 && resume.augmentRNG.allSatisfy { UInt64($0) != nil }, "resume.augment_rng", "must be 7 unsigned 64-bit integers as strings")
        try check(resume.sampler.batchPerDomain == batchPerDomain, "resume.sampler.batchPerDomain", "is \(resume.sampler.batchPerDomain) but batch_per_domain is \(batchPerDomain)")
        for (label, scalars) in resume.averages {
            for (k, v) in scalars { try check(v.isFinite, "resume.averages.\(label).\(k)", "must be finite, got \(v)") }
        }
        for (state, file) in weights {
            try check(!file.contains("/") && file.hasSuffix(".safetensors") && file != "state.safetensors", "weights.\(state)",
                      "must be a .safetensors file name inside the run directory, got '\(file)'")
        }
        for (i, r) in results.enumerated() { try r.validate(field: "results[\(i)]", file: file) }
        if let n = evalEvery { try check((1 ... 10_000_000).contains(n), "eval_every", "must be in 1…10000000, got \(n)") }
        if let p = evalPart { try check(["test", "val", "open", "train"].contains(p), "eval_part", "must be test, val, open or train, got '\(p)'") }
        for (i, r) in (evaluations ?? []).enumerated() {
            try r.validate(field: "evaluations[\(i)]", file: file)
            try check(r.step <= stepsDone, "evaluations[\(i)].step", "is \(r.step), after steps_done \(stepsDone)")
        }
    }
}

/// What `tune=` may say: the whole image tower, its projection, or its last K blocks.
public struct TuneSpec: Equatable {
    public let trainable: VisionTower.Trainable

    public init?(_ s: String) {
        switch s {
        case "full": trainable = .full
        case "proj": trainable = .projection
        default:
            guard s.hasPrefix("last"), let k = Int(s.dropFirst(4)), k >= 1, k <= 10_000 else { return nil }
            trainable = .lastBlocks(k)
        }
    }

    /// The trainable part for a model of `layers` vision blocks, or nil when K exceeds them.
    public static func parse(_ s: String, layers: Int) -> VisionTower.Trainable? {
        guard let t = TuneSpec(s) else { return nil }
        if case .lastBlocks(let k) = t.trainable, k > layers { return nil }
        return t.trainable
    }
}

/// One evaluation kept with a run: which weights, on which part, at which step, and the result.
public struct ResultRecord: Codable, Equatable {
    public var weights: String
    public var part: String
    public var step: Int
    public var images: Int
    public var correct: Int
    public var ece: Double

    public init(weights: String, part: String, step: Int, images: Int, correct: Int, ece: Double) {
        self.weights = weights; self.part = part; self.step = step; self.images = images; self.correct = correct; self.ece = ece
    }

    public var accuracy: Double { images == 0 ? .nan : Double(correct) / Double(images) }

    func validate(field: String, file: String) throws {
        guard ["test", "val", "open", "train"].contains(part) else { throw RunFileError(file, field: field + ".part", "must be test, val, open or train, got '\(part)'") }
        guard step >= 0 else { throw RunFileError(file, field: field + ".step", "must be ≥ 0, got \(step)") }
        guard images >= 0, (0 ... images).contains(correct) else { throw RunFileError(file, field: field + ".correct", "must be in 0…images, got \(correct) of \(images)") }
        guard ece.isFinite, (0 ... 1).contains(ece) else { throw RunFileError(file, field: field + ".ece", "must be in 0…1, got \(ece)") }
    }
}

/// A saved run's file that cannot be used: one line naming the file, the field and why.
public struct RunFileError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let field: String?
    public let reason: String

    public init(_ file: String, field: String? = nil, _ reason: String) { self.file = file; self.field = field; self.reason = reason }

    /// "FILE: field 'F' REASON", or "FILE REASON" when no single field is at fault.
    public var description: String { field.map { "\(file): field '\($0)' \(reason)" } ?? "\(file) \(reason)" }
}

extension DecodingError {
    var fieldPath: String {
        let path: [CodingKey]
        switch self {
        case .keyNotFound(let k, let c): path = c.codingPath + [k]
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): path = c.codingPath
        @unknown default: path = []
        }
        return path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    var reason: String {
        switch self {
        case .keyNotFound: return "is missing"
        case .typeMismatch(let t, _): return "has the wrong type (expected \(t))"
        case .valueNotFound(let t, _): return "is null (expected \(t))"
        case .dataCorrupted(let c): return c.debugDescription.isEmpty ? "is malformed" : "is malformed: \(c.debugDescription)"
        @unknown default: return "is malformed"
        }
    }
}

/// Format 2's averages (`betas`, `ema`, `swa`) as format 3's `averages` list, in JSON form.
enum Format2Averages {
    static func choices(_ object: [String: Any], file: String) throws -> [[String: Any]] {
        guard let betas = object["betas"] as? [NSNumber] else { throw RunFileError(file, field: "betas", "is missing or not a list of numbers") }
        guard let swa = object["swa"] as? Bool else { throw RunFileError(file, field: "swa", "is missing or not true/false") }
        var out: [[String: Any]] = betas.map { ["kind": "bma", "value": $0] }
        if let ema = object["ema"], !(ema is NSNull) {
            guard let e = ema as? NSNumber else { throw RunFileError(file, field: "ema", "is not a number") }
            out.append(["kind": "ema", "value": e])
        }
        if swa { out.append(["kind": "swa"]) }
        return out
    }
}
