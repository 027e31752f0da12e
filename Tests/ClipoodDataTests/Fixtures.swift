import ClipoodData
import Foundation
import TestSupport

/// Builds small dataset folders in a fresh temporary directory.
struct Tree {
    let root: String

    init(_ label: String = "clipood-data") {
        root = makeTemporaryDirectory(label).path
    }

    /// A folder (and its parents) relative to the root.
    @discardableResult
    func dir(_ rel: String) -> String {
        let p = root + "/" + rel
        try! FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    /// A PNG image with a pattern that depends on `seed` (distinct colours per image, and
    /// gradients so that crops and flips change the pixels).
    @discardableResult
    func image(_ rel: String, seed: Int, width: Int = 8, height: Int = 8) -> String {
        let p = root + "/" + rel
        try! FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! TestPNG.write(p, width: width, height: height, pixels: Tree.pattern(seed: seed, width: width, height: height))
        return p
    }

    static func pattern(seed: Int, width: Int, height: Int) -> [UInt8] {
        var px: [UInt8] = []
        for y in 0 ..< height {
            for x in 0 ..< width {
                px.append(UInt8((seed * 37 + x * 29) % 256))
                px.append(UInt8((seed * 91 + y * 23) % 256))
                px.append(UInt8((seed * 13 + x * y * 7 + x) % 256))
            }
        }
        return px
    }

    @discardableResult
    func text(_ rel: String, _ content: String = "not an image\n") -> String {
        let p = root + "/" + rel
        try! FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! content.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    /// root/<domain>/<class>/img<k>.png, `perClass` images each, sizes 8…10 × 8…10.
    static func domainBed(domains: [String] = ["photo", "art_painting", "sketch"],
                          classes: [String] = ["dog", "alarm_clock", "zebra", "cat"],
                          perClass: Int = 5, label: String = "clipood-domainbed") -> Tree {
        let t = Tree(label)
        var seed = 0
        for d in domains {
            for c in classes {
                for k in 0 ..< perClass {
                    seed += 1
                    t.image("\(d)/\(c)/img\(k).png", seed: seed, width: 8 + seed % 3, height: 8 + (seed / 3) % 3)
                }
            }
        }
        return t
    }
}

/// A dataset folder that is deleted when the fixture goes away (each test gets its own).
final class Fixture {
    let tree: Tree
    let dataset: Dataset

    /// 3 domains × 4 classes × 5 images (sorted: domains art_painting, photo, sketch; classes
    /// alarm_clock, cat, dog, zebra).
    init(domains: [String] = ["photo", "art_painting", "sketch"], classes: [String] = ["dog", "alarm_clock", "zebra", "cat"],
         perClass: Int = 5) {
        tree = Tree.domainBed(domains: domains, classes: classes, perClass: perClass)
        dataset = try! Dataset.load(root: tree.root)
    }

    deinit { tree.remove() }
}

extension String {
    func contains(all parts: String...) -> Bool { parts.allSatisfy { self.contains($0) } }
}
