import ClipoodExperiment
import ClipoodIO
import Foundation
import TestSupport
import Testing

@Suite("content hashes and atomic run directories")
struct RunStoreTests {
    @Test func sha256MatchesTheStandardVectorsAndSha256sum() throws {
        #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Pieces of every size give the digest of the whole (the block boundary logic).
        var bytes = [UInt8](repeating: 0, count: 1000)
        var v = TestValues(seed: 5)
        for i in bytes.indices { bytes[i] = UInt8(Int((v.next(0, 1) * 255).rounded())) }
        let whole = SHA256.hex(Data(bytes))
        for piece in [1, 7, 63, 64, 65, 200] {
            var s = SHA256()
            var i = 0
            while i < bytes.count { let n = min(piece, bytes.count - i); bytes[i ..< i + n].withUnsafeBytes { s.update($0) }; i += n }
            #expect(s.finish() == whole, "pieces of \(piece)")
        }
        let dir = makeTemporaryDirectory("clipood-sha")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("x.bin").path
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        #expect(try SHA256.file(file).hash == whole && SHA256.file(file).size == 1000)
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum") {
            let p = Process(), out = Pipe()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
            p.arguments = [file]
            p.standardOutput = out
            try p.run()
            p.waitUntilExit()
            #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).hasPrefix(whole + " "))
        }
    }

    @Test func replaceSwapsWholeDirectoriesAndKeepsTheOldOneOnFailure() throws {
        let root = makeTemporaryDirectory("clipood-atomic")
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = root.appendingPathComponent("deep/run").path
        var stages: [String] = []
        try AtomicDirectory.replace(dir, step: { stages.append($0) }) { try "1".write(toFile: $0 + "/a", atomically: false, encoding: .utf8) }
        #expect(stages == ["filled", "synced", "swapped", "removed"])
        #expect(try String(contentsOfFile: dir + "/a", encoding: .utf8) == "1")
        try AtomicDirectory.replace(dir) { try "2".write(toFile: $0 + "/b", atomically: false, encoding: .utf8) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["b"])
        struct Boom: Error {}
        #expect(throws: Boom.self) { try AtomicDirectory.replace(dir) { try "3".write(toFile: $0 + "/c", atomically: false, encoding: .utf8); throw Boom() } }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["b"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("deep").path) == ["run"])   // no temporary left
        // The aside copy of an interrupted fallback swap is what a reader takes.
        try FileManager.default.moveItem(atPath: dir, toPath: AtomicDirectory.asidePath(dir))
        #expect(AtomicDirectory.recoverable(dir) == AtomicDirectory.asidePath(dir))
        // A file where the directory should be is refused, not replaced.
        let file = root.appendingPathComponent("file").path
        try "keep".write(toFile: file, atomically: false, encoding: .utf8)
        #expect(throws: IOFailure.self) { try AtomicDirectory.replace(file) { _ in } }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "keep")
    }

    /// What a save killed midway leaves beside the run (its temporary directory, or the aside copy
    /// of a finished fallback swap) is removed by the next save; a live save's temporary stays.
    @Test func nextSaveRemovesWhatAKilledSaveLeft() throws {
        let root = makeTemporaryDirectory("clipood-leftovers")
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = root.appendingPathComponent("run").path
        try AtomicDirectory.replace(dir) { try "1".write(toFile: $0 + "/a", atomically: false, encoding: .utf8) }
        // A process that has exited: its pid is free (a reaped child's pid is not reused at once).
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let dead = root.appendingPathComponent(".run.clipood-new-\(gone.processIdentifier)").path
        let live = root.appendingPathComponent(".run.clipood-new-1").path   // init never goes away
        let other = root.appendingPathComponent(".runs.clipood-new-\(gone.processIdentifier)").path   // another run's name
        for d in [dead, live, other, AtomicDirectory.asidePath(dir)] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false)
            try "half".write(toFile: d + "/a", atomically: false, encoding: .utf8)
        }
        try AtomicDirectory.replace(dir) { try "2".write(toFile: $0 + "/a", atomically: false, encoding: .utf8) }
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: root.path))
        #expect(left == ["run", ".run.clipood-new-1", ".runs.clipood-new-\(gone.processIdentifier)"], "\(left)")
        #expect(try String(contentsOfFile: dir + "/a", encoding: .utf8) == "2")
    }

    @Test func openChecksTheManifestAndTheFormat() throws {
        let root = makeTemporaryDirectory("clipood-store")
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = root.appendingPathComponent("r").path
        func files(_ json: String) -> [(name: String, write: (String) throws -> Void)] {
            [("run.json", { try json.write(toFile: $0, atomically: false, encoding: .utf8) }),
             ("state.safetensors", { try "s".write(toFile: $0, atomically: false, encoding: .utf8) }),
             ("log.csv", { try "l".write(toFile: $0, atomically: false, encoding: .utf8) })]
        }
        try RunStore.save(to: dir, run: "r", force: false, files: files(#"{"format": 7}"#))
        let manifest = try JSONDecoder().decode(RunStore.Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/manifest.json")))
        #expect(manifest.run == "r" && manifest.files["log.csv"] == .init(size: 1, sha256: SHA256.hex(Data("l".utf8))))
        #expect(throws: RunFileError.self) { try RunStore.open(dir) }
        do { _ = try RunStore.open(dir) } catch {
            #expect("\(error)" == "\(dir)/run.json: field 'format' is 7, a run format this build does not know (it reads formats 2, 3 and \(RunRecord.currentFormat))")
        }
        try RunStore.save(to: dir, run: "r", force: false, files: files("[]"))
        do { _ = try RunStore.open(dir) } catch { #expect("\(error)" == "\(dir)/run.json is not a JSON object") }
        // Another run's name needs force.
        #expect(throws: RunFileError.self) { try RunStore.save(to: dir, run: "other", force: false, files: files("{}")) }
        try RunStore.save(to: dir, run: "other", force: true, files: files("{}"))
        do { _ = try RunStore.open(dir) } catch { #expect("\(error)" == "\(dir)/run.json: field 'format' is missing: written by an older clipood (format 1), which this build does not read; save the run again") }
    }
}
