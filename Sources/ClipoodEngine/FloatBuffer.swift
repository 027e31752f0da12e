import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One owned, 64-byte aligned, zero-initialised block of Float — the only storage the engine uses.
///
/// Parameters, gradients, optimiser moments and activations each live in one of these
/// (llm.c style); everything else is a pointer plus an offset into one.
public final class FloatBuffer {
    public let count: Int
    public let base: UnsafeMutablePointer<Float>
    /// The ledger that was current where this buffer was made, told again when it is freed.
    private let ledger: MemoryLedger?

    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer: negative count \(count)")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
        ledger = MemoryLedger.current
        ledger?.record(count * MemoryLayout<Float>.stride)
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit {
        ledger?.record(-count * MemoryLayout<Float>.stride)
        base.deallocate()
    }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: base, count: count) }

    public subscript(i: Int) -> Float {
        get { precondition(i >= 0 && i < count); return base[i] }
        set { precondition(i >= 0 && i < count); base[i] = newValue }
    }

    public func zero() { base.update(repeating: 0, count: count) }

    public func copy(from other: FloatBuffer) {
        precondition(other.count == count, "FloatBuffer.copy: \(other.count) values into \(count)")
        base.update(from: other.base, count: count)
    }

    public func toArray() -> [Float] { Array(buffer) }
}

/// The engine's bytes (FloatBuffers) that one piece of work has in use: `measure` makes a ledger
/// current on the calling thread while its closure runs, every buffer made on that thread
/// meanwhile adds its bytes and takes them away again when it is freed (on whichever thread),
/// and the ledger keeps the most alive at once. Buffers made on other threads — other tests,
/// the engine's worker threads — are not counted, so the figure is the same however much else
/// the process is doing at the time.
public final class MemoryLedger: Sendable {
    private let bytes = Mutex((live: 0, peak: 0))

    public init() {}

    /// Bytes of this ledger's buffers still alive, and the most that were alive at once.
    public var live: Int { bytes.withLock { $0.live } }
    public var peak: Int { bytes.withLock { $0.peak } }

    func record(_ delta: Int) {
        bytes.withLock { $0.live += delta; $0.peak = max($0.peak, $0.live) }
    }

    /// The calling thread's ledger slot (a plain thread-specific value, unretained: `measure`
    /// keeps the ledger alive while it is set).
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "MemoryLedger: no thread-specific key")
        return key
    }()

    /// The ledger current on the calling thread, if any.
    public static var current: MemoryLedger? {
        pthread_getspecific(key).map { Unmanaged<MemoryLedger>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs `body` with a new ledger current on this thread (the previous one, if any, is
    /// current again after it; buffers made inside count for the new one only) and returns both.
    public static func measure<T>(_ body: () throws -> T) rethrows -> (result: T, ledger: MemoryLedger) {
        let ledger = MemoryLedger()
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, Unmanaged.passUnretained(ledger).toOpaque())
        defer { pthread_setspecific(key, previous) }
        let result = try withExtendedLifetime(ledger) { try body() }
        return (result, ledger)
    }
}
