import ClipoodIO
import ClipoodDistributed
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// A small gnuplot driver: find the program, feed it a script (data inline as datablocks) on
// standard input, and turn its failures into errors that quote gnuplot's own message.
//
// Safety. gnuplot substitutes `backquoted` shell commands inside double-quoted strings and
// has system(); every string that comes from data or the user (titles, labels, class names,
// paths) therefore enters a script only through `gnuplotQuote`. Datablocks hold numbers only
// (`GnuplotScript.data`), and the output file is always an absolute path, so
// `set output '|command'` cannot happen.

/// `s` as a gnuplot string literal that evaluates to exactly `s`, whatever it holds; control
/// characters (line breaks included: a gnuplot command is one line) become spaces.
///
/// The literal is double-quoted, with the characters gnuplot could act on written as octal
/// escapes: `"` \042, `\` \134, the backquote \140 (so command substitution never sees one)
/// and `@` \100 (no macro). Single-quoted strings would need no escapes, but gnuplot 5.4's
/// scanner misreads a doubled quote `''` at the start of a string or next to another one
/// (`'''x'` scans as an empty string and a stray token), which breaks names like `'a` or `a''`.
///
/// With `enhanced: true` the enhanced-text markup characters `^ _ @ & ~ { }` and the
/// backslash get a backslash in front as well, so that a label drawn in enhanced mode shows
/// `s` literally. Without it, use the string where enhanced text is off (`noenhanced`).
/// Tic labels of `set xtics ("label" pos, …)` are printf formats too: see `gnuplotTicLabel`.
public func gnuplotQuote(_ s: String, enhanced: Bool = false) -> String {
    var out = "\""
    for scalar in gnuplotSanitize(s).unicodeScalars {
        if enhanced && "\\^_@&~{}".unicodeScalars.contains(scalar) { out += "\\134" }
        switch scalar {
        case "\"": out += "\\042"
        case "\\": out += "\\134"
        case "`": out += "\\140"
        case "@": out += "\\100"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// A tic label for `set xtics ("label" pos, …)`: gnuplot formats those with the tic's
/// position, so `%` is doubled (a class called "100%" stays "100%"; "%s" never reaches printf).
public func gnuplotTicLabel(_ s: String) -> String {
    gnuplotQuote(s.replacingOccurrences(of: "%", with: "%%"))
}

/// `s` with every control character (C0, DEL, C1) and Unicode line/paragraph separator replaced by a space.
public func gnuplotSanitize(_ s: String) -> String {
    var out = String.UnicodeScalarView()
    for scalar in s.unicodeScalars {
        let v = scalar.value
        let control = v < 0x20 || (v >= 0x7F && v <= 0x9F) || v == 0x2028 || v == 0x2029
        out.append(control ? " " : scalar)
    }
    return String(out)
}

/// A number for a gnuplot script or datablock: `%.9g`, and `NaN` for anything not finite.
public func gnuplotNumber(_ x: Double) -> String {
    x.isFinite ? String(format: "%.9g", x) : "NaN"
}

/// A failure of gnuplot or of finding it; `description` is the message for the user.
public struct GnuplotError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ d: String) { description = d }

    static let notInstalled = "gnuplot is not installed: apt-get install gnuplot-nox"
}

/// Where figures go: a PNG, SVG or PDF file of `width`×`height` pixels, or text (gnuplot's
/// `dumb` terminal) of `columns`×`rows` characters. A PDF's size is in points (1/72 inch):
/// pngcairo draws at 72 dpi, so a PDF and a PNG of the same size have the same layout.
public enum GnuplotTerminal: Equatable, Sendable {
    case png(width: Int, height: Int)
    case svg(width: Int, height: Int)
    case pdf(width: Int, height: Int)
    case dumb(columns: Int, rows: Int)

    /// The `set terminal` line(s) with fonts and lines `scale` times their normal size (the text
    /// terminal has neither). PNG uses pngcairo when this gnuplot has it (its list of terminals
    /// is checked in the script itself) and libgd's png otherwise. Point sizes are not scaled
    /// here: the svg and libgd terminals have no `pointscale`, so scripts scale their own.
    func setup(scale: Double = 1) -> String {
        let scaled = scale == 1 ? "" : " fontscale \(gnuplotNumber(scale)) linewidth \(gnuplotNumber(scale))"
        switch self {
        case .png(let w, let h):
            let cairo = "set terminal pngcairo size \(w),\(h) enhanced font 'sans,10'\(scaled)"
            let gd = "set terminal png size \(w),\(h) enhanced font 'sans,10'\(scaled)"
            return "if (strstrt(GPVAL_TERMINALS, ' pngcairo ') > 0) { \(cairo) } else { \(gd) }"
        case .svg(let w, let h):
            return "set terminal svg size \(w),\(h) dynamic enhanced font 'sans,10'\(scaled)"
        case .pdf(let w, let h):
            return "set terminal pdfcairo size \(gnuplotNumber(Double(w) / 72))in,\(gnuplotNumber(Double(h) / 72))in enhanced font 'sans,10'\(scaled)"
        case .dumb(let c, let r):
            return "set terminal dumb size \(c),\(r)"
        }
    }

    public var isText: Bool { if case .dumb = self { return true } else { return false } }

    /// "PNG", "SVG", "PDF" or "text".
    public var kind: String {
        switch self {
        case .png: return "PNG"
        case .svg: return "SVG"
        case .pdf: return "PDF"
        case .dumb: return "text"
        }
    }

    /// The drawing's size: pixels (points for a PDF) or, for text, columns and rows.
    public var size: (width: Int, height: Int) {
        switch self {
        case .png(let w, let h), .svg(let w, let h), .pdf(let w, let h), .dumb(let w, let h): return (w, h)
        }
    }
}

/// A gnuplot script under construction: numeric datablocks first, then commands.
public struct GnuplotScript {
    public private(set) var datablocks: [String] = []
    public private(set) var commands: [String] = []
    /// How much larger than normal fonts and lines are drawn (1: 10 pt text, gnuplot's line widths).
    public var scale: Double = 1

    public init() {}

    /// Adds a datablock of numeric rows (one line per row, values separated by spaces) and
    /// returns its name (`$name`) for `plot`. Names are made of letters, digits and _.
    @discardableResult
    public mutating func data(_ name: String, rows: [[Double]]) -> String {
        let id = "$" + String(name.unicodeScalars.filter { ($0.isASCII && CharacterSet.alphanumerics.contains($0)) || $0 == "_" })
        var block = "\(id) << EOD\n"
        block.reserveCapacity(rows.count * 12 * (rows.first?.count ?? 1) + 32)
        for r in rows { block += r.map(gnuplotNumber).joined(separator: " ") + "\n" }
        block += "EOD"
        datablocks.append(block)
        return id
    }

    /// Adds a datablock holding a matrix (rows × columns, row-major) for `plot $m matrix …`.
    @discardableResult
    public mutating func matrix(_ name: String, values: [Double], rows: Int, columns: Int) -> String {
        precondition(values.count == rows * columns, "GnuplotScript.matrix: \(values.count) values for \(rows)×\(columns)")
        return data(name, rows: (0 ..< rows).map { Array(values[$0 * columns ..< ($0 + 1) * columns]) })
    }

    /// Adds command lines. Strings from users or data must go through `gnuplotQuote`.
    public mutating func add(_ lines: String...) { commands += lines }

    public mutating func add(contentsOf lines: [String]) { commands += lines }

    /// The whole script for `terminal`, writing to `output` (an absolute path) or to standard output.
    public func text(terminal: GnuplotTerminal, output: String?) -> String {
        var lines = ["set encoding utf8", terminal.setup(scale: scale)]
        if let output { lines.append("set output " + gnuplotQuote(output)) }
        lines += datablocks
        lines += commands
        lines.append("unset output")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Where to look for gnuplot (tests replace it for one task with `Gnuplot.$search.withValue`).
public struct GnuplotSearch: Sendable {
    public var environment: [String: String]
    /// Tried in order after `PATH`.
    public var fallbacks: [String]

    public init(environment: [String: String], fallbacks: [String] = ["/usr/bin/gnuplot"]) {
        self.environment = environment
        self.fallbacks = fallbacks
    }

    public static var process: GnuplotSearch { GnuplotSearch(environment: ProcessInfo.processInfo.environment) }
}

/// What gnuplot wrote: standard output (the dumb terminal's text) and its warnings.
public struct GnuplotOutput: Sendable {
    public let text: String
    public let warnings: [String]
}

/// How long gnuplot may run and how much it may print before it is stopped.
public struct GnuplotLimits: Sendable {
    public var timeout: TimeInterval
    /// Per stream (standard output, standard error).
    public var outputBytes: Int

    public init(timeout: TimeInterval, outputBytes: Int) {
        self.timeout = timeout
        self.outputBytes = outputBytes
    }

    /// A figure takes gnuplot well under a second; a minute means it is stuck. The dumb
    /// terminal's largest drawing (1000×1000 characters) is about 1 MiB, well under the cap.
    public static let timeoutSeconds: TimeInterval = 60
    public static let outputCap = 4 << 20
    public static let standard = GnuplotLimits(timeout: timeoutSeconds, outputBytes: outputCap)
}

/// The gnuplot program, found once per use.
public struct Gnuplot: Sendable {
    /// The search for this task; nil: the process environment and /usr/bin/gnuplot.
    @TaskLocal public static var search: GnuplotSearch?
    /// The limits for this task (tests shorten them with `Gnuplot.$limits.withValue`).
    @TaskLocal public static var limits: GnuplotLimits = .standard

    public let executable: String

    /// Finds gnuplot: `CLIPOOD_GNUPLOT` (a path to the program) when set, else the first
    /// `gnuplot` on `PATH`, else the fallbacks (/usr/bin/gnuplot).
    public static func locate(_ search: GnuplotSearch = Gnuplot.search ?? .process) throws -> String {
        let fm = FileManager.default
        func runnable(_ p: String) -> Bool {
            var isDir: ObjCBool = false
            return fm.fileExists(atPath: p, isDirectory: &isDir) && !isDir.boolValue && fm.isExecutableFile(atPath: p)
        }
        if let forced = search.environment["CLIPOOD_GNUPLOT"], !forced.isEmpty {
            guard runnable(forced) else {
                throw GnuplotError(GnuplotError.notInstalled + " (CLIPOOD_GNUPLOT=\(forced) is not an executable file)")
            }
            return forced
        }
        for dir in (search.environment["PATH"] ?? "").split(separator: ":") where !dir.isEmpty {
            let p = String(dir) + "/gnuplot"
            if runnable(p) { return p }
        }
        if let p = search.fallbacks.first(where: runnable) { return p }
        throw GnuplotError(GnuplotError.notInstalled)
    }

    public init(executable: String? = nil) throws {
        self.executable = try executable ?? Gnuplot.locate()
    }

    /// Draws `script` on `terminal` into `output` (nil: standard output, for the dumb terminal's
    /// text). gnuplot draws into a private temporary file, which then replaces `output` through
    /// `AtomicWrite` (a symlink is written through, a FIFO or device is never replaced, missing
    /// folders are created). A PNG, SVG or PDF that gnuplot did not write is an error.
    public func draw(_ script: GnuplotScript, terminal: GnuplotTerminal, output: String?, limits: GnuplotLimits = Gnuplot.limits) throws -> GnuplotOutput {
        // In an MPI job rank 0 alone draws (the others print nothing either).
        guard Cluster.current.isLeader else { return GnuplotOutput(text: "", warnings: []) }
        var scratch: String?
        if let output {
            guard gnuplotSanitize(output) == output else { throw GnuplotError("the output path contains control characters") }
            try AtomicWrite.prepare(output)   // a bad destination fails before gnuplot runs
            scratch = try Gnuplot.scratchFolder()
        }
        defer { if let scratch { try? FileManager.default.removeItem(atPath: scratch) } }
        let drawn = scratch.map { $0 + "/figure" }
        let text = script.text(terminal: terminal, output: drawn)
        // For debugging a figure: CLIPOOD_GNUPLOT_SCRIPT=FILE keeps the last script.
        if let keep = ProcessInfo.processInfo.environment["CLIPOOD_GNUPLOT_SCRIPT"], !keep.isEmpty {
            try? AtomicWrite.write(text, to: keep)
        }
        let result = try run(text, limits: limits)
        if let output, let drawn {
            let figure: Data
            do { figure = try FileReading.read(drawn, limit: Gnuplot.figureLimit) } catch {
                throw GnuplotError("gnuplot wrote nothing to \(output)")
            }
            guard !figure.isEmpty else { throw GnuplotError("gnuplot wrote nothing to \(output)") }
            try AtomicWrite.write(figure, to: output)
        }
        return GnuplotOutput(text: terminal.isText ? Gnuplot.cleanText(result.text) : result.text, warnings: result.warnings)
    }

    /// The largest figure file taken back from gnuplot.
    static let figureLimit = 512 << 20

    /// A new private folder for gnuplot's output (under the temporary folder, or /tmp when that
    /// path holds characters a gnuplot string cannot carry).
    static func scratchFolder() throws -> String {
        var base = NSTemporaryDirectory()
        if base.isEmpty || gnuplotSanitize(base) != base { base = "/tmp/" }
        if !base.hasSuffix("/") { base += "/" }
        var template = Array((base + "clipood-plot-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw GnuplotError(IOFailure.errno("create", base + "clipood-plot-XXXXXX").description) }
        return String(cString: template)
    }

    /// Runs a whole script (fed on standard input, read as a file so the first error stops it)
    /// and returns what it printed; a failure throws gnuplot's message with the script line.
    ///
    /// gnuplot runs in its own process group. When it runs longer than `limits.timeout` or prints
    /// more than `limits.outputBytes` on either stream, the whole group is killed (SIGKILL) and
    /// that is the error: a stuck or runaway gnuplot can never hang clipood or fill its memory.
    public func run(_ script: String, limits: GnuplotLimits = Gnuplot.limits) throws -> GnuplotOutput {
        _ = Gnuplot.ignoreSIGPIPE
        // -d: no ~/.gnuplot; /dev/stdin: a load file, so gnuplot stops at the first error.
        let arguments = FileManager.default.fileExists(atPath: "/dev/stdin") ? ["-d", "/dev/stdin"] : ["-d"]
        var env = ProcessInfo.processInfo.environment
        // Scripts are UTF-8 (`set encoding utf8`); under a C/POSIX locale gnuplot warns that iconv
        // cannot convert (seen under `sudo` and in minimal environments), so give it a UTF-8 one.
        // C.UTF-8 is built into glibc, so it exists even where no locales are installed.
        env["LC_ALL"] = "C.UTF-8"
        env["LC_NUMERIC"] = "C"
        env.removeValue(forKey: "DISPLAY")
        let child = try ChildProcess(executable: executable, arguments: arguments, environment: env)
        let result = child.communicate(input: Data(script.utf8), timeout: limits.timeout, outputLimit: limits.outputBytes)
        switch result.ending {
        case .timedOut:
            throw GnuplotError("gnuplot did not finish within \(Gnuplot.seconds(limits.timeout)) and was stopped")
        case .tooMuchOutput:
            throw GnuplotError("gnuplot printed more than \(Gnuplot.bytes(limits.outputBytes)) and was stopped")
        case .exited, .signalled:
            break
        }
        let out = String(decoding: result.stdout, as: UTF8.self)
        let err = String(decoding: result.stderr, as: UTF8.self)
        let lines = err.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let isWarning = { (l: String) in l.lowercased().contains("warning:") }
        var status: Int32 = 0
        if case .exited(let code) = result.ending { status = code }
        let killed: Int32? = { if case .signalled(let s) = result.ending { return s } else { return nil } }()
        let failure = status != 0 || killed != nil
            || lines.contains { !isWarning($0) && ($0.range(of: #"line \d+:"#, options: .regularExpression) != nil || $0.hasPrefix("system error")) }
        if failure {
            let message = Gnuplot.describeFailure(lines.filter { !isWarning($0) }, status: status, script: script)
            throw GnuplotError(killed.map { message + " (ended by signal \($0))" } ?? message)
        }
        return GnuplotOutput(text: out, warnings: lines.filter(isWarning))
    }

    static func seconds(_ t: TimeInterval) -> String {
        t == t.rounded() ? "\(Int(t)) s" : String(format: "%.1f s", t)
    }

    static func bytes(_ n: Int) -> String {
        n >= 1 << 20 && n % (1 << 20) == 0 ? "\(n >> 20) MiB" : n >= 1024 && n % 1024 == 0 ? "\(n >> 10) KiB" : "\(n) bytes"
    }

    /// "gnuplot failed: MESSAGE (script line N: `LINE`)", from its stderr.
    static func describeFailure(_ lines: [String], status: Int32, script: String) -> String {
        var message = lines.filter { !$0.hasPrefix("^") && !$0.hasPrefix("gnuplot>") }
        var where_ = ""
        if let i = message.firstIndex(where: { $0.range(of: #"line \d+:"#, options: .regularExpression) != nil }) {
            let l = message[i]
            let r = l.range(of: #"line \d+:"#, options: .regularExpression)!
            let n = Int(l[r].dropFirst(5).dropLast()) ?? 0
            message[i] = String(l[r.upperBound...]).trimmingCharacters(in: .whitespaces)
            let scriptLines = script.split(separator: "\n", omittingEmptySubsequences: false)
            if n >= 1 && n <= scriptLines.count {
                var s = String(scriptLines[n - 1])
                if s.count > 160 { s = String(s.prefix(157)) + "…" }
                where_ = " (script line \(n): \(s))"
            }
        }
        let text = message.joined(separator: "; ")
        return "gnuplot failed: " + (text.isEmpty ? "exit status \(status)" : text) + where_
    }

    /// The dumb terminal's text without its form feed, trailing blanks and blank edges.
    static func cleanText(_ s: String) -> String {
        var lines = s.replacingOccurrences(of: "\u{0C}", with: "").split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0).replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression) }
        while lines.first?.isEmpty == true { lines.removeFirst() }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    /// An absolute, standardised path (relative ones against the current directory).
    static func absolute(_ p: String) -> String {
        let base = p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
        return URL(fileURLWithPath: base).standardizedFileURL.path
    }

    /// Writing to a gnuplot that already stopped must fail with EPIPE, not kill the process.
    static let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()
}

