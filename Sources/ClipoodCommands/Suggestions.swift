/// "Did you mean …?" by edit distance, as swift-argument-parser and git do it.
public enum Suggestions {
    /// Edit distance between two strings, by characters: insertions, deletions, substitutions
    /// and swaps of two neighbours each count one (optimal string alignment), so "shwo" is one
    /// edit from "show".
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0 ... a.count { d[i][0] = i }
        for j in 0 ... b.count { d[0][j] = j }
        for i in 1 ... a.count {
            for j in 1 ... b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }

    /// The closest candidates, best first: only near matches. A word of up to three characters
    /// may differ by one edit, up to six by two, longer words by three; a candidate is never
    /// "near" when the edits replace all of it; a candidate that the word begins (three or more
    /// characters typed) is offered too.
    public static func closest(to word: String, in candidates: [String], limit: Int = 3) -> [String] {
        let w = word.lowercased()
        guard !w.isEmpty else { return [] }
        let threshold = w.count <= 3 ? 1 : w.count <= 6 ? 2 : 3
        var scored: [(candidate: String, distance: Int)] = []
        for candidate in candidates {
            let c = candidate.lowercased()
            let distance = editDistance(w, c)
            let near = distance <= threshold && distance < max(c.count, w.count)
            let typedPrefix = w.count >= 3 && c.hasPrefix(w)
            if near || typedPrefix { scored.append((candidate, distance)) }
        }
        scored.sort { $0.distance != $1.distance ? $0.distance < $1.distance : $0.candidate < $1.candidate }
        return scored.prefix(limit).map { $0.candidate }
    }

    /// " (did you mean 'x'?)" or "" — ready to append to a message.
    public static func didYouMean(_ word: String, in candidates: [String]) -> String {
        let c = closest(to: word, in: candidates)
        guard !c.isEmpty else { return "" }
        return " (did you mean " + c.map { "'\($0)'" }.joined(separator: " or ") + "?)"
    }
}
