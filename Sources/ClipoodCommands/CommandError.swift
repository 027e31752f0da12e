/// An error in one command line, located at a token: the parser, the lexer and the commands
/// themselves throw it, and `Diagnostic` renders it as `FILE:LINE:COL:` or with a caret.
public struct CommandError: Error, CustomStringConvertible, Equatable {
    public var message: String
    /// 1-based column and length of the offending text in the line (0 = the whole line).
    public var column: Int
    public var length: Int
    /// An optional second line: what to do about it.
    public var hint: String?

    public init(_ message: String, column: Int = 0, length: Int = 0, hint: String? = nil) {
        self.message = message
        self.column = column
        self.length = length
        self.hint = hint
    }

    public init(_ message: String, at token: Token, hint: String? = nil) {
        self.init(message, column: token.column, length: token.length, hint: hint)
    }

    public var description: String { hint.map { "\(message)\nhint: \($0)" } ?? message }
}

/// An error located in a file: the script runner wraps `CommandError`s with where they came from.
public struct ScriptError: Error, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let sourceLine: String
    public let error: CommandError

    public init(file: String, line: Int, sourceLine: String, error: CommandError) {
        self.file = file
        self.line = line
        self.sourceLine = sourceLine
        self.error = error
    }

    public var description: String { Diagnostic.render(self, color: false) }
}

/// Thrown by `quit`; runners catch it and stop cleanly.
public struct QuitRequest: Error {
    public init() {}
}

/// Renders errors for people: `FILE:LINE:COL: error: …` plus the line and a caret in files,
/// the line and a caret at the prompt.
public enum Diagnostic {
    public static func render(_ e: ScriptError, color: Bool) -> String {
        let col = max(e.error.column, 1)
        var s = "\(e.file):\(e.line):\(col): \(paint(e.error.message, red: true, color))\n"
        s += caret(line: e.sourceLine, error: e.error, color: color)
        if let hint = e.error.hint { s += "\nhint: \(hint)" }
        return s
    }

    /// For the prompt: the caret goes under the token in the line the user just typed.
    public static func render(_ e: CommandError, line: String, color: Bool) -> String {
        var s = caret(line: line, error: e, color: color)
        s += "\n\(paint("error:", red: true, color)) \(e.message)"
        if let hint = e.hint { s += "\nhint: \(hint)" }
        return s
    }

    static func caret(line: String, error: CommandError, color: Bool) -> String {
        let shown = line.replacingTabs()
        guard error.column > 0 else { return "    " + shown }
        let pad = String(repeating: " ", count: error.column - 1)
        let mark = "^" + String(repeating: "~", count: max(0, min(error.length, max(1, shown.count - error.column + 1)) - 1))
        return "    " + shown + "\n    " + pad + paint(mark, red: false, color)
    }

    static func paint(_ s: String, red: Bool, _ color: Bool) -> String {
        guard color else { return s }
        return (red ? "\u{1B}[1;31m" : "\u{1B}[1;32m") + s + "\u{1B}[0m"
    }
}

extension String {
    func replacingTabs() -> String { String(map { $0 == "\t" ? " " : $0 }) }
}
