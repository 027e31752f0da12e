import ClipoodTokenizer
import Foundation
import Testing

/// Token ids against open_clip 3.3.0's default tokenizer: the committed fixture made by
/// scripts/make_fixtures.py, plus a few cases for corners of the clean-up that the fixture
/// does not reach. Every comparison is exact; there are no excluded cases.
@Suite("open_clip parity")
struct OpenCLIPParityTests {
    @Test("vocabulary size, start and end tokens as in the fixture")
    func vocabularyShape() throws {
        let fixture = try TokenizerFixture.load()
        let tokenizer = try realTokenizer()
        #expect(tokenizer.vocabularySize == 49408)
        #expect(tokenizer.vocabularySize == fixture.vocab_size)
        #expect(tokenizer.startToken == 49406 && tokenizer.startToken == fixture.sot)
        #expect(tokenizer.endToken == 49407 && tokenizer.endToken == fixture.eot)
        #expect(tokenizer.contextLength == fixture.context_length)
    }

    @Test("every fixture case gives open_clip's ids exactly")
    func everyFixtureCase() throws {
        let fixture = try TokenizerFixture.load()
        let tokenizer = try realTokenizer()
        #expect(fixture.cases.count >= 270)
        let rows = tokenizer.tokenize(fixture.cases.map(\.text), contextLength: fixture.context_length)
        var matched = 0
        for (n, c) in fixture.cases.enumerated() {
            let ours = Array(rows[n * fixture.context_length ..< (n + 1) * fixture.context_length])
            if ours == c.ids {
                matched += 1
            } else {
                Issue.record(Comment(rawValue: mismatch(c.text, category: c.category, expected: c.ids, got: ours)))
            }
        }
        #expect(matched == fixture.cases.count, "\(matched) of \(fixture.cases.count) fixture cases match")
    }

    @Test("BPE token strings match the fixture's")
    func tokenStrings() throws {
        let fixture = try TokenizerFixture.load()
        let tokenizer = try realTokenizer()
        let withTokens = fixture.cases.filter { $0.tokens != nil }
        #expect(!withTokens.isEmpty)
        for c in withTokens {
            var ours = ["<start_of_text>"] + tokenizer.bpeTokens(c.text) + ["<end_of_text>"]
            if ours.count > fixture.context_length {
                ours = Array(ours.prefix(fixture.context_length))
                ours[ours.count - 1] = "<end_of_text>"
            }
            #expect(ours == c.tokens, "tokens of \(String(reflecting: c.text))")
        }
    }

    /// Made with open_clip 3.3.0 (`SimpleTokenizer().encode`, ftfy 6.3.1, CPython 3.11.7).
    static let moreCases: [(text: String, ids: [Int32], why: String)] = [
        ("ΟΔΟΣ ΑΣ'Σ ΣΑΣ.", [138, 123, 138, 112, 138, 123, 139, 480, 138, 109, 139, 481, 262, 139, 480, 139, 225, 138, 109, 139, 480, 269],
         "final sigma: ς only after a cased letter and before none (the apostrophe is case-ignorable)"),
        ("İstanbul", [328, 16384, 11231], "İ lower-cases to i + U+0307"),
        ("x\u{345}y", [343, 344], "U+0345 matches no class of the case-insensitive pattern and is dropped"),
        ("'ſ 'S 'LL", [6, 129, 379, 568, 1342], "long s matches 's case-insensitively"),
        ("<START_OF_TEXT> hi <ſtart_of_text>", [49406, 1883, 27, 129, 123, 16707, 62, 684, 62, 18169, 285],
         "special token after lower-casing; with a long s it is one piece but not the special token"),
        ("\u{1B}[31mred\u{1B}[0m text", [736, 4160], "ANSI escapes removed"),
        ("a\u{0}b\u{7}c\u{7F}d\u{FEFF}e", [13137, 654], "control characters removed"),
        ("&notit; &notin; &ampx; &copyright &#128; &#x110000; &#0; &EACUTE; &SZLIG;",
         [126, 361, 585, 282, 17788, 487, 261, 343, 282, 5811, 1155, 6309, 39802, 39802, 4166, 632],
         "html.unescape's legacy prefixes and invalid numbers; ftfy's all-caps names"),
        ("x < y &EACUTE;\n&EACUTE;", [343, 283, 344, 261, 68, 19734, 282, 261, 68, 19734, 282],
         "a line with < switches ftfy's unescaping off for it and the lines after"),
        ("ŉ ǅ ﬃ ＡＢＣ ｶﾀｶﾅ", [262, 333, 67, 129, 378, 1021, 328, 5334, 37367, 34941, 37367, 2429, 488],
         "ligatures and width forms"),
        ("windows\r\nline\rmac\u{2028}ls\u{85}nel", [5437, 1148, 4945, 1268, 959, 2693],
         "line breaks; U+0085 is read as Windows-1252 (…)"),
        ("mojibake inside: ÐŸÑ€Ð¸Ð²ÐµÑ‚ 猫 cafÃ©",
         [617, 3252, 11878, 2912, 281, 26302, 16370, 29503, 110, 22176, 141, 480, 163, 234, 360, 15304],
         "mojibake inside a line that is not all Latin-1"),
        ("double: cafÃƒÂ©", [3200, 281, 15304], "mojibake of mojibake"),
        ("CAFÉ’S perché…»", [15304, 568, 703, 540, 4166, 7095, 7599], "real text that looks a little like mojibake"),
        ("\u{10D63}", [172, 238, 113, 352], "a Unicode 16 capital: CPython 3.11 (Unicode 14) keeps its case"),
        ("tab\u{B}vt\u{C}ff\u{1C}fs", [2648, 10291, 1021, 3854], "ftfy removes VT and FS; FF is white space"),
    ]

    @Test("corners of the clean-up give open_clip's ids")
    func moreCasesFromOpenCLIP() throws {
        let tokenizer = try realTokenizer()
        for c in Self.moreCases {
            let ours = tokenizer.encode(c.text)
            if ours != c.ids {
                Issue.record(Comment(rawValue: mismatch(c.text, category: c.why, expected: c.ids, got: ours)))
            }
        }
    }
}

/// The text, both id lists and the first position where they differ.
func mismatch(_ text: String, category: String, expected: [Int32], got: [Int32]) -> String {
    let first = zip(expected, got).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        ?? min(expected.count, got.count)
    func trimmed(_ ids: [Int32]) -> [Int32] {
        var ids = ids
        while ids.count > 1, ids.last == 0, ids[ids.count - 2] == 0 { ids.removeLast() }
        return ids
    }
    return """
        ids differ for \(String(reflecting: text)) [\(category)] at position \(first) \
        (expected \(first < expected.count ? String(expected[first]) : "end"), \
        got \(first < got.count ? String(got[first]) : "end"))
          open_clip: \(trimmed(expected))
          ours:      \(trimmed(got))
        """
}
