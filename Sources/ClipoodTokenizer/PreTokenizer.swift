/// CLIP's pre-tokenisation, a hand-written scanner equivalent to open_clip's pattern
///
///     <special tokens>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
///
/// compiled with Python's `regex` module and `IGNORECASE`, run with `findall` on the cleaned,
/// lower-cased text. At each position the alternatives are tried in order; characters that no
/// alternative matches (white space) are skipped. \p{L} and \p{N} are the general categories
/// L* and N*; \s is the White_Space property. Two consequences of `IGNORECASE` survive the
/// lower-casing: "ſ" (U+017F, long s) matches "s" in `'s` and in the special tokens, and
/// U+0345 (combining ypogegrammeni, whose case fold is ι) matches none of the classes, so it
/// is dropped like white space.
struct PreTokenizer {
    /// A piece of the text: its scalars' range, and whether it matched a special-token alternative.
    struct Piece {
        var range: Range<Int>
        var special: Bool
    }

    enum ScalarClass: UInt8 { case letter, number, space, dropped, other }

    let specialTokens: [[Unicode.Scalar]]

    init(specialTokens: [String]) {
        self.specialTokens = specialTokens.map { Array($0.unicodeScalars) }
    }

    func split(_ s: [Unicode.Scalar]) -> [Piece] {
        var pieces: [Piece] = []
        let n = s.count
        var i = 0
        scanning: while i < n {
            let c = s[i]
            for token in specialTokens where matches(token, in: s, at: i) {
                pieces.append(Piece(range: i ..< i + token.count, special: true))
                i += token.count
                continue scanning
            }
            if c == "'" {
                for suffix in PreTokenizer.contractions where matches(suffix, in: s, at: i + 1) {
                    pieces.append(Piece(range: i ..< i + 1 + suffix.count, special: false))
                    i += 1 + suffix.count
                    continue scanning
                }
            }
            let cls = PreTokenizer.classify(c)
            switch cls {
            case .letter:
                var j = i + 1
                while j < n, PreTokenizer.classify(s[j]) == .letter { j += 1 }
                pieces.append(Piece(range: i ..< j, special: false))
                i = j
            case .number:
                pieces.append(Piece(range: i ..< i + 1, special: false))
                i += 1
            case .other:
                var j = i + 1
                while j < n, PreTokenizer.classify(s[j]) == .other { j += 1 }
                pieces.append(Piece(range: i ..< j, special: false))
                i = j
            case .space, .dropped:
                i += 1
            }
        }
        return pieces
    }

    static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }

    /// Case-insensitive match of a lower-case ASCII pattern (the regex's simple case folding).
    private func matches(_ pattern: [Unicode.Scalar], in s: [Unicode.Scalar], at start: Int) -> Bool {
        guard start + pattern.count <= s.count else { return false }
        for (k, p) in pattern.enumerated() where !PreTokenizer.foldEquals(s[start + k], p) {
            return false
        }
        return true
    }

    static func foldEquals(_ c: Unicode.Scalar, _ p: Unicode.Scalar) -> Bool {
        if c == p { return true }
        let lowerP = (0x41 ... 0x5A).contains(p.value) ? p.value + 32 : p.value
        let lowerC = (0x41 ... 0x5A).contains(c.value) ? c.value + 32 : c.value
        if lowerC == lowerP { return true }
        switch (c.value, lowerP) {
        case (0x017F, 0x73): return true   // ſ ~ s
        case (0x212A, 0x6B): return true   // Kelvin sign ~ k
        default: return false
        }
    }

    static func classify(_ c: Unicode.Scalar) -> ScalarClass {
        if c.value < 0x80 { return asciiClasses[Int(c.value)] }
        if c.value == 0x0345 { return .dropped }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return c.properties.isWhitespace ? .space : .other
        }
    }

    private static let asciiClasses: [ScalarClass] = (0 ..< 128).map { v in
        switch v {
        case 0x41 ... 0x5A, 0x61 ... 0x7A: return .letter
        case 0x30 ... 0x39: return .number
        case 0x09 ... 0x0D, 0x20: return .space
        default: return .other
        }
    }
}
