/// One token of a command line, with the column where it starts (1-based, in characters)
/// so that errors can point at it.
public struct Token: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// A bare word or number: `train`, `0.3`, `plots/a.png`.
        case word
        /// A quoted string, escapes resolved. Never taken as a command, keyword or flag.
        case string
        /// `key=value`; `text` is the value, `key` the part before `=`.
        case option(key: String)
    }

    public let kind: Kind
    /// The value: the word, the unquoted string, or the option's value.
    public let text: String
    /// 1-based column of the token's first character in the line.
    public let column: Int
    /// Length in characters of the token as written (quotes included).
    public let length: Int
    /// Column where an option's value starts (for errors about the value alone).
    public let valueColumn: Int

    public init(kind: Kind, text: String, column: Int, length: Int, valueColumn: Int? = nil) {
        self.kind = kind
        self.text = text
        self.column = column
        self.length = length
        self.valueColumn = valueColumn ?? column
    }

    public var isWord: Bool { kind == .word }
    public var optionKey: String? { if case .option(let k) = kind { return k } else { return nil } }
}

/// Splits a line of the command language into tokens.
///
/// Grammar: tokens are separated by blanks; `#` outside quotes starts a comment; "double" or
/// 'single' quotes make one string token (escapes in double quotes: \" \\ \n \t \'); a word of
/// the form `key=value` with an identifier key is an option, whose value may itself be quoted
/// (`title="MMS vs CE"`).
public enum Lexer {
    public static func tokenize(_ line: String) throws -> [Token] {
        let chars = Array(line)
        var tokens: [Token] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" || c == "\r" || c == "\n" { i += 1; continue }
            if c == "#" { break }
            let start = i
            if c == "\"" || c == "'" {
                let (text, end) = try readQuoted(chars, from: i)
                tokens.append(Token(kind: .string, text: text, column: start + 1, length: end - start))
                i = end
                continue
            }
            // A bare word, possibly key=value with a quoted value.
            var word = ""
            var key: String? = nil
            var valueStart = start
            while i < chars.count {
                let ch = chars[i]
                if ch == " " || ch == "\t" || ch == "\r" || ch == "\n" { break }
                if ch == "#" && key == nil && word.isEmpty { break }
                if ch == "=" && key == nil && isIdentifier(word) {
                    key = word
                    word = ""
                    i += 1
                    valueStart = i
                    if i < chars.count, chars[i] == "\"" || chars[i] == "'" {
                        let (text, end) = try readQuoted(chars, from: i)
                        word = text
                        i = end
                        if i < chars.count, !(chars[i] == " " || chars[i] == "\t") {
                            throw CommandError("unexpected text after the quoted value", column: i + 1, length: 1)
                        }
                        break
                    }
                    continue
                }
                if ch == "\"" || ch == "'" {
                    throw CommandError("quote inside a word; put the whole argument in quotes", column: i + 1, length: 1)
                }
                word.append(ch)
                i += 1
            }
            if let key {
                tokens.append(Token(kind: .option(key: key), text: word, column: start + 1, length: i - start, valueColumn: valueStart + 1))
            } else {
                tokens.append(Token(kind: .word, text: word, column: start + 1, length: i - start))
            }
        }
        return tokens
    }

    /// The line with `key=value` as its only option of that key: every `key=…` token is
    /// dropped and the new one appended (a trailing comment goes; the other tokens keep the text
    /// they were written with). For rewriting a line as it should be replayed.
    public static func setting(_ key: String, to value: String, in line: String) throws -> String {
        let chars = Array(line)
        var words: [String] = []
        for t in try tokenize(line) where t.optionKey != key {
            words.append(String(chars[(t.column - 1) ..< (t.column - 1 + t.length)]))
        }
        return (words + [key + "=" + value]).joined(separator: " ")
    }

    /// Tokens from already-split words (the executable's argv): no quoting or comments, but
    /// `key=value` is still an option. Columns count as if the words were joined by spaces.
    public static func tokens(fromArguments words: [String]) -> [Token] {
        var column = 1
        return words.map { w in
            defer { column += w.count + 1 }
            if let eq = w.firstIndex(of: "="), isIdentifier(String(w[..<eq])) {
                let key = String(w[..<eq])
                return Token(kind: .option(key: key), text: String(w[w.index(after: eq)...]), column: column,
                             length: w.count, valueColumn: column + key.count + 1)
            }
            return Token(kind: .word, text: w, column: column, length: w.count)
        }
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let f = s.first, f.isLetter || f == "_" else { return false }
        return s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }
    }

    private static func readQuoted(_ chars: [Character], from start: Int) throws -> (String, Int) {
        let quote = chars[start]
        var i = start + 1
        var text = ""
        while i < chars.count {
            let ch = chars[i]
            if ch == quote { return (text, i + 1) }
            if ch == "\\" && quote == "\"" {
                guard i + 1 < chars.count else { break }
                let e = chars[i + 1]
                switch e {
                case "n": text.append("\n")
                case "t": text.append("\t")
                case "\\", "\"", "'": text.append(e)
                default:
                    throw CommandError("unknown escape '\\\(e)' (use \\\" \\\\ \\n \\t)", column: i + 1, length: 2)
                }
                i += 2
                continue
            }
            text.append(ch)
            i += 1
        }
        throw CommandError("unterminated string: missing closing \(quote)", column: start + 1, length: chars.count - start)
    }
}
