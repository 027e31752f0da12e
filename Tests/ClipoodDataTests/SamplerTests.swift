import ClipoodData
import ClipoodEngine
import Foundation
import Testing

@Suite("Per-domain sampler")
struct SamplerTests {
    /// Three domains of 7, 10 and 5 "images" (disjoint index ranges).
    let lists: [[Int]] = [Array(100 ..< 107), Array(200 ..< 210), Array(300 ..< 305)]

    func draws(_ sampler: inout DomainSampler, batches: Int) -> [[Int]] {
        (0 ..< batches).map { _ in sampler.next() }
    }

    @Test func batchLayoutIsPerDomainInDomainOrder() {
        var s = DomainSampler(trainIndicesByDomain: lists, batchPerDomain: 3, rng: RNG(seed: 1))
        #expect(s.batchSize == 9)
        for batch in draws(&s, batches: 20) {
            #expect(batch.count == 9)
            for d in 0 ..< 3 { #expect(batch[(3 * d) ..< (3 * d + 3)].allSatisfy { lists[d].contains($0) }) }
        }
        #expect(s.state.batches == 20)
    }

    /// Each consecutive run of n_d draws from domain d is a permutation of that domain.
    @Test(arguments: [1, 3, 4, 12])
    func everyPassCoversTheDomainOnce(batchPerDomain b: Int) {
        var s = DomainSampler(trainIndicesByDomain: lists, batchPerDomain: b, rng: RNG(seed: 9))
        var stream = [[Int]](repeating: [], count: 3)
        for batch in draws(&s, batches: 40) {
            for d in 0 ..< 3 { stream[d] += batch[(b * d) ..< (b * d + b)] }
        }
        for d in 0 ..< 3 {
            let n = lists[d].count
            let passes = stream[d].count / n
            #expect(passes >= 1)
            for p in 0 ..< passes {
                #expect(stream[d][(p * n) ..< (p * n + n)].sorted() == lists[d], "domain \(d) pass \(p)")
            }
            // Passes are reshuffled: not all the same order.
            let orders = Set((0 ..< passes).map { Array(stream[d][($0 * n) ..< ($0 * n + n)]) })
            #expect(passes < 2 || orders.count > 1)
            #expect(s.state.pass[d] == stream[d].count / n)
            #expect(s.state.position[d] == stream[d].count % n)
        }
    }

    @Test func tinyDomainSmallerThanTheBatch() {
        var s = DomainSampler(trainIndicesByDomain: [[1, 2], Array(10 ..< 30)], batchPerDomain: 5, rng: RNG(seed: 2))
        var tiny: [Int] = []
        for batch in draws(&s, batches: 4) {
            #expect(batch.count == 10)
            tiny += batch[0 ..< 5]
            #expect(batch[5...].allSatisfy { (10 ..< 30).contains($0) })
        }
        for p in 0 ..< 10 { #expect(tiny[(2 * p) ..< (2 * p + 2)].sorted() == [1, 2]) }
        // The big domain's 20 images were covered exactly once by its first 4 batches of 5.
    }

    @Test func emptyDomainsAreSkipped() {
        var s = DomainSampler(trainIndicesByDomain: [[], [5, 6, 7], []], batchPerDomain: 2, rng: RNG(seed: 0))
        #expect(s.batchSize == 2)
        #expect(s.next().count == 2)
    }

    @Test func deterministicForTheSeed() {
        var a = DomainSampler(trainIndicesByDomain: lists, batchPerDomain: 4, rng: RNG(seed: 5))
        var b = DomainSampler(trainIndicesByDomain: lists, batchPerDomain: 4, rng: RNG(seed: 5))
        var c = DomainSampler(trainIndicesByDomain: lists, batchPerDomain: 4, rng: RNG(seed: 6))
        let x = draws(&a, batches: 10), y = draws(&b, batches: 10), z = draws(&c, batches: 10)
        #expect(x == y)
        #expect(x != z)
        // Only the seed matters, not how many draws were made from the RNG passed in.
        var used = RNG(seed: 5)
        _ = used.next()
        var d = DomainSampler(trainIndicesByDomain: lists, batchPerDomain: 4, rng: used)
        #expect(draws(&d, batches: 10) == x)
    }

    /// A run saved after k batches and resumed draws exactly what the uninterrupted run draws.
    @Test(arguments: [1, 2, 5, 7])
    func saveAndRestoreContinuesIdentically(after k: Int) throws {
        var whole = DomainSampler(trainIndicesByDomain: lists, batchPerDomain: 3, rng: RNG(seed: 11))
        let expected = draws(&whole, batches: k + 12)

        var first = DomainSampler(trainIndicesByDomain: lists, batchPerDomain: 3, rng: RNG(seed: 11))
        let before = draws(&first, batches: k)
        let json = try JSONEncoder().encode(first.state)
        let state = try JSONDecoder().decode(DomainSampler.State.self, from: json)
        #expect(state == first.state)
        var resumed = try DomainSampler(trainIndicesByDomain: lists, state: state)
        let after = draws(&resumed, batches: 12)
        #expect(before + after == expected)
        #expect(resumed.state == whole.state)
    }

    @Test func restoreRefusesOtherIndices() throws {
        var s = DomainSampler(trainIndicesByDomain: lists, batchPerDomain: 3, rng: RNG(seed: 1))
        _ = s.next()
        #expect(throws: SamplerError.self) { try DomainSampler(trainIndicesByDomain: [lists[0], lists[1]], state: s.state) }
        var changed = lists
        changed[2][0] = 999
        let e = #expect(throws: SamplerError.self) { try DomainSampler(trainIndicesByDomain: changed, state: s.state) }
        #expect(e?.description.contains("differ") == true)
    }

    @Test func fromASplit() throws {
        let fx = Fixture()
        let split = try Split.make(dataset: fx.dataset, spec: SplitSpec(targets: ["photo"]))
        var s = DomainSampler(split: split, dataset: fx.dataset, batchPerDomain: 4, rng: RNG(seed: 0))
        let batch = s.next()
        #expect(batch.count == 8)
        #expect(batch[..<4].allSatisfy { fx.dataset.samples[$0].domain == 0 })
        #expect(batch[4...].allSatisfy { fx.dataset.samples[$0].domain == 2 })
        #expect(Set(batch).isSubset(of: Set(split.train)))
    }
}
