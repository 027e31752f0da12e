import Foundation

/// CLIP's byte-level BPE tokenizer, producing exactly the ids of open_clip's default
/// `SimpleTokenizer` / `open_clip.tokenize` (clean-up `lower`, truncation keeping the end token).
///
/// Text goes through `TextCleanup` (ftfy's fixes that matter, HTML unescaping twice, white space
/// collapsed, lower case), `PreTokenizer` (CLIP's regex), then `BytePairEncoder` per piece.
/// Safe to share between threads; BPE results are cached per word.
public final class CLIPTokenizer: @unchecked Sendable {
    /// The context length of every CLIP text tower (77).
    public let contextLength: Int = 77

    /// One past the largest token id: the size of the text tower's token embedding.
    public var vocabularySize: Int { tokens.count }
    /// `<start_of_text>` (49406 in CLIP's vocabulary).
    public var startToken: Int32 { sot }
    /// `<end_of_text>` (49407), also written into the last slot of a truncated row.
    public var endToken: Int32 { eot }

    private let sot: Int32
    private let eot: Int32
    /// id → token string (nil for ids a vocab.json leaves out).
    private let tokens: [String?]
    private let specialIds: [String: Int32]
    private let preTokenizer: PreTokenizer
    private let bpe: BytePairEncoder

    /// Hugging Face format: `vocab.json` (token → id) and `merges.txt` (a `#version` header, then
    /// one merge per line in rank order).
    public convenience init(vocabJSON: URL, merges: URL) throws {
        try self.init(vocabulary: VocabularyFiles.huggingFace(vocabJSON: vocabJSON, merges: merges))
    }

    /// OpenAI's `bpe_simple_vocab_16e6.txt.gz`, the vocabulary open_clip ships.
    public convenience init(openAIVocabulary gzFile: URL) throws {
        try self.init(vocabulary: VocabularyFiles.openAI(gzFile))
    }

    /// Hugging Face format from bytes already in memory (reads no file; the URLs only name the
    /// inputs in errors): an entry point for fuzzing the vocabulary readers.
    public convenience init(vocabJSONBytes: Data, mergesBytes: Data,
                            vocabJSON: URL = URL(fileURLWithPath: "vocab.json"), merges: URL = URL(fileURLWithPath: "merges.txt")) throws {
        try self.init(vocabulary: VocabularyFiles.huggingFace(vocabJSONBytes: vocabJSONBytes, vocabJSON: vocabJSON, mergesBytes: mergesBytes, merges: merges))
    }

    /// OpenAI's gzip format from bytes already in memory (reads no file; `file` only names it in
    /// errors): an entry point for fuzzing the gzip and merges readers.
    public convenience init(openAIVocabularyBytes: Data, file: URL = URL(fileURLWithPath: "bpe_simple_vocab_16e6.txt.gz")) throws {
        try self.init(vocabulary: VocabularyFiles.openAI(gzipBytes: openAIVocabularyBytes, file: file))
    }

    /// The default vocabulary from the shared cache (`VocabularyCache.openAIVocabulary`), put there
    /// by `scripts/fetch_vocab`. Throws `TokenizerError.missingVocabulary` naming the expected
    /// path when it is not there. Loaded once per path and shared.
    public static func cached() throws -> CLIPTokenizer {
        let file = VocabularyCache.openAIVocabulary
        sharedLock.lock()
        defer { sharedLock.unlock() }
        if let (path, tokenizer) = shared, path == file.path { return tokenizer }
        let tokenizer = try CLIPTokenizer(openAIVocabulary: file)
        shared = (file.path, tokenizer)
        return tokenizer
    }

    private static let sharedLock = NSLock()
    private nonisolated(unsafe) static var shared: (String, CLIPTokenizer)?

    init(vocabulary v: Vocabulary) throws {
        var maxId: Int32 = -1
        for id in v.ids.values where id > maxId { maxId = id }
        var tokens = [String?](repeating: nil, count: Int(maxId) + 1)
        for (token, id) in v.ids { tokens[Int(id)] = token }
        // The start and end ids lie inside the vocabulary and differ (the readers ensure it; the
        // encoder and decoder rely on it).
        guard v.startToken >= 0, v.endToken >= 0, Int(v.startToken) < tokens.count, Int(v.endToken) < tokens.count,
              v.startToken != v.endToken else {
            throw TokenizerError.malformedVocabulary(
                v.vocabularyFile, reason: "its start and end tokens have ids \(v.startToken) and \(v.endToken); they must be two different ids in the vocabulary")
        }

        // Every byte needs a symbol, with and without `</w>`.
        var byteSymbol = [Int32](repeating: 0, count: 256)
        var byteEndSymbol = [Int32](repeating: 0, count: 256)
        for b in 0 ..< 256 {
            let symbol = String(ByteEncoder.scalars[b])
            guard let id = v.ids[symbol], let endId = v.ids[symbol + "</w>"] else {
                throw TokenizerError.malformedVocabulary(
                    v.vocabularyFile,
                    reason: "has no token for byte 0x\(String(b, radix: 16)) (\(VocabularyFiles.quoted(symbol)) and \(VocabularyFiles.quoted(symbol + "</w>")) are both needed)")
            }
            byteSymbol[b] = id
            byteEndSymbol[b] = endId
        }

        // Merges by rank; a later duplicate of a pair replaces the earlier one, as in Python.
        var merges = [UInt64: UInt64](minimumCapacity: v.merges.count)
        for (rank, m) in v.merges.enumerated() {
            guard let left = v.ids[m.left], let right = v.ids[m.right] else { continue } // can never apply
            guard let merged = v.ids[m.left + m.right] else {
                throw TokenizerError.malformedVocabulary(
                    v.mergesFile,
                    reason: "line \(m.line) merges \(VocabularyFiles.quoted(m.left)) and \(VocabularyFiles.quoted(m.right)) into \(VocabularyFiles.quoted(m.left + m.right)), which \(v.vocabularyFile.lastPathComponent) does not have")
            }
            merges[BytePairEncoder.key(left, right)] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
        }

        self.tokens = tokens
        self.sot = v.startToken
        self.eot = v.endToken
        var special = [String: Int32]()
        for s in v.specialTokens { special[s] = v.ids[s] }
        self.specialIds = special
        self.preTokenizer = PreTokenizer(specialTokens: v.specialTokens)
        self.bpe = BytePairEncoder(merges: merges, byteSymbol: byteSymbol, byteEndSymbol: byteEndSymbol)
    }

    // MARK: - Encoding

    /// The token ids of one text, without start and end tokens.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        encode(text, into: &ids)
        return ids
    }

    /// The BPE token strings of one text (`</w>` marks the end of a word), for debugging.
    public func bpeTokens(_ text: String) -> [String] {
        encode(text).map { id in tokens.indices.contains(Int(id)) ? tokens[Int(id)] ?? "" : "" }
    }

    /// Rows of `[start] + ids + [end]`, zero padded to the context length (77 unless given);
    /// a longer row is cut to the context length and its last id set to the end token, as
    /// open_clip does. N × context ids, row-major.
    public func tokenize(_ texts: [String], contextLength: Int? = nil) -> [Int32] {
        let context = contextLength ?? self.contextLength
        precondition(context > 0, "CLIPTokenizer.tokenize: the context length must be positive, not \(context)")
        var result = [Int32](repeating: 0, count: texts.count * context)
        var ids: [Int32] = []
        for (row, text) in texts.enumerated() {
            ids.removeAll(keepingCapacity: true)
            ids.append(sot)
            encode(text, into: &ids)
            ids.append(eot)
            if ids.count > context {
                ids.removeLast(ids.count - context)
                ids[context - 1] = eot
            }
            let base = row * context
            for (k, id) in ids.enumerated() { result[base + k] = id }
        }
        return result
    }

    private func encode(_ text: String, into ids: inout [Int32]) {
        let cleaned = TextCleanup.clean(text)
        var word: [UInt8] = []
        for piece in preTokenizer.split(cleaned) {
            let scalars = cleaned[piece.range]
            if piece.special, let id = specialIds[String(String.UnicodeScalarView(scalars))] {
                ids.append(id)
                continue
            }
            word.removeAll(keepingCapacity: true)
            for c in scalars { UTF8.encode(c) { word.append($0) } }
            bpe.encode(word: word, into: &ids)
        }
    }

    // MARK: - Decoding

    /// Text for ids: the tokens' bytes as UTF-8 (invalid sequences become U+FFFD) with `</w>`
    /// read as a space. Start tokens, end tokens and the zero padding after an end token are
    /// dropped, and so is the space the last word's `</w>` leaves at the end (open_clip's
    /// `decode` keeps it). Ids outside the vocabulary are skipped.
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        var afterEnd = false
        for id in ids {
            if id == sot { afterEnd = false; continue }
            if id == eot { afterEnd = true; continue }
            if afterEnd, id == 0 { continue }
            afterEnd = false
            guard id >= 0, Int(id) < tokens.count, let token = tokens[Int(id)] else { continue }
            for c in token.unicodeScalars {
                if let b = ByteEncoder.byte(for: c) { bytes.append(b) } else { UTF8.encode(c) { bytes.append($0) } }
            }
        }
        // "</w>" becomes a space on the bytes, as Python replaces code points: a String
        // replacement would miss a "</w>" whose ">" a following combining mark joins.
        var spaced: [UInt8] = []
        spaced.reserveCapacity(bytes.count)
        let endOfWord: [UInt8] = Array("</w>".utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == endOfWord[0], i + 4 <= bytes.count, bytes[i ..< i + 4].elementsEqual(endOfWord) {
                spaced.append(0x20); i += 4
            } else { spaced.append(bytes[i]); i += 1 }
        }
        var text = String(decoding: spaced, as: UTF8.self)
        while text.hasSuffix(" ") { text.removeLast() }
        return text
    }
}
