import ClipoodEngine
import Foundation

/// One batch per step with `batchPerDomain` images from every training domain, concatenated in
/// domain order — CLIPood's domain-shift batches (one `InfiniteDataLoader` per source domain).
///
/// Within a domain, samples are drawn without replacement in passes: each pass is a shuffled
/// order of that domain's indices, and every index appears once per pass before any repeats. When
/// a pass runs out in the middle of a batch, the batch finishes the pass, the next pass is
/// shuffled, and the batch continues from it (a domain smaller than the batch goes through
/// several passes inside one batch). The order of pass p of domain d is
/// `rng.derived("sampler/<d>/<p>").permutation(n_d)`; it depends only on the seed, the domain's
/// position and the pass number, so the whole state is the seed plus a (pass, position) pair per
/// domain, and a restored sampler continues exactly where the saved one stopped.
///
/// Empty domain lists are skipped (they contribute no images to the batch).
public struct DomainSampler: Sendable {
    /// Everything needed to continue a sampler; `Codable` for run checkpoints.
    public struct State: Codable, Equatable, Sendable {
        public var seed: UInt64
        public var batchPerDomain: Int
        /// Images per domain (as given) — checked on restore.
        public var domainSizes: [Int]
        /// FNV-1a hash of the index lists — checked on restore.
        public var indicesHash: String
        /// Current pass per domain (0 for the first).
        public var pass: [Int]
        /// Position within the current pass per domain (how many of its indices were drawn).
        public var position: [Int]
        /// Batches drawn so far.
        public var batches: Int
    }

    public let trainIndicesByDomain: [[Int]]
    public let batchPerDomain: Int
    private var st: State
    private var order: [[Int]]   // the current pass's order per domain (positions into the domain's list)

    /// Images per batch: batchPerDomain × the number of non-empty domains.
    public var batchSize: Int { batchPerDomain * trainIndicesByDomain.filter { !$0.isEmpty }.count }

    public var state: State { st }

    public init(trainIndicesByDomain: [[Int]], batchPerDomain: Int, rng: RNG) {
        precondition(batchPerDomain >= 1, "DomainSampler: batchPerDomain must be at least 1, got \(batchPerDomain)")
        precondition(trainIndicesByDomain.contains { !$0.isEmpty }, "DomainSampler: no training images in any domain")
        self.trainIndicesByDomain = trainIndicesByDomain
        self.batchPerDomain = batchPerDomain
        let D = trainIndicesByDomain.count
        st = State(seed: rng.seed, batchPerDomain: batchPerDomain, domainSizes: trainIndicesByDomain.map(\.count),
                   indicesHash: DomainSampler.hash(trainIndicesByDomain),
                   pass: [Int](repeating: 0, count: D), position: [Int](repeating: 0, count: D), batches: 0)
        order = []
        order = (0 ..< D).map { passOrder(domain: $0, pass: 0) }
    }

    /// Restores a sampler saved with `state`; throws when the index lists are not the ones it was
    /// made with.
    public init(trainIndicesByDomain: [[Int]], state: State) throws {
        guard state.domainSizes == trainIndicesByDomain.map(\.count) else {
            throw SamplerError.mismatch("the saved sampler had domains of \(state.domainSizes) images, now \(trainIndicesByDomain.map(\.count))")
        }
        guard state.indicesHash == DomainSampler.hash(trainIndicesByDomain) else {
            throw SamplerError.mismatch("the training images differ from the saved sampler's")
        }
        guard state.batchPerDomain >= 1, state.pass.count == state.domainSizes.count, state.position.count == state.domainSizes.count,
              zip(state.position, state.domainSizes).allSatisfy({ $0 >= 0 && ($0 < $1 || $1 == 0) }) else {
            throw SamplerError.mismatch("the saved sampler state is inconsistent")
        }
        self.trainIndicesByDomain = trainIndicesByDomain
        self.batchPerDomain = state.batchPerDomain
        st = state
        order = []
        order = (0 ..< state.domainSizes.count).map { passOrder(domain: $0, pass: state.pass[$0]) }
    }

    /// Convenience: the split's training images grouped by source domain.
    public init(split: Split, dataset: Dataset, batchPerDomain: Int, rng: RNG) {
        self.init(trainIndicesByDomain: split.trainByDomain(dataset), batchPerDomain: batchPerDomain, rng: rng)
    }

    private func passOrder(domain d: Int, pass p: Int) -> [Int] {
        var rng = RNG(seed: st.seed).derived("sampler/\(d)/\(p)")
        return rng.permutation(trainIndicesByDomain[d].count)
    }

    /// The next batch: `batchPerDomain` indices (into `Dataset.samples`) from each non-empty
    /// domain, in domain order.
    public mutating func next() -> [Int] {
        var batch: [Int] = []
        batch.reserveCapacity(batchSize)
        for d in trainIndicesByDomain.indices {
            let members = trainIndicesByDomain[d]
            if members.isEmpty { continue }
            for _ in 0 ..< batchPerDomain {
                if st.position[d] == members.count {
                    st.pass[d] += 1
                    st.position[d] = 0
                    order[d] = passOrder(domain: d, pass: st.pass[d])
                }
                batch.append(members[order[d][st.position[d]]])
                st.position[d] += 1
            }
            // Keep position < count in the saved state: start the next pass eagerly.
            if st.position[d] == members.count {
                st.pass[d] += 1
                st.position[d] = 0
                order[d] = passOrder(domain: d, pass: st.pass[d])
            }
        }
        st.batches += 1
        return batch
    }

    static func hash(_ lists: [[Int]]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for list in lists {
            for v in list + [-1] {
                var x = UInt64(bitPattern: Int64(v))
                for _ in 0 ..< 8 { h = (h ^ (x & 0xFF)) &* 0x0000_0100_0000_01b3; x >>= 8 }
            }
        }
        return String(h, radix: 16)
    }
}

public enum SamplerError: Error, CustomStringConvertible, Equatable {
    case mismatch(String)
    public var description: String {
        switch self {
        case .mismatch(let m): return "cannot restore the sampler: \(m)"
        }
    }
}
