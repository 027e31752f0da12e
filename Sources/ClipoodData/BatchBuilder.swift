import ClipoodEngine
import ClipoodImage
import Foundation

/// Turns sample indices into model inputs: B × 3 × size × size normalised CLIP pixels (CHW per
/// image, images one after another) and Int32 labels. Decoded images are kept in an `ImageStore`
/// (default budget 512 MB of RGB8, least recently used evicted first).
///
/// Transforms (torchvision's, on Pillow-exact resampling from ClipoodImage):
///   - evaluation (`augment: false`): `Preprocess.evalTransform` — shorter side to `size`, centre
///     crop size × size, CLIP mean/std;
///   - training (`augment: true`), the official CLIPood training transform:
///     RandomResizedCrop(size, scale 0.7–1.0, ratio 3/4–4/3), then a horizontal flip with
///     probability 0.5, then CLIP mean/std.
///
/// Randomness: for each image, in batch order, one `rng.next()` seeds that image's own RNG (so
/// `rng` advances by exactly B draws whatever the images are); the image's RNG then draws the
///  crop window (`Preprocess.randomResizedCropBox`) and then one `uniform()` for the flip
/// (flipped when < 0.5). The result therefore depends only on the RNG state and the images, not
/// on the number of threads. Evaluation does not touch `rng`.
public final class BatchBuilder {
    public let store: ImageStore
    /// Threads used to decode and transform the images of a batch.
    public var threads: Int
    /// Called on the calling thread as (images done, images in the call) after each chunk of a
    /// `pixels` call — useful when one call covers a whole evaluation set.
    public var progress: ((Int, Int) -> Void)?

    public init(cacheBytes: Int = 512 << 20, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                progress: ((Int, Int) -> Void)? = nil) {
        store = ImageStore(budgetBytes: cacheBytes)
        self.threads = max(1, threads)
        self.progress = progress
    }

    /// Writes indices.count × 3 × size × size floats at `out`. Throws
    /// `DatasetError.unreadableImage` naming the first (in batch order) image that cannot be
    /// decoded; `rng` has then still advanced by indices.count draws (augmenting).
    public func pixels(for indices: [Int], in dataset: Dataset, size: Int, augment: Bool,
                       interpolation: Interpolation, rng: inout RNG,
                       into out: UnsafeMutablePointer<Float>) throws {
        try pixels(for: indices, only: indices.indices, in: dataset, size: size, augment: augment, interpolation: interpolation, rng: &rng, into: out)
    }

    /// The same for the images at positions `only` of `indices` (one rank's share of a
    /// data-parallel batch), written from the start of `out`. The augmentation seeds of every
    /// position are still drawn, so `rng` moves as for the whole batch and each image gets the
    /// augmentation one process would give it.
    public func pixels(for indices: [Int], only: Range<Int>, in dataset: Dataset, size: Int, augment: Bool,
                       interpolation: Interpolation, rng: inout RNG,
                       into out: UnsafeMutablePointer<Float>) throws {
        precondition(size > 0, "BatchBuilder: size must be positive, got \(size)")
        precondition(only.lowerBound >= 0 && only.upperBound <= indices.count, "BatchBuilder: positions \(only) outside the batch of \(indices.count)")
        let drawn: [UInt64] = augment ? indices.map { _ in rng.next() } : []
        let seeds = augment ? Array(drawn[only]) : []
        let indices = Array(indices[only])
        let paths = indices.map { dataset.samples[$0].path }
        let per = 3 * size * size
        let failures = ResultSlots<String>(count: indices.count)
        let store = self.store
        ImageCheck.parallelChunks(count: indices.count, threads: threads, progress: progress) { b in
            let image: RGBImage
            do { image = try store.image(path: paths[b]) } catch {
                failures.set(b, ImageCheck.reason(error))
                return
            }
            let dst = out + b * per
            if augment {
                var r = RNG(seed: seeds[b])
                BatchBuilder.augmented(image, size: size, interpolation: interpolation, rng: &r, into: dst)
            } else {
                Preprocess.evalTransform(image, size: size, interpolation, into: dst)
            }
        }
        if let b = indices.indices.first(where: { failures.get($0) != nil }) {
            throw DatasetError.unreadableImage(path: paths[b], reason: failures.get(b)!)
        }
    }

    /// The training transform for one image with its own RNG (see the type's documentation).
    public static func augmented(_ image: RGBImage, size: Int, interpolation: Interpolation, rng: inout RNG,
                                 into out: UnsafeMutablePointer<Float>) {
        var x = Preprocess.randomResizedCrop(image, size: size, scale: 0.7 ... 1.0, ratio: 0.75 ... (4.0 / 3.0),
                                             interpolation, rng: &rng)
        if rng.uniform() < 0.5 { x = Preprocess.horizontalFlip(x) }
        Preprocess.normalize(x, into: out)
    }

    /// The labels of the samples (class ids of the dataset).
    public func labels(for indices: [Int], in dataset: Dataset) -> [Int32] {
        indices.map { Int32(dataset.samples[$0].label) }
    }

    /// The labels as positions in `classes` (e.g. `split.openClasses` when scoring among the new
    /// classes only); a sample whose class is not in `classes` gets −1.
    public func labels(for indices: [Int], in dataset: Dataset, among classes: [Int]) -> [Int32] {
        var position = [Int32](repeating: -1, count: dataset.classes.count)
        for (k, c) in classes.enumerated() { position[c] = Int32(k) }
        return indices.map { position[dataset.samples[$0].label] }
    }
}
