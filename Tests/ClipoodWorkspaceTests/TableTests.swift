import ClipoodWorkspace
import Foundation
import Testing

@Suite("tables out")
struct TableTests {
    /// A table with the awkward cases: a class name with a comma, a quote, a newline, LaTeX's
    /// specials and a pipe; numbers whose shown text rounds them.
    var table: Table {
        Table(columns: ["weights", "class", "acc %"], rows: [
            ["zero-shot", "apple, red", Table.Cell(57.8125, shown: "57.8")],
            ["BMA β=0.5", "say \"hi\"\nnow", Table.Cell(1.0 / 3.0 * 100, shown: "33.3")],
            ["final", "50% & $x_1$ #{a}~^\\|", Table.Cell(100, shown: "100.0")],
        ], caption: "Accuracy on sketch (λ=0.3)")
    }

    /// A minimal RFC 4180 reader, so the test checks the file, not the writer's own idea of it.
    func parseCSV(_ s: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
        var chars = Array(s.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" { if chars.first == "\"" { field.unicodeScalars.append("\""); chars.removeFirst() } else { quoted = false } } else { field.unicodeScalars.append(c) }
            } else if c == "\"" { quoted = true } else if c == "," { row.append(field); field = "" } else if c == "\n" {
                row.append(field); rows.append(row); row = []; field = ""
            } else { field.unicodeScalars.append(c) }
        }
        return rows
    }

    @Test func csvReadsBackWithFullPrecision() {
        let rows = parseCSV(table.render(.csv))
        #expect(rows.count == 4)
        #expect(rows[0] == ["weights", "class", "acc %"])
        #expect(rows[1][1] == "apple, red")
        #expect(rows[2][1] == "say \"hi\"\nnow")
        #expect(Double(rows[2][2]) == 1.0 / 3.0 * 100)   // full precision, not the shown 33.3
        #expect(Double(rows[1][2]) == 57.8125)
        #expect(rows[3][2] == "100")
    }

    @Test func jsonParsesWithExactNumbers() throws {
        let data = Data(table.render(.json).utf8)
        let objects = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(objects.count == 3)
        #expect(objects[1]["class"] as? String == "say \"hi\"\nnow")
        #expect((objects[1]["acc %"] as? NSNumber)?.doubleValue == 1.0 / 3.0 * 100)
        #expect(objects[2]["class"] as? String == "50% & $x_1$ #{a}~^\\|")
    }

    @Test func latexIsBooktabsWithEscapedCells() {
        let tex = table.render(.tex)
        #expect(tex.contains("\\begin{tabular}{llr}"))
        for rule in ["\\toprule", "\\midrule", "\\bottomrule", "\\caption{Accuracy on sketch (\\ensuremath{\\lambda}=0.3)}"] { #expect(tex.contains(rule)) }
        // Greek letters as math, for pdflatex.
        #expect(tex.contains("BMA \\ensuremath{\\beta}=0.5 & ") && !tex.contains("β"))
        #expect(tex.contains("50\\% \\& \\$x\\_1\\$ \\#\\{a\\}\\textasciitilde{}\\textasciicircum{}\\textbackslash{}| & 100.0 \\\\"), "\(tex)")
        #expect(tex.contains("say \"hi\" now"))   // no raw newline inside a row
        // Every body line has as many cells as there are columns.
        let body = tex.split(separator: "\n").filter { $0.hasSuffix("\\\\") }
        #expect(body.count == 4)
        for line in body { #expect(line.components(separatedBy: " & ").count == 3, "\(line)") }
    }

    @Test func markdownIsAPipeTableWithTheShownNumbers() {
        let md = table.render(.md)
        let lines = md.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "Accuracy on sketch (λ=0.3)")
        #expect(lines[2] == "| weights | class | acc % |")
        #expect(lines[3] == "|:---|:---|---:|")
        #expect(lines[5] == "| BMA β=0.5 | say \"hi\" now | 33.3 |")
        #expect(lines[6].contains("\\\\\\|"))   // backslash and pipe escaped
    }

    @Test func textIsWhatTheTerminalShows() {
        let text = table.render(.text)
        #expect(text.contains("57.8") && !text.contains("57.8125"))
        #expect(Table.Format(path: "out/t.TEX") == .tex && Table.Format(path: "t.csv") == .csv && Table.Format(path: "t.png") == nil)
    }
}
