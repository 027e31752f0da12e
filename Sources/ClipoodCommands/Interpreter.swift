import Foundation

/// Runs lines and scripts of the command language against a context.
///
/// It owns no output: commands write through their context, and errors come back as thrown
/// `CommandError` (one line) or `ScriptError` (a line of a file), for the caller to render.
public final class Interpreter<Context: CommandContext> {
    public var registry: Registry<Context>
    public unowned let context: Context
    /// Files being run, innermost last (to refuse `run a.cood` inside a.cood).
    public private(set) var scriptStack: [String] = []
    /// Called with each non-blank line of a script before it runs (for `set echo=on`).
    public var willExecuteScriptLine: ((String) throws -> Void)?
    /// Called with each line of a script that succeeded, after it ran (for the journal and
    /// `record`); `scriptStack` still holds the script's file.
    public var didExecuteScriptLine: ((String) -> Void)?

    public init(registry: Registry<Context>, context: Context) {
        self.registry = registry
        self.context = context
    }

    /// Parses and runs one line. Blank and comment-only lines do nothing.
    public func execute(line: String) throws {
        let tokens = try Lexer.tokenize(line)
        guard !tokens.isEmpty else { return }
        try execute(tokens: tokens)
    }

    /// Runs already-split words (the executable's argv).
    public func execute(arguments: [String]) throws {
        try execute(tokens: Lexer.tokens(fromArguments: arguments))
    }

    func execute(tokens: [Token]) throws {
        let (spec, args) = try registry.parse(tokens)
        guard let run = spec.run else { throw CommandError("'\(args.commandPath.joined(separator: " "))' needs a subcommand", at: tokens[0]) }
        do {
            try run(context, args)
        } catch let e as CommandError {
            throw e
        } catch let e as ScriptError {
            throw e
        } catch let e as QuitRequest {
            throw e
        } catch {
            // Errors from below the command language know no columns: point at the command.
            throw CommandError(String(describing: error), at: args.commandToken)
        }
    }

    /// Runs every line of `text` in order and stops at the first error, which is thrown as a
    /// `ScriptError` naming `file` and the line. `quit` ends the script quietly (rethrown so
    /// that the caller can end too).
    public func runScript(text: String, file: String, continueOnError: Bool = false,
                          onError: ((ScriptError) -> Void)? = nil) throws {
        if scriptStack.contains(file) {
            throw CommandError("'\(file)' is already running (a session cannot run itself)")
        }
        scriptStack.append(file)
        defer { scriptStack.removeLast() }
        var lineNumber = 0
        for line in Self.scriptLines(text) {
            lineNumber += 1
            do {
                if let hook = willExecuteScriptLine, !(try Lexer.tokenize(line)).isEmpty { try hook(line) }
                try execute(line: line)
                didExecuteScriptLine?(line)
            } catch let e as CommandError {
                let located = ScriptError(file: file, line: lineNumber, sourceLine: line, error: e)
                if continueOnError, let onError { onError(located); continue }
                throw located
            } catch let e as ScriptError {
                if continueOnError, let onError { onError(e); continue }
                throw e
            }
        }
    }

    /// The lines of a script: a UTF-8 byte order mark at the start is dropped, and a line ends
    /// at LF, CRLF or a lone CR (old Mac files). Split on scalars: Swift treats "\r\n" as one
    /// Character, so splitting Characters on "\n" would run a CRLF file as a single line.
    public static func scriptLines(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var lines: [String] = []
        var i = start
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x0A || b == 0x0D {
                lines.append(String(decoding: bytes[start ..< i], as: UTF8.self))
                i += b == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A ? 2 : 1
                start = i
            } else {
                i += 1
            }
        }
        lines.append(String(decoding: bytes[start...], as: UTF8.self))
        return lines
    }
}
