import ClipoodEngine

/// Captions for the demo model's contrastive pretraining: the class name in varied templates,
/// often with a word for the image's style, so the text encoder learns both what and how.
public enum Captions {
    static let styleWords: [String: [String]] = [
        "photo": ["photo", "picture", "shaded picture", "snapshot"],
        "sketch": ["sketch", "pencil drawing", "line drawing", "doodle"],
        "cartoon": ["cartoon", "clip art", "flat drawing", "illustration"],
        "painting": ["painting", "oil painting", "painted picture", "artwork"],
    ]

    static let templates = [
        "a {style} of a {}.", "a {style} of the {}.", "a {}.", "the {}.", "a {style} showing a {}.", "{} in a {style}.",
        "a small {}.", "a big {}.", "a {style} of a small {}.", "a {style} of one {}.", "this is a {}.", "a {} {style}.",
    ]

    /// One caption for an image of `className` (directory name, `_` → space) in `domain`.
    public static func caption(className: String, domain: String, rng: inout RNG) -> String {
        let name = className.replacingOccurrences(of: "_", with: " ")
        let styles = styleWords[domain] ?? [domain]
        let style = styles[rng.below(styles.count)]
        let t = templates[rng.below(templates.count)]
        return t.replacingOccurrences(of: "{style}", with: style).replacingOccurrences(of: "{}", with: name)
    }

    /// Every caption the templates can make for the given classes (for learning the vocabulary).
    public static func corpus(classes: [String]) -> [String] {
        var out: [String] = []
        for c in classes {
            let name = c.replacingOccurrences(of: "_", with: " ")
            for (_, styles) in styleWords.sorted(by: { $0.key < $1.key }) {
                for s in styles {
                    for t in templates { out.append(t.replacingOccurrences(of: "{style}", with: s).replacingOccurrences(of: "{}", with: name)) }
                }
            }
        }
        return out + ["a photo of a {}.", "a sketch of a {}.", "a cartoon of a {}.", "a painting of a {}."]
    }
}
