import ClipoodCommands
import ClipoodData
import ClipoodEngine
import ClipoodModel
import ClipoodTrain
import Foundation

// load run DIR: a saved run back into the workspace, ready to evaluate, export or resume.

extension Workspace {
    static let loadRunCommand = CommandSpec<Workspace>(
        "run",
        summary: "restore a run written by 'save RUN to DIR' (loading its model and data when needed)",
        discussion: "The restored run can be evaluated, compared, exported, and continued with 'train resume=RUN'; a resumed run ends exactly as an uninterrupted one would.",
        arguments: [
            .positional("source", .path(), metavar: "dir", help: "a directory written by save"),
            .keyword("as", .name(kind: "run"), metavar: "NAME", help: "name in the workspace (default: the saved name)"),
        ],
        examples: ["load run runs/mms"],
        run: { ws, args in try ws.loadRun(args) })

    func loadRun(_ args: Arguments) throws {
        let dir = expandPath(args.string("source")!)
        func fail(_ message: String) -> CommandError { args.error("source", "'\(dir)': " + message) }
        guard let data = FileManager.default.contents(atPath: dir + "/run.json"),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw fail("no readable run.json (is this a directory written by 'save RUN to DIR'?)")
        }
        guard let savedName = json["run"] as? String, let modelPath = json["model"] as? String, let dataRoot = json["data"] as? String,
              let splitJSON = json["split"], let resume = json["resume"] as? [String: Any], let step = resume["step"] as? Int else {
            throw fail("run.json lacks run, model, data, split or resume")
        }
        let name = args.string("as") ?? savedName
        if runs[name] != nil { throw args.error("a run named '\(name)' exists already", hint: "load it under another name: load run DIR as NAME") }
        // The model: one already loaded from the same weights, or load it.
        let modelEntry: ModelEntry
        if let m = models.values.first(where: { $0.loaded.weightsFile == modelPath }) { modelEntry = m } else {
            let source = modelPath.hasSuffix("/model.safetensors") ? String(modelPath.dropLast("/model.safetensors".count)) : modelPath
            let loaded: LoadedModel
            do { loaded = try CheckpointLoader.load(path: source) } catch { throw fail("its model: \(error)") }
            let mName = URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
            modelEntry = ModelEntry(name: models[mName] == nil ? mName : mName + "-" + name, loaded: loaded)
            models[modelEntry.name] = modelEntry
            write("loaded model '\(modelEntry.name)' from \(source)")
        }
        let dataEntry: DataEntry
        if let d = datasets.values.first(where: { $0.dataset.root == dataRoot }) { dataEntry = d } else {
            var ds: Dataset
            do { ds = try Dataset.load(root: dataRoot) } catch { throw fail("its data: \(error)") }
            ds.verifyImages()
            dataEntry = DataEntry(name: datasets[ds.name] == nil ? ds.name : ds.name + "-" + name, dataset: ds)
            datasets[dataEntry.name] = dataEntry
            write("loaded data '\(dataEntry.name)' from \(dataRoot)")
        }
        let split: Split
        do {
            split = try JSONDecoder().decode(Split.self, from: JSONSerialization.data(withJSONObject: splitJSON))
            try split.validate(against: dataEntry.dataset)
        } catch { throw fail("its split does not fit the data: \(error)") }
        func number(_ k: String) -> Double? { (json[k] as? NSNumber)?.doubleValue }
        guard let steps = json["steps"] as? Int, let lr = number("lr"), let wd = number("weight_decay"), let lambda = number("lambda"),
              let tune = json["tune"] as? String, let batch = json["batch_per_domain"] as? Int, let seed = json["seed"] as? Int else {
            throw fail("run.json lacks a training setting")
        }
        var config = TrainingConfig(steps: steps)
        config.learningRate = lr
        config.weightDecay = wd
        config.lambda = Float(lambda)
        config.betas = (json["betas"] as? [NSNumber])?.map(\.doubleValue) ?? []
        config.emaDecay = (json["ema"] as? NSNumber).map { $0.floatValue }
        config.swa = json["swa"] as? Bool ?? false
        config.scale = (json["scale"] as? NSNumber)?.floatValue
        config.trainable = try parseTune(tune, model: modelEntry, args: args)
        let run = try makeRun(name: name, model: modelEntry, data: dataEntry, split: split, config: config, batchPerDomain: batch,
                              augment: json["augment"] as? Bool ?? true, seed: seed, interpolation: json["interpolation"] as? String ?? "bicubic",
                              tune: tune, cache: json["cache"] as? Bool ?? false, views: json["views"] as? Int ?? 1)
        // Weights, moments, averages, sampler and RNG positions.
        do {
            let state = try SafeTensorsFile(path: dir + "/state.safetensors")
            var averages: [String: [Float]] = [:]
            for a in run.trainer.averages { averages[a.label] = try state.floats("average." + a.label) }
            let sums = (resume["bma_weight_sums"] as? [String: NSNumber] ?? [:]).mapValues(\.doubleValue)
            let final = try state.floats("final")
            try run.trainer.restore(step: step, weights: final, m: try state.floats("adam.m"), v: try state.floats("adam.v"), averages: averages, bmaWeightSums: sums)
            // The model's range goes back to zero-shot; the run keeps its weights in `final`.
            let params = modelEntry.model.parameters.values.base + run.trainer.range.lowerBound
            params.update(from: run.trainer.zeroShot.base, count: run.trainer.range.count)
            final.withUnsafeBufferPointer { run.final.base.update(from: $0.baseAddress!, count: final.count) }
            if let s = resume["sampler"] {
                let samplerState = try JSONDecoder().decode(DomainSampler.State.self, from: JSONSerialization.data(withJSONObject: s))
                run.sampler = try DomainSampler(trainIndicesByDomain: split.trainByDomain(dataEntry.dataset).filter { !$0.isEmpty }, state: samplerState)
            }
            if let r = resume["augment_rng"] as? [String], let rng = RNG(state: r.compactMap { UInt64($0) }) { run.augmentRNG = rng }
        } catch let e as CommandError { throw e } catch { throw fail("its state: \(error)") }
        run.log = readLog(dir + "/log.csv")
        runs[name] = run
        runOrder.append(name)
        write("loaded run '\(name)': \(step) of \(steps) steps, model '\(modelEntry.name)', data '\(dataEntry.name)'" + (step < steps ? " (continue with: train resume=\(name))" : ""))
    }

    func readLog(_ path: String) -> [(record: StepRecord, seconds: Double)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let lines: [Substring] = Array(text.split(separator: "\n").dropFirst())
        var out: [(record: StepRecord, seconds: Double)] = []
        for line in lines {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 6, let step = Int(f[0]), let loss = Float(f[1]), let acc = Float(f[2]), let lr = Double(f[3]) else { continue }
            out.append((StepRecord(step: step, loss: loss, accuracy: acc, learningRate: lr), Double(f[5]) ?? 0))
        }
        return out
    }
}
