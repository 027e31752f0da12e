import ClipoodData
import ClipoodEngine
import ClipoodImage
import Foundation
import TestSupport
import Testing

/// Entries of a dataset folder that are not regular files: a FIFO would block whoever opens it,
/// /dev/zero never ends. The scan skips them and says so; the good images still load.
@Suite("special files in a dataset folder")
struct SpecialFileTests {
    @Test func fifoAndDeviceLinksAreSkippedWithAWarning() throws {
        let t = Tree.domainBed(domains: ["photo", "sketch"], classes: ["cat", "dog"], perClass: 2, label: "clipood-special")
        defer { t.remove() }
        let fifo = t.root + "/photo/cat/pipe.png"
        #expect(mkfifo(fifo, 0o644) == 0)
        let zero = t.root + "/sketch/dog/zero.jpg"
        try FileManager.default.createSymbolicLink(atPath: zero, withDestinationPath: "/dev/zero")
        let toFifo = t.root + "/sketch/cat/link.png"
        try FileManager.default.createSymbolicLink(atPath: toFifo, withDestinationPath: fifo)
        let broken = t.root + "/photo/dog/gone.png"
        try FileManager.default.createSymbolicLink(atPath: broken, withDestinationPath: t.root + "/nowhere.png")
        let atRoot = t.root + "/stray_pipe"
        #expect(mkfifo(atRoot, 0o644) == 0)

        let start = Date()
        var ds = try Dataset.load(root: t.root)
        #expect(Set(ds.skipped) == Set([fifo, zero, toFifo, broken, atRoot]))
        #expect(ds.samples.count == 8)
        #expect(!ds.samples.contains { ds.skipped.contains($0.path) })
        let warning = try #require(ds.warnings.first { $0.hasPrefix("skipped 5 entries") }, "\(ds.warnings)")
        #expect(warning.contains(all: "'\(fifo)' (a FIFO)", "'\(zero)' (a device)", "'\(toFifo)' (a FIFO)", "(a broken link)"), "\(warning)")

        // Every remaining image decodes, and a batch of all of them builds.
        #expect(ds.verifyImages(threads: 2).isEmpty)
        let size = 8
        let out = FloatBuffer(count: ds.samples.count * 3 * size * size)
        var rng = RNG(seed: 1)
        try BatchBuilder(threads: 2).pixels(for: Array(ds.samples.indices), in: ds, size: size, augment: true, interpolation: .bicubic,
                                            rng: &rng, into: out.base)
        #expect(out.toArray().allSatisfy { $0.isFinite })
        #expect(Date().timeIntervalSince(start) < 10)
    }

    /// A file that becomes a FIFO after the scan (or a link to /dev/zero) is refused when it is
    /// read, at once: reading checks the opened descriptor and never blocks on open.
    @Test func imageReplacedByAFifoAfterTheScanIsRefused() throws {
        let t = Tree.domainBed(domains: ["photo", "sketch"], classes: ["cat"], perClass: 2, label: "clipood-special")
        defer { t.remove() }
        var ds = try Dataset.load(root: t.root)
        let victim = ds.samples[1].path, other = ds.samples[2].path
        try FileManager.default.removeItem(atPath: victim)
        #expect(mkfifo(victim, 0o644) == 0)
        try FileManager.default.removeItem(atPath: other)
        try FileManager.default.createSymbolicLink(atPath: other, withDestinationPath: "/dev/zero")
        let start = Date()
        let failures = ds.verifyImages(threads: 2)
        #expect(failures.map(\.path) == [victim, other])
        #expect(failures.allSatisfy { $0.reason == "it is not a regular file" }, "\(failures)")
        #expect(ds.samples.count == 2)
        #expect(Date().timeIntervalSince(start) < 10)
    }

    /// An image file over the size cap is refused from its size (a sparse file: nothing is read).
    @Test func oversizedImageIsRefused() throws {
        let t = Tree.domainBed(domains: ["photo"], classes: ["cat", "dog"], perClass: 1, label: "clipood-special")
        defer { t.remove() }
        let big = t.image("photo/cat/big.png", seed: 9)
        #expect(truncate(big, off_t(ImageDecoder.maxFileBytes) + 1) == 0)
        var ds = try Dataset.load(root: t.root)
        let failures = ds.verifyImages(threads: 1)
        #expect(failures.map(\.path) == [big])
        #expect(failures.first?.reason.contains("\(ImageDecoder.maxFileBytes)-byte limit") == true)
        #expect(ds.samples.count == 2)
    }
}
