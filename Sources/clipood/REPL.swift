import CReadline
import ClipoodCommands
import ClipoodWorkspace
import Foundation

let clipoodVersion = "0.1.0"

/// The interactive prompt: GNU readline with history and completion from the command
/// declarations when standard input is a terminal, plain line reading otherwise.
struct REPL {
    let workspace: Workspace
    static let historyLimit: Int32 = 2000
    var historyPath: String { (ProcessInfo.processInfo.environment["CLIPOOD_HISTORY"]) ?? (NSHomeDirectory() + "/.clipood_history") }

    func run() -> Int32 {
        guard isatty(STDIN_FILENO) == 1 else { return runPlain() }
        ReadlineBridge.install(workspace)
        workspace.isInteractiveTerminal = true
        read_history(historyPath)
        stifle_history(REPL.historyLimit)
        defer { write_history(historyPath) }
        print("clipood \(clipoodVersion) — type 'help' for commands, Tab to complete, Ctrl-D to quit")
        while true {
            let prompt = self.prompt
            // Only while readline waits does this thread take Ctrl-C (which then clears the line).
            let read = Signals.acceptingInterrupts { () -> UnsafeMutablePointer<CChar>? in
                ReadlineBridge.atPrompt = 1
                defer { ReadlineBridge.atPrompt = 0 }
                return readline(prompt)
            }
            guard let cLine = read else { print(""); if workspace.confirmQuit() { return 0 } else { continue } }
            let line = String(cString: cLine)
            free(cLine)
            if !line.trimmingCharacters(in: .whitespaces).isEmpty { add_history(line) }
            Interrupt.clear()
            do { try workspace.executeInteractive(line) } catch { return 0 }   // QuitRequest
            Interrupt.clear()
        }
    }

    /// Standard input is a pipe or file: read commands without readline; errors don't stop it.
    func runPlain() -> Int32 {
        var failed = false
        while let line = readLine() {
            do { if !(try workspace.executeInteractive(line)) { failed = true } } catch { break }
        }
        return failed ? 1 : 0
    }

    /// "clipood›", or "clipood b16·PACS›" once a model or dataset is active.
    var prompt: String {
        let context = workspace.promptContext
        let label = context.isEmpty ? "clipood" : "clipood \(context)"
        return workspace.useColor ? "\u{01}\u{1B}[1;36m\u{02}\(label)›\u{01}\u{1B}[0m\u{02} " : "\(label)› "
    }
}

/// Readline calls C function pointers, so the workspace it completes against lives in one
/// global for the life of the prompt.
enum ReadlineBridge {
    nonisolated(unsafe) static var workspace: Workspace?
    nonisolated(unsafe) static var matches: [String] = []
    nonisolated(unsafe) static var next = 0
    /// 1 while readline is waiting for a line (Ctrl-C then clears the line instead of interrupting work).
    nonisolated(unsafe) static var atPrompt: Int32 = 0

    /// Ctrl-C at the prompt: drop the typed line and show a fresh prompt, as shells do.
    static func clearLine() {
        rl_free_line_state()
        rl_replace_line("", 0)
        rl_crlf()
        rl_on_new_line()
        rl_redisplay()
    }

    static func install(_ ws: Workspace) {
        workspace = ws
        rl_readline_name = UnsafePointer(strdup("clipood"))
        // Words are separated by blanks only, as the command language splits them ('=' and '/' stay inside).
        rl_completer_word_break_characters = UnsafePointer(strdup(" \t"))
        rl_attempted_completion_function = { text, start, end in
            rl_attempted_completion_over = 1
            guard let ws = ReadlineBridge.workspace, let buffer = rl_line_buffer else { return nil }
            let bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: Int(end)))
            let before = String(decoding: bytes, as: UTF8.self)
            let completion = ws.registry.complete(before, context: ws)
            ReadlineBridge.matches = completion.candidates
            ReadlineBridge.next = 0
            if completion.candidates.count == 1, let only = completion.candidates.first, only.hasSuffix("=") || only.hasSuffix("/") {
                rl_completion_append_character = 0
            } else {
                rl_completion_append_character = 32
            }
            return rl_completion_matches(text) { _, state in
                if state == 0 { ReadlineBridge.next = 0 }
                guard ReadlineBridge.next < ReadlineBridge.matches.count else { return nil }
                defer { ReadlineBridge.next += 1 }
                return strdup(ReadlineBridge.matches[ReadlineBridge.next])
            }
        }
    }
}
