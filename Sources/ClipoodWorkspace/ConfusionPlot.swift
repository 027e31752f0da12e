import ClipoodCommands
import ClipoodExperiment
import Foundation

// plot confusion: the confusion matrix as a heatmap, laid out as `plot margins` lays out its
// K×K matrix. Class names and titles enter the script through gnuplotQuote / gnuplotTicLabel.

extension Workspace {
    static let plotConfusionCommand = CommandSpec<Workspace>(
        "confusion", summary: "heatmap of the confusion matrix of a run's weights on a split part (rows: true class, columns: predicted)",
        discussion: """
        A cell's colour is its share of the true class's images (each row sums to 1, so classes
        of different sizes compare); where the cells are large enough they show the counts.
        Without any run, the active model's zero-shot predictions on the active split.
        """,
        arguments: [Shared.run.spec, Shared.weights.spec, Shared.part.spec] + plotOutputArguments("confusion_RUN_PART"),
        examples: ["plot confusion", "plot confusion mms model=bma:0.5 on val to plots/confusion.pdf", "plot confusion term=dumb"],
        run: { ws, args in try ws.plotConfusion(args) })

    func plotConfusion(_ args: Arguments) throws {
        let s = try analysisSubject(args)
        let p = try predictions(s, args: args)
        let K = p.classCount, names = classNames(p, s.data), counts = p.confusion()
        let rowTotals = (0 ..< K).map { y in (0 ..< K).reduce(0) { $0 + counts[y * K + $1] } }
        // An empty row (a class without images in the part) stays at 0 rather than NaN.
        let share = (0 ..< K * K).map { rowTotals[$0 / K] == 0 ? 0 : Double(counts[$0]) / Double(rowTotals[$0 / K]) }
        let side = min(2400, max(640, 260 + 26 * K))
        let target = try plotTarget(args, name: "confusion_" + s.fileStem, pixels: (side + 120, side), text: (100, max(22, min(2 * K + 10, 70))))
        var g = plotScript(target)
        let accuracy = pct(Double(p.correct) / Double(p.count))
        plotStyle(&g, title: plotTitle(args, "confusion matrix of \(s.label) on \(s.part) (\(s.data.name)): \(p.count) images, accuracy \(accuracy)%"), target: target)
        let (shown, every, font, width) = classHeatmapAxes(&g, target: target, names: names, xlabel: "predicted class", ylabel: "true class")
        if target.terminal.isText {
            // No images on a text terminal: the counts in their cells (zeros left out).
            let countBlock = g.matrix("counts", values: counts.map(Double.init), rows: K, columns: K)
            g.add("set xtics (" + shown.map { "\(gnuplotTicLabel(String(names[$0].prefix(width)))) \($0)" }.joined(separator: ", ") + ") noenhanced scale 0",
                  "set ytics (" + shown.map { "\(gnuplotTicLabel(names[$0])) \($0)" }.joined(separator: ", ") + ") noenhanced scale 0",
                  "plot \(countBlock) matrix using 1:2:($3 == 0 ? '' : sprintf('%d', $3)) with labels notitle")
        } else {
            // Names at 45° need their line height across the diagonal between neighbours; where
            // the cells are narrower than that (a small figure), they stand upright.
            let cell = 0.6 * Double(min(target.terminal.size.width, target.terminal.size.height)) / Double(max(K, 1))
            let angle = Double(every) * cell * 0.7071 >= 0.8 * target.lineHeight(font) ? 45 : 90
            g.add("set xtics (" + shown.map { "\(gnuplotTicLabel(names[$0])) \($0)" }.joined(separator: ", ") + ") rotate by \(angle) right noenhanced scale 0 font ',\(Int(font))'",
                  "set ytics (" + shown.map { "\(gnuplotTicLabel(names[$0])) \($0)" }.joined(separator: ", ") + ") noenhanced scale 0 font ',\(Int(font))'",
                  "set cbrange [0:1]", "set cblabel 'share of the true class' noenhanced", "set colorbox",
                  "set palette defined (0 '#FFFFFF', 0.25 '#C6DBEF', 0.5 '#6BAED6', 0.75 '#2171B5', 1 '#08306B')")
            let shares = g.matrix("share", values: share, rows: K, columns: K)
            var plot = "plot \(shares) matrix with image notitle"
            // The counts in the cells, where the largest count and a space fit a cell; white on the dark end of the palette.
            let digits = String(counts.max() ?? 0).count
            if K <= 30 && cell >= Double(digits + 1) * target.charWidth(9) {
                // One row per non-empty cell: column, row, count, share.
                let labelled = g.data("cells", rows: (0 ..< K * K).filter { counts[$0] > 0 }.map { [Double($0 % K), Double($0 / K), Double(counts[$0]), share[$0]] })
                plot += ", \(labelled) using 1:2:($4 >= 0.5 ? '' : sprintf('%d', $3)) with labels tc rgb 'black' font ',9' notitle"
                plot += ", \(labelled) using 1:2:($4 < 0.5 ? '' : sprintf('%d', $3)) with labels tc rgb 'white' font ',9' notitle"
            }
            g.add(plot)
        }
        try drawPlot(g, target, args, what: "the \(K)×\(K) confusion matrix of \(s.label) on \(s.part)")
    }
}
