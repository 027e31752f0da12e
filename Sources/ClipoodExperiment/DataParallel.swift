import ClipoodData
import ClipoodDistributed
import ClipoodTrain
import Foundation

// How the experiment runs on the ranks of an MPI job (one process: every collective is the
// identity). Training: every rank draws the same global batch and augmentation seeds, trains
// on its contiguous share and sums gradients, so all ranks hold identical weights. Evaluation:
// the batches of a part are dealt out to the ranks and the features gathered, so every rank
// scores the same features and prints (rank 0) the same table as one process.

extension Cluster: Collectives {
    public func sum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws { try allreduceSum(buffer, count: count) }
    public func sum(_ values: inout [Double]) throws { try allreduceSum(&values) }
    public func gather(_ mine: UnsafePointer<Float>, count: Int, into gathered: UnsafeMutablePointer<Float>) throws {
        try allgather(mine, count: count, into: gathered)
    }

    /// Whether `flag` is true on any rank (a stop request seen by one rank stops all of them at
    /// the same step).
    public func anyRank(_ flag: Bool) throws -> Bool {
        guard isDistributed else { return flag }
        var v = [flag ? 1 : 0]
        try allreduceMax(&v)
        return v[0] != 0
    }

    /// Checks that every rank holds the same `what` (a description, compared by its SHA-256):
    /// the ranks of a job must train one model on one split of one dataset. Throws the same
    /// error on every rank, naming the ranks that differ from rank 0.
    public func requireAgreement(_ what: String, _ description: String) throws {
        guard isDistributed else { return }
        let mine = SHA256.hex(Data(description.utf8))
        let all = try allgather(mine, capacity: 65)
        let differing = all.indices.filter { all[$0] != all[0] }
        guard differing.isEmpty else {
            throw DistributedError("the ranks do not hold the same \(what): rank\(differing.count == 1 ? "" : "s") \(differing.map(String.init).joined(separator: ", ")) differ\(differing.count == 1 ? "s" : "") from rank 0 (every rank must load the same files; check the paths each node sees)")
        }
    }
}

/// What the ranks of a job compare before they train together: the model's parameter values,
/// the dataset (each image's relative path, domain, label and file size) and the split.
public enum JobAgreement {
    /// A 64-bit hash of the model's parameter values (the bytes themselves: two files with the
    /// same weights agree, any changed weight disagrees).
    public static func parameters(_ m: ModelEntry) -> String {
        values(m.model.parameters.values.base, count: m.model.parameters.count)
    }

    /// A 64-bit hash of `count` floats' bit patterns.
    public static func values(_ p: UnsafePointer<Float>, count n: Int) -> String {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(n)
        for i in 0 ..< n {
            h = (h ^ UInt64(p[i].bitPattern)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 29
        }
        return String(h, radix: 16)
    }

    /// The dataset's files and labels and the split's parts.
    public static func data(_ d: DataEntry, split: Split?) -> String {
        var text = d.dataset.fingerprint + " sizes " + fileSizes(d.dataset)
        // Sorted keys: JSONEncoder's key order otherwise differs from process to process.
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        if let split, let json = try? encoder.encode(split) { text += " split " + SHA256.hex(json) }
        return text
    }

    /// A hash of every image's file size, computed once per dataset (one stat per image: `split`
    /// and every run of an `ablate` grid check the same files).
    private static func fileSizes(_ dataset: Dataset) -> String {
        let key = dataset.root + "\n" + dataset.fingerprint
        if let known = sizeHashes[key] { return known }
        var sizes: UInt64 = 0xCBF2_9CE4_8422_2325
        for s in dataset.samples {
            var st = stat()
            let size = stat(s.path, &st) == 0 ? UInt64(st.st_size) : UInt64.max
            sizes = (sizes ^ size) &* 0x100_0000_01B3
        }
        let hash = String(sizes, radix: 16)
        sizeHashes[key] = hash
        return hash
    }

    nonisolated(unsafe) private static var sizeHashes: [String: String] = [:]

    /// Checks at `split` that every rank holds the same data and split.
    public static func checkSplit(_ d: DataEntry, split: Split) throws {
        guard Cluster.current.isDistributed else { return }
        try Cluster.current.requireAgreement("data and split", data(d, split: split))
    }

    /// Checks at the start of a run that every rank holds the same model, data and split.
    public static func checkRun(model m: ModelEntry, data d: DataEntry, split: Split) throws {
        let cluster = Cluster.current
        guard cluster.isDistributed else { return }
        try cluster.requireAgreement("model", parameters(m))
        try cluster.requireAgreement("data and split", data(d, split: split))
    }
}
