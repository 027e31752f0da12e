import ClipoodCommands
import Foundation

/// The lines that made the workspace what it is: every successful line of a command that
/// changes its state (settings, models, datasets, split, prompt, runs), in the order they ran
/// and as they should be replayed — a `train` that stopped early is kept with the steps it did
/// (`pause=N`, or `steps=N` when resuming). Replaying the journal in a fresh process rebuilds the
/// same state, because every one of these commands is deterministic given the settings before
/// it. `record` writes it first, so that a recording started mid-session replays on its own.
///
/// Lines of a nested `run FILE` are journaled one by one (the `run` line itself is not), so the
/// journal does not depend on the file staying as it was.
struct Journal {
    /// The commands whose successful lines change the workspace. Every other command only reads
    /// it or writes files (`save`, `export`, `plot`, …), and replaying it would rebuild nothing.
    static let stateCommands: Set<String> = ["set", "load", "generate", "split", "prompt", "pretrain", "train", "ablate", "drop", "rename"]

    private(set) var lines: [String] = []

    /// How the line that is running should be replayed, when not as it was written: set by a
    /// command (at the script depth it runs at), used once the line succeeded.
    enum Replay {
        /// With `key=value` instead of any `key=` it had.
        case option(String, String)
        /// Not at all (a train stopped before its first step).
        case omit
    }

    /// Keeps `line` when its command changes state. Blank and comment lines are ignored.
    mutating func note(_ line: String) {
        guard let first = (try? Lexer.tokenize(line))?.first, first.isWord, Journal.stateCommands.contains(first.text) else { return }
        lines.append(line.trimmingCharacters(in: .whitespaces))
    }

    /// The journal as the start of a recording: a comment, then the lines; empty when nothing
    /// was done yet.
    func preamble() -> String {
        guard !lines.isEmpty else { return "" }
        return "# the state before recording, rebuilt (runs are trained again, stopped where they stopped):\n"
            + lines.map { $0 + "\n" }.joined() + "# recording starts here\n"
    }
}
