import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress report for long work: redrawn in place on a terminal, plain lines
/// (about every 10%) otherwise. Lives in the workspace because it writes to the user.
final class ProgressLine {
    let label: String
    let total: Int
    let live: Bool
    /// progress=off: nothing at all, neither the live line nor the plain ones.
    let silent: Bool
    let write: (String) -> Void
    let start = Date()
    private var lastDraw = Date.distantPast
    private var lastPlainDecile = -1
    private var lastPlain = Date.distantPast

    init(_ label: String, total: Int, workspace: Workspace) {
        self.label = label
        self.total = max(total, 1)
        let setting = workspace.settings.progress
        live = setting == "on" || (setting == "auto" && workspace.outputIsTerminal)
        silent = setting == "off"
        write = workspace.write
    }

    /// Reports `done` of `total`; `detail` is appended (loss, accuracy, lr …).
    func update(_ done: Int, detail: String = "") {
        if silent { return }
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        if live {
            guard Date().timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
            lastDraw = Date()
            // The width is asked on every redraw, so a resized terminal is followed at once.
            let columns = terminalColumns() ?? 80
            let line = ProgressLayout.fit(label: label, done: done, total: total, rate: rateText(rate),
                                        eta: "ETA " + duration(eta), detail: detail, columns: columns)
            FileHandle.standardOutput.write(("\r" + line + "\u{1B}[K").data(using: .utf8)!)
            if done == total { FileHandle.standardOutput.write("\n".data(using: .utf8)!) }
        } else {
            // Plain lines only for work long enough to wonder about (over 2 s): at every tenth of
            // the run, and at least once a minute for slow runs.
            guard elapsed > 2 || (done == total && lastPlainDecile >= 0) else { return }
            let decile = 10 * done / total
            let due = decile > lastPlainDecile || done == total || Date().timeIntervalSince(lastPlain) >= 60
            guard due else { return }
            lastPlainDecile = decile
            lastPlain = Date()
            write("\(label) \(done)/\(total) \(rateText(rate)), \(duration(elapsed)) elapsed \(detail)")
        }
    }

    /// Ends a live line early (interrupted or failed) so the next output starts clean.
    func finish() { if live { FileHandle.standardOutput.write("\n".data(using: .utf8)!) } }

    private func rateText(_ r: Double) -> String { r >= 1 ? String(format: "%.1f/s", r) : r > 0 ? String(format: "%.2f s each", 1 / r) : "" }
}

/// How a live progress line is laid out in a given terminal width.
public enum ProgressLayout {
    /// The live line, at most `columns − 1` wide so that it never wraps (a wrapped line cannot
    /// be redrawn in place). What gives way first: the detail (shortened with …), then the bar
    /// narrows, then the rate, the ETA and the bar go.
    public static func fit(label: String, done: Int, total: Int, rate: String, eta: String, detail: String, columns: Int) -> String {
        let room = max(columns - 1, 10)
        func bar(_ width: Int) -> String {
            let filled = width * done / max(total, 1)
            return String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        }
        func join(_ parts: [String]) -> String { parts.filter { !$0.isEmpty }.joined(separator: " ") }
        let count = "\(done)/\(total)"
        var core = [label, bar(24), count, rate, eta]
        let cleanDetail = detail.trimmingCharacters(in: .whitespaces)
        let full = join(core + [cleanDetail])
        if full.count <= room { return full }
        let withoutDetail = join(core)
        let left = room - withoutDetail.count - 1
        if left >= 12 { return withoutDetail + " " + String(cleanDetail.prefix(left - 1)) + "…" }
        // No room for the detail: shrink the rest.
        for width in stride(from: 20, through: 8, by: -4) {
            core[1] = bar(width)
            if join(core).count <= room { return join(core) }
        }
        core[3] = ""
        if join(core).count <= room { return join(core) }
        core[4] = ""
        if join(core).count <= room { return join(core) }
        core[1] = ""
        return String(join(core).prefix(room))
    }
}

/// Columns of the terminal on standard output, or nil when it is not a terminal.
func terminalColumns() -> Int? {
    var size = winsize()
    guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
    return Int(size.ws_col)
}

func duration(_ s: Double) -> String {
    guard s.isFinite else { return "?" }
    if s < 60 { return String(format: "%.0fs", s) }
    if s < 3600 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
    return String(format: "%dh%02dm", Int(s) / 3600, (Int(s) % 3600) / 60)
}

/// Set by the executable's SIGINT (and, in a job, SIGTERM) handler, or by a stop the ranks of a
/// job agreed on; long commands check it at safe points (training at step boundaries) and stop
/// cleanly.
public enum Interrupt {
    nonisolated(unsafe) public static var requested: Int32 = 0
    /// Stopping signals this process itself took since the last `clear`: a second one ends the
    /// process at once. A stop agreed with other ranks is not one, so this rank's own Ctrl-C,
    /// when it comes after that agreement (a busy rank takes it late), is still its first.
    nonisolated(unsafe) public private(set) static var signalsTaken: Int32 = 0
    public static var isRequested: Bool { requested != 0 }
    public static func clear() { requested = 0; signalsTaken = 0 }

    /// A stopping signal (Ctrl-C, or SIGTERM in a job) arrived: the first since `clear` asks work
    /// to stop and returns true; a second returns false, and the handler ends the process.
    public static func signalArrived() -> Bool {
        if signalsTaken != 0 { return false }
        signalsTaken = 1
        requested = 1
        return true
    }
}
