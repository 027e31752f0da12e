import ClipoodModel
import Foundation
import TestSupport
import Testing

/// Data-parallel training and sharded evaluation: the same session under `mpirun -np 2` and in
/// one process.
@Suite("data parallel over mpirun", .serialized)
struct DataParallelTests {
    /// Runs `session` in `dir`, in one process (ranks nil) or under mpirun with that many ranks.
    static func run(_ session: String, in dir: URL, ranks: Int?, environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let file = dir.appendingPathComponent("s-\(UUID().uuidString).cood")
        try session.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        guard let ranks else { return try MPITests.run(Executable.url, ["run", file.path], in: dir) }
        return try MPITests.launch(["-np", "\(ranks)", Executable.url.path, "run", file.path], in: dir)
    }

    /// The output without what may differ between the two: timings and the folder a run went to.
    static func comparable(_ output: String) -> [String] {
        output.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("saved run") && !$0.contains("per step on average") }.map {
            $0.replacingOccurrences(of: #"\(\d+ in [^)]*\)"#, with: "(…)", options: .regularExpression)
              .replacingOccurrences(of: #" to (one|two)/"#, with: " to OUT/", options: .regularExpression)
        }
    }

    /// The largest difference between the tensors of two safetensors files with the same names.
    static func maxDifference(_ a: String, _ b: String) throws -> Float {
        let x = try SafeTensorsFile(path: a), y = try SafeTensorsFile(path: b)
        #expect(Set(x.names) == Set(y.names))
        var worst: Float = 0
        for n in x.names {
            let u = try x.floats(n), v = try y.floats(n)
            guard u.count == v.count else { return .infinity }
            for i in u.indices { worst = max(worst, abs(u[i] - v[i])) }
        }
        return worst
    }

    static func preamble(_ w: TinyWorld) -> String {
        """
        set progress=off
        load model "\(w.model)"
        load data "\(w.data)"
        split target=sketch

        """
    }

    @Test(arguments: ["full", "last1"])
    func twoRanksTrainEvaluateAndSaveLikeOneProcess(_ tune: String) throws {
        guard MPITests.mpirun != nil else { print("skipped: mpirun is not installed (apt-get install openmpi-bin)"); return }
        let w = try TinyWorld()
        defer { try? FileManager.default.removeItem(at: w.root) }
        func session(_ out: String) -> String {
            Self.preamble(w) + """
            train steps=6 batch=3 lr=1e-3 tune=\(tune) eval_every=3 as a
            compare a on test,val
            zeroshot per_class
            curves a
            save a to \(out)
            export features a model=bma to \(out)/f.npy

            """
        }
        let one = try Self.run(session("one"), in: w.root, ranks: nil)
        #expect(one.status == 0, "\(one.output)")
        let two = try Self.run(session("two"), in: w.root, ranks: 2)
        #expect(two.status == 0, "\(two.output)")
        #expect(two.output.contains("(6 in"), "\(two.output)")
        // The tables are exactly those of one process; the weights agree to float rounding.
        let a = Self.comparable(one.output), b = Self.comparable(two.output)
        #expect(a == b, "one process:\n\(one.output)\ntwo ranks:\n\(two.output)")
        for f in ["final.safetensors", "bma_0.5.safetensors", "swa.safetensors", "state.safetensors"] {
            let d = try Self.maxDifference(w.root.path + "/one/" + f, w.root.path + "/two/" + f)
            #expect(d <= 1e-5, "\(f): largest difference \(d)")
        }
        #expect(FileManager.default.fileExists(atPath: w.root.path + "/two/f.npy"))
    }

    /// A run paused after 3 steps by two ranks resumes in one process (and the other way round)
    /// to the weights of 6 uninterrupted steps in one process.
    @Test func runsResumeWithAnotherNumberOfRanks() throws {
        guard MPITests.mpirun != nil else { print("skipped: mpirun is not installed (apt-get install openmpi-bin)"); return }
        let w = try TinyWorld()
        defer { try? FileManager.default.removeItem(at: w.root) }
        let p = Self.preamble(w)
        let straight = try Self.run(p + "train steps=6 batch=3 lr=1e-3 as a\nsave a to straight\n", in: w.root, ranks: nil)
        #expect(straight.status == 0, "\(straight.output)")
        for (first, second) in [(2, nil), (nil, 2)] as [(Int?, Int?)] {
            let tag = "\(first ?? 1)-\(second ?? 1)"
            let paused = try Self.run(p + "train steps=6 batch=3 lr=1e-3 pause=3 as a\nsave a to half\(tag)\n", in: w.root, ranks: first)
            #expect(paused.status == 0, "\(paused.output)")
            let resumed = try Self.run("set progress=off\nload run half\(tag)\ntrain resume=a\nsave a to whole\(tag)\n", in: w.root, ranks: second)
            #expect(resumed.status == 0, "\(resumed.output)")
            #expect(resumed.output.contains("resuming 'a' at step 4"), "\(resumed.output)")
            for f in ["final.safetensors", "bma_0.5.safetensors"] {
                let d = try Self.maxDifference(w.root.path + "/straight/" + f, w.root.path + "/whole\(tag)/" + f)
                #expect(d <= 1e-5, "\(tag) \(f): largest difference \(d)")
            }
        }
    }

    @Test func pretrainingOnTwoRanksMatchesOneProcess() throws {
        guard MPITests.mpirun != nil else { print("skipped: mpirun is not installed (apt-get install openmpi-bin)"); return }
        let w = try TinyWorld()
        defer { try? FileManager.default.removeItem(at: w.root) }
        func session(_ out: String) -> String {
            "set progress=off\nload data \"\(w.data)\"\npretrain steps=3 batch=6 width=64 layers=1 vocab=520 patch=4 to \(out)\n"
        }
        let one = try Self.run(session("p1"), in: w.root, ranks: nil)
        #expect(one.status == 0, "\(one.output)")
        let two = try Self.run(session("p2"), in: w.root, ranks: 2)
        #expect(two.status == 0, "\(two.output)")
        let d = try Self.maxDifference(w.root.path + "/p1/model.safetensors", w.root.path + "/p2/model.safetensors")
        #expect(d <= 1e-5, "largest difference \(d)")
    }

    /// Ranks that loaded different data stop together at `split`, naming what differs.
    @Test func ranksWithDifferentDataFailTogether() throws {
        guard MPITests.mpirun != nil else { print("skipped: mpirun is not installed (apt-get install openmpi-bin)"); return }
        let w = try TinyWorld()
        defer { try? FileManager.default.removeItem(at: w.root) }
        // Rank 1's copy of the data has one image with other contents (and size).
        let other = w.root.appendingPathComponent("other").path
        try FileManager.default.copyItem(atPath: w.data, toPath: other)
        try TestPNG.write(other + "/photo/cat/0.png", width: 4, height: 4, pixels: [UInt8](repeating: 7, count: 48))
        let a = w.root.appendingPathComponent("a"), b = w.root.appendingPathComponent("b")
        for d in [a, b] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        for (d, data) in [(a, w.data), (b, other)] {
            try "set progress=off\nload model \"\(w.model)\"\nload data \"\(data)\" as d\nsplit target=sketch\ntrain steps=2 batch=3\n"
                .write(to: d.appendingPathComponent("s.cood"), atomically: true, encoding: .utf8)
        }
        let exe = Executable.url.path
        let r = try MPITests.launch(["-np", "1", "-wdir", a.path, exe, "run", "s.cood", ":", "-np", "1", "-wdir", b.path, exe, "run", "s.cood"])
        #expect(r.status != 0, "\(r.output)")
        #expect(r.output.contains("the ranks do not hold the same data and split"), "\(r.output)")
        #expect(r.output.contains("s.cood:4"), "\(r.output)")
        #expect(!r.output.contains("training '"), "\(r.output)")
    }

    /// Ctrl-C at mpirun's terminal (SIGINT to mpirun and, in its process group, the ranks) stops
    /// every rank at the same step boundary, and the session ends after saving the run to
    /// interrupted/NAME, which one process loads and resumes. mpirun kills the ranks
    /// odls_base_sigkill_timeout seconds after a Ctrl-C (1 by default; the README says to raise
    /// it, as here).
    @Test func ctrlCStopsEveryRankAtOneStepAndSavesTheRun() throws {
        guard let mpirun = MPITests.mpirun else { print("skipped: mpirun is not installed (apt-get install openmpi-bin)"); return }
        let w = try TinyWorld()
        defer { try? FileManager.default.removeItem(at: w.root) }
        let job = try LongJob(w, mpirun: mpirun, session: "train steps=1000000 batch=3 lr=1e-4 as a\nshow runs\n",
                              environment: ["OMPI_MCA_odls_base_sigkill_timeout": "10"])
        let ranks = job.ranksOnceTraining()
        // What a Ctrl-C at mpirun's terminal does: SIGINT to mpirun and to the ranks (which joined
        // its process group). The signal goes to each process, not to the group: under a test
        // runner that group may hold more than mpirun and its ranks. Rank 0's comes last, once
        // the ranks have agreed to stop (rank 1 said so): a busy rank can take its Ctrl-C
        // that late, and it is still the first, not a second one that ends the process.
        let rank0 = ranks.first { Self.rank(of: $0) == 0 }
        #expect(rank0 != nil && ranks.contains { Self.rank(of: $0) == 1 }, "ranks: \(ranks)")
        for pid in [job.process.processIdentifier] + ranks where pid != rank0 { kill(pid, SIGINT) }
        let deadline = Date().addingTimeInterval(60)
        while !job.output().contains("rank 1: train 'a': interrupted") && Date() < deadline { usleep(20_000) }
        if let rank0 { kill(rank0, SIGINT) }
        #expect(job.ends(within: 120, ranks: ranks), "mpirun did not end within 2 minutes of the Ctrl-C: \(job.output())")
        let saved = w.root.appendingPathComponent("interrupted/a/log.csv").path
        let rows = ((try? String(contentsOfFile: saved, encoding: .utf8)) ?? "").split(separator: "\n").count - 1
        #expect(rows > 0, "no run saved at interrupted/a: \(job.output())")
        let resumed = try Self.run("set progress=off\nload run interrupted/a\ntrain resume=a steps=2\n", in: w.root, ranks: nil)
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(resumed.output.contains("resuming 'a' at step \(rows + 1)"), "\(resumed.output)")
    }

    /// The MPI rank of a process of the job, from its environment in /proc (Open MPI's
    /// variable, or the PMI one other launchers set).
    static func rank(of pid: pid_t) -> Int? {
        guard let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
        let variables = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        for prefix in ["OMPI_COMM_WORLD_RANK=", "PMI_RANK="] {
            if let v = variables.first(where: { $0.hasPrefix(prefix) }) { return Int(v.dropFirst(prefix.count)) }
        }
        return nil
    }

    /// The processes whose parent is `pid` (from /proc).
    static func children(of pid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { name -> pid_t? in
            guard let child = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == pid ? child : nil
        }
    }

    /// A rank that dies (SIGKILL, as the out-of-memory killer would) stops the whole job: the
    /// other rank does not wait forever in a sum, and mpirun says the job was aborted.
    @Test func aRankThatDiesStopsTheJob() throws {
        guard let mpirun = MPITests.mpirun else { print("skipped: mpirun is not installed (apt-get install openmpi-bin)"); return }
        let w = try TinyWorld()
        defer { try? FileManager.default.removeItem(at: w.root) }
        let job = try LongJob(w, mpirun: mpirun, session: "train steps=1000000 batch=3 lr=1e-4 as a\n")
        let ranks = job.ranksOnceTraining()
        if let victim = ranks.max() { kill(victim, SIGKILL) }
        #expect(job.ends(within: 60, ranks: ranks), "the job went on for a minute after a rank died: \(job.output())")
        #expect(job.process.terminationStatus != 0)
        // mpirun's own words (Open MPI 4.1: "… 1 process returned a non-zero exit code … the job has been aborted").
        #expect(job.output().contains("aborted") || job.output().contains("signal 9"), "\(job.output())")
    }

    /// A 2-rank job running a long session in the world's folder, its output going to a file.
    struct LongJob {
        let process = Process()
        let log: URL

        init(_ w: TinyWorld, mpirun: String, session: String, environment: [String: String] = [:]) throws {
            let file = w.root.appendingPathComponent("long.cood")
            try (DataParallelTests.preamble(w) + session).write(to: file, atomically: true, encoding: .utf8)
            log = w.root.appendingPathComponent("out.txt")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let out = try FileHandle(forWritingTo: log)
            defer { try? out.close() }   // the child keeps its own descriptor
            process.executableURL = URL(fileURLWithPath: mpirun)
            process.arguments = ["--oversubscribe", "--allow-run-as-root", "--bind-to", "none", "-np", "2", Executable.url.path, "run", file.path]
            process.currentDirectoryURL = w.root
            process.environment = MPITests.environment.merging(environment) { $1 }
            process.standardOutput = out
            process.standardError = out
            try process.run()
        }

        func output() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        /// Waits (at most two minutes) until training has started and run a second, and returns
        /// the ranks' process ids (mpirun's children).
        func ranksOnceTraining() -> [pid_t] {
            let deadline = Date().addingTimeInterval(120)
            while !output().contains("training 'a' at step 1") && process.isRunning && Date() < deadline { usleep(100_000) }
            usleep(1_000_000)
            let ranks = DataParallelTests.children(of: process.processIdentifier)
            #expect(ranks.count == 2, "ranks found: \(ranks)")
            return ranks
        }

        /// Whether mpirun ends within `seconds`; if not, it and the ranks are killed.
        func ends(within seconds: Double, ranks: [pid_t]) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { usleep(200_000) }
            let ended = !process.isRunning
            if !ended { for pid in [process.processIdentifier] + ranks { kill(pid, SIGKILL) } }
            process.waitUntilExit()
            return ended
        }
    }
}
