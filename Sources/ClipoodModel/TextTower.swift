import ClipoodEngine

/// CLIP's text encoder: token + positional embedding → causal blocks → ln_final on the pooled
/// token → projection. Output: (B, D) features, not normalised.
///
/// Exact shortcuts: attention is causal, so positions after the pooled token never influence
/// it. A batch therefore runs only up to its last pooled position (about 10× less work for
/// short prompts padded to 77), with bit-identical output. And only the pooled token leaves
/// the tower, so the last block runs for it alone (`PooledTokenBlock`; the same output up to
/// float rounding).
public final class TextTower {
    public let config: CLIPConfig
    let params: ParameterStore
    let stack: TransformerStack
    let tokenTable, positions, lnFinalW, lnFinalB, proj: TensorSlot
    let arena = Arena(layout: BufferLayout())

    private var shape: (B: Int, T: Int, saved: Bool, recompute: Bool, cut: Bool)? = nil
    private var embedded: TensorSlot!, pooled: TensorSlot!, lnFinal: TensorSlot!, meanF: TensorSlot!, rstdF: TensorSlot!, features: TensorSlot!
    private var layers: [TransformerStack.LayerSlots] = []
    private var grads: TransformerStack.GradSlots!
    private var dpooled: TensorSlot!, dlnFinal: TensorSlot!
    private var ids: [Int32] = []
    public private(set) var poolIndex: [Int32] = []
    /// Whether the last block runs for the pooled token alone (the default). Off, it runs for
    /// every token like the others: the reference the tests compare the shortcut with.
    public var pooledTokenLastBlock = true
    private lazy var lastBlock = stack.pooledTokenBlock()

    init(config: CLIPConfig, params: ParameterStore) {
        self.config = config
        self.params = params
        let L = params.layout
        tokenTable = L["token_embedding.weight"]!; positions = L["positional_embedding"]!
        lnFinalW = L["ln_final.weight"]!; lnFinalB = L["ln_final.bias"]!; proj = L["text_projection"]!
        let t = config.text
        stack = TransformerStack(layout: L, prefix: "transformer.resblocks", layers: t.layers, width: t.width, heads: t.heads,
                                 mlpWidth: t.mlpWidth, activation: config.activation, causal: true, eps: config.layerNormEps)
    }

    /// The pooled position of each sequence, by the model's pooling rule.
    public func poolPositions(ids: [Int32], B: Int, context: Int) -> [Int32] {
        (0 ..< B).map { b in
            let row = ids[(b * context) ..< ((b + 1) * context)]
            switch config.pooling {
            case .argmaxID:
                var best = row.startIndex
                for i in row.indices where row[i] > row[best] { best = i }   // first maximum, as torch.argmax
                return Int32(best - row.startIndex)
            case .firstID(let eos):
                if let i = row.firstIndex(of: eos) { return Int32(i - row.startIndex) }
                return Int32(context - 1)
            }
        }
    }

    /// `recompute` (with `saved`): the blocks keep only their inputs and backward recomputes
    /// them (`TransformerStack.addSlots`).
    func prepare(B: Int, T: Int, saved: Bool, recompute: Bool = false) {
        let recompute = saved && recompute
        let cut = pooledTokenLastBlock && config.text.layers > 0
        if let s = shape, s.B == B, s.T == T, s.saved == saved, s.recompute == recompute, s.cut == cut { return }
        let W = config.text.width, L = config.text.layers
        var l = BufferLayout()
        embedded = l.add("embedded", [B, T, W])
        layers = stack.addSlots(to: &l, prefix: "block", B: B, T: T, keptFrom: saved ? 0 : L, recompute: recompute, count: cut ? L - 1 : nil)
        pooled = l.add("pooled", [B, W]); lnFinal = l.add("ln_final", [B, W]); meanF = l.add("ln_final.mean", [B]); rstdF = l.add("ln_final.rstd", [B])
        features = l.add("features", [B, config.embedDim])
        if saved {
            grads = stack.addGradSlots(to: &l, prefix: "grad", B: B, T: T)
            dpooled = l.add("grad.pooled", [B, W]); dlnFinal = l.add("grad.ln_final", [B, W])
        }
        arena.ensure(layout: l)
        shape = (B, T, saved, recompute, cut)
    }

    /// Encodes B token sequences given as (B, context) ids (context ≤ the model's). `checkpoint`:
    /// with `saveForBackward`, keep only each block's input and recompute the block in
    /// `backward` (less memory, about a third more compute; the same gradients).
    @discardableResult
    public func forward(ids allIDs: [Int32], B: Int, saveForBackward: Bool = false, checkpoint: Bool = false) -> UnsafeMutablePointer<Float> {
        let context = allIDs.count / max(B, 1)
        precondition(allIDs.count == B * context && context <= config.text.contextLength,
                     "TextTower: \(allIDs.count) ids for \(B) sequences (context at most \(config.text.contextLength))")
        poolIndex = poolPositions(ids: allIDs, B: B, context: context)
        let T = Int(poolIndex.max() ?? 0) + 1
        ids = (0 ..< B).flatMap { b in allIDs[(b * context) ..< (b * context + T)] }
        prepare(B: B, T: T, saved: saveForBackward, recompute: checkpoint)
        let W = config.text.width
        func A(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { arena.pointer(t) }
        func P(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { params.value(t) }
        ids.withUnsafeBufferPointer {
            TokenEmbedding.forward(out: A(embedded), ids: $0.baseAddress!, table: P(tokenTable), positions: P(positions), B: B, T: T, C: W, V: config.text.vocabularySize)
        }
        if shape!.cut {
            let L = config.text.layers
            let x = UnsafePointer(stack.forward(input: A(embedded), B: B, T: T, params: params, arena: arena, slots: layers, end: L - 1))
            lastInput = x
            let out = lastBlock.forward(x: x, B: B, T: T, params: params, pool: poolIndex, causal: true)
            A(pooled).update(from: out, count: B * W)
        } else {
            let out = stack.forward(input: A(embedded), B: B, T: T, params: params, arena: arena, slots: layers)
            poolIndex.withUnsafeBufferPointer { GatherRows.forward(out: A(pooled), inp: out, index: $0.baseAddress!, B: B, T: T, C: W) }
        }
        LayerNorm.forward(out: A(lnFinal), mean: A(meanF), rstd: A(rstdF), inp: A(pooled), weight: P(lnFinalW), bias: P(lnFinalB), N: B, C: W, eps: config.layerNormEps)
        Projection.forward(out: A(features), inp: A(lnFinal), weight: P(proj), N: B, C: W, OC: config.embedDim)
        return A(features)
    }

    /// The input of the last forward's pooled-token block.
    private var lastInput: UnsafePointer<Float>? = nil

    /// The (B, W) pooled vector after ln_final, before projection.
    public var pooledOutput: UnsafeMutablePointer<Float> { arena.pointer(lnFinal) }

    /// Backpropagates `dfeatures` (B, D) through the last `forward(saveForBackward: true)`;
    /// every text parameter's gradient accumulates into the store.
    public func backward(dfeatures: UnsafePointer<Float>, B: Int) {
        guard let s = shape, s.B == B, s.saved else { preconditionFailure("TextTower.backward needs forward(saveForBackward: true) with B = \(B)") }
        let T = s.T, W = config.text.width
        func A(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { arena.pointer(t) }
        func P(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { params.value(t) }
        func G(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { params.grad(t) }
        _ = params.gradients(from: tokenTable.offset)   // every text parameter gets one
        A(dlnFinal).update(repeating: 0, count: B * W)
        Projection.backward(dinp: A(dlnFinal), dweight: G(proj), dout: dfeatures, inp: A(lnFinal), weight: P(proj), N: B, C: W, OC: config.embedDim)
        A(dpooled).update(repeating: 0, count: B * W)
        LayerNorm.backward(dinp: A(dpooled), dweight: G(lnFinalW), dbias: G(lnFinalB), dout: A(dlnFinal), inp: A(pooled), weight: P(lnFinalW),
                           mean: A(meanF), rstd: A(rstdF), N: B, C: W)
        if s.cut, let x = lastInput {
            lastBlock.backward(dout: A(dpooled), x: x, B: B, T: T, params: params, dx: A(grads.dx))
        } else {
            A(grads.dx).update(repeating: 0, count: B * T * W)
            poolIndex.withUnsafeBufferPointer { GatherRows.backward(dinp: A(grads.dx), dout: A(dpooled), index: $0.baseAddress!, B: B, T: T, C: W) }
        }
        stack.backward(input: A(embedded), B: B, T: T, params: params, arena: arena, slots: layers, g: grads,
                       end: s.cut ? config.text.layers - 1 : nil, recompute: s.recompute)
        ids.withUnsafeBufferPointer {
            TokenEmbedding.backward(dtable: G(tokenTable), dpositions: G(positions), dout: A(grads.dx), ids: $0.baseAddress!, B: B, T: T, C: W)
        }
    }
}
