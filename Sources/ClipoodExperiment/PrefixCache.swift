import ClipoodData
import ClipoodDistributed
import ClipoodEngine
import ClipoodImage
import ClipoodModel
import Foundation

/// The frozen prefix's output for every (training image, view), computed once: with tune=lastK
/// or proj, the blocks before the first trainable one never change, so each step starts from a
/// cached residual stream instead of decoding, augmenting and running those blocks again.
public final class PrefixCache {
    public let views: Int
    let rowSize: Int
    let rows: [Int: Int]        // sample index → first row
    let storage: FloatBuffer
    public let sampleCount: Int
    /// The first trainable block: blocks 0 ..< layer are cached.
    public let layer: Int
    public var bytes: Int { storage.count * MemoryLayout<Float>.size }

    /// Refuses to use more than this much memory; the error says how to need less.
    public static let budgetBytes = 8 << 30

    init(model m: ModelEntry, data d: DataEntry, images: BatchBuilder, samples: [Int], views: Int, layer: Int,
         augment: Bool, interpolation: Interpolation, rng: RNG, progress: ProgressSink) throws {
        self.views = views
        self.layer = layer
        sampleCount = samples.count
        rowSize = m.model.vision.streamSize
        let count = samples.count * views
        let bytes = count * rowSize * MemoryLayout<Float>.size
        guard bytes <= PrefixCache.budgetBytes else {
            throw MessageError(String(format: "the prefix cache would need %.1f GB (%d images × %d views × %d floats)", Double(bytes) / 1e9, samples.count, views, rowSize)
                                   + "; use fewer views=, augment=off, or cache=off")
        }
        storage = FloatBuffer(count: count * rowSize)
        rows = Dictionary(uniqueKeysWithValues: samples.enumerated().map { ($1, $0 * views) })
        let S = m.model.config.vision.imageSize, batch = 16
        let pixels = FloatBuffer(count: batch * 3 * S * S)
        var rng = rng
        // In an MPI job the chunks are dealt out to the ranks (each chunk computed as one process
        // computes it), and the rows summed over the ranks fill every rank's cache.
        let cluster = Cluster.current
        progress.begin("caching prefix", count)
        var done = 0, chunkNumber = 0
        for v in 0 ..< views {
            var start = 0
            while start < samples.count {
                let chunk = Array(samples[start ..< min(start + batch, samples.count)])
                defer { chunkNumber += 1 }
                guard cluster.owns(chunkNumber) else {
                    // Another rank's chunk: draw its augmentation seeds all the same.
                    try images.pixels(for: chunk, only: 0 ..< 0, in: d.dataset, size: S, augment: augment, interpolation: interpolation, rng: &rng, into: pixels.base)
                    start += chunk.count
                    done += chunk.count
                    continue
                }
                try images.pixels(for: chunk, in: d.dataset, size: S, augment: augment, interpolation: interpolation, rng: &rng, into: pixels.base)
                let out = FloatBuffer(count: chunk.count * rowSize)
                m.model.vision.prefix(pixels: pixels.base, B: chunk.count, upTo: layer, into: out.base)
                for (i, sample) in chunk.enumerated() {
                    (storage.base + (rows[sample]! + v) * rowSize).update(from: out.base + i * rowSize, count: rowSize)
                }
                start += chunk.count
                done += chunk.count
                progress.advance(done, "")
            }
        }
        try cluster.allreduceSum(storage.base, count: storage.count)
    }

    /// Copies one view of each sample at positions `only` of `samples` into `out` (B, T, W),
    /// from its start. The view of every position is drawn, so `rng` moves as for all of them.
    func gather(_ samples: [Int], only: Range<Int>, rng: inout RNG, into out: UnsafeMutablePointer<Float>) {
        for (i, s) in samples.enumerated() {
            let view = views == 1 ? 0 : rng.below(views)
            guard only.contains(i) else { continue }
            (out + (i - only.lowerBound) * rowSize).update(from: storage.base + (rows[s]! + view) * rowSize, count: rowSize)
        }
    }
}
