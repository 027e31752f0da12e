import ClipoodIO
import Foundation
import TestSupport
import Testing

@Suite("writes that never lose data")
struct AtomicWriteTests {
    let dir = makeTemporaryDirectory("clipood-io-write")

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func contents(_ p: String) -> String? {
        FileManager.default.contents(atPath: p).map { String(decoding: $0, as: UTF8.self) }
    }

    func mode(_ p: String) -> mode_t {
        var st = stat()
        _ = lstat(p, &st)
        return st.st_mode
    }

    /// Names in the test folder that look like temporary files of a write.
    func leftovers() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.contains(".clipood-") }
    }

    @Test func replacesRegularFileAndKeepsItsMode() throws {
        try AtomicWrite.write("old\n", to: path("a.csv"))
        #expect(contents(path("a.csv")) == "old\n")
        #expect(chmod(path("a.csv"), 0o600) == 0)
        try AtomicWrite.write("new content\n", to: path("a.csv"))
        #expect(contents(path("a.csv")) == "new content\n")
        #expect(mode(path("a.csv")) & 0o7777 == 0o600)
        #expect(mode(path("a.csv")) & S_IFMT == S_IFREG)
        #expect(leftovers().isEmpty)
    }

    @Test func newFileGetsDefaultModeLessUmask() throws {
        let mask = umask(0o022)
        umask(mask)
        try AtomicWrite.write(Data([1, 2, 3]), to: path("new.bin"))
        #expect(mode(path("new.bin")) & 0o7777 == 0o644 & ~mask)
    }

    @Test func writesThroughSymlinkChainAndKeepsTheLinks() throws {
        try AtomicWrite.write("target v1", to: path("real.txt"))
        #expect(symlink("real.txt", path("link1")) == 0)                 // relative link
        #expect(symlink(path("link1"), path("link2")) == 0)              // absolute link to a link
        try AtomicWrite.write("target v2", to: path("link2"))
        #expect(mode(path("link2")) & S_IFMT == S_IFLNK)
        #expect(mode(path("link1")) & S_IFMT == S_IFLNK)
        #expect(mode(path("real.txt")) & S_IFMT == S_IFREG)
        #expect(contents(path("real.txt")) == "target v2")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: path("link1")) == "real.txt")
        // A dangling link creates the file it names (and its folder), and stays a link.
        #expect(symlink("sub/made.txt", path("dangling")) == 0)
        try AtomicWrite.write("made", to: path("dangling"))
        #expect(mode(path("dangling")) & S_IFMT == S_IFLNK)
        #expect(contents(path("sub/made.txt")) == "made")
        // A loop of links is an error, not a hang.
        #expect(symlink("loopB", path("loopA")) == 0)
        #expect(symlink("loopA", path("loopB")) == 0)
        let loop = #expect(throws: IOFailure.self) { try AtomicWrite.write("x", to: path("loopA")) }
        #expect(loop?.description.contains("symbolic links") == true)
    }

    @Test func streamsIntoFifoAndKeepsIt() throws {
        #expect(mkfifo(path("fifo"), 0o644) == 0)
        // Without a reader: a clear error, not a hang, and the FIFO stays.
        let lonely = #expect(throws: IOFailure.self) { try AtomicWrite.write("x", to: path("fifo")) }
        #expect(lonely?.description.contains("no process is reading") == true)
        #expect(mode(path("fifo")) & S_IFMT == S_IFIFO)

        let reader = open(path("fifo"), O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        final class Box: @unchecked Sendable { var data = Data(); var done = false; let lock = NSLock() }
        let box = Box()
        let payload = Data((0 ..< 300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })   // more than a pipe holds
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(reader, &buffer, buffer.count)
                if n > 0 { box.data.append(contentsOf: buffer[0 ..< n]); continue }
                box.lock.lock(); let done = box.done; box.lock.unlock()
                if n == 0 && done { break }
                usleep(1000)
            }
        }
        thread.start()
        try AtomicWrite.write(payload, to: path("fifo"))
        box.lock.lock(); box.done = true; box.lock.unlock()
        while !thread.isFinished { usleep(1000) }
        close(reader)
        #expect(box.data == payload)
        #expect(mode(path("fifo")) & S_IFMT == S_IFIFO)
        #expect(leftovers().isEmpty)
    }

    @Test func devNullStaysADevice() throws {
        try AtomicWrite.write("discarded", to: "/dev/null")
        try AtomicWrite.append("discarded", to: "/dev/null")
        #expect(mode("/dev/null") & S_IFMT == S_IFCHR)
        // Through a link, too.
        #expect(symlink("/dev/null", path("null-link")) == 0)
        try AtomicWrite.write("discarded", to: path("null-link"))
        #expect(mode("/dev/null") & S_IFMT == S_IFCHR)
        #expect(mode(path("null-link")) & S_IFMT == S_IFLNK)
    }

    @Test func folderTargetIsAnError() throws {
        let e = #expect(throws: IOFailure.self) { try AtomicWrite.write("x", to: dir.path) }
        #expect(e?.description == "cannot write '\(dir.path)': it is a folder")
        #expect(throws: IOFailure.self) { try AtomicWrite.append("x", to: dir.path) }
    }

    @Test func createsMissingParentFolders() throws {
        try AtomicWrite.write("deep", to: path("a/b/c/file.txt"))
        #expect(contents(path("a/b/c/file.txt")) == "deep")
        try AtomicWrite.append("line\n", to: path("x/y/log.txt"))
        #expect(contents(path("x/y/log.txt")) == "line\n")
    }

    @Test func errorUnderARegularFileIsOneLineWithPathAndReason() throws {
        try AtomicWrite.write("i am a file", to: path("plain"))
        let target = path("plain/sub/out.csv")
        let e = #expect(throws: IOFailure.self) { try AtomicWrite.write("x", to: target) }
        let text = e?.description ?? ""
        #expect(!text.contains("\n"))
        #expect(text.hasPrefix("cannot write '\(target)': "))
        #expect(text.contains("'\(path("plain"))' is not a folder"))
        #expect(!text.contains("NSCocoaErrorDomain") && !text.contains("Error Domain"))
        #expect(contents(path("plain")) == "i am a file")
        // Directly under the file (the folder part exists but is a file).
        let e2 = #expect(throws: IOFailure.self) { try AtomicWrite.write("x", to: path("plain/out.csv")) }
        #expect(e2?.description == "cannot write '\(path("plain/out.csv"))': '\(path("plain"))' is not a folder")
        #expect(throws: IOFailure.self) { try AtomicWrite.append("x", to: path("plain/log.cood")) }
    }

    @Test func prepareChecksWithoutWriting() throws {
        try AtomicWrite.prepare(path("p/q/r.png"))
        var isDir: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: path("p/q"), isDirectory: &isDir) && isDir.boolValue)
        #expect(!FileManager.default.fileExists(atPath: path("p/q/r.png")))
        try AtomicWrite.prepare("/dev/null")
        #expect(throws: IOFailure.self) { try AtomicWrite.prepare(dir.path) }
        let e = #expect(throws: IOFailure.self) { try AtomicWrite.prepare("/dev/null/x.png") }
        #expect(e?.description == "cannot write '/dev/null/x.png': '/dev/null' is not a folder")
    }

    @Test func appendKeepsExistingLines() throws {
        try AtomicWrite.write("first\nsecond\n", to: path("s.cood"))
        try AtomicWrite.append("third\n", to: path("s.cood"))
        try AtomicWrite.append("fourth\n", to: path("s.cood"))
        #expect(contents(path("s.cood")) == "first\nsecond\nthird\nfourth\n")
        // Through a link, the link stays.
        #expect(symlink("s.cood", path("s-link.cood")) == 0)
        try AtomicWrite.append("fifth\n", to: path("s-link.cood"))
        #expect(contents(path("s.cood")) == "first\nsecond\nthird\nfourth\nfifth\n")
        #expect(mode(path("s-link.cood")) & S_IFMT == S_IFLNK)
    }

    @Test func blockDevicesAndSocketsAreRefused() throws {
        let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(sock >= 0)
        defer { close(sock) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let p = path("sock")
        guard p.utf8.count < 100 else { return }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in p.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        #expect(bound == 0)
        let e = #expect(throws: IOFailure.self) { try AtomicWrite.write("x", to: p) }
        #expect(e?.description.contains("socket") == true)
        #expect(mode(p) & S_IFMT == S_IFSOCK)
    }
}

/// A process killed (SIGKILL) at random moments while it rewrites a file in a loop leaves the
/// complete old or the complete new content, never a mix or a truncated file.
///
/// The child is this test binary itself, started with a filter that runs only
/// `rewriteLoopHelper`, which rewrites the file for as long as it lives when
/// `CLIPOOD_REWRITE_LOOP` names it (and does nothing otherwise). Each content is 4 MiB, so most
/// of the child's time is spent writing and a kill lands inside a write nearly every time.
@Suite("atomic writes under SIGKILL")
struct KillDuringWriteTests {
    static let size = 4 << 20

    static func content(_ which: Int) -> Data {
        Data(repeating: UInt8(ascii: which == 0 ? "a" : "b"), count: size)
    }

    @Test func rewriteLoopHelper() throws {
        guard let path = ProcessInfo.processInfo.environment["CLIPOOD_REWRITE_LOOP"] else { return }
        let a = Self.content(0), b = Self.content(1)
        var n = 0
        while true {
            try AtomicWrite.write(n % 2 == 0 ? a : b, to: path)
            n += 1
            if n == 1 { try AtomicWrite.write("started", to: path + ".started") }
        }
    }

    @Test func killedRewriterLeavesOldOrNew() throws {
        let dir = makeTemporaryDirectory("clipood-kill")
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("data.bin").path
        let a = Self.content(0), b = Self.content(1)
        try AtomicWrite.write(b, to: target)
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var rng = SystemRandomNumberGenerator()
        var seen = Set<Data>()
        for round in 0 ..< 10 {
            try? FileManager.default.removeItem(atPath: target + ".started")
            let p = Process()
            p.executableURL = me
            p.arguments = ["--testing-library", "swift-testing", "--filter", "rewriteLoopHelper"]
            p.environment = ProcessInfo.processInfo.environment.merging(["CLIPOOD_REWRITE_LOOP": target]) { $1 }
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            let deadline = Date().addingTimeInterval(60)
            while !FileManager.default.fileExists(atPath: target + ".started") && Date() < deadline && p.isRunning { usleep(1000) }
            usleep(UInt32.random(in: 1_000 ... 300_000, using: &rng))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            #expect(p.terminationReason == .uncaughtSignal, "round \(round): the rewriter was not killed (it stopped by itself)")
            let now = try #require(FileManager.default.contents(atPath: target), "round \(round): the file is gone")
            #expect(now == a || now == b, "round \(round): \(now.count) bytes, neither the old nor the new content")
            seen.insert(now)
        }
        #expect(!seen.isEmpty)
        // Temporary files of killed writes may stay behind (hidden, named after the file); the
        // file itself is always whole.
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(names.allSatisfy { $0 == "data.bin" || $0 == "data.bin.started" || $0.hasPrefix(".data.bin.clipood-") }, "\(names)")
    }
}
