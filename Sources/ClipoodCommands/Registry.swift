/// What a command context offers the command language: names for completion of `.name` values.
public protocol CommandContext: AnyObject {
    /// Names of one kind that exist now (models, datasets, runs, settings…).
    func names(of kind: String) -> [String]
}

/// The table of commands (gnuplot's `command_ftbl`, one row per declaration) and the parser
/// that matches a line against it.
public struct Registry<Context: CommandContext> {
    public private(set) var commands: [CommandSpec<Context>] = []

    public init(_ commands: [CommandSpec<Context>] = []) {
        for c in commands { register(c) }
    }

    /// Adds a command; names and aliases must be unique and its declaration sound (see
    /// `problems(in:)`) — a programming error otherwise, stopped here rather than at first use.
    public mutating func register(_ spec: CommandSpec<Context>) {
        for n in [spec.name] + spec.aliases {
            precondition(lookupExact(n) == nil, "Registry: command name '\(n)' registered twice")
        }
        let problems = Registry.problems(in: spec)
        precondition(problems.isEmpty, "Registry: " + problems.joined(separator: "; "))
        commands.append(spec)
    }

    /// What is wrong with a declaration and its subcommands': an option default that does not
    /// parse as the option's type (out of range, not a choice, not a number), or an argument
    /// name used twice in one command.
    public static func problems(in spec: CommandSpec<Context>, path: [String] = []) -> [String] {
        let here = (path + [spec.name]).joined(separator: " ")
        var out: [String] = []
        var seen = Set<String>()
        for a in spec.arguments {
            if !seen.insert(a.name).inserted { out.append("'\(here)' declares '\(a.name)' twice") }
            if case .option(let d?) = a.kind {
                do { _ = try convert(d, a.type, token: nil) } catch {
                    out.append("'\(here)': the default '\(d)' of \(a.name)= does not parse: \((error as? CommandError)?.message ?? String(describing: error))")
                }
            }
        }
        for sub in spec.subcommands { out += problems(in: sub, path: path + [spec.name]) }
        return out
    }

    public var commandNames: [String] { commands.map(\.name) }

    func lookupExact(_ word: String) -> CommandSpec<Context>? {
        commands.first { $0.name == word || $0.aliases.contains(word) }
    }

    /// Exact name or alias, else a unique prefix (as gnuplot accepts `p` for `plot`).
    public func lookup(_ word: String) -> CommandSpec<Context>? {
        if let c = lookupExact(word) { return c }
        let matches = commands.filter { $0.name.hasPrefix(word) }
        return matches.count == 1 ? matches[0] : nil
    }

    // MARK: Parsing

    /// Parses one tokenised line into the command to run and its checked arguments.
    public func parse(_ tokens: [Token]) throws -> (CommandSpec<Context>, Arguments) {
        guard let first = tokens.first else { throw CommandError("empty command") }
        guard first.isWord else {
            throw CommandError("a command must start with a command name, not \(first.kind == .string ? "a quoted string" : "an option")", at: first)
        }
        guard var spec = lookup(first.text) else {
            let prefixMatches = commands.filter { $0.name.hasPrefix(first.text) }.map(\.name)
            if prefixMatches.count > 1 {
                throw CommandError("ambiguous command '\(first.text)': could be \(prefixMatches.joined(separator: ", "))", at: first)
            }
            throw CommandError("unknown command '\(first.text)'" + Suggestions.didYouMean(first.text, in: commandNames), at: first,
                               hint: "type 'help' for the list of commands")
        }
        var path = [spec.name]
        var rest = tokens.dropFirst()
        while !spec.subcommands.isEmpty {
            if let t = rest.first, t.isWord, let sub = spec.subcommand(t.text) {
                spec = sub
                path.append(sub.name)
                rest = rest.dropFirst()
                continue
            }
            if spec.run != nil { break }
            let names = spec.subcommands.map(\.name)
            if let t = rest.first {
                throw CommandError("'\(path.joined(separator: " "))' has no subcommand '\(t.text)'" + Suggestions.didYouMean(t.text, in: names),
                                   at: t, hint: "expected one of: \(names.joined(separator: ", "))")
            }
            let end = tokens.last.map { $0.column + $0.length + 1 } ?? 1
            throw CommandError("'\(path.joined(separator: " "))' needs a subcommand: \(names.joined(separator: ", "))", column: end, length: 1)
        }
        let args = try bind(Array(rest), to: spec, path: path, commandToken: first, lineEnd: tokens.last.map { $0.column + $0.length } ?? 1)
        return (spec, args)
    }

    func bind(_ tokens: [Token], to spec: CommandSpec<Context>, path: [String], commandToken: Token, lineEnd: Int) throws -> Arguments {
        var args = Arguments(commandPath: path, commandToken: commandToken)
        let name = path.joined(separator: " ")
        for a in spec.arguments {
            // Every default parses: `register` checked it.
            if case .option(let d?) = a.kind, let v = try? Registry.convert(d, a.type, token: nil) { args.defaults[a.name] = v }
        }
        let positionals = spec.positionals
        var nextPositional = 0
        var i = 0
        while i < tokens.count {
            let t = tokens[i]
            if let key = t.optionKey {
                guard let a = spec.argument(named: key), case .option = a.kind else {
                    let known = spec.options.map(\.name)
                    throw CommandError("'\(name)' has no option '\(key)'" + Suggestions.didYouMean(key, in: known), column: t.column, length: key.count,
                                       hint: known.isEmpty ? "'\(name)' takes no key=value options" : "options: \(known.joined(separator: ", "))")
                }
                if args.values[key] != nil { throw CommandError("option '\(key)' given twice", at: t) }
                args.values[key] = try Registry.convert(t.text, a.type, token: t, what: "\(key)=")
                args.tokens[key] = t
                i += 1
                continue
            }
            if t.isWord, let a = spec.argument(named: t.text), a.kind == .keyword {
                guard i + 1 < tokens.count, tokens[i + 1].optionKey == nil else {
                    throw CommandError("'\(t.text)' needs a value: \(t.text) \(a.placeholder)", at: t)
                }
                if args.values[a.name] != nil { throw CommandError("'\(t.text)' given twice", at: t) }
                let v = tokens[i + 1]
                args.values[a.name] = try Registry.convert(v.text, a.type, token: v, what: "'\(t.text)'")
                args.tokens[a.name] = v
                i += 2
                continue
            }
            if t.isWord, let a = spec.argument(named: t.text), a.kind == .flag {
                args.values[a.name] = .bool(true)
                args.tokens[a.name] = t
                i += 1
                continue
            }
            guard nextPositional < positionals.count else {
                var hint = "usage: \(usage(spec, path: path))"
                if t.isWord {
                    let words = spec.flags.map(\.name) + spec.keywords.map(\.name)
                    let s = Suggestions.didYouMean(t.text, in: words)
                    if !s.isEmpty { throw CommandError("unexpected argument '\(t.text)'" + s, at: t, hint: hint) }
                    if !spec.options.isEmpty { hint += "\noptions are written key=value" }
                }
                throw CommandError("unexpected argument '\(t.text)' for '\(name)'", at: t, hint: hint)
            }
            let a = positionals[nextPositional]
            let v = try Registry.convert(t.text, a.type, token: t, what: "<\(a.metavar ?? a.name)>")
            args.positionalValues[a.name, default: []].append((v, t))
            if case .positional(_, false) = a.kind { nextPositional += 1 }
            i += 1
        }
        for a in spec.keywords where a.required && args.values[a.name] == nil {
            throw CommandError("'\(name)' needs '\(a.name) \(a.placeholder)': \(a.help)", column: lineEnd + 1, length: 1,
                               hint: "usage: \(usage(spec, path: path))")
        }
        for a in positionals where args.positionalValues[a.name] == nil {
            if case .positional(false, _) = a.kind {
                throw CommandError("'\(name)' is missing <\(a.metavar ?? a.name)>: \(a.help)", column: lineEnd + 1, length: 1,
                                   hint: "usage: \(usage(spec, path: path))")
            }
        }
        return args
    }

    static func convert(_ text: String, _ type: ValueType, token: Token?, what: String = "value") throws -> Value {
        func fail(_ msg: String, hint: String? = nil) -> CommandError {
            guard let t = token else { return CommandError(msg, hint: hint) }
            return CommandError(msg, column: t.valueColumn, length: max(1, t.length - (t.valueColumn - t.column)), hint: hint)
        }
        switch type {
        case .string, .path, .name:
            return .string(text)
        case .int(let range):
            guard let v = Int(text) ?? Double(text).flatMap({ $0.rounded() == $0 && abs($0) < 1e15 ? Int($0) : nil }) else {
                throw fail("\(what) expects a whole number, got '\(text)'")
            }
            if let range, !range.contains(v) { throw fail("\(what) must be in \(range.lowerBound)…\(range.upperBound), got \(v)") }
            return .int(v)
        case .float(let range):
            guard let v = Double(text), v.isFinite else { throw fail("\(what) expects a number, got '\(text)'") }
            if let range, !range.contains(v) { throw fail("\(what) must be in \(range.lowerBound)…\(range.upperBound), got \(text)") }
            return .float(v)
        case .bool:
            switch text.lowercased() {
            case "on", "true", "yes", "1": return .bool(true)
            case "off", "false", "no", "0": return .bool(false)
            default: throw fail("\(what) expects on or off, got '\(text)'")
            }
        case .choice(let choices):
            if choices.contains(text) { return .string(text) }
            throw fail("\(what) expects one of \(choices.joined(separator: ", ")), got '\(text)'" + Suggestions.didYouMean(text, in: choices))
        case .list(let inner):
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if parts.contains(where: \.isEmpty) { throw fail("\(what) has an empty item in the list '\(text)'") }
            return .list(try parts.map { try convert($0, inner, token: token, what: what) })
        }
    }

    // MARK: Help

    /// One line per command: the `help` overview.
    public func overview() -> String {
        let width = min(24, (commands.map(\.name.count).max() ?? 8) + 2)
        return commands.map { c in
            let subs = c.subcommands.isEmpty ? "" : " (" + c.subcommands.map(\.name).joined(separator: ", ") + ")"
            return Registry.hanging("  " + c.name.padding(toLength: max(width, c.name.count + 1), withPad: " ", startingAt: 0), c.summary + subs)
        }.joined(separator: "\n")
    }

    public func usage(_ spec: CommandSpec<Context>, path: [String]) -> String {
        let head = path.joined(separator: " ")
        if spec.arguments.isEmpty && !spec.subcommands.isEmpty && spec.run == nil {
            return head + " " + spec.subcommands.map(\.name).joined(separator: "|") + " …"
        }
        return ([head] + spec.arguments.map(\.usageFragment)).joined(separator: " ")
    }

    /// Full help for `help WORD [SUBWORD]`; nil with a suggestion error when unknown.
    public func help(for words: [Token]) throws -> String {
        guard let first = words.first else { return overview() }
        guard var spec = lookup(first.text) else {
            throw CommandError("no help for '\(first.text)': unknown command" + Suggestions.didYouMean(first.text, in: commandNames), at: first)
        }
        var path = [spec.name]
        for t in words.dropFirst() {
            guard let sub = spec.subcommand(t.text) else {
                throw CommandError("'\(path.joined(separator: " "))' has no subcommand '\(t.text)'" +
                                   Suggestions.didYouMean(t.text, in: spec.subcommands.map(\.name)), at: t)
            }
            spec = sub
            path.append(sub.name)
        }
        return render(spec, path: path)
    }

    /// The width help is laid out for: a standard terminal, the same in sessions and notebooks.
    static var helpWidth: Int { 80 }

    /// A discussion's paragraphs (separated by blank lines) re-wrapped to `helpWidth`; a
    /// paragraph whose lines start with "-" or a space is a list or a layout and stays as written.
    static func reflow(_ text: String) -> String {
        text.components(separatedBy: "\n\n").map { paragraph -> String in
            let lines = paragraph.split(separator: "\n", omittingEmptySubsequences: false)
            if lines.contains(where: { $0.hasPrefix("-") || $0.hasPrefix(" ") }) { return paragraph }
            return TextWrap.lines(lines.joined(separator: " "), width: helpWidth).joined(separator: "\n")
        }.joined(separator: "\n\n")
    }

    /// `label` then `text` wrapped to `helpWidth`, its further lines indented under the text.
    static func hanging(_ label: String, _ text: String) -> String {
        label + TextWrap.lines(text, width: helpWidth - label.count).joined(separator: "\n" + String(repeating: " ", count: label.count))
    }


    func render(_ spec: CommandSpec<Context>, path: [String]) -> String {
        var out = Registry.hanging("\(path.joined(separator: " ")) — ", spec.summary) + "\n"
        if spec.run != nil || spec.subcommands.isEmpty {
            // A long usage line continues under its first argument.
            let head = "usage: " + path.joined(separator: " ") + " "
            let fragments = usage(spec, path: path).dropFirst(head.count - "usage: ".count)
            let lines = TextWrap.lines(String(fragments), width: Registry.helpWidth - head.count)
            out += "\n" + head + lines.joined(separator: "\n" + String(repeating: " ", count: head.count)) + "\n"
        }
        if !spec.aliases.isEmpty { out += "aliases: \(spec.aliases.joined(separator: ", "))\n" }
        if !spec.discussion.isEmpty { out += "\n" + Registry.reflow(spec.discussion) + "\n" }
        if !spec.subcommands.isEmpty {
            out += "\nsubcommands:\n"
            let w = (spec.subcommands.map(\.name.count).max() ?? 0) + 4
            for s in spec.subcommands {
                out += Registry.hanging("  " + s.name.padding(toLength: w, withPad: " ", startingAt: 0), s.summary) + "\n"
            }
            out += "(help \(path.joined(separator: " ")) SUBCOMMAND for details)\n"
        }
        if !spec.arguments.isEmpty {
            out += "\narguments:\n"
            let labels = spec.arguments.map { a -> String in
                switch a.kind {
                case .positional: return "<\(a.metavar ?? a.name)>"
                case .option: return "\(a.name)=\(a.placeholder)"
                case .flag: return a.name
                case .keyword: return "\(a.name) \(a.placeholder)"
                }
            }
            let w = min(28, (labels.map(\.count).max() ?? 0) + 3)
            for (a, label) in zip(spec.arguments, labels) {
                var text = a.help
                if case .option(let d?) = a.kind { text += " (default \(d))" }
                if a.required { text += " (required)" }
                // The explanation wraps at word boundaries in its own column, so help fits an
                // 80-column terminal; a label too wide for the column gets a line of its own.
                let lines = TextWrap.lines(text, width: Registry.helpWidth - 2 - w)
                let fits = label.count + 2 <= w
                out += "  " + (fits ? label.padding(toLength: w, withPad: " ", startingAt: 0) + lines[0] : label) + "\n"
                for l in lines.dropFirst(fits ? 1 : 0) { out += String(repeating: " ", count: 2 + w) + l + "\n" }
            }
        }
        if !spec.examples.isEmpty {
            out += "\nexamples:\n" + spec.examples.map { "  " + $0 }.joined(separator: "\n") + "\n"
        }
        return out.hasSuffix("\n") ? String(out.dropLast()) : out
    }
}

/// Word wrapping for text laid out in columns (help, tables).
public enum TextWrap {
    /// `text` in lines of at most `width` characters, broken at spaces (a word longer than the
    /// width stands on a line of its own).
    public static func lines(_ text: String, width: Int) -> [String] {
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            if line.isEmpty { line = String(word) } else if line.count + 1 + word.count <= max(width, 1) { line += " " + word } else {
                lines.append(line)
                line = String(word)
            }
        }
        lines.append(line)
        return lines
    }
}
