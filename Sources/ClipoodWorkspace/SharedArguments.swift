import ClipoodCommands
import ClipoodImage
import ClipoodTrain

/// Arguments that several commands take with the same meaning, declared once: each command
/// lists `.spec` in its declaration (so help and completion agree everywhere) and reads the
/// typed value with `args[Shared.x]`.
enum Shared {
    static let partNames = ["test", "val", "open", "train"]

    /// `on PART`: the split part to evaluate or embed.
    static let part = Argument<String>.keyword("on", .choice(partNames), fallback: "test", metavar: "PART", help: "split part (default test)")

    /// `model=STATE`: which weights of a run — final, an average by its label, zero-shot or WiSE-FT.
    static let weights = Argument<String>.option("model", .name(kind: "state"), default: "final", metavar: "STATE", help: "which weights of the run: " + weightStates)

    /// The weight states a run can name, for help: final, every registered average, zeroshot, wise:A.
    static var weightStates: String {
        let averages = WeightAverageKind.all.map { k -> String in
            if case .values = k.takes { return "\(k.kind)|\(k.kind):X" }
            return k.kind
        }
        return (["final"] + averages + ["zeroshot", "wise:A"]).joined(separator: "|")
    }

    /// `lr=`: the peak learning rate of `train` and `ablate`, by default `TrainingConfig.defaultLearningRate`.
    static let lr = OptionalArgument<Double>.option("lr", 0 ... 10, help: "peak learning rate, cosine annealed to 0 (default: 5e-6 — the paper's — for CLIP-size image towers, width ≥ 512; 1e-4 for small ones such as the demo)")

    /// `lambda=λ`: the MMS margin strength.
    static let lambda = Argument<Float>.option("lambda", 0 ... 10, default: "0.3", help: "MMS margin strength λ (0: the cross-entropy baseline)")

    /// `checkpoint=on|off` of `train` and `pretrain`: activation recomputation.
    static let checkpoint = Argument<Bool>.toggle("checkpoint", default: false,
                                                  help: "recompute each trained block's activations during backward instead of keeping them: the same gradients, far less memory (a large tower or batch fits), about 1/3 more compute per step")

    /// `seed=N`; every command that takes it falls back to the `seed` setting.
    static let seed = OptionalArgument<Int>.option("seed", 0 ... Int(Int32.max), help: "seed (default: the seed setting)")

    /// `interpolation=`: how images are resampled to the model's input size.
    static let interpolation = Argument<Interpolation>(.option("interpolation", .choice(Interpolation.allCases.map(\.rawValue)), default: "bicubic",
                                                               help: "resampling of images")) { $0.string("interpolation").flatMap(Interpolation.init(rawValue:)) }

    /// `beta=` and `steps=` of the BMA weight previews (`bma`, `plot bma`): the betas take the
    /// range `train` accepts for them.
    static let previewBetas = OptionalArgument<[Double]>(.option("beta", .list(.float(bmaRange)), help: "beta(s) to show (default: the run's, else 0.1,0.5,1)")) {
        $0.has("beta") ? $0.doubles("beta") : nil
    }
    static let previewSteps = OptionalArgument<Int>.option("steps", 1 ... 100_000_000, help: "total steps T (default: the run's, else 1000)")
    static var bmaRange: ClosedRange<Double> {
        if case .values(let r, _)? = WeightAverageKind.named("bma")?.takes { return r }
        return 0.001 ... 1000
    }

    /// `to FILE`: also write the command's table to FILE, in the format its extension names
    /// (checked before the command does its work, see `TableOutput`).
    static let tableOutput = OptionalArgument<String>.keyword("to", .path(extensions: Table.fileExtensions), metavar: "FILE",
                                                              help: "also write the table to FILE.csv, .md, .tex, .json or .txt")

    /// `format=`: how the table is printed (text: the aligned columns as always).
    static let tableFormat = Argument<Table.Format>(.option("format", .choice(Table.Format.allCases.map(\.rawValue)), default: "text",
                                                           help: "print the table as csv, md, tex (booktabs) or json")) {
        $0.string("format").flatMap(Table.Format.init(rawValue:))
    }

    /// The run a command acts on, by default the last one made or loaded.
    static let run = OptionalArgument<String>.positional("run", .name(kind: "run"), help: "a run (default: the last one)")
}
