import ClipoodEngine

/// Captions for the demo model's contrastive pretraining: the object's name in varied templates,
/// often with a word for the image's style, and — when the world says them — its colour and
/// size, so the text encoder learns what, how and which. The name is the class name, or, for
/// the images that a `broad` world does not name (see `ShapesWorld.Preset`), the class's coarse
/// category ("a small red fruit.").
public enum Captions {
    static let styleWords: [String: [String]] = [
        "photo": ["photo", "picture", "shaded picture", "snapshot"],
        "sketch": ["sketch", "pencil drawing", "line drawing", "doodle"],
        "cartoon": ["cartoon", "clip art", "flat drawing", "illustration"],
        "painting": ["painting", "oil painting", "painted picture", "artwork"],
    ]

    /// `{style}` is a style word, `{}` the class name with its adjectives in front.
    static let templates = [
        "a {style} of a {}.", "a {style} of the {}.", "a {}.", "the {}.", "a {style} showing a {}.", "{} in a {style}.",
        "a {style} of one {}.", "this is a {}.", "a {} {style}.", "a {style} with a {}.",
    ]

    static let sizeWords = ["small", "big"]

    /// One caption for an image of `className` (directory name, `_` → space) in `domain`.
    /// `colour` and `size` are what the image truthfully shows (nil: say nothing); each is
    /// named in about half of the captions. `name`, when given, is said instead of the class
    /// name (a coarse category); it draws nothing more from `rng`, so captions that name the
    /// class come out as they always did.
    public static func caption(className: String, domain: String, colour: String? = nil, size: String? = nil,
                               name: String? = nil, rng: inout RNG) -> String {
        let styles = styleWords[domain] ?? [domain]
        let style = styles[rng.below(styles.count)]
        let t = templates[rng.below(templates.count)]
        let sayColour = rng.below(2) == 1, saySize = rng.below(2) == 1
        var noun = (name ?? className).replacingOccurrences(of: "_", with: " ")
        if sayColour, let c = colour { noun = c + " " + noun }
        if saySize, let s = size { noun = s + " " + noun }
        return withArticles(t.replacingOccurrences(of: "{style}", with: style).replacingOccurrences(of: "{}", with: noun))
    }

    /// Every caption the templates can make for the given classes and other `names` (coarse
    /// categories, after the classes), each with no adjective, every colour word and every size
    /// word (for learning the vocabulary).
    public static func corpus(classes: [String], colours: [String] = [], names: [String] = []) -> [String] {
        var out: [String] = []
        let adjectives = [""] + sizeWords.map { $0 + " " } + colours.map { $0 + " " }
        for c in classes + names {
            let name = c.replacingOccurrences(of: "_", with: " ")
            for (_, styles) in styleWords.sorted(by: { $0.key < $1.key }) {
                for s in styles {
                    for t in templates {
                        for a in adjectives {
                            out.append(withArticles(t.replacingOccurrences(of: "{style}", with: s).replacingOccurrences(of: "{}", with: a + name)))
                        }
                    }
                }
            }
        }
        return out + ["a photo of a {}.", "a sketch of a {}.", "a cartoon of a {}.", "a painting of a {}."]
    }

    /// "a" → "an" before a vowel ("an orange", "an oil painting").
    static func withArticles(_ text: String) -> String {
        var words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        for i in 0 ..< max(0, words.count - 1) where words[i] == "a" || words[i] == "A" {
            if let f = words[i + 1].first, "aeiouAEIOU".contains(f) { words[i] += "n" }
        }
        return words.joined(separator: " ")
    }
}
