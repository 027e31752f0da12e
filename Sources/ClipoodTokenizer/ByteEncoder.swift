/// CLIP's (and GPT-2's) reversible mapping of the 256 byte values to printable Unicode scalars,
/// so that BPE can work on text made of visible characters: the printable Latin-1 bytes
/// (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) stand for themselves; the other 68 bytes (controls, space,
/// DEL, C1 controls, NBSP, soft hyphen) take U+0100, U+0101, … in increasing byte order.
public enum ByteEncoder {
    /// The scalar that stands for each byte value (index = byte).
    public static let scalars: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0 ..< 256 {
            if isPrintable(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte values in the order of the first 256 entries of OpenAI's vocabulary: the
    /// printable bytes in increasing order, then the remapped ones in increasing order.
    public static let vocabularyOrder: [UInt8] =
        (0 ... 255).map(UInt8.init).filter(isPrintable) + (0 ... 255).map(UInt8.init).filter { !isPrintable($0) }

    /// The byte a scalar stands for, or nil for scalars outside the table.
    public static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = Int(scalar.value)
        guard v < inverse.count else { return nil }
        let b = inverse[v]
        return b < 0 ? nil : UInt8(b)
    }

    /// The scalars for a byte string, as a String (the form BPE symbols take in the vocabulary).
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(scalars[Int(b)]) }
        return String(s)
    }

    static func isPrintable(_ b: UInt8) -> Bool {
        (0x21 ... 0x7E).contains(b) || (0xA1 ... 0xAC).contains(b) || (0xAE ... 0xFF).contains(b)
    }

    private static let inverse: [Int16] = {
        var inv = [Int16](repeating: -1, count: 256 + 68)
        for (b, s) in scalars.enumerated() { inv[Int(s.value)] = Int16(b) }
        return inv
    }()
}
