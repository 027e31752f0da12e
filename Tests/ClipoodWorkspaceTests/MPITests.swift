import Foundation
import TestSupport
import Testing

/// Two ranks under Open MPI's mpirun on this machine.
@Suite("mpirun", .serialized)
struct MPITests {
    static var mpirun: String? {
        ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The environment mpirun runs under in tests.
    static var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"   // no CMA inside containers
        return env
    }

    /// mpirun with `args` (after the options every test uses).
    static func launch(_ args: [String], in dir: URL? = nil) throws -> (status: Int32, output: String) {
        try run(URL(fileURLWithPath: mpirun!), ["--oversubscribe", "--allow-run-as-root", "--bind-to", "none"] + args, in: dir, environment: environment)
    }

    /// Runs a program to its end and returns its exit status and its output (stdout and stderr).
    static func run(_ program: URL, _ args: [String], in dir: URL? = nil, environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = program
        p.arguments = args
        if let dir { p.currentDirectoryURL = dir }
        if let environment { p.environment = environment }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func allreduceSumsAcrossTwoRanksAndOnlyRankZeroSpeaks() throws {
        guard Self.mpirun != nil else { print("skipped: mpirun is not installed (apt-get install openmpi-bin)"); return }
        let r = try Self.launch(["-np", "2", Executable.url.path, "bench", "allreduce", "mib=1", "runs=2"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("over 2 ranks on 1 host"), "\(r.output)")
        #expect(r.output.contains("sum checked on every element"))
        // One voice: the table is printed once, by rank 0.
        #expect(r.output.components(separatedBy: "MPI_Allreduce sum of").count == 2, "\(r.output)")
    }

    @Test func aFailureOnOneRankStopsTheJobWithItsMessage() throws {
        guard Self.mpirun != nil else { print("skipped: mpirun is not installed (apt-get install openmpi-bin)"); return }
        // Rank 0 and rank 1 start in different folders; only rank 0's has inner.cood, so rank 1
        // fails at `run inner.cood` while rank 0 goes on into a collective and must be stopped.
        let base = makeTemporaryDirectory("clipood-mpi")
        defer { try? FileManager.default.removeItem(at: base) }
        let a = base.appendingPathComponent("a"), b = base.appendingPathComponent("b")
        for d in [a, b] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        let session = "run inner.cood\nbench allreduce mib=1 runs=100000\n"
        for d in [a, b] { try session.write(to: d.appendingPathComponent("s.cood"), atomically: true, encoding: .utf8) }
        try "show settings\n".write(to: a.appendingPathComponent("inner.cood"), atomically: true, encoding: .utf8)
        let exe = Executable.url.path
        let start = Date()
        let r = try Self.launch(["-np", "1", "-wdir", a.path, exe, "run", "s.cood", ":", "-np", "1", "-wdir", b.path, exe, "run", "s.cood"])
        #expect(r.status != 0, "\(r.output)")
        #expect(r.output.contains("rank 1: "), "\(r.output)")
        #expect(r.output.contains("inner.cood"), "\(r.output)")
        #expect(Date().timeIntervalSince(start) < 120)
    }
}
