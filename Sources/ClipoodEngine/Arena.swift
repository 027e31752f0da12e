/// Activation storage for one batch size, allocated once and reused for every step.
///
/// A model describes its activations as a `BufferLayout` for a given batch size; the arena
/// allocates that once. `ensure(layout:)` reallocates only when the layout's size grows, so the
/// step loop never allocates.
public final class Arena {
    public private(set) var layout: BufferLayout
    private var storage: FloatBuffer

    public init(layout: BufferLayout) {
        self.layout = layout
        storage = FloatBuffer(count: layout.count)
    }

    /// Adopts `layout`, reallocating only if it needs more room than the current block.
    public func ensure(layout newLayout: BufferLayout) {
        if newLayout.count > storage.count {
            storage = FloatBuffer(count: 0)   // free the old block first: never both at once
            storage = FloatBuffer(count: newLayout.count)
        }
        layout = newLayout
    }

    public var capacity: Int { storage.count }

    @inline(__always)
    public func pointer(_ slot: TensorSlot) -> UnsafeMutablePointer<Float> { storage.base + slot.offset }

    public func pointer(_ name: String) -> UnsafeMutablePointer<Float> {
        guard let slot = layout[name] else { preconditionFailure("no activation named '\(name)'") }
        return storage.base + slot.offset
    }

    /// Zeroes every activation (used for activation gradients before a backward pass).
    public func zero() { storage.zero() }
}
