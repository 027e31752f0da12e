import ClipoodTokenizer
import Foundation
import Testing

@Suite("vocabulary formats")
struct VocabularyFormatTests {
    @Test("OpenAI's .gz format: vocabulary built as open_clip builds it")
    func openAIFormat() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let gz = try dir.write("tiny.txt.gz", bytes: TestGzip.member(TinyOpenAIVocabulary.text()))
        let tokenizer = try CLIPTokenizer(openAIVocabulary: gz)

        #expect(tokenizer.vocabularySize == 49408)
        #expect(tokenizer.startToken == 49406)
        #expect(tokenizer.endToken == 49407)
        // Merge k's token has id 512 + k: "hello</w>" is merge 3, "world</w>" merge 7.
        #expect(tokenizer.encode("Hello, WORLD") == [515, TinyOpenAIVocabulary.byteId(",", withEnd: true), 519])
        #expect(tokenizer.bpeTokens("hello world") == ["hello</w>", "world</w>"])
        // No merge for (h, e</w>): two byte symbols.
        #expect(tokenizer.encode("he") == [TinyOpenAIVocabulary.byteId("h"), TinyOpenAIVocabulary.byteId("e", withEnd: true)])
        // "hell" + "o" needs "o</w>"; "hello" inside "helloo" stays "hell", "o", "o</w>".
        #expect(tokenizer.bpeTokens("helloo") == ["hell", "o", "o</w>"])
        #expect(tokenizer.tokenize(["hello"], contextLength: 5) == [49406, 515, 49407, 0, 0])
        #expect(tokenizer.encode("<start_of_text>hello<end_of_text>") == [49406, 515, 49407])
        #expect(tokenizer.decode([49406, 515, 519, 49407, 0, 0]) == "hello world")
    }

    @Test("gzip members written one after another are read as one file")
    func multiMemberGzip() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let text = Array(TinyOpenAIVocabulary.text().utf8)
        let cut = text.count / 3
        let gz = try dir.write("two.txt.gz", bytes: TestGzip.member(Array(text[..<cut])) + TestGzip.member(Array(text[cut...])) + [0, 0, 0])
        let tokenizer = try CLIPTokenizer(openAIVocabulary: gz)
        #expect(tokenizer.encode("hello world") == [515, 519])
    }

    @Test("the real .gz loads directly and agrees with the cached tokenizer")
    func realGzip() throws {
        let cached = try realTokenizer()
        let direct = try CLIPTokenizer(openAIVocabulary: VocabularyCache.openAIVocabulary)
        #expect(direct.vocabularySize == 49408)
        let texts = ["a photo of a dog.", "Zürich Müller straße", "🍕 & 猫"]
        #expect(direct.tokenize(texts) == cached.tokenize(texts))
        #expect(direct.encode("a photo of a dog.") == [320, 1125, 539, 320, 1929, 269])
    }

    /// vocab.json: the 512 byte symbols in OpenAI's order, four merges, the two special tokens.
    static func writeHuggingFace(in dir: TemporaryDirectory, merges: [String] = ["h e", "l l", "he ll", "hell o</w>"],
                                 extraTokens: [String] = ["he", "ll", "hell", "hello</w>"],
                                 special: [String] = ["<|startoftext|>", "<|endoftext|>"]) throws -> (URL, URL) {
        var vocab: [String: Int] = [:]
        var next = 0
        for suffix in ["", "</w>"] {
            for b in ByteEncoder.vocabularyOrder {
                vocab[String(ByteEncoder.scalars[Int(b)]) + suffix] = next
                next += 1
            }
        }
        for t in extraTokens + special { vocab[t] = next; next += 1 }
        let json = try JSONEncoder().encode(vocab)
        let vocabURL = dir.file("vocab.json")
        try json.write(to: vocabURL)
        let mergesURL = try dir.write("merges.txt", "#version: 0.2\n" + merges.joined(separator: "\n") + "\n")
        return (vocabURL, mergesURL)
    }

    @Test("Hugging Face format: a hand-made vocab.json + merges.txt")
    func huggingFaceFormat() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (vocab, merges) = try Self.writeHuggingFace(in: dir)
        let tokenizer = try CLIPTokenizer(vocabJSON: vocab, merges: merges)

        #expect(tokenizer.vocabularySize == 518)
        #expect(tokenizer.startToken == 516)
        #expect(tokenizer.endToken == 517)
        #expect(tokenizer.encode("HELLO hello") == [515, 515])
        // The last "l" carries "</w>", so "l l" cannot merge and neither can "he ll".
        #expect(tokenizer.bpeTokens("hell") == ["he", "l", "l</w>"])
        #expect(tokenizer.tokenize(["hello", "he"], contextLength: 4)
            == [516, 515, 517, 0, 516, TinyOpenAIVocabulary.byteId("h"), TinyOpenAIVocabulary.byteId("e", withEnd: true), 517])
        // Hugging Face's special-token spelling is the one kept whole.
        #expect(tokenizer.encode("<|endoftext|>") == [517])
        #expect(tokenizer.decode(tokenizer.tokenize(["hello hello"], contextLength: 8)) == "hello hello")
    }
}
