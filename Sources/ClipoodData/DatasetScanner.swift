import ClipoodIO
import Foundation

/// Walks a dataset folder (see `Dataset` and `Layout` for the rules). Only directory listings and
/// file kinds (stat) are read; no image is opened. Entries that are neither folders nor regular
/// files — FIFOs, devices, sockets, links to them, broken links — are skipped and listed: opening
/// a FIFO would block and a device never ends.
enum DatasetScanner {
    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    static func isImageName(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        return imageExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    /// Byte order of the UTF-8 names (not Swift's Unicode-aware `<`), so the order is the same as
    /// Python's `sorted` on the names.
    static func byteOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// What an entry is, after following symbolic links.
    enum Kind: Equatable {
        case directory, regular
        /// Anything else, with what it is ("a FIFO", "a device", "a socket", "a broken link").
        case special(String)
    }

    struct Entry {
        let name: String
        let kind: Kind
        var isDirectory: Bool { kind == .directory }
    }

    static func kind(of path: String) -> Kind {
        switch FileReading.kind(of: path) {
        case .directory?: return .directory
        case .regular?: return .regular
        case .fifo?: return .special("a FIFO")
        case .device?: return .special("a device")
        case .socket?: return .special("a socket")
        case .other?: return .special("not a regular file")
        case nil: return .special("a broken link")
        }
    }

    /// Visible entries of a folder, sorted in byte order. Symbolic links are followed.
    static func list(_ path: String) throws -> [Entry] {
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
        return names.filter { !$0.hasPrefix(".") }.sorted(by: byteOrder).map { Entry(name: $0, kind: kind(of: path + "/" + $0)) }
    }

    /// What a folder holds, one level down.
    struct Folder {
        var images: [String] = []         // image file names, sorted
        var directories: [String] = []    // sorted
        var otherFiles: [String] = []     // regular non-image files
        var special: [(name: String, kind: String)] = []   // neither folders nor regular files
    }

    static func folder(_ path: String) -> Folder {
        var f = Folder()
        for e in (try? list(path)) ?? [] {
            switch e.kind {
            case .directory: f.directories.append(e.name)
            case .regular: if isImageName(e.name) { f.images.append(e.name) } else { f.otherFiles.append(e.name) }
            case .special(let what): f.special.append((e.name, what))
            }
        }
        return f
    }

    static func scan(root given: String, layout requested: Layout) throws -> Dataset {
        var root = given.isEmpty ? "." : given
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDir) else { throw DatasetError.rootMissing(path: root) }
        guard isDir.boolValue else { throw DatasetError.rootNotDirectory(path: root) }
        let top: [Entry]
        do { top = try list(root) } catch {
            // The reason from the system (errno), not Foundation's wrapped error text.
            let dir = opendir(root)
            let reason = dir == nil ? String(cString: strerror(errno)).lowercased() : "it cannot be listed"
            if let dir { closedir(dir) }
            throw DatasetError.rootUnreadable(path: root, reason: reason)
        }
        guard !top.isEmpty else { throw DatasetError.rootEmpty(path: root) }
        let name = URL(fileURLWithPath: root).standardizedFileURL.lastPathComponent

        let subdirs = top.filter(\.isDirectory).map(\.name)
        let rootFiles = top.filter { $0.kind == .regular }.map(\.name)
        let children = Dictionary(uniqueKeysWithValues: subdirs.map { ($0, folder(root + "/" + $0)) })
        // Special entries met anywhere the scan looks, with what they are.
        var special: [(path: String, kind: String)] = top.compactMap { e in
            if case .special(let what) = e.kind { return (root + "/" + e.name, what) }
            return nil
        }
        for d in subdirs { special += children[d]!.special.map { (root + "/" + d + "/" + $0.name, $0.kind) } }

        var notes: [String] = []
        let layout: Layout
        switch requested {
        case .auto:
            let noDirectImages = subdirs.allSatisfy { children[$0]!.images.isEmpty }
            let someNested = subdirs.contains { !children[$0]!.directories.isEmpty }
            layout = noDirectImages && someNested ? .domainbed : .imagefolder
            notes.append(layout == .domainbed
                ? "layout: domainbed (auto: root/<domain>/<class>/<image>)"
                : "layout: imagefolder (auto: root/<class>/<image>, one domain '\(name)')")
        case .domainbed, .imagefolder:
            layout = requested
        }

        // Everything not at the expected depth is counted as ignored.
        var ignored: [String] = rootFiles.map { root + "/" + $0 }
        var domains: [String] = []
        var perDomainClasses: [[String: [String]]] = []   // domain → class → image paths

        func collect(classDirs: [String], under base: String) -> [String: [String]] {
            var classes: [String: [String]] = [:]
            for c in classDirs {
                let f = folder(base + "/" + c)
                special += f.special.map { (base + "/" + c + "/" + $0.name, $0.kind) }
                ignored += f.otherFiles.map { base + "/" + c + "/" + $0 }
                ignored += f.directories.map { base + "/" + c + "/" + $0 + "/" }
                if !f.images.isEmpty { classes[c] = f.images.map { base + "/" + c + "/" + $0 } }
            }
            return classes
        }

        var emptyClassDirs: [String] = []
        switch layout {
        case .domainbed:
            let found = subdirs.map { d -> [String: [String]] in
                let f = children[d]!
                ignored += (f.images + f.otherFiles).map { root + "/" + d + "/" + $0 }
                return collect(classDirs: f.directories, under: root + "/" + d)
            }
            if found.allSatisfy(\.isEmpty) {
                let hint = subdirs.isEmpty ? "the root has no domain folders"
                    : "expected root/<domain>/<class>/<image>, e.g. '\(root)/\(subdirs[0])/<class>/<image>.jpg'"
                throw DatasetError.noImages(path: root, layout: layout, hint: hint)
            }
            for (d, classes) in zip(subdirs, found) {
                if classes.isEmpty { throw DatasetError.domainWithoutImages(domain: d, path: root + "/" + d) }
                emptyClassDirs += children[d]!.directories.filter { classes[$0] == nil }.map { root + "/" + d + "/" + $0 }
                domains.append(d)
                perDomainClasses.append(classes)
            }
        case .imagefolder, .auto:
            let classes = collect(classDirs: subdirs, under: root)
            if classes.isEmpty {
                let hint: String
                if subdirs.isEmpty {
                    hint = rootFiles.contains(where: isImageName)
                        ? "the images sit directly in the root; put them in one folder per class (root/<class>/<image>)"
                        : "the root has no class folders"
                } else if subdirs.contains(where: { !children[$0]!.directories.isEmpty }) {
                    hint = "the class folders hold folders, not images; is this a domainbed layout (root/<domain>/<class>/<image>)?"
                } else {
                    hint = "expected root/<class>/<image>"
                }
                throw DatasetError.noImages(path: root, layout: layout, hint: hint)
            }
            emptyClassDirs += subdirs.filter { classes[$0] == nil }.map { root + "/" + $0 }
            domains = [name]
            perDomainClasses = [classes]
        }

        let classList = Set(perDomainClasses.flatMap(\.keys)).sorted(by: byteOrder)
        let classIndex = Dictionary(uniqueKeysWithValues: classList.enumerated().map { ($1, $0) })
        var samples: [Sample] = []
        for (d, classes) in perDomainClasses.enumerated() {
            for c in classes.keys.sorted(by: byteOrder) {
                for p in classes[c]! { samples.append(Sample(path: p, domain: d, label: classIndex[c]!)) }
            }
        }

        var warnings: [String] = []
        if domains.count > 1 {
            for c in classList {
                let missing = domains.indices.filter { perDomainClasses[$0][c] == nil }.map { domains[$0] }
                if !missing.isEmpty {
                    warnings.append("class '\(c)' has no images in domain\(missing.count == 1 ? "" : "s") " +
                        missing.map { "'\($0)'" }.joined(separator: ", ") +
                        " (" + missing.map { "\(root)/\($0)/\(c)" }.joined(separator: ", ") + ")")
                }
            }
        }
        let orphanClassDirs = emptyClassDirs.filter { p in !classList.contains(URL(fileURLWithPath: p).lastPathComponent) }
        if !orphanClassDirs.isEmpty {
            warnings.append("left out \(orphanClassDirs.count) class folder\(orphanClassDirs.count == 1 ? "" : "s") with no images: " +
                orphanClassDirs.prefix(3).map { "'\($0)'" }.joined(separator: ", ") + (orphanClassDirs.count > 3 ? ", …" : ""))
        }
        if !ignored.isEmpty {
            notes.append("ignored \(ignored.count) non-image entr\(ignored.count == 1 ? "y" : "ies") " +
                "(not .jpg/.jpeg/.png, or not at the \(layout == .domainbed ? "root/<domain>/<class>/<image>" : "root/<class>/<image>") depth), e.g. " +
                ignored.prefix(3).map { "'\($0)'" }.joined(separator: ", "))
        }
        var seen = Set<String>()
        special = special.filter { seen.insert($0.path).inserted }   // a class folder can be looked at twice
        if !special.isEmpty {
            warnings.append("skipped \(special.count) entr\(special.count == 1 ? "y" : "ies") that \(special.count == 1 ? "is" : "are") not a regular file or folder: " +
                special.prefix(5).map { "'\($0.path)' (\($0.kind))" }.joined(separator: ", ") + (special.count > 5 ? ", …" : ""))
        }
        return Dataset(root: root, layout: layout, name: name, domains: domains, classes: classList,
                       samples: samples, warnings: warnings, notes: notes, skipped: special.map(\.path))
    }
}
