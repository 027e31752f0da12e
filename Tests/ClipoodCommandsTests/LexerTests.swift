import ClipoodCommands
import Testing

@Suite("lexer")
struct LexerTests {
    @Test func wordsNumbersOptionsAndComments() throws {
        let t = try Lexer.tokenize("train steps=200 lr=1e-5  as mms   # the MMS run")
        #expect(t.map(\.text) == ["train", "200", "1e-5", "as", "mms"])
        #expect(t.map(\.column) == [1, 7, 17, 26, 29])
        #expect(t[1].optionKey == "steps")
        #expect(t[1].valueColumn == 13)
        #expect(t[0].kind == .word && t[3].kind == .word)
    }

    @Test func quotedStringsAndEscapes() throws {
        let t = try Lexer.tokenize(#"prompt "a photo of a {}." 'it''s' "tab\there \"q\" \\ # not a comment""#)
        #expect(t.map(\.text) == ["prompt", "a photo of a {}.", "it", "s", "tab\there \"q\" \\ # not a comment"])
        #expect(t[1].kind == .string)
        #expect(t[1].column == 8 && t[1].length == 18)
    }

    @Test func quotedOptionValue() throws {
        let t = try Lexer.tokenize(#"plot accuracy title="MMS vs CE" to plots/a.png"#)
        #expect(t[2].optionKey == "title")
        #expect(t[2].text == "MMS vs CE")
        #expect(t[2].valueColumn == 21)
        #expect(t.last?.text == "plots/a.png")
    }

    @Test func pathsAndNonIdentifierEqualsStayWords() throws {
        let t = try Lexer.tokenize("load data ./x=1/dir =5 a.b=c")
        #expect(t[2].kind == .word && t[2].text == "./x=1/dir")
        #expect(t[3].kind == .word)
        #expect(t[4].optionKey == "a.b")
    }

    @Test func blankAndCommentLinesHaveNoTokens() throws {
        #expect(try Lexer.tokenize("   ").isEmpty)
        #expect(try Lexer.tokenize("# just a comment").isEmpty)
        #expect(try Lexer.tokenize("").isEmpty)
    }

    @Test func errorsPointAtTheProblem() {
        #expect(throws: CommandError("unterminated string: missing closing \"", column: 8, length: 6)) {
            try Lexer.tokenize(#"prompt "abc d"#)
        }
        do {
            _ = try Lexer.tokenize(#"say "bad \q escape""#)
            Issue.record("expected an error")
        } catch let e as CommandError {
            #expect(e.column == 10)
            #expect(e.message.contains("unknown escape"))
        } catch { Issue.record("\(error)") }
    }

    @Test func argvTokens() {
        let t = Lexer.tokens(fromArguments: ["bench", "gemm", "runs=7", "a b"])
        #expect(t.map(\.text) == ["bench", "gemm", "7", "a b"])
        #expect(t[2].optionKey == "runs")
        #expect(t.map(\.column) == [1, 7, 12, 19])
    }
}
