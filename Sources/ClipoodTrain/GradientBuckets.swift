import ClipoodEngine

/// Sums a data-parallel step's gradients over the ranks in buckets, one per transformer block of
/// the image tower, each started as soon as the backward pass has finished that block: the sums
/// of the upper blocks travel while the lower ones are computed, and only the last bucket is
/// waited for after the backward pass.
///
/// The trainable range of the flat gradient buffer is laid out [below the blocks][block 0] …
/// [block L−1][ln_post, proj], and the backward pass finishes it from the top down, so after
/// block l everything from block l's first gradient to the end of the range is final.
public final class GradientBuckets {
    private let collectives: Collectives
    private let base: UnsafeMutablePointer<Float>
    private let range: Range<Int>
    private let blockStarts: [Int]
    /// Where the gradients not yet handed to a sum end.
    private var bound: Int
    private var failure: Error?

    /// The first offset of every block of the image tower, when each block's parameters are
    /// one contiguous run in layout order; nil otherwise.
    public static func blockStarts(_ layout: BufferLayout, layers: Int) -> [Int]? {
        var starts: [Int] = [], ends: [Int] = []
        for l in 0 ..< layers {
            let prefix = "visual.transformer.resblocks.\(l)."
            let slots = layout.slots.filter { $0.name.hasPrefix(prefix) }
            guard let lo = slots.map(\.offset).min(), let hi = slots.map(\.range.upperBound).max(),
                  slots.reduce(0, { $0 + $1.count }) == hi - lo else { return nil }
            starts.append(lo); ends.append(hi)
        }
        for l in 1 ..< max(1, layers) where ends[l - 1] != starts[l] { return nil }
        return starts
    }

    /// `rangeGradients[i]` is the gradient of parameter `range.lowerBound + i`.
    init(collectives: Collectives, rangeGradients: UnsafeMutablePointer<Float>, range: Range<Int>, blockStarts: [Int]) {
        self.collectives = collectives
        base = rangeGradients
        self.range = range
        self.blockStarts = blockStarts
        bound = range.upperBound
    }

    /// Called by the backward pass when block `l`'s gradients are final.
    func blockDone(_ l: Int) {
        guard failure == nil, l < blockStarts.count else { return }
        let start = max(blockStarts[l], range.lowerBound)
        guard start < bound else { return }
        do { try collectives.startSum(base + (start - range.lowerBound), count: bound - start) } catch { failure = error }
        bound = start
    }

    /// Sums what is left (below the lowest block reached) and waits for every bucket.
    func finish() throws {
        if let failure { throw failure }
        if bound > range.lowerBound { try collectives.startSum(base, count: bound - range.lowerBound) }
        bound = range.lowerBound
        try collectives.finishSums()
    }
}
