/// HTML character references, decoded the two ways open_clip's clean-up does it:
/// `unescape` follows Python's `html.unescape` (the HTML standard's rules, including legacy
/// names without a semicolon and the replacements for invalid numeric references), and
/// `unescapeStrict` follows ftfy's more cautious decoder (only `&…;` forms of at most 24
/// letters and digits, plus all-caps spellings of lower-case names such as `&EACUTE;`).
enum HTMLEntities {
    /// Name (with its `;`, or without it for the legacy names) → replacement.
    static let named: [String: [Unicode.Scalar]] = {
        var table = [String: [Unicode.Scalar]](minimumCapacity: 2300)
        for item in htmlNamedCharacterReferences.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            var entry = Substring(item)
            let legacy = entry.first == "+"
            if legacy { entry = entry.dropFirst() }
            guard let eq = entry.firstIndex(of: "=") else { continue }
            let name = String(entry[..<eq])
            let value = entry[entry.index(after: eq)...].split(separator: ",").map {
                Unicode.Scalar(UInt32($0, radix: 16)!)!
            }
            table[name + ";"] = value
            if legacy { table[name] = value }
        }
        return table
    }()

    /// ftfy's table: every `name;` of the standard, plus `NAME;` → upper-cased value for each
    /// all-lower-case name whose upper-case spelling `html.unescape` would leave alone.
    static let strictNamed: [String: [Unicode.Scalar]] = {
        var table = [String: [Unicode.Scalar]](minimumCapacity: 3600)
        for (name, value) in named where name.hasSuffix(";") {
            table[name] = value
        }
        for (name, value) in named where name.hasSuffix(";") && name == name.lowercased() {
            let upper = name.uppercased()
            let reference = Array(("&" + upper).unicodeScalars)
            if unescape(reference) == reference {
                table[upper] = Array(String(String.UnicodeScalarView(value)).uppercased().unicodeScalars)
            }
        }
        return table
    }()

    /// Python's `html.unescape`.
    static func unescape(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        let n = s.count
        while i < n {
            let c = s[i]
            guard c == "&", i + 1 < n else { out.append(c); i += 1; continue }
            if s[i + 1] == "#" {
                if let (value, end) = numericReference(s, from: i + 2) {
                    out.append(contentsOf: value)
                    i = end
                } else {
                    out.append(c)
                    i += 1
                }
                continue
            }
            // Named: 1…32 characters other than \t \n \f space < & # ;, then an optional ";".
            var j = i + 1
            while j < n, j - (i + 1) < 32, !isNameStop(s[j]) { j += 1 }
            guard j > i + 1 else { out.append(c); i += 1; continue }
            var nameEnd = j
            if j < n, s[j] == ";" { nameEnd = j + 1 }
            let name = s[(i + 1) ..< nameEnd]
            if let value = named[string(name)] {
                out.append(contentsOf: value)
            } else if let (value, length) = longestLegacyPrefix(name) {
                out.append(contentsOf: value)
                out.append(contentsOf: name.dropFirst(length))
            } else {
                out.append(c)
                out.append(contentsOf: name)
            }
            i = nameEnd
        }
        return out
    }

    /// ftfy's `unescape_html`: `&#?[0-9A-Za-z]{1,24};` replaced when it is a known name, or a
    /// numeric reference that `html.unescape` decodes completely (semicolon consumed).
    static func unescapeStrict(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        let n = s.count
        while i < n {
            let c = s[i]
            guard c == "&" else { out.append(c); i += 1; continue }
            // Try with the optional "#" first, then without it (the regex backtracks).
            var matchEnd: Int? = nil
            for start in (i + 1 < n && s[i + 1] == "#") ? [i + 2, i + 1] : [i + 1] {
                var j = start
                while j < n, j - start < 24, isASCIIAlphanumeric(s[j]) { j += 1 }
                if j > start, j < n, s[j] == ";" { matchEnd = j + 1; break }
            }
            guard let end = matchEnd else { out.append(c); i += 1; continue }
            let reference = Array(s[i ..< end])
            if let value = strictNamed[string(reference.dropFirst())] {
                out.append(contentsOf: value)
            } else if reference.count > 1, reference[1] == "#" {
                let decoded = unescape(reference)
                out.append(contentsOf: decoded.contains(";") ? reference : decoded)
            } else {
                out.append(contentsOf: reference)
            }
            i = end
        }
        return out
    }

    // MARK: - Pieces

    /// `#[0-9]+;?` or `#[xX][0-9a-fA-F]+;?` starting after "&#": the replacement and the end index.
    private static func numericReference(_ s: [Unicode.Scalar], from start: Int) -> ([Unicode.Scalar], Int)? {
        let n = s.count
        var j = start
        var radix: UInt32 = 10
        if j < n, s[j] == "x" || s[j] == "X" { radix = 16; j += 1 }
        let digitsStart = j
        var value: UInt32 = 0
        var overflow = false
        while j < n, let d = digitValue(s[j], radix: radix) {
            if value > 0x10FFFF { overflow = true } else { value = value * radix + d }
            j += 1
        }
        guard j > digitsStart else { return nil }
        if j < n, s[j] == ";" { j += 1 }
        if value > 0x10FFFF { overflow = true }
        return (numericReplacement(overflow ? nil : value), j)
    }

    private static func numericReplacement(_ value: UInt32?) -> [Unicode.Scalar] {
        guard let v = value else { return ["\u{FFFD}"] }
        if v == 0 { return ["\u{FFFD}"] }
        if v == 0x0D { return ["\r"] }
        if (0x80 ... 0x9F).contains(v) { return [Windows1252.decode(UInt8(v))] }
        if (0xD800 ... 0xDFFF).contains(v) { return ["\u{FFFD}"] }
        if (0x01 ... 0x08).contains(v) || v == 0x0B || (0x0E ... 0x1F).contains(v) || v == 0x7F
            || (0xFDD0 ... 0xFDEF).contains(v) || (v & 0xFFFE) == 0xFFFE {
            return []
        }
        return [Unicode.Scalar(v)!]
    }

    private static func longestLegacyPrefix(_ name: ArraySlice<Unicode.Scalar>) -> ([Unicode.Scalar], Int)? {
        var length = name.count - 1
        while length >= 2 {
            if let value = named[string(name.prefix(length))] { return (value, length) }
            length -= 1
        }
        return nil
    }

    private static func isNameStop(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "\t", "\n", "\u{0C}", " ", "<", "&", "#", ";": return true
        default: return false
        }
    }

    private static func isASCIIAlphanumeric(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x30 ... 0x39, 0x41 ... 0x5A, 0x61 ... 0x7A: return true
        default: return false
        }
    }

    private static func digitValue(_ c: Unicode.Scalar, radix: UInt32) -> UInt32? {
        switch c.value {
        case 0x30 ... 0x39: return c.value - 0x30
        case 0x41 ... 0x46 where radix == 16: return c.value - 0x41 + 10
        case 0x61 ... 0x66 where radix == 16: return c.value - 0x61 + 10
        default: return nil
        }
    }

    private static func string<C: Collection>(_ scalars: C) -> String where C.Element == Unicode.Scalar {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}

/// Windows-1252 as browsers and ftfy's "sloppy" codec read it: bytes 0x80…0x9F are the
/// code page's punctuation and letters; its five undefined bytes stand for themselves.
enum Windows1252 {
    static let high: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ]

    static func decode(_ byte: UInt8) -> Unicode.Scalar {
        (0x80 ... 0x9F).contains(byte) ? Unicode.Scalar(high[Int(byte) - 0x80])! : Unicode.Scalar(byte)
    }

    /// The byte for a scalar in sloppy Windows-1252, or nil when it has none.
    static func encode(_ c: Unicode.Scalar) -> UInt8? {
        let v = c.value
        if v < 0x80 { return v == 0x1A ? nil : UInt8(v) }   // ftfy's sloppy codecs reserve 0x1A
        if (0xA0 ... 0xFF).contains(v) { return UInt8(v) }
        return reverse[v]
    }

    private static let reverse: [UInt32: UInt8] = {
        var r = [UInt32: UInt8]()
        for (i, v) in high.enumerated() { r[v] = UInt8(0x80 + i) }
        return r
    }()
}
