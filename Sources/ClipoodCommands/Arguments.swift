/// The checked arguments of one command invocation, with typed accessors.
///
/// Values were converted and range-checked by the parser; the tokens are kept so a command
/// can report a run-time problem (a missing file, an unknown name) at the right column.
public struct Arguments {
    /// The full command path as typed, e.g. ["bench", "gemm"].
    public let commandPath: [String]
    /// The command word(s) as tokens (for errors that concern the command as a whole).
    public let commandToken: Token
    var values: [String: Value] = [:]
    var tokens: [String: Token] = [:]
    var positionalValues: [String: [(Value, Token)]] = [:]
    var defaults: [String: Value] = [:]

    init(commandPath: [String], commandToken: Token) {
        self.commandPath = commandPath
        self.commandToken = commandToken
    }

    /// Whether the user gave this option, flag, keyword or positional (defaults don't count).
    public func has(_ name: String) -> Bool { values[name] != nil || positionalValues[name] != nil }

    public func value(_ name: String) -> Value? { values[name] ?? positionalValues[name]?.first?.0 ?? defaults[name] }

    public func string(_ name: String) -> String? {
        switch value(name) {
        case .string(let s)?: return s
        case .int(let i)?: return String(i)
        case .float(let d)?: return String(d)
        case .bool(let b)?: return b ? "on" : "off"
        case .list(let l)?: return l.map { Arguments.describe($0) }.joined(separator: ",")
        case nil: return nil
        }
    }

    public func int(_ name: String) -> Int? { if case .int(let i)? = value(name) { return i } else { return nil } }

    public func double(_ name: String) -> Double? {
        switch value(name) {
        case .float(let d)?: return d
        case .int(let i)?: return Double(i)
        default: return nil
        }
    }

    public func float(_ name: String) -> Float? { double(name).map(Float.init) }

    /// A flag or a bool option: true when set.
    public func flag(_ name: String) -> Bool { if case .bool(let b)? = value(name) { return b } else { return false } }

    public func list(_ name: String) -> [Value] {
        if case .list(let l)? = value(name) { return l }
        return value(name).map { [$0] } ?? []
    }

    /// A list option's items as numbers (ints widened), e.g. `beta=0.1,0.5,1`.
    public func doubles(_ name: String) -> [Double] {
        list(name).compactMap {
            switch $0 {
            case .float(let d): return d
            case .int(let i): return Double(i)
            default: return nil
            }
        }
    }

    /// A list option's items as they read, e.g. `target=sketch,photo`.
    public func listStrings(_ name: String) -> [String] { list(name).map(Arguments.describe) }

    /// All values of a (variadic) positional, as strings.
    public func strings(_ name: String) -> [String] {
        (positionalValues[name] ?? []).map { Arguments.describe($0.0) }
    }

    /// The tokens of a variadic positional, in order (for per-item errors).
    public func tokens(_ name: String) -> [Token] { (positionalValues[name] ?? []).map(\.1) }

    /// The token the user typed for `name`, if any.
    public func token(_ name: String) -> Token? { tokens[name] ?? positionalValues[name]?.first?.1 }

    /// An error located at the argument `name` (or at the command when it was not typed).
    public func error(_ name: String, _ message: String, hint: String? = nil) -> CommandError {
        if let t = token(name) {
            return CommandError(message, column: t.valueColumn, length: t.length - (t.valueColumn - t.column), hint: hint)
        }
        return CommandError(message, at: commandToken, hint: hint)
    }

    /// An error located at the command word.
    public func error(_ message: String, hint: String? = nil) -> CommandError {
        CommandError(message, at: commandToken, hint: hint)
    }

    static func describe(_ v: Value) -> String {
        switch v {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .float(let d): return String(d)
        case .bool(let b): return b ? "on" : "off"
        case .list(let l): return l.map(describe).joined(separator: ",")
        }
    }
}
