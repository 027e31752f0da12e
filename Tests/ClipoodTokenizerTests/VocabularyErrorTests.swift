import ClipoodTokenizer
import Foundation
import Testing

/// Each bad vocabulary gives one `TokenizerError` that names the file, says what is wrong and
/// says how to get a good vocabulary.
@Suite("vocabulary errors")
struct VocabularyErrorTests {
    /// The common checks: the right file, its path and the fix in the message.
    func check(_ error: TokenizerError?, file: URL, mentions words: [String] = [],
               sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error else { return }
        let text = error.description
        #expect(error.file == file, "error names \(error.file.path), expected \(file.path)", sourceLocation: sourceLocation)
        #expect(text.contains(file.path), "message lacks the path: \(text)", sourceLocation: sourceLocation)
        #expect(text.contains("scripts/fetch_vocab"), "message lacks the fix: \(text)", sourceLocation: sourceLocation)
        for w in words {
            #expect(text.contains(w), "message lacks \"\(w)\": \(text)", sourceLocation: sourceLocation)
        }
    }

    @Test("a missing file")
    func missing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let gz = dir.file("bpe_simple_vocab_16e6.txt.gz")
        let error = expectTokenizerError { try CLIPTokenizer(openAIVocabulary: gz) }
        #expect(error == .missingVocabulary(gz))
        check(error, file: gz, mentions: ["not found", VocabularyCache.directory.path])

        let (vocab, merges) = try VocabularyFormatTests.writeHuggingFace(in: dir)
        let absent = dir.file("absent.txt")
        let e1 = expectTokenizerError { try CLIPTokenizer(vocabJSON: vocab, merges: absent) }
        #expect(e1 == .missingVocabulary(absent))
        check(e1, file: absent, mentions: ["Hugging Face"])
        let e2 = expectTokenizerError { try CLIPTokenizer(vocabJSON: dir.file("none.json"), merges: merges) }
        check(e2, file: dir.file("none.json"))
    }

    @Test("a directory where the file should be")
    func unreadable() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let error = expectTokenizerError { try CLIPTokenizer(openAIVocabulary: dir.url) }
        guard case .unreadableVocabulary? = error else { Issue.record("got \(String(describing: error))"); return }
        check(error, file: dir.url, mentions: ["directory"])
    }

    @Test("corrupt gzip files", arguments: ["not gzip", "truncated", "bad checksum", "bad block"])
    func corruptGzip(_ damage: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var bytes = TestGzip.member(TinyOpenAIVocabulary.text())
        switch damage {
        case "not gzip": bytes = Array("#version: plain text\nh e\n".utf8)
        case "truncated": bytes = Array(bytes.prefix(bytes.count / 2))
        case "bad checksum": bytes[bytes.count - 6] ^= 0xFF
        default: bytes[10] = 0b111                       // BFINAL + reserved block type 11
        }
        let gz = try dir.write("damaged.txt.gz", bytes: bytes)
        let error = expectTokenizerError { try CLIPTokenizer(openAIVocabulary: gz) }
        guard case .corruptGzip? = error else { Issue.record("\(damage): got \(String(describing: error))"); return }
        check(error, file: gz, mentions: ["gzip"])
    }

    @Test("malformed merges in the .gz file")
    func malformedOpenAI() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var lines = TinyOpenAIVocabulary.merges
        lines[3] = "hell o </w>"
        let threeParts = try dir.write("three.txt.gz", bytes: TestGzip.member(TinyOpenAIVocabulary.text(mergeLines: lines)))
        let e1 = expectTokenizerError { try CLIPTokenizer(openAIVocabulary: threeParts) }
        guard case .malformedVocabulary? = e1 else { Issue.record("got \(String(describing: e1))"); return }
        check(e1, file: threeParts, mentions: ["line 5"])

        let short = try dir.write("short.txt.gz", bytes: TestGzip.member(TinyOpenAIVocabulary.text(total: 100)))
        let e2 = expectTokenizerError { try CLIPTokenizer(openAIVocabulary: short) }
        guard case .malformedVocabulary? = e2 else { Issue.record("got \(String(describing: e2))"); return }
        check(e2, file: short, mentions: ["48894"])

        let latin1 = try dir.write("latin1.txt.gz", bytes: TestGzip.member([0x23, 0xE9, 0x0A]))
        let e3 = expectTokenizerError { try CLIPTokenizer(openAIVocabulary: latin1) }
        check(e3, file: latin1, mentions: ["UTF-8"])
    }

    @Test("malformed vocab.json and merges.txt")
    func malformedHuggingFace() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (vocab, merges) = try VocabularyFormatTests.writeHuggingFace(in: dir)

        let badMerges = try dir.write("bad_merges.txt", "#version: 0.2\nh e\nl l x\n")
        let e1 = expectTokenizerError { try CLIPTokenizer(vocabJSON: vocab, merges: badMerges) }
        guard case .malformedVocabulary? = e1 else { Issue.record("got \(String(describing: e1))"); return }
        check(e1, file: badMerges, mentions: ["line 3"])

        let unknownResult = try dir.write("unknown.txt", "#version: 0.2\nh e\nl o\n")
        let e2 = expectTokenizerError { try CLIPTokenizer(vocabJSON: vocab, merges: unknownResult) }
        check(e2, file: unknownResult, mentions: ["\"lo\"", "vocab.json"])

        let notJSON = try dir.write("broken.json", "{\"a\": 1,")
        let e3 = expectTokenizerError { try CLIPTokenizer(vocabJSON: notJSON, merges: merges) }
        guard case .malformedVocabulary? = e3 else { Issue.record("got \(String(describing: e3))"); return }
        check(e3, file: notJSON, mentions: ["JSON"])

        let noSpecial = try VocabularyFormatTests.writeHuggingFace(in: dir, special: ["<|startoftext|>"]).0
        let e4 = expectTokenizerError { try CLIPTokenizer(vocabJSON: noSpecial, merges: merges) }
        check(e4, file: noSpecial, mentions: ["<|endoftext|>"])

        let tooSmall = try dir.write("small.json", "{\"a\": 0, \"<|startoftext|>\": 1, \"<|endoftext|>\": 2}")
        let e5 = expectTokenizerError { try CLIPTokenizer(vocabJSON: tooSmall, merges: merges) }
        check(e5, file: tooSmall, mentions: ["byte"])
    }
}
