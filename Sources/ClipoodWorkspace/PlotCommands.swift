import ClipoodCommands
import ClipoodData
import ClipoodEngine
import ClipoodExperiment
import ClipoodModel
import ClipoodTrain
import ClipoodIO
import Foundation

// plot margins | bma | curves | accuracy | sweep | runs | ablation | confusion (ConfusionPlot.swift) — figures through gnuplot (Gnuplot.swift).
//
// Every text that comes from the user or the data (titles, class, domain and run names) enters
// the gnuplot script through gnuplotQuote and is drawn `noenhanced`; datablocks hold numbers only.

/// The arguments of `plot` and its subcommands (the shared ones are in SharedArguments.swift).
enum PlotArguments {
    static let output = OptionalArgument<String>.keyword("to", .path(extensions: ["png", "svg", "pdf", "txt"]), metavar: "FILE.png|.svg|.pdf",
                                                         help: "the figure file, PNG, SVG or PDF by its extension")
    static let term = OptionalArgument<String>.option("term", .choice(["dumb", "png", "svg", "pdf"]),
                                                      help: "dumb: draw in the terminal as text (to FILE.txt keeps it); png, svg or pdf: the file's format")
    static let title = OptionalArgument<String>.option("title", .string, help: "the figure's title (title=\"\" for none)")
    static let size = OptionalArgument<[Int]>(.option("size", .list(.int(8 ... 10_000)), metavar: "W,H",
                                                      help: "size in pixels (png, svg), points (pdf) or columns,rows (term=dumb); text, lines and points grow and shrink with it")) {
        $0.has("size") ? $0.list("size").compactMap { if case .int(let i) = $0 { return i } else { return nil } } : nil
    }
    static let outOfDistribution = Argument<String>.keyword("on", .choice(Shared.partNames), fallback: "test", metavar: "PART",
                                                            help: "the out-of-distribution part, y (default test)")
    static let inDistribution = Argument<String>.option("vs", .choice(["val", "open", "test", "train"]), default: "val", help: "the in-distribution part, x")
    static let setting = OptionalArgument<String>.positional("setting", .choice(["shift", "open", "wild"]), help: "which ablate grid (default: the last one run)")
    static let ablationPart = Argument<String>.keyword("on", .choice(["test", "open"]), fallback: "test", metavar: "PART",
                                                       help: "test (held-out domain or base classes) or open (new classes); default test")
}

extension Workspace {
    /// The arguments every `plot` subcommand takes: where the figure goes, and its title and size.
    static func plotOutputArguments(_ name: String) -> [ArgumentSpec] {
        [
            PlotArguments.output.help("the figure file, PNG, SVG or PDF by its extension (default: <plots setting>/\(name).png; directories are created)").spec,
            PlotArguments.term.spec, PlotArguments.title.spec, PlotArguments.size.spec,
        ]
    }

    static let plotCommand = CommandSpec<Workspace>(
        "plot",
        summary: "figures through gnuplot: PNG, SVG or PDF files under the plots setting, or text in the terminal",
        discussion: """
        Each subcommand writes one figure: a PNG (pngcairo), SVG or PDF (pdfcairo) file chosen by
        the extension of `to FILE`, by default <plots setting>/NAME.png, or with term=dumb a text
        drawing printed here. size=W,H scales the text with the figure (a PDF of size=400,300 is
        a 400×300 pt figure for a paper with 7 pt text); long titles wrap. Figures need gnuplot
        (apt-get install gnuplot-nox); CLIPOOD_GNUPLOT names another gnuplot program.
        """,
        subcommands: [
            CommandSpec("margins", summary: "heatmap of the K×K text-derived margins λ·(1 − cos(t_y, t_j)) of the active model and dataset",
                        arguments: [Shared.lambda.spec] + plotOutputArguments("margins"),
                        examples: ["plot margins", "plot margins lambda=0.1 to plots/margins.svg", "plot margins to plots/margins.pdf size=400,400", "plot margins term=dumb"],
                        run: { ws, args in try ws.plotMargins(args) }),
            CommandSpec("bma", summary: "the Beta(β, β) weight of every step in the moving average, and its cumulative share",
                        discussion: """
                        Step k = 0 is the zero-shot model. β < 1 piles weight on both ends, β = 1 is a uniform
                        average (SWA), β > 1 favours the middle. With a run: its betas and steps (beta= and steps=
                        override them); without one, beta= (default 0.1,0.5,1) over steps= (default 1000) steps.
                        """,
                        arguments: [
                            Shared.run.help("a run (its betas and steps)").spec, Shared.previewBetas.help("beta(s) to draw (default: the run's, else 0.1,0.5,1)").spec,
                            Shared.previewSteps.spec,
                        ] + plotOutputArguments("bma"),
                        examples: ["plot bma", "plot bma beta=0.1,0.5,1 steps=100 term=dumb", "plot bma mms to plots/bma_mms.svg"],
                        run: { ws, args in try ws.plotBMA(args) }),
            CommandSpec("curves", summary: "training loss, accuracy and learning rate against the step, of one run or several overlaid",
                        arguments: [.positional("runs", .name(kind: "run"), optional: true, variadic: true, metavar: "run",
                                                help: "runs (default: the last one); several are drawn together, one colour each")]
                            + plotOutputArguments("curves_RUN"),
                        examples: ["plot curves", "plot curves mms term=dumb", "plot curves mms ce to plots/curves.pdf"],
                        run: { ws, args in try ws.plotCurves(args) }),
            CommandSpec("accuracy", summary: "accuracy per domain: zero-shot against each run's final weights, averages and WiSE-FT (α = 0.5)",
                        discussion: """
                        Bars grouped by domain, and within a domain by run: one colour per run, lighter for
                        its later states (final, the averages, wise:0.5); the zero-shot accuracy is the dashed
                        line across each domain. The y axis spans the accuracies, not 0–100.
                        """,
                        arguments: [
                            .positional("runs", .name(kind: "run"), optional: true, variadic: true, metavar: "run", help: "runs (default: all)"),
                            Shared.part.spec,
                        ] + plotOutputArguments("accuracy_PART"),
                        examples: ["plot accuracy", "plot accuracy mms ce on test", "plot accuracy on open to plots/open.svg"],
                        run: { ws, args in try ws.plotAccuracy(args) }),
            CommandSpec("sweep", summary: "WiSE-FT: accuracy in and out of distribution as α mixes zero-shot (0) and fine-tuned (1) weights",
                        discussion: """
                        As in the WiSE-FT paper's figures: x is the accuracy on the `vs` part (in distribution,
                        default val), y the accuracy on the `on` part (out of distribution, default test), one
                        point per α ∈ {0, 0.1, …, 1}; the zero-shot and final weights and the run's averages are marked.
                        An α label that would cover another label, a point or the line is left out.
                        """,
                        arguments: [
                            Shared.run.spec, PlotArguments.outOfDistribution.spec, PlotArguments.inDistribution.spec,
                        ] + plotOutputArguments("sweep_RUN"),
                        examples: ["plot sweep mms", "plot sweep mms on open vs=val", "plot sweep mms to plots/sweep.pdf size=400,300"],
                        run: { ws, args in try ws.plotSweep(args) }),
            CommandSpec("runs", summary: "λ and β sweeps: every run's final weights and averages, in against out of distribution",
                        discussion: """
                        One colour per run (its λ in the key; λ = 0 is the cross-entropy baseline), one symbol
                        per weight state (final, bma:β, ema, swa, wise:0.5), x = accuracy on the `vs` part (in
                        distribution), y = accuracy on the `on` part (out of distribution) — train runs that
                        differ in lambda= or beta= and draw them together. A run's line joins the zero-shot
                        model (the grey square) and its states in the order of x. States are named beside their
                        points where every name fits; where they crowd, the key tells them apart.
                        """,
                        arguments: [
                            .positional("runs", .name(kind: "run"), optional: true, variadic: true, metavar: "run", help: "runs (default: all)"),
                            PlotArguments.outOfDistribution.spec, PlotArguments.inDistribution.spec,
                        ] + plotOutputArguments("runs_PART"),
                        examples: ["plot runs", "plot runs ce mms03 mms05 on test vs=val"],
                        run: { ws, args in try ws.plotRuns(args) }),
            CommandSpec("ablation", summary: "an ablate grid: accuracy against λ for every weight state, mean ± std over seeds",
                        discussion: """
                        One line per weight state (final, each bma:β, ema, swa, wise:0.5) with error bars of one
                        standard deviation over the seeds, x = λ (λ = 0 is the cross-entropy baseline); the
                        zero-shot accuracy is the dashed line. Draws the last `ablate` of the setting.
                        """,
                        arguments: [
                            PlotArguments.setting.spec, PlotArguments.ablationPart.spec,
                        ] + plotOutputArguments("ablation_SETTING_PART"),
                        examples: ["ablate setting=shift seeds=0,1,2", "plot ablation shift", "plot ablation wild on open to plots/ablation-wild-open.png"],
                        run: { ws, args in try ws.plotAblation(args) }),
            plotConfusionCommand,
        ])

    /// The K×K text-derived margin matrix λ·(1 − cos(t_y, t_j)) over every class of `d`
    /// (row y = the true class, column j), row-major: what `margins` lists and `plot margins` draws.
    func marginMatrix(model m: ModelEntry, data d: DataEntry, lambda: Float) throws -> [Float] {
        let K = d.dataset.classes.count, D = m.model.config.embedDim
        let text = try textFeatures(model: m, data: d, classes: Array(0 ..< K))
        return MMSLoss(textFeatures: text, classes: K, dim: D, lambda: lambda, scale: 1).margins()
    }

    // MARK: margins

    func plotMargins(_ args: Arguments) throws {
        let m = try model(args, argument: "model"), d = try data(args, argument: "data")
        let lambda = args[Shared.lambda]
        let K = d.dataset.classes.count, names = d.dataset.classNames
        let mm = try marginMatrix(model: m, data: d, lambda: lambda).map(Double.init)
        let side = min(2400, max(640, 260 + 26 * K))
        let target = try plotTarget(args, name: "margins", pixels: (side + 120, side), text: (100, max(22, min(2 * K + 10, 70))))
        var g = plotScript(target)
        let block = g.matrix("margins", values: mm, rows: K, columns: K)
        let top = max(mm.filter(\.isFinite).max() ?? 1, 1e-6)
        plotStyle(&g, title: plotTitle(args, "text-derived margins λ·(1 − cos(t_y, t_j)), λ = \(lambda), \(d.name), prompt \"\(d.templates[0])\"\(d.templates.count > 1 ? " and \(d.templates.count - 1) more" : "")"), target: target)
        let (shown, _, font, width) = classHeatmapAxes(&g, target: target, names: names, xlabel: "other class j", ylabel: "true class y")
        if target.terminal.isText {
            // No images on a text terminal: one character per cell, darker for larger margins.
            g.add("set xtics (" + shown.map { "\(gnuplotTicLabel(String(names[$0].prefix(width)))) \($0)" }.joined(separator: ", ") + ") noenhanced scale 0",
                  "set ytics (" + shown.map { "\(gnuplotTicLabel(names[$0])) \($0)" }.joined(separator: ", ") + ") noenhanced scale 0",
                  "ramp = ' .:-=+*#%@'",
                  "plot \(block) matrix using 1:2:(substr(ramp, int(9.999 * $3 / \(gnuplotNumber(top))) + 1, int(9.999 * $3 / \(gnuplotNumber(top))) + 1)) with labels notitle")
        } else {
            g.add("set xtics (" + shown.map { "\(gnuplotTicLabel(names[$0])) \($0)" }.joined(separator: ", ") + ") rotate by 45 right noenhanced scale 0 font ',\(Int(font))'",
                  "set ytics (" + shown.map { "\(gnuplotTicLabel(names[$0])) \($0)" }.joined(separator: ", ") + ") noenhanced scale 0 font ',\(Int(font))'",
                  "set cbrange [0:\(gnuplotNumber(top))]", "set cblabel 'margin' noenhanced", "set colorbox",
                  "set palette defined (0 '#440154', 0.25 '#3B528B', 0.5 '#21918C', 0.75 '#5EC962', 1 '#FDE725')")
            var plot = "plot \(block) matrix with image notitle"
            // The values in the cells, where four digits fit a cell.
            let cell = 0.6 * Double(min(target.terminal.size.width, target.terminal.size.height)) / Double(max(K, 1))
            if K <= 12 && cell >= 4.5 * target.charWidth(9) {
                // Light text on the dark (small) end of the palette.
                let half = gnuplotNumber(top / 2), format = top < 0.1 ? "%.3f" : "%.2f"
                plot += ", \(block) matrix using 1:2:($1 == $2 || $3 >= \(half) ? '' : sprintf('\(format)', $3)) with labels tc rgb 'white' font ',9' notitle"
                plot += ", \(block) matrix using 1:2:($1 == $2 || $3 < \(half) ? '' : sprintf('\(format)', $3)) with labels tc rgb 'black' font ',9' notitle"
            }
            g.add(plot)
        }
        try drawPlot(g, target, args, what: "the \(K)×\(K) margin heatmap (λ=\(lambda))")
    }

    /// The axes of a K×K class heatmap (margins, confusion): square, class 0 at the top, at most
    /// 60 class names on an axis and no more than fit its height at the tic font. Returns the
    /// classes that get a label (every `every`-th), that font, and how many characters an x label may take on a
    /// text terminal.
    func classHeatmapAxes(_ g: inout GnuplotScript, target: PlotTarget, names: [String], xlabel: String, ylabel: String)
        -> (shown: [Int], every: Int, font: Double, textWidth: Int) {
        let K = names.count
        let font = K > 40 ? 7.0 : K > 20 ? 8 : 10
        let fitting = target.terminal.isText ? K : Int(0.6 * Double(target.terminal.size.height) / target.lineHeight(font * 0.8))
        let every = max(1, Int((Double(K) / 60).rounded(.up)), Int((Double(K) / Double(max(fitting, 1))).rounded(.up)))
        let shown = Array(stride(from: 0, to: K, by: every))
        g.add("unset key", "unset grid", "set size square",
              "set xrange [-0.5:\(Double(K) - 0.5)]", "set yrange [\(Double(K) - 0.5):-0.5]",
              "set xlabel \(gnuplotQuote(xlabel)) noenhanced", "set ylabel \(gnuplotQuote(ylabel)) noenhanced")
        var columns = 100
        if case .dumb(let c, _) = target.terminal { columns = c }
        let longest = shown.map { names[$0].count }.max() ?? 1
        return (shown, every, font, max(1, (columns - min(longest, 30) - 8) / max(K, 1) - 1))
    }

    // MARK: bma

    func plotBMA(_ args: Arguments) throws {
        // As `bma`: a run gives its betas and steps; beta= and steps= override them, or explore without a run.
        let run: Run? = args.has(Shared.run) ? try self.run(args) : nil
        var betas: [Double] = []
        if let given = args[Shared.previewBetas] {
            for x in given where !betas.contains(x) { betas.append(x) }
        } else {
            betas = run?.config.betas ?? [0.1, 0.5, 1]
        }
        guard !betas.isEmpty else { throw args.error("run", "run '\(run!.name)' kept no Beta moving average", hint: "give beta= to draw a schedule anyway") }
        let steps = args[Shared.previewSteps] ?? run?.config.steps ?? 1000
        let schedules = betas.map { (beta: $0, weights: BetaSchedule.weights(beta: $0, steps: steps)) }
        let owner = run.map { "run \($0.name), " } ?? ""
        let T = schedules[0].weights.count - 1
        // Long schedules are drawn from at most ~4000 steps (always with both ends).
        let stride_ = max(1, (T + 1 + 3999) / 4000)
        var ks = Array(stride(from: 0, through: T, by: stride_))
        if ks.last != T { ks.append(T) }
        var rows = ks.map { [Double($0)] }
        var shares: [Double] = []
        for s in schedules {
            let total = s.weights.reduce(0, +)
            var sum = 0.0, next = 0
            for (k, w) in s.weights.enumerated() {
                sum += w
                if next < ks.count && ks[next] == k {
                    rows[next] += [100 * w / total, 100 * sum / total]
                    next += 1
                }
            }
            shares.append(s.weights[0] / total)
        }
        let name = run.map { "bma_" + plotFileName($0.name) } ?? "bma"
        let target = try plotTarget(args, name: name, pixels: (960, 600), text: (100, 32))
        var g = plotScript(target)
        let block = g.data("bma", rows: rows)
        plotStyle(&g, title: plotTitle(args, "Beta moving average: weight of each step (\(owner)T = \(T) steps; step 0 = zero-shot weights)"), target: target)
        // Weights span orders of magnitude (β < 1 piles weight on both ends): a log axis, cut
        // 10⁴ below the largest weight so that a large β's vanishing ends do not flatten the rest.
        let weights = rows.flatMap { r in stride(from: 1, to: r.count, by: 2).map { r[$0] } }.filter { $0 > 0 && $0.isFinite }
        let wmax = weights.max() ?? 1, wmin = max(weights.min() ?? 1e-4, wmax * 1e-4)
        let logScale = wmax / wmin > 20 && !target.terminal.isText
        g.add("set xlabel 'step k' noenhanced", "set ylabel \(gnuplotQuote("weight of step k (%\(logScale ? ", log scale" : ""))")) noenhanced",
              "set y2label \(gnuplotQuote(target.terminal.isText ? "cumulative %" : "cumulative share (%)")) noenhanced", "set ytics nomirror", "set y2tics 0, 20, 100",
              "set xrange [0:\(max(T, 1))]", "set y2range [0:100]")
        if logScale {
            let lo = wmin / 1.5, hi = wmax * 1.5
            g.add("set logscale y", "set yrange [\(gnuplotNumber(lo)):\(gnuplotNumber(hi))]",
                  "set ytics (" + logTics(lo, hi).map(gnuplotNumber).joined(separator: ", ") + ")")
        } else {
            g.add("set yrange [0:*]")
        }
        var elements: [String] = [], cumulative: [String] = [], titles: [String] = [], cumulativeTitles: [String] = []
        for (i, s) in schedules.enumerated() {
            let color = Workspace.plotColors[i % Workspace.plotColors.count]
            let b = formatPlotNumber(s.beta)
            // The key fills columns first: weights in the left column, cumulative shares in the right.
            titles.append("β = \(b): weight of each step (zero-shot share \(formatShare(shares[i])))")
            cumulativeTitles.append("β = \(b): cumulative share (right axis)")
            elements.append("\(block) using 1:\(2 * i + 2) axes x1y1 with lines lw 2 \(plotColor(target, color, series: i)) title \(gnuplotQuote(titles[i])) noenhanced")
            cumulative.append("\(block) using 1:\(2 * i + 3) axes x1y2 with lines lw 1.5 dt 2 \(plotColor(target, color, series: schedules.count + i)) title \(gnuplotQuote(cumulativeTitles[i])) noenhanced")
        }
        plotKeyBelow(&g, titles: titles + cumulativeTitles, columns: 2, target: target)
        g.add("plot " + (elements + cumulative).joined(separator: ", "))
        try drawPlot(g, target, args, what: "the BMA weights of β = " + schedules.map { formatPlotNumber($0.beta) }.joined(separator: ", ") + " over \(T) steps")
    }

    // MARK: curves

    func plotCurves(_ args: Arguments) throws {
        let names = try requestedRuns(args)
        let chosen = (args.strings("runs").isEmpty ? runOrder.last.map { [$0] } ?? [] : names).compactMap { runs[$0] }
        guard !chosen.isEmpty else { throw args.error("no run yet", hint: "train one with: train") }
        for (r, t) in zip(chosen, args.tokens("runs")) where r.log.isEmpty {
            throw CommandError("run '\(r.name)' has no steps yet", at: t, hint: "train resume=\(r.name)")
        }
        if let idle = chosen.first(where: { $0.log.isEmpty }) {
            throw args.error("run '\(idle.name)' has no steps yet", hint: "train resume=\(idle.name)")
        }
        let name = "curves_" + chosen.map { plotFileName($0.name) }.joined(separator: "_")
        let target = try plotTarget(args, name: name, pixels: (960, 760), text: (100, 48))
        var g = plotScript(target)
        let title: String
        if chosen.count == 1, let run = chosen.first {
            title = plotTitle(args, "training curves of run \(run.name) (\(run.stepsDone) of \(run.config.steps) steps, λ = \(run.config.lambda), lr = \(run.config.learningRate))")
        } else {
            title = plotTitle(args, "training curves of runs " + chosen.map { "\($0.name) (λ = \($0.config.lambda), lr = \($0.config.learningRate))" }.joined(separator: ", "))
        }
        plotStyle(&g, title: nil, target: target)
        var curves: [CurveSeries] = []
        for (i, run) in chosen.enumerated() {
            curves.append(curveSeries(&g, run: run, index: i, single: chosen.count == 1, target: target))
        }
        let steps = chosen.flatMap { $0.log.map { Double($0.record.step) } }
        let first = steps.min()!, last = steps.max()!
        let xr = first == last ? "[\(first - 1):\(last + 1)]" : "[\(gnuplotNumber(first)):\(gnuplotNumber(last))]"
        let loss = chosen.flatMap { $0.log.map { Double($0.record.loss) } }
        let lr = chosen.flatMap { $0.log.map(\.record.learningRate) }
        // Two panels one above the other, the title above them and one key for both below.
        let titleExpression = plotTitleExpression(title, target)
        let titleLines = titleExpression == nil ? 0 : plotTitleLines(title, target).count
        let keyTitles = curves.flatMap(\.keyTitles)
        let keyRows = plotKeyBelow(&g, titles: keyTitles, columns: chosen.count == 1 ? 2 : 3, target: target)
        let h = Double(target.terminal.size.height), lh = target.lineHeight()
        let top = (Double(titleLines) + 1) * lh, bottom = h - (Double(keyRows) + 4.5) * lh, gap = 2.6 * lh
        let panel = max(1, (bottom - top - gap) / 2)
        func screen(_ y: Double) -> String { gnuplotNumber(min(1, max(0, 1 - y / h))) }
        // As many tics as fit a panel's height at two lines a tic.
        let tics = max(3, min(6, Int(panel / (2 * lh))))
        g.add(titleExpression.map { "set multiplot title \($0) noenhanced" } ?? "set multiplot",
              "set lmargin 12", "set rmargin 14", "set xrange \(xr)", "unset key",
              "set tmargin at screen \(screen(top))", "set bmargin at screen \(screen(top + panel))",
              // Loss.
              "set ylabel 'training loss' noenhanced", "unset xlabel")
        if let (lo, hi) = paddedBounds(loss, floor: nil) {
            g.add("set yrange [\(gnuplotNumber(lo)):\(gnuplotNumber(hi))]", "set ytics \(gnuplotNumber(plotTicStep(hi - lo, tics)))")
        }
        g.add("plot " + curves.flatMap(\.loss).joined(separator: ", "))
        // Accuracy, and the learning rate on the right; the key of both panels.
        let lrTop = max(lr.max() ?? 0, 1e-12) * 1.05
        let accuracyLabel = chosen.contains { !$0.evaluations.isEmpty } ? "accuracy (%)" : "training accuracy (%)"
        g.add("set tmargin at screen \(screen(top + panel + gap))", "set bmargin at screen \(screen(bottom))",
              "set xlabel 'step' noenhanced", "set ylabel '\(accuracyLabel)' noenhanced", "set yrange [0:102]",
              "set ytics 0, \(gnuplotNumber(plotTicStep(100, tics))), 100", "set ytics nomirror",
              "set y2label 'learning rate' noenhanced", "set y2tics 0, \(gnuplotNumber(plotTicStep(lrTop, tics)))", "set format y2 '%.1e'",
              "set y2range [0:\(gnuplotNumber(lrTop))]",
              "set key at screen 0.5, 0.012 center bottom vertical Left reverse maxrows \(keyRows) width 1")
        g.add("plot " + (curves.flatMap(\.keys) + curves.flatMap(\.accuracy)).joined(separator: ", "), "unset multiplot")
        let what = chosen.count == 1 ? "\(chosen[0].name) (\(chosen[0].log.count) steps)" : chosen.map(\.name).joined(separator: ", ")
        try drawPlot(g, target, args, what: "the training curves of \(what)")
    }

    /// The plot elements of one run in `plot curves`: loss (top panel, no titles), accuracy and
    /// learning rate (bottom panel), and key entries for what the key would not show otherwise.
    struct CurveSeries {
        var loss: [String] = [], accuracy: [String] = [], keys: [String] = []
        /// Every title in the key, in its order.
        var keyTitles: [String] = []
    }

    /// One run's curves: the values per step (faint when smoothed), their moving average, and the
    /// learning rate (dashed, right axis). One run has a colour per panel; several runs one
    /// colour each, in both panels, and their names in the key.
    func curveSeries(_ g: inout GnuplotScript, run: Run, index i: Int, single: Bool, target: PlotTarget) -> CurveSeries {
        let log = run.log.map(\.record), n = log.count
        let window = n >= 30 ? max(3, n / 20) : 0
        let loss = log.map { Double($0.loss) }, acc = log.map { 100 * Double($0.accuracy) }
        let smoothLoss = movingAverage(loss, window), smoothAcc = movingAverage(acc, window)
        let block = g.data("curves\(i)", rows: log.indices.map { [Double(log[$0].step), loss[$0], acc[$0], log[$0].learningRate, smoothLoss[$0], smoothAcc[$0]] })
        // In text, letters on the lines (ten a run) tell the series apart.
        let text = target.terminal.isText
        func style(_ series: Int, _ width: Double, raw: Bool) -> String {
            if text { return "linespoints pi \(max(1, n / 10)) pt \(series % 26 + 1) lw \(gnuplotNumber(width))" }
            return raw && n < 30 ? "linespoints pt 7 ps \(target.ps(0.8)) lw \(gnuplotNumber(width))" : "lines lw \(gnuplotNumber(width))"
        }
        var out = CurveSeries()
        let who = single ? "" : run.name + " "
        let rawWidth = window > 0 ? 1.0 : 2.0
        // (columns, series for the text terminal, colour, width, raw?, title)
        var top: [(Int, Int, String, Double, Bool, String)] = [], bottom: [(Int, Int, String, Double, Bool, String)] = []
        let lrTitle = single ? "learning rate (right axis)" : who + "learning rate (right)"
        if single {
            let (lc, ac) = (Workspace.plotColors[0], Workspace.plotColors[1])
            top.append((2, 0, window > 0 ? plotLighter(lc) : lc, rawWidth, true, "loss per step"))
            bottom.append((3, 2, window > 0 ? plotLighter(ac) : ac, rawWidth, true, "accuracy per batch"))
            if window > 0 {
                top.append((5, 1, lc, 2, false, "loss, moving average (\(window) steps)"))
                bottom.append((6, 3, ac, 2, false, "accuracy, moving average (\(window) steps)"))
            }
        } else {
            // The same styles in both panels: the key names each once.
            let c = Workspace.plotColors[i % Workspace.plotColors.count], base = 3 * i
            top.append((2, base, window > 0 ? plotLighter(c) : c, rawWidth, true, who + "per step"))
            bottom.append((3, base, window > 0 ? plotLighter(c) : c, rawWidth, true, who + "per step"))
            if window > 0 {
                top.append((5, base + 1, c, 2, false, who + "\(window)-step average"))
                bottom.append((6, base + 1, c, 2, false, who + "\(window)-step average"))
            }
        }
        for (column, series, color, width, raw, title) in top {
            out.loss.append("\(block) using 1:\(column) with \(style(series, width, raw: raw)) \(plotColor(target, color, series: series)) notitle")
            if single { out.keys.append("keyentry with \(style(series, width, raw: raw)) \(plotColor(target, color, series: series)) title \(gnuplotQuote(title)) noenhanced") }
        }
        for (column, series, color, width, raw, title) in bottom {
            out.accuracy.append("\(block) using 1:\(column) with \(style(series, width, raw: raw)) \(plotColor(target, color, series: series)) title \(gnuplotQuote(title)) noenhanced")
        }
        // The evaluations of `train eval_every=`: accuracy on their part, points joined by a line.
        var evalTitle: [String] = []
        if !run.evaluations.isEmpty {
            let evals = g.data("evals\(i)", rows: run.evaluations.map { [Double($0.step), 100 * $0.accuracy] })
            let series = single ? 5 : 3 * i + 20, color = single ? Workspace.plotColors[2] : Workspace.plotColors[i % Workspace.plotColors.count]
            let title = who + "\(run.evalPart) accuracy (every \(run.evalEvery ?? 0) steps)"
            let with = text ? "linespoints pt \(series % 26 + 1)" : "linespoints pt 9 ps \(target.ps(1.3)) lw 2"
            out.accuracy.append("\(evals) using 1:2 with \(with) \(plotColor(target, color, series: series)) title \(gnuplotQuote(title)) noenhanced")
            evalTitle = [title]
        }
        let lrSeries = single ? 4 : 3 * i + 2, lrColor = single ? "#444444" : Workspace.plotColors[i % Workspace.plotColors.count]
        out.accuracy.append("\(block) using 1:4 axes x1y2 with lines lw 1.5 dt 2 \(plotColor(target, lrColor, series: lrSeries)) title \(gnuplotQuote(lrTitle)) noenhanced")
        out.keyTitles = (single ? top.map(\.5) : []) + bottom.map(\.5) + evalTitle + [lrTitle]
        return out
    }

    // MARK: accuracy

    func plotAccuracy(_ args: Arguments) throws {
        let part = args[Shared.part]
        _ = try requestedRuns(args)
        // One figure, one dataset: by default every run on the dataset of the last run.
        var chosen = args.strings("runs").compactMap { runs[$0] }
        if chosen.isEmpty, let last = runOrder.last.flatMap({ runs[$0] }) {
            chosen = runOrder.compactMap { runs[$0] }.filter { $0.dataName == last.dataName }
        }
        let m: ModelEntry, d: DataEntry
        if let first = chosen.first {
            m = try modelNamed(first.modelName, args)
            d = try dataNamed(first.dataName, args)
            for (r, t) in zip(chosen, args.tokens("runs")) where r.dataName != first.dataName {
                throw CommandError("run '\(r.name)' is on dataset '\(r.dataName)', not '\(first.dataName)': one figure, one dataset", at: t)
            }
        } else {
            m = try model(args, argument: "model")
            d = try data(args, argument: "data")
        }
        let zero = try evaluate(model: m, data: d, run: chosen.first, state: "zeroshot", part: part, args: args)
        // The bars: each run's states side by side (run = colour, state = shade).
        var series: [(run: Int, state: String, label: String, result: EvaluationResult)] = []
        for (ri, r) in chosen.enumerated() {
            let prefix = chosen.count > 1 ? r.name + " " : "", rm = try modelNamed(r.modelName, args)
            for state in ["final"] + r.trainer.averages.map(\.label) + ["wise:0.5"] {
                series.append((ri, state, prefix + state, try evaluate(model: rm, data: d, run: r, state: state, part: part, args: args)))
            }
        }
        let groups = zero.groups.enumerated().filter { $0.element.count > 0 }.map { ($0.offset, $0.element.name) }
        let labels = groups.map(\.1) + (groups.count > 1 ? ["all"] : [])
        func value(_ result: EvaluationResult, _ gi: Int) -> Double {
            guard gi < groups.count else { return 100 * result.accuracy }
            let grp = result.groups[groups[gi].0]
            return grp.count > 0 ? 100 * Double(grp.correct) / Double(grp.count) : .nan
        }
        let rows = labels.indices.map { gi in [Double(gi), value(zero, gi)] + series.map { value($0.result, gi) } }
        let S = series.count, G = labels.count, R = chosen.count
        let width = min(2400, max(760, 220 + G * (S * 26 + 40)))
        let target = try plotTarget(args, name: "accuracy_" + part, pixels: (width, 600), text: (100, 32))
        var g = plotScript(target)
        let block = g.data("accuracy", rows: rows)
        let who = chosen.isEmpty ? "zero-shot \(m.name)" : chosen.map(\.name).joined(separator: ", ")
        let title = plotTitle(args, "accuracy on \(d.name) \(part) by domain: \(who)")
        plotStyle(&g, title: title, target: target)
        // Bars fill 0.8 of a group, with half a bar between runs; the zero-shot line spans the group.
        let gap = 0.5, box = 0.8 / max(1, Double(S) + gap * Double(max(R - 1, 0)))
        let offsets = series.indices.map { j in (Double(j) + gap * Double(series[j].run) - (Double(S) + gap * Double(max(R - 1, 0)) - 1) / 2) * box }
        let titleLines = plotTitleLines(title, target).count
        let keyTitles = ["zero-shot"] + series.map(\.label)
        let keyRows = plotKeyBelow(&g, titles: keyTitles, columns: 4, target: target)
        // The value above each bar, turned upright, where the bar is wide enough for the text.
        let plotWidth = Double(target.terminal.size.width) - 14 * target.charWidth()
        let plotHeight = Double(target.terminal.size.height) - Double(titleLines + keyRows + 5) * target.lineHeight()
        let barPixels = plotWidth * box * 0.92 / (Double(G) + 0.2)
        let valueLabels = !target.terminal.isText && S > 0 && barPixels >= 1.1 * target.lineHeight(8) / 1.5 && plotHeight > 0
        let values = rows.flatMap { $0.dropFirst() }
        var (lo, hi) = paddedBounds(values, floor: 0, ceiling: 100, minimumSpan: 4) ?? (0, 100)
        if valueLabels {
            // Room above the highest bar for its label ("100.0", upright).
            let labelPixels = 5.6 * target.charWidth(8)
            hi += (hi - lo) * labelPixels / max(plotHeight - labelPixels, 1)
        }
        g.add("set style fill solid 0.9 border lc rgb '#333333'", "set boxwidth \(gnuplotNumber(box * 0.92))",
              "set xrange [-0.6:\(gnuplotNumber(Double(G) - 0.4))]", "set yrange [\(gnuplotNumber(lo)):\(gnuplotNumber(hi))]",
              "set ylabel 'accuracy (%)' noenhanced", "set xlabel \(gnuplotQuote("domain (\(part) part)")) noenhanced",
              "set xtics (" + labels.enumerated().map { "\(gnuplotTicLabel($0.element)) \($0.offset)" }.joined(separator: ", ") + ") noenhanced scale 0")
        if !target.terminal.isText { g.add("set grid noxtics ytics") }
        var elements: [String] = []
        // Zero-shot: a dashed line across each group.
        let half = gnuplotNumber(0.46)
        elements.append("\(block) using ($1 - \(half)):2:(2 * \(half)):(0) with vectors nohead dt 2 lw 2 \(plotColor(target, "#555555", series: 0)) title 'zero-shot'")
        for (j, s) in series.enumerated() {
            let off = gnuplotNumber(offsets[j])
            let states = series.filter { $0.run == s.run }.count, k = series[..<j].filter { $0.run == s.run }.count
            let base = Workspace.plotColors[s.run % Workspace.plotColors.count]
            let color = plotLighter(base, states > 1 ? 0.7 * Double(k) / Double(states - 1) : 0)
            if target.terminal.isText {
                // Bars alike in text: a letter on top of each tells the states apart.
                elements.append("\(block) using ($1 + \(off)):\(j + 3) with boxes \(plotColor(target, color, series: s.run + 1)) notitle")
                elements.append("\(block) using ($1 + \(off)):\(j + 3) with points pt \(plotPoint(target, 7, series: j)) title \(gnuplotQuote(s.label)) noenhanced")
            } else {
                elements.append("\(block) using ($1 + \(off)):\(j + 3) with boxes lc rgb '\(color)' title \(gnuplotQuote(s.label)) noenhanced")
            }
        }
        if valueLabels {
            for j in 0 ..< S {
                elements.append("\(block) using ($1 + \(gnuplotNumber(offsets[j]))):\(j + 3):(sprintf('%.1f', column(\(j + 3)))) with labels rotate by 90 left offset 0,0.4 font ',8' notitle")
            }
        }
        g.add("plot " + elements.joined(separator: ", "))
        try drawPlot(g, target, args, what: "accuracy on \(part) (zero-shot and \(S) weights × \(G) group\(G == 1 ? "" : "s"))")
    }

    // MARK: sweep

    func plotSweep(_ args: Arguments) throws {
        let run = try self.run(args)
        let ood = args[PlotArguments.outOfDistribution], id = args[PlotArguments.inDistribution]
        guard ood != id else { throw args.error("vs", "vs=\(id) is the same part as 'on \(ood)': the sweep puts two parts against each other") }
        let m = try modelNamed(run.modelName, args), d = try dataNamed(run.dataName, args)
        func point(_ state: String) throws -> (x: Double, y: Double) {
            let x = try evaluate(model: m, data: d, run: run, state: state, part: id, args: args).accuracy
            let y = try evaluate(model: m, data: d, run: run, state: state, part: ood, args: args).accuracy
            return (100 * x, 100 * y)
        }
        var sweep: [[Double]] = []
        for i in 0 ... 10 {
            let alpha = Double(i) / 10
            let state = i == 0 ? "zeroshot" : i == 10 ? "final" : "wise:" + formatPlotNumber(alpha)
            let p = try point(state)
            sweep.append([alpha, p.x, p.y])
        }
        let averages = try run.trainer.averages.map { a -> (String, Double, Double) in
            let p = try point(a.label)
            return (a.label, p.x, p.y)
        }
        let target = try plotTarget(args, name: "sweep_" + plotFileName(run.name), pixels: (820, 700), text: (100, 36))
        var g = plotScript(target)
        let block = g.data("sweep", rows: sweep)
        let ends = g.data("ends", rows: [sweep[0], sweep[10]])
        let avg = g.data("averages", rows: averages.enumerated().map { [Double($0.offset), $0.element.1, $0.element.2] })
        let title = plotTitle(args, "WiSE-FT sweep of run \(run.name): α mixes zero-shot (0) and fine-tuned (1) weights")
        plotStyle(&g, title: title, target: target)
        let xs = sweep.map { $0[1] } + averages.map(\.1), ys = sweep.map { $0[2] } + averages.map(\.2)
        let xr = paddedBounds(xs, floor: -3, ceiling: 103, minimumSpan: 4) ?? (0, 100), yr = paddedBounds(ys, floor: -3, ceiling: 103, minimumSpan: 4) ?? (0, 100)
        g.add("set xlabel \(gnuplotQuote("\(id) accuracy (%), in distribution")) noenhanced",
              "set ylabel \(gnuplotQuote("\(ood) accuracy (%), out of distribution")) noenhanced")
        let keyRows = plotKeyBelow(&g, titles: ["WiSE-FT, α = 0, 0.1, …, 1", "zero-shot (α = 0)", "final (α = 1)"] + averages.map(\.0), columns: 3, target: target)
        var elements = [
            "\(block) using 2:3 with linespoints lw 2 pt \(plotPoint(target, 7, series: 0)) ps \(target.ps(0.9)) \(plotColor(target, Workspace.plotColors[0], series: 0)) title 'WiSE-FT, α = 0, 0.1, …, 1'",
            "\(ends) every ::0::0 using 2:3 with points pt \(plotPoint(target, 5, series: 1)) ps \(target.ps(2.2)) \(plotColor(target, "#777777", series: 1)) title 'zero-shot (α = 0)'",
            "\(ends) every ::1::1 using 2:3 with points pt \(plotPoint(target, 7, series: 2)) ps \(target.ps(2.2)) \(plotColor(target, Workspace.plotColors[1], series: 2)) title 'final (α = 1)'",
        ]
        for (i, a) in averages.enumerated() {
            let color = Workspace.plotColors[(i + 2) % Workspace.plotColors.count]
            elements.append("\(avg) every ::\(i)::\(i) using 2:3 with points pt \(plotPoint(target, i % 2 == 0 ? 9 : 13, series: i + 3)) ps \(target.ps(2)) \(plotColor(target, color, series: i + 3)) title \(gnuplotQuote(a.0)) noenhanced")
        }
        if target.terminal.isText {
            g.add("set xrange [\(gnuplotNumber(xr.0)):\(gnuplotNumber(xr.1))]", "set yrange [\(gnuplotNumber(yr.0)):\(gnuplotNumber(yr.1))]")
        } else {
            // One label per place (runs of α that land on the same point read "α = 0.3–0.9"), each
            // where it overlaps no other label, point or line, or left out.
            let frame = plotFrame(&g, target, x: xr, y: yr, titleLines: plotTitleLines(title, target).count, keyRows: keyRows, yticChars: 5)
            var spots: [(x: Double, y: Double, from: Double, to: Double)] = []
            for r in sweep {
                if let last = spots.last, last.x == r[1], last.y == r[2] { spots[spots.count - 1].to = r[0] } else { spots.append((r[1], r[2], r[0], r[0])) }
            }
            let small = 0.9 * 3.5 * target.scale + 1, big = 2.2 * 3.5 * target.scale + 1
            var obstacles = polylineObstacles(sweep.map { ($0[1], $0[2]) }, frame: frame, step: 3, radius: 1.5 * target.scale)
            obstacles += [(sweep[0][1], sweep[0][2], big), (sweep[10][1], sweep[10][2], big)] + averages.map { ($0.1, $0.2, 2 * 3.5 * target.scale + 1) }
            obstacles += sweep.map { ($0[1], $0[2], small) }
            let texts = spots.map { $0.from == $0.to ? String(format: "α = %.1f", $0.from) : String(format: "α = %.1f–%.1f", $0.from, $0.to) }
            let placed = placeLabels(spots.indices.map { (texts[$0], spots[$0].x, spots[$0].y, $0 == 0 || $0 == spots.count - 1 ? big : small) },
                                     obstacles: obstacles, frame: frame, charWidth: 1.1 * target.charWidth(8), height: target.lineHeight(8) / 1.2)
            for (i, p) in placed.enumerated() {
                guard let p else { continue }
                g.add("set label \(i + 1) \(gnuplotQuote(texts[i])) at \(gnuplotNumber(p.x)),\(gnuplotNumber(p.y)) \(p.align) font ',8' tc rgb '#333333' noenhanced front")
            }
        }
        g.add("plot " + elements.joined(separator: ", "))
        try drawPlot(g, target, args, what: "the WiSE-FT sweep of \(run.name) (\(ood) against \(id))")
    }

    // MARK: runs (λ / β sweeps)

    func plotRuns(_ args: Arguments) throws {
        let names = try requestedRuns(args)
        guard let first = names.first.flatMap({ runs[$0] }) else { throw args.error("no runs to plot", hint: "train some with: train lambda=… as NAME") }
        let ood = args[PlotArguments.outOfDistribution], id = args[PlotArguments.inDistribution]
        guard ood != id else { throw args.error("vs", "vs=\(id) is the same part as 'on \(ood)': the plot puts two parts against each other") }
        let m = try modelNamed(first.modelName, args), d = try dataNamed(first.dataName, args)
        func point(_ run: Run?, _ state: String) throws -> [Double] {
            [100 * (try evaluate(model: m, data: d, run: run, state: state, part: id, args: args).accuracy),
             100 * (try evaluate(model: m, data: d, run: run, state: state, part: ood, args: args).accuracy)]
        }
        let zero = try point(nil, "zeroshot")
        // Every run's states; the symbol says the state (the same in every run), the colour the run.
        var states: [String] = []
        var points: [[(state: String, p: [Double])]] = []
        for n in names {
            let run = runs[n]!
            var mine: [(state: String, p: [Double])] = []
            for state in ["final"] + run.trainer.averages.map(\.label) + ["wise:0.5"] {
                mine.append((state, try point(run, state)))
                if !states.contains(state) { states.append(state) }
            }
            points.append(mine)
        }
        let target = try plotTarget(args, name: "runs_" + plotFileName(ood), pixels: (820, 700), text: (100, 36))
        // Final weights a filled circle, WiSE-FT an open one, the averages other shapes.
        let shapes = [9, 11, 13, 15, 8, 10, 12, 14, 4, 1, 2, 3]
        func symbol(_ state: String) -> Int {
            let k = states.firstIndex(of: state)!
            let averages = states.filter { $0 != "final" && $0 != "wise:0.5" }
            let shape = state == "final" ? 7 : state == "wise:0.5" ? 6 : shapes[(averages.firstIndex(of: state) ?? 0) % shapes.count]
            return plotPoint(target, shape, series: names.count + 1 + k)
        }
        var g = plotScript(target)
        let zb = g.data("zeroshot", rows: [zero])
        // A run's line goes through zero-shot and its states in the order of in-distribution accuracy.
        func byX(_ a: [Double], _ b: [Double]) -> Bool { a[0] != b[0] ? a[0] < b[0] : a[1] < b[1] }
        let lines: [[[Double]]] = points.map { mine in ([zero] + mine.map(\.p)).sorted(by: byX) }
        var lineBlocks: [String] = [], pointBlocks: [String] = []
        for (i, mine) in points.enumerated() {
            lineBlocks.append(g.data("line\(i)", rows: lines[i]))
            pointBlocks.append(g.data("points\(i)", rows: mine.map { $0.p + [Double(symbol($0.state))] }))
        }
        let title = plotTitle(args, "runs in (\(id)) and out of distribution (\(ood)): every run's final weights, averages and WiSE-FT (α = 0.5)")
        plotStyle(&g, title: title, target: target)
        let all = [zero] + points.flatMap { $0.map(\.p) }
        let xr = paddedBounds(all.map { $0[0] }, floor: -3, ceiling: 103, minimumSpan: 4) ?? (0, 100)
        let yr = paddedBounds(all.map { $0[1] }, floor: -3, ceiling: 103, minimumSpan: 4) ?? (0, 100)
        g.add("set xlabel \(gnuplotQuote("\(id) accuracy (%), in distribution")) noenhanced",
              "set ylabel \(gnuplotQuote("\(ood) accuracy (%), out of distribution")) noenhanced")
        let runTitles = names.map { "\($0) (λ = \(formatPlotNumber(Double(runs[$0]!.config.lambda))))" }
        let keyRows = plotKeyBelow(&g, titles: runTitles + ["zero-shot"] + states, columns: 4, target: target)
        var elements: [String] = []
        for (i, _) in names.enumerated() {
            let color = plotColor(target, Workspace.plotColors[i % Workspace.plotColors.count], series: i)
            elements.append("\(lineBlocks[i]) using 1:2 with lines lw 1.5 \(color) title \(gnuplotQuote(runTitles[i])) noenhanced")
            elements.append("\(pointBlocks[i]) using 1:2:3 with points pt variable ps \(target.ps(1.7)) \(color) notitle")
        }
        elements.append("\(zb) using 1:2 with points pt \(plotPoint(target, 5, series: names.count)) ps \(target.ps(2.2)) \(plotColor(target, "#777777", series: names.count)) title 'zero-shot'")
        for state in states {
            elements.append("keyentry with points pt \(symbol(state)) ps \(target.ps(1.7)) \(plotColor(target, "#444444", series: 0)) title \(gnuplotQuote(state)) noenhanced")
        }
        if target.terminal.isText {
            g.add("set xrange [\(gnuplotNumber(xr.0)):\(gnuplotNumber(xr.1))]", "set yrange [\(gnuplotNumber(yr.0)):\(gnuplotNumber(yr.1))]")
        } else {
            // Each point named by its state when every name fits beside its point; where they
            // crowd, the key alone tells them apart (symbol = state, colour = run).
            let frame = plotFrame(&g, target, x: xr, y: yr, titleLines: plotTitleLines(title, target).count, keyRows: keyRows, yticChars: 5)
            let radius = 1.7 * 3.5 * target.scale + 1
            var obstacles: [(x: Double, y: Double, radius: Double)] = [(zero[0], zero[1], 2.2 * 3.5 * target.scale + 1)]
            for mine in points {
                for q in mine { obstacles.append((q.p[0], q.p[1], radius)) }
            }
            for line in lines {
                obstacles += polylineObstacles(line.map { ($0[0], $0[1]) }, frame: frame, step: 3, radius: 1.5 * target.scale)
            }
            var labels: [(text: String, x: Double, y: Double, radius: Double)] = []
            for mine in points {
                for q in mine { labels.append((q.state, q.p[0], q.p[1], radius)) }
            }
            let placed = placeLabels(labels, obstacles: obstacles, frame: frame, charWidth: 1.1 * target.charWidth(8), height: target.lineHeight(8) / 1.2)
            if !placed.contains(nil) {
                for (i, p) in placed.enumerated() {
                    g.add("set label \(i + 1) \(gnuplotQuote(labels[i].0)) at \(gnuplotNumber(p!.x)),\(gnuplotNumber(p!.y)) \(p!.align) font ',8' tc rgb '#333333' noenhanced front")
                }
            }
        }
        g.add("plot " + elements.joined(separator: ", "))
        try drawPlot(g, target, args, what: "\(names.count) run\(names.count == 1 ? "" : "s") (\(ood) against \(id))")
    }

    // MARK: ablation

    func plotAblation(_ args: Arguments) throws {
        guard !ablationOrder.isEmpty else { throw args.error("no ablate grid to plot", hint: "run one first, e.g.: ablate setting=shift seeds=0,1,2") }
        let setting = args[PlotArguments.setting] ?? ablationOrder.last!
        guard let r = ablations[setting] else {
            throw args.error("setting", "no '\(setting)' ablate grid in this session", hint: "run: ablate setting=\(setting) (done: \(ablationOrder.joined(separator: ", ")))")
        }
        let part = args[PlotArguments.ablationPart]
        guard r.parts.contains(part) else { throw args.error("on", "the \(setting) grid has no \(part) part (it has: \(r.parts.joined(separator: ", ")))") }
        let shown = r.states.filter { $0 != "zeroshot" }
        let S = shown.count, L = r.lambdas.count
        let spread = min(0.5, 0.06 * Double(S)) // states side by side around each λ, so bars do not overlap
        let target = try plotTarget(args, name: "ablation_\(setting)_\(part)", pixels: (860, 620), text: (100, 34))
        var blocks: [String] = []
        var g = plotScript(target)
        var all: [Double] = []
        for (j, state) in shown.enumerated() {
            let off = S > 1 ? (Double(j) / Double(S - 1) - 0.5) * spread : 0
            let rows: [[Double]] = r.lambdas.enumerated().compactMap { i, l in
                guard let (m, sd) = r.meanAndDeviation(part: part, state: state, lambda: l) else { return nil }
                all += [m - sd, m + sd]
                return [Double(i) + off, m, sd]
            }
            blocks.append(g.data("s\(j)", rows: rows))
        }
        let zero = r.meanAndDeviation(part: part, state: "zeroshot", lambda: r.lambdas[0])
        if let z = zero { all.append(z.0) }
        let seeds = r.seeds.map(String.init).joined(separator: ",")
        plotStyle(&g, title: plotTitle(args, "ablate \(setting): \(part) accuracy (\(r.scopes[part] ?? part)), mean ± std over seeds \(seeds), \(r.steps) steps"),
                  target: target)
        g.add("set xrange [-0.5:\(gnuplotNumber(Double(L) - 0.5))]",
              "set yrange \(paddedRange(all, floor: 0, ceiling: 100, minimumSpan: 4))",
              "set ylabel \(gnuplotQuote("\(part) accuracy (%)")) noenhanced", "set xlabel 'margin strength λ (λ = 0: cross-entropy)' noenhanced",
              "set xtics (" + r.lambdas.enumerated().map { "\(gnuplotTicLabel("λ=" + formatPlotNumber($0.element))) \($0.offset)" }.joined(separator: ", ") + ") noenhanced scale 0")
        if !target.terminal.isText { g.add("set grid noxtics ytics") }
        plotKeyBelow(&g, titles: (zero == nil ? [] : ["zero-shot"]) + shown, columns: 5, target: target)
        var elements: [String] = []
        if let z = zero { elements.append("\(gnuplotNumber(z.0)) with lines dt 2 lw 2 \(plotColor(target, "#777777", series: 0)) title 'zero-shot'") }
        for (j, state) in shown.enumerated() {
            let color = plotColor(target, Workspace.plotColors[j % Workspace.plotColors.count], series: j + 1)
            elements.append("\(blocks[j]) using 1:2:3 with yerrorlines lw 1.6 pt \(plotPoint(target, 7, series: j + 1)) ps \(target.ps(1.1)) \(color) title \(gnuplotQuote(state)) noenhanced")
        }
        g.add("plot " + elements.joined(separator: ", "))
        try drawPlot(g, target, args, what: "the \(setting) ablation (\(part), \(S) weight states × \(L) λ)")
    }

    // MARK: Shared pieces

    /// Colour-blind-safe line colours (Okabe–Ito, then a few more).
    static let plotColors = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C564B", "#B8860B", "#7F7F7F"]

    /// Where a figure goes and in what form.
    struct PlotTarget {
        let terminal: GnuplotTerminal
        /// The file (nil: the text is printed here).
        let path: String?
        /// The path as the user gave it (or the default under the plots setting).
        let shown: String?
        /// Fonts, lines and points relative to the figure's default size (`plotScale`); 1 for text.
        let scale: Double

        /// A point size `ps` times the scale (svg and libgd's png have no `pointscale`).
        func ps(_ size: Double) -> String { gnuplotNumber(size * scale) }

        /// Rough pixel sizes of text in `points` (before scaling) for laying figures out: the
        /// average advance of a DejaVu Sans character, and a line's height with its spacing.
        func charWidth(_ points: Double = 10) -> Double { terminal.isText ? 1 : 0.7 * points * scale }
        func lineHeight(_ points: Double = 10) -> Double { terminal.isText ? 1 : 1.6 * points * scale }
    }

    /// How much to enlarge fonts, lines and points at `size` against a figure's default size:
    /// the square root of the area ratio, so a figure twice as wide and high has text twice as
    /// large, kept within 0.7 (7 pt text, the smallest that stays legible in a 400×300 PNG) and 4.
    static func plotScale(size: (Int, Int), default d: (Int, Int)) -> Double {
        let ratio = (Double(size.0) * Double(size.1)) / max(1, Double(d.0) * Double(d.1))
        return min(4, max(0.7, ratio.squareRoot()))
    }

    /// Resolves `to`, `term` and `size` (pixels for files, columns × rows for text) and
    /// creates the output directory; errors point at the argument at fault.
    func plotTarget(_ args: Arguments, name: String, pixels: (Int, Int), text: (Int, Int)) throws -> PlotTarget {
        let term = args[PlotArguments.term]
        let given = args[PlotArguments.output]
        var kind = term ?? "png"
        if let to = given {
            let ext = (to as NSString).pathExtension.lowercased()
            switch ext {
            case "png", "svg", "pdf": kind = ext
            case "txt": kind = "dumb"
            default: throw args.error("to", "'to' expects a .png, .svg or .pdf file (or .txt with term=dumb), got '\(to)'")
            }
            if let term, term != kind {
                throw args.error("term", kind == "dumb" ? "a .txt file holds term=dumb text, not \(term)"
                                                        : "term=\(term) does not match '\(to)' (a \(kind) file)",
                                 hint: term == "dumb" ? "term=dumb prints the figure here, or writes it to FILE.txt" : "leave out term=: the extension decides")
            }
            guard gnuplotSanitize(to) == to else { throw args.error("to", "the file name contains control characters") }
        }
        var size = kind == "dumb" ? text : pixels
        if let v = args[PlotArguments.size] {
            guard v.count == 2 else { throw args.error("size", "size= expects two numbers W,H, got '\(v.map(String.init).joined(separator: ","))'") }
            if kind == "dumb" && (v[0] > 1000 || v[1] > 1000) { throw args.error("size", "size= for term=dumb is in characters: at most 1000,1000") }
            size = (v[0], v[1])
        }
        let terminal: GnuplotTerminal
        switch kind {
        case "svg": terminal = .svg(width: size.0, height: size.1)
        case "pdf": terminal = .pdf(width: size.0, height: size.1)
        case "dumb": terminal = .dumb(columns: size.0, rows: size.1)
        default: terminal = .png(width: size.0, height: size.1)
        }
        let scale = kind == "dumb" ? 1 : Workspace.plotScale(size: size, default: pixels)
        if kind == "dumb" && given == nil { return PlotTarget(terminal: terminal, path: nil, shown: nil, scale: scale) }
        let shown = given ?? settings.plots + "/" + name + "." + kind
        let path = expandPath(shown)
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            do { try AtomicWrite.makeFolders(dir) } catch { throw args.error("to", String(describing: error)) }
        }
        return PlotTarget(terminal: terminal, path: path, shown: shown, scale: scale)
    }

    /// A new script for `target`: fonts and lines at its scale.
    func plotScript(_ target: PlotTarget) -> GnuplotScript {
        var g = GnuplotScript()
        g.scale = target.scale
        return g
    }

    /// Runs gnuplot and says where the figure went (or prints the text drawing).
    func drawPlot(_ script: GnuplotScript, _ target: PlotTarget, _ args: Arguments, what: String) throws {
        let gnuplot: Gnuplot
        do { gnuplot = try Gnuplot() } catch { throw args.error(String(describing: error)) }
        let out: GnuplotOutput
        do { out = try gnuplot.draw(script, terminal: target.terminal, output: target.path) } catch {
            throw args.has("to") && (error is IOFailure || "\(error)".contains("cannot open")) ? args.error("to", String(describing: error)) : args.error(String(describing: error))
        }
        for w in out.warnings { writeError("gnuplot: " + w) }
        if let shown = target.shown {
            let size: String
            switch target.terminal {
            case .png(let w, let h), .svg(let w, let h): size = "\(w)×\(h)"
            case .pdf(let w, let h): size = "\(w)×\(h) pt"
            case .dumb(let c, let r): size = "\(c)×\(r) characters"
            }
            say("wrote \(what) to \(shown) (\(target.terminal.kind), \(size))")
        } else {
            write(out.text)
        }
    }

    /// The key under the x axis label, in at most `columns` columns (as many as fit the width),
    /// filled column by column, with the bottom margin made for it; returns its rows.
    @discardableResult
    func plotKeyBelow(_ g: inout GnuplotScript, titles: [String], columns: Int, target: PlotTarget) -> Int {
        let available = Double(target.terminal.size.width - 4) / target.charWidth()
        let entry = (titles.map(\.count).max() ?? 0) + 11
        let fit = max(1, min(columns, Int(available) / max(entry, 1), titles.count))
        let rows = max(1, (titles.count + fit - 1) / fit)
        g.add("set bmargin \(rows + 4)", "set key at screen 0.5, 0.012 center bottom vertical Left reverse maxrows \(rows) width 1")
        return rows
    }

    /// The title= option when given ("" for none), else `fallback`.
    func plotTitle(_ args: Arguments, _ fallback: String) -> String {
        args.has(PlotArguments.title) ? args[PlotArguments.title] ?? "" : fallback
    }

    /// `title` broken at spaces into lines that fit the figure's width at its font size.
    func plotTitleLines(_ title: String, _ target: PlotTarget) -> [String] {
        // Wider than the average character: a title is clipped where a label is only crowded.
        let width = max(12, Int(Double(target.terminal.size.width - (target.terminal.isText ? 2 : 16)) / (target.terminal.isText ? 1 : 1.2 * target.charWidth())))
        var lines: [String] = [], line = ""
        for word in gnuplotSanitize(title).split(separator: " ", omittingEmptySubsequences: true) {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    /// The title as a gnuplot string expression: each line quoted, joined by line breaks
    /// (gnuplotQuote turns a line break inside a string into a space). Nil for no title.
    func plotTitleExpression(_ title: String?, _ target: PlotTarget) -> String? {
        guard let title else { return nil }
        let lines = plotTitleLines(title, target)
        return lines.isEmpty ? nil : lines.map { gnuplotQuote($0) }.joined(separator: " . \"\\n\" . ")
    }

    /// The look shared by every figure, and the title (none when nil or empty).
    func plotStyle(_ g: inout GnuplotScript, title: String?, target: PlotTarget) {
        if let t = plotTitleExpression(title, target) { g.add("set title \(t) noenhanced") }
        g.add("set border 3 lw 1.2 lc rgb '#333333'", "set tics nomirror out", "set key noautotitle nobox")
        if !target.terminal.isText { g.add("set grid lc rgb '#DDDDDD' lw 1 dt 1") }
    }

    /// A series' colour: `color` in a file; in text, where there are no colours, linetype
    /// `series` (the dumb terminal draws lines of the first seven with * # $ % @ & =).
    func plotColor(_ target: PlotTarget, _ color: String, series: Int) -> String {
        target.terminal.isText ? "lt \(series % 7 + 1)" : "lc rgb '\(color)'"
    }

    /// `color` ("#RRGGBB") mixed with white: `amount` 0 is the colour, 1 white.
    func plotLighter(_ color: String, _ amount: Double = 0.6) -> String {
        let hex = Int(color.dropFirst(), radix: 16) ?? 0
        let mixed = [16, 8, 0].map { shift -> Int in
            let c = Double((hex >> shift) & 0xFF)
            return Int((c + (255 - c) * amount).rounded())
        }
        return "#" + mixed.map { String(format: "%02X", $0) }.joined()
    }

    /// A series' point type: `type` in a file; in text the letter of `series` (the dumb terminal
    /// draws point type n as the nth capital letter), so that every series has its own symbol.
    func plotPoint(_ target: PlotTarget, _ type: Int, series: Int) -> Int {
        target.terminal.isText ? series % 26 + 1 : type
    }

    /// Sets the plot area by screen margins (so that labels can be placed in pixels) and the
    /// axis ranges; the margins leave room for `titleLines` lines of title, `keyRows` rows of
    /// key below and y tic labels of `yticChars` characters.
    func plotFrame(_ g: inout GnuplotScript, _ target: PlotTarget, x: (Double, Double), y: (Double, Double),
                   titleLines: Int, keyRows: Int, yticChars: Int) -> PlotFrame {
        let (w, h) = (Double(target.terminal.size.width), Double(target.terminal.size.height))
        let cw = target.charWidth(), lh = target.lineHeight()
        let left = Double(yticChars + 2) * cw + 2 * lh, right = w - 3 * cw
        let top = (Double(titleLines) + 1.2) * lh, bottom = h - (Double(keyRows) + 4.5) * lh
        g.add("set lmargin at screen \(gnuplotNumber(left / w))", "set rmargin at screen \(gnuplotNumber(right / w))",
              "set tmargin at screen \(gnuplotNumber(1 - top / h))", "set bmargin at screen \(gnuplotNumber(1 - bottom / h))",
              "set xrange [\(gnuplotNumber(x.0)):\(gnuplotNumber(x.1))]", "set yrange [\(gnuplotNumber(y.0)):\(gnuplotNumber(y.1))]")
        return PlotFrame(x: x, y: y, left: left, right: right, top: top, bottom: bottom)
    }
}

/// A plot area in pixels (from the figure's top left) and the data ranges it shows.
struct PlotFrame {
    let x: (Double, Double), y: (Double, Double)
    let left: Double, right: Double, top: Double, bottom: Double

    func pixel(_ px: Double, _ py: Double) -> (x: Double, y: Double) {
        (left + (px - x.0) / (x.1 - x.0) * (right - left), bottom - (py - y.0) / (y.1 - y.0) * (bottom - top))
    }

    func value(_ qx: Double, _ qy: Double) -> (x: Double, y: Double) {
        (x.0 + (qx - left) / (right - left) * (x.1 - x.0), y.0 + (bottom - qy) / (bottom - top) * (y.1 - y.0))
    }
}

/// A label placed by `placeLabels`: where its anchor is (data coordinates) and how it is aligned.
struct PlacedLabel: Equatable {
    let x: Double, y: Double
    let align: String
}

/// Places labels next to their points without overlapping each other, the points or the
/// lines: for each label in turn the first free spot of eight around its point (right above,
/// right below, left above, …), or none (nil) where all eight are taken. `obstacles` are
/// circles in data coordinates with a radius in pixels; labels are `charWidth` pixels a
/// character and `height` pixels high.
func placeLabels(_ labels: [(text: String, x: Double, y: Double, radius: Double)], obstacles: [(x: Double, y: Double, radius: Double)],
                 frame: PlotFrame, charWidth: Double, height: Double) -> [PlacedLabel?] {
    struct Box { var x0, y0, x1, y1: Double }
    var taken: [Box] = []
    let circles = obstacles.map { (c: frame.pixel($0.x, $0.y), r: $0.radius) }
    func free(_ b: Box) -> Bool {
        guard b.x0 >= frame.left, b.x1 <= frame.right, b.y0 >= frame.top, b.y1 <= frame.bottom else { return false }
        if taken.contains(where: { $0.x0 < b.x1 + 1 && b.x0 < $0.x1 + 1 && $0.y0 < b.y1 + 1 && b.y0 < $0.y1 + 1 }) { return false }
        return !circles.contains { c in
            let nx = min(max(c.c.x, b.x0), b.x1), ny = min(max(c.c.y, b.y0), b.y1)
            return (nx - c.c.x) * (nx - c.c.x) + (ny - c.c.y) * (ny - c.c.y) < c.r * c.r
        }
    }
    return labels.map { l in
        let p = frame.pixel(l.x, l.y), w = Double(l.text.count) * charWidth, gap = l.radius + 0.4 * charWidth
        let lift = 0.55 * height
        // (left edge, vertical centre, alignment)
        let spots: [(Double, Double, String)] = [
            (p.x + gap, p.y - lift, "left"), (p.x + gap, p.y + lift, "left"),
            (p.x - gap - w, p.y - lift, "right"), (p.x - gap - w, p.y + lift, "right"),
            (p.x + gap, p.y, "left"), (p.x - gap - w, p.y, "right"),
            (p.x - w / 2, p.y - gap - height / 2, "center"), (p.x - w / 2, p.y + gap + height / 2, "center"),
        ]
        for (x0, yc, align) in spots {
            let b = Box(x0: x0, y0: yc - height / 2, x1: x0 + w, y1: yc + height / 2)
            guard free(b) else { continue }
            taken.append(b)
            let anchorX = align == "left" ? x0 : align == "right" ? x0 + w : x0 + w / 2
            let v = frame.value(anchorX, yc)
            return PlacedLabel(x: v.x, y: v.y, align: align)
        }
        return nil
    }
}

/// Points every `step` pixels along a polyline (data coordinates), as obstacles for `placeLabels`.
func polylineObstacles(_ points: [(Double, Double)], frame: PlotFrame, step: Double, radius: Double) -> [(x: Double, y: Double, radius: Double)] {
    var out: [(x: Double, y: Double, radius: Double)] = []
    for (a, b) in zip(points, points.dropFirst()) {
        let pa = frame.pixel(a.0, a.1), pb = frame.pixel(b.0, b.1)
        let n = max(1, Int((hypot(pb.x - pa.x, pb.y - pa.y) / step).rounded(.up)))
        for i in 0 ... n {
            let t = Double(i) / Double(n)
            out.append((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1), radius))
        }
    }
    return out
}

/// A fraction as a percentage: "6.2%", and two significant digits below 0.1% ("0.02%").
func formatShare(_ x: Double) -> String {
    100 * x >= 0.1 || x == 0 ? String(format: "%.1f%%", 100 * x) : String(format: "%.2g%%", 100 * x)
}

/// "0.5", "1", "0.001": a number as people write it.
func formatPlotNumber(_ x: Double) -> String { String(format: "%g", x) }

/// A run name as a file name: letters, digits, . - _ kept, the rest _.
func plotFileName(_ s: String) -> String {
    let kept = s.unicodeScalars.map { ($0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0))) ? Character($0) : "_" }
    let name = String(kept)
    return name.isEmpty || name.hasPrefix(".") ? "_" + name : name
}

/// Centred moving average over `window` values (0: none, the values themselves).
func movingAverage(_ v: [Double], _ window: Int) -> [Double] {
    guard window > 1 else { return v }
    var prefix = [0.0]
    for x in v { prefix.append(prefix.last! + x) }
    return v.indices.map { i in
        let lo = max(0, i - window / 2), hi = min(v.count, i + window - window / 2)
        return (prefix[hi] - prefix[lo]) / Double(hi - lo)
    }
}

/// Tics 1, 2, 5 × 10^k within lo…hi (a log axis with more than the decades labelled).
func logTics(_ lo: Double, _ hi: Double) -> [Double] {
    guard lo > 0, hi > lo else { return [] }
    var tics: [Double] = []
    var decade = pow(10, (log10(lo)).rounded(.down))
    while decade <= hi {
        for m in [1.0, 2, 5] where decade * m >= lo && decade * m <= hi { tics.append(decade * m) }
        decade *= 10
    }
    return tics
}

/// A tic step of 1, 2 or 5 × 10^k that cuts `span` into at most `count` parts.
func plotTicStep(_ span: Double, _ count: Int) -> Double {
    guard span > 0, span.isFinite else { return 1 }
    let raw = span / Double(max(count, 1)), decade = pow(10, log10(raw).rounded(.down))
    return [1.0, 2, 5, 10].map { $0 * decade }.first { $0 >= raw * (1 - 1e-9) }!
}

/// "[a:b]" around the finite values with 8 % padding, at least `minimumSpan` wide, kept within floor…ceiling.
func paddedRange(_ values: [Double], floor: Double?, ceiling: Double? = nil, minimumSpan: Double = 0) -> String {
    guard let (lo, hi) = paddedBounds(values, floor: floor, ceiling: ceiling, minimumSpan: minimumSpan) else { return "[*:*]" }
    return "[\(gnuplotNumber(lo)):\(gnuplotNumber(hi))]"
}

/// The bounds of `paddedRange`; nil when no value is finite.
func paddedBounds(_ values: [Double], floor: Double?, ceiling: Double? = nil, minimumSpan: Double = 0) -> (Double, Double)? {
    let v = values.filter(\.isFinite)
    guard var lo = v.min(), var hi = v.max() else { return nil }
    let span = max(hi - lo, minimumSpan, abs(hi) * 1e-3, 1e-6)
    let mid = (lo + hi) / 2
    lo = min(lo, mid - span / 2) - 0.08 * span
    hi = max(hi, mid + span / 2) + 0.08 * span
    if let floor { lo = max(lo, floor) }
    if let ceiling { hi = min(hi, ceiling) }
    return (lo, hi)
}
