import ClipoodCommands
import ClipoodExperiment
import ClipoodTrain
import ClipoodIO
import Foundation

// bma, curves (a run's training log), record.

extension Workspace {
    static let recordFile = Argument<String>.positional("file", .path(extensions: ["cood"]), metavar: "FILE.cood|stop",
                                                        help: "session file to append to (created with its folders), or 'stop'")

    static let bmaCommand = CommandSpec<Workspace>(
        "bma",
        summary: "the Beta moving average's weight schedule: per step, and the shares of zero-shot and late weights",
        discussion: """
        BMA averages θ_0 (zero-shot) … θ_T with weights BetaPDF((k + 0.5)/(T + 1); β, β). β < 1 is
        U-shaped: the zero-shot and the final weights dominate; β = 1 is a uniform average (SWA);
        β > 1 favours the middle of training. Give a run to see its betas and step count, or
        beta= and steps= to explore without one. to FILE and format= give the table without its
        sparkline column (the weights per step are a picture for the terminal; plot bma draws them).
        """,
        arguments: [
            Shared.run.help("a run (its betas and steps)").spec, Shared.previewBetas.spec, Shared.previewSteps.spec,
            Shared.tableOutput.spec, Shared.tableFormat.spec,
        ],
        examples: ["bma mms", "bma beta=0.1 steps=5000", "bma beta=0.1,0.5,1,2 steps=500", "bma beta=0.1,0.5,1 to tables/bma.md"],
        run: { ws, args in try ws.bmaSummary(args) })

    static let curvesCommand = CommandSpec<Workspace>(
        "curves",
        summary: "a run's logged loss, accuracy and learning rate, summarised",
        discussion: """
        to FILE and format= give the table (a row per series: loss, accuracy, lr) without its
        sparkline column; the timing line becomes part of the caption (.md, .tex). The
        evaluations of train eval_every= are printed only. export log writes every step.
        """,
        arguments: [Shared.run.spec, Shared.tableOutput.spec, Shared.tableFormat.spec],
        examples: ["curves", "curves mms to tables/curves.csv"],
        run: { ws, args in try ws.curves(args) })

    static let recordCommand = CommandSpec<Workspace>(
        "record",
        summary: "write the commands that succeed from now on into a replayable session file",
        discussion: """
        First the lines that made the state so far are written (settings, models, data, split,
        prompt and runs; a run that stopped early is written with the steps it did), so that the
        file replays on its own in a fresh process; unsaved runs are trained again there.
        Then each successful line is appended at once (nothing is lost if the session ends
        abruptly); failed lines are left out. In a session file or notebook, the lines of that file
        are recorded (not those of a file it runs). An existing file keeps its lines: the recording is appended
        after a comment line with the date. 'record stop' ends it. A session or notebook cannot
        record into its own file.
        """,
        arguments: [recordFile.spec],
        examples: ["record Sessions/today.cood", "record stop"],
        run: { ws, args in
            let f = args[recordFile]
            if f == "stop" {
                guard let r = ws.recording else { throw args.error("not recording") }
                ws.recording = nil
                ws.write("recorded \(r.count) command\(r.count == 1 ? "" : "s") to \(r.path)")
                return
            }
            let path = expandPath(f)
            if let running = ws.interpreter.scriptStack.first(where: { sameFile($0, path) }) {
                throw args.error("file", "'\(f)' is the \(running.hasSuffix(".md") ? "notebook" : "session") that is running; it cannot record into itself",
                                 hint: "record into another file, e.g. Sessions/recorded.cood")
            }
            var header = "# recorded by clipood on \(ISO8601DateFormatter().string(from: Date()))\n"
            let existing = FileReading.kind(of: path) == .regular ? fileSize(path) : 0
            if existing > 0 && !endsWithNewline(path) { header = "\n" + header }
            // What came before, so that the recording replays on its own in a fresh process.
            let preamble = ws.journal.preamble()
            do { if ws.writesFiles { try AtomicWrite.append(header + preamble, to: path) } } catch { throw args.error("file", String(describing: error)) }
            ws.recording = Recording(path: path, depth: ws.interpreter.scriptStack.count)
            let rebuilt = preamble.isEmpty ? "" : ", after \(ws.journal.lines.count) line\(ws.journal.lines.count == 1 ? "" : "s") that rebuild the state so far"
            ws.write(existing > 0 ? "appending successful commands to \(f)\(rebuilt) (record stop to end)"
                                  : "recording successful commands to \(f)\(rebuilt) (record stop to end)")
        })

    func bmaSummary(_ args: Arguments) throws {
        let output = try TableOutput(args)
        let run: Run? = args.has(Shared.run) ? try self.run(args) : nil
        let betas: [Double] = args[Shared.previewBetas] ?? run.map { $0.config.betas } ?? [0.1, 0.5, 1]
        guard !betas.isEmpty else { throw args.error(Shared.run, "run '\(run!.name)' kept no BMA; give beta= to explore") }
        let T = args[Shared.previewSteps] ?? run?.config.steps ?? 1000
        var rows: [[Table.Cell]] = []
        for b in betas {
            let w = BetaSchedule.weights(beta: b, steps: T)
            let total = w.reduce(0, +)
            let p = w.map { $0 / total }
            let tail = max(1, (T + 1) / 10)
            let ess = 1 / p.map { $0 * $0 }.reduce(0, +)
            rows.append([Table.Cell(b, shown: formatBeta(b)), number(p[0], "%.4f"), number(p.prefix(tail).reduce(0, +), "%.3f"),
                         number(p.suffix(tail).reduce(0, +), "%.3f"), number(p[T / 2], "%.4f"), number(ess, "%.0f"),
                         Table.Cell(sparkline(p, width: 40))])
        }
        let heading = "Beta moving average over θ_0 … θ_\(T)\(run.map { " (run '\($0.name)')" } ?? ""): normalised weights"
        let note = "effective n = 1/Σw²: how many equally weighted checkpoints the average is worth."
        let table = Table(columns: ["β", "θ_0 (zero-shot)", "first 10%", "last 10%", "middle step", "effective n", "weights over steps"], rows: rows,
                          caption: heading + "; " + note, terminalOnly: [6])
        try emit(table, text: [heading, table.render(.text), note].joined(separator: "\n"), output: output, args: args)
    }

    func curves(_ args: Arguments) throws {
        let output = try TableOutput(args)
        let run = try self.run(args)
        guard !run.log.isEmpty else { throw args.error(Shared.run, "run '\(run.name)' has no logged steps yet") }
        let losses = run.log.map { Double($0.record.loss) }, accs = run.log.map { Double($0.record.accuracy) }
        let tail = max(1, losses.count / 10)
        func mean(_ a: ArraySlice<Double>) -> Double { a.reduce(0, +) / Double(max(a.count, 1)) }
        let secs = run.log.map(\.seconds)
        let heading = "run '\(run.name)': \(run.log.count) of \(run.config.steps) steps\(run.stopReason.map { " — " + $0 } ?? "")"
        func series(_ name: String, _ v: [Double], _ f: String) -> [Table.Cell] {
            [Table.Cell(name), number(v[0], f), number(mean(v.suffix(tail)), f), number(v.min()!, f), number(v.max()!, f), Table.Cell(sparkline(v, width: 40))]
        }
        let lrs = run.log.map { Double($0.record.learningRate) }
        let table = Table(columns: ["", "first", "last 10% mean", "min", "max", "over steps"], rows: [
            series("loss", losses, "%.4f"), series("accuracy", accs, "%.3f"),
            [Table.Cell("lr"), number(lrs[0], "%.2e"), number(lrs.last!, "%.2e"), "", "", Table.Cell(sparkline(run.log.map(\.record.learningRate), width: 40))],
        ], caption: heading, terminalOnly: [5])
        let timing = String(format: "%.3f s per step on average (%.1f s in all)", secs.reduce(0, +) / Double(secs.count), secs.reduce(0, +))
        var file = table
        file.caption = heading + "; " + timing
        // The evaluations of train eval_every= are a table of their own: they stay on the terminal
        // (and in the saved run.json); the file holds the summary of the log.
        let evaluations = run.evaluations.isEmpty ? [] : [evaluationTable(run)]
        try emit(file, text: ([heading, table.render(.text), timing] + evaluations).joined(separator: "\n"), output: output, args: args)
    }

    /// The evaluations `train eval_every=` made: at most 12 rows (evenly spread, the first and
    /// the last always), then the accuracy over all of them as a sparkline.
    func evaluationTable(_ run: Run) -> String {
        let e = run.evaluations
        let shown = e.count <= 12 ? Array(e.indices) : Array(Set((0 ..< 12).map { $0 * (e.count - 1) / 11 })).sorted()
        let rows = shown.map { i in [String(e[i].step), pct(e[i].accuracy), String(format: "%.3f", e[i].ece)] }
        return "evaluated on \(run.evalPart) every \(run.evalEvery ?? 0) steps (\(e.count) times): " + sparkline(e.map(\.accuracy), width: 40) + "\n"
            + TextTable.render(header: ["step", "\(run.evalPart) acc %", "ECE"], rows: rows)
    }

    /// After every successful line at the depth `record` ran at (the prompt, or the session or
    /// notebook that started it — not the lines of a file it runs): append it to the recording.
    func recordIfNeeded(_ line: String, depth: Int) {
        guard var r = recording, r.depth == depth else { return }
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard let first = (try? Lexer.tokenize(trimmed))?.first, !(first.isWord && first.text == "record") else { return }
        do {
            if writesFiles { try AtomicWrite.append(trimmed + "\n", to: r.path) }
            r.count += 1
            recording = r
        } catch {
            recording = nil
            writeError("error: \(error); recording stopped after \(r.count) command\(r.count == 1 ? "" : "s")")
        }
    }
}

/// Whether two paths name the same file (the same device and inode, links followed); a path
/// that does not exist is the same as nothing.
func sameFile(_ a: String, _ b: String) -> Bool {
    var sa = stat(), sb = stat()
    guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
}

/// The size of the file at `path` (0 when it cannot be read).
func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : 0
}

/// Whether the regular file at `path` ends with a newline byte.
func endsWithNewline(_ path: String) -> Bool {
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var last: UInt8 = 0
    var st = stat()
    guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_size > 0 else { return false }
    return pread(fd, &last, 1, st.st_size - 1) == 1 && last == UInt8(ascii: "\n")
}

/// An active `record` session.
public struct Recording {
    public let path: String
    /// The script depth `record` ran at (0: the prompt): lines there are recorded.
    public let depth: Int
    public var count = 0
}

/// A one-line chart of a series with the block characters ▁▂▃▄▅▆▇█ (means over buckets).
func sparkline(_ values: [Double], width: Int) -> String {
    guard !values.isEmpty else { return "" }
    let n = min(width, values.count)
    let buckets = (0 ..< n).map { i -> Double in
        let a = i * values.count / n, b = max(a + 1, (i + 1) * values.count / n)
        return values[a ..< b].reduce(0, +) / Double(b - a)
    }
    let lo = buckets.min()!, hi = buckets.max()!
    let ticks = Array("▁▂▃▄▅▆▇█")
    // A flat series (up to rounding) draws as a flat line, not as magnified noise.
    let flat = hi - lo <= 1e-9 * max(abs(hi), abs(lo))
    return String(buckets.map { flat ? ticks[3] : ticks[min(7, Int((($0 - lo) / (hi - lo)) * 7.999))] })
}
