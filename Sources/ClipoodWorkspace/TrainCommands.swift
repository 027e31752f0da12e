import ClipoodCommands
import ClipoodData
import ClipoodEngine
import ClipoodExperiment
import ClipoodImage
import ClipoodModel
import ClipoodTrain
import Foundation

// zeroshot, train, eval, compare, and the workspace side of evaluation (progress lines, errors at arguments).

/// The arguments of `train`, declared once: the declaration lists them, the code reads them typed.
enum TrainArguments {
    static let steps = OptionalArgument<Int>.option("steps", 1 ... 10_000_000, help: "optimiser steps (default: 1 epoch)")
    static let epochs = OptionalArgument<Double>.option("epochs", 0.001 ... 100_000, help: "passes over the largest training domain (instead of steps)")
    static let batch = Argument<Int>.option("batch", 1 ... 4096, default: "12", help: "images per training domain per step")
    static let wd = Argument<Double>.option("wd", 0 ... 10, default: "0.1", help: "AdamW decoupled weight decay")
    static let scale = OptionalArgument<Double>.option("scale", 0.001 ... 1e6, help: "logit scale s (default: exp(logit_scale) of the model)")
    static let tune = Argument<String>.option("tune", .name(kind: "tune"), default: "full", metavar: "full|lastK|proj", help: "what to train: the whole image tower, its last K blocks, or the projection")
    static let augment = Argument<Bool>.toggle("augment", default: true, help: "RandomResizedCrop(0.7–1) + flip on training images")
    static let cache = Argument<String>.option("cache", .choice(["auto", "on", "off"]), default: "auto", help: "cache the frozen prefix's output per image view (auto: on for lastK / proj)")
    static let views = Argument<Int>.option("views", 1 ... 1000, default: "4", help: "augmented views cached per training image (with cache and augment on)")
    static let seed = Shared.seed.help("seed for sampling and augmentation (default: the seed setting)")
    static let evalEvery = OptionalArgument<Int>.option("eval_every", 1 ... 10_000_000, metavar: "N",
                                                        help: "evaluate the weights every N steps (and at the last) on the part given by on; curves and plot curves show it")
    static let evalPart = Argument<String>.keyword("on", .choice(Shared.partNames), fallback: "val", metavar: "PART", help: "the part eval_every= scores (default val)")
    static let pause = OptionalArgument<Int>.option("pause", 1 ... 10_000_000, help: "stop after this many steps (the schedule still spans steps=); continue with train resume=RUN")
    static let resume = OptionalArgument<String>.option("resume", .name(kind: "run"), metavar: "RUN", help: "continue a run (interrupted, loaded with 'load run', or cut short by steps=) with its own settings")
    static let name = OptionalArgument<String>.keyword("as", .name(kind: "run"), metavar: "RUN", help: "name of the run (default run1, run2, …)")
}

extension Workspace {
    static let zeroshotCommand = CommandSpec<Workspace>(
        "zeroshot",
        summary: "zero-shot accuracy of the active model on a part of the active split",
        discussion: evaluationTableHelp,
        arguments: [Shared.part.spec, perClass.spec, Shared.tableOutput.spec, Shared.tableFormat.spec],
        examples: ["zeroshot", "zeroshot on open", "zeroshot per_class", "zeroshot to tables/zeroshot.csv"],
        run: { ws, args in
            let output = try TableOutput(args)
            let m = try ws.model(args, argument: "model"), d = try ws.data(args, argument: "data")
            let part = args[Shared.part]
            let r = try ws.evaluate(model: m, data: d, run: nil, state: "zeroshot", part: part, args: args)
            try ws.emitEvaluation(r, title: "zero-shot \(m.name) on \(d.name) \(part)", perClass: args[perClass] ? d.dataset.classNames : nil,
                                  classIDs: ws.classSet(part: part, split: try ws.requireSplit(d, args), data: d), output: output, args: args)
        })

    static let trainCommand = CommandSpec<Workspace>(
        "train",
        summary: "fine-tune the image tower with CLIPood (MMS loss + Beta moving average)",
        discussion: """
        Each step takes `batch` images from every training domain (without replacement within a
        pass over a domain), computes the MMS loss against the frozen text features of the
        training classes, and updates the trainable part with AdamW under cosine annealing. The
        averages (BMA for every beta, EMA if ema= is given, SWA, a tail average if tail= is
        given) are kept alongside, in fp32.
        tune=full is the paper's setting; lastK / proj train only a suffix (a different, partial
        fine-tuning). lambda=0 is the plain cross-entropy baseline. Ctrl-C stops at the next step
        and keeps a usable run.

        Prefix cache (tune=lastK or proj): the frozen part of the tower — patch embedding up to the
        first trainable block — is run once per training image view and its output kept, so a step
        runs only the trainable blocks: same result as without the cache for the same inputs. With
        augment on, each training image gets `views` augmented views drawn once before training
        (seeded), and every time the sampler picks the image one of its views is used — a finite
        set of augmentations instead of a fresh one per draw. cache=off restores fresh draws.

        checkpoint=on (activation recomputation) keeps only each trained block's input during the
        forward pass and computes the block again just before back-propagating through it: the
        same gradients and weights, for about a third more compute per step, with activation memory
        of one block instead of all of them — what lets ViT-L/14 train at the paper's batch
        (36 images) in under 20 GB. tune=last1 from the prefix cache already keeps only the class
        token's work, so it gains nothing there.
        """,
        arguments: [TrainArguments.steps.spec, TrainArguments.epochs.spec, TrainArguments.batch.spec, Shared.lr.spec, TrainArguments.wd.spec,
                    Shared.lambda.spec]
            + averageOptions()
            + [TrainArguments.scale.spec, TrainArguments.tune.spec, TrainArguments.augment.spec, Shared.interpolation.spec, TrainArguments.cache.spec,
               TrainArguments.views.spec, Shared.checkpoint.spec, TrainArguments.seed.spec, TrainArguments.evalEvery.spec, TrainArguments.evalPart.spec, TrainArguments.pause.spec, TrainArguments.resume.spec, TrainArguments.name.spec],
        examples: ["train steps=500 as mms", "train steps=500 lambda=0 as ce", "train epochs=2 tune=last1 beta=0.1,0.5,1", "train batch=12 checkpoint=on as big", "train resume=mms"],
        run: { ws, args in try ws.train(args) })

    static let evalCommand = CommandSpec<Workspace>(
        "eval",
        summary: "accuracy and calibration of a run's weights on a split part",
        discussion: evaluationTableHelp,
        arguments: [Shared.run.spec, Shared.weights.spec, Shared.part.spec, perClass.spec, Shared.tableOutput.spec, Shared.tableFormat.spec],
        examples: ["eval", "eval mms model=bma on open", "eval mms model=wise:0.5", "eval mms per_class to tables/mms.csv"],
        run: { ws, args in
            let output = try TableOutput(args)
            let run = try ws.run(args)
            let part = args[Shared.part], state = args[Shared.weights]
            do { try run.checkWeights(state) } catch { throw args.error(Shared.weights, String(describing: error)) }
            let m = try ws.modelNamed(run.modelName, args), d = try ws.dataNamed(run.dataName, args)
            let r = try ws.evaluate(model: m, data: d, run: run, state: state, part: part, args: args)
            try ws.emitEvaluation(r, title: "\(run.name) \(state) on \(part)", perClass: args[perClass] ? d.dataset.classNames : nil,
                                  classIDs: ws.classSet(part: part, split: run.split, data: d), output: output, args: args)
        })
    /// What `zeroshot` and `eval` write with `to` and `format=`.
    static let evaluationTableHelp = """
        With to FILE (.csv, .md, .tex, .json, .txt) or format=, the table is one table with the
        columns kind, name, images, acc % and ECE: a row per domain (kind domain), the total (kind
        all, the only row with an ECE) and, with per_class, a row per class (kind class) below them.
        CSV and JSON hold the numbers at full precision.
        """
    static let perClass = Argument<Bool>.flag("per_class", help: "also print accuracy per class")

    static let comparedRuns = OptionalArgument<String>(.positional("runs", .name(kind: "run"), optional: true, variadic: true, metavar: "run", help: "runs (default: all)")) { $0.string("runs") }
    static let comparedParts = OptionalArgument<[String]>(.keyword("on", .list(.choice(Shared.partNames)), metavar: "PARTS", help: "parts (default: test and open when present)")) {
        $0.has("on") ? $0.listStrings("on") : nil
    }

    static let compareCommand = CommandSpec<Workspace>(
        "compare",
        summary: "one table: zero-shot, final, each average and WiSE-FT of runs, on the split's parts",
        discussion: """
        to FILE writes the same table (.csv and .json with the numbers at full precision, .md, .tex
        as a booktabs table, .txt); format= prints it in one of those formats instead of columns.
        """,
        arguments: [comparedRuns.spec, comparedParts.spec, Shared.tableOutput.spec, Shared.tableFormat.spec],
        examples: ["compare", "compare mms ce on test,open", "compare to tables/compare.tex", "compare format=md"],
        run: { ws, args in try ws.compare(args) })

    // MARK: Shared pieces

    func modelNamed(_ n: String, _ args: Arguments) throws -> ModelEntry {
        guard let m = models[n] else { throw args.error("run", "model '\(n)' of this run is no longer loaded") }
        return m
    }

    func dataNamed(_ n: String, _ args: Arguments) throws -> DataEntry {
        guard let d = datasets[n] else { throw args.error("run", "dataset '\(n)' of this run is no longer loaded") }
        return d
    }

    func run(_ args: Arguments) throws -> Run {
        try namedOrCurrent(args, argument: "run", in: runs, current: runOrder.last, noun: "run",
                           listed: "runs: " + runOrder.joined(separator: ", "), none: "no run yet", create: "train one with: train")
    }

    func requireSplit(_ d: DataEntry, _ args: Arguments) throws -> Split {
        guard let s = d.split else { throw args.error("dataset '\(d.name)' has no split yet", hint: "e.g. split target=DOMAIN, or split holdout=0.2") }
        return s
    }

    /// Class ids a part is scored among.
    func classSet(part: String, split: Split, data: DataEntry) -> [Int] {
        FeatureStore.classSet(part: part, split: split, classCount: data.dataset.classes.count)
    }

    func indices(part: String, split: Split) -> [Int] { FeatureStore.indices(part: part, split: split) }

    /// A `ProgressSink` that draws this workspace's progress line and reads Ctrl-C.
    func progressSink() -> ProgressSink {
        var line: ProgressLine?
        return ProgressSink(begin: { [unowned self] label, total in line = ProgressLine(label, total: total, workspace: self) },
                            advance: { done, detail in line?.update(done, detail: detail) },
                            end: { line?.finish() },
                            interrupted: { Interrupt.isRequested })
    }

    func textFeatures(model m: ModelEntry, data d: DataEntry, classes: [Int]) throws -> FloatBuffer {
        try features.textFeatures(model: m, data: d, classes: classes)
    }

    /// Image features of a split part under a run's weight state; a Ctrl-C while embedding is an error without a position.
    func imageFeatures(model m: ModelEntry, data d: DataEntry, indices: [Int], run: Run?, state: String, part: String, interpolation: Interpolation) throws -> FloatBuffer {
        do {
            return try features.imageFeatures(model: m, data: d, indices: indices, run: run, state: state, part: part, interpolation: interpolation, progress: progressSink())
        } catch let e as Interrupted { throw CommandError(e.description) }
    }

    /// Scores a run's weight state (the zero-shot model when `run` is nil) on a part of its
    /// split (the data's current split for zero-shot); problems are errors at the command.
    func evaluate(model m: ModelEntry, data d: DataEntry, run: Run?, state: String, part: String, args: Arguments) throws -> EvaluationResult {
        let split = try run?.split ?? requireSplit(d, args)
        do {
            return try features.evaluate(model: m, data: d, split: split, run: run, state: state, part: part, progress: progressSink())
        } catch let e as Interrupted { throw CommandError(e.description) } catch let e as CommandError { throw e } catch let e as EvaluationProblem {
            // A part the split cannot answer: at the `on PART` that asked for it, when typed.
            throw args.error("on", e.description)
        } catch {
            throw args.error(String(describing: error))
        }
    }

    /// The text `zeroshot` and `eval` print: a heading with accuracy and ECE, the domain table
    /// and, with class names, the class table.
    func describe(_ r: EvaluationResult, title: String, perClass names: [String]? = nil, classIDs: [Int] = []) -> String {
        evaluationTables(r, title: title, perClass: names, classIDs: classIDs).text
    }

    /// Prints an evaluation as `describe` does, or as one table (see `evaluationTableHelp`).
    func emitEvaluation(_ r: EvaluationResult, title: String, perClass names: [String]? = nil, classIDs: [Int] = [], output: TableOutput, args: Arguments) throws {
        let t = evaluationTables(r, title: title, perClass: names, classIDs: classIDs)
        try emit(t.file, text: t.text, output: output, args: args)
    }

    /// The domain table (and the class table) as the terminal shows them, and the one table of
    /// both that a file holds.
    func evaluationTables(_ r: EvaluationResult, title: String, perClass names: [String]?, classIDs: [Int]) -> (text: String, file: Table) {
        func row(_ name: String, _ count: Int, _ correct: Int) -> [Table.Cell] {
            [Table.Cell(name), Table.Cell(Double(count), shown: String(count)), percent(Double(correct) / Double(count))]
        }
        let heading = "\(title): accuracy \(pct(r.accuracy))%, ECE \(String(format: "%.3f", r.ece))"
        var domains = Table(columns: ["domain", "images", "acc %"], rows: r.groups.filter { $0.count > 0 }.map { row($0.name, $0.count, $0.correct) })
        domains.rows.append([Table.Cell("all"), Table.Cell(Double(r.count), shown: String(r.count)), percent(r.accuracy)])
        var text = heading + "\n" + domains.render(.text)
        var file = Table(columns: ["kind", "name", "images", "acc %", "ECE"], caption: heading)
        file.rows = domains.rows.dropLast().map { [Table.Cell("domain")] + $0 + [""] }
            + [[Table.Cell("all")] + domains.rows.last! + [Table.Cell(r.ece, shown: String(format: "%.3f", r.ece))]]
        if let names {
            let classes = Table(columns: ["class", "images", "acc %"],
                                rows: zip(classIDs, r.perClass).filter { $0.1.count > 0 }.map { row(names[$0.0], $0.1.count, $0.1.correct) })
            text += "\n" + classes.render(.text)
            file.rows += classes.rows.map { [Table.Cell("class")] + $0 + [""] }
        }
        return (text, file)
    }

    func pct(_ x: Double) -> String { x.isFinite ? String(format: "%.1f", 100 * x) : "–" }

    /// A fraction shown as `pct` shows it, holding the exact percentage (NaN when there is none).
    /// A fraction as a percent cell; the value is 100·x to 12 significant digits, so that 0.590625
    /// is written 59.0625 and not 59.06249999999999 (the product's rounding, not information).
    func percent(_ x: Double) -> Table.Cell { Table.Cell(x.isFinite ? Double(String(format: "%.12g", 100 * x))! : .nan, shown: pct(x)) }

    /// A number shown with a printf format, holding the exact value.
    func number(_ x: Double, _ format: String) -> Table.Cell { Table.Cell(x, shown: String(format: format, x)) }

    // MARK: train

    func train(_ args: Arguments) throws {
        if let resume = args[TrainArguments.resume] {
            // Everything train declares belongs to the run, but which run and how many more steps.
            let allowed: Set<String> = ["resume", "steps"]
            for a in Workspace.trainCommand.arguments.map(\.name) where args.has(a) && !allowed.contains(a) {
                throw args.error(a, "'\(a)' cannot change when resuming: the run keeps its own settings (only steps= limits how many more steps run)")
            }
            guard let run = runs[resume] else {
                throw args.error("resume", "no run named '\(resume)'" + Suggestions.didYouMean(resume, in: runOrder), hint: "load a saved one with: load run DIR")
            }
            guard run.stepsDone < run.config.steps else { throw args.error("resume", "run '\(resume)' has done all its \(run.config.steps) steps") }
            let before = run.stepsDone
            try runSteps(run, limit: args[TrainArguments.steps], args: args)
            // Stopped early: it replays as the steps it did.
            if run.stopReason != nil { replayAs(stepsDone: run.stepsDone - before, option: "steps") }
            return
        }
        let m = try model(args, argument: "model"), d = try data(args, argument: "data")
        let split = try requireSplit(d, args)
        let name = args[TrainArguments.name] ?? nextRunName()
        if runs[name] != nil { throw args.error("as", "a run named '\(name)' exists already", hint: "choose another name with: as NAME") }
        let tune = args[TrainArguments.tune], cache = args[TrainArguments.cache]
        let trainable = try parseTune(tune, model: m, args: args)
        if cache == "on" && tune == "full" { throw args.error("cache", "cache=on needs a frozen prefix: tune=lastK or proj") }
        let byDomain = split.trainByDomain(d.dataset).filter { !$0.isEmpty }
        guard !byDomain.isEmpty else { throw args.error("the split's training part is empty") }
        let batch = args[TrainArguments.batch]
        let steps: Int
        if let s = args[TrainArguments.steps] { steps = s } else {
            let epochs = args[TrainArguments.epochs] ?? 1
            steps = max(1, Int((epochs * Double(byDomain.map(\.count).max()!) / Double(batch)).rounded(.up)))
        }
        var config = TrainingConfig(steps: steps)
        config.learningRate = args[Shared.lr] ?? TrainingConfig.defaultLearningRate(visionWidth: m.model.config.vision.width)
        config.weightDecay = args[TrainArguments.wd]
        config.lambda = args[Shared.lambda]
        config.averages = averageChoices(args)
        config.scale = args[TrainArguments.scale].map(Float.init)
        config.trainable = trainable
        config.checkpoint = args[Shared.checkpoint]
        let augment = args[TrainArguments.augment]
        let evalPart = args[TrainArguments.evalPart]
        if args.has(TrainArguments.evalPart) && !args.has(TrainArguments.evalEvery) {
            throw args.error(TrainArguments.evalPart, "on PART says where eval_every= scores; give eval_every=N too")
        }
        if args.has(TrainArguments.evalEvery) && indices(part: evalPart, split: split).isEmpty {
            throw args.error(TrainArguments.evalPart, "the split has no '\(evalPart)' part to evaluate on")
        }
        let run = try Run(name: name, model: m, data: d, split: split, config: config, batchPerDomain: batch, augment: augment,
                          seed: args[TrainArguments.seed] ?? settings.seed, interpolation: args[Shared.interpolation].rawValue, tune: tune,
                          cache: tune != "full" && cache != "off", views: augment ? args[TrainArguments.views] : 1,
                          evalEvery: args[TrainArguments.evalEvery], evalPart: evalPart, features: features)
        runs[name] = run
        runOrder.append(name)
        try runSteps(run, limit: args[TrainArguments.pause], args: args)
        if run.stepsDone < run.config.steps { replayAs(stepsDone: run.stepsDone, option: "pause") }
    }

    /// A train line that stopped early (Ctrl-C, pause=) replays with `option`=the steps it did,
    /// or not at all when it did none.
    func replayAs(stepsDone: Int, option: String) {
        replay = (interpreter.scriptStack.count, stepsDone > 0 ? .option(option, String(stepsDone)) : .omit)
    }

    /// The option of every weight average kind, as `train` and `ablate` declare it (`defaults`
    /// replaces a kind's default value text, by option name).
    static func averageOptions(defaults: [String: String] = [:]) -> [ArgumentSpec] {
        WeightAverageKind.all.map { k in
            switch k.takes {
            case .values(let r, let d):
                return .option(k.option, .list(.float(r)), default: defaults[k.option] ?? d.map(formatBeta).joined(separator: ","), help: k.help)
            case .value(let r):
                return .option(k.option, .float(r), default: defaults[k.option], help: k.help)
            case .toggle(let on):
                return .option(k.option, .bool, default: defaults[k.option] ?? (on ? "on" : "off"), help: k.help)
            }
        }
    }

    /// The weight averages the options of `averageOptions` ask for, in the order of the kinds.
    func averageChoices(_ args: Arguments) -> [AverageChoice] {
        WeightAverageKind.all.flatMap { k -> [AverageChoice] in
            switch k.takes {
            case .values: return args.doubles(k.option).map { AverageChoice(k.kind, $0) }
            case .value: return args.double(k.option).map { [AverageChoice(k.kind, $0)] } ?? []
            case .toggle: return args.flag(k.option) ? [AverageChoice(k.kind)] : []
            }
        }
    }

    func parseTune(_ tune: String, model m: ModelEntry, args: Arguments) throws -> VisionTower.Trainable {
        guard let t = TuneSpec.parse(tune, layers: m.model.config.vision.layers) else {
            throw args.error("tune", "tune= expects full, proj or lastK with 1 ≤ K ≤ \(m.model.config.vision.layers), got '\(tune)'")
        }
        return t
    }

    /// Runs steps of `run` (see `Run.train`) between the lines that say what it does and how it ended.
    func runSteps(_ run: Run, limit: Int?, args: Arguments) throws {
        let m = try modelNamed(run.modelName, args), d = try dataNamed(run.dataName, args)
        defer { features.forget(run: run.name) }
        do {
            if let cache = try run.preparePrefixCache(model: m, data: d, images: images, progress: progressSink()) {
                write(String(format: "cached the frozen prefix (blocks 0..<%d) of %d images × %d view%@: %.0f MB", cache.layer, cache.sampleCount,
                             cache.views, cache.views == 1 ? "" : "s", Double(cache.bytes) / 1e6))
            }
        } catch let e as CommandError { throw e } catch { throw args.error(String(describing: error)) }
        let first = run.stepsDone
        say("\(first == 0 ? "training" : "resuming") '\(run.name)' at step \(first + 1): \(run.config.steps) steps × \(run.batchSize) images (\(run.batchPerDomain) from each training domain), " +
              "\(run.classes.count) classes, λ=\(run.config.lambda) lr=\(run.config.learningRate) tune=\(run.tune) (\(formatCount(run.trainer.range.count)) trainable)" +
              "\(run.isPrefixCached ? ", prefix cached" : "")\(run.config.checkpoint ? ", checkpoint=on" : ""), averages: \(run.trainer.averages.map(\.label).joined(separator: ", "))")
        Interrupt.clear()
        // Periodic evaluations embed quietly (the training line stays on screen) and anew each time.
        let quiet = ProgressSink(begin: { _, _ in }, advance: { _, _ in }, end: {}, interrupted: { Interrupt.isRequested })
        let evaluate: ((Run) throws -> EvaluationResult)? = run.evalEvery == nil ? nil : { [unowned self] r in
            features.forget(run: r.name)
            return try features.evaluate(model: m, data: d, split: r.split, run: r, state: "final", part: r.evalPart, progress: quiet)
        }
        let stint = run.train(model: m, data: d, images: images, limit: limit, progress: progressSink(), evaluate: evaluate)
        // A stop agreed with other ranks of a job ends the session as this rank's own Ctrl-C would
        // (though it is not a signal this rank took: see Interrupt.signalsTaken).
        if run.stopReason?.hasPrefix("interrupted") == true { Interrupt.requested = 1 }
        if let reason = run.stopReason {
            writeError("train '\(run.name)': \(reason); the run keeps step \(run.stepsDone)'s weights and averages" +
                       (reason.hasPrefix("interrupted") ? " (continue with: train resume=\(run.name))" : ""))
        }
        if let e = run.evaluations.last, e.step > stint.from {
            write(String(format: "'%@' on %@ at step %d: accuracy %@%%, ECE %.3f (%d evaluations; curves shows them)", run.name, run.evalPart, e.step,
                         pct(e.accuracy), e.ece, run.evaluations.count))
        }
        if let last = run.log.last {
            write(String(format: "'%@': %d of %d steps done (%d in %@), last loss %.4f, train accuracy %.2f", run.name, run.stepsDone, run.config.steps,
                         stint.to - stint.from, duration(stint.seconds), last.record.loss, last.record.accuracy))
        }
    }

    func nextRunName() -> String {
        var i = runs.count + 1
        while runs["run\(i)"] != nil { i += 1 }
        return "run\(i)"
    }

    // MARK: compare

    /// The runs named by the `runs` positional (all runs when none is given); an unknown name is
    /// an error at its token.
    func requestedRuns(_ args: Arguments) throws -> [String] {
        for (n, t) in zip(args.strings("runs"), args.tokens("runs")) where runs[n] == nil {
            throw CommandError("no run named '\(n)'" + Suggestions.didYouMean(n, in: runOrder), at: t,
                               hint: runOrder.isEmpty ? "train one with: train" : "runs: " + runOrder.joined(separator: ", "))
        }
        return args.strings("runs").isEmpty ? runOrder : args.strings("runs")
    }

    func compare(_ args: Arguments) throws {
        let output = try TableOutput(args)
        let names = try requestedRuns(args)
        guard let first = names.first.flatMap({ runs[$0] }) else { throw args.error("no runs to compare", hint: "train one with: train") }
        let d = try dataNamed(first.dataName, args), m = try modelNamed(first.modelName, args)
        let parts = args[Workspace.comparedParts] ?? (first.split.open.isEmpty ? ["test"] : ["test", "open"])
        var header = ["weights"]
        for p in parts { header += ["\(p) acc %", "\(p) ECE"] }
        var rows: [[Table.Cell]] = []
        func row(_ label: String, run: Run?, state: String) throws {
            var r = [Table.Cell(label)]
            for p in parts {
                let e = try evaluate(model: m, data: d, run: run, state: state, part: p, args: args)
                r += [percent(e.accuracy), number(e.ece, "%.3f")]
            }
            rows.append(r)
        }
        try row("zero-shot", run: nil, state: "zeroshot")
        for n in names {
            let run = runs[n]!
            for (label, state) in run.comparedStates { try row("\(n) \(label)", run: run, state: state) }
        }
        let heading = "\(d.name), split \(first.split.spec.targets.isEmpty ? "" : "target=" + first.split.spec.targets.joined(separator: ","))"
        let table = Table(columns: header, rows: rows, caption: heading)
        try emit(table, text: heading + "\n" + table.render(.text), output: output, args: args)
    }
}
