import ClipoodCommands
import ClipoodData
import ClipoodEngine
import ClipoodExperiment
import ClipoodImage
import ClipoodModel
import ClipoodTrain
import Foundation

// zeroshot, train, eval, compare, margins, save, export.

extension Workspace {
    static let zeroshotCommand = CommandSpec<Workspace>(
        "zeroshot",
        summary: "zero-shot accuracy of the active model on a part of the active split",
        arguments: [.keyword("on", .choice(["test", "val", "open", "train"]), metavar: "PART", help: "split part (default test)")],
        examples: ["zeroshot", "zeroshot on open"],
        run: { ws, args in
            let m = try ws.model(args, argument: "model"), d = try ws.data(args, argument: "data")
            let part = args.string("on") ?? "test"
            let r = try ws.evaluate(model: m, data: d, run: nil, state: "zeroshot", part: part, args: args)
            ws.write(ws.describe(r, title: "zero-shot \(m.name) on \(d.name) \(part)"))
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
        """,
        arguments: [
            .option("steps", .int(1 ... 10_000_000), help: "optimiser steps (default: 1 epoch)"),
            .option("epochs", .float(0.001 ... 100_000), help: "passes over the largest training domain (instead of steps)"),
            .option("batch", .int(1 ... 4096), default: "12", help: "images per training domain per step"),
            .option("lr", .float(0 ... 10), default: "5e-6", help: "peak learning rate (cosine annealed to 0)"),
            .option("wd", .float(0 ... 10), default: "0.1", help: "AdamW decoupled weight decay"),
            .option("lambda", .float(0 ... 10), default: "0.3", help: "MMS margin strength (0: cross-entropy baseline)"),
        ] + averageOptions() + [
            .option("scale", .float(0.001 ... 1e6), help: "logit scale s (default: exp(logit_scale) of the model)"),
            .option("tune", .string, default: "full", metavar: "full|lastK|proj", help: "what to train: the whole image tower, its last K blocks, or the projection"),
            .option("augment", .bool, default: "on", help: "RandomResizedCrop(0.7–1) + flip on training images"),
            .option("interpolation", .choice(["bicubic", "bilinear"]), default: "bicubic", help: "resampling of images"),
            .option("cache", .choice(["auto", "on", "off"]), default: "auto", help: "cache the frozen prefix's output per image view (auto: on for lastK / proj)"),
            .option("views", .int(1 ... 1000), default: "4", help: "augmented views cached per training image (with cache and augment on)"),
            .option("seed", .int(0 ... Int(Int32.max)), help: "seed for sampling and augmentation (default: the seed setting)"),
            .option("pause", .int(1 ... 10_000_000), help: "stop after this many steps (the schedule still spans steps=); continue with train resume=RUN"),
            .option("resume", .name(kind: "run"), metavar: "RUN", help: "continue a run (interrupted, loaded with 'load run', or cut short by steps=) with its own settings"),
            .keyword("as", .name(kind: "run"), metavar: "RUN", help: "name of the run (default run1, run2, …)"),
        ],
        examples: ["train steps=500 as mms", "train steps=500 lambda=0 as ce", "train epochs=2 tune=last1 beta=0.1,0.5,1", "train resume=mms"],
        run: { ws, args in try ws.train(args) })

    static let evalCommand = CommandSpec<Workspace>(
        "eval",
        summary: "accuracy and calibration of a run's weights on a split part",
        arguments: [
            .positional("run", .name(kind: "run"), optional: true, help: "a run (default: the last one)"),
            .option("model", .string, default: "final", metavar: "final|bma|bma:B|ema|swa|zeroshot|wise:A", help: "which weights"),
            .keyword("on", .choice(["test", "val", "open", "train"]), metavar: "PART", help: "split part (default test)"),
            .flag("per_class", help: "also print accuracy per class"),
        ],
        examples: ["eval", "eval mms model=bma on open", "eval mms model=wise:0.5"],
        run: { ws, args in
            let run = try ws.run(args)
            let part = args.string("on") ?? "test"
            let state = args.string("model")!
            let r = try ws.evaluate(model: try ws.modelNamed(run.modelName, args), data: try ws.dataNamed(run.dataName, args), run: run, state: state, part: part, args: args)
            ws.write(ws.describe(r, title: "\(run.name) \(state) on \(part)", perClass: args.flag("per_class") ? ws.datasets[run.dataName]?.dataset.classNames : nil,
                                 classIDs: try ws.classSet(part: part, split: run.split, data: ws.dataNamed(run.dataName, args))))
        })

    static let compareCommand = CommandSpec<Workspace>(
        "compare",
        summary: "one table: zero-shot, final, each average and WiSE-FT of runs, on the split's parts",
        arguments: [
            .positional("runs", .name(kind: "run"), optional: true, variadic: true, metavar: "run", help: "runs (default: all)"),
            .keyword("on", .list(.choice(["test", "val", "open", "train"])), metavar: "PARTS", help: "parts (default: test and open when present)"),
        ],
        run: { ws, args in try ws.compare(args) })

    // MARK: Shared pieces

    func modelNamed(_ n: String, _ args: Arguments) throws -> ModelEntry {
        guard let m = models[n] else { throw args.error("model '\(n)' of this run is no longer loaded") }
        return m
    }

    func dataNamed(_ n: String, _ args: Arguments) throws -> DataEntry {
        guard let d = datasets[n] else { throw args.error("dataset '\(n)' of this run is no longer loaded") }
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
        switch part {
        case "open": return split.openClasses
        case "test": return split.testClasses
        default: return split.baseClasses.isEmpty ? Array(0 ..< data.dataset.classes.count) : split.baseClasses
        }
    }

    func indices(part: String, split: Split) -> [Int] {
        switch part {
        case "val": return split.val
        case "open": return split.open
        case "train": return split.train
        default: return split.test
        }
    }

    /// Normalised, template-averaged text features (K, D) of `classes`, cached per model and prompt.
    func textFeatures(model m: ModelEntry, data d: DataEntry, classes: [Int]) throws -> FloatBuffer {
        let key = "\(m.name)|\(d.name)|\(d.templates.joined(separator: "\u{1}"))|\(classes.map(String.init).joined(separator: ","))"
        if let t = textCache[key] { return t }
        let tokenizer = try m.tokenizer()
        let D = m.model.config.embedDim, ctx = m.model.config.text.contextLength, nT = d.templates.count
        let out = FloatBuffer(count: classes.count * D)
        let norms = FloatBuffer(count: nT), one = FloatBuffer(count: nT * D)
        for (k, c) in classes.enumerated() {
            let ids = tokenizer.tokenize(d.prompts(forClass: c), contextLength: ctx)
            let f = m.model.text.forward(ids: ids, B: nT)
            L2Normalize.forward(out: one.base, norms: norms.base, inp: f, N: nT, C: D)
            let row = out.base + k * D
            for t in 0 ..< nT { for i in 0 ..< D { row[i] += one.base[t * D + i] } }
        }
        let n2 = FloatBuffer(count: classes.count)
        L2Normalize.forward(out: out.base, norms: n2.base, inp: out.base, N: classes.count, C: D)
        textCache[key] = out
        return out
    }

    /// Image features (N, D) of a split part under a run's weight state, batched and cached.
    func imageFeatures(model m: ModelEntry, data d: DataEntry, indices: [Int], run: Run?, state: String, part: String, interpolation: Interpolation) throws -> FloatBuffer {
        // Keyed by the indices themselves (a hash), so a part that changed with the same size is not mistaken for the old one.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in indices { hash = (hash ^ UInt64(truncatingIfNeeded: i)) &* 0x100_0000_01b3 }
        let key = "\(m.name)|\(d.name)|\(run?.name ?? "-")|\(run == nil ? "zeroshot" : state)|\(part)|\(indices.count):\(String(hash, radix: 16))|\(interpolation.rawValue)"
        if let f = featureCache[key] { return f }
        let S = m.model.config.vision.imageSize, D = m.model.config.embedDim
        let batch = 32
        try MemoryEstimate.evaluation(m.model.config, images: indices.count, classes: d.dataset.classes.count, batch: batch,
                                      trainableCount: run?.trainer.range.count ?? 0).require(for: "embedding \(part) (\(indices.count) images)")
        let out = FloatBuffer(count: indices.count * D)
        let pixels = FloatBuffer(count: batch * 3 * S * S)
        var rng = RNG(seed: 0)   // unused by the eval transform
        try withWeights(m, run: run, state: state) {
            let progress = ProgressLine("embedding \(part)", total: indices.count, workspace: self)
            var start = 0
            while start < indices.count {
                if Interrupt.isRequested { progress.finish(); throw CommandError("interrupted (Ctrl-C) while embedding \(part)") }
                let b = min(batch, indices.count - start)
                try images.pixels(for: Array(indices[start ..< start + b]), in: d.dataset, size: S, augment: false,
                                  interpolation: interpolation, rng: &rng, into: pixels.base)
                let f = m.model.vision.forward(pixels: pixels.base, B: b)
                (out.base + start * D).update(from: f, count: b * D)
                start += b
                progress.update(start)
            }
        }
        featureCache[key] = out
        return out
    }

    /// Runs `body` with a run's weight state in the model's trainable range, then restores it.
    func withWeights(_ m: ModelEntry, run: Run?, state: String, _ body: () throws -> Void) throws {
        guard let run, state != "zeroshot" else { try body(); return }
        let weights = try run.weights(state)
        let range = run.trainer.range
        let params = m.model.parameters.values.base + range.lowerBound
        let saved = FloatBuffer(count: range.count)
        saved.base.update(from: params, count: range.count)
        params.update(from: weights.base, count: range.count)
        defer { params.update(from: saved.base, count: range.count) }
        try body()
    }

    func evaluate(model m: ModelEntry, data d: DataEntry, run: Run?, state: String, part: String, args: Arguments) throws -> EvaluationResult {
        let split = try run?.split ?? requireSplit(d, args)
        let idx = indices(part: part, split: split)
        guard !idx.isEmpty else { throw args.error("the split has no '\(part)' part" + (part == "open" ? " (use split open=RATIO)" : "")) }
        let classes = classSet(part: part, split: split, data: d)
        let text = try textFeatures(model: m, data: d, classes: classes)
        let interp = Interpolation(rawValue: run?.interpolation ?? "bicubic") ?? .bicubic
        let feats: FloatBuffer
        do { feats = try imageFeatures(model: m, data: d, indices: idx, run: run, state: state, part: part, interpolation: interp) } catch let e as CommandError { throw e } catch {
            throw args.error(String(describing: error))
        }
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let labels = idx.map { Int32(position[d.dataset.samples[$0].label] ?? -1) }
        guard !labels.contains(-1) else { throw args.error("the '\(part)' part has images of classes outside its class set") }
        let scale = run?.trainer.loss.scale ?? m.model.logitScale
        let result = Evaluation.classify(features: feats.base, N: idx.count, textFeatures: text.base, K: classes.count, D: m.model.config.embedDim,
                                         scale: scale, labels: labels, groups: idx.map { d.dataset.samples[$0].domain }, groupNames: d.dataset.domains)
        run?.remember(result, weights: state, part: part)
        return result
    }

    func describe(_ r: EvaluationResult, title: String, perClass names: [String]? = nil, classIDs: [Int] = []) -> String {
        var rows = r.groups.filter { $0.count > 0 }.map { [$0.name, String($0.count), pct(Double($0.correct) / Double($0.count))] }
        rows.append(["all", String(r.count), pct(r.accuracy)])
        var s = "\(title): accuracy \(pct(r.accuracy))%, ECE \(String(format: "%.3f", r.ece))\n" + TextTable.render(header: ["domain", "images", "acc %"], rows: rows)
        if let names {
            let pc = zip(classIDs, r.perClass).filter { $0.1.count > 0 }.map { [names[$0.0], String($0.1.count), pct(Double($0.1.correct) / Double($0.1.count))] }
            s += "\n" + TextTable.render(header: ["class", "images", "acc %"], rows: pc)
        }
        return s
    }

    func pct(_ x: Double) -> String { x.isFinite ? String(format: "%.1f", 100 * x) : "–" }

    // MARK: train

    func train(_ args: Arguments) throws {
        if let resume = args.string("resume") {
            // Everything train declares belongs to the run, but which run and how many more steps.
            let allowed: Set<String> = ["resume", "steps"]
            for a in Workspace.trainCommand.arguments.map(\.name) where args.has(a) && !allowed.contains(a) {
                throw args.error(a, "'\(a)' cannot change when resuming: the run keeps its own settings (only steps= limits how many more steps run)")
            }
            guard let run = runs[resume] else {
                throw args.error("resume", "no run named '\(resume)'" + Suggestions.didYouMean(resume, in: runOrder), hint: "load a saved one with: load run DIR")
            }
            guard run.stepsDone < run.config.steps else { throw args.error("resume", "run '\(resume)' has done all its \(run.config.steps) steps") }
            run.stopReason = nil
            let before = run.stepsDone
            try runSteps(run, limit: args.int("steps"), args: args)
            // Stopped early: it replays as the steps it did.
            if run.stopReason != nil { replayAs(stepsDone: run.stepsDone - before, option: "steps") }
            return
        }
        let m = try model(args, argument: "model"), d = try data(args, argument: "data")
        let split = try requireSplit(d, args)
        let name = args.string("as") ?? nextRunName()
        if runs[name] != nil { throw args.error("as", "a run named '\(name)' exists already", hint: "choose another name with: as NAME") }
        let tune = args.string("tune")!
        let trainable = try parseTune(tune, model: m, args: args)
        if args.string("cache") == "on" && tune == "full" { throw args.error("cache", "cache=on needs a frozen prefix: tune=lastK or proj") }
        let byDomain = split.trainByDomain(d.dataset).filter { !$0.isEmpty }
        guard !byDomain.isEmpty else { throw args.error("the split's training part is empty") }
        let batch = args.int("batch")!
        let steps: Int
        if let s = args.int("steps") { steps = s } else {
            let epochs = args.double("epochs") ?? 1
            steps = max(1, Int((epochs * Double(byDomain.map(\.count).max()!) / Double(batch)).rounded(.up)))
        }
        var config = TrainingConfig(steps: steps)
        config.learningRate = args.double("lr")!
        config.weightDecay = args.double("wd")!
        config.lambda = args.float("lambda")!
        config.averages = averageChoices(args)
        config.scale = args.float("scale")
        config.trainable = trainable
        let augment = args.flag("augment")
        let run = try makeRun(name: name, model: m, data: d, split: split, config: config, batchPerDomain: batch, augment: augment,
                              seed: args.int("seed") ?? settings.seed, interpolation: args.string("interpolation")!, tune: tune,
                              cache: tune != "full" && args.string("cache") != "off", views: augment ? args.int("views")! : 1)
        runs[name] = run
        runOrder.append(name)
        try runSteps(run, limit: args.int("pause"), args: args)
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

    func makeRun(name: String, model m: ModelEntry, data d: DataEntry, split: Split, config: TrainingConfig, batchPerDomain: Int, augment: Bool,
                 seed: Int, interpolation: String, tune: String, cache: Bool, views: Int) throws -> Run {
        let classes = split.baseClasses.isEmpty ? Array(0 ..< d.dataset.classes.count) : split.baseClasses
        let domains = split.trainByDomain(d.dataset).filter { !$0.isEmpty }.count
        try MemoryEstimate.trainingStep(m.model.config, parameterCount: m.model.parameterCount, trainableCount: m.model.trainableRange(config.trainable).count,
                                        trainable: config.trainable, batch: MemoryEstimate.times(batchPerDomain, domains), classes: classes.count,
                                        averages: config.averages.count, cachedViews: cache ? MemoryEstimate.times(split.train.count, views) : 0)
            .require(for: "training '\(name)' (batch \(batchPerDomain) × \(domains) domains)", hint: "use a smaller batch=" + (cache ? ", fewer views= or cache=off" : ""))
        let text = try textFeatures(model: m, data: d, classes: classes)
        let trainer = Trainer(model: m.model, textFeatures: text, classes: classes.count, config: config)
        let byDomain = split.trainByDomain(d.dataset).filter { !$0.isEmpty }
        return Run(name: name, modelName: m.name, dataName: d.name, split: split, config: config, batchPerDomain: batchPerDomain, augment: augment,
                   seed: seed, interpolation: interpolation, tune: tune, classes: classes, trainer: trainer,
                   sampler: DomainSampler(trainIndicesByDomain: byDomain, batchPerDomain: batchPerDomain, rng: RNG(seed: seed).derived("sampler")),
                   augmentRNG: RNG(seed: seed).derived("augment"), usesCache: cache, views: views, templates: d.templates)
    }

    /// Runs steps of `run` until its last step, `limit` more steps, Ctrl-C, or a non-finite
    /// loss. Between commands the workspace's model holds the zero-shot weights; the run's own
    /// weights are swapped in for the duration and saved back after.
    func runSteps(_ run: Run, limit: Int?, args: Arguments) throws {
        let m = try modelNamed(run.modelName, args), d = try dataNamed(run.dataName, args)
        let trainer = run.trainer
        let S = m.model.config.vision.imageSize, B = run.sampler.batchSize
        let interp = Interpolation(rawValue: run.interpolation) ?? .bicubic
        if run.usesCache && run.cache == nil {
            do {
                run.cache = try PrefixCache(workspace: self, model: m, data: d, samples: run.split.train, views: run.views,
                                            layer: trainer.firstTrainableLayer, augment: run.augment, interpolation: interp, rng: RNG(seed: run.seed).derived("views"))
            } catch let e as CommandError { throw e } catch { throw args.error(String(describing: error)) }
        }
        let pixels = FloatBuffer(count: run.cache == nil ? B * 3 * S * S : 0)
        let streams = FloatBuffer(count: run.cache == nil ? 0 : B * m.model.vision.streamSize)
        let position = Dictionary(uniqueKeysWithValues: run.classes.enumerated().map { ($1, Int32($0)) })
        let range = trainer.range
        let params = m.model.parameters.values.base + range.lowerBound
        if run.stepsDone > 0 { params.update(from: run.final.base, count: range.count) }
        defer {
            // The workspace's model stays the zero-shot checkpoint; the run keeps its own weights.
            run.final.base.update(from: params, count: range.count)
            params.update(from: trainer.zeroShot.base, count: range.count)
            featureCache = featureCache.filter { !$0.key.contains("|\(run.name)|") }
        }
        let target = min(run.config.steps, trainer.step + (limit ?? run.config.steps))
        let first = trainer.step
        write("\(first == 0 ? "training" : "resuming") '\(run.name)' at step \(first + 1): \(run.config.steps) steps × \(B) images (\(run.batchPerDomain) from each training domain), " +
              "\(run.classes.count) classes, λ=\(run.config.lambda) lr=\(run.config.learningRate) tune=\(run.tune) (\(formatCount(range.count)) trainable)" +
              "\(run.cache == nil ? "" : ", prefix cached"), averages: \(trainer.averages.map(\.label).joined(separator: ", "))")
        let progress = ProgressLine("train \(run.name)", total: target - first, workspace: self)
        Interrupt.clear()
        let start = Date()
        while trainer.step < target {
            if Interrupt.isRequested {
                run.stopReason = "interrupted (Ctrl-C) after step \(trainer.step) of \(run.config.steps)"
                progress.finish()
                break
            }
            let idx = run.sampler.next()
            do {
                if let cache = run.cache {
                    cache.gather(idx, rng: &run.augmentRNG, into: streams.base)
                } else {
                    try images.pixels(for: idx, in: d.dataset, size: S, augment: run.augment, interpolation: interp, rng: &run.augmentRNG, into: pixels.base)
                }
            } catch {
                run.stopReason = "stopped at step \(trainer.step + 1): \(error)"
                progress.finish()
                break
            }
            let labels = idx.map { position[d.dataset.samples[$0].label]! }
            let t0 = Date()
            do {
                let r = run.cache == nil ? try trainer.step(pixels: pixels.base, labels: labels, B: idx.count)
                                         : try trainer.step(streams: streams.base, labels: labels, B: idx.count)
                run.log.append((r, Date().timeIntervalSince(t0)))
                progress.update(r.step - first, detail: String(format: "loss %.4f acc %.2f lr %.2e", r.loss, r.accuracy, r.learningRate))
            } catch {
                run.stopReason = String(describing: error)
                progress.finish()
                break
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        if trainer.step > first { run.unsaved = true }
        if let reason = run.stopReason {
            writeError("train '\(run.name)': \(reason); the run keeps step \(trainer.step)'s weights and averages" +
                       (reason.hasPrefix("interrupted") ? " (continue with: train resume=\(run.name))" : ""))
        }
        if let last = run.log.last {
            write(String(format: "'%@': %d of %d steps done (%d in %@), last loss %.4f, train accuracy %.2f", run.name, trainer.step, run.config.steps,
                         trainer.step - first, duration(elapsed), last.record.loss, last.record.accuracy))
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
        let names = try requestedRuns(args)
        guard let first = names.first.flatMap({ runs[$0] }) else { throw args.error("no runs to compare", hint: "train one with: train") }
        let d = try dataNamed(first.dataName, args), m = try modelNamed(first.modelName, args)
        var parts = args.listStrings("on")
        if parts.isEmpty { parts = first.split.open.isEmpty ? ["test"] : ["test", "open"] }
        var header = ["weights"]
        for p in parts { header += ["\(p) acc %", "\(p) ECE"] }
        var rows: [[String]] = []
        func row(_ label: String, run: Run?, state: String) throws {
            var r = [label]
            for p in parts {
                let e = try evaluate(model: m, data: d, run: run, state: state, part: p, args: args)
                r += [pct(e.accuracy), String(format: "%.3f", e.ece)]
            }
            rows.append(r)
        }
        try row("zero-shot", run: nil, state: "zeroshot")
        for n in names {
            let run = runs[n]!
            let kind = run.config.lambda == 0 ? "CE" : "MMS λ=\(run.config.lambda)"
            try row("\(n) final (\(kind))", run: run, state: "final")
            for a in run.trainer.averages { try row("\(n) \(a.label)", run: run, state: a.label) }
            try row("\(n) wise:0.5", run: run, state: "wise:0.5")
        }
        write("\(d.name), split \(first.split.spec.targets.isEmpty ? "" : "target=" + first.split.spec.targets.joined(separator: ","))")
        write(TextTable.render(header: header, rows: rows))
    }
}

/// The frozen prefix's output for every (training image, view), computed once (see `train`'s help).
final class PrefixCache {
    let views: Int
    let rowSize: Int
    let rows: [Int: Int]        // sample index → first row
    let storage: FloatBuffer

    /// Refuses to use more than this much memory; the error says how to need less.
    static let budgetBytes = 8 << 30

    init(workspace ws: Workspace, model m: ModelEntry, data d: DataEntry, samples: [Int], views: Int, layer: Int,
         augment: Bool, interpolation: Interpolation, rng: RNG) throws {
        self.views = views
        rowSize = m.model.vision.streamSize
        let count = samples.count * views
        let bytes = count * rowSize * MemoryLayout<Float>.size
        guard bytes <= PrefixCache.budgetBytes else {
            throw MessageError(String(format: "the prefix cache would need %.1f GB (%d images × %d views × %d floats)", Double(bytes) / 1e9, samples.count, views, rowSize)
                                   + "; use fewer views=, augment=off, or cache=off")
        }
        storage = FloatBuffer(count: count * rowSize)
        rows = Dictionary(uniqueKeysWithValues: samples.enumerated().map { ($1, $0 * views) })
        let S = m.model.config.vision.imageSize, batch = 16
        let pixels = FloatBuffer(count: batch * 3 * S * S)
        var rng = rng
        let progress = ProgressLine("caching prefix", total: count, workspace: ws)
        var done = 0
        for v in 0 ..< views {
            var start = 0
            while start < samples.count {
                let chunk = Array(samples[start ..< min(start + batch, samples.count)])
                try ws.images.pixels(for: chunk, in: d.dataset, size: S, augment: augment, interpolation: interpolation, rng: &rng, into: pixels.base)
                let out = FloatBuffer(count: chunk.count * rowSize)
                m.model.vision.prefix(pixels: pixels.base, B: chunk.count, upTo: layer, into: out.base)
                for (i, sample) in chunk.enumerated() {
                    (storage.base + (rows[sample]! + v) * rowSize).update(from: out.base + i * rowSize, count: rowSize)
                }
                start += chunk.count
                done += chunk.count
                progress.update(done)
            }
        }
        ws.write(String(format: "cached the frozen prefix (blocks 0..<%d) of %d images × %d view%@: %.0f MB", layer, samples.count, views, views == 1 ? "" : "s", Double(bytes) / 1e6))
    }

    /// Copies one view of each sample's cached stream into `out` (B, T, W).
    func gather(_ samples: [Int], rng: inout RNG, into out: UnsafeMutablePointer<Float>) {
        for (i, s) in samples.enumerated() {
            let view = views == 1 ? 0 : rng.below(views)
            (out + i * rowSize).update(from: storage.base + (rows[s]! + view) * rowSize, count: rowSize)
        }
    }
}
