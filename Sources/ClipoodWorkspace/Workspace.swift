import ClipoodCommands
import ClipoodData
import ClipoodDistributed
import ClipoodEngine
import ClipoodExperiment
import ClipoodIO
import Foundation

/// Everything a clipood session holds — settings now; models, datasets and runs as later
/// commands add them — and the one place where text for the user is written.
///
/// The REPL, `clipood run FILE` and notebooks all drive the same `Workspace`, so a command
/// behaves the same wherever it is typed.
public final class Workspace: CommandContext {
    /// Where normal output goes (stdout for the executable, a string for tests and notebooks).
    public var write: (String) -> Void
    /// Where diagnostics go (stderr for the executable).
    public var writeError: (String) -> Void
    /// Whether the output is a terminal that understands colour (decided by the front end).
    public var outputIsTerminal = false

    public internal(set) var settings = Settings()
    /// Loaded models by name, and the one commands use by default.
    public internal(set) var models: [String: ModelEntry] = [:]
    public internal(set) var activeModelName: String?
    /// Loaded datasets, and the active one.
    public internal(set) var datasets: [String: DataEntry] = [:]
    public internal(set) var activeDataName: String?
    /// Training runs by name, in the order they were made.
    public internal(set) var runs: [String: Run] = [:]
    public internal(set) var runOrder: [String] = []
    /// The last `ablate` grid of each setting, for `plot ablation`.
    var ablations: [String: AblationResult] = [:]
    var ablationOrder: [String] = []
    /// Text and image features and their caches, over decoded images shared by every command.
    let features = FeatureStore(images: BatchBuilder())
    var images: BatchBuilder { features.images }
    /// SHA-256 of model weight files (a saved run names its model by hash).
    let hashes = FileHashes()
    /// Every line run in this session (typed or from a file), and whether it succeeded.
    public internal(set) var history: [(line: String, ok: Bool)] = []
    /// Set by the front end when a person types at a terminal: quitting with unsaved runs then asks once more.
    public var isInteractiveTerminal = false
    var quitWarned = false
    /// The `record` file being written, if any.
    public internal(set) var recording: Recording?
    /// The state-changing lines so far, as they replay (`record` writes them first).
    var journal = Journal()
    /// How the running line replays, when a command says so (see `Journal.Replay`), and the
    /// script depth of that line.
    var replay: (depth: Int, how: Journal.Replay)?
    public private(set) var interpreter: Interpreter<Workspace>!

    public init(write: @escaping (String) -> Void = { print($0) },
                writeError: @escaping (String) -> Void = { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }) {
        self.write = write
        self.writeError = writeError
        interpreter = Interpreter(registry: Registry(Workspace.commands), context: self)
        interpreter.willExecuteScriptLine = { [unowned self] line in
            // A Ctrl-C (or SIGTERM) during the previous line ends a session file, after that line
            // stopped cleanly and the runs it trained are saved. The ranks of a job decide it
            // together (every rank runs the same lines), so that none goes on alone.
            if Cluster.current.isDistributed, (try? Cluster.current.anyRank(Interrupt.isRequested)) == true { Interrupt.requested = 1 }
            if Interrupt.isRequested {
                self.saveInterruptedRuns()
                throw CommandError("interrupted (Ctrl-C)")
            }
            if self.settings.echo { self.write("› " + line.trimmingCharacters(in: .whitespaces)) }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty && !trimmed.hasPrefix("#") { self.history.append((trimmed, true)) }
            self.replay = nil
        }
        interpreter.didExecuteScriptLine = { [unowned self] line in lineSucceeded(line, depth: interpreter.scriptStack.count) }
        settings.apply(to: self)
    }

    /// Every command of the language, in the order `help` lists them. Later issues add theirs here.
    public static var commands: [CommandSpec<Workspace>] {
        [helpCommand, loadCommand, generateCommand, infoCommand, splitCommand, promptCommand, zeroshotCommand, marginsCommand, pretrainCommand, trainCommand, evalCommand, compareCommand, confusionCommand, ablateCommand, bmaCommand, curvesCommand,
         saveCommand, exportCommand, recordCommand, dropCommand, renameCommand,
         tokenizeCommand, preprocessCommand, embedCommand, plotCommand, setCommand, showCommand, runCommand, benchCommand, quitCommand]
    }

    public var registry: Registry<Workspace> { interpreter.registry }

    /// Whether to colour output now (the `color` setting against the terminal).
    public var useColor: Bool {
        switch settings.color {
        case "on": return true
        case "off": return false
        default: return outputIsTerminal && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            && ProcessInfo.processInfo.environment["TERM"] != "dumb"
        }
    }

    /// The output terminal's width in columns, when it has one (nil for files, pipes and a
    /// pseudo-terminal without a size, such as mpirun's).
    public var terminalWidth: () -> Int? = terminalColumns

    /// A sentence for the user (what a command did, a summary; not a table or data): on a
    /// terminal, a line wider than the terminal is wrapped at spaces with its further lines
    /// indented by two, so that it does not break mid-word; elsewhere (files, pipes, notebooks,
    /// session transcripts) it is written as it is.
    public func say(_ text: String) {
        guard outputIsTerminal, let width = terminalWidth() else { return write(text) }
        write(Self.prose(text, width: width))
    }

    /// `text` with every line longer than `width` wrapped at spaces, further lines indented by
    /// two (a word longer than the line stands alone).
    public static func prose(_ text: String, width: Int) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.count > width else { return String(line) }
            return TextWrap.lines(String(line), width: max(width - 2, 20)).joined(separator: "\n  ")
        }.joined(separator: "\n")
    }

    /// The prompt's context: the active model and dataset, e.g. "b16·PACS".
    public var promptContext: String {
        [activeModelName, activeDataName].compactMap { $0 }.joined(separator: "·")
    }

    // MARK: CommandContext

    public func names(of kind: String) -> [String] {
        switch kind {
        case "command": return registry.commandNames
        case "setting": return Settings.specs.map(\.name)
        case "model": return models.keys.sorted()
        case "data": return datasets.keys.sorted()
        case "run": return runOrder
        case "domain": return activeDataName.flatMap { datasets[$0]?.dataset.domains } ?? []
        case "tune":
            let layers = activeModelName.flatMap { models[$0]?.model.config.vision.layers } ?? 12
            return ["full", "proj"] + (1 ... layers).map { "last\($0)" }
        case "state":
            // The weights any run here can name (the line's own run is not known while completing).
            var states = ["final"]
            for r in runOrder.compactMap({ runs[$0] }) { for s in r.stateNames where !states.contains(s) { states.append(s) } }
            return states + ["wise:0.5"]
        default: return []
        }
    }

    // MARK: Running lines and files, with errors rendered for people

    /// Runs one line typed at the prompt. Errors are written with a caret; the workspace keeps
    /// its state. Returns false when the line failed. Throws only `QuitRequest`.
    @discardableResult
    public func executeInteractive(_ line: String) throws -> Bool {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        let remembered = !trimmed.isEmpty && !trimmed.hasPrefix("#")
        if remembered { history.append((trimmed, true)) }
        let index = history.count - 1
        replay = nil
        do {
            try interpreter.execute(line: line)
            lineSucceeded(line, depth: 0)
            return true
        } catch let e as CommandError {
            writeError(Diagnostic.render(e, line: line, color: useColor))
        } catch let e as ScriptError {
            writeError(Diagnostic.render(e, color: useColor))
        }
        if remembered, index < history.count { history[index].ok = false }
        return false
    }

    /// After a line succeeded at script depth `depth` (0: typed at the prompt): the line as it
    /// replays goes into the journal and, at the recording's depth, into the recording.
    func lineSucceeded(_ line: String, depth: Int) {
        var replayed: String? = line.trimmingCharacters(in: .whitespaces)
        if let r = replay, r.depth == depth {
            switch r.how {
            case .omit: replayed = nil
            case .option(let key, let value): replayed = (try? Lexer.setting(key, to: value, in: line)) ?? replayed
            }
        }
        replay = nil
        guard let replayed else { return }
        journal.note(replayed)
        recordIfNeeded(replayed, depth: depth)
    }

    /// Runs a session file (or "-" for standard input). Returns the process exit status:
    /// 0 when every line succeeded (or `quit` was reached), 1 at the first error.
    public func runSession(path: String) -> Int32 {
        do {
            if path == "-" {
                var text = ""
                while let line = readLine(strippingNewline: false) { text += line }
                try interpreter.runScript(text: text, file: "<stdin>", continueOnError: settings.onerror == "continue",
                                          onError: { [unowned self] in writeError(Diagnostic.render($0, color: useColor)) })
            } else {
                try interpreter.runScript(text: Workspace.sessionText(path), file: path, continueOnError: settings.onerror == "continue",
                                          onError: { [unowned self] in writeError(Diagnostic.render($0, color: useColor)) })
            }
            return 0
        } catch let e as ScriptError where Interrupt.isRequested {
            writeError(Diagnostic.render(e, color: useColor))
            return 130
        } catch is QuitRequest {
            return 0
        } catch let e as ScriptError {
            writeError(Diagnostic.render(e, color: useColor))
        } catch let e as CommandError {
            writeError("error: " + e.description)
        } catch {
            writeError("error: \(error)")
        }
        return 1
    }

    /// Runs one command given as separate words (`clipood bench gemm runs=7`).
    public func executeArguments(_ words: [String]) -> Int32 {
        do {
            try interpreter.execute(arguments: words)
            return 0
        } catch is QuitRequest {
            return 0
        } catch let e as CommandError {
            writeError(Diagnostic.render(e, line: words.joined(separator: " "), color: useColor))
        } catch let e as ScriptError {
            writeError(Diagnostic.render(e, color: useColor))
        } catch {
            writeError("error: \(error)")
        }
        return 1
    }
}

extension Workspace {
    /// The largest session file read.
    static let sessionSizeLimit = 16 << 20

    /// A session file's text: a regular UTF-8 file of at most `sessionSizeLimit` bytes (a FIFO
    /// or device is refused instead of hanging); a failure is one line with the path.
    static func sessionText(_ path: String) throws -> String {
        do { return try FileReading.text(path, limit: sessionSizeLimit) } catch let e as IOFailure {
            throw CommandError("cannot read session file '\(path)': " + (e.reason == "no such file or directory" ? "no such file" : e.reason))
        }
    }

    /// The entry of `table` that `argument` names, or the `current` one. Errors point at the
    /// argument, suggest close names and list what exists (`listed`), or say how to make one.
    func namedOrCurrent<Entry>(_ args: Arguments, argument: String, in table: [String: Entry], current: String?, noun: String,
                               listed: @autoclosure () -> String, none: String, create: String) throws -> Entry {
        if let n = args.string(argument) {
            guard let e = table[n] else {
                throw args.error(argument, "no \(noun) named '\(n)'" + Suggestions.didYouMean(n, in: Array(table.keys)),
                                 hint: table.isEmpty ? create : listed())
            }
            return e
        }
        guard let n = current, let e = table[n] else { throw args.error(none, hint: create) }
        return e
    }
}
