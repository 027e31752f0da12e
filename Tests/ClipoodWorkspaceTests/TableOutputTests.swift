import ClipoodExperiment
import ClipoodWorkspace
import Foundation
import Testing

/// Commands' tables written with `to FILE` and printed with `format=`: each file holds the
/// table the terminal shows, with the shown numbers in Markdown and LaTeX and the exact ones in
/// CSV and JSON.
@Suite("table output of commands")
struct TableOutputTests {
    /// A TinyWorld session with a short run named with an underscore (LaTeX must escape it).
    func session(_ world: TinyWorld, _ lines: [String] = []) throws -> Captured {
        let c = Captured()
        for l in ["load model \(world.model) as tiny", "load data \(world.data) as toy", "split target=sketch",
                  "train steps=2 batch=2 lr=1e-3 beta=0.5 as mms_a"] + lines {
            #expect(try c.workspace.executeInteractive(l), "'\(l)' failed: \(c.stderr)")
        }
        return c
    }

    /// What one line prints, without progress lines (a slow machine prints some).
    func printed(_ c: Captured, _ line: String) throws -> [String] {
        let before = c.out.count
        #expect(try c.workspace.executeInteractive(line), "'\(line)' failed: \(c.stderr)")
        return Array(c.out[before...]).filter { !$0.contains(" elapsed") }.joined(separator: "\n").components(separatedBy: "\n")
    }

    /// The cells of an aligned terminal table (`TextTable`) that starts at `lines[start]` (its
    /// header): the dashed rule gives the column spans; the table ends at the first line that is
    /// not a row.
    func terminalTable(_ lines: [String], header start: Int) -> [[String]] {
        let rule = Array(lines[start + 1])
        var spans: [Range<Int>] = []
        var i = 0
        while i < rule.count {
            guard rule[i] == "-" else { i += 1; continue }
            let a = i
            while i < rule.count && rule[i] == "-" { i += 1 }
            spans.append(a ..< i)
        }
        func cells(_ line: String) -> [String] {
            let chars = Array(line)
            return spans.map { s in
                let lo = min(s.lowerBound, chars.count), hi = min(s.upperBound, chars.count)
                return String(chars[lo ..< hi]).trimmingCharacters(in: .whitespaces)
            }
        }
        var rows = [cells(lines[start])]
        var n = start + 2
        while n < lines.count {
            let line = lines[n]
            if line.isEmpty || line.hasPrefix("wrote ") || line.hasSuffix(":") || line.contains(" per step on average") { break }
            // The header of the next table (its rule follows).
            if n + 1 < lines.count, !lines[n + 1].isEmpty, lines[n + 1].allSatisfy({ $0 == "-" || $0 == " " }) { break }
            rows.append(cells(line))
            n += 1
        }
        return rows
    }

    func parseCSV(_ path: String) throws -> [[String]] { TableTests().parseCSV(try String(contentsOfFile: path, encoding: .utf8)) }

    func shown(_ x: Double, _ format: String) -> String { x.isFinite ? String(format: format, x) : "–" }

    @Test func compareWritesCSVMarkdownLaTeXAndJSONAsPrinted() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try session(world)
        let dir = world.root.appendingPathComponent("tables").path
        let plain = try printed(c, "compare")
        let table = terminalTable(plain, header: 1)
        let run = try #require(c.workspace.runs["mms_a"])
        #expect(table[0] == ["weights", "test acc %", "test ECE"])
        #expect(table.map(\.first!) == ["weights", "zero-shot"] + run.comparedStates.map { "mms_a " + $0.label })
        #expect(table[2][0] == "mms_a final (MMS λ=0.3)")

        // The terminal shows the same with `to`, then says where the table went.
        for ext in ["csv", "md", "tex", "json"] {
            let out = try printed(c, "compare to \(dir)/t.\(ext)")
            #expect(Array(out.dropLast()) == plain)
            #expect(out.last == "wrote the table (\(table.count - 1) rows, \(ext)) to \(dir)/t.\(ext)")
        }

        // CSV: the printed table, numbers exact (the run's recorded results) and equal to the
        // printed ones at the printed precision.
        let csv = try parseCSV(dir + "/t.csv")
        #expect(csv.count == table.count && csv[0] == table[0])
        for (shownRow, row) in zip(table.dropFirst(), csv.dropFirst()) {
            #expect(row[0] == shownRow[0])
            let acc = try #require(Double(row[1])), ece = try #require(Double(row[2]))
            #expect(shown(acc, "%.1f") == shownRow[1] && shown(ece, "%.3f") == shownRow[2], "\(row) vs \(shownRow)")
        }
        let final = try #require(run.results.first { $0.weights == "final" && $0.part == "test" })
        #expect(Double(csv[2][1]) == 100 * final.accuracy && Double(csv[2][2]) == final.ece)
        #expect(csv[2][2] != table[2][2], "ECE at full precision, not the printed \(table[2][2])")

        // JSON: the same rows and numbers. Exactness is checked in the text: Foundation's
        // JSONSerialization on Linux reads a 17-digit decimal a few units in the last place off.
        let jsonText = try String(contentsOfFile: dir + "/t.json", encoding: .utf8)
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(jsonText.utf8)) as? [[String: Any]])
        #expect(objects.count == csv.count - 1)
        for (object, row) in zip(objects, csv.dropFirst()) {
            #expect(Set(object.keys) == Set(csv[0]))
            #expect(object["weights"] as? String == row[0])
            let acc = try #require((object["test acc %"] as? NSNumber)?.doubleValue), ece = try #require((object["test ECE"] as? NSNumber)?.doubleValue)
            #expect(abs(acc - Double(row[1])!) <= 1e-12 * abs(acc) && abs(ece - Double(row[2])!) <= 1e-12 * abs(ece))
            #expect(jsonText.contains("\"test acc %\": \(row[1]), \"test ECE\": \(row[2])}"))
        }

        // Markdown: a caption, the header, its separator, the printed cells.
        let md = try String(contentsOfFile: dir + "/t.md", encoding: .utf8).components(separatedBy: "\n")
        #expect(md[0] == plain[0] && md[1] == "")
        #expect(md[2] == "| weights | test acc % | test ECE |")
        #expect(md[3] == "|:---|---:|---:|")
        for (i, row) in table.dropFirst().enumerated() { #expect(md[4 + i] == "| " + row.joined(separator: " | ") + " |") }

        // LaTeX: booktabs, the names escaped, the printed numbers.
        let tex = try String(contentsOfFile: dir + "/t.tex", encoding: .utf8)
        for piece in ["\\begin{tabular}{lrr}", "\\toprule", "weights & test acc \\% & test ECE \\\\", "\\midrule", "\\bottomrule", "\\end{tabular}"] {
            #expect(tex.contains(piece), "\(piece) missing from\n\(tex)")
        }
        #expect(tex.contains("mms\\_a final (MMS \\ensuremath{\\lambda}=0.3) & \(table[2][1]) & \(table[2][2]) \\\\"), "\(tex)")
        #expect(!tex.contains("mms_a"))
    }

    @Test func formatPrintsTheTableInsteadOfColumns() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try session(world)
        let csvFile = world.root.appendingPathComponent("c.csv").path
        _ = try printed(c, "compare to \(csvFile)")
        #expect(try printed(c, "compare format=csv").joined(separator: "\n") + "\n" == String(contentsOfFile: csvFile, encoding: .utf8))
        let md = try printed(c, "compare mms_a format=md")
        #expect(md[2] == "| weights | test acc % | test ECE |" && md[3] == "|:---|---:|---:|")
        #expect(try printed(c, "compare format=text") == printed(c, "compare"))
        // Runs, to and format= in any order: `to` and `format=` are not run names.
        let rows = 1 + (c.workspace.runs["mms_a"]?.comparedStates.count ?? 0)
        let both = try printed(c, "compare format=json mms_a to \(csvFile)")
        #expect(both.first == "[" && both.last == "wrote the table (\(rows) rows, csv) to \(csvFile)")
    }

    @Test func badDestinationsAreErrorsAtTheArgument() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try session(world)
        #expect(try !c.workspace.executeInteractive("compare to t.png"))
        #expect(c.stderr.contains("'t.png': unknown extension; a table is written as .csv, .md, .tex, .json or .txt"), "\(c.stderr)")
        #expect(c.stderr.contains("    compare to t.png\n" + String(repeating: " ", count: 15) + "^~~~~"), "\(c.stderr)")
        #expect(try !c.workspace.executeInteractive("compare to \(world.root.path)"))   // a folder
        #expect(try !c.workspace.executeInteractive("compare format=xlsx"))
        #expect(c.stderr.contains("format= expects one of text, csv, md, tex, json"))
        #expect(try !c.workspace.executeInteractive("margins to m.png"))
        #expect(c.stderr.contains("margins writes the K×K matrix as .csv or .npy, its table as .md, .tex, .json or .txt"))
    }

    @Test func zeroshotAndEvalPerClassWriteOneTable() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try session(world)
        let dir = world.root.appendingPathComponent("tables").path

        let zs = try printed(c, "zeroshot to \(dir)/zs.csv")
        let domains = terminalTable(zs, header: 1)
        let zcsv = try parseCSV(dir + "/zs.csv")
        #expect(zcsv[0] == ["kind", "name", "images", "acc %", "ECE"])
        #expect(zcsv.dropFirst().map { [$0[1], $0[2], shown(Double($0[3])!, "%.1f")] } == Array(domains.dropFirst()))
        #expect(zcsv.dropFirst().map(\.[0]) == ["domain", "all"])
        #expect(zs[0].hasSuffix("ECE " + String(format: "%.3f", Double(zcsv[2][4])!)))

        let ev = try printed(c, "eval mms_a model=bma:0.5 on val per_class to \(dir)/ev.csv")
        let byDomain = terminalTable(ev, header: 1)
        let classStart = try #require(ev.firstIndex { $0.hasPrefix("class ") })
        let byClass = terminalTable(ev, header: classStart)
        #expect(byClass[0] == ["class", "images", "acc %"] && byClass.count == 5)
        let ecsv = try parseCSV(dir + "/ev.csv")
        let expected = byDomain.dropFirst().enumerated().map { i, r in [i == byDomain.count - 2 ? "all" : "domain"] + r }
            + byClass.dropFirst().map { ["class"] + $0 }
        #expect(ecsv.dropFirst().map { [$0[0], $0[1], $0[2], shown(Double($0[3])!, "%.1f")] } == expected)
        #expect(ecsv.dropFirst().filter { !$0[4].isEmpty }.map(\.[0]) == ["all"])
    }

    @Test func showRunsSplitAndAblateWriteWhatTheyPrint() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try session(world)
        let dir = world.root.appendingPathComponent("tables").path

        let runs = try printed(c, "show runs to \(dir)/runs.csv")
        #expect(try parseCSV(dir + "/runs.csv") == terminalTable(runs, header: 0))

        // split: its own layout on the terminal (Split.description), the counts in the file.
        let split = try printed(c, "split to \(dir)/split.csv")
        #expect(split[0] == "split target=sketch holdout=0.2 seed=0")
        let scsv = try parseCSV(dir + "/split.csv")
        #expect(scsv[0] == ["domain", "train", "val", "test", "open", "role"])
        let start = try #require(split.firstIndex { $0.hasPrefix("domain ") })
        for (line, row) in zip(split[(start + 1)...], scsv.dropFirst()) {
            let words = line.split(separator: " ").map(String.init)
            #expect(words == row.filter { !$0.isEmpty }.map { $0 == "target" ? "(target)" : $0 }, "\(line) vs \(row)")
        }
        #expect(scsv.count == 5 && scsv[3][5] == "target" && scsv[4][0] == "total")
        // Making a split writes it too.
        #expect(try printed(c, "split target=photo seed=1 to \(dir)/photo.md").last == "wrote the table (4 rows, md) to \(dir)/photo.md")

        let ablate = try printed(c, "ablate steps=2 seeds=0 lambda=0,0.3 batch=2 to \(dir)/ablate.csv")
        let header = try #require(ablate.firstIndex { $0.hasPrefix("weights ") })
        let grid = terminalTable(ablate, header: header)
        #expect(grid[0] == ["weights", "λ=0", "λ=0.3"])
        let acsv = try parseCSV(dir + "/ablate.csv")
        #expect(acsv[0] == ["part", "weights", "λ=0", "λ=0 std", "λ=0.3", "λ=0.3 std"])
        #expect(acsv.count == grid.count)
        for (shownRow, row) in zip(grid.dropFirst(), acsv.dropFirst()) {
            #expect(row[0] == "test" && row[1] == shownRow[0])
            #expect(String(format: "%.1f ± %.1f", Double(row[2])!, Double(row[3])!) == shownRow[1])
            #expect(String(format: "%.1f ± %.1f", Double(row[4])!, Double(row[5])!) == shownRow[2])
        }
    }

    @Test func marginsKeepTheMatrixAndWriteTheirTable() throws {
        let world = try TinyWorld()
        defer { world.remove() }
        let c = try session(world)
        let dir = world.root.appendingPathComponent("tables").path
        // .csv: the K×K matrix, as before.
        #expect(try printed(c, "margins to \(dir)/m.csv") == ["wrote the 4×4 margin matrix (λ=0.3) to \(dir)/m.csv"])
        #expect(try parseCSV(dir + "/m.csv").map(\.count) == [5, 5, 5, 5, 5])
        // .json: the pairs and the means in one table.
        let out = try printed(c, "margins top=2 to \(dir)/m.json")
        let closest = terminalTable(out, header: 2)
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/m.json"))) as? [[String: Any]])
        #expect(objects.map { $0["section"] as? String } == ["closest", "closest", "farthest", "farthest", "mean", "mean", "mean", "mean"])
        for (object, row) in zip(objects, closest.dropFirst()) {
            #expect([object["class"] as? String, object["other class"] as? String] == [row[0], row[1]])
            #expect(String(format: "%.4f", (object["margin"] as? NSNumber)!.doubleValue) == row[2])
        }
        // bma and curves leave the sparkline out of files.
        _ = try printed(c, "bma to \(dir)/bma.tex")
        let tex = try String(contentsOfFile: dir + "/bma.tex", encoding: .utf8)
        #expect(tex.contains("\\begin{tabular}{rrrrrr}") && !tex.contains("▁") && !tex.contains("weights over steps"))
        let curves = try printed(c, "curves format=csv")
        #expect(curves[0] == ",first,last 10% mean,min,max" && curves.count == 4)
    }
}
