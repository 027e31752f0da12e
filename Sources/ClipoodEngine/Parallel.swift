import CDNNLMatmul
import Dispatch

/// Work that BLAS does not see — attention heads, layer norm rows, activations — split over
/// the same number of threads as BLAS uses (the `threads` setting), so neither core idles
/// while the other does the non-GEMM part of a layer.
public enum Parallel {
    /// Threads for `forEach` and `chunks`: BLAS's thread count.
    public static var workers: Int { max(1, BLAS.threads) }

    /// Calls `body(item, worker)` for every item in 0..<count, striped over at most `workers`
    /// threads (item i on worker i mod workers: equal-cost items balance without a queue;
    /// `worker` indexes per-thread scratch).
    public static func forEach(_ count: Int, workers: Int = Parallel.workers, _ body: (_ item: Int, _ worker: Int) -> Void) {
        let w = min(workers, count)
        if w <= 1 {
            for i in 0 ..< count { body(i, 0) }
            return
        }
        run(w) { k in
            var i = k
            while i < count { body(i, k); i += w }
        }
    }

    /// body(k) for k in 0..<w on w threads: GCD's, or under the onednn backend oneDNN's OpenMP
    /// threads (two sets of busy threads on the same cores would slow each other down).
    static func run(_ w: Int, _ body: (Int) -> Void) {
        guard BLAS.backend == .onednn else {
            DispatchQueue.concurrentPerform(iterations: w, execute: body)
            return
        }
        withoutActuallyEscaping(body) { b in
            var box = b
            withUnsafeMutablePointer(to: &box) { p in
                cdm_parallel(Int32(w), { context, k in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(k))
                }, p)
            }
        }
    }

    /// Calls `body(range)` on contiguous pieces of 0..<count, one per thread, each at least
    /// `minimum` long (small counts run on the calling thread: a thread hand-off costs
    /// microseconds).
    public static func chunks(_ count: Int, minimum: Int, workers: Int = Parallel.workers, _ body: (Range<Int>) -> Void) {
        let w = max(1, min(workers, count / max(1, minimum)))
        if w <= 1 {
            body(0 ..< count)
            return
        }
        run(w) { k in body(piece(k, of: count, parts: w)) }
    }

    /// Piece k of 0..<count cut into `parts` contiguous ranges of nearly equal length.
    public static func piece(_ k: Int, of count: Int, parts: Int) -> Range<Int> { count * k / parts ..< count * (k + 1) / parts }
}

/// How much work is worth a thread hand-off (a few microseconds' worth), for `Parallel.chunks`.
public enum Elementwise {
    /// Values per thread.
    public static let minimumPerThread = 32768

    /// Rows (or columns) of `length` values per thread.
    public static func minimumLines(length: Int) -> Int { max(1, minimumPerThread / max(1, length)) }
}

/// Whether no value is NaN or ±inf (exponent bits all ones), checked on several threads with
/// integer operations that vectorise.
public func allFinite(_ x: UnsafePointer<Float>, count: Int) -> Bool {
    let w = Parallel.workers
    var bad = [UInt32](repeating: 0, count: w)
    bad.withUnsafeMutableBufferPointer { flags in
        Parallel.forEach(w, workers: w) { k, _ in
            var any: UInt32 = 0
            for i in Parallel.piece(k, of: count, parts: w) { any |= (x[i].bitPattern & 0x7F80_0000) == 0x7F80_0000 ? 1 : 0 }
            flags[k] = any
        }
    }
    return bad.allSatisfy { $0 == 0 }
}
