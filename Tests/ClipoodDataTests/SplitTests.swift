import ClipoodData
import ClipoodEngine
import Foundation
import Testing

/// Fixture: domains art_painting (0), photo (1), sketch (2); classes alarm_clock (0), cat (1),
/// dog (2), zebra (3); 5 images each → 20 per domain.
@Suite("Splits")
struct SplitTests {
    let fx = Fixture()
    var ds: Dataset { fx.dataset }

    func domains(_ part: [Int]) -> Set<Int> { Set(part.map { ds.samples[$0].domain }) }
    func labels(_ part: [Int]) -> Set<Int> { Set(part.map { ds.samples[$0].label }) }

    @Test func inDistributionSizesAndDisjointness() throws {
        let s = try Split.make(dataset: ds, spec: SplitSpec())
        #expect(s.train.count == 3 * 16 && s.val.count == 3 * 4)
        #expect(Set(s.train).isDisjoint(with: s.val))
        #expect(Set(s.train).union(s.val) == Set(ds.samples.indices))
        #expect(s.test == s.val)                       // no targets: the evaluation pool is every domain's out part
        #expect(s.open.isEmpty && s.newClasses.isEmpty)
        #expect(s.baseClasses == [0, 1, 2, 3] && s.testClasses == [0, 1, 2, 3])
        #expect(s.sourceDomains == [0, 1, 2] && s.targetDomains.isEmpty)
        #expect(s.partCounts["train"] == [16, 16, 16] && s.partCounts["val"] == [4, 4, 4])
        #expect(s.train == s.train.sorted() && s.val == s.val.sorted())
        #expect(s.notes.contains { $0.contains("same images as val") })
    }

    /// The holdout is exactly the documented draw: the first round(0.2·n) of a permutation from
    /// RNG(seed).derived("split/<domain>").
    @Test func holdoutFollowsTheDocumentedDraw() throws {
        for seed in [0, 7] {
            let s = try Split.make(dataset: ds, spec: SplitSpec(holdout: 0.3, seed: seed))
            for d in ds.domains.indices {
                let members = ds.indices(ofDomain: d)
                var rng = RNG(seed: seed).derived("split/\(ds.domains[d])")
                let perm = rng.permutation(members.count)
                let out = Set(perm[..<6].map { members[$0] })     // round(0.3 · 20) = 6
                #expect(Set(s.val.filter { ds.samples[$0].domain == d }) == out)
            }
        }
    }

    @Test func deterministicPerSeed() throws {
        let spec = SplitSpec(targets: ["sketch"], seed: 3)
        let a = try Split.make(dataset: ds, spec: spec), b = try Split.make(dataset: ds, spec: spec)
        #expect(a == b)
        let c = try Split.make(dataset: ds, spec: SplitSpec(targets: ["sketch"], seed: 4))
        #expect(a.train != c.train)
        #expect(a.train.count == c.train.count)
    }

    @Test func domainShiftWholeTarget() throws {
        let s = try Split.make(dataset: ds, spec: SplitSpec(targets: ["photo"]))
        #expect(s.targetDomains == [1] && s.sourceDomains == [0, 2])
        #expect(s.train.count == 32 && s.val.count == 8 && s.test.count == 20)
        #expect(domains(s.train) == [0, 2] && domains(s.val) == [0, 2])
        #expect(s.test == ds.indices(ofDomain: 1))
        #expect(Set(s.train).isDisjoint(with: s.val))
        #expect(s.testClasses == [0, 1, 2, 3])
        #expect(s.description.contains(all: "domain shift", "photo", "(target)", "whole target"))
        #expect(s.trainByDomain(ds).map(\.count) == [16, 16])
    }

    @Test func domainShiftTargetHoldout() throws {
        let whole = try Split.make(dataset: ds, spec: SplitSpec(targets: ["photo", "sketch"]))
        let held = try Split.make(dataset: ds, spec: SplitSpec(targets: ["photo", "sketch"], testScope: .targetHoldout))
        #expect(held.test.count == 8)
        #expect(Set(held.test).isSubset(of: Set(whole.test)))
        #expect(domains(held.test) == [1, 2])
        // It is exactly the targets' out part: the same as val of a split without targets.
        let plain = try Split.make(dataset: ds, spec: SplitSpec())
        #expect(held.test == plain.val.filter { ds.samples[$0].domain != 0 })
        #expect(held.train == whole.train && held.train.count == 16)
        #expect(held.description.contains("target holdout"))
    }

    @Test func targetErrors() throws {
        let e = #expect(throws: SplitError.self) { try Split.make(dataset: ds, spec: SplitSpec(targets: ["skecth"])) }
        #expect(e?.description.contains(all: "'skecth'", "did you mean 'sketch'") == true, "\(String(describing: e))")
        // Case-insensitive match is accepted.
        #expect(try Split.make(dataset: ds, spec: SplitSpec(targets: ["Sketch"])).targetDomains == [2])
        let all = #expect(throws: SplitError.self) {
            try Split.make(dataset: ds, spec: SplitSpec(targets: ["photo", "sketch", "art_painting"]))
        }
        #expect(all?.description.contains("nothing is left to train on") == true)
    }

    @Test func parameterErrors() throws {
        for h in [0.0, 1.0, -0.1, 1.5] {
            #expect(throws: SplitError.badHoldout(h)) { try Split.make(dataset: ds, spec: SplitSpec(holdout: h)) }
        }
        for r in [0.0, 1.0] {
            #expect(throws: SplitError.badOpenRatio(r)) { try Split.make(dataset: ds, spec: SplitSpec(openRatio: r)) }
        }
        #expect(throws: SplitError.badShots(0)) { try Split.make(dataset: ds, spec: SplitSpec(shots: 0)) }
        // round(0.99 · 20) = 20: every source image goes to val.
        let e = #expect(throws: SplitError.self) { try Split.make(dataset: ds, spec: SplitSpec(holdout: 0.99)) }
        #expect(e?.description.contains("no training images") == true)
    }

    @Test func openClassHalfOfFourClasses() throws {
        let s = try Split.make(dataset: ds, spec: SplitSpec(openRatio: 0.5))
        #expect(s.baseClasses == [0, 1] && s.newClasses == [2, 3])
        // (val, test and open are small: 4 images per domain, so not every class need appear.)
        #expect(labels(s.train) == [0, 1])
        #expect(labels(s.val).isSubset(of: [0, 1]) && labels(s.test).isSubset(of: [0, 1]))
        #expect(labels(s.open).isSubset(of: [2, 3]) && !s.open.isEmpty)
        #expect(s.testClasses == [0, 1] && s.openClasses == [2, 3])
        // test and open partition the out parts of all domains.
        let plain = try Split.make(dataset: ds, spec: SplitSpec())
        #expect(Set(s.test).union(s.open) == Set(plain.val))
        #expect(s.train == plain.train.filter { ds.samples[$0].label < 2 })
        #expect(s.val == plain.val.filter { ds.samples[$0].label < 2 })
        #expect(s.description.contains(all: "open class", "2 base / 2 new"))
    }

    @Test func openClassHalfOfFiveClassesRoundsBaseUp() throws {
        let fx5 = Fixture(domains: ["a", "b"], classes: ["c1", "c2", "c3", "c4", "c5"], perClass: 4)
        let s = try Split.make(dataset: fx5.dataset, spec: SplitSpec(openRatio: 0.5))
        #expect(s.baseClasses == [0, 1, 2] && s.newClasses == [3, 4])       // ⌈5/2⌉ = 3 base
        // 1 − 0.7 is 0.30000000000000004 in Double: still ⌈10 · 0.3⌉ = 3 base of 10.
        let fx10 = Fixture(domains: ["a"], classes: (0 ..< 10).map { "k\($0)" }, perClass: 2)
        let s10 = try Split.make(dataset: fx10.dataset, spec: SplitSpec(openRatio: 0.7))
        #expect(s10.baseClasses == [0, 1, 2])
    }

    @Test func inTheWildTestsAllClassesOfTheTarget() throws {
        let s = try Split.make(dataset: ds, spec: SplitSpec(targets: ["sketch"], openRatio: 0.5))
        #expect(s.isInTheWild)
        #expect(s.test == ds.indices(ofDomain: 2))
        #expect(labels(s.test) == [0, 1, 2, 3])
        #expect(s.testClasses == [0, 1, 2, 3])
        #expect(labels(s.train) == [0, 1] && domains(s.train) == [0, 1])
        #expect(labels(s.val).isSubset(of: [0, 1]))
        #expect(s.open == s.test.filter { ds.samples[$0].label >= 2 })
        #expect(s.description.contains("in the wild"))
        // Open class with targets scoped to the holdout: both subsets of the target's out part.
        let h = try Split.make(dataset: ds, spec: SplitSpec(targets: ["sketch"], openRatio: 0.5, testScope: .targetHoldout))
        #expect(h.test.count == 4 && Set(h.open).isSubset(of: Set(h.test)))
    }

    @Test func shotsCapEachClassAndDomain() throws {
        let full = try Split.make(dataset: ds, spec: SplitSpec(targets: ["photo"], openRatio: 0.5))
        let s = try Split.make(dataset: ds, spec: SplitSpec(targets: ["photo"], openRatio: 0.5, shots: 2))
        var perStratum: [[Int]: Int] = [:]
        for i in s.train { perStratum[[ds.samples[i].domain, ds.samples[i].label], default: 0] += 1 }
        #expect(perStratum == [[0, 0]: 2, [0, 1]: 2, [2, 0]: 2, [2, 1]: 2])
        #expect(Set(s.train).isSubset(of: Set(full.train)))
        #expect(s.val == full.val && s.test == full.test && s.open == full.open)
        // The documented draw for one stratum.
        let stratum = full.train.filter { ds.samples[$0].domain == 2 && ds.samples[$0].label == 1 }
        var rng = RNG(seed: 0).derived("shots/sketch/cat")
        let chosen = Set(rng.permutation(stratum.count)[..<2].map { stratum[$0] })
        #expect(Set(s.train.filter { ds.samples[$0].domain == 2 && ds.samples[$0].label == 1 }) == chosen)
        // More shots than images: everything is kept.
        let many = try Split.make(dataset: ds, spec: SplitSpec(targets: ["photo"], openRatio: 0.5, shots: 100))
        #expect(many.train == full.train)
        // Different seed, different shots.
        let other = try Split.make(dataset: ds, spec: SplitSpec(targets: ["photo"], openRatio: 0.5, shots: 2, seed: 1))
        #expect(other.train != s.train)
    }

    @Test func codableRoundTripAndValidation() throws {
        let s = try Split.make(dataset: ds, spec: SplitSpec(targets: ["photo"], openRatio: 0.5, shots: 3, seed: 5, testScope: .targetHoldout))
        let path = fx.tree.root + "/split.json"
        try s.save(to: path)
        let back = try Split.load(from: path)
        #expect(back == s)
        try back.validate(against: ds)
        // Against a different dataset: refused, saying why.
        let other = Fixture(perClass: 4)
        let e = #expect(throws: SplitError.self) { try back.validate(against: other.dataset) }
        #expect(e?.description.contains(all: "60 images", "48") == true, "\(String(describing: e))")
        let fewer = Fixture(classes: ["dog", "alarm_clock", "zebra"])
        let e2 = #expect(throws: SplitError.self) { try back.validate(against: fewer.dataset) }
        #expect(e2?.description.contains(all: "classes differ", "cat") == true, "\(String(describing: e2))")
    }

    @Test func validateNoticesRenamedFiles() throws {
        let s = try Split.make(dataset: ds, spec: SplitSpec())
        let fm = FileManager.default
        try fm.moveItem(atPath: fx.tree.root + "/photo/cat/img0.png", toPath: fx.tree.root + "/photo/cat/img9.png")
        let renamed = try Dataset.load(root: fx.tree.root)
        #expect(throws: SplitError.self) { try s.validate(against: renamed) }
    }
}
