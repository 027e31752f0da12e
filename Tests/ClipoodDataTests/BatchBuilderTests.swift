import ClipoodData
import ClipoodEngine
import ClipoodImage
import Foundation
import Testing

@Suite("Batch building")
struct BatchBuilderTests {
    let fx = Fixture(perClass: 3)
    var ds: Dataset { fx.dataset }
    let size = 6
    var per: Int { 3 * size * size }

    func build(_ builder: BatchBuilder, _ indices: [Int], augment: Bool, seed: Int = 0,
               interpolation: Interpolation = .bicubic) throws -> [Float] {
        let out = FloatBuffer(count: indices.count * per)
        var rng = RNG(seed: seed)
        try builder.pixels(for: indices, in: ds, size: size, augment: augment, interpolation: interpolation, rng: &rng, into: out.base)
        return out.toArray()
    }

    @Test(arguments: Interpolation.allCases)
    func evalPixelsEqualEvalTransform(interpolation: Interpolation) throws {
        let indices = [0, 5, 17, 35, 5]
        let got = try build(BatchBuilder(threads: 2), indices, augment: false, interpolation: interpolation)
        for (b, i) in indices.enumerated() {
            let image = try ImageDecoder.decode(path: ds.samples[i].path)
            let want = FloatBuffer(count: per)
            Preprocess.evalTransform(image, size: size, interpolation, into: want.base)
            #expect(Array(got[(b * per) ..< ((b + 1) * per)]) == want.toArray(), "image \(i)")
        }
    }

    @Test func evalDoesNotTouchTheRNG() throws {
        var rng = RNG(seed: 4)
        let before = rng
        let out = FloatBuffer(count: 2 * per)
        try BatchBuilder().pixels(for: [1, 2], in: ds, size: size, augment: false, interpolation: .bicubic, rng: &rng, into: out.base)
        var a = rng, b = before
        #expect(a.next() == b.next())
    }

    @Test func augmentIsReproducibleAndSeedDependent() throws {
        let indices = Array(0 ..< 12)
        let a = try build(BatchBuilder(threads: 1), indices, augment: true, seed: 3)
        let b = try build(BatchBuilder(threads: 4), indices, augment: true, seed: 3)
        let c = try build(BatchBuilder(threads: 2), indices, augment: true, seed: 4)
        #expect(a == b)            // also independent of the thread count
        #expect(a != c)
        let eval = try build(BatchBuilder(), indices, augment: false)
        #expect(a != eval)
        #expect(a.allSatisfy { $0.isFinite })
    }

    /// The documented draw order: one rng.next() per image seeds its RNG, which draws the crop
    /// window and then the flip.
    @Test func augmentFollowsTheDocumentedDraws() throws {
        let indices = [3, 8, 8, 20]
        let got = try build(BatchBuilder(), indices, augment: true, seed: 9, interpolation: .bilinear)
        var rng = RNG(seed: 9)
        let seeds = indices.map { _ in rng.next() }
        for (b, i) in indices.enumerated() {
            let image = try ImageDecoder.decode(path: ds.samples[i].path)
            var r = RNG(seed: seeds[b])
            let box = Preprocess.randomResizedCropBox(width: image.width, height: image.height, scale: 0.7 ... 1.0,
                                                      ratio: 0.75 ... (4.0 / 3.0), rng: &r)
            var x = Preprocess.resize(Preprocess.crop(image, top: box.top, left: box.left, height: box.height, width: box.width),
                                      width: size, height: size, .bilinear)
            if r.uniform() < 0.5 { x = Preprocess.horizontalFlip(x) }
            let want = FloatBuffer(count: per)
            Preprocess.normalize(x, into: want.base)
            #expect(Array(got[(b * per) ..< ((b + 1) * per)]) == want.toArray(), "image \(i)")
        }
    }

    @Test func flipsAboutHalfTheTime() {
        var flips = 0
        for seed in 0 ..< 400 {
            var rng = RNG(seed: UInt64(seed))
            var r = RNG(seed: rng.next())
            _ = Preprocess.randomResizedCropBox(width: 9, height: 9, rng: &r)
            if r.uniform() < 0.5 { flips += 1 }
        }
        #expect(flips > 150 && flips < 250)
    }

    @Test func cacheReturnsTheSameResults() throws {
        let builder = BatchBuilder(threads: 2)
        let indices = Array(0 ..< 10)
        let first = try build(builder, indices, augment: false)
        #expect(builder.store.misses == 10 && builder.store.hits == 0)
        let second = try build(builder, indices, augment: false)
        #expect(builder.store.hits == 10)
        #expect(first == second)
        #expect(builder.store.usage.images == 10)
        #expect(try build(builder, indices, augment: true, seed: 2) == build(BatchBuilder(cacheBytes: 0), indices, augment: true, seed: 2))
    }

    @Test func cacheEvictsLeastRecentlyUsedWithinBudget() throws {
        // 8×8 … 10×10 RGB images are at most 300 bytes: a 700-byte budget holds two or three.
        let store = ImageStore(budgetBytes: 700)
        let paths = (0 ..< 6).map { ds.samples[$0].path }
        for p in paths { _ = try store.image(path: p) }
        #expect(store.usage.bytes <= 700 && store.usage.images >= 2)
        #expect(store.misses == 6)
        _ = try store.image(path: paths[5])                   // most recent: still held
        #expect(store.hits == 1)
        _ = try store.image(path: paths[0])                   // evicted long ago
        #expect(store.misses == 7)
        _ = try store.image(path: paths[5])                   // touched before paths[0] came back: still held
        #expect(store.hits == 2)
        #expect(try store.image(path: paths[3]) == ImageDecoder.decode(path: paths[3]))
        store.removeAll()
        #expect(store.usage.bytes == 0 && store.usage.images == 0)
    }

    @Test func undecodableImageThrowsNamingTheFile() throws {
        let bad = fx.tree.text("photo/cat/zz.png", "plain text")
        let loaded = try Dataset.load(root: fx.tree.root)
        let i = loaded.samples.firstIndex { $0.path == bad }!
        let out = FloatBuffer(count: 3 * per)
        var rng = RNG(seed: 0)
        let e = #expect(throws: DatasetError.self) {
            try BatchBuilder().pixels(for: [0, i, 1], in: loaded, size: size, augment: true, interpolation: .bicubic,
                                      rng: &rng, into: out.base)
        }
        #expect(e?.description.contains(bad) == true, "\(String(describing: e))")
        guard case .unreadableImage(let path, _)? = e else { Issue.record("wrong error \(String(describing: e))"); return }
        #expect(path == bad)
    }

    @Test func labelsAndProgress() throws {
        let split = try Split.make(dataset: ds, spec: SplitSpec(openRatio: 0.5))
        let builder = BatchBuilder(threads: 2)
        #expect(builder.labels(for: [0, 3, 6, 9, 12], in: ds) == [0, 1, 2, 3, 0])
        let open = split.open
        let rel = builder.labels(for: open, in: ds, among: split.openClasses)
        #expect(rel == open.map { Int32(ds.samples[$0].label - 2) })
        #expect(builder.labels(for: [0, 9], in: ds, among: [3]) == [-1, 0])
        var seen: [Int] = []
        builder.progress = { done, total in seen.append(done); #expect(total == 30) }
        _ = try build(builder, Array(0 ..< 30), augment: false)
        #expect(seen.last == 30 && seen == seen.sorted() && seen.count > 1)
    }
}
