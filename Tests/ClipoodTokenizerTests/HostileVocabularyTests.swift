import ClipoodTokenizer
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Vocabulary files made hostile by the tests: ids that are not whole numbers in range, start
/// and end tokens sharing an id, deep JSON, malformed merge lines, special files, oversized
/// files and a gzip bomb. Each ends in one `TokenizerError` naming the file; a good vocabulary
/// beside it still loads.
@Suite("hostile vocabulary files")
struct HostileVocabularyTests {
    /// The good vocab.json's text with one member added at the end (a later duplicate wins).
    static func vocabText(in dir: TemporaryDirectory, adding member: String) throws -> String {
        let (vocab, _) = try VocabularyFormatTests.writeHuggingFace(in: dir)
        var text = try String(contentsOf: vocab, encoding: .utf8)
        text.removeLast()   // the closing brace
        return text + ", " + member + "}"
    }

    static let idCases: [(String, String)] = [
        ("1.5", "token \"zz\" has id 1.5, not a whole number in 0 ..< 1048576"),
        ("1e2", "token \"zz\" has id 1e2, not a whole number"),
        ("-1", "token \"zz\" has id -1, not a whole number"),
        ("1048576", "token \"zz\" has id 1048576, not a whole number in 0 ..< 1048576"),
        ("18446744073709551616", "token \"zz\" has id 18446744073709551616, not a whole number"),
        ("\"7\"", "token \"zz\" has id \"7\", not a whole number"),
        ("null", "token \"zz\" has id null, not a whole number"),
        ("[1]", "token \"zz\" has id […], not a whole number"),
    ]

    @Test("token ids that are not whole numbers inside the vocabulary's range", arguments: 0 ..< idCases.count)
    func badIds(_ k: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (literal, expected) = Self.idCases[k]
        let bad = try dir.write("bad.json", Self.vocabText(in: dir, adding: "\"zz\": \(literal)"))
        let merges = dir.file("merges.txt")
        let error = expectTokenizerError { try CLIPTokenizer(vocabJSON: bad, merges: merges) }
        #expect(error?.description.hasPrefix("malformed vocabulary file \(bad.path): \(expected)") == true, "\(String(describing: error))")
        // The in-memory entry point gives the same error for the same bytes.
        let again = expectTokenizerError {
            try CLIPTokenizer(vocabJSONBytes: Data(contentsOf: bad), mergesBytes: Data(contentsOf: merges), vocabJSON: bad, merges: merges)
        }
        #expect(again == error)
        // The good vocabulary beside it loads.
        #expect(try CLIPTokenizer(vocabJSON: dir.file("vocab.json"), merges: merges).vocabularySize == 518)
    }

    @Test("start and end tokens with one id; JSON that is too deep or not an object")
    func specialAndStructure() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let merges = dir.file("merges.txt")
        let same = try dir.write("same.json", Self.vocabText(in: dir, adding: "\"<|endoftext|>\": 516"))
        let e1 = expectTokenizerError { try CLIPTokenizer(vocabJSON: same, merges: merges) }
        #expect(e1 == .malformedVocabulary(same, reason: "gives <|startoftext|> and <|endoftext|> the same id 516"))

        let deep = try dir.write("deep.json", "{\"a\": " + String(repeating: "[", count: 200_000))
        let e2 = expectTokenizerError { try CLIPTokenizer(vocabJSON: deep, merges: merges) }
        #expect(e2?.description.contains("not a JSON object mapping tokens to integer ids (line 1, column 8: nested more than 2 levels deep)") == true,
                "\(String(describing: e2))")

        let list = try dir.write("list.json", "[\"a\", \"b\"]")
        let e3 = expectTokenizerError { try CLIPTokenizer(vocabJSON: list, merges: merges) }
        #expect(e3 == .malformedVocabulary(list, reason: "not a JSON object mapping tokens to integer ids (it is […])"))

        let oneSymbol = try dir.write("one.txt", "#version: 0.2\nh e\nll\n")
        let e4 = expectTokenizerError { try CLIPTokenizer(vocabJSON: dir.file("vocab.json"), merges: oneSymbol) }
        #expect(e4 == .malformedVocabulary(oneSymbol, reason: "line 3 is \"ll\", not two symbols separated by a space"))
        #expect(try CLIPTokenizer(vocabJSON: dir.file("vocab.json"), merges: merges).endToken == 517)
    }

    @Test("FIFOs, dangling links and oversized files are refused without reading them")
    func specialFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (vocab, merges) = try VocabularyFormatTests.writeHuggingFace(in: dir)
        let fifo = dir.file("fifo.json")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        #expect(expectTokenizerError { try CLIPTokenizer(vocabJSON: fifo, merges: merges) }
            == .unreadableVocabulary(fifo, reason: "it is not a regular file (a FIFO, a device or a socket)"))
        let gzFIFO = dir.file("fifo.txt.gz")
        #expect(mkfifo(gzFIFO.path, 0o600) == 0)
        #expect(expectTokenizerError { try CLIPTokenizer(openAIVocabulary: gzFIFO) }
            == .unreadableVocabulary(gzFIFO, reason: "it is not a regular file (a FIFO, a device or a socket)"))

        let dangling = dir.file("dangling.txt")
        try FileManager.default.createSymbolicLink(atPath: dangling.path, withDestinationPath: dir.file("nowhere").path)
        #expect(expectTokenizerError { try CLIPTokenizer(vocabJSON: vocab, merges: dangling) }
            == .unreadableVocabulary(dangling, reason: "it is a symbolic link to nothing"))

        // A sparse file just over the cap: refused by its size, never read.
        let big = dir.file("big.json")
        #expect(FileManager.default.createFile(atPath: big.path, contents: nil))
        #expect(truncate(big.path, off_t((64 << 20) + 1)) == 0)
        let e = expectTokenizerError { try CLIPTokenizer(vocabJSON: big, merges: merges) }
        #expect(e == .unreadableVocabulary(big, reason: "it is 67108865 bytes, more than the 67108864-byte limit for this kind of file"))
        #expect(try CLIPTokenizer(vocabJSON: vocab, merges: merges).vocabularySize == 518)
    }

    /// A gzip member whose deflate data (one fixed-Huffman block: a zero byte, then `copies`
    /// copies of 258 bytes at distance 1) inflates to 1 + 258 × copies zero bytes. The trailer's
    /// CRC is left wrong on purpose: the size cap must stop inflating before it is checked.
    static func zeroBomb(copies: Int) -> [UInt8] {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        var bitBuffer: UInt32 = 0, bitCount = 0
        func bits(_ value: UInt32, _ count: Int) {          // LSB first (header fields)
            for i in 0 ..< count {
                bitBuffer |= ((value >> UInt32(i)) & 1) << UInt32(bitCount)
                bitCount += 1
                if bitCount == 8 { out.append(UInt8(bitBuffer)); bitBuffer = 0; bitCount = 0 }
            }
        }
        func code(_ value: UInt32, _ count: Int) {          // Huffman codes: MSB first
            for i in stride(from: count - 1, through: 0, by: -1) { bits((value >> UInt32(i)) & 1, 1) }
        }
        bits(1, 1); bits(1, 2)                              // BFINAL, BTYPE = 01 (fixed Huffman)
        code(0x30, 8)                                       // literal 0
        for _ in 0 ..< copies { code(0xC5, 8); code(0, 5) } // length 258 (code 285), distance 1
        code(0, 7)                                          // end of block (256)
        if bitCount > 0 { out.append(UInt8(bitBuffer)) }
        out += [0, 0, 0, 0, 0, 0, 0, 0]                     // CRC-32 and length: deliberately wrong
        return out
    }

    @Test("a gzip bomb stops at the inflated-size cap")
    func gzipBomb() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let small = try dir.write("small.txt.gz", bytes: Self.zeroBomb(copies: 10))
        // Small: inflates completely, then the wrong CRC is found — proof the stream is valid deflate.
        guard case .corruptGzip(_, let reason)? = expectTokenizerError({ try CLIPTokenizer(openAIVocabulary: small) }) else {
            Issue.record("the small stream was not refused as corrupt"); return
        }
        #expect(reason.contains("check"), "\(reason)")
        let bomb = Self.zeroBomb(copies: 300_000)           // 77 MB of zeros from about 490 KB
        #expect(bomb.count < 600_000)
        let gz = try dir.write("bomb.txt.gz", bytes: bomb)
        #expect(expectTokenizerError { try CLIPTokenizer(openAIVocabulary: gz) }
            == .corruptGzip(gz, reason: "it inflates to more than 67108864 bytes, far more than a vocabulary"))
    }
}
