import ClipoodEngine

/// What a data-parallel step needs from the processes it runs on: each rank computes the
/// gradients of its share of the batch, and the shares are combined by sums (gradients, loss,
/// counts) and gathers (features for a loss that couples the whole batch). The MPI job of
/// ClipoodDistributed provides it; a trainer without one trains in this process alone.
public protocol Collectives: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Sums `count` floats at `buffer` over the ranks, in place, on every rank.
    func sum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
    /// Sums each value over the ranks, on every rank.
    func sum(_ values: inout [Double]) throws
    /// Every rank's `count` floats, in rank order, into `gathered` (room for size × count).
    func gather(_ mine: UnsafePointer<Float>, count: Int, into gathered: UnsafeMutablePointer<Float>) throws
    /// Starts an in-place sum of `count` floats over the ranks; the floats must not be read or
    /// written until `finishSums` returns.
    func startSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
    /// Waits for every sum `startSum` started.
    func finishSums() throws
}

extension Collectives {
    /// The contiguous share of `count` items that `rank` handles (balanced to within one, in
    /// rank order: the shares of ranks 0, 1, … concatenated are 0..<count).
    public static func share(_ count: Int, rank: Int, size: Int) -> Range<Int> {
        Parallel.piece(rank, of: count, parts: size)
    }

    public func share(_ count: Int) -> Range<Int> { Self.share(count, rank: rank, size: size) }

    /// Rows (each `width` floats) of every rank's share of `count` rows, gathered in order into
    /// `all` (count × width): the shares may differ by one row, so each is padded to the
    /// largest for the gather.
    public func gatherRows(_ mine: UnsafePointer<Float>, count: Int, width: Int, into all: UnsafeMutablePointer<Float>) throws {
        let most = (count + size - 1) / size
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: most * width)
        let gathered = UnsafeMutablePointer<Float>.allocate(capacity: most * width * size)
        defer { padded.deallocate(); gathered.deallocate() }
        let own = share(count)
        padded.update(repeating: 0, count: most * width)
        padded.update(from: mine, count: own.count * width)
        try gather(padded, count: most * width, into: gathered)
        for r in 0 ..< size {
            let s = Self.share(count, rank: r, size: size)
            (all + s.lowerBound * width).update(from: gathered + r * most * width, count: s.count * width)
        }
    }
}
