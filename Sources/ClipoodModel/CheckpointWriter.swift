import ClipoodEngine
import Foundation

/// Writes a model's parameters as a `.safetensors` state dict under the names of the format
/// it was loaded from, so that PyTorch loads a fine-tuned (or averaged) model straight back:
/// `CLIPModel.load_state_dict(safetensors.torch.load_file(f))` for transformers, or
/// `open_clip`'s `model.load_state_dict` for open_clip/OpenAI names.
public enum CheckpointWriter {
    /// `values` defaults to the model's own parameters; pass another buffer of the same layout
    /// (e.g. a weight average spliced into a copy) to write that instead.
    public static func write(_ model: CLIPModel, format: CheckpointFormat? = nil, values: UnsafePointer<Float>? = nil,
                             metadata: [String: String] = [:], to path: String) throws {
        let format = format ?? model.format
        let base = values ?? UnsafePointer(model.parameters.values.base)
        var writer = SafeTensorsWriter(metadata: metadata.merging(["format": format == .huggingFace ? "pt" : "pt", "clipood.naming": format.rawValue]) { a, _ in a })
        for slot in model.parameters.layout.slots {
            let p = base + slot.offset
            let source: TensorSource = format == .huggingFace ? CheckpointNames.huggingFace(slot.name) : .tensor(slot.name)
            switch source {
            case .tensor(let name):
                writer.add(name, shape: slot.shape, floats: p)
            case .transposed(let name):
                let rows = slot.shape[0], cols = slot.shape[1]
                var t = [Float](repeating: 0, count: rows * cols)
                for r in 0 ..< rows { for c in 0 ..< cols { t[c * rows + r] = p[r * cols + c] } }
                writer.add(name, shape: [cols, rows], floats: t)
            case .rows(let names):
                let partRows = slot.shape[0] / names.count
                let partShape = [partRows] + slot.shape.dropFirst()
                let partCount = partShape.reduce(1, *)
                for (i, name) in names.enumerated() { writer.add(name, shape: partShape, floats: p + i * partCount) }
            }
        }
        try writer.write(to: path)
    }
}
