import ClipoodEngine

/// CLIP's image encoder: patch embedding → class token + positions → ln_pre → blocks →
/// ln_post on the class token → projection. Output: (B, D) features, not normalised.
///
/// Only the class token leaves the tower, so its last block runs for the class token alone
/// (`PooledTokenBlock`: keys and values for every token, the rest for one): the same features
/// and gradients as the full block up to float rounding, for about 7 % less work in a ViT.
public final class VisionTower {
    public let config: CLIPConfig
    let params: ParameterStore
    let stack: TransformerStack
    let conv1, classEmbedding, positions, lnPreW, lnPreB, lnPostW, lnPostB, proj: TensorSlot
    /// Where the tower's parameters start in the flat buffer.
    let firstParameter: Int
    let arena = Arena(layout: BufferLayout())

    // Activation slots for the current (B, saved) shape.
    private var shape: (B: Int, saved: Bool, keptFrom: Int, classOnly: Bool, recompute: Bool, cut: Bool)? = nil
    private var patches: TensorSlot!, embedded: TensorSlot!, tokens: TensorSlot!, lnPre: TensorSlot!, meanPre: TensorSlot!, rstdPre: TensorSlot!
    private var pooled: TensorSlot!, lnPost: TensorSlot!, meanPost: TensorSlot!, rstdPost: TensorSlot!, features: TensorSlot!
    private var layers: [TransformerStack.LayerSlots] = []
    private var grads: TransformerStack.GradSlots!
    private var dpooled: TensorSlot!, dlnPost: TensorSlot!, dtokens: TensorSlot!, dembedded: TensorSlot!, dpatchScratch: TensorSlot!
    private var clsIndex: [Int32] = []

    /// Whether the last block runs for the class token alone (the default). Off, it runs for
    /// every token like the others: the reference the tests compare the shortcut with.
    public var pooledTokenLastBlock = true

    init(config: CLIPConfig, params: ParameterStore) {
        self.config = config
        self.params = params
        let L = params.layout
        func s(_ n: String) -> TensorSlot { L["visual.\(n)"]! }
        conv1 = s("conv1.weight"); classEmbedding = s("class_embedding"); positions = s("positional_embedding")
        firstParameter = L.suffixRange(fromFirstNamed: "visual.")!.lowerBound
        lnPreW = s("ln_pre.weight"); lnPreB = s("ln_pre.bias"); lnPostW = s("ln_post.weight"); lnPostB = s("ln_post.bias"); proj = s("proj")
        let v = config.vision
        stack = TransformerStack(layout: L, prefix: "visual.transformer.resblocks", layers: v.layers, width: v.width, heads: v.heads,
                                 mlpWidth: v.mlpWidth, activation: config.activation, causal: false, eps: config.layerNormEps)
    }

    /// Lays out activations for batch B once; later calls with the same shape allocate nothing.
    /// With `saved`, blocks from `keptFrom` on keep their activations for backward.
    /// `classOnly`: the class-token path of
    /// `forwardClassToken`, which needs only the head and its gradients (the last block's
    /// class-token work has its own buffers in `PooledTokenBlock`). `recompute` (with `saved`):
    /// the kept blocks keep only their inputs and backward recomputes them
    /// (`TransformerStack.addSlots`).
    func prepare(B: Int, saved: Bool, keptFrom: Int = 0, classOnly: Bool = false, recompute: Bool = false) {
        let keptFrom = saved ? keptFrom : config.vision.layers
        let recompute = saved && recompute && !classOnly
        let cut = pooledTokenLastBlock && !classOnly && config.vision.layers > 0
        if let s = shape, s.B == B, s.saved == saved, s.keptFrom == keptFrom, s.classOnly == classOnly, s.recompute == recompute,
           s.cut == cut { return }
        let v = config.vision, W = v.width, T = v.tokens, NP = T - 1, K = 3 * v.patchSize * v.patchSize
        var l = BufferLayout()
        if !classOnly {
            patches = l.add("patches", [B * NP, K]); embedded = l.add("embedded", [B, NP, W]); tokens = l.add("tokens", [B, T, W])
            lnPre = l.add("ln_pre", [B, T, W]); meanPre = l.add("ln_pre.mean", [B * T]); rstdPre = l.add("ln_pre.rstd", [B * T])
            layers = stack.addSlots(to: &l, prefix: "block", B: B, T: T, keptFrom: keptFrom, recompute: recompute,
                                    count: cut ? v.layers - 1 : nil)
        }
        pooled = l.add("pooled", [B, W]); lnPost = l.add("ln_post", [B, W]); meanPost = l.add("ln_post.mean", [B]); rstdPost = l.add("ln_post.rstd", [B])
        features = l.add("features", [B, config.embedDim])
        if saved {
            dpooled = l.add("grad.pooled", [B, W]); dlnPost = l.add("grad.ln_post", [B, W])
            if !classOnly {
                grads = stack.addGradSlots(to: &l, prefix: "grad", B: B, T: T)
                dtokens = l.add("grad.tokens", [B, T, W]); dembedded = l.add("grad.embedded", [B, NP, W])
                dpatchScratch = l.add("grad.patches", [B * NP, K])
            }
        }
        arena.ensure(layout: l)
        clsIndex = [Int32](repeating: 0, count: B)
        shape = (B, saved, keptFrom, classOnly, recompute, cut)
    }

    /// Encodes B images (B, 3, S, S), already normalised. With `saveForBackward`, keeps every
    /// activation for `backward`. Returns a pointer to the (B, D) features, valid until the next call.
    /// `keepFrom`: with `saveForBackward`, the first block whose activations are kept (blocks
    /// below it are frozen and need none) — pass the first trainable block. `checkpoint`: with
    /// `saveForBackward`, keep only each kept block's input and recompute the block in
    /// `backward` (less memory, about a third more compute; the same gradients).
    @discardableResult
    public func forward(pixels: UnsafePointer<Float>, B: Int, saveForBackward: Bool = false, keepFrom: Int = 0, checkpoint: Bool = false) -> UnsafeMutablePointer<Float> {
        prepare(B: B, saved: saveForBackward, keptFrom: keepFrom, recompute: checkpoint)
        keptFrom = saveForBackward ? keepFrom : config.vision.layers
        forwardStart = 0
        streamInput = nil
        classOnly = false
        classInput = nil
        let x = embed(pixels: pixels, B: B)
        let (out, tokens) = blocks(from: 0, input: x, B: B)
        return head(out, B: B, tokens: tokens)
    }

    /// Blocks `start ..< L` on their input: the last one for the class token alone unless
    /// `pooledTokenLastBlock` is off. Returns the last block's output and its tokens per image.
    private func blocks(from start: Int, input: UnsafePointer<Float>, B: Int) -> (UnsafePointer<Float>, tokens: Int) {
        let v = config.vision, T = v.tokens
        guard shape!.cut else {
            return (UnsafePointer(stack.forward(input: input, B: B, T: T, params: params, arena: arena, slots: layers, start: start)), T)
        }
        let x = start < v.layers - 1
            ? UnsafePointer(stack.forward(input: input, B: B, T: T, params: params, arena: arena, slots: layers, start: start, end: v.layers - 1))
            : input
        classInput = x
        return (UnsafePointer(lastBlock.forward(x: x, B: B, T: T, params: params)), 1)
    }

    /// The (B, W) class-token vector after ln_post, before projection (for debugging and probes).
    public var pooledOutput: UnsafeMutablePointer<Float> { arena.pointer(lnPost) }

    // MARK: Frozen prefix and trainable suffix

    /// Floats per image of the residual stream entering a block: T·W.
    public var streamSize: Int { config.vision.tokens * config.vision.width }

    /// The block where the last forward started (0 for images; more for `forward(stream:…)`).
    private var forwardStart = 0
    /// The first block whose activations the last forward kept.
    private var keptFrom = 0
    private var streamInput: UnsafePointer<Float>? = nil

    /// Runs the frozen prefix — patch embedding, ln_pre and blocks 0 ..< `layer` — and writes the
    /// residual stream entering block `layer`, (B, T, W), to `out`. Nothing is kept for backward.
    public func prefix(pixels: UnsafePointer<Float>, B: Int, upTo layer: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(layer >= 0 && layer <= config.vision.layers)
        prepare(B: B, saved: false)
        let v = config.vision
        let embedded = embed(pixels: pixels, B: B)
        let x = layer == 0 ? embedded : stack.forward(input: embedded, B: B, T: v.tokens, params: params, arena: arena, slots: layers, start: 0, end: layer)
        out.update(from: x, count: B * v.tokens * v.width)
    }

    /// Runs blocks `layer ..< L` and the head on a residual stream (B, T, W) computed by `prefix`
    /// (e.g. from a cache). `stream` must stay valid until `backward`. Same result as
    /// `forward(pixels:)` on the pixels that produced the stream. `checkpoint` as there.
    @discardableResult
    public func forward(stream: UnsafePointer<Float>, fromLayer layer: Int, B: Int, saveForBackward: Bool = false, checkpoint: Bool = false) -> UnsafeMutablePointer<Float> {
        prepare(B: B, saved: saveForBackward, keptFrom: layer, recompute: checkpoint)
        keptFrom = saveForBackward ? layer : config.vision.layers
        forwardStart = layer
        streamInput = stream
        classOnly = false
        classInput = nil
        let v = config.vision
        let (out, tokens) = layer == v.layers ? (stream, v.tokens) : blocks(from: layer, input: stream, B: B)
        return head(out, B: B, tokens: tokens)
    }

    /// The last block for the class token only, then the head: what `tune=last1` needs from a
    /// cached stream entering the last block (B, T, W). Same features as `forward(stream:…)`;
    /// `backward` then trains the last block, ln_post and proj. See `PooledTokenBlock`.
    @discardableResult
    public func forwardClassToken(stream: UnsafePointer<Float>, B: Int) -> UnsafeMutablePointer<Float> {
        let v = config.vision
        precondition(v.layers > 0)
        prepare(B: B, saved: true, keptFrom: v.layers, classOnly: true)
        forwardStart = v.layers - 1
        keptFrom = v.layers - 1
        streamInput = stream
        classOnly = true
        classInput = stream
        let out = lastBlock.forward(x: stream, B: B, T: v.tokens, params: params)
        return head(out, B: B, tokens: 1)
    }

    /// The last block for the class token, made on first use.
    private lazy var lastBlock = stack.pooledTokenBlock()
    /// The input of the last forward's class-token block.
    private var classInput: UnsafePointer<Float>? = nil
    /// Whether the last forward was `forwardClassToken`.
    private var classOnly = false

    /// Patch embedding, class token and positions, ln_pre: the stream entering block 0.
    private func embed(pixels: UnsafePointer<Float>, B: Int) -> UnsafeMutablePointer<Float> {
        let v = config.vision, W = v.width, T = v.tokens, S = v.imageSize
        func A(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { arena.pointer(t) }
        func P(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { params.value(t) }
        PatchEmbedding.forward(out: A(embedded), patches: A(patches), images: pixels, weight: P(conv1), bias: nil,
                               B: B, CI: 3, H: S, W: S, P: v.patchSize, C: W)
        ClassPositionEmbedding.forward(out: A(tokens), patches: A(embedded), classToken: P(classEmbedding), positions: P(positions), B: B, T: T, C: W)
        LayerNorm.forward(out: A(lnPre), mean: A(meanPre), rstd: A(rstdPre), inp: A(tokens), weight: P(lnPreW), bias: P(lnPreB), N: B * T, C: W, eps: config.layerNormEps)
        return A(lnPre)
    }

    /// The class token of the last block's output → ln_post → projection: the (B, D) features.
    private func head(_ out: UnsafePointer<Float>, B: Int, tokens: Int? = nil) -> UnsafeMutablePointer<Float> {
        let W = config.vision.width, T = tokens ?? config.vision.tokens
        func A(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { arena.pointer(t) }
        func P(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { params.value(t) }
        clsIndex.withUnsafeBufferPointer { GatherRows.forward(out: A(pooled), inp: out, index: $0.baseAddress!, B: B, T: T, C: W) }
        LayerNorm.forward(out: A(lnPost), mean: A(meanPost), rstd: A(rstdPost), inp: A(pooled), weight: P(lnPostW), bias: P(lnPostB), N: B, C: W, eps: config.layerNormEps)
        Projection.forward(out: A(features), inp: A(lnPost), weight: P(proj), N: B, C: W, OC: config.embedDim)
        return A(features)
    }

    /// What `backward` trains: everything (the paper's "full"), the last k blocks + ln_post +
    /// proj, or the projection only. Frozen parts get no gradient and cost no backward work.
    public enum Trainable: Equatable, Sendable {
        case full
        case lastBlocks(Int)
        case projection

        /// The first of a tower's `layers` blocks that this choice trains (`layers` when it
        /// trains none: the projection alone).
        public func firstBlock(layers: Int) -> Int {
            switch self {
            case .full: return 0
            case .lastBlocks(let k): return max(0, layers - k)
            case .projection: return layers
            }
        }
    }

    /// Backpropagates `dfeatures` (B, D) through the last `forward(saveForBackward: true)`.
    /// Parameter gradients ACCUMULATE into the store; `dpixels` (B, 3, S, S), if given, too.
    /// `blockDone(l)` is called when block l's gradients are final (see TransformerStack).
    public func backward(dfeatures: UnsafePointer<Float>, B: Int, trainable: Trainable = .full, dpixels: UnsafeMutablePointer<Float>? = nil,
                         blockDone: ((Int) -> Void)? = nil) {
        guard let s = shape, s.B == B, s.saved else { preconditionFailure("VisionTower.backward needs forward(saveForBackward: true) with B = \(B)") }
        let v = config.vision, W = v.width, T = v.tokens, S = v.imageSize, NP = T - 1
        func A(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { arena.pointer(t) }
        func P(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { params.value(t) }
        func G(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { params.grad(t) }
        let projOnly = trainable == .projection
        // The lowest block this pass goes through: the projection alone reaches the blocks only
        // for the pixels' gradient, and then through every one of them.
        let first = projOnly ? 0 : trainable.firstBlock(layers: v.layers)
        // Below the blocks (ln_pre, embeddings) only for the whole tower or the pixels' gradient.
        let belowBlocks = trainable == .full || dpixels != nil
        // Gradients exist from the lowest parameter this pass writes (`ParameterStore.gradients`).
        _ = params.gradients(from: belowBlocks ? firstParameter : projOnly ? proj.offset : stack.blocks[first].lowestOffset)
        A(dlnPost).update(repeating: 0, count: B * W)
        Projection.backward(dinp: projOnly && dpixels == nil ? nil : A(dlnPost), dweight: G(proj), dout: dfeatures, inp: A(lnPost), weight: P(proj), N: B, C: W, OC: config.embedDim)
        if projOnly && dpixels == nil { return }
        A(dpooled).update(repeating: 0, count: B * W)
        LayerNorm.backward(dinp: A(dpooled), dweight: G(lnPostW), dbias: G(lnPostB), dout: A(dlnPost), inp: A(pooled), weight: P(lnPostW),
                           mean: A(meanPost), rstd: A(rstdPost), N: B, C: W)
        if classOnly, let stream = streamInput {
            precondition(trainable == .lastBlocks(1) && dpixels == nil, "VisionTower.backward: a class-token forward trains exactly the last block")
            lastBlock.backward(dout: A(dpooled), x: stream, B: B, T: T, params: params)
            return
        }
        precondition(first >= keptFrom || trainable == .projection, "VisionTower.backward: blocks below \(keptFrom) kept no activations; forward with keepFrom ≤ \(first)")
        precondition(streamInput == nil || (first >= forwardStart && dpixels == nil),
                     "VisionTower.backward: the forward started at block \(forwardStart); cannot train below it")
        var end = v.layers
        if s.cut, let x = classInput {
            // The last block ran for the class token alone: its backward writes the gradient
            // w.r.t. its input when anything below it is trained (or the pixels' gradient is asked).
            let below = first < v.layers - 1 || (belowBlocks && streamInput == nil)
            lastBlock.backward(dout: A(dpooled), x: x, B: B, T: T, params: params, dx: below ? A(grads.dx) : nil)
            blockDone?(v.layers - 1)
            if !below { return }
            end = v.layers - 1
        } else {
            A(grads.dx).update(repeating: 0, count: B * T * W)
            clsIndex.withUnsafeBufferPointer { GatherRows.backward(dinp: A(grads.dx), dout: A(dpooled), index: $0.baseAddress!, B: B, T: T, C: W) }
        }
        if let stream = streamInput {
            // The forward started from a cached stream: nothing below block `forwardStart` ran,
            // not even ln_pre when that is block 0 (tune=lastK with K = every block), so the
            // stream, not the arena's ln_pre, is the first block's input.
            stack.backward(input: stream, B: B, T: T, params: params, arena: arena, slots: layers, g: grads, firstLayer: first, start: forwardStart,
                           end: end, recompute: s.recompute, blockDone: blockDone)
            return
        }
        stack.backward(input: A(lnPre), B: B, T: T, params: params, arena: arena, slots: layers, g: grads, firstLayer: first, end: end,
                       recompute: s.recompute, blockDone: blockDone)
        if !belowBlocks { return }
        // Below the blocks: ln_pre, class/positional embedding, patch embedding (full tuning).
        A(dtokens).update(repeating: 0, count: B * T * W)
        LayerNorm.backward(dinp: A(dtokens), dweight: G(lnPreW), dbias: G(lnPreB), dout: A(grads.dx), inp: A(tokens), weight: P(lnPreW),
                           mean: A(meanPre), rstd: A(rstdPre), N: B * T, C: W)
        A(dembedded).update(repeating: 0, count: B * NP * W)
        ClassPositionEmbedding.backward(dpatches: A(dembedded), dclassToken: G(classEmbedding), dpositions: G(positions), dout: A(dtokens), B: B, T: T, C: W)
        PatchEmbedding.backward(dimages: dpixels, dweight: G(conv1), dbias: nil, scratch: A(dpatchScratch), dout: A(dembedded),
                                patches: A(patches), weight: P(conv1), B: B, CI: 3, H: S, W: S, P: v.patchSize, C: W)
    }
}
