import CMPI
import Foundation

/// An MPI failure, with MPI's own text for the code.
public struct DistributedError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The processes of one job: this process's rank and how many there are. Started by `mpirun`
/// or Slurm's `srun`, every rank runs the same session; started plainly, the cluster is one
/// process and every collective is the identity, so single-process behaviour is unchanged.
///
/// The collectives are the few that data-parallel training and sharded evaluation need: a sum
/// over ranks (gradients, counts), a gather in rank order (features, logits), a broadcast, a
/// barrier, and an abort that stops every rank.
public final class Cluster {
    public let rank: Int
    public let size: Int
    /// Whether MPI was initialised (launched by mpirun/srun); false for a plain process.
    public let usesMPI: Bool
    /// The node this rank runs on.
    public let host: String

    /// The job this process belongs to; set once at start-up by the executable.
    nonisolated(unsafe) public static var current = Cluster(rank: 0, size: 1, usesMPI: false, host: ProcessInfo.processInfo.hostName)

    public var isLeader: Bool { rank == 0 }
    public var isDistributed: Bool { size > 1 }

    init(rank: Int, size: Int, usesMPI: Bool, host: String) {
        self.rank = rank; self.size = size; self.usesMPI = usesMPI; self.host = host
    }

    /// Whether a launcher started this process as one rank of a job: Open MPI's mpirun, a PMIx
    /// or PMI launcher (srun --mpi=pmix|pmi2). `CLIPOOD_NO_MPI=1` forces a plain process.
    public static func launched(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        if environment["CLIPOOD_NO_MPI"] == "1" { return false }
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"].contains { environment[$0] != nil }
    }

    /// Joins the job when launched by mpirun or srun; a single-process cluster otherwise.
    public static func start(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Cluster {
        guard launched(environment: environment) else {
            // srun without an MPI plug-in starts N independent processes that would each train alone.
            if let tasks = environment["SLURM_NTASKS"].flatMap(Int.init), tasks > 1, environment["SLURM_PROCID"] != nil,
               environment["CLIPOOD_NO_MPI"] != "1" {
                throw DistributedError("srun started \(tasks) tasks but no MPI launcher information reached them: use `srun --mpi=pmix` (or pmi2), or set CLIPOOD_NO_MPI=1 to run them independently")
            }
            return Cluster(rank: 0, size: 1, usesMPI: false, host: ProcessInfo.processInfo.hostName)
        }
        var rank: Int32 = 0, size: Int32 = 1
        let rc = cmpi_init(&rank, &size)
        guard rc == MPI_SUCCESS else { throw DistributedError("MPI could not start: " + errorText(rc)) }
        var name = [CChar](repeating: 0, count: 256)
        _ = cmpi_processor_name(&name, 256)
        return Cluster(rank: Int(rank), size: Int(size), usesMPI: true, host: String(cString: name))
    }

    /// The contiguous share of `count` items that `rank` of `size` handles: balanced to within
    /// one item, in order, so that concatenating the shares of ranks 0, 1, … gives 0..<count.
    public static func shard(_ count: Int, rank: Int, size: Int) -> Range<Int> {
        precondition(size >= 1 && rank >= 0 && rank < size && count >= 0)
        return (count * rank / size) ..< (count * (rank + 1) / size)
    }

    public func shard(_ count: Int) -> Range<Int> { Cluster.shard(count, rank: rank, size: size) }

    /// Whether item `k` of a sequence dealt out to the ranks in turn (batch k of an evaluation,
    /// chunk k of the prefix cache) is this rank's.
    public func owns(_ k: Int) -> Bool { k % size == rank }

    // MARK: collectives (identities on one process)

    /// Sums `count` floats at `buffer` over all ranks, in place, on every rank.
    public func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        guard usesMPI, size > 1, count > 0 else { return }
        try check(cmpi_allreduce_sum_float(buffer, count), "sum of \(count) floats")
    }

    /// Sums started by `startSum` and not yet waited for.
    private var pending: [MPI_Request?] = []

    /// Starts an in-place sum of `count` floats at `buffer` over all ranks and returns at once;
    /// the buffer must not be touched until `finishSums`. Gradients of the blocks a backward
    /// pass has finished are summed this way while it goes on with the blocks below.
    public func startSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        guard usesMPI, size > 1, count > 0 else { return }
        let chunk = 1 << 30
        var done = 0
        while done < count {
            let n = min(chunk, count - done)
            var request: MPI_Request? = cmpi_request_null()
            try check(cmpi_iallreduce_sum_float(buffer + done, n, &request), "sum of \(n) floats")
            pending.append(request)
            done += n
        }
        var finished: Int32 = 0
        try check(cmpi_testall(Int32(pending.count), &pending, &finished), "progress of \(pending.count) sums")
    }

    /// Waits for every sum `startSum` started.
    public func finishSums() throws {
        guard !pending.isEmpty else { return }
        defer { pending.removeAll() }
        try check(cmpi_waitall(Int32(pending.count), &pending), "\(pending.count) sums")
    }

    /// Sums each value over all ranks, on every rank (counts, losses, ECE bins).
    public func allreduceSum(_ values: inout [Double]) throws {
        guard usesMPI, size > 1, !values.isEmpty else { return }
        let n = values.count
        try values.withUnsafeMutableBufferPointer { try check(cmpi_allreduce_sum_double($0.baseAddress!, n), "sum of \(n) numbers") }
    }

    /// The largest of each value over all ranks.
    public func allreduceMax(_ values: inout [Int]) throws {
        guard usesMPI, size > 1, !values.isEmpty else { return }
        var longs = values.map { CLong($0) }
        let n = longs.count
        try longs.withUnsafeMutableBufferPointer { try check(cmpi_allreduce_max_long($0.baseAddress!, n), "maximum of \(n) numbers") }
        values = longs.map { Int($0) }
    }

    /// Every rank's `count` floats in rank order into `gathered` (room for size × count).
    public func allgather(_ mine: UnsafePointer<Float>, count: Int, into gathered: UnsafeMutablePointer<Float>) throws {
        guard usesMPI, size > 1 else { gathered.update(from: mine, count: count); return }
        try check(cmpi_allgather_float(mine, count, gathered), "gather of \(count) floats per rank")
    }

    /// Every rank's text (each at most `capacity` UTF-8 bytes), in rank order.
    public func allgather(_ text: String, capacity: Int = 256) throws -> [String] {
        guard usesMPI, size > 1 else { return [text] }
        var mine = [UInt8](repeating: 0, count: capacity)
        let bytes = Array(text.utf8.prefix(capacity - 1))
        mine.replaceSubrange(0 ..< bytes.count, with: bytes)
        var all = [UInt8](repeating: 0, count: capacity * size)
        try mine.withUnsafeBytes { m in
            try all.withUnsafeMutableBytes { a in try check(cmpi_allgather_bytes(m.baseAddress!, capacity, a.baseAddress!), "gather of texts") }
        }
        return (0 ..< size).map { r in
            let slice = all[(r * capacity) ..< ((r + 1) * capacity)]
            return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Rank `root`'s bytes on every rank (the same length everywhere).
    public func broadcast(_ bytes: inout [UInt8], root: Int = 0) throws {
        guard usesMPI, size > 1, !bytes.isEmpty else { return }
        let n = bytes.count
        try bytes.withUnsafeMutableBytes { try check(cmpi_broadcast_bytes($0.baseAddress!, n, Int32(root)), "broadcast of \(n) bytes") }
    }

    public func barrier() throws {
        guard usesMPI, size > 1 else { return }
        try check(cmpi_barrier(), "barrier")
    }

    /// Stops every rank of the job with `code` (a plain process just exits).
    public func abort(code: Int32) -> Never {
        if usesMPI && size > 1 { cmpi_abort(code) }
        exit(code)
    }

    /// Leaves MPI cleanly at the end of a successful job.
    public func finish() {
        if usesMPI { _ = cmpi_finalize() }
    }

    /// Seconds on MPI's clock (the process clock on one process).
    public func now() -> Double { usesMPI ? cmpi_wtime() : Date().timeIntervalSince1970 }

    private func check(_ rc: Int32, _ what: String) throws {
        guard rc == MPI_SUCCESS else { throw DistributedError("MPI \(what) failed on rank \(rank): " + Cluster.errorText(rc)) }
    }

    static func errorText(_ code: Int32) -> String {
        var text = [CChar](repeating: 0, count: 512)
        cmpi_error_string(code, &text, 512)
        let s = String(cString: text)
        return s.isEmpty ? "error \(code)" : s
    }
}
