import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension FileReading {
    /// A regular file of at most `limit` bytes, memory-mapped read-only (large checkpoints are
    /// not copied into memory). The kind and size are checked with fstat on the open descriptor
    /// before anything is mapped, so a FIFO or a device is refused instead of hanging or never
    /// ending. The mapping lives as long as the returned Data (and its copies).
    public static func mapped(_ path: String, limit: Int) throws -> Data {
        let (fd, size) = try openRegular(path, limit: limit)
        defer { close(fd) }
        if size == 0 { return Data() }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw IOFailure.errno("read", path)
        }
        return Data(bytesNoCopy: base, count: size, deallocator: .custom { pointer, count in _ = munmap(pointer, count) })
    }
}
