import ClipoodData
import Foundation

// Split files (split.json, and the split inside run.json). An accepted split, validated
// against the dataset it was made from, indexes only that dataset's images, classes and domains,
// and the code that consumes it (training groups, its summary) runs.
enum Harness {
    /// A small in-memory dataset: 3 domains × 4 classes × 5 images.
    static let dataset: Dataset = {
        let domains = ["art", "photo", "sketch"], classes = ["cat", "dog", "alarm_clock", "zebra"]
        var samples: [Sample] = []
        for d in domains.indices { for c in classes.indices { for i in 0 ..< 5 {
            samples.append(Sample(path: "\(domains[d])/\(classes[c])/\(i).png", domain: d, label: c))
        } } }
        return Dataset(root: "/data/fuzz", layout: .domainbed, name: "fuzz", domains: domains, classes: classes, samples: samples)
    }()

    static func run(_ input: Data) {
        // Today's API reads a path; a parse from Data would take `input` directly.
        let path = Fuzz.file(input, name: "split.json")
        let split: Split
        do {
            split = try Split.load(from: path)
            try split.validate(against: dataset)
        } catch { Fuzz.checkRefusal(error); return }
        let n = dataset.imageCount
        for (name, part) in [("train", split.train), ("val", split.val), ("test", split.test), ("open", split.open)] {
            Fuzz.check(part.allSatisfy { $0 >= 0 && $0 < n }, "accepted \(name) indices outside 0..<\(n): \(part)")
        }
        for (name, list) in [("base", split.baseClasses), ("new", split.newClasses), ("test", split.testClasses), ("open", split.openClasses)] {
            Fuzz.check(list.allSatisfy { $0 >= 0 && $0 < dataset.classes.count }, "accepted \(name) classes outside the class list: \(list)")
        }
        for (name, list) in [("source", split.sourceDomains), ("target", split.targetDomains)] {
            Fuzz.check(list.allSatisfy { $0 >= 0 && $0 < dataset.domains.count }, "accepted \(name) domains outside the domain list: \(list)")
        }
        Fuzz.check(split.spec.holdout.isFinite && split.spec.holdout > 0 && split.spec.holdout < 1, "accepted holdout \(split.spec.holdout)")
        if let r = split.spec.openRatio { Fuzz.check(r.isFinite && r > 0 && r < 1, "accepted open ratio \(r)") }
        if let s = split.spec.shots { Fuzz.check(s >= 1, "accepted shots \(s)") }
        let groups = split.trainByDomain(dataset)
        Fuzz.check(groups.count == split.sourceDomains.count, "training groups do not follow the source domains")
        _ = split.description
    }

    static func seeds() -> [String: Data] {
        var seeds: [String: Data] = [:]
        let specs: [(String, SplitSpec)] = [
            ("lodo-sketch.json", SplitSpec(targets: ["sketch"])),
            ("open.json", SplitSpec(targets: [], openRatio: 0.5)),
            ("wild-shots.json", SplitSpec(targets: ["art"], openRatio: 0.5, shots: 2, seed: 3)),
        ]
        for (name, spec) in specs {
            let path = Fuzz.scratch + "/" + name
            try! Split.make(dataset: dataset, spec: spec).save(to: path)
            seeds[name] = try! Data(contentsOf: URL(fileURLWithPath: path))
        }
        return seeds
    }
}
