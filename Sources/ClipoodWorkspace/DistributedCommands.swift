import ClipoodCommands
import ClipoodDistributed
import Foundation

// `bench allreduce`: what one gradient sum costs between the ranks of an MPI job.

extension Workspace {
    static let allreduceMiB = Argument<Int>.option("mib", 1 ... 4096, default: "64", help: "buffer size in MiB of fp32 (ViT-B/16's image tower is ~330 MiB)")
    static let allreduceRuns = Argument<Int>.option("runs", 1 ... 1000, default: "5", help: "timed sums after one warm-up")

    static let benchAllreduceCommand = CommandSpec<Workspace>(
        "allreduce",
        summary: "time MPI_Allreduce (sum, fp32) of a gradient-sized buffer across the ranks of the job",
        discussion: """
        Run it under a launcher, e.g. `mpirun -np 2 clipood bench allreduce`. Every rank fills the
        buffer with its rank + 1 and the sum is checked on every element. Reported: median and best
        time, algorithm bandwidth (bytes / time) and bus bandwidth (2(N−1)/N × bytes / time, what a
        ring all-reduce moves over each link). One process: the sum is the identity, time ~0.
        """,
        arguments: [
            allreduceMiB.spec, allreduceRuns.spec,
        ],
        examples: ["bench allreduce", "bench allreduce mib=330 runs=3"],
        run: { ws, args in try ws.benchAllreduce(args) })

    func benchAllreduce(_ args: Arguments) throws {
        let cluster = Cluster.current
        let mib = args[Workspace.allreduceMiB], runs = args[Workspace.allreduceRuns]
        let count = mib * (1 << 20) / 4
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        var times: [Double] = []
        for run in 0 ... runs {
            buffer.update(repeating: Float(cluster.rank + 1), count: count)
            try cluster.barrier()
            let t0 = cluster.now()
            try cluster.allreduceSum(buffer, count: count)
            let t = cluster.now() - t0
            let expected = Float(cluster.size * (cluster.size + 1) / 2)
            for i in stride(from: 0, to: count, by: 1) where buffer[i] != expected {
                throw CommandError("rank \(cluster.rank): element \(i) is \(buffer[i]) after the sum, expected \(expected)")
            }
            if run > 0 { times.append(t) }
        }
        // Every rank's median, so the slowest rank is what the table reports.
        var medians = [times.sorted()[times.count / 2]]
        try cluster.allreduceSum(&medians)
        let median = medians[0] / Double(cluster.size)
        let best = times.min()!
        let bytes = Double(count * 4)
        let bus = cluster.size > 1 ? 2 * Double(cluster.size - 1) / Double(cluster.size) : 0
        let hosts = Set(try cluster.allgather(cluster.host)).count
        write("MPI_Allreduce sum of \(mib) MiB fp32 over \(cluster.size) rank\(cluster.size == 1 ? "" : "s") on \(hosts) host\(hosts == 1 ? "" : "s"), median of \(runs) after warm-up; sum checked on every element")
        func gbps(_ t: Double, _ factor: Double) -> String { t > 0 ? String(format: "%.2f", factor * bytes / t / 1e9) : "–" }
        write(TextTable.render(header: ["ranks", "MiB", "median ms", "best ms", "algorithm GB/s", "bus GB/s"],
                               rows: [["\(cluster.size)", "\(mib)", String(format: "%.2f", median * 1000), String(format: "%.2f", best * 1000),
                                       gbps(median, 1), gbps(median, bus)]]))
    }
}
