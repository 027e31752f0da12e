/// open_clip's default clean-up (`clean='lower'`) before pre-tokenisation:
///
///     whitespace_clean(basic_clean(text)).lower()
///     basic_clean(text)      = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
///     whitespace_clean(text) = " ".join(text.split()).strip()
///
/// `ftfy.fix_text` is `TextFixes.fixText` (see there for what is and is not reproduced).
/// Python's `str.split()`/`strip()` cut at `str.isspace()` characters and `str.lower()` uses full
/// Unicode lower-case mappings with the final-sigma rule; both are mirrored exactly here.
enum TextCleanup {
    static func clean(_ text: String) -> [Unicode.Scalar] {
        var s = Array(text.unicodeScalars)
        s = TextFixes.fixText(s)
        s = HTMLEntities.unescape(HTMLEntities.unescape(s))
        s = collapseWhitespace(s)
        return lowercase(s)
    }

    /// Python's `str.isspace()`: bidirectional class WS, B or S, or general category Zs.
    static func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09 ... 0x0D, 0x1C ... 0x20, 0x85, 0xA0, 0x1680, 0x2000 ... 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `" ".join(s.split())`: runs of white space become one space, none at either end.
    static func collapseWhitespace(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var pendingSpace = false
        for c in s {
            if isPythonSpace(c) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" "); pendingSpace = false }
                out.append(c)
            }
        }
        return out
    }

    /// Python's `str.lower()`.
    static func lowercase(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        for (i, c) in s.enumerated() {
            if c.value < 0x80 {
                out.append((0x41 ... 0x5A).contains(c.value) ? Unicode.Scalar(c.value + 32)! : c)
            } else if c.value == 0x03A3 {
                out.append(isFinalSigma(s, at: i) ? "\u{03C2}" : "\u{03C3}")
            } else if c.properties.changesWhenLowercased, isKnownToReferencePython(c) {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// The reference fixtures come from CPython 3.11, whose `str.lower()` knows Unicode 14.0;
    /// letters encoded later (Garay, Kirat Rai, … in Unicode 16) keep their case there.
    static let referenceUnicodeVersion = (major: 14, minor: 0)

    private static func isKnownToReferencePython(_ c: Unicode.Scalar) -> Bool {
        guard let age = c.properties.age else { return false }
        return (age.major, age.minor) <= referenceUnicodeVersion
    }

    /// Σ becomes ς when a cased letter precedes it and none follows it, skipping
    /// case-ignorable characters on both sides (Unicode's Final_Sigma, as CPython tests it).
    private static func isFinalSigma(_ s: [Unicode.Scalar], at i: Int) -> Bool {
        var j = i - 1
        while j >= 0, s[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0, s[j].properties.isCased else { return false }
        j = i + 1
        while j < s.count, s[j].properties.isCaseIgnorable { j += 1 }
        return j == s.count || !s[j].properties.isCased
    }
}
