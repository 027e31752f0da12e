import Foundation

/// A table as commands produce it, before it is printed or written: every cell has the text the
/// terminal shows and, for numbers, the full-precision value behind it. One table renders as
/// aligned terminal columns, CSV (pandas), Markdown, LaTeX (booktabs) or JSON, so that what a
/// file holds is exactly what was printed, with full precision where the format is for machines.
public struct Table {
    public struct Cell: ExpressibleByStringLiteral {
        /// What the terminal, Markdown and LaTeX show.
        public let text: String
        /// The number behind `text` (CSV and JSON write it at full precision).
        public let value: Double?
        /// The spread of `value` when the cell shows a mean ± standard deviation: CSV and JSON
        /// give it a column of its own ("<column> std"), so both numbers stay exact.
        public let spread: Double?

        public init(_ text: String) { self.text = text; value = nil; spread = nil }
        public init(stringLiteral text: String) { self.init(text) }
        /// A number shown as `shown` (e.g. "57.8") whose exact value is `value`.
        public init(_ value: Double, shown: String) { text = shown; self.value = value; spread = nil }
        /// A mean and its standard deviation shown as `shown` (e.g. "57.8 ± 1.2").
        public init(_ value: Double, spread: Double, shown: String) { text = shown; self.value = value; self.spread = spread }
    }

    public var columns: [String]
    public var rows: [[Cell]]
    /// A caption (LaTeX \caption, a Markdown line above the table); not printed on the terminal.
    public var caption: String?
    /// Columns only the terminal shows (sparklines: pictures, not numbers); the other formats
    /// leave them out.
    public var terminalOnly: Set<Int>

    public init(columns: [String], rows: [[Cell]] = [], caption: String? = nil, terminalOnly: Set<Int> = []) {
        self.columns = columns; self.rows = rows; self.caption = caption; self.terminalOnly = terminalOnly
    }

    /// The file extensions `Format(path:)` knows, for completion and error messages.
    public static let fileExtensions = ["csv", "md", "tex", "json", "txt"]

    public enum Format: String, CaseIterable {
        case text, csv, md, tex, json

        /// The format a file name asks for by its extension (.csv, .md/.markdown, .tex, .json, .txt).
        public init?(path: String) {
            switch (path as NSString).pathExtension.lowercased() {
            case "csv": self = .csv
            case "md", "markdown": self = .md
            case "tex": self = .tex
            case "json": self = .json
            case "txt": self = .text
            default: return nil
            }
        }
    }

    public func render(_ format: Format) -> String {
        switch format {
        case .text: return TextTable.render(header: columns, rows: rows.map { $0.map(\.text) })
        case .csv: return withoutTerminalColumns.csv()
        case .md: return withoutTerminalColumns.markdown()
        case .tex: return withoutTerminalColumns.latex()
        case .json: return withoutTerminalColumns.json()
        }
    }

    var withoutTerminalColumns: Table {
        guard !terminalOnly.isEmpty else { return self }
        let kept = columns.indices.filter { !terminalOnly.contains($0) }
        return Table(columns: kept.map { columns[$0] }, rows: rows.map { row in kept.map { $0 < row.count ? row[$0] : "" } }, caption: caption)
    }

    /// The columns as CSV and JSON write them: a column with a spread in any cell is followed by
    /// its "<column> std" column. Each entry: the header, the source column, whether it is the spread.
    var machineColumns: [(name: String, index: Int, spread: Bool)] {
        columns.indices.flatMap { i -> [(name: String, index: Int, spread: Bool)] in
            let hasSpread = rows.contains { i < $0.count && $0[i].spread != nil }
            return [(columns[i], i, false)] + (hasSpread ? [(columns[i] + " std", i, true)] : [])
        }
    }

    // MARK: formats

    /// RFC 4180: fields with a comma, quote, CR or LF are quoted, quotes doubled; numbers at full
    /// precision (the shortest text that reads back as the same Double; a missing one as nan,
    /// which pandas reads as NaN), a spread in its own column.
    func csv() -> String {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        let machine = machineColumns
        let lines = [machine.map { field($0.name) }.joined(separator: ",")] + rows.map { row in
            machine.map { c -> String in
                let cell = c.index < row.count ? row[c.index] : Cell("")
                if c.spread { return cell.spread.map(Table.exact) ?? "" }
                return cell.value.map(Table.exact) ?? field(cell.text)
            }.joined(separator: ",")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A GitHub-flavoured pipe table; `|` in cells escaped, line breaks as spaces.
    func markdown() -> String {
        func cell(_ s: String) -> String {
            s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|")
                .replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
        }
        let numeric = numericColumns()
        var lines: [String] = []
        if let caption { lines += [cell(caption), ""] }
        lines.append("| " + columns.map(cell).joined(separator: " | ") + " |")
        lines.append("|" + numeric.map { $0 ? "---:" : ":---" }.joined(separator: "|") + "|")
        for row in rows { lines.append("| " + (0 ..< columns.count).map { $0 < row.count ? cell(row[$0].text) : "" }.joined(separator: " | ") + " |") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A booktabs tabular (\toprule, \midrule, \bottomrule) inside a table float; every cell's
    /// text escaped for LaTeX, numbers right-aligned.
    func latex() -> String {
        let spec = numericColumns().map { $0 ? "r" : "l" }.joined()
        var lines = ["% needs \\usepackage{booktabs}", "\\begin{table}[t]", "\\centering"]
        if let caption { lines.append("\\caption{\(Table.latexEscape(caption))}") }
        lines += ["\\begin{tabular}{\(spec)}", "\\toprule"]
        lines.append(columns.map(Table.latexEscape).joined(separator: " & ") + " \\\\")
        lines.append("\\midrule")
        for row in rows {
            lines.append((0 ..< columns.count).map { $0 < row.count ? Table.latexEscape(row[$0].text) : "" }.joined(separator: " & ") + " \\\\")
        }
        lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// An array of objects keyed by column name; numbers as JSON numbers at full precision
    /// (non-finite ones as null), a spread under its own key, other cells as strings.
    func json() -> String {
        func string(_ s: String) -> String {
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if u.value < 0x20 || u.value == 0x7F { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
                }
            }
            return out + "\""
        }
        let objects = rows.map { row -> String in
            let fields = machineColumns.map { c -> String in
                let cell = c.index < row.count ? row[c.index] : Cell("")
                let number = c.spread ? cell.spread : cell.value
                let value = number.map { $0.isFinite ? Table.exact($0) : "null" } ?? (c.spread ? "null" : string(cell.text))
                return string(c.name) + ": " + value
            }
            return "  {" + fields.joined(separator: ", ") + "}"
        }
        return "[\n" + objects.joined(separator: ",\n") + "\n]\n"
    }

    /// Columns whose every non-empty cell is a number (right-aligned).
    func numericColumns() -> [Bool] {
        (0 ..< columns.count).map { i in
            !rows.isEmpty && rows.allSatisfy { i >= $0.count || $0[i].value != nil || $0[i].text.isEmpty || Double($0[i].text) != nil }
        }
    }

    /// The shortest decimal that reads back as exactly `x` (Swift's description does this).
    static func exact(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }

    static func latexEscape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "\\": out += "\\textbackslash{}"
            case "&", "%", "$", "#", "_", "{", "}": out += "\\" + String(ch)
            case "~": out += "\\textasciitilde{}"
            case "^": out += "\\textasciicircum{}"
            case "\n", "\r", "\r\n", "\t": out += " "
            default:
                if ch.unicodeScalars.allSatisfy({ $0.value < 0x20 || $0.value == 0x7F }) { continue }
                if let math = mathSymbols[ch] { out += "\\ensuremath{\(math)}"; continue }
                out.append(ch)
            }
        }
        return out
    }

    /// Characters the tables use (λ, β, θ, ±, −, …) that pdflatex's UTF-8 input does not know
    /// outside math, as math commands, so the file compiles with pdflatex as well as with
    /// XeLaTeX and LuaLaTeX.
    static let mathSymbols: [Character: String] = {
        let greek = ["α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta", "θ": "theta", "ι": "iota",
                     "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi", "ρ": "rho", "σ": "sigma", "τ": "tau", "υ": "upsilon",
                     "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega", "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi",
                     "Π": "Pi", "Σ": "Sigma", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega"]
        let symbols = ["±": "\\pm", "−": "-", "≤": "\\leq", "≥": "\\geq", "≈": "\\approx", "→": "\\to", "∞": "\\infty", "·": "\\cdot"]
        var map: [Character: String] = [:]
        for (k, v) in greek { map[Character(k)] = "\\" + v }
        for (k, v) in symbols { map[Character(k)] = v }
        return map
    }()
}
