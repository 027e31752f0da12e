import ClipoodIO
import ClipoodModel

// Invariants of an accepted model configuration, shared by the config and safetensors harnesses.
enum ModelChecks {
    /// Parameters of one transformer block of width `w` and MLP width `h` (CLIPLayout.blockTensors),
    /// nil when the count overflows.
    static func blockParameters(width w: Int, mlp h: Int) -> Int? {
        guard let ww = Checked.multiply(w, w), let wh = Checked.multiply(w, h),
              let a = Checked.multiply(4, ww), let b = Checked.multiply(2, wh), let c = Checked.multiply(9, w),
              let ab = Checked.add(a, b), let abc = Checked.add(ab, c) else { return nil }
        return Checked.add(abc, h)
    }

    /// CLIPLayout's parameter count, computed without building the layout (which would loop over
    /// a huge layer count), nil when it overflows.
    static func parameterCount(_ c: CLIPConfig) -> Int? {
        let v = c.vision, t = c.text
        guard let tBlock = blockParameters(width: t.width, mlp: t.mlpWidth),
              let vBlock = blockParameters(width: v.width, mlp: v.mlpWidth),
              let tBlocks = Checked.multiply(t.layers, tBlock), let vBlocks = Checked.multiply(v.layers, vBlock),
              let tEmbed = Checked.product([t.vocabularySize, t.width]), let tPos = Checked.product([t.contextLength, t.width]),
              let tProj = Checked.product([t.width, c.embedDim]),
              let conv = Checked.product([v.width, 3, v.patchSize, v.patchSize]),
              let tokens = Checked.product([v.grid, v.grid]).flatMap({ Checked.add($0, 1) }),
              let vPos = Checked.product([tokens, v.width]), let vProj = Checked.product([v.width, c.embedDim]),
              let smallT = Checked.multiply(2, t.width), let smallV = Checked.multiply(5, v.width) else { return nil }
        var total = 1
        for part in [tEmbed, tPos, tBlocks, smallT, tProj, conv, vPos, vBlocks, smallV, vProj] {
            guard let s = Checked.add(total, part) else { return nil }
            total = s
        }
        return total
    }

    /// What every accepted configuration must satisfy (issue: validate every number read from a file).
    static func check(_ c: CLIPConfig, _ source: String) {
        let v = c.vision, t = c.text
        let sizes: [(String, Int)] = [("vision width", v.width), ("vision heads", v.heads), ("patch size", v.patchSize),
                                      ("image size", v.imageSize), ("vision MLP width", v.mlpWidth),
                                      ("text width", t.width), ("text heads", t.heads), ("context length", t.contextLength),
                                      ("vocabulary size", t.vocabularySize), ("text MLP width", t.mlpWidth), ("embedding size", c.embedDim)]
        for (name, value) in sizes { Fuzz.check(value >= 1, "\(source): accepted \(name) \(value)") }
        Fuzz.check(v.layers >= 0 && t.layers >= 0, "\(source): accepted layer counts \(v.layers), \(t.layers)")
        Fuzz.check(v.width % v.heads == 0, "\(source): accepted vision width \(v.width) with \(v.heads) heads")
        Fuzz.check(t.width % t.heads == 0, "\(source): accepted text width \(t.width) with \(t.heads) heads")
        Fuzz.check(v.imageSize % v.patchSize == 0, "\(source): accepted image size \(v.imageSize) with patch \(v.patchSize)")
        Fuzz.check(c.layerNormEps.isFinite && c.layerNormEps > 0, "\(source): accepted layer_norm_eps \(c.layerNormEps)")
        if case .firstID(let id) = c.pooling {
            Fuzz.check(id >= 0 && Int(id) < t.vocabularySize, "\(source): accepted eos id \(id) outside a vocabulary of \(t.vocabularySize)")
        }
        Fuzz.check(parameterCount(c) != nil, "\(source): accepted a configuration whose parameter count overflows: \(c)")
    }
}
