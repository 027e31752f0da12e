import ClipoodTokenizer
import Foundation
import Testing

@Suite("tokenize and decode")
struct TokenizeTests {
    @Test("rows are [sot] + ids + [eot], zero padded, row-major")
    func rows() throws {
        let t = try realTokenizer()
        let texts = ["a photo of a dog.", "", "a sketch of a cat."]
        let rows = t.tokenize(texts)
        #expect(rows.count == 3 * 77)
        for (n, text) in texts.enumerated() {
            let ids = t.encode(text)
            let row = Array(rows[n * 77 ..< (n + 1) * 77])
            #expect(row == [t.startToken] + ids + [t.endToken] + Array(repeating: 0, count: 75 - ids.count))
            #expect(t.tokenize([text]) == row)
        }
        #expect(t.tokenize([]) == [])
        #expect(t.tokenize(["a photo of a dog."], contextLength: 10) == [49406, 320, 1125, 539, 320, 1929, 269, 49407, 0, 0])
    }

    @Test("too long: cut to the context length, end token in the last slot")
    func truncation() throws {
        let t = try realTokenizer()
        let long = Array(repeating: "word", count: 100).joined(separator: " ")
        let ids = t.encode(long)
        #expect(ids.count == 100)
        let row = t.tokenize([long])
        #expect(row.count == 77)
        #expect(row[0] == t.startToken)
        #expect(Array(row[1 ..< 76]) == Array(ids[0 ..< 75]))
        #expect(row[76] == t.endToken)

        // Exactly 75 ids fit with both special tokens; 76 do not.
        let fits = Array(repeating: "word", count: 75).joined(separator: " ")
        #expect(t.tokenize([fits])[76] == t.endToken && t.tokenize([fits])[75] == ids[0])
        let over = fits + " dog"
        let cut = t.tokenize([over])
        #expect(cut[75] == ids[0] && cut[76] == t.endToken)

        #expect(t.tokenize([long], contextLength: 3) == [t.startToken, ids[0], t.endToken])
        #expect(t.tokenize([long], contextLength: 1) == [t.endToken])
    }

    @Test("decode(tokenize(x)) gives x back for plain lower-case ASCII text")
    func roundTrip() throws {
        let t = try realTokenizer()
        let texts = ["a photo of a dog", "the quick brown fox jumps over the lazy dog",
                     "supercalifragilisticexpialidocious", "route sixty six", "x"]
        for text in texts {
            #expect(t.decode(t.tokenize([text])) == text)
            #expect(t.decode(t.encode(text)) == text)
        }
        // Pieces split off by the pattern come back as separate words; numbers go digit by digit.
        #expect(t.decode(t.tokenize(["route 66"])) == "route 6 6")
        #expect(t.decode(t.tokenize(["A photo of a dog."])) == "a photo of a dog .")
        #expect(t.decode(t.tokenize(["crème brûlée 🍕"])) == "crème brûlée 🍕")
        // Two rows one after another: the padding after each end token is dropped.
        #expect(t.decode(t.tokenize(["a dog", "a cat"], contextLength: 6)) == "a dog a cat")
    }

    @Test("BPE token strings, encode without special tokens")
    func tokens() throws {
        let t = try realTokenizer()
        #expect(t.bpeTokens("a photo of a dog.") == ["a</w>", "photo</w>", "of</w>", "a</w>", "dog</w>", ".</w>"])
        #expect(t.encode("a photo of a dog.") == [320, 1125, 539, 320, 1929, 269])
        #expect(t.encode("") == [])
        #expect(t.encode(" \n\t ") == [])
    }

    @Test("the same ids from many threads at once")
    func concurrentUse() throws {
        let t = try realTokenizer()
        let texts = (0 ..< 64).map { "a photo of item number \($0) with colour \(["red", "green", "blue"][$0 % 3])" }
        let expected = texts.map { t.encode($0) }
        let results = UnsafeMutableBufferPointer<[Int32]>.allocate(capacity: texts.count)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: texts.count) { i in
            results[i] = t.encode(texts[i] + " again")
        }
        for i in texts.indices {
            #expect(results[i] == t.encode(texts[i] + " again"))
            #expect(Array(results[i].prefix(expected[i].count)) == expected[i])
        }
    }
}
