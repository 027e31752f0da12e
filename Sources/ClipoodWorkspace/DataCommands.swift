import ClipoodCommands
import ClipoodData
import ClipoodExperiment
import ClipoodDemo
import ClipoodTokenizer
import ClipoodEngine
import ClipoodIO
import Foundation

// load data, info data, split, prompt.

/// The arguments of `load data` and `generate data`.
private typealias D = DataArguments
enum DataArguments {
    static let source = Argument<String>.positional("source", .path(words: ["demo"]), metavar: "demo|dir", help: "dataset root directory, or demo (the built-in world of shapes)")
    static let layout = Argument<Layout>(.option("layout", .choice(Layout.allCases.map(\.rawValue)), default: "auto",
                                                 help: "directory layout (auto: domainbed when every entry of the root is a directory of directories)")) {
        $0.string("layout").flatMap(Layout.init(rawValue:))
    }
    static let name = OptionalArgument<String>.keyword("as", .name(kind: "data"), metavar: "NAME", help: "name in the workspace (default: the directory name)")
    static let preset = Argument<ShapesWorld.Preset>(.option("preset", .choice(ShapesWorld.Preset.allCases.map(\.rawValue)), default: "broad", help: "what captions call the objects: broad (mostly a coarse category) or classic (always the class)")) {
        $0.string("preset").flatMap(ShapesWorld.Preset.init(rawValue:))
    }
    /// broad's default `named` fraction as the help texts print it.
    static let namedDefault = String(format: "%g", ShapesWorld.Preset.broad.defaultNamed)
    static let named = OptionalArgument<Double>.option("named", 0 ... 1, help: "fraction of images whose captions name the class (preset broad; default \(namedDefault))")
    static let classes = Argument<Int>.option("classes", 1 ... 20, default: "16", help: "number of classes (the first N of the list)")
    static let perClass = Argument<Int>.option("per_class", 1 ... 100_000, default: "40", help: "images per class and domain")
    static let size = Argument<Int>.option("size", 8 ... 1024, default: "64", help: "image side in pixels")
    static let worldSeed = Shared.seed.help("world seed (default: the seed setting)")
    static let worldOutput = OptionalArgument<String>.keyword("to", .path(), metavar: "DIR", help: "output directory (default: the cache)")
    static let worldName = OptionalArgument<String>.keyword("as", .name(kind: "data"), metavar: "NAME", help: "load it under this name too")
}

/// The arguments of `split`.
private typealias S = SplitArguments
enum SplitArguments {
    static let targets = Argument<[String]>(.option("target", .list(.name(kind: "domain")), help: "held-out domain(s), comma-separated")) { $0.listStrings("target") }
    static let holdout = Argument<Double>.option("holdout", 0.01 ... 0.99, default: "0.2", help: "fraction of each domain held out for validation")
    static let open = OptionalArgument<Double>.option("open", 0.01 ... 0.99, help: "fraction of classes (the last ones, sorted) that are new")
    static let shots = OptionalArgument<Int>.option("shots", 1 ... 1_000_000, help: "training images per base class and domain")
    static let seed = Shared.seed.help("split seed (default: the seed setting)")
    static let test = Argument<String>.option("test", .choice(["whole", "holdout"]), default: "whole", help: "score the whole target domain or only its held-out part")
}

extension Workspace {
    static let loadDataCommand = CommandSpec<Workspace>(
        "data",
        summary: "load an image dataset: DomainBed layout root/DOMAIN/CLASS/IMAGE, or one domain as root/CLASS/IMAGE",
        discussion: """
        Domains and classes are sorted by name; `_` in a class name becomes a space in prompts.
        Every image is checked once (its header decoded); unreadable ones are skipped and listed.
        """,
        arguments: [
            D.source.spec, D.layout.spec, D.name.spec,
        ],
        examples: ["load data ~/data/PACS", "load data ~/data/pets layout=imagefolder as pets"],
        run: { ws, args in try ws.loadData(args) })

    static let generateCommand = CommandSpec<Workspace>(
        "generate",
        summary: "make data",
        subcommands: [
            CommandSpec("data", summary: "the built-in procedural world", subcommands: [
                CommandSpec(
                    "shapes",
                    summary: "a multi-domain world of simple figures (DomainBed-layout PNGs), deterministic for a seed",
                    discussion: """
                    Up to 20 object classes with natural names (round things, things with a stem or handle,
                    pointed things, animals) in 4 visually distinct domains — photo, sketch, cartoon,
                    painting — with random colour, size, position, rotation and clutter. Without `to DIR`
                    the images go into clipood's cache; `load data demo` loads the default world (seed 0).
                    The preset decides what `pretrain` captions call each object (attributes.tsv beside the
                    images); the images are the same in both. broad (the default): only a `named` fraction of
                    the images (default \(D.namedDefault)) is captioned with its class name, the others with a coarse
                    category ("a fruit", "an animal", "a thing"), so that naming the class is not the
                    pretraining task. classic: every caption names the class (the world of older sessions).
                    """,
                    arguments: [
                        D.preset.spec,
                        D.named.spec, D.classes.spec, D.perClass.spec, D.size.spec, D.worldSeed.spec, D.worldOutput.spec, D.worldName.spec,
                    ],
                    examples: ["generate data shapes", "generate data shapes classes=20 per_class=100 to ~/data/shapes as shapes",
                               "generate data shapes preset=classic"],
                    run: { ws, args in
                        let preset = args[D.preset]
                        if preset == .classic, let n = args[D.named], n != 1 {
                            throw args.error("named", "preset classic names the class in every caption (named=1), not \(n)")
                        }
                        let dir = try ws.demoWorld(classes: args[D.classes], perClass: args[D.perClass], size: args[D.size],
                                                   seed: args[D.worldSeed] ?? ws.settings.seed, preset: preset, named: args[D.named],
                                                   to: args[D.worldOutput].map(expandPath))
                        if let name = args[D.worldName] { try ws.executeNested("load data \"\(dir)\" as \(name)") }
                    }),
            ]),
        ])

    /// Writes the shapes world (unless the same one is already there) and returns its directory.
    func demoWorld(classes: Int, perClass: Int, size: Int, seed: Int, preset: ShapesWorld.Preset = .broad, named: Double? = nil,
                   to: String?) throws -> String {
        let named = named ?? preset.defaultNamed
        // Classic worlds keep the cache names they always had.
        let tag = preset == .classic ? "" : "\(preset.rawValue)-named\(named)-"
        let cache = VocabularyCache.directory.appendingPathComponent("worlds/shapes-\(tag)c\(classes)-n\(perClass)-s\(size)-seed\(seed)").path
        let dir = to ?? cache
        let marker = dir + "/.complete"
        // The marker says which preset the directory holds (empty: classic, as before presets).
        let stamp = preset == .classic ? "" : "\(preset.rawValue) \(named)\n"
        // Worlds written before attributes.tsv existed, or of another preset, are written again.
        if let done = try? String(contentsOfFile: marker, encoding: .utf8), done == stamp,
           FileManager.default.fileExists(atPath: dir + "/" + ShapesWorld.attributesFileName) { return dir }
        let total = classes * perClass * ShapesWorld.domains.count
        let progress = ProgressLine("generating shapes", total: total, workspace: self)
        do {
            try leaderWrites {
                try ShapesWorld.write(to: dir, classes: classes, perClass: perClass, size: size, seed: seed, preset: preset, named: named,
                                      progress: { done, _ in progress.update(done) })
                try AtomicWrite.write(stamp, to: marker)
            }
        } catch { throw MessageError(String(describing: error)) }
        write("generated \(total) images (\(classes) classes × \(ShapesWorld.domains.count) domains × \(perClass), \(size) px, seed \(seed)) in \(dir), " +
              "preset \(preset.rawValue)" + (preset == .classic ? "" : " (captions name the class on \(String(format: "%g", named * 100)) % of the images)"))
        return dir
    }

    /// Runs a line as a nested command, passing its error on.
    func executeNested(_ line: String) throws { try interpreter.execute(line: line) }

    static let infoDataCommand = CommandSpec<Workspace>(
        "data", summary: "images per domain × class, and the current split",
        arguments: [.positional("name", .name(kind: "data"), optional: true, help: "a loaded dataset (default: the active one)")],
        run: { ws, args in try ws.infoData(args) })

    static let splitCommand = CommandSpec<Workspace>(
        "split",
        summary: "choose the train / val / test / open parts of the active dataset (no options: show the current split)",
        discussion: """
        Each domain is split (seeded) into an in part (train, 1 − holdout) and an out part (val).
        Domain shift: target=DOMAIN tests on the held-out domain — all of it (test=whole, the
        default, as DomainBed scores) or only its out part (test=holdout, as the official CLIPood
        code scores). Open class: open=0.5 makes the first ⌈C/2⌉ sorted classes base (trained and
        tested among base names) and the rest new (the 'open' part, tested among new names only).
        Both at once is "in the wild": the target domain is tested among all class names.
        shots=N keeps N training images per base class and domain.
        to FILE and format= give the images per part and domain as one table: the columns domain,
        train, val, test, open and role (target or empty), a row per domain and a total row.
        """,
        arguments: [
            S.targets.spec, S.holdout.spec, S.open.spec, S.shots.spec, S.seed.spec, S.test.spec, Shared.tableOutput.spec, Shared.tableFormat.spec,
        ],
        examples: ["split target=sketch", "split open=0.5 shots=16", "split target=sketch open=0.5", "split to tables/split.csv"],
        run: { ws, args in try ws.makeSplit(args) })

    static let promptCommand = CommandSpec<Workspace>(
        "prompt",
        summary: "set the prompt template(s) of the active dataset ({} is the class name)",
        discussion: "Several templates are averaged after normalisation and re-normalised (CLIP's prompt ensembling).",
        arguments: [.positional("templates", .string, variadic: true, metavar: "template", help: "quoted templates with {}")],
        examples: [#"prompt "a photo of a {}.""#, #"prompt "a photo of a {}." "a sketch of a {}.""#],
        run: { ws, args in try ws.setPrompt(args) })

    func data(_ args: Arguments, argument: String = "name") throws -> DataEntry {
        try namedOrCurrent(args, argument: argument, in: datasets, current: activeDataName, noun: "dataset",
                           listed: "loaded: " + datasets.keys.sorted().joined(separator: ", "), none: "no dataset loaded", create: "load one with: load data DIR")
    }

    func loadData(_ args: Arguments) throws {
        var source = expandPath(args[D.source])
        if source == "demo" && !FileManager.default.fileExists(atPath: "demo") {
            // The built-in world (16 classes × 4 domains × 40 images at 64 px), generated once into the cache.
            // Experiments read only its images, which are the same in every preset; it is written with
            // the classic preset's attributes file, under the name it always had.
            source = try demoWorld(classes: 16, perClass: 40, size: 64, seed: 0, preset: .classic, to: nil)
        }
        let layout = args[D.layout]
        var dataset: Dataset
        do { dataset = try Dataset.load(root: source, layout: layout) } catch { throw args.error("source", String(describing: error)) }
        let progress = ProgressLine("checking images", total: dataset.imageCount, workspace: self)
        let bad = dataset.verifyImages(progress: { done, _ in progress.update(done) })
        let name = args[D.name] ?? dataset.name
        let entry = DataEntry(name: name, dataset: dataset)
        entry.skipped = bad.map { "\($0.path): \($0.reason)" }
        datasets[name] = entry
        activeDataName = name
        say("loaded data '\(name)': \(dataset.imageCount) images, \(dataset.domains.count) domain\(dataset.domains.count == 1 ? "" : "s") (\(dataset.domains.map(DisplayText.escaped).joined(separator: ", "))), \(dataset.classes.count) classes")
        if !bad.isEmpty {
            writeError("warning: skipped \(bad.count) unreadable image\(bad.count == 1 ? "" : "s"):\n" + entry.skipped.prefix(10).map { "  " + $0 }.joined(separator: "\n") + (bad.count > 10 ? "\n  …" : ""))
        }
        for w in dataset.warnings where !bad.contains(where: { w.contains($0.path) }) { writeError("warning: " + w) }
    }

    func infoData(_ args: Arguments) throws {
        let d = try data(args)
        write("dataset '\(d.name)' at \(d.dataset.root) (\(d.dataset.layout.rawValue))")
        write(d.dataset.countTable)
        write("prompt: " + d.templates.map { "\"\($0)\"" }.joined(separator: " "))
        if let s = d.split { write(s.description) } else { write("split: none yet (see 'help split')") }
        if !d.skipped.isEmpty { write("skipped \(d.skipped.count) unreadable image(s)") }
    }

    func makeSplit(_ args: Arguments) throws {
        let output = try TableOutput(args)
        let d = try data(args, argument: "data")
        if !["target", "holdout", "open", "shots", "seed", "test"].contains(where: args.has) { try showSplit(d, args, output: output); return }
        let targets = args[S.targets]
        for (i, t) in targets.enumerated() where d.dataset.domainIndex(t) == nil {
            _ = i
            throw args.error("target", "no domain '\(t)' in '\(d.name)'" + Suggestions.didYouMean(t, in: d.dataset.domains),
                             hint: "domains: " + d.dataset.domains.map(DisplayText.escaped).joined(separator: ", "))
        }
        let spec = SplitSpec(targets: targets, holdout: args[S.holdout], openRatio: args[S.open], shots: args[S.shots],
                             seed: args[S.seed] ?? settings.seed, testScope: args[S.test] == "holdout" ? .targetHoldout : .wholeTarget)
        do { d.split = try Split.make(dataset: d.dataset, spec: spec) } catch { throw args.error(String(describing: error)) }
        if let split = d.split { try JobAgreement.checkSplit(d, split: split) }
        features.forgetImages()
        try emit(splitTable(d.split!), text: d.split!.description, output: output, args: args)
    }

    /// The images per part and domain that `Split.description` lists, as a table.
    func splitTable(_ s: Split) -> Table {
        let parts = ["train", "val", "test", "open"]
        func count(_ n: Int) -> Table.Cell { Table.Cell(Double(n), shown: String(n)) }
        var rows = s.domains.indices.map { d -> [Table.Cell] in
            [Table.Cell(s.domains[d])] + parts.map { count(s.partCounts[$0]?[d] ?? 0) } + [Table.Cell(s.targetDomains.contains(d) ? "target" : "")]
        }
        rows.append([Table.Cell("total")] + [s.train.count, s.val.count, s.test.count, s.open.count].map(count) + [""])
        return Table(columns: ["domain"] + parts + ["role"], rows: rows, caption: s.description.split(separator: "\n").first.map(String.init))
    }

    func setPrompt(_ args: Arguments) throws {
        let d = try data(args, argument: "data")
        let templates = args.strings("templates")
        for (t, tok) in zip(templates, args.tokens("templates")) where !t.contains("{}") {
            throw CommandError("template \"\(t)\" has no {} for the class name", at: tok)
        }
        d.templates = templates
        features.forgetText()
        write("prompt for '\(d.name)': " + templates.map { "\"\($0)\"" }.joined(separator: " ") + " — e.g. \"\(d.prompts(forClass: 0)[0])\"")
    }
}

/// The `split` arguments that make this split again ("target=sketch seed=0").
func splitArguments(_ spec: SplitSpec) -> String {
    var words: [String] = []
    if !spec.targets.isEmpty { words.append("target=" + spec.targets.joined(separator: ",")) }
    words.append("holdout=\(spec.holdout)")
    if let r = spec.openRatio { words.append("open=\(r)") }
    if let n = spec.shots { words.append("shots=\(n)") }
    words.append("seed=\(spec.seed)")
    if spec.testScope != .wholeTarget { words.append("test=holdout") }
    return words.joined(separator: " ")
}
