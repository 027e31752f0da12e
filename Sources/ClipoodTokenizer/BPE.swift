import Foundation

/// Byte-pair encoding of one pre-tokenised word, CLIP's way: the word's UTF-8 bytes become
/// byte symbols, the last one carrying `</w>`; then, as long as some adjacent pair is a known
/// merge, the pair with the lowest rank is merged everywhere it occurs, left to right without
/// overlaps. Symbols are vocabulary ids throughout, so the inner loop compares integers.
/// Results are cached per word (the cache is emptied when it grows past `cacheLimit` words).
final class BytePairEncoder: @unchecked Sendable {
    /// (left << 32 | right) → (rank << 32 | merged id).
    private let merges: [UInt64: UInt64]
    /// The id of each byte's symbol, without and with `</w>`.
    private let byteSymbol: [Int32]
    private let byteEndSymbol: [Int32]

    private var cache: [[UInt8]: [Int32]] = [:]
    private let lock = NSLock()
    let cacheLimit = 100_000

    init(merges: [UInt64: UInt64], byteSymbol: [Int32], byteEndSymbol: [Int32]) {
        self.merges = merges
        self.byteSymbol = byteSymbol
        self.byteEndSymbol = byteEndSymbol
    }

    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Appends the ids for one word (its UTF-8 bytes, not empty) to `out`.
    func encode(word: [UInt8], into out: inout [Int32]) {
        guard !word.isEmpty else { return }
        lock.lock()
        let hit = cache[word]
        lock.unlock()
        if let hit { out.append(contentsOf: hit); return }

        let ids = merge(word)
        out.append(contentsOf: ids)
        lock.lock()
        if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[word] = ids
        lock.unlock()
    }

    private func merge(_ word: [UInt8]) -> [Int32] {
        var symbols = [Int32]()
        symbols.reserveCapacity(word.count)
        for b in word.dropLast() { symbols.append(byteSymbol[Int(b)]) }
        symbols.append(byteEndSymbol[Int(word[word.count - 1])])
        var scratch = [Int32]()
        scratch.reserveCapacity(symbols.count)

        while symbols.count > 1 {
            // The known pair with the lowest rank (ranks are unique, so this names one pair).
            var best = UInt64.max
            var at = 0
            for k in 0 ..< symbols.count - 1 {
                if let m = merges[Self.key(symbols[k], symbols[k + 1])], m < best { best = m; at = k }
            }
            if best == UInt64.max { break }
            let merged = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            let first = symbols[at], second = symbols[at + 1]
            scratch.removeAll(keepingCapacity: true)
            var k = 0
            while k < symbols.count {
                if k + 1 < symbols.count, symbols[k] == first, symbols[k + 1] == second {
                    scratch.append(merged)
                    k += 2
                } else {
                    scratch.append(symbols[k])
                    k += 1
                }
            }
            swap(&symbols, &scratch)
        }
        return symbols
    }
}
