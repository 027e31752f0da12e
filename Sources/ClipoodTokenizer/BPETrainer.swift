import ClipoodIO
import Foundation

/// Learns a small byte-level BPE vocabulary from a corpus, the way CLIP's own was built, and
/// writes it as `vocab.json` + `merges.txt` that `CLIPTokenizer(vocabJSON:merges:)` reads (for
/// the built-in demo model, whose captions use a few hundred words).
///
/// Words come from the same clean-up and pre-tokenisation as tokenising; each is a sequence of
/// byte symbols with `</w>` on its last. Each round merges the most frequent adjacent pair
/// (ties: the smallest pair in string order, so the result is deterministic) until the
/// vocabulary — 256 bytes, 256 word ends, the merges, and the two special tokens — is full.
public enum BPETrainer {
    public struct Vocabulary: Equatable {
        /// Token strings in id order.
        public let tokens: [String]
        /// Merges in rank order.
        public let merges: [[String]]
    }

    public static func train(corpus: [String], vocabularySize: Int) -> Vocabulary {
        let base = ByteEncoder.vocabularyOrder.map { String(ByteEncoder.scalars[Int($0)]) }
        var tokens = base + base.map { $0 + "</w>" }
        let specials = ["<|startoftext|>", "<|endoftext|>"]
        // Word frequencies.
        let pre = PreTokenizer(specialTokens: [])
        var counts: [String: Int] = [:]
        for text in corpus {
            let cleaned = TextCleanup.clean(text)
            for piece in pre.split(cleaned) {
                var bytes: [UInt8] = []
                for c in cleaned[piece.range] { UTF8.encode(c) { bytes.append($0) } }
                counts[ByteEncoder.encode(bytes), default: 0] += 1
            }
        }
        var words: [(symbols: [String], count: Int)] = counts.keys.sorted().map { w in
            var s = w.unicodeScalars.map { String($0) }
            s[s.count - 1] += "</w>"
            return (s, counts[w]!)
        }
        var merges: [[String]] = []
        while tokens.count + specials.count < vocabularySize {
            var pairs: [String: (a: String, b: String, n: Int)] = [:]
            for w in words where w.symbols.count > 1 {
                for i in 0 ..< w.symbols.count - 1 {
                    let key = w.symbols[i] + "\u{0}" + w.symbols[i + 1]
                    pairs[key, default: (w.symbols[i], w.symbols[i + 1], 0)].n += w.count
                }
            }
            guard let best = pairs.max(by: { $0.value.n != $1.value.n ? $0.value.n < $1.value.n : $0.key > $1.key }) else { break }
            let (a, b) = (best.value.a, best.value.b)
            merges.append([a, b])
            tokens.append(a + b)
            for k in words.indices where words[k].symbols.count > 1 {
                var s = words[k].symbols, out: [String] = []
                var i = 0
                while i < s.count {
                    if i + 1 < s.count && s[i] == a && s[i + 1] == b { out.append(a + b); i += 2 } else { out.append(s[i]); i += 1 }
                }
                s = out
                words[k].symbols = s
            }
        }
        return Vocabulary(tokens: tokens + specials, merges: merges)
    }

    /// Writes `vocab.json` (token → id) and `merges.txt` (a `#version` line, then one merge a line).
    public static func write(_ v: Vocabulary, to directory: URL) throws {
        try AtomicWrite.makeFolders(directory.path)
        var ids: [String: Int] = [:]
        for (i, t) in v.tokens.enumerated() { ids[t] = i }
        let json = try JSONSerialization.data(withJSONObject: ids, options: [.sortedKeys])
        try AtomicWrite.write(json, to: directory.appendingPathComponent("vocab.json").path)
        let merges = "#version: 0.2\n" + v.merges.map { $0.joined(separator: " ") }.joined(separator: "\n") + "\n"
        try AtomicWrite.write(merges, to: directory.appendingPathComponent("merges.txt").path)
    }
}
