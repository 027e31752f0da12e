import ClipoodDistributed
import Foundation
import TestSupport
import Testing

@Suite("MPI cluster")
struct ClusterTests {
    @Test func shardsCoverEverythingInOrder() {
        for count in [0, 1, 5, 36, 97] {
            for size in 1 ... 5 {
                let shards = (0 ..< size).map { Cluster.shard(count, rank: $0, size: size) }
                #expect(shards.first?.lowerBound == 0 && shards.last?.upperBound == count)
                for r in 1 ..< size { #expect(shards[r - 1].upperBound == shards[r].lowerBound) }
                #expect(shards.map(\.count).max()! - shards.map(\.count).min()! <= 1)
            }
        }
    }

    @Test func launcherDetection() throws {
        #expect(!Cluster.launched(environment: [:]))
        #expect(Cluster.launched(environment: ["OMPI_COMM_WORLD_SIZE": "2"]))
        #expect(Cluster.launched(environment: ["PMIX_RANK": "0"]))
        #expect(!Cluster.launched(environment: ["OMPI_COMM_WORLD_SIZE": "2", "CLIPOOD_NO_MPI": "1"]))
        // srun without an MPI plug-in would start independent copies: refused with the fix.
        let e = #expect(throws: DistributedError.self) { try Cluster.start(environment: ["SLURM_NTASKS": "4", "SLURM_PROCID": "1"]) }
        #expect(e?.description.contains("--mpi=pmix") == true)
    }

    @Test func oneProcessCollectivesAreIdentities() throws {
        let c = try Cluster.start(environment: [:])
        #expect(c.rank == 0 && c.size == 1 && !c.usesMPI)
        var xs: [Float] = [1, 2, 3]
        try xs.withUnsafeMutableBufferPointer { try c.allreduceSum($0.baseAddress!, count: 3) }
        #expect(xs == [1, 2, 3])
        var ds = [0.5, 2]
        try c.allreduceSum(&ds)
        #expect(ds == [0.5, 2])
        #expect(try c.allgather("host-a") == ["host-a"])
    }
}
