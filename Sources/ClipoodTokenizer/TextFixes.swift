import Foundation

/// The part of `ftfy.fix_text` (ftfy 6, default settings) that open_clip's clean-up runs and
/// that matters for prompts and captions, reimplemented from ftfy's documented behaviour:
///
/// - the text is fixed line by line (segments end after each "\n"); once a line contains "<",
///   HTML unescaping is switched off for it and for every later line (ftfy's "auto" mode);
/// - each line is fixed repeatedly until nothing changes, each round doing, in ftfy's order:
///   HTML unescaping (`&…;` only, see `HTMLEntities.unescapeStrict`), mojibake repair (below),
///   C1 controls read as Windows-1252, Latin ligatures taken apart (ﬁ → fi), halfwidth and
///   fullwidth forms made normal width (ＡＢＣ → ABC, U+3000 → space), curly quotes
///   straightened, line breaks made "\n", ANSI terminal escapes removed, unwanted control
///   characters removed, and NFC normalisation.
///
/// Not reproduced, on purpose:
/// - ftfy's mojibake detector (`badness.is_bad`, a hand-tuned heuristic over ~400 characters) and
///   its repairs through code pages other than Latin-1/Windows-1252 (1250, 1251, 1253, 1254,
///   1257, ISO 8859-2, MacRoman, CP437), `restore_byte_a0` (a space standing for a lost NBSP
///   byte: ftfy reads "Ã la" as "à la") and `replace_lossy_sequences` (U+FFFD inside mojibake).
///   Instead, `fixEncoding` re-reads UTF-8 that was decoded as Latin-1/Windows-1252 — the whole
///   line when all of it re-encodes to valid UTF-8, else each run of UTF-8-looking characters
///   — when it contains a convincing multi-byte sequence (one whose lead is "Â"/"Ã", or that has
///   a continuation other than a quote, dash, ellipsis or similar: "CAFÉ’S" and "perché…»" stay).
///   That repairs the usual cases ("cafÃ©" → "café", "â€™" → "’", Cyrillic, CJK and emoji
///   mojibake, alone or inside good text) and leaves real text alone. Checked against ftfy 6.3
///   on thousands of generated strings: real text in many languages (with typographic
///   punctuation) and whole-line mojibake come out the same; the two disagree only on
///   borderline garble (ftfy reads "Â " as a no-break space; it keeps "Ú²", which becomes "ڲ"
///   here). Prompts and class names are typed by people in UTF-8, so the difference does not
///   reach real prompts.
/// - `fix_surrogates`: Swift strings cannot hold unpaired surrogates.
enum TextFixes {
    static func fixText(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var unescapeHTML = true
        var pos = 0
        let maxSegment = 1_000_000
        while pos < text.count {
            var end = pos
            while end < text.count, text[end] != "\n" { end += 1 }
            end = min(end + 1, text.count)
            if end - pos > maxSegment { end = pos + maxSegment }
            let segment = Array(text[pos ..< end])
            if unescapeHTML, segment.contains("<") { unescapeHTML = false }
            out.append(contentsOf: fixSegment(segment, unescapeHTML: unescapeHTML))
            pos = end
        }
        return out
    }

    static func fixSegment(_ segment: [Unicode.Scalar], unescapeHTML: Bool) -> [Unicode.Scalar] {
        var text = segment
        // ftfy repeats until nothing changes; the cap only guards against a cycle.
        for _ in 0 ..< 32 {
            let original = text
            if unescapeHTML { text = HTMLEntities.unescapeStrict(text) }
            text = fixEncoding(text)
            text = mapCharacters(text)
            text = fixLineBreaks(text)
            text = removeTerminalEscapes(text)
            text = removeControlCharacters(text)
            text = nfc(text)
            if text == original { break }
        }
        return text
    }

    // MARK: - Mojibake

    /// Undoes UTF-8 that was decoded as Latin-1 or Windows-1252, repeatedly (double mojibake):
    /// the whole line when all of it re-encodes to convincing UTF-8, otherwise each run of
    /// convincing UTF-8-looking characters on its own.
    static func fixEncoding(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var text = text
        while let fixed = decodeMisreadUTF8(text) ?? decodeEmbeddedMisreadUTF8(text) { text = fixed }
        return text
    }

    /// Continuation bytes (0x80–0xBF in Windows-1252) that often follow a letter in real text:
    /// quotes, dashes, ellipsis, bullet, guillemets, NBSP, soft hyphen, middle dot, acute accent.
    /// A sequence whose continuations are all of these is not taken as proof of mojibake
    /// ("CAFÉ’S", "perché…»"), unless its lead byte is C2/C3 ("Â", "Ã"), which real text
    /// practically never puts before them.
    private static func isOrdinaryContinuation(_ b: UInt8) -> Bool {
        switch b {
        case 0x82, 0x84, 0x85, 0x91 ... 0x97, 0xA0, 0xAB, 0xAD, 0xB4, 0xB7, 0xBB: return true
        default: return false
        }
    }

    /// The byte of a character in Latin-1 (below U+0100) or else Windows-1252.
    private static func misreadByte(_ c: Unicode.Scalar) -> UInt8? {
        c.value <= 0xFF ? UInt8(c.value) : Windows1252.encode(c)
    }

    /// Length of the valid UTF-8 sequence starting at `bytes[i]` (1 for ASCII), or 0.
    private static func sequenceLength(_ bytes: [UInt8], at i: Int) -> Int {
        let b = bytes[i]
        let n = b < 0x80 ? 1 : b < 0xC2 ? 0 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : b < 0xF5 ? 4 : 0
        guard n > 1 else { return n }
        guard i + n <= bytes.count else { return 0 }
        for k in 1 ..< n where !(0x80 ... 0xBF).contains(bytes[i + k]) { return 0 }
        let second = bytes[i + 1]
        switch b {
        case 0xE0 where second < 0xA0, 0xED where second > 0x9F, 0xF0 where second < 0x90, 0xF4 where second > 0x8F:
            return 0                                        // overlong, surrogate, beyond U+10FFFF
        default:
            return n
        }
    }

    private static func isConvincing(_ bytes: [UInt8], at i: Int, length n: Int) -> Bool {
        if n == 2, bytes[i] == 0xC2 || bytes[i] == 0xC3 { return true }
        for k in 1 ..< n where !isOrdinaryContinuation(bytes[i + k]) { return true }
        return false
    }

    /// The whole text re-read as UTF-8, when it encodes to Latin-1 or Windows-1252 bytes that
    /// are valid UTF-8 with at least one convincing multi-byte sequence.
    private static func decodeMisreadUTF8(_ text: [Unicode.Scalar]) -> [Unicode.Scalar]? {
        guard text.contains(where: { $0.value >= 0x80 }) else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.count)
        if text.allSatisfy({ $0.value <= 0xFF }) {
            for c in text { bytes.append(UInt8(c.value)) }                  // Latin-1
        } else {
            for c in text {                                                  // Windows-1252
                guard let b = Windows1252.encode(c) else { return nil }
                bytes.append(b)
            }
        }
        var convincing = false
        var i = 0
        while i < bytes.count {
            let n = sequenceLength(bytes, at: i)
            guard n > 0 else { return nil }
            if n > 1, !convincing { convincing = isConvincing(bytes, at: i, length: n) }
            i += n
        }
        guard convincing, let decoded = String(validating: bytes, as: UTF8.self) else { return nil }
        let result = Array(decoded.unicodeScalars)
        return result == text ? nil : result
    }

    /// Mojibake inside otherwise good text: maximal runs of characters whose bytes form UTF-8
    /// sequences, not preceded by a character that is itself a non-ordinary continuation byte
    /// (then the run is the tail of some larger garble), each re-read when it is convincing.
    private static func decodeEmbeddedMisreadUTF8(_ text: [Unicode.Scalar]) -> [Unicode.Scalar]? {
        guard text.contains(where: { (0xC2 ... 0xF4).contains($0.value) }) else { return nil }
        let bytes: [UInt8] = text.map { misreadByte($0) ?? 0 }               // 0: no byte, never part of a run
        var out: [Unicode.Scalar] = []
        var changed = false
        var i = 0
        while i < text.count {
            let b = bytes[i]
            let startsRun = (0xC2 ... 0xF4).contains(b) && text[i].value >= 0x80
                && !(i > 0 && text[i - 1].value >= 0x80 && (0x80 ... 0xBF).contains(bytes[i - 1])
                    && !isOrdinaryContinuation(bytes[i - 1]))
            guard startsRun else { out.append(text[i]); i += 1; continue }
            var j = i
            var convincing = false
            while j < text.count, (0xC2 ... 0xF4).contains(bytes[j]), text[j].value >= 0x80 {
                let n = sequenceLength(bytes, at: j)
                guard n > 1, (j ..< j + n).allSatisfy({ text[$0].value >= 0x80 }) else { break }
                if !convincing { convincing = isConvincing(bytes, at: j, length: n) }
                j += n
            }
            if j > i, convincing, let decoded = String(validating: bytes[i ..< j], as: UTF8.self) {
                out.append(contentsOf: decoded.unicodeScalars)
                changed = true
                i = j
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return changed ? out : nil
    }

    // MARK: - One character at a time

    /// C1 controls → Windows-1252, ligatures, character width and curly quotes, composed in
    /// ftfy's order for each character.
    static func mapCharacters(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains(where: { $0.value >= 0x80 }) else { return text }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        for c in text {
            var first = c
            if (0x80 ... 0x9F).contains(c.value) { first = Windows1252.decode(UInt8(c.value)) }
            for l in ligature(first) {
                if let wide = width(l) {
                    for w in wide { out.append(uncurl(w)) }
                } else {
                    out.append(uncurl(l))
                }
            }
        }
        return out
    }

    private static func ligature(_ c: Unicode.Scalar) -> [Unicode.Scalar] {
        switch c.value {
        case 0x0132: return ["I", "J"]
        case 0x0133: return ["i", "j"]
        case 0x0149: return ["\u{02BC}", "n"]
        case 0x01F1: return ["D", "Z"]
        case 0x01F2: return ["D", "z"]
        case 0x01F3: return ["d", "z"]
        case 0x01C4: return ["D", "\u{017D}"]
        case 0x01C5: return ["D", "\u{017E}"]
        case 0x01C6: return ["d", "\u{017E}"]
        case 0x01C7: return ["L", "J"]
        case 0x01C8: return ["L", "j"]
        case 0x01C9: return ["l", "j"]
        case 0x01CA: return ["N", "J"]
        case 0x01CB: return ["N", "j"]
        case 0x01CC: return ["n", "j"]
        case 0xFB00: return ["f", "f"]
        case 0xFB01: return ["f", "i"]
        case 0xFB02: return ["f", "l"]
        case 0xFB03: return ["f", "f", "i"]
        case 0xFB04: return ["f", "f", "l"]
        case 0xFB05: return ["\u{017F}", "t"]
        case 0xFB06: return ["s", "t"]
        default: return [c]
        }
    }

    /// Halfwidth and fullwidth forms (U+FF01…U+FFEF) → their NFKC form; U+3000 → space.
    private static func width(_ c: Unicode.Scalar) -> [Unicode.Scalar]? {
        if c.value == 0x3000 { return [" "] }
        guard (0xFF01 ... 0xFFEF).contains(c.value) else { return nil }
        return widthTable[Int(c.value - 0xFF01)]
    }

    private static let widthTable: [[Unicode.Scalar]?] = (0xFF01 ... 0xFFEF).map { v in
        let c = Unicode.Scalar(UInt32(v))!
        let normal = Array(String(Character(c)).precomposedStringWithCompatibilityMapping.unicodeScalars)
        return normal == [c] ? nil : normal
    }

    private static func uncurl(_ c: Unicode.Scalar) -> Unicode.Scalar {
        switch c.value {
        case 0x02BC, 0x2018 ... 0x201B: return "'"
        case 0x201C ... 0x201F: return "\""
        default: return c
        }
    }

    // MARK: - Sequences

    /// "\r\n", "\r", U+2028, U+2029 and U+0085 → "\n".
    static func fixLineBreaks(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains(where: { $0 == "\r" || $0 == "\u{2028}" || $0 == "\u{2029}" || $0 == "\u{85}" }) else {
            return text
        }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            let c = text[i]
            switch c {
            case "\r":
                out.append("\n")
                if i + 1 < text.count, text[i + 1] == "\n" { i += 1 }
            case "\u{2028}", "\u{2029}", "\u{85}":
                out.append("\n")
            default:
                out.append(c)
            }
            i += 1
        }
        return out
    }

    /// ESC "[" (decimal digits | ";")* letter — ANSI colours and the like.
    static func removeTerminalEscapes(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("\u{1B}") else { return text }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if text[i] == "\u{1B}", i + 1 < text.count, text[i + 1] == "[" {
                var j = i + 2
                while j < text.count, text[j] == ";" || text[j].properties.generalCategory == .decimalNumber { j += 1 }
                if j < text.count, text[j].isASCII, text[j].properties.isAlphabetic {
                    i = j + 1
                    continue
                }
            }
            out.append(text[i])
            i += 1
        }
        return out
    }

    /// Removes U+0000–U+0008, U+000B, U+000E–U+001F, U+007F, U+206A–U+206F, U+FEFF and
    /// U+FFF9–U+FFFC; keeps the whitespace controls, joiners, bidi marks and tag characters.
    static func removeControlCharacters(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        func unwanted(_ c: Unicode.Scalar) -> Bool {
            switch c.value {
            case 0x00 ... 0x08, 0x0B, 0x0E ... 0x1F, 0x7F, 0x206A ... 0x206F, 0xFEFF, 0xFFF9 ... 0xFFFC: return true
            default: return false
            }
        }
        guard text.contains(where: unwanted) else { return text }
        return text.filter { !unwanted($0) }
    }

    /// Canonical composition (NFC). Text made only of scalars below U+0300 is already NFC.
    static func nfc(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains(where: { $0.value >= 0x300 }) else { return text }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: text)
        return Array(String(view).precomposedStringWithCanonicalMapping.unicodeScalars)
    }
}
