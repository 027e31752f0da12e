import ClipoodTokenizer
import Foundation
import Testing

/// The committed open_clip fixture (`Tests/Fixtures/tokenizer/cases.json`).
struct TokenizerFixture: Decodable {
    struct Case: Decodable {
        let category: String
        let text: String
        let ids: [Int32]
        let tokens: [String]?
    }

    let tokenizer: String
    let context_length: Int
    let vocab_size: Int
    let sot: Int32
    let eot: Int32
    let pad: Int32
    let cases: [Case]

    static let file = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizer/cases.json")

    static func load() throws -> TokenizerFixture {
        try JSONDecoder().decode(TokenizerFixture.self, from: Data(contentsOf: file))
    }
}

/// The real CLIP vocabulary from the cache. When it is missing the calling test fails (it is not
/// skipped) with the tokenizer's own message, which says to run scripts/fetch_vocab.
func realTokenizer() throws -> CLIPTokenizer {
    do {
        return try CLIPTokenizer.cached()
    } catch {
        Issue.record("""
            The CLIP vocabulary is needed for these tests and is not in the cache: \(error)
            Run scripts/fetch_vocab (scripts/test runs it during setup).
            """)
        throw error
    }
}

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("clipood-tokenizer-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    func write(_ name: String, _ text: String) throws -> URL {
        let f = file(name)
        try Data(text.utf8).write(to: f)
        return f
    }

    func write(_ name: String, bytes: [UInt8]) throws -> URL {
        let f = file(name)
        try Data(bytes).write(to: f)
        return f
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// gzip files written without a compressor: deflate "stored" blocks, CRC-32 and length trailer
/// (RFC 1951 §3.2.4, RFC 1952), so that the tests need no tool and no zlib of their own.
enum TestGzip {
    static func member(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        var i = 0
        repeat {
            let n = min(65535, data.count - i)
            out.append(i + n == data.count ? 1 : 0)                 // BFINAL, BTYPE = 00 (stored)
            out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[i ..< i + n]
            i += n
        } while i < data.count
        out += littleEndian(crc32(data))
        out += littleEndian(UInt32(truncatingIfNeeded: data.count))
        return out
    }

    static func member(_ text: String) -> [UInt8] { member(Array(text.utf8)) }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0 ..< 8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    private static func littleEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
    }
}

/// A small vocabulary in OpenAI's format: a header line, eight real merges, and filler merges
/// (whose halves are never symbols) up to the 48894 merges CLIP reads.
enum TinyOpenAIVocabulary {
    static let merges = ["h e", "l l", "he ll", "hell o</w>", "w o", "wo r", "l d</w>", "wor ld</w>"]
    static let mergeCount = 49152 - 256 - 2

    static func text(mergeLines: [String] = merges, total: Int = mergeCount) -> String {
        var lines = ["#version: tiny test vocabulary"] + mergeLines
        for k in mergeLines.count ..< total { lines.append("x\(k) y") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The id of a byte's symbol (`withEnd`: the `</w>` variant), from the vocabulary order.
    static func byteId(_ char: Character, withEnd: Bool = false) -> Int32 {
        let byte = char.asciiValue!
        let index = ByteEncoder.vocabularyOrder.firstIndex(of: byte)!
        return Int32(index + (withEnd ? 256 : 0))
    }
}

/// Runs `body`, expecting exactly one `TokenizerError`; returns it (nil and a recorded issue if
/// `body` succeeds or throws something else).
func expectTokenizerError(_ body: () throws -> CLIPTokenizer,
                          sourceLocation: SourceLocation = #_sourceLocation) -> TokenizerError? {
    do {
        _ = try body()
        Issue.record("expected a TokenizerError, but the vocabulary loaded", sourceLocation: sourceLocation)
        return nil
    } catch let error as TokenizerError {
        return error
    } catch {
        Issue.record("expected a TokenizerError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
