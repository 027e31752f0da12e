import ClipoodEngine
import ClipoodIO
import ClipoodModel

/// What a training, pretraining or evaluation step will allocate, estimated before it allocates
/// anything, so that a batch too large for the machine is one clear error instead of an abort.
///
/// The estimates are pure functions of the model's shape and the step's settings. They follow
/// the buffers the engine lays out: the vision tower's activation arena for the batch (every
/// kept block's activations, the shared set of the frozen blocks, the backward scratch), the
/// class-token block of `tune=last1` from a cached prefix, the text tower's arena when
/// pretraining, parameter gradients, AdamW's two moments, the weight averages and snapshots of
/// the trainable range, the loss's buffers, the input batch and the prefix cache. A margin
/// (`marginFraction` of that, plus `marginBytes`) covers what is not listed: index arrays,
/// labels, allocator rounding. Arithmetic saturates at `Int.max`, which no machine has.
public struct MemoryEstimate: Equatable, Sendable, CustomStringConvertible {
    public struct Part: Equatable, Sendable {
        public let label: String
        public let bytes: Int
    }

    /// The listed buffers, largest first, with the margin as the last part.
    public let parts: [Part]

    public static let marginFraction = 0.05
    public static let marginBytes = 4 << 20

    /// Builds an estimate from parts given in floats (nil: the count overflowed).
    init(floats: [(String, Int?)]) {
        var listed = floats.map { Part(label: $0.0, bytes: $0.1.flatMap { Checked.multiply($0, MemoryLayout<Float>.size) } ?? .max) }
        listed = listed.filter { $0.bytes > 0 }.sorted { $0.bytes > $1.bytes }
        let sum = MemoryEstimate.saturatingSum(listed.map(\.bytes))
        let margin = sum == .max ? Int.max : MemoryEstimate.saturatingSum([Int(Double(sum) * MemoryEstimate.marginFraction), MemoryEstimate.marginBytes])
        parts = listed + [Part(label: "margin", bytes: margin)]
    }

    /// Total bytes (saturating).
    public var bytes: Int { MemoryEstimate.saturatingSum(parts.map(\.bytes)) }

    static func saturatingSum(_ values: [Int]) -> Int {
        var total = 0
        for v in values {
            guard let t = Checked.add(total, v) else { return .max }
            total = t
        }
        return total
    }

    /// "~1.2 GiB (activations 0.9 GiB, …)", the three largest parts.
    public var description: String {
        "~" + MemoryEstimate.gib(bytes) + " (" + parts.prefix(3).map { "\($0.label) " + MemoryEstimate.gib($0.bytes) }.joined(separator: ", ") + ")"
    }

    /// a × b, or `Int.max` when it overflows or either is negative (for counts that come from
    /// settings or files: a wrapped product must not look small).
    public static func times(_ a: Int, _ b: Int) -> Int {
        guard a >= 0, b >= 0 else { return .max }
        return Checked.multiply(a, b) ?? .max
    }

    /// Bytes as GiB with one decimal (two below 1 GiB; "more than 10^9 GiB" when saturated).
    public static func gib(_ bytes: Int) -> String {
        if bytes == .max { return "more than 10^9 GiB" }
        let g = Double(bytes) / Double(1 << 30)
        return String(format: g < 1 ? "%.2f GiB" : "%.1f GiB", g)
    }

    // MARK: - Building blocks (float counts)

    /// Sum and product with nil for overflow (or any nil input).
    static func sum(_ xs: [Int?]) -> Int? {
        var total = 0
        for x in xs {
            guard let x, let t = Checked.add(total, x) else { return nil }
            total = t
        }
        return total
    }

    static func prod(_ xs: Int...) -> Int? { Checked.product(xs) }

    /// Floats of one transformer block's activation set for (B, T): ln1, att, res1, ln2, out
    /// (N·W each), qkv (3·N·W), fc and act (N·H each), four N-vectors of layer-norm statistics,
    /// and the attention probabilities (B·heads·T²).
    static func blockSet(B: Int, T: Int, W: Int, H: Int, heads: Int) -> Int? {
        sum([keptBlock(B: B, T: T, W: W, H: H), sharedOnly(B: B, T: T, W: W, H: H, heads: heads)])
    }

    /// Floats a block kept for backward holds of its own: res1, out (N·W each), qkv (3·N·W), fc
    /// (N·H) and four N-vectors of layer-norm statistics (`TransformerStack`).
    static func keptBlock(B: Int, T: Int, W: Int, H: Int) -> Int? {
        guard let N = prod(B, T) else { return nil }
        return sum([prod(5, N, W), prod(N, H), prod(4, N)])
    }

    /// Floats of the activations every block shares and backward computes again: ln1, att, ln2
    /// (N·W each), act (N·H) and the attention probabilities (B·heads·T²).
    static func sharedOnly(B: Int, T: Int, W: Int, H: Int, heads: Int) -> Int? {
        guard let N = prod(B, T) else { return nil }
        return sum([prod(3, N, W), prod(N, H), prod(B, heads, T, T)])
    }

    /// Floats of a stack's activations with `kept` of its blocks kept for backward, the others
    /// (frozen, or inference) sharing one full set.
    static func stackActivations(B: Int, T: Int, W: Int, H: Int, heads: Int, layers: Int, kept: Int) -> Int? {
        let frozen = layers - kept
        return sum([sharedOnly(B: B, T: T, W: W, H: H, heads: heads), frozen > 0 ? keptBlock(B: B, T: T, W: W, H: H) : 0,
                    keptBlock(B: B, T: T, W: W, H: H).flatMap { Checked.multiply($0, kept) }])
    }

    /// Floats of a stack's backward scratch: dx, dres1, dln, datt (N·W), dqkv (3·N·W), dfc (N·H),
    /// dact (N·H, in dqkv's and datt's memory when it fits there), the attention scratch (heads·T²).
    static func gradSet(B: Int, T: Int, W: Int, H: Int, heads: Int) -> Int? {
        guard let N = prod(B, T) else { return nil }
        return sum([prod(7, N, W), prod(N, H), H <= 4 * W ? 0 : prod(N, H), prod(heads, T, T)])
    }

    /// Floats of the vision tower's activations, as laid out for (B, saved, keptFrom, classOnly):
    /// the embedding, one shared set for the frozen blocks and what kept blocks compute again,
    /// what each kept block below the last keeps of its own, the last block's class-token
    /// buffers (`classTokenBlockFloats`), the head, and with `saved` the head's gradients and
    /// (unless classOnly) the stack's and embedding's backward buffers. `recompute` (with
    /// `saved`, activation checkpointing): one shared set for every block plus each kept block's
    /// output (N·W). With `classOnly` (`tune=last1` from a cached prefix) the caller adds the
    /// class-token block.
    public static func visionArenaFloats(_ c: CLIPConfig, batch B: Int, saved: Bool, keptFrom: Int = 0, classOnly: Bool = false,
                                         recompute: Bool = false) -> Int? {
        let v = c.vision, W = v.width, T = v.tokens, NP = T - 1, H = v.mlpWidth, L = v.layers
        let K = 3 * v.patchSize * v.patchSize
        var parts: [Int?] = []
        if !classOnly {
            parts += [prod(B, NP, K), prod(B, NP, W), prod(2, B, T, W), prod(2, B, T)]
            // The stack lays out the blocks below the last, which runs for the class token with
            // its own buffers (inference: one shared set for every block).
            let below = max(0, L - 1)
            let kept = below - max(0, min(saved ? keptFrom : below, below))
            if saved && recompute {
                parts += [blockSet(B: B, T: T, W: W, H: H, heads: v.heads), prod(kept, B, T, W)]
            } else {
                parts.append(stackActivations(B: B, T: T, W: W, H: H, heads: v.heads, layers: saved ? below : L, kept: kept))
            }
            if L > 0 { parts.append(classTokenBlockFloats(c, batch: B, backward: saved)) }
        }
        parts += [prod(2, B, W), prod(2, B), prod(B, c.embedDim)]
        if saved {
            parts.append(prod(2, B, W))
            if !classOnly {
                parts += [gradSet(B: B, T: T, W: W, H: H, heads: v.heads), prod(B, T, W), prod(B, NP, W), prod(B, NP, K)]
            }
        }
        return sum(parts)
    }

    /// Floats of a tower's last block run for its pooled token only (`PooledTokenBlock`): layer
    /// norm and keys/values of every token, the pooled token's query, attention and MLP; with
    /// `backward`, their gradients too.
    static func pooledTokenBlockFloats(B: Int, T: Int, W: Int, H: Int, heads: Int, backward: Bool) -> Int? {
        let forward = sum([prod(B, T, W), prod(2, B, T), prod(B, T, 2 * W), prod(B, heads, T), prod(6, B, W), prod(2, B), prod(2, B, H)])
        return backward ? sum([forward, prod(B, T, W), prod(B, T, 2 * W), prod(4, B, W), prod(2, B, H), prod(B, T)]) : forward
    }

    /// The image tower's last block for the class token (see `pooledTokenBlockFloats`).
    public static func classTokenBlockFloats(_ c: CLIPConfig, batch B: Int, backward: Bool = true) -> Int? {
        let v = c.vision
        return pooledTokenBlockFloats(B: B, T: v.tokens, W: v.width, H: v.mlpWidth, heads: v.heads, backward: backward)
    }

    /// Floats of the text tower's activations for training: every block below the last kept
    /// (with `recompute`, one shared set and each such block's output), the last block's
    /// pooled-token buffers with their gradients.
    public static func textArenaFloats(_ c: CLIPConfig, batch B: Int, recompute: Bool = false) -> Int? {
        let t = c.text, W = t.width, T = t.contextLength, H = t.mlpWidth, below = max(0, t.layers - 1)
        let blocks = recompute ? sum([blockSet(B: B, T: T, W: W, H: H, heads: t.heads), prod(below, B, T, W)])
            : stackActivations(B: B, T: T, W: W, H: H, heads: t.heads, layers: t.layers, kept: below)
        return sum([prod(B, T, W), blocks,
                    t.layers > 0 ? pooledTokenBlockFloats(B: B, T: T, W: W, H: H, heads: t.heads, backward: true) : 0,
                    prod(2, B, W), prod(2, B), prod(B, c.embedDim),
                    gradSet(B: B, T: T, W: W, H: H, heads: t.heads), prod(2, B, W)])
    }

    // MARK: - Steps

    /// One CLIPood training run's step: `batch` images, `classes` classes (the MMS class set),
    /// `trainable` and its range of `trainableCount` parameters, with `averages` weight averages
    /// kept. `cachedViews` > 0: the frozen prefix is cached for that many (image, view) rows and
    /// steps read streams (built 16 images at a time); 0: steps read pixels. The trainable range
    /// is held by the optimiser's two moments, each average and the run's own snapshot (the
    /// zero-shot weights are the model's, not a copy), and so are its gradients
    /// (`ParameterStore.gradients`). `checkpoint`: the trained blocks are recomputed in backward
    /// (see `visionArenaFloats`).
    public static func trainingStep(_ c: CLIPConfig, trainableCount: Int, trainable: VisionTower.Trainable,
                                    batch B: Int, classes K: Int, averages: Int, cachedViews: Int = 0,
                                    classTokenShortcut: Bool = true, checkpoint: Bool = false) -> MemoryEstimate {
        let v = c.vision, D = c.embedDim, L = v.layers, T = v.tokens
        let first = trainable.firstBlock(layers: L)
        let cached = cachedViews > 0 && trainable != .full
        var parts: [(String, Int?)] = []
        if cached && trainable == .lastBlocks(1) && classTokenShortcut {
            let head = visionArenaFloats(c, batch: B, saved: true, keptFrom: L, classOnly: true)
            let prefix = visionArenaFloats(c, batch: 16, saved: false)
            parts.append(("activations", sum([max(head ?? .max, prefix ?? .max), classTokenBlockFloats(c, batch: B)])))
        } else {
            let step = visionArenaFloats(c, batch: B, saved: true, keptFrom: first, recompute: checkpoint)
            let prefix = cached ? visionArenaFloats(c, batch: 16, saved: false) : 0
            parts.append(("activations", sum([max(step ?? .max, prefix ?? .max)])))
        }
        parts.append(cached ? ("stream batch", prod(B, T, v.width)) : ("image batch", prod(B, 3, v.imageSize, v.imageSize)))
        if cached { parts += [("prefix cache", prod(cachedViews, T, v.width)), ("prefix batches", sum([prod(16, 3, v.imageSize, v.imageSize), prod(16, T, v.width)]))] }
        parts += [("gradients", trainableCount),
                  ("AdamW moments", prod(2, trainableCount)),
                  ("weight averages and snapshot", prod(averages + 1, trainableCount)),
                  ("loss", sum([prod(4, B, D), B, prod(3, B, K), prod(K, D)]))]
        return MemoryEstimate(floats: parts)
    }

    /// Embedding `images` images for evaluation, `batch` at a time, and scoring them among
    /// `classes` classes; `trainableCount` > 0 when a run's weights are swapped in (a saved copy).
    public static func evaluation(_ c: CLIPConfig, images N: Int, classes K: Int, batch B: Int = 32, trainableCount: Int = 0) -> MemoryEstimate {
        let v = c.vision, D = c.embedDim
        return MemoryEstimate(floats: [
            ("activations", visionArenaFloats(c, batch: B, saved: false)),
            ("image batch", prod(B, 3, v.imageSize, v.imageSize)),
            ("features and logits", sum([prod(2, N, D), N, prod(N, K)])),
            ("saved weights", trainableCount),
        ])
    }

    /// One contrastive pretraining step on `batch` image–caption pairs: both towers' arenas,
    /// gradients and AdamW moments of every parameter, the pixels and the loss's N×N matrices.
    /// `checkpoint`: both towers recompute their blocks in backward.
    public static func pretrainingStep(_ c: CLIPConfig, batch B: Int, checkpoint: Bool = false) -> MemoryEstimate {
        let v = c.vision, D = c.embedDim
        let P = CLIPLayout.tensors(c).reduce(Optional(0)) { acc, t in acc.flatMap { a in Checked.product(t.1).flatMap { Checked.add(a, $0) } } }
        return MemoryEstimate(floats: [
            ("image activations", visionArenaFloats(c, batch: B, saved: true, recompute: checkpoint)),
            ("text activations", textArenaFloats(c, batch: B, recompute: checkpoint)),
            ("image batch", prod(B, 3, v.imageSize, v.imageSize)),
            ("parameters, gradients, AdamW moments", P.flatMap { Checked.multiply($0, 4) }),
            ("loss", sum([prod(6, B, D), prod(2, B), prod(5, B, B)])),
        ])
    }

    // MARK: - The check

    /// Throws `InsufficientMemory` when the estimate is more than `available` bytes (by default
    /// what `SystemMemory` reads now; nil there: no check is possible, so none is made).
    public func require(for what: String, available: Int? = SystemMemory.available(), hint: String = "") throws {
        guard let available, bytes > available else { return }
        throw InsufficientMemory(what: what, estimate: self, available: available, hint: hint)
    }
}

/// A step that would need more memory than the machine has left.
public struct InsufficientMemory: Error, CustomStringConvertible, Equatable {
    public let what: String
    public let estimate: MemoryEstimate
    public let available: Int
    public let hint: String

    /// "training 'r' (batch 4096): needed ~96.0 GiB, available ~18.2 GiB (activations 90.1 GiB, …); use a smaller batch=".
    public var description: String {
        "\(what): needed ~\(MemoryEstimate.gib(estimate.bytes)), available ~\(MemoryEstimate.gib(available)) (" +
            estimate.parts.prefix(3).map { "\($0.label) \(MemoryEstimate.gib($0.bytes))" }.joined(separator: ", ") + ")" +
            (hint.isEmpty ? "" : "; " + hint)
    }
}
