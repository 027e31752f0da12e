import ClipoodCommands
import ClipoodData
import ClipoodExperiment
import ClipoodIO
import Foundation

// confusion, and what the analyses (confusion, plot confusion, show errors) share: which
// weights they look at and those weights' predictions per image.

/// The arguments of `show errors` (the others are in SharedArguments.swift).
enum AnalysisArguments {
    static let count = Argument<Int>.option("n", 1 ... 100, default: "16", help: "how many misclassified images, the most confidently wrong first")
    static let tile = Argument<Int>.option("tile", 32 ... 256, default: "128", help: "side of an image's square tile, in pixels")
    static let output = OptionalArgument<String>.keyword("to", .path(extensions: ["png"]), metavar: "FILE.png",
                                                         help: "the montage (default: <plots setting>/errors_RUN_PART.png; folders are created)")
}

/// The weights an analysis looks at: a run's weight state, or the zero-shot model of the
/// active model on the active split when there is no run.
struct AnalysisSubject {
    let run: Run?
    let model: ModelEntry
    let data: DataEntry
    let split: Split
    let state: String
    let part: String

    /// "mms final", "mms bma:0.5", "zero-shot tiny".
    var label: String { run.map { "\($0.name) \(state)" } ?? "zero-shot \(model.name)" }
    /// For default file names: "mms_PART", "mms_bma_0.5_PART", "zeroshot_PART".
    var fileStem: String {
        let who = run.map { state == "final" ? $0.name : $0.name + "_" + state } ?? "zeroshot"
        return plotFileName(who + "_" + part)
    }
}

extension Workspace {
    static let confusionCommand = CommandSpec<Workspace>(
        "confusion",
        summary: "the confusion matrix of a run's weights on a split part: rows the true class, columns the predicted one",
        discussion: """
        Counts of images per true class (row) and predicted class (column), among the part's class
        set, with each class's image count and accuracy; the columns are numbered by the rows'
        class indices, zeros print as '.', and a matrix wider than 80 columns continues in blocks
        of columns below. The 'all' row holds the column totals and the accuracy `eval` reports.
        Without any run, the active model's zero-shot predictions on the active split.
        'plot confusion' draws the same matrix as a heatmap.
        """,
        arguments: [Shared.run.spec, Shared.weights.spec, Shared.part.spec],
        examples: ["confusion", "confusion mms model=bma:0.5 on val", "confusion mms model=zeroshot"],
        run: { ws, args in try ws.confusion(args) })

    /// The run and weight state named by `[RUN] [model=STATE] [on PART]`: the named run or the
    /// last one; with no run at all, the zero-shot model (model= may then only say zeroshot).
    func analysisSubject(_ args: Arguments) throws -> AnalysisSubject {
        let part = args[Shared.part]
        if args.has(Shared.run) || !runOrder.isEmpty {
            let run = try self.run(args)
            let m = try modelNamed(run.modelName, args), d = try dataNamed(run.dataName, args)
            return AnalysisSubject(run: run, model: m, data: d, split: run.split, state: args[Shared.weights], part: part)
        }
        if args.has(Shared.weights) && args[Shared.weights] != "zeroshot" {
            throw args.error(Shared.weights, "no run yet, so there are no '\(args[Shared.weights])' weights",
                             hint: "train one with: train; without a run the zero-shot model is analysed")
        }
        // "model" is model=STATE here, so the active model is looked up under a name no argument has.
        let m = try model(args, argument: "model-name"), d = try data(args, argument: "data")
        return AnalysisSubject(run: nil, model: m, data: d, split: try requireSplit(d, args), state: "zeroshot", part: part)
    }

    /// Per-image predictions of `s` (cached features, as `eval`); problems are errors at the command.
    func predictions(_ s: AnalysisSubject, args: Arguments) throws -> Predictions {
        do {
            return try features.predictions(model: s.model, data: s.data, split: s.split, run: s.run, state: s.state, part: s.part, progress: progressSink())
        } catch let e as Interrupted { throw CommandError(e.description) } catch let e as CommandError { throw e } catch {
            throw args.error(String(describing: error))
        }
    }

    /// Names of the class set's classes, in its order.
    func classNames(_ p: Predictions, _ d: DataEntry) -> [String] { p.classes.map { d.dataset.classNames[$0] } }

    func confusion(_ args: Arguments) throws {
        let s = try analysisSubject(args)
        let p = try predictions(s, args: args)
        write("confusion matrix of \(s.label) on \(s.part): \(p.count) images, \(p.classCount) classes, accuracy \(pct(Double(p.correct) / Double(p.count)))%")
        write(renderConfusion(p.confusion(), names: classNames(p, s.data)))
    }
}

/// The most frequent confusions shown under the matrix.
private let confusionPairsShown = 5

/// A confusion matrix (K×K counts, row = true class) as text at most `width` columns wide: a
/// row per true class labelled "index name" with its image count and accuracy, a column per
/// predicted class headed by its index, zeros as '.', then an 'all' row with the column totals
/// and the overall accuracy. Columns that do not fit continue in blocks below, each repeating
/// the row labels. A name cut to fit is listed in full after the matrix; the most frequent
/// confusions follow. Names are escaped for the terminal.
func renderConfusion(_ m: [Int], names rawNames: [String], width: Int = 80) -> String {
    let K = rawNames.count
    precondition(m.count == K * K, "renderConfusion: \(m.count) counts for \(K) classes")
    let names = rawNames.map(DisplayText.escaped)
    let rowTotals = (0 ..< K).map { y in (0 ..< K).reduce(0) { $0 + m[y * K + $1] } }
    let columnTotals = (0 ..< K).map { j in (0 ..< K).reduce(0) { $0 + m[$1 * K + j] } }
    let total = rowTotals.reduce(0, +), correct = (0 ..< K).reduce(0) { $0 + m[$1 * K + $1] }
    func accuracy(_ hit: Int, _ n: Int) -> String { n == 0 ? "–" : String(format: "%.1f", 100 * Double(hit) / Double(n)) }

    // The row labels: "index name", the name cut with … to keep the label within a third of the width.
    let indexWidth = String(max(K - 1, 0)).count
    let labelLimit = max(12, width / 3)
    var cut: [Int] = []
    var labels = (0 ..< K).map { y -> String in
        let index = String(repeating: " ", count: indexWidth - String(y).count) + String(y)
        let room = labelLimit - indexWidth - 1
        if names[y].count <= room { return index + " " + names[y] }
        cut.append(y)
        return index + " " + names[y].prefix(room - 1) + "…"
    }
    labels.append("all")
    let labelWidth = max("true class".count, labels.map(\.count).max() ?? 0)
    let nWidth = max(1, String(total).count), accWidth = "acc %".count
    func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, w - s.count))
        return left ? s + fill : fill + s
    }
    let cellWidth = max(String(max(K - 1, 0)).count, String(columnTotals.max() ?? 0).count)
    let prefixWidth = labelWidth + 2 + nWidth + 2 + accWidth + 2
    // As many columns as fit, spread evenly over the blocks (16 columns in two blocks: 8 and 8).
    let fitting = max(1, (width - prefixWidth) / (cellWidth + 1))
    let blocks = (K + fitting - 1) / fitting
    let perBlock = (K + blocks - 1) / blocks
    let counts = rowTotals + [total], hits = (0 ..< K).map { m[$0 * K + $0] } + [correct]

    var lines: [String] = []
    for start in stride(from: 0, to: K, by: perBlock) {
        let columns = start ..< min(K, start + perBlock)
        if blocks > 1 {
            if start > 0 { lines.append("") }
            lines.append("predicted classes \(columns.lowerBound)–\(columns.upperBound - 1) of \(K):")
        }
        let head = pad("true class", labelWidth, left: true) + "  " + pad("n", nWidth) + "  " + pad("acc %", accWidth) + " |"
        lines.append(head + columns.map { " " + pad(String($0), cellWidth) }.joined())
        lines.append(String(repeating: "-", count: head.count) + columns.map { _ in " " + String(repeating: "-", count: cellWidth) }.joined())
        for y in 0 ... K {
            let cells = columns.map { j -> String in
                let v = y == K ? columnTotals[j] : m[y * K + j]
                return " " + pad(v == 0 ? "." : String(v), cellWidth)
            }
            lines.append(pad(labels[y], labelWidth, left: true) + "  " + pad(String(counts[y]), nWidth) + "  "
                         + pad(accuracy(hits[y], counts[y]), accWidth) + " |" + cells.joined())
        }
    }
    lines.append("rows: true class; columns: predicted class (by index); all: column totals")
    if !cut.isEmpty {
        lines += wrapList("classes:", cut.map { "\($0) \(names[$0])" }, width: width)
    }
    var pairs: [(y: Int, j: Int, count: Int)] = []
    for y in 0 ..< K { for j in 0 ..< K where j != y && m[y * K + j] > 0 { pairs.append((y, j, m[y * K + j])) } }
    pairs.sort { $0.count != $1.count ? $0.count > $1.count : ($0.y, $0.j) < ($1.y, $1.j) }
    if !pairs.isEmpty {
        lines += wrapList("most frequent confusions (true → predicted):", pairs.prefix(confusionPairsShown).map { "\(names[$0.y]) → \(names[$0.j]) \($0.count)" },
                          width: width)
    }
    return lines.joined(separator: "\n")
}

/// `title` and the items after it, separated by commas, in lines of at most `width` columns
/// (continued lines indented by two); an item longer than a line gets a line of its own.
func wrapList(_ title: String, _ items: [String], width: Int) -> [String] {
    var lines: [String] = [], line = title
    for (i, item) in items.enumerated() {
        let piece = item + (i == items.count - 1 ? "" : ",")
        if line.count + 1 + piece.count > width {
            lines.append(line)
            line = "  " + piece
        } else {
            line += " " + piece
        }
    }
    lines.append(line)
    return lines
}
