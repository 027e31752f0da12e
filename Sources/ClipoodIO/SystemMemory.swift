import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How much memory this process can still use: the kernel's MemAvailable, lowered to the room
/// left under the control group's limit when one is set (cgroup v2 or v1). Nothing here throws:
/// a source that cannot be read is left out, and nil means no source could be read.
public enum SystemMemory {
    /// Bytes available now, or nil when neither /proc/meminfo nor a cgroup limit can be read.
    public static func available() -> Int? {
        let meminfo = readSmall("/proc/meminfo").flatMap(memAvailable)
        let cgroup = readSmall("/proc/self/cgroup").flatMap { cgroupRoom(selfCgroup: $0, read: readSmall) }
        switch (meminfo, cgroup) {
        case let (m?, c?): return min(m, c)
        case let (m?, nil): return m
        case let (nil, c?): return c
        default: return nil
        }
    }

    /// MemAvailable from the text of /proc/meminfo, in bytes.
    public static func memAvailable(_ text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kb = Int(fields[1]), kb >= 0 else { return nil }
            return Checked.multiply(kb, 1024)
        }
        return nil
    }

    /// Limits at or above this are "no limit" (cgroup v1 writes 2^63 rounded to a page).
    static let unlimited = 1 << 60

    /// The room left under this process's memory cgroup limit (limit − usage + inactive file
    /// cache, which the kernel reclaims first), from the text of /proc/self/cgroup and a reader
    /// for the cgroup files; nil without a limit. Checks the process's own group, then the
    /// namespace root.
    public static func cgroupRoom(selfCgroup: String, read: (String) -> String?) -> Int? {
        var v2Path: String?, v1Path: String?
        for line in selfCgroup.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[0] == "0" && parts[1].isEmpty { v2Path = String(parts[2]) }
            if parts[1].split(separator: ",").contains("memory") { v1Path = String(parts[2]) }
        }
        func number(_ path: String) -> Int? {
            read(path).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        func statValue(_ path: String, _ key: String) -> Int {
            guard let text = read(path) else { return 0 }
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count == 2, f[0] == key, let v = Int(f[1]), v >= 0 { return v }
            }
            return 0
        }
        func room(limit: Int?, usage: Int?, reclaimable: Int) -> Int? {
            guard let limit, limit > 0, limit < unlimited, let usage, usage >= 0 else { return nil }
            return max(0, limit - usage + min(reclaimable, usage))
        }
        var candidates: [String] = []
        if let p = v2Path { candidates.append("/sys/fs/cgroup" + (p == "/" ? "" : p)) }
        candidates.append("/sys/fs/cgroup")
        for dir in candidates {
            if let r = room(limit: number(dir + "/memory.max"), usage: number(dir + "/memory.current"),
                            reclaimable: statValue(dir + "/memory.stat", "inactive_file")) { return r }
        }
        candidates = []
        if let p = v1Path { candidates.append("/sys/fs/cgroup/memory" + (p == "/" ? "" : p)) }
        candidates.append("/sys/fs/cgroup/memory")
        for dir in candidates {
            if let r = room(limit: number(dir + "/memory.limit_in_bytes"), usage: number(dir + "/memory.usage_in_bytes"),
                            reclaimable: statValue(dir + "/memory.stat", "total_inactive_file")) { return r }
        }
        return nil
    }

    /// A small kernel-provided text file (procfs and cgroupfs report a size of 0, so this reads
    /// to the end, at most 64 KiB). Regular files only; nil on any failure.
    static func readSmall(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        let limit = 64 << 10
        var bytes = [UInt8](repeating: 0, count: limit)
        var done = 0
        while done < limit {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, limit - done) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            done += n
        }
        return String(decoding: bytes[..<done], as: UTF8.self)
    }
}
