/// A named, shaped slice of a flat buffer: `offset ..< offset + count`.
public struct TensorSlot: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset ..< offset + count }
}

/// The order and shapes of tensors packed end to end in one flat buffer.
///
/// Parameters are laid out in forward order, so "the last k blocks + ln_post + proj" is one
/// contiguous range and AdamW, weight averages and checkpoints are single loops.
/// Activation arenas use the same type: one slot per saved activation.
public struct BufferLayout: Sendable {
    public private(set) var slots: [TensorSlot] = []
    private var index: [String: Int] = [:]
    public private(set) var count = 0

    public init() {}

    public init(_ specs: [(String, [Int])]) {
        for (name, shape) in specs { add(name, shape) }
    }

    /// Appends a tensor; names must be unique. Returns its slot.
    @discardableResult
    public mutating func add(_ name: String, _ shape: [Int]) -> TensorSlot {
        precondition(index[name] == nil, "BufferLayout: duplicate tensor name '\(name)'")
        precondition(shape.allSatisfy { $0 >= 0 }, "BufferLayout: negative dimension in '\(name)' \(shape)")
        let slot = TensorSlot(name: name, shape: shape, offset: count)
        index[name] = slots.count
        slots.append(slot)
        count += slot.count
        return slot
    }

    public subscript(name: String) -> TensorSlot? { index[name].map { slots[$0] } }

    public var names: [String] { slots.map(\.name) }

    /// The contiguous range from the first tensor whose name starts with `prefix` to the end.
    public func suffixRange(fromFirstNamed prefix: String) -> Range<Int>? {
        guard let first = slots.first(where: { $0.name.hasPrefix(prefix) }) else { return nil }
        return first.offset ..< count
    }
}

/// A view of one tensor inside a flat buffer. Trivial to copy; the buffer must outlive it.
public struct TensorView {
    public let base: UnsafeMutablePointer<Float>
    public let shape: [Int]
    public var count: Int { shape.reduce(1, *) }
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: base, count: count) }

    public init(base: UnsafeMutablePointer<Float>, shape: [Int]) {
        self.base = base
        self.shape = shape
    }
}

/// A flat buffer together with the layout that names its parts.
public final class NamedBuffer {
    public let layout: BufferLayout
    public let storage: FloatBuffer

    public init(layout: BufferLayout) {
        self.layout = layout
        storage = FloatBuffer(count: layout.count)
    }

    public var base: UnsafeMutablePointer<Float> { storage.base }
    public var count: Int { storage.count }

    /// Pointer to a tensor by slot (no lookup: use in hot paths).
    @inline(__always)
    public func pointer(_ slot: TensorSlot) -> UnsafeMutablePointer<Float> { storage.base + slot.offset }

    /// A view by name; traps on an unknown name because layouts are built by code, not input.
    public func view(_ name: String) -> TensorView {
        guard let slot = layout[name] else { preconditionFailure("no tensor named '\(name)' in layout") }
        return TensorView(base: storage.base + slot.offset, shape: slot.shape)
    }
}

/// Parameters and their gradients: two flat buffers sharing one layout.
public final class ParameterStore {
    public let layout: BufferLayout
    public let values: NamedBuffer
    /// Allocated on first use, so a model that only runs inference holds one copy of its weights.
    public private(set) lazy var grads = NamedBuffer(layout: layout)

    public init(layout: BufferLayout) {
        self.layout = layout
        values = NamedBuffer(layout: layout)
    }

    public var count: Int { layout.count }

    @inline(__always) public func value(_ slot: TensorSlot) -> UnsafeMutablePointer<Float> { values.pointer(slot) }
    @inline(__always) public func grad(_ slot: TensorSlot) -> UnsafeMutablePointer<Float> { grads.pointer(slot) }

    /// Zeroes the gradient of `range` (default: everything) — one memset.
    public func zeroGrads(_ range: Range<Int>? = nil) {
        let r = range ?? 0 ..< count
        (grads.base + r.lowerBound).update(repeating: 0, count: r.count)
    }
}
