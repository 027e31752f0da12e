import Foundation

/// Tab completion derived from the same declarations the parser uses.
public struct Completion: Equatable {
    /// Character offset in the line where the word being completed starts.
    public let start: Int
    /// Full replacement words for that position, sorted.
    public let candidates: [String]
}

extension Registry {
    /// Completes the word under the cursor, given the text of the line up to the cursor.
    public func complete(_ text: String, context: Context) -> Completion {
        // The word being completed starts after the last blank that is outside quotes.
        var inQuote: Character? = nil
        var wordStart = 0
        for (i, ch) in text.enumerated() {
            if let q = inQuote { if ch == q { inQuote = nil } } else if ch == "\"" || ch == "'" { inQuote = ch }
            else if ch == " " || ch == "\t" { wordStart = i + 1 }
        }
        let current = String(text.dropFirst(wordStart))
        let before = (try? Lexer.tokenize(String(text.prefix(wordStart)))) ?? []
        let words = candidates(before: before, current: current, context: context)
        return Completion(start: wordStart, candidates: words.filter { $0.hasPrefix(current) }.sorted())
    }

    func candidates(before: [Token], current: String, context: Context) -> [String] {
        guard let first = before.first else { return commandNames }
        guard var spec = lookup(first.text) else { return [] }
        var rest = before.dropFirst()
        while let t = rest.first, let sub = spec.subcommand(t.text) {
            spec = sub
            rest = rest.dropFirst()
        }
        if rest.isEmpty && !spec.subcommands.isEmpty {
            return spec.subcommands.map(\.name)
        }
        // After a keyword (`to`, `as`, `on`): its value.
        if let last = rest.last, last.isWord, let kw = spec.argument(named: last.text), kw.kind == .keyword {
            return values(of: kw.type, current: current, context: context)
        }
        // Inside `key=`: that option's values, written with the key in front.
        if let eq = current.firstIndex(of: "=") {
            let key = String(current[..<eq])
            guard let a = spec.argument(named: key) else { return [] }
            let valuePrefix = String(current[current.index(after: eq)...])
            return values(of: a.type, current: valuePrefix, context: context).map { "\(key)=\($0)" }
        }
        let used = Set(rest.compactMap { $0.optionKey ?? ($0.isWord ? $0.text : nil) })
        var out: [String] = []
        for a in spec.arguments where !used.contains(a.name) {
            switch a.kind {
            case .option: out.append("\(a.name)=")
            case .flag, .keyword: out.append(a.name)
            case .positional: break
            }
        }
        // The next positional's values.
        let filled = rest.filter { t in
            t.optionKey == nil && !(t.isWord && spec.argument(named: t.text).map { $0.kind == .flag || $0.kind == .keyword } == true)
        }.count
        var remaining = filled
        for p in spec.positionals {
            if case .positional(_, true) = p.kind { out += values(of: p.type, current: current, context: context); break }
            if remaining == 0 { out += values(of: p.type, current: current, context: context); break }
            remaining -= 1
        }
        return out
    }

    func values(of type: ValueType, current: String, context: Context) -> [String] {
        switch type {
        case .choice(let cs): return cs
        case .bool: return ["on", "off"]
        case .name(let kind): return context.names(of: kind)
        case .path(let exts, let words): return words.filter { $0.hasPrefix(current) } + PathCompletion.complete(current, extensions: exts)
        case .list(let inner):
            // Complete the last item of a comma list.
            guard let comma = current.lastIndex(of: ",") else { return values(of: inner, current: current, context: context) }
            let head = String(current[...comma])
            return values(of: inner, current: String(current[current.index(after: comma)...]), context: context).map { head + $0 }
        case .string, .int, .float: return []
        }
    }
}

/// File-name completion: entries of the directory named by the prefix, directories with a
/// trailing slash, files filtered by extension.
public enum PathCompletion {
    public static func complete(_ prefix: String, extensions: [String]) -> [String] {
        let fm = FileManager.default
        let expanded = prefix.hasPrefix("~/") ? fm.homeDirectoryForCurrentUser.path + String(prefix.dropFirst(1)) : prefix
        let dirPart: String, namePart: String
        if let slash = expanded.lastIndex(of: "/") {
            dirPart = String(expanded[...slash])
            namePart = String(expanded[expanded.index(after: slash)...])
        } else {
            dirPart = ""
            namePart = expanded
        }
        let shownDir: String = {
            guard let slash = prefix.lastIndex(of: "/") else { return "" }
            return String(prefix[...slash])
        }()
        guard let entries = try? fm.contentsOfDirectory(atPath: dirPart.isEmpty ? "." : dirPart) else { return [] }
        var out: [String] = []
        for e in entries where e.hasPrefix(namePart) && (namePart.hasPrefix(".") || !e.hasPrefix(".")) {
            var isDir: ObjCBool = false
            _ = fm.fileExists(atPath: dirPart + e, isDirectory: &isDir)
            if isDir.boolValue { out.append(shownDir + e + "/") }
            else if extensions.isEmpty || extensions.contains(where: { e.lowercased().hasSuffix("." + $0) }) { out.append(shownDir + e) }
        }
        return out
    }
}
