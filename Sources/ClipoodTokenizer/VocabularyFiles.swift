import CZlib
import ClipoodIO
import Foundation

/// A vocabulary as read from disk, before the BPE tables are built from it.
struct Vocabulary {
    /// Token string → id (a later duplicate wins, as in Python's `dict(zip(vocab, ids))`).
    var ids: [String: Int32]
    /// Merges in rank order, each with the file and line it came from (for error messages).
    var merges: [(left: String, right: String, line: Int)]
    var mergesFile: URL
    var vocabularyFile: URL
    /// The strings of the start and end tokens, which the pre-tokeniser keeps whole.
    var specialTokens: [String]
    var startToken: Int32
    var endToken: Int32
}

/// Reading OpenAI's `bpe_simple_vocab_16e6.txt.gz` and Hugging Face's `vocab.json` + `merges.txt`.
enum VocabularyFiles {
    /// The number of merges CLIP uses: lines 1 … 49152-256-2 of the merges file.
    static let clipMergeCount = 49152 - 256 - 2

    /// open_clip's special tokens (open_clip ≥ 2.x spells them with underscores, not `<|…|>`).
    static let openAISpecialTokens = ["<start_of_text>", "<end_of_text>"]
    static let huggingFaceSpecialTokens = ["<|startoftext|>", "<|endoftext|>"]

    // MARK: - OpenAI's gzip file

    /// The vocabulary open_clip builds: the 256 byte symbols, the same with `</w>`, one token per
    /// merge (its two halves joined), then `<start_of_text>` and `<end_of_text>` — 49408 ids.
    static func openAI(_ file: URL) throws -> Vocabulary {
        let text = try utf8Text(gunzip(readFile(file), file: file), file: file)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= clipMergeCount + 1 else {
            throw TokenizerError.malformedVocabulary(
                file, reason: "has \(max(lines.count - 1, 0)) merge lines after its header; CLIP's has \(clipMergeCount)")
        }
        lines = Array(lines[1 ... clipMergeCount])
        var merges: [(left: String, right: String, line: Int)] = []
        merges.reserveCapacity(clipMergeCount)
        for (k, line) in lines.enumerated() {
            merges.append(try mergePair(line, line: k + 2, file: file))
        }
        var tokens: [String] = []
        tokens.reserveCapacity(2 * 256 + merges.count + 2)
        for b in ByteEncoder.vocabularyOrder { tokens.append(String(ByteEncoder.scalars[Int(b)])) }
        for b in ByteEncoder.vocabularyOrder { tokens.append(String(ByteEncoder.scalars[Int(b)]) + "</w>") }
        for m in merges { tokens.append(m.left + m.right) }
        tokens.append(contentsOf: openAISpecialTokens)
        var ids = [String: Int32](minimumCapacity: tokens.count)
        for (id, token) in tokens.enumerated() { ids[token] = Int32(id) }
        return Vocabulary(ids: ids, merges: merges, mergesFile: file, vocabularyFile: file,
                          specialTokens: openAISpecialTokens,
                          startToken: ids[openAISpecialTokens[0]]!, endToken: ids[openAISpecialTokens[1]]!)
    }

    // MARK: - Hugging Face's vocab.json + merges.txt

    static func huggingFace(vocabJSON: URL, merges mergesURL: URL) throws -> Vocabulary {
        let json = try readFile(vocabJSON)
        let table: [String: Int]
        do {
            table = try JSONDecoder().decode([String: Int].self, from: json)
        } catch {
            throw TokenizerError.malformedVocabulary(vocabJSON, reason: "not a JSON object mapping tokens to integer ids (\(shortReason(error)))")
        }
        var ids = [String: Int32](minimumCapacity: table.count)
        for (token, id) in table {
            guard id >= 0, id < 16_777_216 else {
                throw TokenizerError.malformedVocabulary(vocabJSON, reason: "token \(quoted(token)) has id \(id), outside 0 ..< 2^24")
            }
            ids[token] = Int32(id)
        }
        for token in huggingFaceSpecialTokens where ids[token] == nil {
            throw TokenizerError.malformedVocabulary(vocabJSON, reason: "has no \(token) token")
        }

        let text = try utf8Text(readFile(mergesURL), file: mergesURL)
        var merges: [(left: String, right: String, line: Int)] = []
        for (k, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if k == 0, line.hasPrefix("#") { continue }                     // "#version: 0.2"
            if line.unicodeScalars.allSatisfy(TextCleanup.isPythonSpace) { continue }
            guard merges.count < clipMergeCount else { break }
            merges.append(try mergePair(line, line: k + 1, file: mergesURL))
        }
        return Vocabulary(ids: ids, merges: merges, mergesFile: mergesURL, vocabularyFile: vocabJSON,
                          specialTokens: huggingFaceSpecialTokens,
                          startToken: ids[huggingFaceSpecialTokens[0]]!, endToken: ids[huggingFaceSpecialTokens[1]]!)
    }

    // MARK: - Pieces

    /// A merges line: exactly two symbols separated by white space (Python's `line.split()`).
    private static func mergePair(_ line: Substring, line number: Int, file: URL) throws -> (left: String, right: String, line: Int) {
        let parts = line.unicodeScalars.split(whereSeparator: TextCleanup.isPythonSpace)
        guard parts.count == 2 else {
            throw TokenizerError.malformedVocabulary(
                file, reason: "line \(number) is \(quoted(String(line.prefix(60)))), not two symbols separated by a space")
        }
        return (String(String.UnicodeScalarView(parts[0])), String(String.UnicodeScalarView(parts[1])), number)
    }

    static func readFile(_ file: URL) throws -> Data {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: file.path, isDirectory: &isDirectory) else {
            throw TokenizerError.missingVocabulary(file)
        }
        if isDirectory.boolValue {
            throw TokenizerError.unreadableVocabulary(file, reason: "it is a directory")
        }
        guard fm.isReadableFile(atPath: file.path) else {
            throw TokenizerError.unreadableVocabulary(file, reason: "permission denied")
        }
        do {
            return try FileReading.read(file.path, limit: 256 << 20)
        } catch let e as IOFailure {
            throw TokenizerError.unreadableVocabulary(file, reason: e.reason)
        }
    }

    private static func utf8Text(_ bytes: [UInt8], file: URL) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TokenizerError.malformedVocabulary(file, reason: "not UTF-8 text")
        }
        return text
    }

    private static func utf8Text(_ data: Data, file: URL) throws -> String {
        try utf8Text([UInt8](data), file: file)
    }

    /// gzip → bytes with zlib (`inflate` with windowBits 31: gzip only, CRC and length checked).
    /// Concatenated members are read one after another, and zero padding at the end is
    /// ignored, as Python's `gzip` module does.
    static func gunzip(_ data: Data, file: URL) throws -> [UInt8] {
        let input = [UInt8](data)
        guard input.count >= 2, input[0] == 0x1F, input[1] == 0x8B else {
            throw TokenizerError.corruptGzip(file, reason: "not gzip data (the file does not start with the gzip signature 1f 8b)")
        }
        var output = [UInt8]()
        output.reserveCapacity(input.count * 3)
        var stream = z_stream()
        guard inflateInit2_(&stream, 31, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TokenizerError.corruptGzip(file, reason: "zlib could not start decompressing")
        }
        defer { inflateEnd(&stream) }
        let chunk = 1 << 18
        var buffer = [UInt8](repeating: 0, count: chunk)
        try input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress!)
            stream.avail_in = UInt32(inBuf.count)
            while true {
                var status: Int32 = Z_OK
                let produced: Int = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(chunk)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return chunk - Int(stream.avail_out)
                }
                output.append(contentsOf: buffer[0 ..< produced])
                switch status {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    let rest = input[(input.count - Int(stream.avail_in))...]
                    if rest.allSatisfy({ $0 == 0 }) { return }
                    guard rest.count >= 2, rest.first == 0x1F, rest.dropFirst().first == 0x8B else {
                        throw TokenizerError.corruptGzip(file, reason: "unexpected data after the end of the compressed stream")
                    }
                    inflateReset(&stream)                                   // the next gzip member
                case Z_BUF_ERROR:
                    // All input is there and the output buffer was empty: no progress means no more input.
                    throw TokenizerError.corruptGzip(file, reason: "truncated: the compressed data ends before the end of the stream")
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw TokenizerError.corruptGzip(file, reason: message)
                }
            }
        }
        return output
    }

    static func shortReason(_ error: Error) -> String {
        if let decoding = error as? DecodingError {
            switch decoding {
            case let .dataCorrupted(context): return context.debugDescription
            case let .typeMismatch(_, context), let .valueNotFound(_, context), let .keyNotFound(_, context):
                let path = context.codingPath.map(\.stringValue).joined(separator: ".")
                return path.isEmpty ? context.debugDescription : "at \(quoted(path)): \(context.debugDescription)"
            @unknown default: return String(describing: decoding)
            }
        }
        if let io = error as? IOFailure { return io.reason }
        return "it is not valid JSON"
    }

    static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
