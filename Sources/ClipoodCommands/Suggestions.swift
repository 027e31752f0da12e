/// "Did you mean …?" by edit distance, as swift-argument-parser and git do it.
public enum Suggestions {
    /// Levenshtein distance between two strings, by characters.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0 ... b.count), cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1 ... a.count {
            cur[0] = i
            for j in 1 ... b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }

    /// The closest candidates within a distance that grows with the word's length, best first.
    public static func closest(to word: String, in candidates: [String], limit: Int = 3) -> [String] {
        let threshold = max(2, word.count / 3)
        let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
            .filter { $0.1 <= threshold || $0.0.hasPrefix(word) }
            .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
        return Array(scored.prefix(limit).map(\.0))
    }

    /// " (did you mean 'x'?)" or "" — ready to append to a message.
    public static func didYouMean(_ word: String, in candidates: [String]) -> String {
        let c = closest(to: word, in: candidates)
        guard !c.isEmpty else { return "" }
        return " (did you mean " + c.map { "'\($0)'" }.joined(separator: " or ") + "?)"
    }
}
