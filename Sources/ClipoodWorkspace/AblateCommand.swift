import ClipoodCommands
import ClipoodData
import ClipoodEngine
import ClipoodExperiment
import ClipoodTrain
import Foundation

// ablate: the paper's comparisons over a grid of λ and seeds, as mean ± std tables.

/// The arguments of `ablate` (batch= is train's).
enum AblateArguments {
    static let lambdas = Argument<[Double]>.list("lambda", 0 ... 10, default: "0,0.1,0.3,0.5", help: "MMS margin strengths (0: the CE baseline)")
    static let seeds = Argument<[Int]>.list("seeds", 0 ... Int(Int32.max), default: "0,1,2", help: "seeds (split, sampling, augmentation)")
    static let setting = Argument<String>.option("setting", .choice(["shift", "open", "wild"]), default: "shift", help: "domain shift, open class, or in the wild")
    static let targets = Argument<[String]>(.option("target", .list(.name(kind: "domain")), help: "held-out domain(s) for shift and wild (default: the last domain)")) {
        $0.listStrings("target")
    }
    static let steps = Argument<Int>.option("steps", 1 ... 10_000_000, default: "150", help: "steps per run")
}

extension Workspace {
    static let ablateCommand = CommandSpec<Workspace>(
        "ablate",
        summary: "train a grid of runs (λ × seeds) and tabulate every weight state as mean ± std over seeds",
        discussion: """
        For each seed: the split is redrawn with that seed (setting=shift: target domain held out;
        open: base-to-new classes; wild: both), then one run per λ is trained with that seed, keeping
        BMA for every beta, an EMA and SWA. Every state — zero-shot, final, each BMA, EMA, SWA,
        WiSE-FT(0.5) — is evaluated on the test part (and the open part when there is one) and the
        accuracies are reported as mean ± standard deviation over the seeds, one column per λ.
        to FILE and format= give the tables of all parts as one table with a part column first
        (test, then open); .md and .tex keep the "mean ± std" cells, .csv and .json give each λ
        two columns, "λ=X" (the mean) and "λ=X std", at full precision. The destination is
        checked before any training.
        """,
        arguments: [
            AblateArguments.lambdas.spec, AblateArguments.seeds.spec, AblateArguments.setting.spec, AblateArguments.targets.spec,
            AblateArguments.steps.spec, TrainArguments.batch.spec, Shared.lr.spec,
        ] + averageOptions(defaults: ["beta": "0.1,0.5,1", "ema": "0.99"]) + [Shared.tableOutput.spec, Shared.tableFormat.spec],
        examples: ["ablate", "ablate setting=wild seeds=0,1,2 steps=100", "ablate seeds=0,1,2 to tables/ablation.tex"],
        run: { ws, args in try ws.ablate(args) })

    func ablate(_ args: Arguments) throws {
        let output = try TableOutput(args)
        let m = try model(args, argument: "model"), d = try data(args, argument: "data")
        let lambdas = args[AblateArguments.lambdas], averages = averageChoices(args)
        let seeds = args[AblateArguments.seeds], steps = args[AblateArguments.steps]
        let setting = args[AblateArguments.setting]
        var targets = args[AblateArguments.targets]
        if targets.isEmpty && setting != "open" { targets = [d.dataset.domains.last!] }
        if setting == "open" { targets = [] }
        let parts = setting == "shift" ? ["test"] : ["test", "open"]
        let states = ["zeroshot", "final"] + averages.map(WeightAverageKind.label(of:)) + ["wise:0.5"]
        var results: [String: [Double]] = [:]   // "part|state|λ" → accuracy per seed
        let previousSplit = d.split
        defer { d.split = previousSplit }   // zero-shot rows are scored on each seed's split
        for seed in seeds {
            let spec = SplitSpec(targets: targets, holdout: 0.2, openRatio: setting == "shift" ? nil : 0.5, shots: nil, seed: seed, testScope: .wholeTarget)
            let split: Split
            do { split = try Split.make(dataset: d.dataset, spec: spec) } catch { throw args.error("target", String(describing: error)) }
            d.split = split
            features.forgetZeroShot()
            for lambda in lambdas {
                var config = TrainingConfig(steps: steps)
                config.learningRate = args[Shared.lr] ?? TrainingConfig.defaultLearningRate(visionWidth: m.model.config.vision.width)
                config.lambda = Float(lambda)
                config.averages = averages
                let name = "ablate-\(setting)-l\(formatBeta(lambda))-s\(seed)"
                if runs[name] != nil { runs[name] = nil; runOrder.removeAll { $0 == name } }
                let run = try Run(name: name, model: m, data: d, split: split, config: config, batchPerDomain: args[TrainArguments.batch], augment: true,
                                      seed: seed, interpolation: "bicubic", tune: "full", cache: false, views: 1, features: features)
                runs[name] = run
                runOrder.append(name)
                try runSteps(run, limit: nil, args: args)
                for part in parts {
                    for state in states {
                        let r = try evaluate(model: m, data: d, run: state == "zeroshot" ? nil : run, state: state, part: part, args: args)
                        results["\(part)|\(state)|\(lambda)", default: []].append(r.accuracy)
                    }
                }
            }
        }
        var result = AblationResult(setting: setting, lambdas: lambdas, seeds: seeds, steps: steps, states: states, parts: parts, scopes: [:], accuracies: results)
        for part in parts {
            result.scopes[part] = part == "open" ? "new classes, among new class names" : setting == "open" ? "base classes" : "held-out domain \(targets.joined(separator: ","))" + (setting == "wild" ? ", among all class names" : "")
        }
        ablations[setting] = result
        ablationOrder.removeAll { $0 == setting }
        ablationOrder.append(setting)
        let seedList = seeds.map(String.init).joined(separator: ",")
        let columns = ["weights"] + lambdas.map { "λ=\(formatBeta($0))" }
        var text: [String] = []
        var file = Table(columns: ["part"] + columns,
                         caption: "\(setting) setting: accuracy % (" + parts.map { "\($0): \(result.scopes[$0]!)" }.joined(separator: "; ")
                             + "), mean ± std over seeds \(seedList), \(result.steps) steps per run")
        for part in parts {
            let rows = states.map { state -> [Table.Cell] in
                [Table.Cell(state == "final" ? "final (λ=0: CE)" : state)] + lambdas.map { l in
                    guard let (mean, sd) = result.meanAndDeviation(part: part, state: state, lambda: l) else { return Table.Cell(.nan, spread: .nan, shown: "–") }
                    return Table.Cell(mean, spread: sd, shown: String(format: "%.1f ± %.1f", mean, sd))
                }
            }
            let table = Table(columns: columns, rows: rows)
            text += ["\(part) accuracy % (\(result.scopes[part]!)), mean ± std over seeds \(seedList), \(result.steps) steps per run:", table.render(.text)]
            file.rows += rows.map { [Table.Cell(part)] + $0 }
        }
        try emit(file, text: text.joined(separator: "\n"), output: output, args: args)
    }
}

/// One `ablate` grid's accuracies, kept for `plot ablation`.
struct AblationResult {
    let setting: String
    let lambdas: [Double]
    let seeds: [Int]
    let steps: Int
    /// "zeroshot", "final", "bma:β"…, "ema", "swa", "wise:0.5".
    let states: [String]
    /// "test", and "open" outside the shift setting.
    let parts: [String]
    /// What each part measures, in words.
    var scopes: [String: String]
    /// "part|state|λ" → accuracy (0…1) per seed.
    let accuracies: [String: [Double]]

    /// Mean and sample standard deviation in percent over the seeds (0 for one seed).
    func meanAndDeviation(part: String, state: String, lambda: Double) -> (Double, Double)? {
        let a = (accuracies["\(part)|\(state)|\(lambda)"] ?? []).map { 100 * $0 }
        guard !a.isEmpty else { return nil }
        let mean = a.reduce(0, +) / Double(a.count)
        let sd = a.count > 1 ? (a.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(a.count - 1)).squareRoot() : 0
        return (mean, sd)
    }
}
