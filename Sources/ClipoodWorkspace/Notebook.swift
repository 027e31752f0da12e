import ClipoodCommands
import ClipoodIO
import ClipoodDistributed
import Foundation

// Notebooks: Markdown files whose ```clipood cells run in order in one workspace.
//
// `clipood notebook FILE.md` runs every cell and writes what it printed right after it;
// `clipood notebook --check FILE.md` runs them too but only reports (exit 1) when the file would
// change. The format, exactly:
//
// * A cell is a fenced code block (``` or ~~~, three or more, indented at most three spaces)
//   whose info string starts with the word `clipood`. Further words are options; the one known
//   option is `volatile` (see below). Every other fenced block (```python, ```text, ````markdown
//   that quotes a cell …) and all prose are copied byte for byte and never run.
// * A cell's output block is written by this tool only, between two marker lines:
//
//       ```clipood
//       show settings
//       ```
//
//       <!-- clipood output -->
//       ```text
//       …what the cell printed, errors included…
//       ```
//       ![loss.png](../plots/loss.png)
//       <!-- /clipood output -->
//
//   It is recognised only when the start marker follows the cell's closing fence, with nothing
//   but blank lines between; it ends at the first end-marker line outside a fenced block. A run
//   replaces that block (and the blank lines before it) with a fresh one: one blank line, the
//   start marker, a ```text block when the cell printed anything (the fence is made longer than
//   any backtick run in the output), one image link per figure, the end marker. A cell that
//   prints nothing and draws nothing gets no block. Markdown viewers hide the HTML comments.
//   A ```text block written by hand after a cell (no markers) is prose and stays.
// * Figures are image files (png, svg, jpg, jpeg, gif, webp) that appear or change under the
//   plots directory (`set plots=DIR`) while the cell runs, linked relative to the notebook.
// * Outputs are normalised so that re-runs are byte-identical (see `NotebookOutput.normalise`):
//   durations and rates are masked as `…`, progress lines dropped, colour codes removed,
//   trailing spaces trimmed. The runner also tells commands that output is not a terminal, so
//   progress bars and colours stay off unless a cell turns them on explicitly.
// * A `volatile` cell (```` ```clipood volatile ````) prints things that differ between runs or
//   machines (benchmarks, the thread count): it runs and is rewritten like any cell, but
//   `--check` does not compare its recorded output.
// * Cells run in order in one workspace. The first failing line stops the run: its error
//   (`FILE.md:LINE:COL: message`, LINE counted in the .md file) goes into that cell's block,
//   later cells are not run and keep their old outputs, and the exit status is 1. `quit` ends
//   the run early without error. Ctrl-C stops at the next line (training: its next step).
// * The file is rewritten atomically (a temporary file renamed over it) after each cell whose
//   output changed, so an interrupted run leaves a whole notebook with the cells done so far.
//   It is not rewritten when nothing changed, nor when someone edited it during the run.
// * Line endings (LF, CRLF or CR alone) and a UTF-8 byte order mark are kept as found
//   (`NotebookText`); a `record` in a cell cannot write into the notebook itself.

/// A notebook's text as read and as written back: a UTF-8 byte order mark at the start is set
/// aside (and put back), and a file whose lines end in CR alone (old Mac style) is read as
/// LF lines and written back with CRs, so prose is copied byte for byte either way.
struct NotebookText {
    /// The largest notebook read (Markdown with text outputs; figures are separate files).
    static let sizeLimit = 64 << 20

    /// The notebook's text exactly as stored (a byte order mark included: Foundation's UTF-8
    /// decoding would drop it, and the file would change on rewrite).
    static func read(_ path: String) throws -> String {
        let data = try FileReading.read(path, limit: sizeLimit)
        guard let text = String(validating: data, as: UTF8.self) else { throw IOFailure("read", path, "it is not UTF-8 text") }
        return text
    }

    let body: String
    let byteOrderMark: Bool
    let crOnly: Bool

    init(_ text: String) {
        var t = Substring(text)
        byteOrderMark = t.unicodeScalars.first == "\u{FEFF}"
        if byteOrderMark { t = Substring(t.unicodeScalars.dropFirst()) }
        crOnly = t.utf8.contains(UInt8(ascii: "\r")) && !t.utf8.contains(UInt8(ascii: "\n"))
        body = crOnly ? String(t).replacingOccurrences(of: "\r", with: "\n") : String(t)
    }

    /// `rendered` (a document made from `body`) in the file's own form.
    func restored(_ rendered: String) -> String {
        (byteOrderMark ? "\u{FEFF}" : "") + (crOnly ? rendered.replacingOccurrences(of: "\n", with: "\r") : rendered)
    }
}

/// A problem with a notebook's structure, at a 1-based line.
public struct NotebookError: Error, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

/// A Markdown notebook split into what clipood runs and rewrites, and what it copies.
public struct NotebookDocument {
    public struct Cell {
        /// 1-based among the notebook's cells.
        public let number: Int
        /// 1-based line of the opening fence; the cell's first command is on `line + 1`.
        public let line: Int
        /// The lines between the fences.
        public let source: [String]
        /// Words after `clipood` in the info string.
        public let options: [String]
        /// 0-based line indices that the output block replaces: the recorded block with the blank
        /// lines before it, or an empty range just after the closing fence.
        public let outputRange: Range<Int>

        public var isVolatile: Bool { options.contains("volatile") }
        public var hasRecordedOutput: Bool { !outputRange.isEmpty }
    }

    public static let startMarker = "<!-- clipood output -->"
    public static let endMarker = "<!-- /clipood output -->"
    public static let figureExtensions: Set<String> = ["png", "svg", "jpg", "jpeg", "gif", "webp"]

    /// The file's lines without their terminators (a final newline gives a last empty line).
    public let lines: [String]
    /// Whether lines end in CRLF (kept for the lines this tool writes).
    public let crlf: Bool
    /// A lone \r at the very end of a file without CRLF.
    let trailingCR: Bool
    public let cells: [Cell]

    public init(text: String) throws {
        let raw = splitLines(text)
        crlf = text.contains("\r\n")
        // Compare without the \r, but copy prose with it: keep the raw lines and a stripped view.
        let plain = raw.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
        // Without CRLF only the last line can end in \r: it is kept as the text's last character
        // (after any output written below that line), so rendering gives the text back.
        trailingCR = !crlf && (raw.last?.hasSuffix("\r") ?? false)
        lines = crlf ? raw : plain
        var cells: [Cell] = []
        var i = 0
        while i < plain.count {
            guard let fence = Fence(opening: plain[i]) else { i += 1; continue }
            let close = (i + 1 ..< plain.count).first { fence.isClosed(by: plain[$0]) }
            let words = fence.info.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard words.first == "clipood" else {
                guard let close else { break }   // an unclosed block runs to the end: nothing after it is a cell
                i = close + 1
                continue
            }
            guard let close else { throw NotebookError(line: i + 1, message: "the clipood cell opened here is never closed (no closing \(String(repeating: fence.char, count: fence.count)))") }
            var k = close + 1
            while k < plain.count, plain[k].trimmingCharacters(in: .whitespaces).isEmpty { k += 1 }
            var range = close + 1 ..< close + 1
            if k < plain.count, plain[k].trimmingCharacters(in: .whitespaces) == Self.startMarker {
                guard let end = Self.endOfOutput(plain, from: k + 1) else {
                    throw NotebookError(line: k + 1, message: "the output block opened here has no '\(Self.endMarker)' line")
                }
                range = close + 1 ..< end + 1
            }
            cells.append(Cell(number: cells.count + 1, line: i + 1, source: Array(plain[i + 1 ..< close]),
                              options: Array(words.dropFirst()), outputRange: range))
            i = range.upperBound
        }
        self.cells = cells
    }

    /// The index of the end-marker line of an output block whose body starts at `from`.
    static func endOfOutput(_ lines: [String], from: Int) -> Int? {
        var j = from
        while j < lines.count {
            if lines[j].trimmingCharacters(in: .whitespaces) == endMarker { return j }
            if let fence = Fence(opening: lines[j]) {
                guard let close = (j + 1 ..< lines.count).first(where: { fence.isClosed(by: lines[$0]) }) else { return nil }
                j = close + 1
            } else {
                j += 1
            }
        }
        return nil
    }

    /// The lines a cell's output currently occupies (without \r).
    public func recordedOutput(of cell: Cell) -> [String] {
        lines[cell.outputRange].map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
    }

    /// The notebook with the given cells' output lines (by cell number) in place of their
    /// recorded ones; cells not in `outputs` keep theirs.
    public func rendered(outputs: [Int: [String]]) -> String {
        var result: [String] = []
        result.reserveCapacity(lines.count)
        var cursor = 0
        for cell in cells {
            guard let new = outputs[cell.number] else { continue }
            result += lines[cursor ..< cell.outputRange.lowerBound]
            result += crlf ? new.map { $0 + "\r" } : new
            cursor = cell.outputRange.upperBound
        }
        result += lines[cursor...]
        return result.joined(separator: "\n") + (trailingCR ? "\r" : "")
    }

    /// The lines of an output block for already-normalised text and figure links (Markdown
    /// lines); nothing at all when both are empty.
    public static func outputBlock(text: String, figureLinks: [String]) -> [String] {
        guard !text.isEmpty || !figureLinks.isEmpty else { return [] }
        var block = ["", startMarker]
        if !text.isEmpty {
            var longest = 0, run = 0
            for ch in text { if ch == "`" { run += 1; longest = max(longest, run) } else { run = 0 } }
            let fence = String(repeating: "`", count: max(3, longest + 1))
            block.append(fence + "text")
            block += splitLines(text)
            block.append(fence)
        }
        block += figureLinks
        block.append(endMarker)
        return block
    }
}

/// Lines split at every "\n" byte (a "\r\n" is one Character in Swift, so splitting Characters
/// would not split CRLF text); a "\r" before the "\n" stays on the line.
func splitLines(_ text: String) -> [String] {
    text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
}

/// A code fence: its character, length and info string.
struct Fence {
    let char: Character
    let count: Int
    let info: String

    /// A line that opens a fenced block: at most three spaces, then three or more ` or ~.
    init?(opening line: String) {
        let indent = line.prefix { $0 == " " }.count
        guard indent <= 3 else { return nil }
        let rest = line.dropFirst(indent)
        guard let c = rest.first, c == "`" || c == "~" else { return nil }
        let n = rest.prefix { $0 == c }.count
        guard n >= 3 else { return nil }
        let info = rest.dropFirst(n).trimmingCharacters(in: .whitespaces)
        if c == "`" && info.contains("`") { return nil }   // CommonMark: that is inline code, not a fence
        char = c
        count = n
        self.info = info
    }

    /// Whether `line` closes this fence: the same character, at least as many, nothing after.
    func isClosed(by line: String) -> Bool {
        let indent = line.prefix { $0 == " " }.count
        guard indent <= 3 else { return false }
        let rest = line.dropFirst(indent)
        let n = rest.prefix { $0 == char }.count
        return n >= count && rest.dropFirst(n).allSatisfy { $0 == " " || $0 == "\t" }
    }
}

/// Makes captured output the same from run to run.
public enum NotebookOutput {
    /// Applied to everything a cell prints, before it is written and before it is compared:
    ///
    /// 1. ANSI escape sequences (colours) are removed; of a line redrawn with `\r`, only the text
    ///    after the last `\r` is kept.
    /// 2. Progress lines — `LABEL DONE/TOTAL [RATE], TIME elapsed …`, printed only when work takes
    ///    over two seconds — are dropped.
    /// 3. Durations and rates become `…`: `1.5 s each`, `12.3/s`, `2h05m`, `1m05s`, `5s`, `0.8s`,
    ///    `250ms`, `40µs`, `9ns` (digits must start a word and the unit must end it, so `ViT-B/16`,
    ///    `seed=16` or `16 steps` are left alone).
    /// 4. Trailing spaces and leading/trailing blank lines are removed.
    public static func normalise(_ text: String) -> String {
        var out: [String] = []
        for raw in splitLines(text) {
            var line = raw
            if line.hasSuffix("\r") { line.removeLast() }
            if line.contains("\u{1B}") {
                line = line.replacingOccurrences(of: "\u{1B}\\[[0-9;?]*[A-Za-z]", with: "", options: .regularExpression)
            }
            if let r = line.lastIndex(of: "\r") { line = String(line[line.index(after: r)...]) }
            if line.range(of: progressPattern, options: .regularExpression) != nil { continue }
            for (pattern, replacement) in timingPatterns where line.contains(where: \.isNumber) {
                line = line.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
            }
            while let last = line.last, last == " " || last == "\t" { line.removeLast() }
            out.append(line)
        }
        while out.last?.isEmpty == true { out.removeLast() }
        while out.first?.isEmpty == true { out.removeFirst() }
        return out.joined(separator: "\n")
    }

    /// `ProgressLine`'s plain form (see Progress.swift).
    static let progressPattern = #"^\S.* \d+/\d+ [^,]*, (\d+h\d{2}m|\d+m\d{2}s|\d+s|\?) elapsed( |$)"#
    static let timingPatterns: [(String, String)] = [
        (#"\b\d+(\.\d+)? s each\b"#, "…"),
        (#"\b\d+(\.\d+)?/s\b"#, "…"),
        (#"\b\d+h\d{2}m\b"#, "…"),
        (#"\b\d+m\d{2}s\b"#, "…"),
        (#"\b\d+(\.\d+)?(ns|µs|ms|s)\b"#, "…"),
    ]
}

/// Finding the figures a cell made: snapshots of the plots directory before and after.
public enum NotebookFigures {
    /// What identifies a version of a file.
    public struct Stamp: Equatable {
        public let modified: Date
        public let size: Int
    }

    /// Every image file under `directory` (recursively), by absolute standardised path.
    /// A directory that does not exist has none.
    public static func snapshot(directory: String) -> [String: Stamp] {
        let root = absoluteURL(directory)
        var result: [String: Stamp] = [:]
        let keys: [URLResourceKey] = [.contentModificationDateKey, .fileSizeKey, .isRegularFileKey]
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: keys) else { return [:] }
        for case let url as URL in walker {
            guard NotebookDocument.figureExtensions.contains(url.pathExtension.lowercased()),
                  let v = try? url.resourceValues(forKeys: Set(keys)), v.isRegularFile == true else { continue }
            result[url.standardizedFileURL.path] = Stamp(modified: v.contentModificationDate ?? .distantPast, size: v.fileSize ?? 0)
        }
        return result
    }

    /// Files that are new in `after` or changed since `before`, sorted by path.
    public static func added(before: [String: Stamp], after: [String: Stamp]) -> [String] {
        after.filter { before[$0.key] != $0.value }.keys.sorted()
    }

    /// A Markdown image link to `figure`, relative to `notebookDirectory`.
    public static func link(figure: String, notebookDirectory: String) -> String {
        let path = relativePath(from: notebookDirectory, to: figure)
        let name = (figure as NSString).lastPathComponent
        let target = path.contains(where: { " ()<>".contains($0) }) ? "<\(path)>" : path
        return "![\(name)](\(target))"
    }

    /// `to` as seen from the directory `from` (both made absolute against the current directory).
    public static func relativePath(from: String, to: String) -> String {
        let a = absoluteURL(from).pathComponents.filter { $0 != "/" }
        let b = absoluteURL(to).pathComponents.filter { $0 != "/" }
        var common = 0
        while common < a.count, common < b.count, a[common] == b[common] { common += 1 }
        let parts = Array(repeating: "..", count: a.count - common) + b[common...]
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    static func absoluteURL(_ path: String) -> URL {
        URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
            .absoluteURL.standardizedFileURL
    }
}

// MARK: - Running a notebook

extension Workspace {
    /// `clipood notebook [--check] FILE.md`: the executable passes the words after `notebook`.
    /// Returns the exit status (2 for a usage error).
    public func runNotebook(arguments: [String]) -> Int32 {
        var check = false
        var files: [String] = []
        for a in arguments {
            if a == "--check" { check = true } else if a.hasPrefix("-") { files = []; break } else { files.append(a) }
        }
        guard files.count == 1 else {
            writeError("usage: clipood notebook [--check] FILE.md   (runs the ```clipood cells and writes their outputs into the file;\n"
                       + "       --check only reports, exit 1, when the outputs would change)")
            return 2
        }
        return runNotebook(path: files[0], check: check)
    }

    /// Runs the notebook at `path` (see the top of Notebook.swift for the format) and returns the
    /// exit status: 0 when every cell ran (and, with `check`, no output would change), else 1.
    /// Prints one line per cell to the output, errors and `--check` differences to the error sink.
    public func runNotebook(path: String, check: Bool) -> Int32 {
        let out = write, err = writeError, wasTerminal = outputIsTerminal
        let errorColor = useColor
        outputIsTerminal = false   // progress bars and colours off for cells (setting-independent)
        defer { write = out; writeError = err; outputIsTerminal = wasTerminal }

        let original: String
        do { original = try NotebookText.read(path) } catch let e as IOFailure {
            err("error: cannot read notebook '\(path)': " + (e.reason == "no such file or directory" ? "no such file" : e.reason)); return 1
        } catch { err("error: \(error)"); return 1 }
        let form = NotebookText(original)
        let doc: NotebookDocument
        do { doc = try NotebookDocument(text: form.body) } catch let e as NotebookError {
            err("\(path):\(e.line): \(e.message)"); return 1
        } catch { err("error: \(error)"); return 1 }
        guard !doc.cells.isEmpty else {
            out("\(path): no ```clipood cells"); return 0
        }

        let name = (path as NSString).lastPathComponent
        let notebookDirectory = NotebookFigures.absoluteURL(path).deletingLastPathComponent().path
        var outputs: [Int: [String]] = [:]
        var onDisk = original
        var failed = false, writeFailed = false
        var changed: [NotebookDocument.Cell] = []

        for cell in doc.cells {
            let label = "cell \(cell.number) (line \(cell.line))"
            if Interrupt.isRequested {
                out("\(label): not run (interrupted)"); failed = true; break
            }
            let result = runCell(cell, path: path, name: name, notebookDirectory: notebookDirectory, errorColor: errorColor)
            write = out; writeError = err
            let block = NotebookDocument.outputBlock(text: result.text, figureLinks: result.figures)
            let recorded = doc.recordedOutput(of: cell)
            if check && cell.isVolatile && cell.hasRecordedOutput && result.error == nil {
                out("\(label): ok (volatile: output not compared)")
            } else {
                outputs[cell.number] = block
                if block != recorded { changed.append(cell) }
                let status = result.error != nil ? "failed" : check && block != recorded ? "output would change" : "ok"
                out("\(label): \(status)")
            }
            if !check && !writeFailed {
                let text = form.restored(doc.rendered(outputs: outputs))
                if text != onDisk {
                    do {
                        try Self.replaceNotebook(at: path, expecting: onDisk, with: text)
                        onDisk = text
                    } catch {
                        err("error: \(error)"); writeFailed = true; break
                    }
                }
            }
            if let e = result.error { err(e); failed = true; break }
            if result.quit { break }
        }

        if check {
            if !changed.isEmpty {
                err(Self.checkReport(doc: doc, outputs: outputs, changed: changed, path: path))
                return 1
            }
            return failed ? 1 : 0
        }
        if writeFailed { return 1 }
        out(onDisk == original ? "\(path): unchanged" : "\(path): updated \(changed.count) cell\(changed.count == 1 ? "" : "s")")
        return failed ? 1 : 0
    }

    /// Runs one cell with its output captured. `text` is normalised and includes the error;
    /// `error` is the diagnostic for the error sink (the notebook's path as given).
    private func runCell(_ cell: NotebookDocument.Cell, path: String, name: String, notebookDirectory: String,
                         errorColor: Bool) -> (text: String, figures: [String], error: String?, quit: Bool) {
        var captured: [String] = []
        write = { captured.append($0) }
        writeError = { captured.append($0) }
        let plotsAtStart = settings.plots
        let before = NotebookFigures.snapshot(directory: plotsAtStart)
        let started = Date()
        var error: String?, quit = false
        do {
            try interpreter.runScript(text: cell.source.joined(separator: "\n"), file: path)
        } catch is QuitRequest {
            quit = true
        } catch let e as ScriptError {
            // Lines of this cell count from the .md file's first line; a nested `run` keeps its own.
            let inCell = e.file == path
            let line = inCell ? cell.line + e.line : e.line
            captured.append(Diagnostic.render(ScriptError(file: inCell ? name : e.file, line: line, sourceLine: e.sourceLine, error: e.error), color: false))
            error = Diagnostic.render(ScriptError(file: e.file, line: line, sourceLine: e.sourceLine, error: e.error), color: errorColor)
        } catch let e as CommandError {
            captured.append("error: " + e.description)
            error = "\(path):\(cell.line): error: " + e.description
        } catch let other {
            captured.append("error: \(other)")
            error = "\(path):\(cell.line): error: \(other)"
        }
        var figures = NotebookFigures.added(before: before, after: NotebookFigures.snapshot(directory: plotsAtStart))
        if NotebookFigures.absoluteURL(settings.plots) != NotebookFigures.absoluteURL(plotsAtStart) {
            // The cell moved the plots directory: what was written there since the cell started
            // (less a second, since file times come from a coarser clock than Date()).
            let since = started.addingTimeInterval(-1)
            figures += NotebookFigures.snapshot(directory: settings.plots).filter { $0.value.modified >= since }.keys
        }
        let links = Array(Set(figures)).sorted().map { NotebookFigures.link(figure: $0, notebookDirectory: notebookDirectory) }
        return (NotebookOutput.normalise(captured.joined(separator: "\n")), links, error, quit)
    }

    /// Writes `text` over the notebook atomically (`AtomicWrite`: a temporary file beside it,
    /// renamed over it; its mode kept, a symlink written through); refuses when the file no
    /// longer holds `expecting`.
    static func replaceNotebook(at path: String, expecting: String, with text: String) throws {
        guard Cluster.current.isLeader else { return }   // in an MPI job rank 0 alone writes
        let current = try? NotebookText.read(path)
        guard current == expecting else {
            throw CommandError("'\(path)' changed while the notebook ran; not overwritten (run it again)")
        }
        try AtomicWrite.write(text, to: path)
    }

    /// `--check`'s report: a unified diff of each changed output block, with .md line numbers.
    static func checkReport(doc: NotebookDocument, outputs: [Int: [String]], changed: [NotebookDocument.Cell], path: String) -> String {
        var report: [String] = []
        var delta = 0   // how far the new file's lines have moved against the old one so far
        let changedNumbers = Set(changed.map(\.number))
        for cell in doc.cells {
            guard let new = outputs[cell.number] else { continue }
            let old = doc.recordedOutput(of: cell)
            defer { delta += new.count - old.count }
            guard changedNumbers.contains(cell.number) else { continue }
            let oldStart = cell.outputRange.lowerBound + 1
            let what = old.isEmpty ? "has no recorded output" : new.isEmpty ? "would lose its output" : "output would change"
            report.append("\(path):\(oldStart): cell \(cell.number) (line \(cell.line)): \(what)")
            report += LineDiff.unified(old: old, new: new, oldStart: oldStart, newStart: oldStart + delta)
        }
        report.append("\(path): \(changed.count) cell\(changed.count == 1 ? "" : "s") would change; run `clipood notebook \(path)` to update")
        return report.joined(separator: "\n")
    }
}

/// A small line diff (longest common subsequence) rendered as unified-diff hunks.
enum LineDiff {
    static func unified(old: [String], new: [String], oldStart: Int, newStart: Int, context: Int = 2) -> [String] {
        enum Op { case same(String), del(String), add(String) }
        var ops: [Op] = []
        let n = old.count, m = new.count
        if n * m > 4_000_000 {
            ops = old.map { .del($0) } + new.map { .add($0) }
        } else {
            // lcs[i][j]: length of the LCS of old[i...] and new[j...].
            var lcs = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
            for i in stride(from: n - 1, through: 0, by: -1) {
                for j in stride(from: m - 1, through: 0, by: -1) {
                    lcs[i][j] = old[i] == new[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
                }
            }
            var i = 0, j = 0
            while i < n || j < m {
                if i < n, j < m, old[i] == new[j] { ops.append(.same(old[i])); i += 1; j += 1 }
                else if i < n, j == m || lcs[i + 1][j] >= lcs[i][j + 1] { ops.append(.del(old[i])); i += 1 }   // "-" before "+"
                else { ops.append(.add(new[j])); j += 1 }
            }
        }
        // Group changes with `context` unchanged lines around them into hunks.
        let changedAt = ops.indices.filter { if case .same = ops[$0] { return false } else { return true } }
        guard !changedAt.isEmpty else { return [] }
        var hunks: [ClosedRange<Int>] = []
        for k in changedAt {
            let r = max(0, k - context) ... min(ops.count - 1, k + context)
            if let last = hunks.last, r.lowerBound <= last.upperBound + 1 { hunks[hunks.count - 1] = last.lowerBound ... r.upperBound }
            else { hunks.append(r) }
        }
        var lines: [String] = []
        for h in hunks {
            var oldLine = oldStart, newLine = newStart
            for op in ops[..<h.lowerBound] {
                switch op { case .same: oldLine += 1; newLine += 1; case .del: oldLine += 1; case .add: newLine += 1 }
            }
            var body: [String] = [], oc = 0, nc = 0
            for op in ops[h] {
                switch op {
                case .same(let s): body.append(" " + s); oc += 1; nc += 1
                case .del(let s): body.append("-" + s); oc += 1
                case .add(let s): body.append("+" + s); nc += 1
                }
            }
            lines.append("@@ -\(oldLine),\(oc) +\(newLine),\(nc) @@")
            lines += body
        }
        return lines
    }
}
