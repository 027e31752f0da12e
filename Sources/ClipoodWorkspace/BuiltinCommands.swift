import ClipoodCommands
import ClipoodIO
import Foundation

// The commands every session has: help, set, show, run, quit.

extension Workspace {
    static let sessionFile = Argument<String>.positional("file", .path(extensions: ["cood"]), help: "a session file (*.cood)")

    static let helpCommand = CommandSpec<Workspace>(
        "help", aliases: ["?"],
        summary: "list the commands, or explain one",
        discussion: """
        Every command is one line: words, numbers, "quoted strings", key=value options and
        keyword arguments such as `to FILE` or `as NAME`; `#` starts a comment. Commands may be
        shortened to a unique prefix.
        """,
        arguments: [.positional("command", .name(kind: "command"), optional: true, variadic: true, help: "a command (and subcommand) to explain")],
        examples: ["help", "help set", "help bench gemm"],
        run: { ws, args in
            let words = args.tokens("command")
            if words.isEmpty {
                ws.write("clipood — fine-tune CLIP that keeps working out of distribution (CLIPood)\n\ncommands:\n"
                         + ws.registry.overview() + "\n\ntype 'help COMMAND' for details, Tab to complete.")
            } else {
                ws.write(try ws.registry.help(for: words))
            }
        })

    static var setCommand: CommandSpec<Workspace> {
        CommandSpec<Workspace>(
            "set",
            summary: "change settings (set KEY=VALUE …)",
            discussion: "Settings last for the session. 'show settings' lists them with their defaults.",
            arguments: Settings.specs.map { .option($0.name, $0.type, help: $0.help) },
            examples: ["set threads=2", "set seed=7 echo=on"],
            run: { ws, args in
                let given = Settings.specs.filter { args.has($0.name) }
                guard !given.isEmpty else {
                    throw args.error("set needs KEY=VALUE", hint: "settings: " + Settings.specs.map(\.name).joined(separator: ", "))
                }
                for s in given { ws.settings.assign(s.name, args.value(s.name)!) }
                ws.settings.apply(to: ws)
            })
    }

    static let showCommand = CommandSpec<Workspace>(
        "show",
        summary: "show the workspace's state",
        subcommands: [
            CommandSpec("settings", summary: "every setting with its value, default and meaning", run: { ws, _ in
                let cells = Settings.specs.map { s -> [String] in
                    let v = ws.settings.value(of: s.name), d = s.defaultValue()
                    return [s.name, v, v == d ? "" : "(default \(d))", s.help]
                }
                // The meaning column wraps so that the table fits 80 columns (continuation lines
                // leave the other columns empty).
                let header = ["setting", "value", "", "meaning"]
                let width = max(30, TextTable.widthLeft(header: header, rows: cells, before: 3))
                let rows = cells.flatMap { row in
                    TextWrap.lines(row[3], width: width).enumerated().map { i, l in i == 0 ? Array(row[0 ..< 3]) + [l] : ["", "", "", l] }
                }
                ws.write(TextTable.render(header: header, rows: rows))
            }),
            showRunsCommand, showModelsCommand, showDataCommand, showHistoryCommand, showErrorsCommand,
        ])

    static let runCommand = CommandSpec<Workspace>(
        "run",
        summary: "run the commands of a session file",
        discussion: "Lines run in this workspace, in order; the first failing line stops the file (unless onerror=continue).",
        arguments: [sessionFile.spec],
        examples: ["run Sessions/quickstart.cood"],
        run: { ws, args in
            let path = args[sessionFile]
            let text: String
            do { text = try Workspace.sessionText(expandPath(path)) } catch let e as CommandError { throw args.error("file", e.message) }
            try ws.interpreter.runScript(text: text, file: path, continueOnError: ws.settings.onerror == "continue",
                                         onError: { ws.writeError(Diagnostic.render($0, color: ws.useColor)) })
        })

    static let quitCommand = CommandSpec<Workspace>(
        "quit", aliases: ["exit"],
        summary: "end the session (Ctrl-D at the prompt does the same)",
        // At a terminal with unsaved runs, the first quit only lists them (Workspace.confirmQuit).
        run: { ws, _ in if ws.confirmQuit() { throw QuitRequest() } })
}

/// Plain aligned columns for tables printed to the terminal (left-aligned text, right-aligned numbers).
/// Cells are shown with their control characters escaped (`DisplayText`), so a class name
/// holding a newline or an escape sequence cannot break the table or drive the terminal.
public enum TextTable {
    /// The columns `render` leaves for column `last` (and after) within `total` characters: the
    /// widths of the columns before it, each with its two-space gap, taken away.
    static func widthLeft(header: [String], rows: [[String]], before last: Int, total: Int = 80) -> Int {
        total - (0 ..< last).map { c in max(header[c].count, rows.map { $0[c].count }.max() ?? 0) + 2 }.reduce(0, +)
    }

    public static func render(header: [String], rows: [[String]]) -> String {
        let header = header.map(DisplayText.escaped), rows = rows.map { $0.map(DisplayText.escaped) }
        let all = [header] + rows
        let n = header.count
        var widths = [Int](repeating: 0, count: n)
        for r in all { for (i, c) in r.enumerated() where i < n { widths[i] = max(widths[i], c.count) } }
        let numeric = (0 ..< n).map { i in rows.allSatisfy { i < $0.count && (Double($0[i]) != nil || $0[i].isEmpty) } && !rows.isEmpty }
        func line(_ r: [String]) -> String {
            (0 ..< n).map { i in
                let c = i < r.count ? r[i] : ""
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return numeric[i] ? pad + c : c + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}
