import Foundation

/// Why a vocabulary could not be loaded. Every failure is reported as exactly one of these; its
/// `description` names the file, says what is wrong with it and how to get a good vocabulary.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist.
    case missingVocabulary(URL)
    /// The file exists but cannot be read (permissions, a directory, an I/O error).
    case unreadableVocabulary(URL, reason: String)
    /// A `.gz` file whose compressed data is damaged or truncated, or that is not gzip at all.
    case corruptGzip(URL, reason: String)
    /// The file reads fine but is not a CLIP vocabulary (bad JSON, a merge line that is not two
    /// symbols, too few merges, a merged symbol missing from vocab.json, …).
    case malformedVocabulary(URL, reason: String)

    /// The file the error is about.
    public var file: URL {
        switch self {
        case let .missingVocabulary(url), let .unreadableVocabulary(url, _),
             let .corruptGzip(url, _), let .malformedVocabulary(url, _):
            return url
        }
    }

    public var description: String {
        let path = file.path
        let what: String
        switch self {
        case .missingVocabulary: what = "vocabulary file not found: \(path)"
        case let .unreadableVocabulary(_, reason): what = "cannot read vocabulary file \(path): \(reason)"
        case let .corruptGzip(_, reason): what = "corrupt gzip vocabulary \(path): \(reason)"
        case let .malformedVocabulary(_, reason): what = "malformed vocabulary file \(path): \(reason)"
        }
        return what + ". " + hint
    }

    /// How to get a good vocabulary, tailored to the kind of file.
    var hint: String {
        let name = file.lastPathComponent
        let fetch = "run scripts/fetch_vocab to put OpenAI's CLIP vocabulary (\(VocabularyCache.openAIFileName)) into "
            + VocabularyCache.directory.path
        if name.hasSuffix(".json") || name.hasSuffix(".txt") {
            return "vocab.json and merges.txt come with a Hugging Face CLIP checkpoint; or " + fetch
        }
        return "To fix: " + fetch
    }
}
