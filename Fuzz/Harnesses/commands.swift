import ClipoodCommands
import ClipoodWorkspace
import Foundation

// The command language: the lexer, then the parser with clipood's real command table, and tab
// completion. Tokens cover the line in order: each starts after the previous one ends, a word is
// exactly its source text, only blanks lie between tokens and only a comment after the last.
// Error columns point inside the line.
enum Harness {
    static let workspace = Workspace(write: { _ in }, writeError: { _ in })
    static let blanks: Set<Character> = [" ", "\t", "\r", "\n"]

    static func run(_ input: Data) {
        let line = String(decoding: input, as: UTF8.self)
        let chars = Array(line)
        let tokens: [Token]
        do { tokens = try Lexer.tokenize(line) } catch {
            checkLocated(error, chars.count)
            return
        }
        var next = 0   // index of the first character after the previous token
        for t in tokens {
            let start = t.column - 1, end = start + t.length
            Fuzz.check(t.length >= 1 && start >= next && end <= chars.count,
                       "token \(t) at columns \(t.column)..<\(t.column + t.length) is out of order or outside \(chars.count) characters")
            Fuzz.check(chars[next ..< start].allSatisfy(blanks.contains), "non-blank text skipped before token \(t)")
            let source = String(chars[start ..< end])
            switch t.kind {
            case .word:
                Fuzz.check(source == t.text, "word token \(t.text.debugDescription) written as \(source.debugDescription)")
            case .string:
                Fuzz.check(t.length >= 2 && chars[start] == chars[end - 1] && (chars[start] == "\"" || chars[start] == "'"),
                           "string token not enclosed in quotes: \(source.debugDescription)")
            case .option(let key):
                Fuzz.check(source.hasPrefix(key + "=") && t.valueColumn == t.column + key.count + 1,
                           "option \(key) written as \(source.debugDescription), value at column \(t.valueColumn)")
                let value = String(chars[start + key.count + 1 ..< end])
                if !(value.hasPrefix("\"") || value.hasPrefix("'")) {
                    Fuzz.check(value == t.text, "option value \(t.text.debugDescription) written as \(value.debugDescription)")
                }
            }
            next = end
        }
        let rest = chars[next...].drop(while: blanks.contains)
        Fuzz.check(rest.isEmpty || rest.first == "#", "text after the last token is neither blank nor a comment: \(String(rest).debugDescription)")

        // The parser with the real command table; errors point inside the line.
        if !tokens.isEmpty {
            do {
                let (spec, args) = try workspace.registry.parse(tokens)
                Fuzz.check(args.commandPath.first == spec.name || spec.name == args.commandPath.last,
                           "parsed \(spec.name) with path \(args.commandPath)")
            } catch { checkLocated(error, chars.count) }
            do { _ = try workspace.registry.help(for: tokens) } catch { checkLocated(error, chars.count) }
        }
        // Completion of the line as typed so far (not of paths: that would list this machine's folders).
        if !line.contains("/") && !line.contains("~") {
            let c = workspace.registry.complete(line, context: workspace)
            Fuzz.check(c.start >= 0 && c.start <= chars.count, "completion starts at \(c.start) in \(chars.count) characters")
            let current = String(chars[c.start...])
            Fuzz.check(c.candidates.allSatisfy { $0.hasPrefix(current) }, "completions \(c.candidates) do not extend \(current.debugDescription)")
        }
    }

    /// A command error must point at characters of the line (column 0: the whole line), or just
    /// after it, where a missing argument would go (one blank after the end).
    static func checkLocated(_ error: Error, _ count: Int) {
        Fuzz.checkRefusal(error)
        guard let e = error as? CommandError else { Fuzz.fail("the command language threw \(type(of: error)): \(error)") }
        Fuzz.check(e.column >= 0 && e.length >= 0 && (e.column == 0 || e.column - 1 + e.length <= count + 2),
                   "error '\(e.message)' at column \(e.column), length \(e.length) in a line of \(count) characters")
    }

    static func seeds() -> [String: Data] {
        let lines = [
            "load model demo",
            "load data ~/data/PACS as pacs   # a comment",
            "split target=sketch open=0.5 seed=3",
            "train steps=5000 lambda=0.3 beta=0.5,0.1 tune=last2 as mms",
            "plot curves mms ce to plots/curves.png term=dumb title=\"MMS vs \\\"CE\\\"\"",
            "prompt 'a sketch of a {}.'",
            "set threads=2",
            "help train",
            "bench gemm n=64",
            "show settings",
            "record stop",
            "export mms model=bma:0.5 to out.safetensors",
        ]
        var seeds: [String: Data] = [:]
        for (i, l) in lines.enumerated() { seeds["line\(i)"] = Data(l.utf8) }
        return seeds
    }
}
