import ClipoodCommands
import ClipoodData
import ClipoodEngine
import ClipoodExperiment
import ClipoodIO
import ClipoodModel
import ClipoodTrain
import Foundation

// load run DIR: a saved run back into the workspace, ready to evaluate, export or resume.

/// The arguments of `load run`.
private typealias L = LoadRunArguments
enum LoadRunArguments {
    static let source = Argument<String>.positional("source", .path(), metavar: "dir", help: "a directory written by save")
    static let model = OptionalArgument<String>.option("model", .path(), metavar: "PATH", help: "where the run's model is now (default: where it was trained from)")
    static let data = OptionalArgument<String>.option("data", .path(), metavar: "DIR", help: "where the run's dataset is now (default: where it was)")
    static let force = Argument<Bool>.flag("force", help: "accept a model whose weights differ from the recorded SHA-256")
    static let name = OptionalArgument<String>.keyword("as", .name(kind: "run"), metavar: "NAME", help: "name in the workspace (default: the saved name)")
}

extension Workspace {
    static let loadRunCommand = CommandSpec<Workspace>(
        "run",
        summary: "restore a run written by 'save RUN to DIR' with its model, data, split and prompt",
        discussion: """
        The run's model is loaded from the path it was trained from and checked against the SHA-256
        recorded with the run (model=PATH when it moved; force accepts different weights); its
        dataset is loaded (data=PATH when it moved), the run's split and prompt become the
        dataset's, and the model and dataset become the active ones — so eval, compare, zeroshot,
        margins and the plots work at once. The restored run can be continued with
        'train resume=RUN'; a resumed run ends exactly as an uninterrupted one would. A directory
        whose files do not match its manifest (an interrupted or mixed save) is refused.
        """,
        arguments: [
            L.source.spec, L.model.spec, L.data.spec, L.force.spec, L.name.spec,
        ],
        examples: ["load run runs/mms", "load run runs/mms model=~/models/b16 as mms2"],
        run: { ws, args in try ws.loadRun(args) })

    func loadRun(_ args: Arguments) throws {
        let dir = expandPath(args[L.source])
        let opened: RunStore.Opened
        do { opened = try RunStore.open(dir) } catch { throw args.error("source", String(describing: error)) }
        let rec = opened.record
        let name = args[L.name] ?? rec.run
        if runs[name] != nil { throw args.error(L.name, "a run named '\(name)' exists already", hint: "load it under another name: load run DIR as NAME") }
        let modelEntry = try runModel(rec, args: args)
        let dataEntry = try runData(rec, args: args)
        let run: Run
        do { run = try Run.restore(opened, requested: dir, as: name, model: modelEntry, data: dataEntry, features: features) } catch {
            throw args.error("source", String(describing: error))
        }
        let split = run.split
        // The whole context: the run's split and prompt on its dataset, its model and data active.
        if dataEntry.split != split {
            if let old = dataEntry.split { write("the split of '\(dataEntry.name)' is now the run's (it was: \(splitArguments(old.spec)))") }
            dataEntry.split = split
        }
        activeModelName = modelEntry.name
        activeDataName = dataEntry.name
        runs[name] = run
        runOrder.append(name)
        if let from = opened.recoveredFrom { writeError("warning: '\(from)' was missing after an interrupted save; loaded the previous save from '\(opened.dir)'") }
        write("loaded run '\(name)': \(rec.stepsDone) of \(rec.steps) steps, model '\(modelEntry.name)', data '\(dataEntry.name)', split \(splitArguments(split.spec))"
              + (rec.stepsDone < rec.steps ? " (continue with: train resume=\(name))" : ""))
    }

    /// The run's model: one already loaded from the same weights file, or loaded from the recorded
    /// path (or model=PATH), checked against the recorded SHA-256 unless forced.
    func runModel(_ rec: RunRecord, args: Arguments) throws -> ModelEntry {
        let given = args[L.model].map(expandPath)
        var path = given ?? rec.model
        if FileReading.kind(of: path) == .directory { path += "/model.safetensors" }
        let source = path.hasSuffix("/model.safetensors") ? String(path.dropLast("/model.safetensors".count)) : path
        let entry: ModelEntry
        if let m = models.values.sorted(by: { $0.name < $1.name }).first(where: { $0.loaded.weightsFile == path }) { entry = m } else {
            guard FileReading.kind(of: path) != nil else {
                throw args.error(given == nil ? "source" : "model", "the run's model '\(path)' is not there", hint: "if it moved, say where: load run DIR model=PATH")
            }
            let loaded: LoadedModel
            do { loaded = try CheckpointLoader.load(path: source) } catch { throw args.error(given == nil ? "source" : "model", "its model: \(error)") }
            let base = URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
            var mName = base, i = 2
            while models[mName] != nil { mName = base + "-\(i)"; i += 1 }
            entry = ModelEntry(name: mName, loaded: loaded)
            let hash = try wrapped(args, "source") { try hashes.sha256(loaded.weightsFile) }
            guard hash == rec.modelSHA256 || args[L.force] else {
                throw args.error(given == nil ? "source" : "model", "the weights in '\(loaded.weightsFile)' (SHA-256 \(hash.prefix(12))…) are not the ones run '\(rec.run)' was trained from (\(rec.modelSHA256.prefix(12))…)",
                                 hint: "give the right checkpoint with model=PATH, or add force to use these weights anyway")
            }
            models[entry.name] = entry
            write("loaded model '\(entry.name)' from \(source)")
            return entry
        }
        let hash = try wrapped(args, "source") { try hashes.sha256(entry.loaded.weightsFile) }
        guard hash == rec.modelSHA256 || args[L.force] else {
            throw args.error("source", "model '\(entry.name)' ('\(path)') now holds other weights than run '\(rec.run)' was trained from", hint: "add force to use them anyway")
        }
        return entry
    }

    /// The run's dataset: one already loaded from the same folder, or loaded (from data=DIR when given).
    func runData(_ rec: RunRecord, args: Arguments) throws -> DataEntry {
        let given = args[L.data].map(expandPath)
        let root = given ?? rec.data
        if let d = datasets.values.sorted(by: { $0.name < $1.name }).first(where: { $0.dataset.root == root }) { return d }
        guard FileReading.kind(of: root) == .directory else {
            throw args.error(given == nil ? "source" : "data", "the run's dataset '\(root)' is not there", hint: "if it moved, say where: load run DIR data=DIR")
        }
        var ds: Dataset
        do { ds = try Dataset.load(root: root) } catch { throw args.error(given == nil ? "source" : "data", "its data: \(error)") }
        ds.verifyImages()
        var dName = ds.name, i = 2
        while datasets[dName] != nil { dName = ds.name + "-\(i)"; i += 1 }
        let entry = DataEntry(name: dName, dataset: ds)
        datasets[entry.name] = entry
        write("loaded data '\(entry.name)' from \(root)")
        return entry
    }
}
