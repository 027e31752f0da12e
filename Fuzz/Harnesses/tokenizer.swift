import ClipoodTokenizer
import Foundation

// CLIP's BPE tokenizer on arbitrary UTF-8, with a small vocabulary learnt in the harness (the
// real one is not in the repository). Ids stay inside the vocabulary; a context row is start,
// ids, end, zero padding (or cut, ending in the end token); decoding and encoding again gives the
// same ids.
enum Harness {
    static let tokenizer: CLIPTokenizer = {
        let corpus = ["a photo of a cat.", "A sketch of a dog!", "the painting of an alarm clock, 2023",
                      "naïve café — déjà vu ☕️ 東京 👍🏽", "don't you're we've I'm they'll he'd it's",
                      "&amp; &lt;b&gt; 3.14159 + 1e-5 = x_y"]
        let vocabulary = BPETrainer.train(corpus: corpus, vocabularySize: 600)
        let dir = URL(fileURLWithPath: Fuzz.scratch).appendingPathComponent("vocab")
        try! BPETrainer.write(vocabulary, to: dir)
        return try! CLIPTokenizer(vocabJSON: dir.appendingPathComponent("vocab.json"), merges: dir.appendingPathComponent("merges.txt"))
    }()

    static func run(_ input: Data) {
        let text = String(decoding: input, as: UTF8.self)
        let t = tokenizer
        let ids = t.encode(text)
        Fuzz.check(ids.allSatisfy { $0 >= 0 && Int($0) < t.vocabularySize }, "ids outside a vocabulary of \(t.vocabularySize): \(ids)")

        let row = t.tokenize([text])
        Fuzz.check(row.count == t.contextLength, "a row of \(row.count) ids")
        Fuzz.check(row[0] == t.startToken, "the row does not begin with the start token")
        // The text itself may hold the special tokens, so the end is found by position, not by id.
        let end = min(ids.count + 1, t.contextLength - 1)
        Fuzz.check(row[end] == t.endToken, "the row \(row) has no end token after \(ids.count) ids")
        Fuzz.check(Array(row[1 ..< end]) == Array(ids.prefix(end - 1)), "the row \(row) is not start + \(ids) + end")
        Fuzz.check(row[(end + 1)...].allSatisfy { $0 == 0 }, "ids after the end token: \(row)")

        // Decoding drops start and end tokens and the zero padding after an end token (they can
        // come from the text itself); the rest must encode back to the same ids.
        var kept: [Int32] = []
        var afterEnd = false
        for id in ids {
            if id == t.startToken { afterEnd = false; continue }
            if id == t.endToken { afterEnd = true; continue }
            if afterEnd && id == 0 { continue }
            afterEnd = false
            kept.append(id)
        }
        let decoded = t.decode(ids)
        // Encoding unescapes HTML entities first, so a decoded "&amp;" legitimately encodes as
        // "&": the round trip is only an invariant for text without "&".
        guard !decoded.contains("&") else { return }
        Fuzz.check(t.encode(decoded) == kept, "decode then encode changes the ids: \(text.debugDescription) → \(ids) → \(decoded.debugDescription) → \(t.encode(decoded))")
    }

    static func seeds() -> [String: Data] {
        let texts = ["a photo of a cat.", "A SKETCH of   a dog!!", "naïve café — déjà vu ☕️ 東京 👍🏽",
                     "&amp;amp; &lt;b&gt; &#65; &#x1F600;", "don't 'tis '' 'll", "<|startoftext|>hello<|endoftext|>",
                     "ascii\ttab\nnewline\r\n\u{0}nul", "Ã©tÃ© â€™quotesâ€\u{9d}", "x ﬁ ①② ½",
                     String(repeating: "long words ", count: 60)]
        var seeds: [String: Data] = [:]
        for (i, t) in texts.enumerated() { seeds["text\(i)"] = Data(t.utf8) }
        return seeds
    }
}
