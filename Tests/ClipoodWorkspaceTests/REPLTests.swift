import Foundation
import TestSupport
import Testing

/// The real prompt in a pseudo-terminal: what a person at a terminal sees.
@Suite("the interactive prompt", .serialized)
struct REPLTests {
    @Test func completionHelpErrorsCtrlCAndHistory() throws {
        let dir = makeTemporaryDirectory("clipood-repl")
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["CLIPOOD_HISTORY": dir.appendingPathComponent("history").path, "TERM": "xterm", "NO_COLOR": "1"]
        let t = try PseudoTerminal()
        try t.spawn(Executable.url, [], environment: env)
        #expect(t.waitFor("clipood› "), "no prompt: \(t.plainScreen)")
        // Completion of a command name, then of an option.
        t.send("hel\t")
        #expect(t.waitFor("clipood› help "), "command completion: \(t.plainScreen)")
        t.send("\u{15}bench gemm sha\t")   // Ctrl-U clears the line first
        #expect(t.waitFor("bench gemm shapes="), "option completion: \(t.plainScreen)")
        t.send("\u{15}help set\n")
        #expect(t.waitFor("usage: set [threads=N]"))
        // An error, then a working command: the prompt keeps going.
        t.send("frobnicate now\n")
        #expect(t.waitFor("error: unknown command 'frobnicate'"))
        t.send("show settings\n")
        #expect(t.waitFor("progress   auto"))
        // Ctrl-C during a long command stops it and returns to the prompt.
        t.clear()
        t.send("bench gemm runs=1000 shapes=square\n")
        #expect(t.waitFor("sgemm, fp32"))
        usleep(500_000)
        // The test's pseudo-terminal is not the child's controlling terminal, so the tty driver
        // would not turn ^C into SIGINT: send the signal as the driver does for a person.
        kill(t.process!.processIdentifier, SIGINT)
        #expect(t.waitFor("interrupted (Ctrl-C)"), "Ctrl-C: \(t.plainScreen)")
        #expect(t.waitFor("clipood› "))
        // Wait for the prompt that follows this command, not one already on the screen: a Ctrl-D
        // sent while the command still runs meets the terminal in cooked mode, where the line
        // discipline takes it as end-of-file for nobody and readline never sees it.
        t.clear()
        t.send("set seed=42\n")
        #expect(t.waitFor("set seed=42\nclipood› "), "set seed: \(t.plainScreen)")
        t.send("\u{04}")   // Ctrl-D quits and saves the history
        #expect(t.waitForExit() == 0, "Ctrl-D did not end the prompt: \(t.plainScreen)")

        // History recall after a restart: Up brings back the last command.
        let u = try PseudoTerminal()
        try u.spawn(Executable.url, [], environment: env)
        #expect(u.waitFor("clipood› "))
        u.clear()
        u.send("\u{1B}[A")
        #expect(u.waitFor("set seed=42"), "history: \(u.plainScreen)")
        u.send("\u{15}quit\n")
        #expect(u.waitForExit() == 0)
    }
}
