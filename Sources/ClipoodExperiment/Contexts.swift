import ClipoodData
import ClipoodEngine
import ClipoodModel
import ClipoodTokenizer
import Foundation

// The model and the data a run refers to: what the workspace has loaded under a name, with
// the pieces of state that evaluation and training read from them (tokenizer, split, prompt).

/// A loaded model, with the tokenizer that goes with it (loaded on first use).
public final class ModelEntry {
    public let name: String
    public let loaded: LoadedModel
    public var model: CLIPModel { loaded.model }
    private var tokenizerCache: CLIPTokenizer?

    public init(name: String, loaded: LoadedModel) {
        self.name = name
        self.loaded = loaded
    }

    /// The model's own vocab.json + merges.txt when its directory has them, else OpenAI's
    /// vocabulary from the shared cache.
    public func tokenizer() throws -> CLIPTokenizer {
        if let t = tokenizerCache { return t }
        let dir = URL(fileURLWithPath: loaded.weightsFile).deletingLastPathComponent()
        let vocab = dir.appendingPathComponent("vocab.json"), merges = dir.appendingPathComponent("merges.txt")
        let t: CLIPTokenizer
        if FileManager.default.fileExists(atPath: vocab.path) && FileManager.default.fileExists(atPath: merges.path) {
            t = try CLIPTokenizer(vocabJSON: vocab, merges: merges)
        } else {
            t = try CLIPTokenizer.cached()
        }
        guard t.vocabularySize <= model.config.text.vocabularySize else {
            throw MessageError("the tokenizer has \(t.vocabularySize) tokens but model '\(name)' embeds only \(model.config.text.vocabularySize)")
        }
        tokenizerCache = t
        return t
    }
}

/// A loaded dataset with its current split and prompt templates.
public final class DataEntry {
    public let name: String
    public var dataset: Dataset
    public var split: Split?
    public var templates: [String] = ["a photo of a {}."]
    /// Files the scan left out, and why (shown by `info data`).
    public var skipped: [String] = []

    public init(name: String, dataset: Dataset) {
        self.name = name
        self.dataset = dataset
    }

    /// The prompts of one class: every template with `{}` replaced by the class's display name.
    public func prompts(forClass c: Int) -> [String] {
        templates.map { $0.replacingOccurrences(of: "{}", with: dataset.classNames[c]) }
    }
}

/// How long work reports how far it is, and learns that the user asked it to stop. The
/// experiment layer never prints: the workspace passes one of these, tests pass `.silent`.
public struct ProgressSink {
    /// Starts a report of `total` units of work named `label`.
    public var begin: (_ label: String, _ total: Int) -> Void
    /// `done` units of the current report are done; `detail` says more (loss, accuracy …).
    public var advance: (_ done: Int, _ detail: String) -> Void
    /// Ends the current report before it reached its total (stopped or failed).
    public var end: () -> Void
    /// Whether the user asked to stop (Ctrl-C); work checks it where stopping is safe.
    public var interrupted: () -> Bool

    public init(begin: @escaping (String, Int) -> Void, advance: @escaping (Int, String) -> Void, end: @escaping () -> Void,
                interrupted: @escaping () -> Bool) {
        self.begin = begin; self.advance = advance; self.end = end; self.interrupted = interrupted
    }

    public static let silent = ProgressSink(begin: { _, _ in }, advance: { _, _ in }, end: {}, interrupted: { false })
}

/// Work that stopped because the user asked it to (Ctrl-C).
public struct Interrupted: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
