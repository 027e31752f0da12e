import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Replacing a whole directory so that a kill at any instant leaves either the complete old
/// directory or the complete new one: the new content is written into a sibling temporary
/// directory, every file and the directory are fsynced, and the two are swapped in one step
/// (`renameat2(RENAME_EXCHANGE)` where the kernel and file system have it). Elsewhere the old
/// directory is renamed aside (`NAME.clipood-old`), the new one renamed into place and the old
/// one removed; a reader that finds NAME missing and the aside copy present takes the aside copy
/// (`recoverable(_:)`), which is the complete old state.
public enum AtomicDirectory {
    /// The name the previous directory has while a fallback swap is in progress.
    public static func asidePath(_ path: String) -> String { path + ".clipood-old" }

    /// Writes a new version of the directory at `path`: `fill` gets the temporary directory's
    /// path and writes every file into it; `step` is called after each stage ("filled", "synced",
    /// "swapped", "removed") so that a caller (a test) can observe or interrupt between them.
    public static func replace(_ path: String, step: (String) -> Void = { _ in }, fill: (String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let parent = url.deletingLastPathComponent().path, name = url.lastPathComponent
        try createFolders(parent)
        if let kind = FileReading.kind(of: path), kind != .directory {
            throw IOFailure("write", path, "it exists and is not a folder")
        }
        removeLeftovers(of: path)
        let temp = parent + "/." + name + ".clipood-new-\(getpid())"
        try? FileManager.default.removeItem(atPath: temp)
        guard mkdir(temp, 0o755) == 0 else { throw IOFailure.errno("create", temp) }
        do {
            try fill(temp)
            step("filled")
            try syncTree(temp)
            try syncPath(parent, directory: true)
            step("synced")
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw error
        }
        if FileReading.kind(of: path) == nil {
            // Nothing there yet: one rename publishes the complete directory.
            guard rename(temp, path) == 0 else { let e = IOFailure.errno("write", path); try? FileManager.default.removeItem(atPath: temp); throw e }
            try syncPath(parent, directory: true)
            step("swapped")
            step("removed")
            return
        }
        if exchange(temp, path) {
            // `temp` now holds the old directory.
            try syncPath(parent, directory: true)
            step("swapped")
            try? FileManager.default.removeItem(atPath: temp)
            step("removed")
            return
        }
        let aside = asidePath(path)
        try? FileManager.default.removeItem(atPath: aside)
        guard rename(path, aside) == 0 else { let e = IOFailure.errno("write", path); try? FileManager.default.removeItem(atPath: temp); throw e }
        guard rename(temp, path) == 0 else {
            let e = IOFailure.errno("write", path)
            _ = rename(aside, path)
            try? FileManager.default.removeItem(atPath: temp)
            throw e
        }
        try syncPath(parent, directory: true)
        step("swapped")
        try? FileManager.default.removeItem(atPath: aside)
        step("removed")
    }

    /// Removes what a killed earlier replacement of `path` left beside it: temporary directories
    /// `.NAME.clipood-new-PID` whose process no longer runs (a live one belongs to a save in
    /// progress), and the aside copy when `path` itself is complete (the aside copy is then the
    /// state before a swap that finished). Returns the paths removed.
    @discardableResult
    public static func removeLeftovers(of path: String) -> [String] {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let parent = url.deletingLastPathComponent().path, name = url.lastPathComponent
        let prefix = "." + name + ".clipood-new-"
        var removed: [String] = []
        for item in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where item.hasPrefix(prefix) {
            guard let pid = Int32(item.dropFirst(prefix.count)), pid > 0 else { continue }
            let p = parent + "/" + item
            guard pid != getpid(), kill(pid, 0) != 0, errno == ESRCH, FileReading.kind(of: p) == .directory else { continue }
            if (try? FileManager.default.removeItem(atPath: p)) != nil { removed.append(p) }
        }
        let aside = asidePath(url.path)
        if FileReading.kind(of: url.path) == .directory, FileReading.kind(of: aside) == .directory,
           (try? FileManager.default.removeItem(atPath: aside)) != nil {
            removed.append(aside)
        }
        return removed
    }

    /// The directory a reader should take for `path`: `path` itself, or the aside copy of an
    /// interrupted fallback swap when `path` is missing (nil when neither exists).
    public static func recoverable(_ path: String) -> String? {
        if FileReading.kind(of: path) == .directory { return path }
        let aside = asidePath(path)
        return FileReading.kind(of: aside) == .directory ? aside : nil
    }

    /// Creates `path` and its missing parents, as one-line errors.
    public static func createFolders(_ path: String) throws {
        if FileReading.kind(of: path) == .directory { return }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw IOFailure("create", path, FileReading.kind(of: path) == nil ? "a parent is not a writable folder" : "it exists and is not a folder")
        }
    }

    /// fsync of every regular file under `dir` and of the directories themselves.
    public static func syncTree(_ dir: String) throws {
        let items = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        for item in items {
            let p = dir + "/" + item
            switch FileReading.kind(of: p) {
            case .regular: try syncPath(p, directory: false)
            case .directory: try syncTree(p)
            default: break
            }
        }
        try syncPath(dir, directory: true)
    }

    /// fsync of one file or directory.
    public static func syncPath(_ path: String, directory: Bool) throws {
        let fd = open(path, (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC)
        guard fd >= 0 else { throw IOFailure.errno("sync", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 || errno == EINVAL else { throw IOFailure.errno("sync", path) }
    }

    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32

    /// `renameat2(RENAME_EXCHANGE)`, looked up at run time (glibc ≥ 2.28); false where the C
    /// library, the kernel or the file system lacks it.
    private static func exchange(_ a: String, _ b: String) -> Bool {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return false }
        let renameat2 = unsafeBitCast(symbol, to: RenameAt2.self)
        let atFDCWD: Int32 = -100, renameExchange: UInt32 = 1 << 1
        return renameat2(atFDCWD, a, atFDCWD, b, renameExchange) == 0
    }
}
