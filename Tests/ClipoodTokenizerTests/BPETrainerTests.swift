import ClipoodTokenizer
import Foundation
import Testing

@Suite("learning a small BPE vocabulary")
struct BPETrainerTests {
    let corpus = (0 ..< 50).flatMap { i in
        ["a photo of a red ball.", "a sketch of a small cat.", "a cartoon of a big red apple.", "a painting of a tree number \(i % 7)."]
    }

    @Test func learnsFrequentWordsAndRoundTrips() throws {
        // A size the corpus cannot fill stops when every word is one token.
        let v = BPETrainer.train(corpus: corpus, vocabularySize: 2000)
        #expect(v.tokens.count < 2000)
        #expect(BPETrainer.train(corpus: corpus, vocabularySize: 540).tokens.count == 540)
        #expect(v.tokens.last == "<|endoftext|>")
        #expect(v.tokens.contains("photo</w>") && v.tokens.contains("apple</w>"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipood-bpe-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try BPETrainer.write(v, to: dir)
        let t = try CLIPTokenizer(vocabJSON: dir.appendingPathComponent("vocab.json"), merges: dir.appendingPathComponent("merges.txt"))
        #expect(t.vocabularySize == v.tokens.count)
        #expect(Int(t.startToken) == v.tokens.count - 2 && Int(t.endToken) == v.tokens.count - 1)
        // Frequent words are single tokens; any text still encodes (bytes as a fallback).
        #expect(t.bpeTokens("a red ball") == ["a</w>", "red</w>", "ball</w>"])
        let ids = t.tokenize(["a photo of a red ball.", "zebra ☂"])
        #expect(ids.allSatisfy { $0 >= 0 && Int($0) < v.tokens.count })
        #expect(t.decode(Array(ids[0 ..< 77])) == "a photo of a red ball .")
        // Deterministic.
        #expect(BPETrainer.train(corpus: corpus, vocabularySize: 2000) == v)
    }
}
