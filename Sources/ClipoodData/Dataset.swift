import ClipoodIO
import Foundation

/// One image of a dataset: its file, its domain and its class (indices into `Dataset.domains`
/// and `Dataset.classes`).
public struct Sample: Equatable, Hashable, Sendable {
    public let path: String
    public let domain: Int
    public let label: Int

    public init(path: String, domain: Int, label: Int) {
        self.path = path
        self.domain = domain
        self.label = label
    }
}

/// How images are arranged under a dataset's root folder.
///   - `domainbed`:   `root/<domain>/<class>/<image>` (DomainBed, Dassl DG datasets);
///   - `imagefolder`: `root/<class>/<image>`, one domain named after the root folder
///                    (torchvision `ImageFolder`, CoOp-style single-domain datasets);
///   - `auto`:        `domainbed` when no subdirectory of root holds an image file directly and at
///                    least one holds a subdirectory; `imagefolder` otherwise. (Non-image files
///                    such as a stray README do not count either way.)
public enum Layout: String, CaseIterable, Codable, Sendable {
    case auto, domainbed, imagefolder
}

/// A dataset on disk: domains × classes × image paths. Nothing is decoded when it is loaded;
/// `verifyImages` decodes every image once to find unreadable files, and `BatchBuilder`
/// decodes at batch time.
///
/// Conventions:
///   - domains and classes are directory names sorted in byte order of their UTF-8 names; class
///     ids and domain ids are positions in those lists;
///   - the class list is the union over domains of the class folders that hold at least one
///     image (a class missing from some domains is a warning, not an error);
///   - images are files whose extension is jpg, jpeg or png (any case), sorted by name within a
///     class; other files are ignored and counted in `notes`; hidden entries (names starting with
///     ".") are ignored silently;
///   - `samples` are ordered by domain, then class, then file name;
///   - `classNames` are the display names used in prompts: `_` becomes a space
///     (`alarm_clock` → `alarm clock`).
public struct Dataset: Sendable, CustomStringConvertible {
    /// The root folder as given to `load` (standardised: no trailing slash).
    public let root: String
    /// The layout actually used (never `.auto`).
    public let layout: Layout
    /// The root folder's last path component (e.g. "PACS").
    public let name: String
    public let domains: [String]
    /// Class directory names.
    public let classes: [String]
    /// Display names for prompts: directory names with `_` replaced by spaces.
    public let classNames: [String]
    public private(set) var samples: [Sample]
    /// Images per domain × class: `counts[domain][class]`.
    public private(set) var counts: [[Int]]
    /// Non-fatal problems a user should see (classes missing from domains, images removed).
    public private(set) var warnings: [String]
    /// Informational lines (how the layout was chosen, files ignored).
    public private(set) var notes: [String]
    /// Entries the scan skipped because they are neither folders nor regular files (FIFOs,
    /// devices, sockets, links to them, broken links), in scan order; `warnings` lists them too.
    public let skipped: [String]

    public init(root: String, layout: Layout, name: String, domains: [String], classes: [String],
                samples: [Sample], warnings: [String] = [], notes: [String] = [], skipped: [String] = []) {
        precondition(layout != .auto, "Dataset: the layout must be resolved")
        self.root = root
        self.layout = layout
        self.name = name
        self.domains = domains
        self.classes = classes
        self.classNames = classes.map(Dataset.displayName)
        self.samples = samples
        self.counts = Dataset.count(samples, domains: domains.count, classes: classes.count)
        self.warnings = warnings
        self.notes = notes
        self.skipped = skipped
    }

    /// Loads the folder structure under `root` (see `Layout` and the type's documentation).
    /// Throws `DatasetError` when root is missing or not a directory, is empty, holds no images,
    /// or (DomainBed layout) has a domain without images.
    public static func load(root: String, layout: Layout = .auto) throws -> Dataset {
        try DatasetScanner.scan(root: root, layout: layout)
    }

    /// `alarm_clock` → `alarm clock`.
    public static func displayName(_ directoryName: String) -> String {
        directoryName.replacingOccurrences(of: "_", with: " ")
    }

    public var imageCount: Int { samples.count }

    /// Indices into `samples` of one domain's images.
    public func indices(ofDomain d: Int) -> [Int] {
        samples.indices.filter { samples[$0].domain == d }
    }

    /// Images per domain.
    public var domainCounts: [Int] { counts.map { $0.reduce(0, +) } }

    /// Images per class over all domains.
    public var classCounts: [Int] {
        (0 ..< classes.count).map { c in counts.reduce(0) { $0 + $1[c] } }
    }

    /// The index of a domain by name: exact, else case-insensitive when that is unambiguous.
    public func domainIndex(_ name: String) -> Int? {
        if let i = domains.firstIndex(of: name) { return i }
        let matches = domains.indices.filter { domains[$0].lowercased() == name.lowercased() }
        return matches.count == 1 ? matches[0] : nil
    }

    /// The index of a class by directory name or display name (exact, else case-insensitive when
    /// that is unambiguous).
    public func classIndex(_ name: String) -> Int? {
        if let i = classes.firstIndex(of: name) ?? classNames.firstIndex(of: name) { return i }
        let lower = name.lowercased()
        let matches = classes.indices.filter { classes[$0].lowercased() == lower || classNames[$0].lowercased() == lower }
        return matches.count == 1 ? matches[0] : nil
    }

    /// The path of a sample relative to the root (how splits fingerprint a dataset).
    public func relativePath(_ i: Int) -> String {
        let p = samples[i].path
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return p.hasPrefix(prefix) ? String(p.dropFirst(prefix.count)) : p
    }

    /// A 64-bit FNV-1a hash (16 hex digits) of every sample's relative path, domain and label, in
    /// order: two datasets with the same fingerprint index the same images the same way.
    public var fingerprint: String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
            for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        }
        for i in samples.indices {
            mix(relativePath(i).utf8)
            mix([0, UInt8(truncatingIfNeeded: samples[i].domain), UInt8(truncatingIfNeeded: samples[i].domain >> 8),
                 UInt8(truncatingIfNeeded: samples[i].label), UInt8(truncatingIfNeeded: samples[i].label >> 8), 0xFF])
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// One line: "PACS (domainbed, /data/PACS): 4 domains × 7 classes, 9991 images".
    public var description: String {
        "\(name) (\(layout.rawValue), \(root)): \(domains.count) domain\(domains.count == 1 ? "" : "s") × " +
            "\(classes.count) class\(classes.count == 1 ? "" : "es"), \(samples.count) image\(samples.count == 1 ? "" : "s")"
    }

    /// A table of images per domain × class (classes as rows), with totals.
    /// The table of image counts per class and domain, for the terminal (names escaped: `DisplayText`).
    public var countTable: String {
        let classes = self.classes.map(DisplayText.escaped), domains = self.domains.map(DisplayText.escaped)
        let nameWidth = max(5, classes.map(\.count).max() ?? 0)
        let widths = domains.map { max($0.count, 5) }
        func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, w - s.count))
            return left ? s + fill : fill + s
        }
        var lines = [pad("class", nameWidth, left: true) + "  " + zip(domains, widths).map { pad($0, $1) }.joined(separator: "  ") + "  total"]
        for c in classes.indices {
            let row = domains.indices.map { pad(String(counts[$0][c]), widths[$0]) }.joined(separator: "  ")
            lines.append(pad(classes[c], nameWidth, left: true) + "  " + row + "  " + pad(String(classCounts[c]), 5))
        }
        let totals = domains.indices.map { pad(String(domainCounts[$0]), widths[$0]) }.joined(separator: "  ")
        lines.append(pad("total", nameWidth, left: true) + "  " + totals + "  " + pad(String(samples.count), 5))
        return lines.joined(separator: "\n")
    }

    /// Decodes every image once (in parallel on `threads` threads) and removes the ones that
    /// cannot be decoded, returning them with the decoder's reason (which names the file), in
    /// sample order. `progress(done, total)` is called on the calling thread after each chunk.
    ///
    /// Removing images shifts sample indices: verify before making a split (a split made before
    /// no longer validates against the verified dataset). Counts are updated; a domain or class
    /// left without images is reported in `warnings` (the domain and class lists do not change).
    /// This decodes the whole file, not only its header, so truncated files are found too.
    @discardableResult
    public mutating func verifyImages(threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                                      progress: ((Int, Int) -> Void)? = nil) -> [(path: String, reason: String)] {
        let paths = samples.map(\.path)
        let failures = ImageCheck.undecodable(paths, threads: threads, progress: progress)
        guard !failures.isEmpty else { return [] }
        let bad = Set(failures.map(\.index))
        samples = samples.indices.filter { !bad.contains($0) }.map { samples[$0] }
        counts = Dataset.count(samples, domains: domains.count, classes: classes.count)
        warnings.append("removed \(failures.count) unreadable image\(failures.count == 1 ? "" : "s"): " +
            failures.prefix(3).map { "'\($0.path)'" }.joined(separator: ", ") + (failures.count > 3 ? ", …" : ""))
        for d in domains.indices where domainCounts[d] == 0 {
            warnings.append("domain '\(domains[d])' has no readable images left (\(root)/\(domains[d]))")
        }
        for c in classes.indices where classCounts[c] == 0 {
            warnings.append("class '\(classes[c])' has no readable images left")
        }
        return failures.map { (path: $0.path, reason: $0.reason) }
    }

    static func count(_ samples: [Sample], domains: Int, classes: Int) -> [[Int]] {
        var counts = [[Int]](repeating: [Int](repeating: 0, count: classes), count: domains)
        for s in samples { counts[s.domain][s.label] += 1 }
        return counts
    }
}

/// Why a dataset could not be loaded or used. Every case names the path (and the domain where
/// one is involved).
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    case rootMissing(path: String)
    case rootNotDirectory(path: String)
    case rootUnreadable(path: String, reason: String)
    /// The root holds no visible entries.
    case rootEmpty(path: String)
    /// No image files at the depth the layout expects.
    case noImages(path: String, layout: Layout, hint: String)
    /// DomainBed layout: a domain folder with no images in any class folder.
    case domainWithoutImages(domain: String, path: String)
    /// At batch time: an image that cannot be decoded (`reason` is the decoder's message).
    case unreadableImage(path: String, reason: String)

    public var description: String {
        switch self {
        case .rootMissing(let p):
            return "dataset folder '\(p)' does not exist"
        case .rootNotDirectory(let p):
            return "'\(p)' is not a folder (a dataset is a folder of domain or class folders)"
        case .rootUnreadable(let p, let r):
            return "cannot list dataset folder '\(p)': \(r)"
        case .rootEmpty(let p):
            return "dataset folder '\(p)' is empty"
        case .noImages(let p, let layout, let hint):
            return "no images (.jpg, .jpeg, .png) found under '\(p)' with the \(layout.rawValue) layout" + (hint.isEmpty ? "" : ": \(hint)")
        case .domainWithoutImages(let d, let p):
            return "domain '\(d)' has no images ('\(p)' should hold one folder of images per class)"
        case .unreadableImage(let p, let r):
            return "cannot use image '\(p)': \(r)"
        }
    }
}
