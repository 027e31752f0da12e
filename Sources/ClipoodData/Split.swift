import ClipoodEngine
import ClipoodIO
import Foundation

/// Which part of the target domain(s) the test set holds.
///   - `wholeTarget`   (default): every image of the target domain(s);
///   - `targetHoldout`: only the target's held-out ("out", 20 %) part — what the official CLIPood
///                      code scores (DomainBed itself reports the 80 % "in" part).
public enum TestScope: String, Codable, CaseIterable, Sendable {
    case wholeTarget, targetHoldout
}

/// What to split: see `Split` for the exact semantics of each field.
public struct SplitSpec: Codable, Equatable, Sendable {
    /// Target (test) domain names; empty: no domain shift.
    public var targets: [String]
    /// Fraction of every domain held out ("out" part), in (0, 1).
    public var holdout: Double
    /// Fraction of classes that are new (unseen in training), in (0, 1); nil: no open classes.
    public var openRatio: Double?
    /// At most this many training images per (base class, training domain); nil: all.
    public var shots: Int?
    public var seed: Int
    public var testScope: TestScope

    public init(targets: [String] = [], holdout: Double = 0.2, openRatio: Double? = nil, shots: Int? = nil,
                seed: Int = 0, testScope: TestScope = .wholeTarget) {
        self.targets = targets
        self.holdout = holdout
        self.openRatio = openRatio
        self.shots = shots
        self.seed = seed
        self.testScope = testScope
    }
}

/// Why a split cannot be made or restored.
public enum SplitError: Error, CustomStringConvertible, Equatable {
    case badHoldout(Double)
    case badOpenRatio(Double)
    case badShots(Int)
    case unknownTarget(name: String, domains: [String], suggestion: String?)
    case allDomainsAreTargets(domains: [String])
    case emptyTraining(reason: String)
    /// A saved split does not fit the dataset it is restored against.
    case mismatch(String)
    /// A saved split is malformed or inconsistent in itself: `field` names the JSON field
    /// ("train[3]", "partCounts.val"), `file` the file (empty when the split came from a decoder
    /// that did not say, e.g. one embedded in another file).
    case invalid(file: String, field: String, reason: String)

    public var description: String {
        switch self {
        case .badHoldout(let h): return "holdout must be between 0 and 1 (exclusive), got \(h)"
        case .badOpenRatio(let r): return "open ratio must be between 0 and 1 (exclusive), got \(r)"
        case .badShots(let n): return "shots must be at least 1, got \(n)"
        case .unknownTarget(let name, let domains, let suggestion):
            return "unknown target domain '\(name)'" + (suggestion.map { "; did you mean '\($0)'?" } ?? "") +
                " (domains: " + domains.joined(separator: ", ") + ")"
        case .allDomainsAreTargets(let d):
            return "every domain is a target (" + d.joined(separator: ", ") + "): nothing is left to train on"
        case .emptyTraining(let reason): return "the split leaves no training images: \(reason)"
        case .mismatch(let m): return "the saved split does not match this dataset: \(m)"
        case .invalid(let file, let field, let reason): return (file.isEmpty ? "" : "'\(file)': ") + "split field '\(field)': \(reason)"
        }
    }
}

/// Train / val / test / open index lists over `Dataset.samples`, made reproducibly from a
/// `SplitSpec`, following DomainBed (domain shift), CoOp (base-to-new) and CLIPood (in the wild):
///
/// 1. Holdout. Every domain is split on its own: a permutation of that domain's samples (in
///    dataset order) drawn from `RNG(seed: spec.seed).derived("split/<domain name>")`; the first
///    round(holdout · n) go to the domain's "out" part, the rest to its "in" part. (DomainBed
///    splits each environment the same way, with its own seed hash and int() instead of round.)
/// 2. Domains. Sources are the domains that are not targets (all domains when there are no
///    targets). train = the sources' "in" parts; val = the sources' "out" parts. The evaluation
///    pool is the target domain(s) — whole (`.wholeTarget`) or their "out" part
///    (`.targetHoldout`) — or, without targets, the "out" parts of all domains (so test then equals
///    val: in-distribution evaluation).
/// 3. Classes. Without `openRatio` every class is a base class. With it, of the C sorted
///    classes the first ⌈C·(1 − openRatio)⌉ are base and the rest new (openRatio 0.5 gives CoOp's
///    first ⌈C/2⌉). train and val keep base classes only; `open` = the evaluation pool's
///    new-class samples, scored among the new classes (`openClasses`); `test` = the pool's
///    base-class samples scored among the base classes — except "in the wild" (targets and
///    openRatio both set), where test = the whole pool, all classes, scored among all class names.
/// 4. Shots. With `shots = N`, at most N training images are kept per (base class, training
///    domain), chosen by `RNG(seed: spec.seed).derived("shots/<domain>/<class>")` (class
///    directory name). val is not reduced.
///
/// Every index list is sorted ascending. A split is `Codable` with its spec and a fingerprint of
/// the dataset, so a run can save it as JSON and restore it exactly (`validate(against:)`).
public struct Split: Codable, Equatable, Sendable, CustomStringConvertible {
    public let spec: SplitSpec
    public let train: [Int]
    public let val: [Int]
    public let test: [Int]
    public let open: [Int]
    public let baseClasses: [Int]
    public let newClasses: [Int]
    /// Classes the test set is scored among: base classes, or all classes (in the wild, or when
    /// there are no open classes).
    public let testClasses: [Int]
    /// Classes the open set is scored among (the new classes).
    public let openClasses: [Int]
    public let sourceDomains: [Int]
    public let targetDomains: [Int]
    /// The dataset this split was made from: names, image count and `Dataset.fingerprint`.
    public let domains: [String]
    public let classes: [String]
    public let imageCount: Int
    public let fingerprint: String
    /// Images per part and domain: `partCounts["train"]![d]` (parts train, val, test, open).
    public let partCounts: [String: [Int]]
    /// Remarks about this split (test equals val, no new classes, …).
    public let notes: [String]

    /// True when both targets and open classes are set: test over all classes of the targets.
    public var isInTheWild: Bool { !spec.targets.isEmpty && spec.openRatio != nil }

    public static func make(dataset: Dataset, spec: SplitSpec) throws -> Split {
        guard spec.holdout > 0 && spec.holdout < 1 else { throw SplitError.badHoldout(spec.holdout) }
        if let r = spec.openRatio, !(r > 0 && r < 1) { throw SplitError.badOpenRatio(r) }
        if let n = spec.shots, n < 1 { throw SplitError.badShots(n) }

        let D = dataset.domains.count, C = dataset.classes.count
        var targets: [Int] = []
        for name in spec.targets {
            guard let d = dataset.domainIndex(name) else {
                throw SplitError.unknownTarget(name: name, domains: dataset.domains, suggestion: closest(name, dataset.domains))
            }
            if !targets.contains(d) { targets.append(d) }
        }
        targets.sort()
        let sources = (0 ..< D).filter { !targets.contains($0) }
        if sources.isEmpty { throw SplitError.allDomainsAreTargets(domains: dataset.domains) }

        // 1. Holdout per domain.
        let root = RNG(seed: spec.seed)
        var inPart = [[Int]](repeating: [], count: D), outPart = [[Int]](repeating: [], count: D)
        var byDomain = [[Int]](repeating: [], count: D)
        for (i, s) in dataset.samples.enumerated() { byDomain[s.domain].append(i) }
        for d in 0 ..< D {
            let members = byDomain[d]
            var rng = root.derived("split/\(dataset.domains[d])")
            let perm = rng.permutation(members.count)
            let nOut = Int((spec.holdout * Double(members.count)).rounded(.toNearestOrAwayFromZero))
            outPart[d] = perm[..<nOut].map { members[$0] }.sorted()
            inPart[d] = perm[nOut...].map { members[$0] }.sorted()
        }

        // 3. Classes.
        var notes: [String] = []
        let nBase: Int
        if let r = spec.openRatio {
            nBase = min(C, max(1, Int((Double(C) * (1 - r) - 1e-9).rounded(.up))))
            if nBase == C { notes.append("open ratio \(r) of \(C) classes leaves no new classes; the open set is empty") }
        } else {
            nBase = C
        }
        let baseClasses = Array(0 ..< nBase), newClasses = Array(nBase ..< C)
        func isBase(_ i: Int) -> Bool { dataset.samples[i].label < nBase }

        // 2. Parts.
        var train = sources.flatMap { inPart[$0] }.filter(isBase)
        let val = sources.flatMap { outPart[$0] }.filter(isBase).sorted()
        let pool: [Int]
        if targets.isEmpty {
            pool = (0 ..< D).flatMap { outPart[$0] }.sorted()
            notes.append("no target domains: test is the held-out part of every domain (the same images as val)")
            if spec.testScope != .wholeTarget { notes.append("test scope \(spec.testScope.rawValue) has no effect without targets") }
        } else {
            pool = targets.flatMap { spec.testScope == .wholeTarget ? byDomain[$0] : outPart[$0] }.sorted()
        }
        let inTheWild = !targets.isEmpty && spec.openRatio != nil
        let test = inTheWild ? pool : pool.filter(isBase)
        let open = spec.openRatio == nil ? [] : pool.filter { !isBase($0) }

        // 4. Shots.
        if let n = spec.shots {
            var strata = [[Int]](repeating: [], count: D * C)
            for i in train { strata[dataset.samples[i].domain * C + dataset.samples[i].label].append(i) }
            var kept: [Int] = []
            for d in sources {
                for c in baseClasses {
                    let stratum = strata[d * C + c]
                    if stratum.count <= n { kept += stratum; continue }
                    var rng = root.derived("shots/\(dataset.domains[d])/\(dataset.classes[c])")
                    kept += rng.permutation(stratum.count)[..<n].map { stratum[$0] }
                }
            }
            train = kept
        }
        train.sort()

        if train.isEmpty {
            let reason: String
            if sources.allSatisfy({ byDomain[$0].isEmpty }) {
                reason = "the source domain(s) " + sources.map { "'\(dataset.domains[$0])'" }.joined(separator: ", ") + " have no images"
            } else if sources.allSatisfy({ inPart[$0].isEmpty }) {
                reason = "holdout \(spec.holdout) puts every source image in val"
            } else {
                reason = "no source image of a base class (" + baseClasses.map { dataset.classes[$0] }.joined(separator: ", ") + ") is left in train"
            }
            throw SplitError.emptyTraining(reason: reason)
        }
        if val.isEmpty { notes.append("val is empty (too few source images for holdout \(spec.holdout))") }

        var partCounts: [String: [Int]] = [:]
        for (name, part) in [("train", train), ("val", val), ("test", test), ("open", open)] {
            var counts = [Int](repeating: 0, count: D)
            for i in part { counts[dataset.samples[i].domain] += 1 }
            partCounts[name] = counts
        }
        return Split(spec: spec, train: train, val: val, test: test, open: open,
                     baseClasses: baseClasses, newClasses: newClasses,
                     testClasses: inTheWild || spec.openRatio == nil ? Array(0 ..< C) : baseClasses,
                     openClasses: newClasses, sourceDomains: sources, targetDomains: targets,
                     domains: dataset.domains, classes: dataset.classes, imageCount: dataset.samples.count,
                     fingerprint: dataset.fingerprint, partCounts: partCounts, notes: notes)
    }

    /// Checks that a restored split indexes this dataset: same domains, classes, image count and
    /// fingerprint (relative paths, domains and labels of every sample, in order).
    public func validate(against dataset: Dataset) throws {
        if dataset.domains != domains {
            throw SplitError.mismatch("domains differ (split: \(domains.joined(separator: ", ")); dataset: \(dataset.domains.joined(separator: ", ")))")
        }
        if dataset.classes != classes {
            let missing = classes.filter { !dataset.classes.contains($0) }, extra = dataset.classes.filter { !classes.contains($0) }
            var parts: [String] = []
            if !missing.isEmpty { parts.append("not in the dataset: " + missing.prefix(5).joined(separator: ", ")) }
            if !extra.isEmpty { parts.append("not in the split: " + extra.prefix(5).joined(separator: ", ")) }
            throw SplitError.mismatch("classes differ (\(classes.count) in the split, \(dataset.classes.count) in the dataset" +
                (parts.isEmpty ? "; same names, different order" : "; " + parts.joined(separator: "; ")) + ")")
        }
        if dataset.samples.count != imageCount {
            throw SplitError.mismatch("the split was made from \(imageCount) images, the dataset has \(dataset.samples.count)")
        }
        if dataset.fingerprint != fingerprint {
            throw SplitError.mismatch("same counts but different files (fingerprint \(dataset.fingerprint), split \(fingerprint))")
        }
        for (name, part) in [("train", train), ("val", val), ("test", test), ("open", open)] {
            if let bad = part.first(where: { $0 < 0 || $0 >= imageCount }) {
                throw SplitError.mismatch("\(name) holds index \(bad), outside 0..<\(imageCount)")
            }
            var counts = [Int](repeating: 0, count: domains.count)
            for i in part { counts[dataset.samples[i].domain] += 1 }
            if let stated = partCounts[name], stated != counts {
                throw SplitError.mismatch("\(name) has \(counts) images per domain, the split says \(stated)")
            }
        }
        let base = Set(baseClasses)
        if let i = train.first(where: { !base.contains(dataset.samples[$0].label) }) {
            throw SplitError.mismatch("train holds image \(i) of class '\(classes[dataset.samples[i].label])', not a base class")
        }
        let sources = Set(sourceDomains)
        if let i = train.first(where: { !sources.contains(dataset.samples[$0].domain) }) {
            throw SplitError.mismatch("train holds image \(i) of domain '\(domains[dataset.samples[i].domain])', not a source domain")
        }
    }

    private enum CodingKeys: String, CodingKey {
        case spec, train, val, test, open, baseClasses, newClasses, testClasses, openClasses, sourceDomains, targetDomains
        case domains, classes, imageCount, fingerprint, partCounts, notes
    }

    /// The checks `parse` documents, on a decoded split.
    func checkConsistency(file: String) throws {
        func fail(_ field: String, _ reason: String) -> SplitError { .invalid(file: file, field: field, reason: reason) }
        guard imageCount >= 0 else { throw fail("imageCount", "\(imageCount) is negative") }
        guard !domains.isEmpty else { throw fail("domains", "the list is empty") }
        guard !classes.isEmpty else { throw fail("classes", "the list is empty") }
        for (field, names) in [("domains", domains), ("classes", classes)] {
            var seen = Set<String>()
            if let i = names.indices.first(where: { !seen.insert(names[$0]).inserted }) {
                throw fail("\(field)[\(i)]", "'\(names[i])' appears twice")
            }
        }
        guard spec.holdout > 0 && spec.holdout < 1 else { throw fail("spec.holdout", "must be between 0 and 1 (exclusive), got \(spec.holdout)") }
        if let r = spec.openRatio, !(r > 0 && r < 1) { throw fail("spec.openRatio", "must be between 0 and 1 (exclusive), got \(r)") }
        if let n = spec.shots, n < 1 { throw fail("spec.shots", "must be at least 1, got \(n)") }
        for (k, t) in spec.targets.enumerated() where !domains.contains(where: { $0 == t || $0.lowercased() == t.lowercased() }) {
            throw fail("spec.targets[\(k)]", "unknown domain '\(t)' (domains: \(domains.joined(separator: ", ")))")
        }
        func ids(_ field: String, _ list: [Int], below n: Int, what: String) throws {
            for (k, i) in list.enumerated() {
                guard i >= 0 && i < n else { throw fail("\(field)[\(k)]", "\(what) \(i) is outside 0..<\(n)") }
                if k > 0 && i <= list[k - 1] { throw fail("\(field)[\(k)]", "\(what) \(i) is not above the one before it (\(list[k - 1])): the list must be sorted without repeats") }
            }
        }
        for (field, part) in [("train", train), ("val", val), ("test", test), ("open", open)] {
            try ids(field, part, below: imageCount, what: "image index")
        }
        for (field, list) in [("baseClasses", baseClasses), ("newClasses", newClasses), ("testClasses", testClasses), ("openClasses", openClasses)] {
            try ids(field, list, below: classes.count, what: "class id")
        }
        try ids("sourceDomains", sourceDomains, below: domains.count, what: "domain id")
        try ids("targetDomains", targetDomains, below: domains.count, what: "domain id")
        guard !sourceDomains.isEmpty else { throw fail("sourceDomains", "the list is empty: nothing to train on") }
        if let d = targetDomains.first(where: sourceDomains.contains) { throw fail("targetDomains", "domain \(d) is also a source domain") }
        if let c = newClasses.first(where: baseClasses.contains) { throw fail("newClasses", "class \(c) is also a base class") }
        for name in ["train", "val", "test", "open"] {
            guard let counts = partCounts[name] else { throw fail("partCounts.\(name)", "missing") }
            guard counts.count == domains.count else { throw fail("partCounts.\(name)", "\(counts.count) counts for \(domains.count) domains") }
            if let k = counts.indices.first(where: { counts[$0] < 0 }) { throw fail("partCounts.\(name)[\(k)]", "\(counts[k]) is negative") }
            let listed = [train, val, test, open][["train", "val", "test", "open"].firstIndex(of: name)!].count
            let sum = counts.reduce(Optional(0)) { acc, n in acc.flatMap { Checked.add($0, n) } }
            guard sum == listed else {
                throw fail("partCounts.\(name)", "the counts add up to \(sum.map(String.init) ?? "more than an Int holds"), but '\(name)' lists \(listed) images")
            }
        }
        if let extra = partCounts.keys.sorted().first(where: { !["train", "val", "test", "open"].contains($0) }) {
            throw fail("partCounts.\(extra)", "unknown part (parts: train, val, test, open)")
        }
    }

    /// The training indices grouped by source domain, in domain order (for `DomainSampler`).
    public func trainByDomain(_ dataset: Dataset) -> [[Int]] {
        sourceDomains.map { d in train.filter { dataset.samples[$0].domain == d } }
    }

    /// Saves as pretty-printed JSON.
    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicWrite.write(encoder.encode(self), to: path)
    }

    /// The largest split file read (index lists of a few million images fit easily).
    public static let maxFileBytes = 256 << 20

    /// Reads a split saved by `save(to:)` (a regular file of at most `maxFileBytes`), checking
    /// it in itself (see `parse`); call `validate(against:)` before using it with a dataset.
    public static func load(from path: String) throws -> Split {
        try parse(data: try FileReading.read(path, limit: maxFileBytes), file: path)
    }

    /// A split from the JSON bytes of a split file, checked in itself: every index inside
    /// 0..<imageCount and strictly ascending, domain and class ids inside their lists, targets
    /// among the domains, the spec's numbers in range, the per-domain counts consistent with
    /// the index lists. Errors are one `SplitError.invalid` naming `file` and the field. A pure
    /// function of the bytes: a fuzzing harness can call it directly.
    public static func parse(data: Data, file: String) throws -> Split {
        let decoder = JSONDecoder()
        decoder.userInfo[splitFileKey] = file
        do { return try decoder.decode(Split.self, from: data) } catch let e as SplitError { throw e } catch let e as DecodingError {
            throw describe(e, file: file)
        }
    }

    /// Where `init(from:)` finds the file name for its errors.
    static let splitFileKey = CodingUserInfoKey(rawValue: "clipood.splitFile")!

    /// A decoding error as one line with the field path.
    static func describe(_ error: DecodingError, file: String) -> SplitError {
        func path(_ keys: [CodingKey]) -> String {
            var out = ""
            for k in keys {
                if let i = k.intValue { out += "[\(i)]" } else { out += (out.isEmpty ? "" : ".") + k.stringValue }
            }
            return out.isEmpty ? "(top level)" : out
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            return .invalid(file: file, field: path(ctx.codingPath + [key]), reason: "missing")
        case .typeMismatch(let type, let ctx):
            return .invalid(file: file, field: path(ctx.codingPath), reason: "expected \(typeName(type))")
        case .valueNotFound(let type, let ctx):
            return .invalid(file: file, field: path(ctx.codingPath), reason: "expected \(typeName(type)), found null")
        case .dataCorrupted(let ctx):
            return .invalid(file: file, field: path(ctx.codingPath), reason: ctx.codingPath.isEmpty ? "not valid JSON" : "invalid value")
        @unknown default:
            return .invalid(file: file, field: "(top level)", reason: "cannot be decoded")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Double.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default: return String(describing: type).hasPrefix("Array") ? "a list" : "an object"
        }
    }

    /// Setting, then images per part and domain, then notes.
    public var description: String {
        var setting: [String] = []
        if !targetDomains.isEmpty {
            setting.append("targets " + targetDomains.map { domains[$0] }.joined(separator: ", ") +
                " (test: " + (spec.testScope == .wholeTarget ? "whole target" : "target holdout") + ")")
        } else {
            setting.append("no target domains")
        }
        setting.append("holdout \(spec.holdout)")
        if let r = spec.openRatio { setting.append("open \(r): \(baseClasses.count) base / \(newClasses.count) new classes") }
        if let n = spec.shots { setting.append("\(n) shots") }
        setting.append("seed \(spec.seed)")
        let kind = isInTheWild ? "in the wild" : spec.openRatio != nil ? "open class" : targetDomains.isEmpty ? "in distribution" : "domain shift"
        var lines = ["split (\(kind)): " + setting.joined(separator: ", ")]
        let width = max(6, domains.map(\.count).max() ?? 0)
        func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, w - s.count))
            return left ? s + fill : fill + s
        }
        lines.append(pad("domain", width, left: true) + "   train     val    test    open")
        for d in domains.indices {
            let role = targetDomains.contains(d) ? " (target)" : ""
            let cells = ["train", "val", "test", "open"].map { pad(String(partCounts[$0]?[d] ?? 0), 7) }.joined(separator: " ")
            lines.append(pad(domains[d], width, left: true) + " " + cells + role)
        }
        let totals = [train.count, val.count, test.count, open.count].map { pad(String($0), 7) }.joined(separator: " ")
        lines.append(pad("total", width, left: true) + " " + totals)
        lines.append("test scored among \(testClasses.count) classes" + (openClasses.isEmpty || open.isEmpty ? "" : "; open among \(openClasses.count)"))
        lines += notes.map { "note: " + $0 }
        return lines.joined(separator: "\n")
    }

    /// The candidate closest to `name` by edit distance (case-insensitive), if it is close enough.
    static func closest(_ name: String, _ candidates: [String]) -> String? {
        let a = Array(name.lowercased())
        var best: (String, Int)?
        for c in candidates {
            let b = Array(c.lowercased())
            var prev = Array(0 ... b.count), cur = [Int](repeating: 0, count: b.count + 1)
            for i in 1 ... max(a.count, 1) where !a.isEmpty {
                cur[0] = i
                for j in 1 ... max(b.count, 1) where !b.isEmpty {
                    cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                }
                swap(&prev, &cur)
            }
            let dist = a.isEmpty ? b.count : prev[b.count]
            let prefix = b.starts(with: a) && !a.isEmpty
            let score = prefix ? 0 : dist
            if score <= max(2, b.count / 3), best == nil || score < best!.1 { best = (c, score) }
        }
        return best?.0
    }
}

extension Split {
    /// Decodes and checks the split in itself (`parse` documents the checks); an inconsistency
    /// throws `SplitError.invalid` naming the file (from the decoder's user info) and the field.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        spec = try c.decode(SplitSpec.self, forKey: .spec)
        train = try c.decode([Int].self, forKey: .train)
        val = try c.decode([Int].self, forKey: .val)
        test = try c.decode([Int].self, forKey: .test)
        open = try c.decode([Int].self, forKey: .open)
        baseClasses = try c.decode([Int].self, forKey: .baseClasses)
        newClasses = try c.decode([Int].self, forKey: .newClasses)
        testClasses = try c.decode([Int].self, forKey: .testClasses)
        openClasses = try c.decode([Int].self, forKey: .openClasses)
        sourceDomains = try c.decode([Int].self, forKey: .sourceDomains)
        targetDomains = try c.decode([Int].self, forKey: .targetDomains)
        domains = try c.decode([String].self, forKey: .domains)
        classes = try c.decode([String].self, forKey: .classes)
        imageCount = try c.decode(Int.self, forKey: .imageCount)
        fingerprint = try c.decode(String.self, forKey: .fingerprint)
        partCounts = try c.decode([String: [Int]].self, forKey: .partCounts)
        notes = try c.decodeIfPresent([String].self, forKey: .notes) ?? []
        try checkConsistency(file: decoder.userInfo[Split.splitFileKey] as? String ?? "")
    }
}
