import ClipoodCommands
import ClipoodData
import ClipoodEngine
import ClipoodExperiment
import ClipoodModel
import ClipoodTrain
import ClipoodIO
import Foundation

// plot margins | bma | curves | accuracy | sweep | runs | ablation — figures through gnuplot (Gnuplot.swift).
//
// Every text that comes from the user or the data (titles, class, domain and run names) enters
// the gnuplot script through gnuplotQuote and is drawn `noenhanced`; datablocks hold numbers only.

extension Workspace {
    /// The arguments every `plot` subcommand takes: where the figure goes, and its title and size.
    static func plotOutputArguments(_ name: String) -> [ArgumentSpec] {
        [
            .keyword("to", .path(extensions: ["png", "svg", "txt"]), metavar: "FILE.png|.svg",
                     help: "the figure file, PNG or SVG by its extension (default: <plots setting>/\(name).png; directories are created)"),
            .option("term", .choice(["dumb", "png", "svg"]), help: "dumb: draw in the terminal as text (to FILE.txt keeps it); png or svg: the file's format"),
            .option("title", .string, help: "the figure's title (title=\"\" for none)"),
            .option("size", .list(.int(8 ... 10_000)), metavar: "W,H", help: "size in pixels (png, svg) or in columns,rows (term=dumb)"),
        ]
    }

    static let plotCommand = CommandSpec<Workspace>(
        "plot",
        summary: "figures through gnuplot: PNG or SVG files under the plots setting, or text in the terminal",
        discussion: """
        Each subcommand writes one figure: a PNG (pngcairo) or SVG file chosen by the extension of
        `to FILE`, by default <plots setting>/NAME.png, or with term=dumb a text drawing printed
        here. Figures need gnuplot (apt-get install gnuplot-nox); CLIPOOD_GNUPLOT names another
        gnuplot program.
        """,
        subcommands: [
            CommandSpec("margins", summary: "heatmap of the K×K text-derived margins λ·(1 − cos(t_y, t_j)) of the active model and dataset",
                        arguments: [.option("lambda", .float(0 ... 10), default: "0.3", help: "margin strength λ")] + plotOutputArguments("margins"),
                        examples: ["plot margins", "plot margins lambda=0.1 to plots/margins.svg", "plot margins term=dumb"],
                        run: { ws, args in try ws.plotMargins(args) }),
            CommandSpec("bma", summary: "the Beta(β, β) weight of every step in the moving average, and its cumulative share",
                        discussion: """
                        Step k = 0 is the zero-shot model. β < 1 piles weight on both ends, β = 1 is a uniform
                        average (SWA), β > 1 favours the middle. With a run: its betas and steps (beta= and steps=
                        override them); without one, beta= (default 0.1,0.5,1) over steps= (default 1000) steps.
                        """,
                        arguments: [
                            .positional("run", .name(kind: "run"), optional: true, help: "a run (its betas and steps)"),
                            .option("beta", .list(.float(0.001 ... 1000)), help: "beta(s) to draw (default: the run's, else 0.1,0.5,1)"),
                            .option("steps", .int(1 ... 100_000_000), help: "total steps T (default: the run's, else 1000)"),
                        ] + plotOutputArguments("bma"),
                        examples: ["plot bma", "plot bma beta=0.1,0.5,1 steps=100 term=dumb", "plot bma mms to plots/bma_mms.svg"],
                        run: { ws, args in try ws.plotBMA(args) }),
            CommandSpec("curves", summary: "a run's training loss, accuracy and learning rate against the step",
                        arguments: [.positional("run", .name(kind: "run"), optional: true, help: "a run (default: the last one)")] + plotOutputArguments("curves_RUN"),
                        examples: ["plot curves", "plot curves mms term=dumb"],
                        run: { ws, args in try ws.plotCurves(args) }),
            CommandSpec("accuracy", summary: "accuracy per domain: zero-shot against each run's final weights, averages and WiSE-FT (α = 0.5)",
                        arguments: [
                            .positional("runs", .name(kind: "run"), optional: true, variadic: true, metavar: "run", help: "runs (default: all)"),
                            .keyword("on", .choice(["test", "val", "open", "train"]), metavar: "PART", help: "split part (default test)"),
                        ] + plotOutputArguments("accuracy_PART"),
                        examples: ["plot accuracy", "plot accuracy mms ce on test", "plot accuracy on open to plots/open.svg"],
                        run: { ws, args in try ws.plotAccuracy(args) }),
            CommandSpec("sweep", summary: "WiSE-FT: accuracy in and out of distribution as α mixes zero-shot (0) and fine-tuned (1) weights",
                        discussion: """
                        As in the WiSE-FT paper's figures: x is the accuracy on the `vs` part (in distribution,
                        default val), y the accuracy on the `on` part (out of distribution, default test), one
                        point per α ∈ {0, 0.1, …, 1}; the zero-shot and final weights and the run's averages are marked.
                        """,
                        arguments: [
                            .positional("run", .name(kind: "run"), optional: true, help: "a run (default: the last one)"),
                            .keyword("on", .choice(["test", "val", "open", "train"]), metavar: "PART", help: "the out-of-distribution part, y (default test)"),
                            .option("vs", .choice(["val", "open", "test", "train"]), default: "val", help: "the in-distribution part, x"),
                        ] + plotOutputArguments("sweep_RUN"),
                        examples: ["plot sweep mms", "plot sweep mms on open vs=val"],
                        run: { ws, args in try ws.plotSweep(args) }),
            CommandSpec("runs", summary: "λ and β sweeps: every run's final weights and averages, in against out of distribution",
                        discussion: """
                        One point per run (labelled with its λ; λ = 0 is the cross-entropy baseline) and one
                        per average (labelled bma:β, ema, swa), x = accuracy on the `vs` part (in
                        distribution), y = accuracy on the `on` part (out of distribution) — train runs that
                        differ in lambda= or beta= and draw them together. The zero-shot model is marked.
                        """,
                        arguments: [
                            .positional("runs", .name(kind: "run"), optional: true, variadic: true, metavar: "run", help: "runs (default: all)"),
                            .keyword("on", .choice(["test", "val", "open", "train"]), metavar: "PART", help: "the out-of-distribution part, y (default test)"),
                            .option("vs", .choice(["val", "open", "test", "train"]), default: "val", help: "the in-distribution part, x"),
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
                            .positional("setting", .choice(["shift", "open", "wild"]), optional: true, help: "which ablate grid (default: the last one run)"),
                            .keyword("on", .choice(["test", "open"]), metavar: "PART", help: "test (held-out domain or base classes) or open (new classes); default test"),
                        ] + plotOutputArguments("ablation_SETTING_PART"),
                        examples: ["ablate setting=shift seeds=0,1,2", "plot ablation shift", "plot ablation wild on open to plots/ablation-wild-open.png"],
                        run: { ws, args in try ws.plotAblation(args) }),
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
        let lambda = args.float("lambda")!
        let K = d.dataset.classes.count, names = d.dataset.classNames
        let mm = try marginMatrix(model: m, data: d, lambda: lambda).map(Double.init)
        let side = min(2400, max(640, 260 + 26 * K))
        let target = try plotTarget(args, name: "margins", pixels: (side + 120, side), text: (100, max(22, min(2 * K + 10, 70))))
        var g = GnuplotScript()
        let block = g.matrix("margins", values: mm, rows: K, columns: K)
        let top = max(mm.filter(\.isFinite).max() ?? 1, 1e-6)
        plotStyle(&g, title: plotTitle(args, "text-derived margins λ·(1 − cos(t_y, t_j)), λ = \(lambda), \(d.name), prompt \"\(d.templates[0])\"\(d.templates.count > 1 ? " and \(d.templates.count - 1) more" : "")"), text: target.terminal.isText)
        let every = max(1, Int((Double(K) / 60).rounded(.up)))
        let shown = Array(stride(from: 0, to: K, by: every))
        g.add("unset key", "unset grid", "set size square",
              "set xrange [-0.5:\(Double(K) - 0.5)]", "set yrange [\(Double(K) - 0.5):-0.5]",
              "set xlabel 'other class j' noenhanced", "set ylabel 'true class y' noenhanced")
        if target.terminal.isText {
            // No images on a text terminal: one character per cell, darker for larger margins.
            var columns = 100
            if case .dumb(let c, _) = target.terminal { columns = c }
            let longest = shown.map { names[$0].count }.max() ?? 1
            let width = max(1, (columns - min(longest, 30) - 8) / max(K, 1) - 1)
            g.add("set xtics (" + shown.map { "\(gnuplotTicLabel(String(names[$0].prefix(width)))) \($0)" }.joined(separator: ", ") + ") noenhanced scale 0",
                  "set ytics (" + shown.map { "\(gnuplotTicLabel(names[$0])) \($0)" }.joined(separator: ", ") + ") noenhanced scale 0",
                  "ramp = ' .:-=+*#%@'",
                  "plot \(block) matrix using 1:2:(substr(ramp, int(9.999 * $3 / \(gnuplotNumber(top))) + 1, int(9.999 * $3 / \(gnuplotNumber(top))) + 1)) with labels notitle")
        } else {
            let font = K > 40 ? 7 : K > 20 ? 8 : 10
            g.add("set xtics (" + shown.map { "\(gnuplotTicLabel(names[$0])) \($0)" }.joined(separator: ", ") + ") rotate by 45 right noenhanced scale 0 font ',\(font)'",
                  "set ytics (" + shown.map { "\(gnuplotTicLabel(names[$0])) \($0)" }.joined(separator: ", ") + ") noenhanced scale 0 font ',\(font)'",
                  "set cbrange [0:\(gnuplotNumber(top))]", "set cblabel 'margin' noenhanced", "set colorbox",
                  "set palette defined (0 '#440154', 0.25 '#3B528B', 0.5 '#21918C', 0.75 '#5EC962', 1 '#FDE725')")
            var plot = "plot \(block) matrix with image notitle"
            if K <= 12 {
                // The values in the cells: light text on the dark (small) end of the palette.
                let half = gnuplotNumber(top / 2), format = top < 0.1 ? "%.3f" : "%.2f"
                plot += ", \(block) matrix using 1:2:($1 == $2 || $3 >= \(half) ? '' : sprintf('\(format)', $3)) with labels tc rgb 'white' font ',9' notitle"
                plot += ", \(block) matrix using 1:2:($1 == $2 || $3 < \(half) ? '' : sprintf('\(format)', $3)) with labels tc rgb 'black' font ',9' notitle"
            }
            g.add(plot)
        }
        try drawPlot(g, target, args, what: "the \(K)×\(K) margin heatmap (λ=\(lambda))")
    }

    // MARK: bma

    func plotBMA(_ args: Arguments) throws {
        // As `bma`: a run gives its betas and steps; beta= and steps= override them, or explore without a run.
        let run: Run? = args.has("run") ? try self.run(args) : nil
        var betas: [Double] = []
        if args.has("beta") {
            for v in args.list("beta") {
                if case .float(let x) = v, !betas.contains(x) { betas.append(x) }
                if case .int(let i) = v, !betas.contains(Double(i)) { betas.append(Double(i)) }
            }
        } else {
            betas = run?.config.betas ?? [0.1, 0.5, 1]
        }
        guard !betas.isEmpty else { throw args.error("run", "run '\(run!.name)' kept no Beta moving average", hint: "give beta= to draw a schedule anyway") }
        let steps = args.int("steps") ?? run?.config.steps ?? 1000
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
        let name = args.has("run") ? "bma_" + plotFileName(args.string("run")!) : "bma"
        let target = try plotTarget(args, name: name, pixels: (960, 600), text: (100, 32))
        var g = GnuplotScript()
        let block = g.data("bma", rows: rows)
        plotStyle(&g, title: plotTitle(args, "Beta moving average: weight of each step (\(owner)T = \(T) steps; step 0 = zero-shot weights)"), text: target.terminal.isText)
        // Weights span orders of magnitude (β < 1 piles weight on both ends): a log axis, cut
        // 10⁴ below the largest weight so that a large β's vanishing ends do not flatten the rest.
        let weights = rows.flatMap { r in stride(from: 1, to: r.count, by: 2).map { r[$0] } }.filter { $0 > 0 && $0.isFinite }
        let wmax = weights.max() ?? 1, wmin = max(weights.min() ?? 1e-4, wmax * 1e-4)
        let logScale = wmax / wmin > 20 && !target.terminal.isText
        g.add("set xlabel 'step k' noenhanced", "set ylabel \(gnuplotQuote("weight of step k (% of the average\(logScale ? ", log scale" : ""))")) noenhanced",
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
            elements.append("\(block) using 1:\(2 * i + 2) axes x1y1 with lines lw 2 lc rgb '\(color)' title \(gnuplotQuote(titles[i])) noenhanced")
            cumulative.append("\(block) using 1:\(2 * i + 3) axes x1y2 with lines lw 1.5 dt 2 lc rgb '\(color)' title \(gnuplotQuote(cumulativeTitles[i])) noenhanced")
        }
        plotKeyBelow(&g, titles: titles + cumulativeTitles, columns: 2, terminal: target.terminal)
        g.add("plot " + (elements + cumulative).joined(separator: ", "))
        try drawPlot(g, target, args, what: "the BMA weights of β = " + schedules.map { formatPlotNumber($0.beta) }.joined(separator: ", ") + " over \(T) steps")
    }

    // MARK: curves

    func plotCurves(_ args: Arguments) throws {
        let run = try self.run(args)
        let log = run.log.map(\.record)
        guard !log.isEmpty else { throw args.error("run", "run '\(run.name)' has no steps yet", hint: "train resume=\(run.name)") }
        let n = log.count
        let window = n >= 30 ? max(3, n / 20) : 0
        let loss = log.map { Double($0.loss) }, acc = log.map { 100 * Double($0.accuracy) }
        let smoothLoss = movingAverage(loss, window), smoothAcc = movingAverage(acc, window)
        let rows = log.indices.map { [Double(log[$0].step), loss[$0], acc[$0], log[$0].learningRate, smoothLoss[$0], smoothAcc[$0]] }
        let target = try plotTarget(args, name: "curves_" + plotFileName(run.name), pixels: (960, 760), text: (100, 48))
        var g = GnuplotScript()
        let block = g.data("curves", rows: rows)
        let title = plotTitle(args, "training curves of run \(run.name) (\(run.stepsDone) of \(run.config.steps) steps, λ = \(run.config.lambda), lr = \(run.config.learningRate))")
        plotStyle(&g, title: nil, text: target.terminal.isText)
        let first = Double(log.first!.step), last = Double(log.last!.step)
        let xr = first == last ? "[\(first - 1):\(last + 1)]" : "[\(gnuplotNumber(first)):\(gnuplotNumber(last))]"
        let style = n < 30 ? "linespoints pt 7 ps 0.8" : "lines"
        g.add(title.isEmpty ? "set multiplot layout 2,1" : "set multiplot layout 2,1 title \(gnuplotQuote(title)) noenhanced",
              "set lmargin 12", "set rmargin 14", "set xrange \(xr)", "set key outside top center horizontal",
              // Loss.
              "set ylabel 'training loss' noenhanced", "unset xlabel", "set yrange \(paddedRange(loss, floor: nil))")
        var top = ["\(block) using 1:2 with \(style) lw \(window > 0 ? 1 : 2) lc rgb '\(window > 0 ? "#9ECAE1" : Workspace.plotColors[0])' title 'loss per step'"]
        if window > 0 { top.append("\(block) using 1:5 with lines lw 2 lc rgb '\(Workspace.plotColors[0])' title 'moving average (\(window) steps)'") }
        g.add("plot " + top.joined(separator: ", "))
        // Accuracy, and the learning rate on the right.
        g.add("set xlabel 'step' noenhanced", "set ylabel 'training accuracy (%)' noenhanced", "set yrange [0:102]", "set ytics 0, 20, 100", "set ytics nomirror",
              "set y2label 'learning rate' noenhanced", "set y2tics", "set format y2 '%.1e'", "set y2range [0:\(gnuplotNumber(max(log.map(\.learningRate).max() ?? 0, 1e-12) * 1.05))]")
        var bottom = ["\(block) using 1:3 with \(style) lw \(window > 0 ? 1 : 2) lc rgb '\(window > 0 ? "#FDBE85" : Workspace.plotColors[1])' title 'accuracy per batch'"]
        if window > 0 { bottom.append("\(block) using 1:6 with lines lw 2 lc rgb '\(Workspace.plotColors[1])' title 'moving average (\(window) steps)'") }
        bottom.append("\(block) using 1:4 axes x1y2 with lines lw 1.5 dt 2 lc rgb '#444444' title 'learning rate (right axis)'")
        g.add("plot " + bottom.joined(separator: ", "), "unset multiplot")
        try drawPlot(g, target, args, what: "the training curves of \(run.name) (\(n) steps)")
    }

    // MARK: accuracy

    func plotAccuracy(_ args: Arguments) throws {
        let part = args.string("on") ?? "test"
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
        var series: [(label: String, result: EvaluationResult)] = []
        series.append(("zero-shot", try evaluate(model: m, data: d, run: chosen.first, state: "zeroshot", part: part, args: args)))
        for r in chosen {
            let prefix = chosen.count > 1 ? r.name + " " : "", rm = try modelNamed(r.modelName, args)
            for state in ["final"] + r.trainer.averages.map(\.label) + ["wise:0.5"] {
                series.append((prefix + state, try evaluate(model: rm, data: d, run: r, state: state, part: part, args: args)))
            }
        }
        let groups = series[0].result.groups.enumerated().filter { $0.element.count > 0 }.map { ($0.offset, $0.element.name) }
        let labels = groups.map(\.1) + (groups.count > 1 ? ["all"] : [])
        var rows: [[Double]] = []
        for gi in labels.indices {
            var row = [Double(gi)]
            for s in series {
                if gi < groups.count {
                    let grp = s.result.groups[groups[gi].0]
                    row.append(grp.count > 0 ? 100 * Double(grp.correct) / Double(grp.count) : .nan)
                } else {
                    row.append(100 * s.result.accuracy)
                }
            }
            rows.append(row)
        }
        let S = series.count, G = labels.count
        let width = min(2400, max(760, 220 + G * (S * 26 + 40)))
        let target = try plotTarget(args, name: "accuracy_" + part, pixels: (width, 600), text: (100, 32))
        var g = GnuplotScript()
        let block = g.data("accuracy", rows: rows)
        let who = chosen.isEmpty ? "zero-shot \(m.name)" : chosen.map(\.name).joined(separator: ", ")
        plotStyle(&g, title: plotTitle(args, "accuracy on \(d.name) \(part) by domain: \(who)"), text: target.terminal.isText)
        let box = 0.8 / Double(S)
        g.add("set style fill solid 0.9 border lc rgb '#333333'", "set boxwidth \(gnuplotNumber(box * 0.92))",
              "set xrange [-0.6:\(gnuplotNumber(Double(G) - 0.4))]", "set yrange [0:\(target.terminal.isText ? 100 : 109)]",
              "set ylabel 'accuracy (%)' noenhanced", "set xlabel \(gnuplotQuote("domain (\(part) part)")) noenhanced",
              "set xtics (" + labels.enumerated().map { "\(gnuplotTicLabel($0.element)) \($0.offset)" }.joined(separator: ", ") + ") noenhanced scale 0")
        if !target.terminal.isText { g.add("set grid noxtics ytics") }
        plotKeyBelow(&g, titles: series.map(\.label), columns: 4, terminal: target.terminal)
        var elements: [String] = []
        let accuracyColors = ["#999999"] + Workspace.plotColors
        for j in 0 ..< S {
            let off = gnuplotNumber((Double(j) - Double(S - 1) / 2) * box)
            let color = accuracyColors[j % accuracyColors.count]
            elements.append("\(block) using ($1 + \(off)):\(j + 2) with boxes lc rgb '\(color)' title \(gnuplotQuote(series[j].label)) noenhanced")
        }
        if !target.terminal.isText && S * G <= 60 {
            let rotate = S > 3 ? " rotate by 90 left offset 0,0.3" : " offset 0,0.6"
            for j in 0 ..< S {
                let off = gnuplotNumber((Double(j) - Double(S - 1) / 2) * box)
                elements.append("\(block) using ($1 + \(off)):\(j + 2):(sprintf('%.1f', column(\(j + 2)))) with labels\(rotate) font ',8' notitle")
            }
        }
        g.add("plot " + elements.joined(separator: ", "))
        try drawPlot(g, target, args, what: "accuracy on \(part) (\(S) weights × \(G) groups)")
    }

    // MARK: sweep

    func plotSweep(_ args: Arguments) throws {
        let run = try self.run(args)
        let ood = args.string("on") ?? "test", id = args.string("vs")!
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
        var g = GnuplotScript()
        let block = g.data("sweep", rows: sweep)
        let ends = g.data("ends", rows: [sweep[0], sweep[10]])
        // One label per place: runs of α that land on the same point read "0.3–0.9".
        var spots: [[Double]] = []
        for r in sweep {
            if let last = spots.last, last[0] == r[1], last[1] == r[2] { spots[spots.count - 1][3] = r[0] } else { spots.append([r[1], r[2], r[0], r[0]]) }
        }
        let labels = g.data("alphas", rows: spots)
        let avg = g.data("averages", rows: averages.enumerated().map { [Double($0.offset), $0.element.1, $0.element.2] })
        plotStyle(&g, title: plotTitle(args, "WiSE-FT sweep of run \(run.name): α mixes zero-shot (0) and fine-tuned (1) weights"), text: target.terminal.isText)
        let xs = sweep.map { $0[1] } + averages.map(\.1), ys = sweep.map { $0[2] } + averages.map(\.2)
        g.add("set xlabel \(gnuplotQuote("\(id) accuracy (%), in distribution")) noenhanced",
              "set ylabel \(gnuplotQuote("\(ood) accuracy (%), out of distribution")) noenhanced",
              "set xrange \(paddedRange(xs, floor: -3, ceiling: 103, minimumSpan: 4))", "set yrange \(paddedRange(ys, floor: -3, ceiling: 103, minimumSpan: 4))")
        plotKeyBelow(&g, titles: ["WiSE-FT, α = 0, 0.1, …, 1", "zero-shot (α = 0)", "final (α = 1)"] + averages.map(\.0), columns: 3, terminal: target.terminal)
        var elements = [
            "\(block) using 2:3 with linespoints lw 2 pt 7 ps 0.9 lc rgb '\(Workspace.plotColors[0])' title 'WiSE-FT, α = 0, 0.1, …, 1'",
            "\(labels) using 1:2:($3 == $4 ? sprintf('α = %.1f', $3) : sprintf('α = %.1f–%.1f', $3, $4)) with labels left offset char 0.8,0.7 font ',8' tc rgb '#333333' notitle",
            "\(ends) every ::0::0 using 2:3 with points pt 5 ps 2.2 lc rgb '#777777' title 'zero-shot (α = 0)'",
            "\(ends) every ::1::1 using 2:3 with points pt 7 ps 2.2 lc rgb '\(Workspace.plotColors[1])' title 'final (α = 1)'",
        ]
        for (i, a) in averages.enumerated() {
            let color = Workspace.plotColors[(i + 2) % Workspace.plotColors.count]
            elements.append("\(avg) every ::\(i)::\(i) using 2:3 with points pt \(i % 2 == 0 ? 9 : 13) ps 2 lc rgb '\(color)' title \(gnuplotQuote(a.0)) noenhanced")
        }
        if target.terminal.isText { elements.remove(at: 1) }
        g.add("plot " + elements.joined(separator: ", "))
        try drawPlot(g, target, args, what: "the WiSE-FT sweep of \(run.name) (\(ood) against \(id))")
    }

    // MARK: runs (λ / β sweeps)

    func plotRuns(_ args: Arguments) throws {
        let names = try requestedRuns(args)
        guard let first = names.first.flatMap({ runs[$0] }) else { throw args.error("no runs to plot", hint: "train some with: train lambda=… as NAME") }
        let ood = args.string("on") ?? "test", id = args.string("vs")!
        guard ood != id else { throw args.error("vs", "vs=\(id) is the same part as 'on \(ood)': the plot puts two parts against each other") }
        let m = try modelNamed(first.modelName, args), d = try dataNamed(first.dataName, args)
        func point(_ run: Run?, _ state: String) throws -> [Double] {
            [100 * (try evaluate(model: m, data: d, run: run, state: state, part: id, args: args).accuracy),
             100 * (try evaluate(model: m, data: d, run: run, state: state, part: ood, args: args).accuracy)]
        }
        let zero = try point(nil, "zeroshot")
        var finals: [[Double]] = [], finalLabels: [String] = [], avgs: [[Double]] = [], avgLabels: [String] = []
        for n in names {
            let run = runs[n]!
            finals.append(try point(run, "final"))
            finalLabels.append("\(n) λ=\(formatPlotNumber(Double(run.config.lambda)))")
            for a in run.trainer.averages {
                avgs.append(try point(run, a.label))
                avgLabels.append("\(n) \(a.label)")
            }
        }
        let target = try plotTarget(args, name: "runs_" + plotFileName(ood), pixels: (820, 700), text: (100, 36))
        var g = GnuplotScript()
        let zb = g.data("zeroshot", rows: [zero]), fb = g.data("finals", rows: finals), ab = g.data("averages", rows: avgs.isEmpty ? [zero] : avgs)
        plotStyle(&g, title: plotTitle(args, "runs in (\(id)) and out of distribution (\(ood)): final weights by λ, averages by β"), text: target.terminal.isText)
        let all = [zero] + finals + avgs
        g.add("set xlabel \(gnuplotQuote("\(id) accuracy (%), in distribution")) noenhanced",
              "set ylabel \(gnuplotQuote("\(ood) accuracy (%), out of distribution")) noenhanced",
              "set xrange \(paddedRange(all.map { $0[0] }, floor: -3, ceiling: 103, minimumSpan: 4))",
              "set yrange \(paddedRange(all.map { $0[1] }, floor: -3, ceiling: 103, minimumSpan: 4))")
        for (i, l) in finalLabels.enumerated() {
            g.add("set label \(i + 1) \(gnuplotQuote(l)) at \(finals[i][0]),\(finals[i][1]) left offset char 0.8,0.6 font ',8' noenhanced")
        }
        if !target.terminal.isText {
            for (i, l) in avgLabels.enumerated() {
                g.add("set label \(finalLabels.count + i + 1) \(gnuplotQuote(l)) at \(avgs[i][0]),\(avgs[i][1]) left offset char 0.8,-0.6 font ',7' tc rgb '#555555' noenhanced")
            }
        }
        plotKeyBelow(&g, titles: ["zero-shot", "final weights (λ)", "averages (β)"], columns: 3, terminal: target.terminal)
        var elements = ["\(zb) using 1:2 with points pt 5 ps 2.2 lc rgb '#777777' title 'zero-shot'",
                        "\(fb) using 1:2 with points pt 7 ps 1.8 lc rgb '\(Workspace.plotColors[1])' title 'final weights (λ)'"]
        if !avgs.isEmpty { elements.append("\(ab) using 1:2 with points pt 9 ps 1.6 lc rgb '\(Workspace.plotColors[0])' title 'averages (β)'") }
        g.add("plot " + elements.joined(separator: ", "))
        try drawPlot(g, target, args, what: "\(names.count) run\(names.count == 1 ? "" : "s") (\(ood) against \(id))")
    }

    // MARK: ablation

    func plotAblation(_ args: Arguments) throws {
        guard !ablationOrder.isEmpty else { throw args.error("no ablate grid to plot", hint: "run one first, e.g.: ablate setting=shift seeds=0,1,2") }
        let setting = args.string("setting") ?? ablationOrder.last!
        guard let r = ablations[setting] else {
            throw args.error("setting", "no '\(setting)' ablate grid in this session", hint: "run: ablate setting=\(setting) (done: \(ablationOrder.joined(separator: ", ")))")
        }
        let part = args.string("on") ?? "test"
        guard r.parts.contains(part) else { throw args.error("on", "the \(setting) grid has no \(part) part (it has: \(r.parts.joined(separator: ", ")))") }
        let shown = r.states.filter { $0 != "zeroshot" }
        let S = shown.count, L = r.lambdas.count
        let spread = min(0.5, 0.06 * Double(S)) // states side by side around each λ, so bars do not overlap
        var blocks: [String] = []
        var g = GnuplotScript()
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
        let target = try plotTarget(args, name: "ablation_\(setting)_\(part)", pixels: (860, 620), text: (100, 34))
        let seeds = r.seeds.map(String.init).joined(separator: ",")
        plotStyle(&g, title: plotTitle(args, "ablate \(setting): \(part) accuracy (\(r.scopes[part] ?? part)), mean ± std over seeds \(seeds), \(r.steps) steps"),
                  text: target.terminal.isText)
        g.add("set xrange [-0.5:\(gnuplotNumber(Double(L) - 0.5))]",
              "set yrange \(paddedRange(all, floor: 0, ceiling: 100, minimumSpan: 4))",
              "set ylabel \(gnuplotQuote("\(part) accuracy (%)")) noenhanced", "set xlabel 'margin strength λ (λ = 0: cross-entropy)' noenhanced",
              "set xtics (" + r.lambdas.enumerated().map { "\(gnuplotTicLabel("λ=" + formatPlotNumber($0.element))) \($0.offset)" }.joined(separator: ", ") + ") noenhanced scale 0")
        if !target.terminal.isText { g.add("set grid noxtics ytics") }
        plotKeyBelow(&g, titles: (zero == nil ? [] : ["zero-shot"]) + shown, columns: 5, terminal: target.terminal)
        var elements: [String] = []
        if let z = zero { elements.append("\(gnuplotNumber(z.0)) with lines dt 2 lw 2 lc rgb '#777777' title 'zero-shot'") }
        for (j, state) in shown.enumerated() {
            let color = Workspace.plotColors[j % Workspace.plotColors.count]
            elements.append("\(blocks[j]) using 1:2:3 with yerrorlines lw 1.6 pt 7 ps 1.1 lc rgb '\(color)' title \(gnuplotQuote(state == "final" ? "final" : state)) noenhanced")
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
    }

    /// Resolves `to`, `term` and `size` (pixels for files, columns × rows for text) and
    /// creates the output directory; errors point at the argument at fault.
    func plotTarget(_ args: Arguments, name: String, pixels: (Int, Int), text: (Int, Int)) throws -> PlotTarget {
        let term = args.string("term")
        let given = args.string("to")
        var kind = term ?? "png"
        if let to = given {
            let ext = (to as NSString).pathExtension.lowercased()
            switch ext {
            case "png", "svg": kind = ext
            case "txt": kind = "dumb"
            default: throw args.error("to", "'to' expects a .png or .svg file (or .txt with term=dumb), got '\(to)'")
            }
            if let term, term != kind {
                throw args.error("term", kind == "dumb" ? "a .txt file holds term=dumb text, not \(term)"
                                                        : "term=\(term) does not match '\(to)' (a \(kind) file)",
                                 hint: term == "dumb" ? "term=dumb prints the figure here, or writes it to FILE.txt" : "leave out term=: the extension decides")
            }
            guard gnuplotSanitize(to) == to else { throw args.error("to", "the file name contains control characters") }
        }
        var size = kind == "dumb" ? text : pixels
        if args.has("size") {
            let v = args.list("size").compactMap { if case .int(let i) = $0 { return i } else { return nil } }
            guard v.count == 2 else { throw args.error("size", "size= expects two numbers W,H, got '\(args.string("size")!)'") }
            if kind == "dumb" && (v[0] > 1000 || v[1] > 1000) { throw args.error("size", "size= for term=dumb is in characters: at most 1000,1000") }
            size = (v[0], v[1])
        }
        let terminal: GnuplotTerminal
        switch kind {
        case "svg": terminal = .svg(width: size.0, height: size.1)
        case "dumb": terminal = .dumb(columns: size.0, rows: size.1)
        default: terminal = .png(width: size.0, height: size.1)
        }
        if kind == "dumb" && given == nil { return PlotTarget(terminal: terminal, path: nil, shown: nil) }
        let shown = given ?? settings.plots + "/" + name + "." + kind
        let path = expandPath(shown)
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            do { try AtomicWrite.makeFolders(dir) } catch { throw args.error("to", String(describing: error)) }
        }
        return PlotTarget(terminal: terminal, path: path, shown: shown)
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
            case .dumb(let c, let r): size = "\(c)×\(r) characters"
            }
            write("wrote \(what) to \(shown) (\(target.terminal.kind), \(size))")
        } else {
            write(out.text)
        }
    }

    /// The key under the x axis label, in at most `columns` columns (as many as fit the width),
    /// filled column by column, with the bottom margin made for it.
    func plotKeyBelow(_ g: inout GnuplotScript, titles: [String], columns: Int, terminal: GnuplotTerminal) {
        let available: Int
        switch terminal {
        case .png(let w, _), .svg(let w, _): available = w * 10 / 65   // ~6.5 px a character at 10 pt
        case .dumb(let c, _): available = c - 4
        }
        let entry = (titles.map(\.count).max() ?? 0) + 11
        let fit = max(1, min(columns, available / max(entry, 1), titles.count))
        let rows = max(1, (titles.count + fit - 1) / fit)
        g.add("set bmargin \(rows + 4)", "set key at screen 0.5, 0.012 center bottom vertical Left reverse maxrows \(rows) width 1")
    }

    /// The title= option when given ("" for none), else `fallback`.
    func plotTitle(_ args: Arguments, _ fallback: String) -> String {
        args.has("title") ? args.string("title") ?? "" : fallback
    }

    /// The look shared by every figure, and the title (none when nil or empty).
    func plotStyle(_ g: inout GnuplotScript, title: String?, text: Bool) {
        if let title, !title.isEmpty { g.add("set title \(gnuplotQuote(title)) noenhanced") }
        g.add("set border 3 lw 1.2 lc rgb '#333333'", "set tics nomirror out", "set key noautotitle nobox")
        if !text { g.add("set grid lc rgb '#DDDDDD' lw 1 dt 1") }
    }
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

/// "[a:b]" around the finite values with 8 % padding, at least `minimumSpan` wide, kept within floor…ceiling.
func paddedRange(_ values: [Double], floor: Double?, ceiling: Double? = nil, minimumSpan: Double = 0) -> String {
    let v = values.filter(\.isFinite)
    guard var lo = v.min(), var hi = v.max() else { return "[*:*]" }
    let span = max(hi - lo, minimumSpan, abs(hi) * 1e-3, 1e-6)
    let mid = (lo + hi) / 2
    lo = min(lo, mid - span / 2) - 0.08 * span
    hi = max(hi, mid + span / 2) + 0.08 * span
    if let floor { lo = max(lo, floor) }
    if let ceiling { hi = min(hi, ceiling) }
    return "[\(gnuplotNumber(lo)):\(gnuplotNumber(hi))]"
}
