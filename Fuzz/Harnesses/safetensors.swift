import ClipoodIO
import ClipoodModel
import Foundation

// The safetensors reader (SafeTensorsFile) and the checkpoint loader on top of it.
// Accepted files: every shape product and byte count is representable, every tensor lies inside
// the data section and tensors do not overlap; reading every tensor gives exactly its element
// count; an inferred architecture is valid, and a loaded one holds no more parameters than the file.
enum Harness {
    static func run(_ input: Data) {
        // Today's API reads a path; an in-memory parse would take `input` directly.
        let path = Fuzz.file(input, name: "weights.safetensors")
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch { Fuzz.checkRefusal(error); return }

        Fuzz.check(input.count >= 8, "accepted a file of \(input.count) bytes")
        let headerLength = input.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        Fuzz.check(headerLength <= UInt64(input.count - 8), "accepted a header length \(headerLength) beyond the file")
        let dataSize = input.count - 8 - Int(headerLength)
        var total = 0
        var spans: [(begin: Int, end: Int, name: String)] = []
        for (name, e) in file.entries {
            Fuzz.check(e.name == name, "entry '\(name)' is named '\(e.name)'")
            guard let count = Checked.product(e.shape) else { Fuzz.fail("tensor '\(name)': shape \(e.shape) overflows or is negative") }
            guard let bytes = Checked.multiply(count, e.dtype.size) else { Fuzz.fail("tensor '\(name)': \(count) × \(e.dtype.size) bytes overflows") }
            Fuzz.check(e.begin >= 0 && e.begin <= e.end && e.end <= dataSize,
                       "tensor '\(name)': data_offsets [\(e.begin), \(e.end)] outside the \(dataSize)-byte data section")
            Fuzz.check(e.end - e.begin == bytes, "tensor '\(name)': \(e.end - e.begin) bytes for shape \(e.shape) of \(e.dtype)")
            total += count
            if bytes > 0 { spans.append((e.begin, e.end, name)) }
        }
        spans.sort { $0.begin < $1.begin }
        for (a, b) in zip(spans, spans.dropFirst()) {
            Fuzz.check(b.begin >= a.end, "tensors '\(a.name)' and '\(b.name)' overlap")
        }
        Fuzz.check(Set(file.names) == Set(file.entries.keys) && file.names.count == file.entries.count, "names differ from entries")

        // Reading every tensor stays inside the mapping and yields its element count.
        for name in file.names {
            let e = file.entries[name]!
            let count = Checked.product(e.shape)!
            do {
                switch e.dtype {
                case .F32, .F16, .BF16, .F64:
                    let values = try file.floats(name)
                    Fuzz.check(values.count == count, "tensor '\(name)': \(values.count) floats for \(count) elements")
                case .U8:
                    let bytes = try file.bytes(name), ints = try file.int32s(name)
                    Fuzz.check(bytes.count == count && ints.count == count, "tensor '\(name)': \(bytes.count) bytes for \(count) elements")
                case .I64, .I32, .I16, .I8, .BOOL:
                    let ints = try file.int32s(name)
                    Fuzz.check(ints.count == count, "tensor '\(name)': \(ints.count) ints for \(count) elements")
                }
            } catch {
                Fuzz.fail("tensor '\(name)' of an accepted file cannot be read: \(error)")
            }
        }

        // The architecture as OpenAI's build_model infers it, then the full load.
        let config: CLIPConfig
        do { config = try CheckpointLoader.inferConfig(file) } catch { Fuzz.checkRefusal(error); return }
        ModelChecks.check(config, "inferred from \(path)")
        // Loading must refuse an architecture the file cannot fill before allocating it: the
        // malloc limit (scripts/fuzz) catches a model allocated from a few bytes of header.
        do {
            let loaded = try CheckpointLoader.load(path: path)
            let parameters = ModelChecks.parameterCount(loaded.model.config)!
            Fuzz.check(parameters <= total, "loaded \(parameters) parameters from a file of \(total) values")
            Fuzz.check(loaded.unexpectedTensors.allSatisfy { file.entries[$0] != nil }, "unexpected tensors that are not in the file")
        } catch {
            Fuzz.checkRefusal(error)
        }
    }

    static func seeds() -> [String: Data] {
        func file(_ build: (inout SafeTensorsWriter) -> Void) -> Data {
            var w = SafeTensorsWriter(metadata: ["format": "pt"])
            build(&w)
            return try! w.serialized()
        }
        var seeds: [String: Data] = [:]
        seeds["empty"] = file { _ in }
        seeds["two-tensors"] = file { w in
            w.add("a", shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
            w.add("ids", shape: [4], int32s: [0, 1, -1, 7])
        }
        seeds["scalar"] = file { w in w.add("logit_scale", shape: [], floats: [4.6]) }
        // The smallest CLIP that inferConfig recognises: width 8, one block per tower, patch 2, grid 2.
        let tiny = CLIPConfig(vision: .init(width: 8, layers: 1, heads: 1, patchSize: 2, imageSize: 4, mlpWidth: 4),
                              text: .init(width: 8, layers: 1, heads: 1, contextLength: 4, vocabularySize: 8, mlpWidth: 4), embedDim: 2)
        seeds["tiny-clip"] = file { w in
            for (name, shape) in CLIPLayout.tensors(tiny) {
                let n = shape.reduce(1, *)
                w.add(name, shape: shape, floats: (0 ..< n).map { Float($0 % 7) * 0.01 })
            }
        }
        return seeds
    }
}
