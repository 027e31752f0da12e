import ClipoodCommands
import ClipoodEngine
import ClipoodExperiment
import ClipoodImage
import ClipoodModel
import ClipoodTrain
import ClipoodIO
import Foundation

// margins, save, export.

/// The arguments of `margins`.
enum MarginArguments {
    static let top = Argument<Int>.option("top", 1 ... 10_000, default: "5", help: "how many closest and farthest pairs to list")
    static let oneClass = OptionalArgument<String>.option("class", .string, help: "only the margins of this class (its display name)")
    static let output = OptionalArgument<String>.keyword("to", .path(extensions: ["csv", "npy"] + Table.fileExtensions.filter { $0 != "csv" }),
                                                         metavar: "FILE.csv|.npy|.md|.tex|.json|.txt",
                                                         help: "write the full K×K matrix (.csv, .npy) or the table shown (.md, .tex, .json, .txt)")
    static let matrixExtensions = ["csv", "npy"]
}

/// Arguments of `save` and `export`: which run, the output file or directory (each with its file
/// types; required), and `force`.
enum ExportArguments {
    static let run = Argument<String>.positional("run", .name(kind: "run"), help: "the run")
    static let runOrZeroShot = Shared.run.help("a run (default: zero-shot weights of the active model)")
    static let saveDir = Argument<String>.requiredKeyword("to", .path(), metavar: "DIR", help: "output directory (created; replaced whole, atomically)")
    static let weightsFile = Argument<String>.requiredKeyword("to", .path(extensions: ["safetensors"]), metavar: "FILE.safetensors", help: "output file")
    static let featuresFile = Argument<String>.requiredKeyword("to", .path(extensions: ["npy"]), metavar: "FILE.npy", help: "output file; FILE.labels.npy gets the labels")
    static let logitsFile = Argument<String>.requiredKeyword("to", .path(extensions: ["npy"]), metavar: "FILE.npy", help: "output file")
    static let logFile = Argument<String>.requiredKeyword("to", .path(extensions: ["csv"]), metavar: "FILE.csv", help: "output file")
    static let force = Argument<Bool>.flag("force", help: "replace a directory that holds another run or other files")
}

extension Workspace {
    static let marginsCommand = CommandSpec<Workspace>(
        "margins",
        summary: "the text-derived class margins λ·(1 − cos(t_y, t_j)) of the active model and dataset",
        discussion: """
        Class pairs whose prompts the text encoder finds similar get small margins (MMS asks little
        separation between near-synonyms); dissimilar pairs get margins up to 2λ.
        to FILE.csv or FILE.npy writes the full K×K matrix (and prints nothing else). to FILE.md,
        .tex, .json or .txt, and format=, give the table shown as one table: with class=, its
        class and margin columns; otherwise the columns section, class, other class, margin, with
        the closest pairs (section closest), the farthest (farthest) and each class's mean margin
        (section mean, other class empty). JSON holds the margins at full precision.
        """,
        arguments: [
            Shared.lambda.spec, MarginArguments.top.spec, MarginArguments.oneClass.spec, MarginArguments.output.spec, Shared.tableFormat.spec,
        ],
        examples: ["margins", "margins lambda=0.1 top=10", "margins class=dog", "margins to plots/margins.csv", "margins top=3 to tables/margins.tex"],
        run: { ws, args in try ws.margins(args) })

    static let saveCommand = CommandSpec<Workspace>(
        "save",
        summary: "write a run to a directory: config and results (JSON), log (CSV), weights (.safetensors)",
        discussion: """
        The directory is written beside its final place and swapped in at once, so an
        interrupted save leaves the previous save whole; manifest.json lists the size and SHA-256
        of every file, and 'load run' refuses a directory that does not match it. The weight files are full state dicts under the names of the checkpoint that was loaded —
        final.safetensors and one per average (bma_0.5.safetensors, ema, swa) — so PyTorch loads
        them back directly (transformers: CLIPModel.load_state_dict(load_file(f)); open_clip:
        model.load_state_dict(load_file(f))).
        """,
        arguments: [
            ExportArguments.run.spec,
            ExportArguments.saveDir.spec,
            ExportArguments.force.spec,
        ],
        examples: ["save mms to runs/mms", "save mms to runs/old force"],
        run: { ws, args in try ws.saveRun(args) })

    static let exportCommand = CommandSpec<Workspace>(
        "export",
        summary: "write weights, a log or features to a file",
        subcommands: [
            CommandSpec("weights", summary: "a run's weights as a full .safetensors state dict (the loaded checkpoint's names)",
                        arguments: [
                            ExportArguments.run.spec, Shared.weights.spec,
                            ExportArguments.weightsFile.spec,
                        ],
                        run: { ws, args in try ws.exportWeights(args) }),
            CommandSpec("features", summary: "image features (N×D float32, L2-normalised) of a split part under a run's weights, or zero-shot",
                        arguments: [
                            ExportArguments.runOrZeroShot.spec, Shared.weights.spec, Shared.part.spec,
                            ExportArguments.featuresFile.spec,
                        ],
                        run: { ws, args in try ws.exportFeatures(args, logits: false) }),
            CommandSpec("logits", summary: "the scaled logits (N×K float32) of a split part among its class set; FILE.labels.npy gets the labels",
                        arguments: [
                            ExportArguments.runOrZeroShot.spec, Shared.weights.spec, Shared.part.spec,
                            ExportArguments.logitsFile.spec,
                        ],
                        run: { ws, args in try ws.exportFeatures(args, logits: true) }),
            CommandSpec("log", summary: "a run's per-step log as CSV (step, loss, accuracy, lr, BMA weight, seconds)",
                        arguments: [
                            ExportArguments.run.spec,
                            ExportArguments.logFile.spec,
                        ],
                        run: { ws, args in try ws.exportLog(args) }),
        ])

    func margins(_ args: Arguments) throws {
        let m = try model(args, argument: "model"), d = try data(args, argument: "data")
        let K = d.dataset.classes.count
        let lambda = args[Shared.lambda]
        let matrix = args[MarginArguments.output].map { MarginArguments.matrixExtensions.contains(($0 as NSString).pathExtension.lowercased()) } ?? false
        let output = try TableOutput(args, to: matrix ? nil : MarginArguments.output,
                                     accepted: "margins writes the K×K matrix as .csv or .npy, its table as .md, .tex, .json or .txt")
        let mm = try marginMatrix(model: m, data: d, lambda: lambda), names = d.dataset.classNames
        if matrix, let out = args[MarginArguments.output] {
            if out.lowercased().hasSuffix(".npy") {
                try writingTo(args) { try NPY.write(floats: mm, shape: [K, K], to: expandPath(out)) }
            } else {
                var csv = "class," + names.map(csvField).joined(separator: ",") + "\n"
                for y in 0 ..< K { csv += csvField(names[y]) + "," + (0 ..< K).map { String(format: "%.6f", mm[y * K + $0]) }.joined(separator: ",") + "\n" }
                try writingTo(args) { try AtomicWrite.write(csv, to: expandPath(out)) }
            }
            say("wrote the \(K)×\(K) margin matrix (λ=\(lambda)) to \(out)")
            return
        }
        if let c = args[MarginArguments.oneClass] {
            guard let y = names.firstIndex(of: c) ?? d.dataset.classes.firstIndex(of: c) else {
                throw args.error("class", "no class '\(c)'" + Suggestions.didYouMean(c, in: names))
            }
            let rows = (0 ..< K).filter { $0 != y }.sorted { mm[y * K + $0] < mm[y * K + $1] }.map { [Table.Cell(names[$0]), margin(mm[y * K + $0], "%.4f")] }
            let heading = "margins of '\(DisplayText.escaped(names[y]))' against every other class (λ=\(lambda)), closest first:"
            let table = Table(columns: ["class", "margin"], rows: rows, caption: "margins of '\(names[y])' against every other class (λ=\(lambda)), closest first")
            try emit(table, text: heading + "\n" + table.render(.text), output: output, args: args)
            return
        }
        var pairs: [(Int, Int, Float)] = []
        for a in 0 ..< K { for b in (a + 1) ..< K { pairs.append((a, b, mm[a * K + b])) } }
        pairs.sort { $0.2 < $1.2 }
        let top = min(args[MarginArguments.top], pairs.count)
        func table(_ ps: ArraySlice<(Int, Int, Float)>) -> Table {
            Table(columns: ["class", "class", "margin"], rows: ps.map { [Table.Cell(names[$0.0]), Table.Cell(names[$0.1]), margin($0.2, "%.4f")] })
        }
        let closest = table(pairs.prefix(top)), farthest = table(pairs.suffix(top).reversed()[...])
        let heading = "text-derived margins λ·(1 − cos) with λ=\(lambda), prompt \"\(d.templates[0])\""
        let meanPerClass = (0 ..< K).map { y in (0 ..< K).filter { $0 != y }.map { mm[y * K + $0] }.reduce(0, +) / Float(max(K - 1, 1)) }
        let text = [heading, "closest pairs (smallest margins):\n" + closest.render(.text), "farthest pairs (largest margins):\n" + farthest.render(.text),
                    "mean margin per class: " + (0 ..< K).map { "\(DisplayText.escaped(names[$0])) \(String(format: "%.3f", meanPerClass[$0]))" }.joined(separator: ", ")]
        // Column names unique, for JSON keys and pandas.
        let file = Table(columns: ["section", "class", "other class", "margin"],
                         rows: closest.rows.map { ["closest"] + $0 } + farthest.rows.map { ["farthest"] + $0 }
                             + (0 ..< K).map { ["mean", Table.Cell(names[$0]), "", margin(meanPerClass[$0], "%.3f")] },
                         caption: heading)
        try emit(file, text: text.joined(separator: "\n"), output: output, args: args)
    }

    /// A margin as printed, holding the Float's own value (its shortest decimal reads back as it).
    func margin(_ x: Float, _ format: String) -> Table.Cell { Table.Cell(Double("\(x)") ?? Double(x), shown: String(format: format, x)) }

    /// A full parameter buffer: the model's (zero-shot) parameters with a run state spliced in.
    func stateDict(_ run: Run, state: String) throws -> FloatBuffer {
        guard let m = models[run.modelName] else { throw MessageError("model '\(run.modelName)' of run '\(run.name)' is no longer loaded") }
        return try run.parameters(state, model: m)
    }

    func exportWeights(_ args: Arguments) throws {
        let run = try self.run(args)
        let out = args[ExportArguments.weightsFile]
        let state = args[Shared.weights]
        let full: FloatBuffer
        do { full = try stateDict(run, state: state) } catch { throw args.error("model", String(describing: error)) }
        let m = models[run.modelName]!
        try writingTo(args) {
            try CheckpointWriter.write(m.model, values: full.base, metadata: ["clipood.run": run.name, "clipood.weights": state], to: expandPath(out))
        }
        say("wrote \(run.name) \(state) weights (\(m.model.format.rawValue) names) to \(out)")
    }

    func exportFeatures(_ args: Arguments, logits: Bool) throws {
        let given = args[logits ? ExportArguments.logitsFile : ExportArguments.featuresFile], out = expandPath(given)
        let run: Run? = args.has(Shared.run) ? try self.run(args) : nil
        let m = try run.map { try modelNamed($0.modelName, args) } ?? model(args, argument: "model-name")
        let d = try run.map { try dataNamed($0.dataName, args) } ?? data(args, argument: "data")
        let split = try run?.split ?? requireSplit(d, args)
        let part = args[Shared.part]
        let state = run == nil ? "zeroshot" : args[Shared.weights]
        if let run { do { try run.checkWeights(state) } catch { throw args.error(Shared.weights, String(describing: error)) } }
        let idx = indices(part: part, split: split)
        guard !idx.isEmpty else { throw args.error(Shared.part, "the split has no '\(part)' part") }
        let classes = classSet(part: part, split: split, data: d)
        let D = m.model.config.embedDim, N = idx.count, K = classes.count
        let feats = try imageFeatures(model: m, data: d, indices: idx, run: run, state: state, part: part,
                                      interpolation: Interpolation(rawValue: run?.interpolation ?? "bicubic") ?? .bicubic)
        let normed = FloatBuffer(count: N * D), norms = FloatBuffer(count: N)
        L2Normalize.forward(out: normed.base, norms: norms.base, inp: feats.base, N: N, C: D)
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
        let labels = idx.map { position[d.dataset.samples[$0].label] ?? -1 }
        let labelsPath = (out.hasSuffix(".npy") ? String(out.dropLast(4)) : out) + ".labels.npy"
        try writingTo(args) {
            if logits {
                let text = try textFeatures(model: m, data: d, classes: classes)
                let z = FloatBuffer(count: N * K)
                BLAS.sgemm(transB: true, M: N, N: K, K: D, alpha: run?.trainer.loss.scale ?? m.model.logitScale, A: normed.base, lda: D,
                           B: text.base, ldb: D, C: z.base, ldc: K)
                try NPY.write(floats: z.base, shape: [N, K], to: out)
            } else {
                try NPY.write(floats: normed.base, shape: [N, D], to: out)
            }
            try NPY.write(ints: labels, shape: [N], to: labelsPath)
        }
        say("wrote \(N)×\(logits ? K : D) \(logits ? "logits" : "features") (\(run.map { "\($0.name) \(state)" } ?? "zero-shot"), \(part)) to \(given), labels to \(labelsPath)")
    }

    func exportLog(_ args: Arguments) throws {
        let run = try self.run(args)
        let out = args[ExportArguments.logFile]
        try writingTo(args) { try AtomicWrite.write(run.logCSV(), to: expandPath(out)) }
        say("wrote \(run.log.count) log rows of \(run.name) to \(out)")
    }

    func saveRun(_ args: Arguments) throws {
        let run = try self.run(args)
        let dir = expandPath(args[ExportArguments.saveDir])
        guard let m = models[run.modelName] else { throw args.error("run", "model '\(run.modelName)' of this run is no longer loaded") }
        let hash = try wrapped(args, "run") { try hashes.sha256(m.loaded.weightsFile) }
        let written = try writingTo(args) { try run.save(to: dir, model: m, modelSHA256: hash, data: datasets[run.dataName], force: args[ExportArguments.force]) }
        write("saved run '\(run.name)' to \(dir): run.json, log.csv, state.safetensors, " + (written ?? []).joined(separator: ", ") + ", manifest.json")
    }
}

func csvField(_ s: String) -> String {
    s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}
