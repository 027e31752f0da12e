import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading files that may be hostile: only regular files (a FIFO would hang, a device would
/// never end), never more than a stated cap, and every failure as an `IOFailure`.
public enum FileReading {
    /// What kind of thing a path names, after following symlinks (nil: nothing there).
    public enum Kind: Equatable { case regular, directory, fifo, device, socket, other }

    public static func kind(of path: String) -> Kind? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        case S_IFIFO: return .fifo
        case S_IFCHR, S_IFBLK: return .device
        case S_IFSOCK: return .socket
        default: return .other
        }
    }

    /// The whole of a regular file of at most `limit` bytes. The size is checked on the open
    /// descriptor (fstat), so a file swapped for a FIFO between a check and the read cannot hang.
    public static func read(_ path: String, limit: Int) throws -> Data {
        let (fd, size) = try openRegular(path, limit: limit)
        defer { close(fd) }
        var data = Data(count: size)
        var done = 0
        let failed: Int32? = data.withUnsafeMutableBytes { raw -> Int32? in
            while done < size {
                let n = Glibc.read(fd, raw.baseAddress! + done, size - done)
                if n < 0 { if errno == EINTR { continue }; return errno }
                if n == 0 { break }
                done += n
            }
            return nil
        }
        if let code = failed { throw IOFailure.errno("read", path, code: code) }
        if done < size { data.count = done }
        return data
    }

    /// Opens `path` for reading and checks, with fstat on the open descriptor, that it is a
    /// regular file of at most `limit` bytes. Returns the descriptor (the caller closes it) and
    /// the size. Shared by `read` and `mapped`.
    static func openRegular(_ path: String, limit: Int) throws -> (fd: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw IOFailure.errno("read", path) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { let code = errno; close(fd); throw IOFailure.errno("read", path, code: code) }
        guard st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw IOFailure("read", path, (st.st_mode & S_IFMT) == S_IFDIR ? "it is a folder" : "it is not a regular file")
        }
        let size = Int(st.st_size)
        guard size <= limit else {
            close(fd)
            throw IOFailure("read", path, "it is \(size) bytes, more than the \(limit)-byte limit for this kind of file")
        }
        return (fd, size)
    }

    /// A UTF-8 text file (at most `limit` bytes); invalid UTF-8 is an error naming the file.
    public static func text(_ path: String, limit: Int) throws -> String {
        let data = try read(path, limit: limit)
        guard let s = String(data: data, encoding: .utf8) else { throw IOFailure("read", path, "it is not UTF-8 text") }
        return s
    }
}
