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

    /// A slot over memory already laid out, from `offset` (an arena's scratch tensor whose use
    /// never overlaps that of the tensors it covers). It is not one of `slots` and has no name
    /// to look up.
    public func overlay(_ name: String, _ shape: [Int], at offset: Int) -> TensorSlot {
        let slot = TensorSlot(name: name, shape: shape, offset: offset)
        precondition(offset >= 0 && slot.range.upperBound <= count, "BufferLayout: overlay '\(name)' \(shape) at \(offset) beyond \(count)")
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
///
/// Gradients exist only for the parameters from `gradientStart` on: a run that trains the
/// image tower (laid out after the text tower) or its last blocks holds no gradient for what it
/// never trains. The first call to `gradients(from:)` or `grad(_:)` allocates them.
public final class ParameterStore {
    public let layout: BufferLayout
    public let values: NamedBuffer
    private var gradStorage: FloatBuffer?
    /// The first parameter that has a gradient (`count` until gradients are allocated).
    public private(set) var gradientStart: Int

    public init(layout: BufferLayout) {
        self.layout = layout
        values = NamedBuffer(layout: layout)
        gradientStart = layout.count
    }

    public var count: Int { layout.count }

    @inline(__always) public func value(_ slot: TensorSlot) -> UnsafeMutablePointer<Float> { values.pointer(slot) }

    /// The gradient of a tensor (allocating every gradient on first use, unless
    /// `gradients(from:)` allocated fewer first).
    @inline(__always) public func grad(_ slot: TensorSlot) -> UnsafeMutablePointer<Float> {
        if gradStorage == nil { _ = gradients(from: 0) }
        precondition(slot.offset >= gradientStart, "ParameterStore: '\(slot.name)' has no gradient (gradients start at \(gradientStart))")
        return gradStorage!.base + (slot.offset - gradientStart)
    }

    /// The gradients of parameters `start ..< count`: a pointer to parameter `start`'s. They are
    /// allocated (zeroed) on first use; a start below the allocated one allocates them again, from
    /// it, and drops their values.
    public func gradients(from start: Int = 0) -> UnsafeMutablePointer<Float> {
        precondition(start >= 0 && start <= count, "ParameterStore.gradients: start \(start) outside 0 ... \(count)")
        if gradStorage == nil || start < gradientStart {
            gradStorage = nil
            gradStorage = FloatBuffer(count: count - start)
            gradientStart = start
        }
        return gradStorage!.base + (start - gradientStart)
    }

    /// Zeroes the gradient of `range` (default: everything), split over the threads (a
    /// whole tower's gradients are hundreds of megabytes: one thread's memset took a step's 1 %).
    public func zeroGrads(_ range: Range<Int>? = nil) {
        let r = range ?? 0 ..< count
        let g = gradients(from: r.lowerBound)
        Parallel.chunks(r.count, minimum: Elementwise.minimumPerThread) { part in
            (g + part.lowerBound).update(repeating: 0, count: part.count)
        }
    }
}
