import ClipoodCommands
import ClipoodData
import ClipoodExperiment
import ClipoodTrain
import Foundation

// Managing the workspace: show runs|models|data|history, info run, drop run, rename run, the
// current split, and the question before quitting with unsaved runs.

extension Workspace {
    static let newRunName = Argument<String>.positional("new", .string, metavar: "NEW", help: "its new name")

    static let showRunsCommand = CommandSpec<Workspace>("runs", summary: "every run: model, data, steps, λ, averages, where it is saved",
                                                         discussion: "to FILE and format= give the same table (.csv, .md, .tex, .json, .txt).",
                                                         arguments: [Shared.tableOutput.spec, Shared.tableFormat.spec],
                                                         examples: ["show runs", "show runs to tables/runs.md"],
                                                         run: { ws, args in try ws.showRuns(args) })
    static let showModelsCommand = CommandSpec<Workspace>("models", summary: "every loaded model: format, size, source", run: { ws, _ in ws.showModels() })
    static let showDataCommand = CommandSpec<Workspace>("data", summary: "every loaded dataset: images, domains, classes, split, prompt", run: { ws, _ in ws.showData() })
    static let showHistoryCommand = CommandSpec<Workspace>("history", summary: "the commands run in this session, in order (failed ones marked)",
                                                           run: { ws, _ in ws.showHistory() })

    static let infoRunCommand = CommandSpec<Workspace>(
        "run", summary: "a run's settings, steps done, averages, evaluation results and where it is saved",
        arguments: [Shared.run.spec],
        run: { ws, args in try ws.infoRun(args) })

    static let dropCommand = CommandSpec<Workspace>(
        "drop", summary: "remove something from the workspace",
        subcommands: [
            CommandSpec("run", summary: "forget a run (its saved directory, if any, stays on disk)",
                        arguments: [ExportArguments.run.spec],
                        examples: ["drop run run1"],
                        run: { ws, args in try ws.dropRun(args) }),
        ])

    static let renameCommand = CommandSpec<Workspace>(
        "rename", summary: "give something in the workspace another name",
        subcommands: [
            CommandSpec("run", summary: "rename a run (a later save writes the new name)",
                        arguments: [
                            ExportArguments.run.spec, newRunName.spec,
                        ],
                        examples: ["rename run run1 mms"],
                        run: { ws, args in try ws.renameRun(args) }),
        ])

    func showRuns(_ args: Arguments) throws {
        let output = try TableOutput(args)
        guard !runOrder.isEmpty else { write("no runs yet (train one with: train, or load one with: load run DIR)"); return }
        let rows = runOrder.compactMap { runs[$0] }.map { r -> [Table.Cell] in
            // λ is a Float: its shortest decimal is the value (as a Double it would read 0.30000001192…).
            [Table.Cell(r.name), Table.Cell(r.modelName), Table.Cell(r.dataName), Table.Cell("\(r.stepsDone)/\(r.config.steps)"),
             Table.Cell(Double("\(r.config.lambda)") ?? Double(r.config.lambda), shown: "\(r.config.lambda)"), Table.Cell(r.tune),
             Table.Cell(r.trainer.averages.map(\.label).joined(separator: ",")), Table.Cell(r.savedTo.map { r.unsaved ? $0 + " (changed since)" : $0 } ?? "not saved")]
        }
        let table = Table(columns: ["run", "model", "data", "steps", "λ", "tune", "averages", "saved"], rows: rows, caption: "runs")
        try emit(table, text: table.render(.text), output: output, args: args)
    }

    func showModels() {
        guard !models.isEmpty else { write("no models loaded (load one with: load model demo|DIR|FILE)"); return }
        var rows = models.keys.sorted().compactMap { models[$0] }.map { m -> [String] in
            [m.name == activeModelName ? "* " + m.name : "  " + m.name, m.model.format.rawValue, formatCount(m.model.parameters.count),
             "\(m.model.config.vision.imageSize) px", m.loaded.weightsFile]
        }
        // The path takes what the other columns leave of 80 (relative to here, ~ for home, its
        // start elided when still too long); `info model NAME` gives it whole.
        let header = ["  model", "names", "parameters", "images", "weights file"]
        let width = max(20, TextTable.widthLeft(header: header, rows: rows, before: 4))
        for i in rows.indices { rows[i][4] = shortPath(rows[i][4], width: width) }
        write(TextTable.render(header: header, rows: rows) + "\n(* active)")
    }

    func showData() {
        guard !datasets.isEmpty else { write("no datasets loaded (load one with: load data DIR)"); return }
        let rows = datasets.keys.sorted().compactMap { datasets[$0] }.map { d -> [String] in
            [d.name == activeDataName ? "* " + d.name : "  " + d.name, String(d.dataset.samples.count), String(d.dataset.domains.count),
             String(d.dataset.classes.count), d.split.map { splitArguments($0.spec) } ?? "none", d.templates.map { "\"\($0)\"" }.joined(separator: " ")]
        }
        write(TextTable.render(header: ["  data", "images", "domains", "classes", "split", "prompt"], rows: rows) + "\n(* active)")
    }

    func showHistory() {
        guard !history.isEmpty else { write("no commands yet"); return }
        let width = String(history.count).count
        write(history.enumerated().map { i, h in
            String(repeating: " ", count: width - String(i + 1).count) + "\(i + 1)  " + (h.ok ? "" : "✗ ") + h.line
        }.joined(separator: "\n"))
    }

    func infoRun(_ args: Arguments) throws {
        let r = try run(args)
        let c = r.config
        var lines = ["run '\(r.name)': \(r.stepsDone) of \(c.steps) steps done" + (r.stopReason.map { " (\($0))" } ?? ""),
                     "  model \(r.modelName), data \(r.dataName), split \(splitArguments(r.split.spec))",
                     "  λ=\(c.lambda) lr=\(c.learningRate) wd=\(c.weightDecay) batch=\(r.batchPerDomain) tune=\(r.tune) seed=\(r.seed) augment=\(r.augment ? "on" : "off") "
                         + "interpolation=\(r.interpolation) scale=\(r.trainer.loss.scale)" + (r.usesCache ? " cache=on views=\(r.views)" : "") + (c.checkpoint ? " checkpoint=on" : ""),
                     "  prompt " + r.templates.map { "\"\($0)\"" }.joined(separator: " "),
                     "  \(r.classes.count) classes, \(formatCount(r.trainer.range.count)) trainable values",
                     "  averages: " + r.trainer.averages.map(\.label).joined(separator: ", "),
                     "  saved: " + (r.savedTo.map { $0 + (r.unsaved ? " (changed since)" : "") } ?? "no")]
        if let last = r.log.last { lines.append(String(format: "  last step: loss %.4f, train accuracy %.2f", last.record.loss, last.record.accuracy)) }
        if r.results.isEmpty {
            lines.append("  no evaluations yet (eval, compare)")
        } else {
            lines.append("evaluations:\n" + TextTable.render(header: ["weights", "part", "at step", "images", "acc %", "ECE"], rows: r.results.map {
                [$0.weights, $0.part, String($0.step), String($0.images), pct($0.accuracy), String(format: "%.3f", $0.ece)]
            }))
        }
        write(lines.joined(separator: "\n"))
    }

    func dropRun(_ args: Arguments) throws {
        let r = try run(args)
        runs[r.name] = nil
        runOrder.removeAll { $0 == r.name }
        features.forget(run: r.name)
        write("dropped run '\(r.name)'" + (r.savedTo == nil ? " (it was never saved)" : r.unsaved ? " (its changes since \(r.savedTo!) were not saved)" : " (saved in \(r.savedTo!))"))
    }

    func renameRun(_ args: Arguments) throws {
        let r = try run(args)
        let new = args[Workspace.newRunName]
        guard !new.isEmpty, !new.contains("/"), !new.contains(where: \.isWhitespace), !new.contains("|") else {
            throw args.error("new", "a run name has no spaces, '/' or '|'")
        }
        if runs[new] != nil { throw args.error("new", "a run named '\(new)' exists already") }
        let old = r.name
        features.forget(run: old)
        r.rename(to: new)
        runs[old] = nil
        runs[new] = r
        runOrder = runOrder.map { $0 == old ? new : $0 }
        write("renamed run '\(old)' to '\(new)'")
    }

    /// Runs not saved since they last changed.
    public var unsavedRuns: [String] { runOrder.filter { runs[$0]?.unsaved == true } }

    /// Whether to leave now. At a terminal with unsaved runs the first request only warns; a
    /// second one (or any request in a script) leaves.
    public func confirmQuit() -> Bool {
        guard isInteractiveTerminal, !quitWarned, !unsavedRuns.isEmpty else { return true }
        quitWarned = true
        writeError("unsaved runs: \(unsavedRuns.joined(separator: ", ")) (save RUN to DIR keeps one); quit again to leave anyway")
        return false
    }
}

extension Workspace {
    /// `split` without options: the current split, never a new one.
    func showSplit(_ d: DataEntry, _ args: Arguments, output: TableOutput) throws {
        guard let s = d.split else {
            throw args.error("dataset '\(d.name)' has no split yet", hint: "make one, e.g. split target=DOMAIN, or split holdout=0.2")
        }
        try emit(splitTable(s), text: "split " + splitArguments(s.spec) + "\n" + s.description, output: output, args: args)
    }
}

/// `path` for a table column of `width` characters: relative to the current directory when
/// inside it, `~` for the home directory, and "…" plus its end when still too long.
func shortPath(_ path: String, width: Int) -> String {
    var p = path
    let cwd = FileManager.default.currentDirectoryPath, home = NSHomeDirectory()
    if p.hasPrefix(cwd + "/") { p = String(p.dropFirst(cwd.count + 1)) } else if !home.isEmpty && home != "/" && p.hasPrefix(home + "/") { p = "~" + p.dropFirst(home.count) }
    return p.count <= width ? p : "…" + p.suffix(width - 1)
}
