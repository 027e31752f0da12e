import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writing files so that no data is ever lost: a reader of the file sees the complete old
/// content or the complete new one, never a mix or a truncated file, whatever instant the
/// process is killed at.
///
/// * A regular file (or a new one) is replaced atomically: the bytes go to a temporary file in
///   the same folder (unique name, created exclusively, with the mode of the file it replaces,
///   else 0644 less the umask), which is flushed to disk and renamed over the target; then the
///   folder itself is flushed, so the rename survives a power cut.
/// * A symlink is written through: the chain of links is followed to its final target, which
///   is replaced, and the links stay links.
/// * A FIFO or a character device (`/dev/null`, a terminal) is written as a stream: opened for
///   writing, never truncated, never replaced by a regular file. A FIFO that no process reads
///   is an error rather than a hang. Block devices, sockets and folders are refused.
/// * Missing parent folders are created.
///
/// Every failure is an `IOFailure`: one line with the path and the reason.
public enum AtomicWrite {
    /// Writes `data` to `path` as described above. `durable: false` leaves out the flushes to
    /// disk: the write is still all-or-nothing for a process that is killed, but not across a
    /// power cut — for the many small files of a generated dataset, whose completion a durable
    /// marker file records.
    public static func write(_ data: Data, to path: String, durable: Bool = true) throws {
        guard !path.isEmpty else { throw IOFailure("write", path, "the path is empty") }
        let target = try finalTarget(of: path)
        var st = stat()
        if lstat(target, &st) == 0 {
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                try replace(target, shownAs: path, with: data, keeping: st, durable: durable)
            case S_IFDIR:
                throw IOFailure("write", path, "it is a folder")
            case S_IFIFO, S_IFCHR:
                try stream(data, to: target, shownAs: path)
            case S_IFBLK:
                throw IOFailure("write", path, "it is a block device (clipood does not write to disks directly)")
            case S_IFSOCK:
                throw IOFailure("write", path, "it is a socket")
            default:
                throw IOFailure("write", path, "it is not a regular file")
            }
            return
        }
        let code = errno
        guard code == ENOENT || code == ENOTDIR else { throw IOFailure.errno("write", path, code: code) }
        try makeFolders(parent(of: target), for: path)
        try replace(target, shownAs: path, with: data, keeping: nil, durable: durable)
    }

    /// Checks, before lengthy work, that `write(_:to:)` could put a file at `path`: follows its
    /// links, refuses folders, block devices and sockets, and creates the missing parent folders.
    public static func prepare(_ path: String) throws {
        guard !path.isEmpty else { throw IOFailure("write", path, "the path is empty") }
        let target = try finalTarget(of: path)
        var st = stat()
        if lstat(target, &st) == 0 {
            switch st.st_mode & S_IFMT {
            case S_IFREG, S_IFIFO, S_IFCHR: return
            case S_IFDIR: throw IOFailure("write", path, "it is a folder")
            case S_IFBLK: throw IOFailure("write", path, "it is a block device (clipood does not write to disks directly)")
            case S_IFSOCK: throw IOFailure("write", path, "it is a socket")
            default: throw IOFailure("write", path, "it is not a regular file")
            }
        }
        let code = errno
        guard code == ENOENT || code == ENOTDIR else { throw IOFailure.errno("write", path, code: code) }
        try makeFolders(parent(of: target), for: path)
    }

    /// Writes `text` as UTF-8 (see `write(_:to:)` for data).
    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    /// Appends `text` (UTF-8) to the file at `path` — created when missing, with its missing
    /// parent folders — and flushes it to disk. A symlink is followed; a FIFO or character
    /// device gets the text as a stream; folders, sockets and block devices are refused.
    public static func append(_ text: String, to path: String) throws {
        guard !path.isEmpty else { throw IOFailure("write", path, "the path is empty") }
        let target = try finalTarget(of: path)
        var st = stat()
        if lstat(target, &st) == 0 {
            switch st.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFDIR: throw IOFailure("write", path, "it is a folder")
            case S_IFIFO, S_IFCHR:
                try stream(Data(text.utf8), to: target, shownAs: path)
                return
            default: throw IOFailure("write", path, "it is not a regular file")
            }
        } else {
            try makeFolders(parent(of: target), for: path)
        }
        let fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw IOFailure.errno("write", path) }
        var fst = stat()
        guard fstat(fd, &fst) == 0 else { let e = errno; close(fd); throw IOFailure.errno("write", path, code: e) }
        guard fst.st_mode & S_IFMT == S_IFREG else { close(fd); throw IOFailure("write", path, "it is not a regular file") }
        if let code = writeAll(fd, Data(text.utf8)) { close(fd); throw IOFailure.errno("write", path, code: code) }
        if fsync(fd) != 0 { let e = errno; close(fd); throw IOFailure.errno("write", path, code: e) }
        if close(fd) != 0 { throw IOFailure.errno("write", path) }
    }

    /// Creates `folder` and its missing parents (like `mkdir -p`). An existing part of the path
    /// that is not a folder is an error naming it.
    public static func makeFolders(_ folder: String) throws {
        try makeFolders(folder, for: folder)
    }

    /// The path a write to `path` really changes: `path` itself, or the final target of the
    /// symlink chain that starts there (a dangling link gives the missing file it names).
    public static func finalTarget(of path: String) throws -> String {
        var current = path
        for _ in 0 ..< 40 {
            var st = stat()
            guard lstat(current, &st) == 0 else {
                let code = errno
                if code == ENOENT || code == ENOTDIR { return current }
                throw IOFailure.errno("write", path, code: code)
            }
            guard st.st_mode & S_IFMT == S_IFLNK else { return current }
            var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = buffer.withUnsafeMutableBufferPointer { b in
                b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { readlink(current, $0, b.count - 1) }
            }
            guard n >= 0 else { throw IOFailure.errno("write", path) }
            let destination = String(decoding: buffer[0 ..< n], as: UTF8.self)
            current = destination.hasPrefix("/") ? destination : parent(of: current) + "/" + destination
        }
        throw IOFailure("write", path, "too many levels of symbolic links")
    }

    // MARK: - The pieces

    /// The folder that holds `path` ("." for a bare name).
    static func parent(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "." }
        let head = p[..<slash]
        return head.isEmpty ? "/" : String(head)
    }

    /// mkdir -p `folder`, errors said about `shown` (the path the caller asked to write).
    static func makeFolders(_ folder: String, for shown: String) throws {
        var st = stat()
        if stat(folder, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else { throw IOFailure("write", shown, "'\(folder)' is not a folder") }
            return
        }
        let code = errno
        guard code == ENOENT else {
            if code == ENOTDIR { try makeFolders(parent(of: folder), for: shown) }   // names the part that is a file
            throw IOFailure.errno("write", shown, code: code)
        }
        let up = parent(of: folder)
        if up != folder { try makeFolders(up, for: shown) }
        if mkdir(folder, 0o777) != 0 && errno != EEXIST {
            throw IOFailure("write", shown, "cannot create the folder '\(folder)': " + String(cString: strerror(errno)).lowercased())
        }
    }

    /// Replaces the regular file (or creates the file) `target` with `data` through a temporary
    /// file in its folder. `existing` is the target's status when it exists (its mode is kept).
    static func replace(_ target: String, shownAs shown: String, with data: Data, keeping existing: stat?, durable: Bool) throws {
        let folder = parent(of: target)
        var name = target.lastIndex(of: "/").map { String(target[target.index(after: $0)...]) } ?? target
        if name.utf8.count > 180 { name = String(name.prefix(40)) }
        var tmp = "", fd: Int32 = -1
        for _ in 0 ..< 100 {
            tmp = folder + "/." + name + ".clipood-" + String(UInt64.random(in: 0 ... .max), radix: 16) + ".tmp"
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw IOFailure.errno("write", shown) }
        func fail(_ code: Int32) -> IOFailure {
            close(fd)
            unlink(tmp)
            return IOFailure.errno("write", shown, code: code)
        }
        if let existing {
            if geteuid() == 0 { _ = fchown(fd, existing.st_uid, existing.st_gid) }
            if fchmod(fd, existing.st_mode & 0o7777) != 0 { throw fail(errno) }
        }
        if let code = writeAll(fd, data) { throw fail(code) }
        if durable && fsync(fd) != 0 { throw fail(errno) }
        if close(fd) != 0 { let e = errno; unlink(tmp); throw IOFailure.errno("write", shown, code: e) }
        if rename(tmp, target) != 0 { let e = errno; unlink(tmp); throw IOFailure.errno("write", shown, code: e) }
        guard durable else { return }
        let dirfd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 { _ = fsync(dirfd); close(dirfd) }
    }

    /// Writes `data` into an existing FIFO or character device without truncating or replacing it.
    static func stream(_ data: Data, to target: String, shownAs shown: String) throws {
        // Non-blocking open: a FIFO without a reader fails (ENXIO) instead of waiting forever.
        let fd = open(target, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            if errno == ENXIO { throw IOFailure("write", shown, "it is a FIFO that no process is reading") }
            throw IOFailure.errno("write", shown)
        }
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        var st = stat()
        guard fstat(fd, &st) == 0, [S_IFIFO, S_IFCHR].contains(st.st_mode & S_IFMT) else {
            close(fd)
            throw IOFailure("write", shown, "it changed while being opened")
        }
        if let code = writeAll(fd, data) { close(fd); throw IOFailure.errno("write", shown, code: code) }
        if close(fd) != 0 && errno != EINTR { throw IOFailure.errno("write", shown) }
    }

    /// Writes every byte of `data` to `fd`; the errno of a failure, else nil.
    static func writeAll(_ fd: Int32, _ data: Data) -> Int32? {
        data.withUnsafeBytes { raw -> Int32? in
            guard let base = raw.baseAddress else { return nil }
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, base + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                if n == 0 { return EIO }
                done += n
            }
            return nil
        }
    }
}
