import ClipoodEngine
import Foundation
import Synchronization
import Testing

@Suite("flat buffers, layouts and the RNG")
struct EngineStorageTests {
    @Test func layoutPacksTensorsInOrder() {
        let layout = BufferLayout([("a", [2, 3]), ("b", [4]), ("blocks.1.w", [2, 2]), ("proj", [3])])
        #expect(layout.count == 6 + 4 + 4 + 3)
        #expect(layout["b"]?.offset == 6)
        #expect(layout["blocks.1.w"]?.range == 10 ..< 14)
        #expect(layout.suffixRange(fromFirstNamed: "blocks.1.") == 10 ..< 17)
        #expect(layout["missing"] == nil)
        // An overlay names memory already laid out, without adding to it or to its names.
        let over = layout.overlay("scratch", [3, 2], at: 4)
        #expect(over.range == 4 ..< 10 && layout.count == 17 && layout["scratch"] == nil && layout.slots.count == 4)
    }

    /// Gradients start at the lowest parameter asked for; asking for a lower one starts them
    /// again from there.
    @Test func gradientsStartWhereAskedAndGrowDown() {
        let store = ParameterStore(layout: BufferLayout([("text", [3]), ("w", [2, 2]), ("b", [2])]))
        #expect(store.gradientStart == store.count)
        let w = store.layout["w"]!, b = store.layout["b"]!
        store.gradients(from: w.offset).update(repeating: 2, count: 6)
        #expect(store.gradientStart == 3 && store.grad(b)[1] == 2 && store.grad(w) == store.gradients(from: 3))
        store.zeroGrads(b.range)
        #expect(store.grad(b)[0] == 0 && store.grad(w)[3] == 2)
        _ = store.gradients(from: 0)
        #expect(store.gradientStart == 0 && store.grad(store.layout["text"]!) + 3 == store.grad(w))
    }

    @Test func parameterViewsShareOneBuffer() {
        let store = ParameterStore(layout: BufferLayout([("w", [2, 2]), ("b", [2])]))
        store.values.view("b").base[1] = 7
        #expect(store.values.base[5] == 7)
        store.gradients().update(repeating: 1, count: store.count)
        store.zeroGrads(4 ..< 6)
        #expect(Array(UnsafeBufferPointer(start: store.gradients(), count: store.count)) == [1, 1, 1, 1, 0, 0])
    }

    /// A ledger counts the buffers made inside `measure` until they are freed (during the
    /// measurement or after it), keeps the most alive at once, and does not see buffers made
    /// before it or by another task at the same time.
    @Test func ledgerCountsOnlyItsOwnBuffers() {
        final class Shared: Sendable { let made = Atomic(0), stop = Atomic(false), stopped = Atomic(false) }
        let shared = Shared()
        let before = FloatBuffer(count: 1000)
        let neighbour = Thread {   // another thread making and freeing buffers all the while
            while !shared.stop.load(ordering: .relaxed) {
                _ = FloatBuffer(count: 4096)
                shared.made.add(1, ordering: .relaxed)
            }
            shared.stopped.store(true, ordering: .releasing)
        }
        neighbour.start()
        var kept: FloatBuffer?
        let (overlapped, ledger) = MemoryLedger.measure { () -> Bool in
            let start = shared.made.load(ordering: .relaxed)
            kept = FloatBuffer(count: 25)
            for _ in 0 ..< 200 { withExtendedLifetime((FloatBuffer(count: 100), FloatBuffer(count: 50))) {} }
            // Stay until the neighbour has made buffers during the measurement (or 10 s passed).
            let deadline = ContinuousClock.now + .seconds(10)
            while shared.made.load(ordering: .relaxed) < start + 100 && ContinuousClock.now < deadline { usleep(100) }
            withExtendedLifetime(before) {}
            return shared.made.load(ordering: .relaxed) >= start + 100
        }
        shared.stop.store(true, ordering: .relaxed)
        while !shared.stopped.load(ordering: .acquiring) { usleep(100) }
        #expect(overlapped)
        #expect(ledger.peak == 175 * 4 && ledger.live == 25 * 4)
        #expect(kept?.count == 25)
        kept = nil   // freed after the measurement: the ledger hears of it
        #expect(ledger.live == 0 && ledger.peak == 175 * 4)
        #expect(MemoryLedger.current == nil)
    }

    @Test func arenaGrowsOnlyWhenNeeded() {
        let arena = Arena(layout: BufferLayout([("x", [8])]))
        arena.ensure(layout: BufferLayout([("x", [4])]))
        #expect(arena.capacity == 8)
        arena.ensure(layout: BufferLayout([("x", [16]), ("y", [2])]))
        #expect(arena.capacity == 18)
        #expect(arena.pointer("y") == arena.pointer("x") + 16)
    }

    @Test func rngIsDeterministicAndSeedSensitive() {
        var a = RNG(seed: 42), b = RNG(seed: 42), c = RNG(seed: 43)
        let xa = (0 ..< 5).map { _ in a.next() }, xb = (0 ..< 5).map { _ in b.next() }, xc = (0 ..< 5).map { _ in c.next() }
        #expect(xa == xb)
        #expect(xa != xc)
    }

    /// Pins the stream for seed 0 so that a change to the generator (which would silently
    /// change every split and every run) fails here. The expected words come from an
    /// independent Python transcription of xoshiro256** (Blackman & Vigna's reference
    /// algorithm) seeded with SplitMix64(0), whose first output 0xE220A8397B1DCDAF is the
    /// published SplitMix64 test value.
    @Test func rngStreamIsPinned() {
        var sm = SplitMix64Probe(state: 0)
        #expect(sm.next() == 0xE220_A839_7B1D_CDAF)
        var r = RNG(seed: 0)
        #expect([r.next(), r.next(), r.next()] == [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0])
    }

    @Test func rngStateRestoresTheStream() {
        var a = RNG(seed: 5)
        _ = a.next(); _ = a.normal()   // leaves a cached normal
        var b = RNG(state: a.state)!
        #expect((0 ..< 4).map { _ in a.normal() } == (0 ..< 4).map { _ in b.normal() })
        #expect(a.next() == b.next())
        #expect(RNG(state: [1, 0, 0, 0, 0, 0, 0]) == nil)   // all-zero xoshiro state is invalid
    }

    @Test func rngDistributions() {
        var r = RNG(seed: 7)
        let n = 200_000
        var counts = [Int](repeating: 0, count: 10)
        var sum = 0.0, sumSq = 0.0, usum = 0.0
        for _ in 0 ..< n {
            counts[r.below(10)] += 1
            let z = Double(r.normal()); sum += z; sumSq += z * z
            let u = r.uniform(); #expect(u >= 0 && u < 1); usum += Double(u)
        }
        // Each bucket expects 20000 ± 134 (binomial sd); 6 sd is a safe bound for a fixed seed.
        for c in counts { #expect(abs(c - n / 10) < 6 * 134) }
        #expect(abs(sum / Double(n)) < 0.02)
        #expect(abs(sumSq / Double(n) - 1) < 0.02)
        #expect(abs(usum / Double(n) - 0.5) < 0.01)
    }

    @Test func shuffleIsAPermutationAndDerivedStreamsAreStable() {
        var r = RNG(seed: 3)
        let p = r.permutation(50)
        #expect(p.sorted() == Array(0 ..< 50))
        #expect(p != Array(0 ..< 50))
        var d1 = RNG(seed: 3).derived("split"), d2 = r.derived("split"), d3 = RNG(seed: 3).derived("sampler")
        let a = d1.next()
        #expect(a == d2.next())   // independent of draws already made from the parent
        #expect(a != d3.next())
    }
}

/// SplitMix64 restated from its published definition, to pin the seeding expansion.
private struct SplitMix64Probe {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
