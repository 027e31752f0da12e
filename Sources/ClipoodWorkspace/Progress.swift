import Foundation

/// A one-line progress report for long work: redrawn in place on a terminal, plain lines
/// (about every 10%) otherwise. Lives in the workspace because it writes to the user.
final class ProgressLine {
    let label: String
    let total: Int
    let live: Bool
    let write: (String) -> Void
    let start = Date()
    private var lastDraw = Date.distantPast
    private var lastPlainDecile = -1

    init(_ label: String, total: Int, workspace: Workspace) {
        self.label = label
        self.total = max(total, 1)
        let setting = workspace.settings.progress
        live = setting == "on" || (setting == "auto" && workspace.outputIsTerminal)
        write = workspace.write
    }

    /// Reports `done` of `total`; `detail` is appended (loss, accuracy, lr …).
    func update(_ done: Int, detail: String = "") {
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        if live {
            guard Date().timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
            lastDraw = Date()
            let width = 24, filled = width * done / total
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let line = "\r\(label) \(bar) \(done)/\(total) \(rateText(rate)) ETA \(duration(eta)) \(detail)"
            FileHandle.standardOutput.write((line + "\u{1B}[K").data(using: .utf8)!)
            if done == total { FileHandle.standardOutput.write("\n".data(using: .utf8)!) }
        } else {
            // Plain lines only for work long enough to wonder about (over 2 s), about every 10%.
            guard elapsed > 2 || (done == total && lastPlainDecile >= 0) else { return }
            let decile = 10 * done / total
            guard decile > lastPlainDecile || done == total else { return }
            lastPlainDecile = decile
            write("\(label) \(done)/\(total) \(rateText(rate)), \(duration(elapsed)) elapsed \(detail)")
        }
    }

    /// Ends a live line early (interrupted or failed) so the next output starts clean.
    func finish() { if live { FileHandle.standardOutput.write("\n".data(using: .utf8)!) } }

    private func rateText(_ r: Double) -> String { r >= 1 ? String(format: "%.1f/s", r) : r > 0 ? String(format: "%.2f s each", 1 / r) : "" }
}

func duration(_ s: Double) -> String {
    guard s.isFinite else { return "?" }
    if s < 60 { return String(format: "%.0fs", s) }
    if s < 3600 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
    return String(format: "%dh%02dm", Int(s) / 3600, (Int(s) % 3600) / 60)
}

/// Set by the executable's SIGINT handler; long commands check it at safe points
/// (training at step boundaries) and stop cleanly.
public enum Interrupt {
    nonisolated(unsafe) public static var requested: Int32 = 0
    public static var isRequested: Bool { requested != 0 }
    public static func clear() { requested = 0 }
}
