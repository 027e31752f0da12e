import Foundation

/// Walks a dataset folder (see `Dataset` and `Layout` for the rules). Only directory listings are
/// read; no image is opened.
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

    struct Entry { let name: String; let isDirectory: Bool }

    /// Visible entries of a folder, sorted in byte order. Symbolic links are followed.
    static func list(_ path: String) throws -> [Entry] {
        let fm = FileManager.default
        let names = try fm.contentsOfDirectory(atPath: path)
        return names.filter { !$0.hasPrefix(".") }.sorted(by: byteOrder).map { name in
            var isDir: ObjCBool = false
            let exists = fm.fileExists(atPath: path + "/" + name, isDirectory: &isDir)
            return Entry(name: name, isDirectory: exists && isDir.boolValue)
        }
    }

    /// What a folder holds, one level down.
    struct Folder {
        var images: [String] = []         // image file names, sorted
        var directories: [String] = []    // sorted
        var otherFiles: [String] = []     // non-image files
    }

    static func folder(_ path: String) -> Folder {
        var f = Folder()
        for e in (try? list(path)) ?? [] {
            if e.isDirectory { f.directories.append(e.name) }
            else if isImageName(e.name) { f.images.append(e.name) }
            else { f.otherFiles.append(e.name) }
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
        let rootFiles = top.filter { !$0.isDirectory }.map(\.name)
        let children = Dictionary(uniqueKeysWithValues: subdirs.map { ($0, folder(root + "/" + $0)) })

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
        return Dataset(root: root, layout: layout, name: name, domains: domains, classes: classList,
                       samples: samples, warnings: warnings, notes: notes)
    }
}
