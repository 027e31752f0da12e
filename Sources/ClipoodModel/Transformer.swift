import ClipoodEngine

/// The parameter slots of one residual attention block (CLIP's `ResidualAttentionBlock`).
struct BlockParameters {
    let ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fcw, fcb, outw, outb: TensorSlot

    init(_ layout: BufferLayout, prefix p: String) {
        func s(_ n: String) -> TensorSlot { layout["\(p).\(n)"]! }
        ln1w = s("ln_1.weight"); ln1b = s("ln_1.bias")
        qkvw = s("attn.in_proj_weight"); qkvb = s("attn.in_proj_bias")
        projw = s("attn.out_proj.weight"); projb = s("attn.out_proj.bias")
        ln2w = s("ln_2.weight"); ln2b = s("ln_2.bias")
        fcw = s("mlp.c_fc.weight"); fcb = s("mlp.c_fc.bias")
        outw = s("mlp.c_proj.weight"); outb = s("mlp.c_proj.bias")
    }

    /// Where the block's first parameter sits in the flat buffer.
    var lowestOffset: Int { [ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fcw, fcb, outw, outb].map(\.offset).min()! }
}

/// A stack of pre-norm transformer blocks over a (B, T, W) residual stream:
///   x ← x + out_proj(attention(in_proj(ln_1(x))));  x ← x + c_proj(act(c_fc(ln_2(x)))).
///
/// Activations live in an arena laid out per (B, T). With `saveForBackward` off (inference)
/// every layer reuses layer 0's slots, so memory does not grow with depth.
///
/// A block kept for backward keeps only what its matrix products wrote (qkv, res1, fc, out) and
/// its layer norms' statistics. The rest (ln1, attention's probabilities and output, ln2, the
/// activation) is cheap to compute from those and lives in one set that every block shares:
/// backward computes it again, block by block, with the same kernels on the same inputs, so the
/// values, and the gradients, are the ones a set per block would hold. A kept block costs
/// 5·N·W + N·H + 4·N floats instead of 8·N·W + 2·N·H + 4·N + B·heads·T², for one more pass of
/// layer norms, attention and activation per block in backward.
final class TransformerStack {
    let blocks: [BlockParameters]
    let width: Int, heads: Int, mlpWidth: Int
    let activation: Activation
    let causal: Bool
    let eps: Float

    /// Per-layer saved activations.
    struct LayerSlots { let ln1, mean1, rstd1, qkv, probs, att, res1, ln2, mean2, rstd2, fc, act, out: TensorSlot }
    /// Scratch used by the backward pass (shared by all layers).
    struct GradSlots { let dx, dres1, dln, dqkv, datt, dfc, dact, scratch: TensorSlot }

    init(layout: BufferLayout, prefix: String, layers: Int, width: Int, heads: Int, mlpWidth: Int, activation: Activation, causal: Bool, eps: Float) {
        blocks = (0 ..< layers).map { BlockParameters(layout, prefix: "\(prefix).\($0)") }
        self.width = width; self.heads = heads; self.mlpWidth = mlpWidth
        self.activation = activation; self.causal = causal; self.eps = eps
    }

    /// Adds the stack's activation slots for (B, T) to `layout`. Blocks from `keptFrom` on keep
    /// what backward cannot cheaply compute again (their products' outputs and layer-norm
    /// statistics, see the type's note); everything else is one shared set, reused layer after
    /// layer. Inference: keptFrom = count.
    ///
    /// `recompute` (activation checkpointing): every block uses the one shared set, and the
    /// blocks from `keptFrom` on keep only their output (the next block's input, N·W floats);
    /// `backward(recompute: true)` runs each block's forward again into the shared set right
    /// before back-propagating through it. Memory: one set plus N·W per kept block instead of a
    /// set per kept block, for about one more forward pass of the kept blocks.
    ///
    /// `count`: only blocks `..< count` are laid out for running here (the towers run their last
    /// block for the pooled token alone, with its own buffers). Where blocks share one set
    /// (inference, frozen blocks) the blocks from `count` on get it too, for a forward that
    /// runs them all without keeping them (the image tower's prefix up to its last block's
    /// output); otherwise they get no slots and must not run here.
    func addSlots(to layout: inout BufferLayout, prefix: String, B: Int, T: Int, keptFrom: Int, recompute: Bool = false,
                  count: Int? = nil) -> [LayerSlots] {
        let N = B * T, W = width, H = mlpWidth, count = min(count ?? blocks.count, blocks.count)
        func a(_ label: String, _ n: String, _ shape: [Int]) -> TensorSlot { layout.add("\(prefix).\(label).\(n)", shape) }
        // What a kept block computes again in backward, and what only the shared set has.
        let ln1 = a("shared", "ln1", [N, W]), probs = a("shared", "probs", [B, heads, T, T]), att = a("shared", "att", [N, W])
        let ln2 = a("shared", "ln2", [N, W]), act = a("shared", "act", [N, H])
        func own(_ label: String) -> LayerSlots {
            LayerSlots(ln1: ln1, mean1: a(label, "mean1", [N]), rstd1: a(label, "rstd1", [N]), qkv: a(label, "qkv", [N, 3 * W]),
                       probs: probs, att: att, res1: a(label, "res1", [N, W]), ln2: ln2, mean2: a(label, "mean2", [N]),
                       rstd2: a(label, "rstd2", [N]), fc: a(label, "fc", [N, H]), act: act, out: a(label, "out", [N, W]))
        }
        let kept = max(0, min(keptFrom, count))
        let inference = keptFrom >= blocks.count
        let shared = recompute || kept > 0 || (inference && count < blocks.count) ? own("shared") : nil
        let tail = shared.map { Array(repeating: $0, count: blocks.count - count) } ?? []
        if recompute {
            let s = shared!
            return (0 ..< count).map { l in
                guard l >= kept else { return s }
                return LayerSlots(ln1: s.ln1, mean1: s.mean1, rstd1: s.rstd1, qkv: s.qkv, probs: s.probs, att: s.att, res1: s.res1,
                                  ln2: s.ln2, mean2: s.mean2, rstd2: s.rstd2, fc: s.fc, act: s.act, out: layout.add("\(prefix).\(l).out", [N, W]))
            } + tail
        }
        return (0 ..< count).map { l in l < kept ? shared! : own(String(l)) } + tail
    }

    /// The last block, to run for one pooled token per sequence with its own buffers (`count`
    /// in `addSlots` leaves it out of the stack's slots).
    func pooledTokenBlock() -> PooledTokenBlock {
        PooledTokenBlock(parameters: blocks[blocks.count - 1], width: width, heads: heads, mlpWidth: mlpWidth, activation: activation, eps: eps)
    }

    func addGradSlots(to layout: inout BufferLayout, prefix: String, B: Int, T: Int) -> GradSlots {
        let N = B * T, W = width, H = mlpWidth
        func a(_ n: String, _ shape: [Int]) -> TensorSlot { layout.add("\(prefix).\(n)", shape) }
        let dx = a("dx", [N, W]), dres1 = a("dres1", [N, W]), dln = a("dln", [N, W])
        let dqkv = a("dqkv", [N, 3 * W]), datt = a("datt", [N, W])
        // The MLP half is done with dact before the attention half writes dqkv and datt, and the
        // attention half with those before the next block's MLP half writes dact: one memory.
        let dact = H <= 4 * W ? layout.overlay("\(prefix).dact", [N, H], at: dqkv.offset) : a("dact", [N, H])
        return GradSlots(dx: dx, dres1: dres1, dln: dln, dqkv: dqkv, datt: datt, dfc: a("dfc", [N, H]), dact: dact,
                         scratch: a("scratch", [Attention.scratchCount(T: T, NH: heads)]))
    }

    /// Runs blocks `start ..< count` on `input` (the input of block `start`); returns the
    /// pointer to the last block's output.
    func forward(input: UnsafePointer<Float>, B: Int, T: Int, params: ParameterStore, arena: Arena, slots: [LayerSlots],
                 start: Int = 0, end: Int? = nil) -> UnsafeMutablePointer<Float> {
        var x = input
        var last: UnsafeMutablePointer<Float>? = nil
        for l in start ..< (end ?? blocks.count) {
            block(l, input: x, B: B, T: T, params: params, arena: arena, slots: slots[l], products: true)
            last = arena.pointer(slots[l].out)
            x = UnsafePointer(last!)
        }
        return last ?? UnsafeMutablePointer(mutating: input)
    }

    /// Block l's forward on its input x. Without `products`, only what a kept block does not keep
    /// (ln1, attention, ln2, the activation), from the products' outputs it kept: what backward
    /// needs again, the same values as the forward computed.
    private func block(_ l: Int, input x: UnsafePointer<Float>, B: Int, T: Int, params: ParameterStore, arena: Arena, slots s: LayerSlots,
                       products: Bool) {
        let N = B * T, W = width, H = mlpWidth, p = blocks[l]
        func A(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { arena.pointer(t) }
        func P(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { params.value(t) }
        LayerNorm.forward(out: A(s.ln1), mean: A(s.mean1), rstd: A(s.rstd1), inp: x, weight: P(p.ln1w), bias: P(p.ln1b), N: N, C: W, eps: eps)
        if products { Linear.forward(out: A(s.qkv), inp: A(s.ln1), weight: P(p.qkvw), bias: P(p.qkvb), N: N, C: W, OC: 3 * W) }
        Attention.forward(out: A(s.att), probs: A(s.probs), qkv: A(s.qkv), B: B, T: T, C: W, NH: heads, causal: causal)
        if products { Linear.forward(out: A(s.res1), inp: A(s.att), weight: P(p.projw), bias: P(p.projb), residual: x, N: N, C: W, OC: W) }
        LayerNorm.forward(out: A(s.ln2), mean: A(s.mean2), rstd: A(s.rstd2), inp: A(s.res1), weight: P(p.ln2w), bias: P(p.ln2b), N: N, C: W, eps: eps)
        if products { Linear.forward(out: A(s.fc), inp: A(s.ln2), weight: P(p.fcw), bias: P(p.fcb), N: N, C: W, OC: H) }
        activation.forward(out: A(s.act), inp: A(s.fc), count: N * H)
        if products { Linear.forward(out: A(s.out), inp: A(s.act), weight: P(p.outw), bias: P(p.outb), residual: A(s.res1), N: N, C: H, OC: W) }
    }

    /// Backward through blocks `firstLayer ..< end` (`end` defaults to every block), in reverse,
    /// after a forward that started at block `start` (≤ firstLayer) with `input` and ended at
    /// `end`. On entry `g.dx` holds the gradient w.r.t. block `end - 1`'s output; on exit it
    /// holds the gradient w.r.t. the input of block `firstLayer`. Parameter gradients
    /// accumulate into `params`' gradients. Each block's shared activations are computed again
    /// from what it kept (the same kernels on the same inputs: the same values), or, with
    /// `recompute` (slots from `addSlots(recompute: true)`), its whole forward from its kept
    /// input; but block `end - 1`'s, which the forward pass just left in the shared set. `blockDone(l)` is called when block l's parameter gradients are
    /// final (a data-parallel step starts summing them over the ranks while the blocks below are
    /// computed).
    func backward(input: UnsafePointer<Float>, B: Int, T: Int, params: ParameterStore, arena: Arena,
                  slots: [LayerSlots], g: GradSlots, firstLayer: Int = 0, start: Int = 0, end: Int? = nil, recompute: Bool = false,
                  blockDone: ((Int) -> Void)? = nil) {
        precondition(firstLayer >= start, "TransformerStack.backward: block \(firstLayer) is before the forward's first block \(start)")
        let N = B * T, W = width, H = mlpWidth, end = end ?? blocks.count
        func A(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { arena.pointer(t) }
        func P(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { params.value(t) }
        func G(_ t: TensorSlot) -> UnsafeMutablePointer<Float> { params.grad(t) }
        for l in stride(from: end - 1, through: firstLayer, by: -1) {
            let p = blocks[l], s = slots[l]
            let x: UnsafePointer<Float> = l == start ? input : UnsafePointer(A(slots[l - 1].out))
            // The last block ran last in the forward pass: the shared set still holds its activations.
            // The others compute theirs again: all of it (recompute), or what they did not keep.
            if l < end - 1 { block(l, input: x, B: B, T: T, params: params, arena: arena, slots: s, products: recompute) }
            // MLP half: out = res1 + c_proj(act(c_fc(ln_2(res1)))).
            // dact, dfc, dln, datt and dqkv are each written whole by their first kernel
            // (accumulate false), not zeroed and added to: no pass over them first.
            A(g.dres1).update(from: A(g.dx), count: N * W)
            Linear.backward(dinp: A(g.dact), dweight: G(p.outw), dbias: G(p.outb), dout: A(g.dx), inp: A(s.act), weight: P(p.outw),
                            N: N, C: H, OC: W, accumulateInput: false)
            activation.backward(dinp: A(g.dfc), dout: A(g.dact), inp: A(s.fc), count: N * H, accumulate: false)
            Linear.backward(dinp: A(g.dln), dweight: G(p.fcw), dbias: G(p.fcb), dout: A(g.dfc), inp: A(s.ln2), weight: P(p.fcw),
                            N: N, C: W, OC: H, accumulateInput: false)
            LayerNorm.backward(dinp: A(g.dres1), dweight: G(p.ln2w), dbias: G(p.ln2b), dout: A(g.dln), inp: A(s.res1), weight: P(p.ln2w),
                               mean: A(s.mean2), rstd: A(s.rstd2), N: N, C: W)
            // Attention half: res1 = x + out_proj(attention(in_proj(ln_1(x)))).
            A(g.dx).update(from: A(g.dres1), count: N * W)
            Linear.backward(dinp: A(g.datt), dweight: G(p.projw), dbias: G(p.projb), dout: A(g.dres1), inp: A(s.att), weight: P(p.projw),
                            N: N, C: W, OC: W, accumulateInput: false)
            Attention.backward(dqkv: A(g.dqkv), scratch: A(g.scratch), dout: A(g.datt), probs: A(s.probs), qkv: A(s.qkv), B: B, T: T, C: W, NH: heads,
                               accumulate: false)
            Linear.backward(dinp: A(g.dln), dweight: G(p.qkvw), dbias: G(p.qkvb), dout: A(g.dqkv), inp: A(s.ln1), weight: P(p.qkvw),
                            N: N, C: W, OC: 3 * W, accumulateInput: false)
            // The key bias adds the same number to every score of a query, which softmax ignores:
            // its gradient is exactly zero. Float rounding leaves ~1e-8 of noise that Adam would
            // turn into ±lr steps (a random walk), so store the exact zero.
            (G(p.qkvb) + W).update(repeating: 0, count: W)
            LayerNorm.backward(dinp: A(g.dx), dweight: G(p.ln1w), dbias: G(p.ln1b), dout: A(g.dln), inp: x, weight: P(p.ln1w),
                               mean: A(s.mean1), rstd: A(s.rstd1), N: N, C: W)
            blockDone?(l)
        }
    }
}
