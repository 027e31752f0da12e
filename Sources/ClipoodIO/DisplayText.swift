/// Names that come from files (class and domain folders, captions) shown to people: control
/// characters would break a table's lines or drive the terminal (ESC starts a control sequence),
/// so they are written as escapes — `\n`, `\r`, `\t`, else `\u{1B}` — and the rest is kept.
/// Only for what is shown; data files keep the names as they are (CSV quotes them).
public enum DisplayText {
    /// `s` with every control character (C0, DEL, C1), the line and paragraph separators and the
    /// bidirectional-override controls written as escapes.
    public static func escaped(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: needsEscape) else { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            let text: String
            switch u {
            case "\n": text = "\\n"
            case "\r": text = "\\r"
            case "\t": text = "\\t"
            default:
                guard needsEscape(u) else { out.append(u); continue }
                text = "\\u{" + String(u.value, radix: 16, uppercase: true) + "}"
            }
            out.append(contentsOf: text.unicodeScalars)
        }
        return String(out)
    }

    static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        return v < 0x20 || (0x7F ... 0x9F).contains(v) || v == 0x2028 || v == 0x2029
            || (0x202A ... 0x202E).contains(v) || (0x2066 ... 0x2069).contains(v)
    }
}
