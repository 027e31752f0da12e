import ClipoodImage
import Foundation

/// Parallel work over images in chunks, with progress reported on the calling thread between
/// chunks, and decoder errors turned into short reasons (the path is reported separately).
enum ImageCheck {
    /// Runs `body(i)` for i in 0..<count on up to `threads` threads, in chunks of a few items per
    /// thread; `progress(done, count)` is called on the calling thread after each chunk.
    static func parallelChunks(count: Int, threads: Int, progress: ((Int, Int) -> Void)?, _ body: (Int) -> Void) {
        let workers = max(1, min(threads, count))
        let chunk = max(workers, workers * 4)
        var start = 0
        while start < count {
            let end = min(count, start + chunk)
            if workers == 1 {
                for i in start ..< end { body(i) }
            } else {
                DispatchQueue.concurrentPerform(iterations: end - start) { body(start + $0) }
            }
            start = end
            progress?(start, count)
        }
    }

    /// The images among `paths` that fail to decode, in order, with the reason.
    static func undecodable(_ paths: [String], threads: Int, progress: ((Int, Int) -> Void)?) -> [(index: Int, path: String, reason: String)] {
        let reasons = ResultSlots<String>(count: paths.count)
        parallelChunks(count: paths.count, threads: threads, progress: progress) { i in
            do { _ = try ImageDecoder.decode(path: paths[i]) } catch { reasons.set(i, reason(error)) }
        }
        return paths.indices.compactMap { i in reasons.get(i).map { (index: i, path: paths[i], reason: $0) } }
    }

    /// A decoding error's explanation without the file name.
    static func reason(_ error: Error) -> String {
        guard let e = error as? ImageError else { return String(describing: error) }
        switch e {
        case .unreadable(_, let r): return r
        case .notAnImage(_, let found): return "not a JPEG or PNG image: \(found)"
        case .unsupported(_, let r): return r
        case .truncated(_, let fmt, let m): return "truncated \(fmt) file: \(m)"
        case .corrupt(_, let fmt, let m): return "corrupt \(fmt) file: \(m)"
        }
    }
}

/// Fixed slots written from several threads (each slot by one thread only).
final class ResultSlots<T>: @unchecked Sendable {
    private var values: [T?]
    private let lock = NSLock()
    init(count: Int) { values = [T?](repeating: nil, count: count) }
    func set(_ i: Int, _ v: T) { lock.lock(); values[i] = v; lock.unlock() }
    func get(_ i: Int) -> T? { lock.lock(); defer { lock.unlock() }; return values[i] }
}

/// Decoded RGB8 images kept in memory up to a byte budget, least recently used evicted first.
/// Thread-safe. An image larger than the whole budget is decoded every time and not kept.
public final class ImageStore: @unchecked Sendable {
    /// The budget in bytes of RGB8 pixels (width × height × 3 per image).
    public let budgetBytes: Int
    public private(set) var hits = 0
    public private(set) var misses = 0

    private final class Node {
        let key: String
        let image: RGBImage
        var prev: Node?, next: Node?
        init(key: String, image: RGBImage) { self.key = key; self.image = image }
        var bytes: Int { image.pixels.count }
    }
    private var nodes: [String: Node] = [:]
    private var head: Node?   // most recently used
    private var tail: Node?   // least recently used
    private var used = 0
    private let lock = NSLock()

    public init(budgetBytes: Int = 512 << 20) {
        precondition(budgetBytes >= 0, "ImageStore: negative budget")
        self.budgetBytes = budgetBytes
    }

    /// Bytes and images held now.
    public var usage: (bytes: Int, images: Int) {
        lock.lock(); defer { lock.unlock() }
        return (used, nodes.count)
    }

    /// The decoded image at `path`, from memory when held. Throws the decoder's `ImageError`.
    public func image(path: String) throws -> RGBImage {
        lock.lock()
        if let n = nodes[path] {
            hits += 1
            unlink(n); pushFront(n)
            lock.unlock()
            return n.image
        }
        misses += 1
        lock.unlock()
        let image = try ImageDecoder.decode(path: path)
        insert(path, image)
        return image
    }

    public func removeAll() {
        lock.lock(); defer { lock.unlock() }
        var n = head
        while let cur = n { n = cur.next; cur.prev = nil; cur.next = nil }
        nodes.removeAll()
        head = nil; tail = nil; used = 0
    }

    private func insert(_ key: String, _ image: RGBImage) {
        let bytes = image.pixels.count
        guard bytes <= budgetBytes else { return }
        lock.lock(); defer { lock.unlock() }
        if nodes[key] != nil { return }   // decoded twice at the same time by two threads
        while used + bytes > budgetBytes, let lru = tail {
            unlink(lru)
            nodes[lru.key] = nil
            used -= lru.bytes
        }
        let n = Node(key: key, image: image)
        nodes[key] = n
        pushFront(n)
        used += bytes
    }

    private func unlink(_ n: Node) {
        if let p = n.prev { p.next = n.next } else { head = n.next }
        if let x = n.next { x.prev = n.prev } else { tail = n.prev }
        n.prev = nil; n.next = nil
    }

    private func pushFront(_ n: Node) {
        n.next = head
        head?.prev = n
        head = n
        if tail == nil { tail = n }
    }
}
