import ClipoodTokenizer
import Testing

@Suite("byte encoder")
struct ByteEncoderTests {
    @Test("the 256 bytes map to 256 distinct printable scalars and back")
    func bijection() {
        let scalars = ByteEncoder.scalars
        #expect(scalars.count == 256)
        #expect(Set(scalars).count == 256)
        for b in 0 ... 255 {
            let s = scalars[b]
            #expect(ByteEncoder.byte(for: s) == UInt8(b))
            #expect(!s.properties.isWhitespace && s.properties.generalCategory != .control,
                    "byte \(b) maps to a non-printing scalar U+\(String(s.value, radix: 16))")
        }
        #expect(ByteEncoder.byte(for: "\u{3000}") == nil)
    }

    @Test("printable Latin-1 bytes stand for themselves, the rest take U+0100 onwards")
    func table() {
        #expect(ByteEncoder.scalars[0x41] == "A")
        #expect(ByteEncoder.scalars[0xE9] == "é")
        #expect(ByteEncoder.scalars[0x00] == "\u{100}")
        #expect(ByteEncoder.scalars[0x20] == "\u{120}")        // space: "Ġ"
        #expect(ByteEncoder.scalars[0xAD] == "\u{143}")        // the last one remapped
        #expect(ByteEncoder.vocabularyOrder.count == 256 && Set(ByteEncoder.vocabularyOrder).count == 256)
        #expect(ByteEncoder.vocabularyOrder.prefix(3) == [0x21, 0x22, 0x23])
        #expect(ByteEncoder.vocabularyOrder[188 ..< 191] == [0x00, 0x01, 0x02])
        #expect(ByteEncoder.encode(Array("é".utf8)) == "Ã©")
    }
}
