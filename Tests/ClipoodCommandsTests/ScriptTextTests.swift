import ClipoodCommands
import Foundation
import Testing

/// Session text as editors and other systems save it: a UTF-8 byte order mark, and lines ending
/// in LF, CRLF or CR alone.
@Suite("script text forms")
struct ScriptTextTests {
    @Test func linesEndAtLFCRLFAndLoneCR() {
        #expect(Interpreter<FakeContext>.scriptLines("a\nb\r\nc\rd") == ["a", "b", "c", "d"])
        #expect(Interpreter<FakeContext>.scriptLines("a\r\rb\n") == ["a", "", "b", ""])
        #expect(Interpreter<FakeContext>.scriptLines("\r\n\r\n") == ["", "", ""])
        #expect(Interpreter<FakeContext>.scriptLines("") == [""])
        #expect(Interpreter<FakeContext>.scriptLines("é → 猫\rnext") == ["é → 猫", "next"])
    }

    @Test func byteOrderMarkAtTheStartIsDropped() {
        #expect(Interpreter<FakeContext>.scriptLines("\u{FEFF}plot\nprompt") == ["plot", "prompt"])
        // Only at the very start: a later one stays (and the lexer will point at it).
        #expect(Interpreter<FakeContext>.scriptLines("plot\n\u{FEFF}prompt") == ["plot", "\u{FEFF}prompt"])
    }

    @Test func crOnlyScriptRunsWithRightLineNumbers() throws {
        let ctx = FakeContext()
        let interp = Interpreter(registry: testRegistry, context: ctx)
        try interp.runScript(text: "\u{FEFF}train steps=3\rplot\rprompt\r", file: "mac.cood")
        #expect(ctx.log == ["train 3 1e-05 full 1 true -", "plot", "prompt"])
        do {
            try interp.runScript(text: "\u{FEFF}plot\r# note\rnope\rplot", file: "mac.cood")
            Issue.record("expected an error")
        } catch let e as ScriptError {
            #expect(e.line == 3)
            #expect(e.error.column == 1)
        }
    }
}
