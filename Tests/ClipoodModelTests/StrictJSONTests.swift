import ClipoodIO
import Foundation
import Testing

/// The strict JSON reader the model and tokenizer files go through: numbers keep their
/// literal, so nothing is rounded or truncated on the way to a size or an offset.
@Suite("strict JSON")
struct StrictJSONTests {
    func parse(_ text: String, maxDepth: Int = StrictJSON.defaultMaxDepth) throws -> JSONValue {
        try StrictJSON.parse(Array(text.utf8), maxDepth: maxDepth)
    }

    @Test func numbersKeepTheirLiteral() throws {
        let v = try #require(try parse(#"{"a": 768, "b": 768.0, "c": 7.68e2, "d": -0, "e": 9223372036854775807, "f": 9223372036854775808, "g": 1e400}"#).object)
        #expect(v["a"]?.int == 768 && v["b"]?.int == nil && v["c"]?.int == nil && v["d"]?.int == 0)
        #expect(v["b"]?.double == 768 && v["c"]?.double == 768)
        #expect(v["e"]?.int == Int.max && v["f"]?.int == nil)
        #expect(v["g"]?.double == .infinity)
        #expect(v["a"]?.brief == "768")
    }

    @Test func stringsAndEscapes() throws {
        let v = try parse(#"["a\"b\\c\/d\n", "\u00e9\ud83d\ude00", "ünï"]"#).array
        #expect(v?.compactMap(\.string) == ["a\"b\\c/d\n", "é😀", "ünï"])
    }

    @Test("objects keep every member in order; lookups take the last")
    func duplicates() throws {
        let o = try #require(try parse(#"{"k": 1, "j": 2, "k": 3}"#).object)
        #expect(o.keys == ["k", "j", "k"] && o["k"]?.int == 3 && o.firstDuplicateKey == "k")
        #expect(try parse(#"{"k": 1}"#).object?.firstDuplicateKey == nil)
    }

    static let invalid: [(String, String)] = [
        ("", "line 1, column 1: the text ends where a value should be"),
        ("[1,]", "line 1, column 4: unexpected character where a value should be"),
        ("{\"a\" 1}", "line 1, column 6: expected ':' after a member name"),
        ("[01]", "line 1, column 3: a number has a leading zero"),
        ("[1.]", "line 1, column 4: a number has no digits after '.'"),
        ("[-]", "line 1, column 3: a number has no digits"),
        ("[1e]", "line 1, column 4: a number has no digits in its exponent"),
        ("[NaN]", "line 1, column 2: unexpected character where a value should be"),
        ("[Infinity]", "line 1, column 2: unexpected character where a value should be"),
        ("[tru]", "line 1, column 5: expected 'true'"),
        ("[\"\\ud800\"]", "line 1, column 9: a \\u escape is an unpaired surrogate"),
        ("[\"\\udc00\"]", "line 1, column 9: a \\u escape is an unpaired surrogate"),
        ("[\"\\x\"]", "line 1, column 5: a string has an unknown escape"),
        ("[\"a\nb\"]", "line 1, column 4: a string holds a raw control character"),
        ("[\"abc", "line 1, column 6: the text ends inside a string"),
        ("{\"a\": 1}\n{}", "line 2, column 1: unexpected text after the JSON value"),
        ("[[[[1]]]]", "line 1, column 4: nested more than 3 levels deep"),
    ]

    @Test("invalid JSON: where and why", arguments: 0 ..< invalid.count)
    func invalidText(_ k: Int) {
        let (text, expected) = Self.invalid[k]
        #expect(throws: JSONSyntaxError.self) { try parse(text, maxDepth: 3) }
        do { _ = try parse(text, maxDepth: 3) } catch { #expect(String(describing: error) == expected, "\(text)") }
    }

    @Test func invalidUTF8() {
        do { _ = try StrictJSON.parse([0x5B, 0x22, 0xC3, 0x28, 0x22, 0x5D]); Issue.record("accepted") } catch {
            #expect(String(describing: error).contains("a string is not valid UTF-8"))
        }
    }

    @Test("a million brackets end in an error, not a stack overflow")
    func deepNesting() {
        #expect(throws: JSONSyntaxError.self) { try StrictJSON.parse([UInt8](repeating: 0x5B, count: 1_000_000)) }
    }
}
