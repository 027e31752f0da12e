import ClipoodEngine
import ClipoodModel
import Foundation
import TestSupport
import Testing

@Suite("safetensors and .npy files")
struct FileFormatTests {
    let dir = makeTemporaryDirectory("clipood-formats")

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    @Test func safetensorsRoundTrip() throws {
        var w = SafeTensorsWriter(metadata: ["step": "3"])
        w.add("a.weight", shape: [2, 3], floats: [1, 2, 3, 4, 5, -6.5])
        w.add("ids", shape: [3], int32s: [7, -1, 49407])
        try w.write(to: path("t.safetensors"))
        let f = try SafeTensorsFile(path: path("t.safetensors"))
        #expect(f.metadata == ["step": "3"])
        #expect(f.names == ["a.weight", "ids"])
        #expect(try f.floats("a.weight") == [1, 2, 3, 4, 5, -6.5])
        #expect(try f.int32s("ids") == [7, -1, 49407])
        #expect(f.entries["a.weight"]?.shape == [2, 3])
        // The header is padded to 8 bytes, as the Python library writes it.
        let data = try Data(contentsOf: URL(fileURLWithPath: path("t.safetensors")))
        let n = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(n % 8 == 0)
    }

    @Test func halfAndBFloat16Conversion() {
        #expect(floatFromHalf(0x3C00) == 1)
        #expect(floatFromHalf(0xC000) == -2)
        #expect(floatFromHalf(0x7BFF) == 65504)
        #expect(floatFromHalf(0x0001) == 5.960464477539063e-08)   // smallest subnormal
        #expect(floatFromHalf(0x7C00) == .infinity)
        #expect(floatFromHalf(0x7E00).isNaN)
        #expect(floatFromHalf(0x8000).sign == .minus)
    }

    func expectError(_ file: String, contains text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try SafeTensorsFile(path: path(file))
            Issue.record("no error for \(file)", sourceLocation: sourceLocation)
        } catch {
            let message = String(describing: error)
            #expect(message.contains(path(file)), "error does not name the file: \(message)", sourceLocation: sourceLocation)
            #expect(message.contains(text), "\(message)", sourceLocation: sourceLocation)
        }
    }

    @Test func corruptFilesGiveOneClearError() throws {
        var w = SafeTensorsWriter()
        w.add("w", shape: [4, 4], floats: [Float](repeating: 1, count: 16))
        let good = try w.serialized()
        try good.prefix(good.count - 10).write(to: URL(fileURLWithPath: path("truncated.safetensors")))
        expectError("truncated.safetensors", contains: "is truncated: tensor 'w' ends at byte 64")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path("tiny.safetensors")))
        expectError("tiny.safetensors", contains: "shorter than the 8-byte header length")
        var bad = good
        bad[8] = UInt8(ascii: "#")   // break the JSON: its opening brace
        try bad.write(to: URL(fileURLWithPath: path("json.safetensors")))
        expectError("json.safetensors", contains: "not valid JSON")
        let header = #"{"w":{"dtype":"F32","shape":[4,5],"data_offsets":[0,64]}}"#
        var lying = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { lying.append(contentsOf: $0) }
        lying.append(header.data(using: .utf8)!)
        lying.append(Data(count: 64))
        try lying.write(to: URL(fileURLWithPath: path("shape.safetensors")))
        expectError("shape.safetensors", contains: "tensor 'w' has 64 bytes but shape [4, 5] of F32 needs 80")
        try "hello, not a tensor file at all".write(toFile: path("text.safetensors"), atomically: true, encoding: .utf8)
        expectError("text.safetensors", contains: "not a valid safetensors file")
        expectError("absent.safetensors", contains: "no such file")
    }

    /// A checkpoint with a wrong-shape tensor, a missing tensor, or extra tensors.
    @Test func checkpointProblemsNameTheTensor() throws {
        let src = try SafeTensorsFile(path: fixtureDirectory.appendingPathComponent("openai_noconfig.safetensors").path)
        func rewrite(_ name: String, transform: (String, [Int], [Float]) -> (String, [Int], [Float])?) throws -> String {
            var w = SafeTensorsWriter()
            for n in src.names {
                let e = src.entries[n]!
                if let (nn, shape, values) = transform(n, e.shape, try src.floats(n)) { w.add(nn, shape: shape, floats: values) }
            }
            try w.write(to: path(name))
            return path(name)
        }
        let missing = try rewrite("missing.safetensors") { n, s, v in n == "visual.ln_post.bias" ? nil : (n, s, v) }
        #expect(throws: CheckpointError.self) { try CheckpointLoader.load(path: missing) }
        do { _ = try CheckpointLoader.load(path: missing) } catch {
            #expect(String(describing: error) == "'\(missing)' lacks 1 tensor the model needs: visual.ln_post.bias")
        }
        let wrong = try rewrite("wrong.safetensors") { n, s, v in
            n == "visual.transformer.resblocks.1.mlp.c_fc.bias" ? (n, [s[0] - 1], Array(v.dropLast())) : (n, s, v)
        }
        do { _ = try CheckpointLoader.load(path: wrong); Issue.record("loaded a wrong shape") } catch {
            #expect(String(describing: error).contains("tensor 'visual.transformer.resblocks.1.mlp.c_fc.bias' has shape [255], expected [256]"))
        }
        let extra = try rewrite("extra.safetensors") { n, s, v in (n, s, v) }
        var w = SafeTensorsWriter()
        for n in try SafeTensorsFile(path: extra).names { w.add(n, shape: src.entries[n]!.shape, floats: try src.floats(n)) }
        w.add("visual.attnpool.weight", shape: [2], floats: [1, 2])
        w.add("text.position_ids", shape: [2], floats: [0, 1])
        try w.write(to: path("extra.safetensors"))
        let loaded = try CheckpointLoader.load(path: path("extra.safetensors"))
        #expect(loaded.unexpectedTensors == ["visual.attnpool.weight"])   // buffers like position_ids are not listed
        do { _ = try CheckpointLoader.load(path: path("nothing-here")); Issue.record("no error") } catch {
            #expect(String(describing: error).hasPrefix("no model at '\(path("nothing-here"))'"))
        }
    }

    @Test func npyRoundTripAndNumpyHeader() throws {
        try NPY.write(floats: [1, 2, 3, 4, 5, 6], shape: [2, 3], to: path("a.npy"))
        let a = try NPY.read(path("a.npy"))
        #expect(a.shape == [2, 3] && a.floats == [1, 2, 3, 4, 5, 6] && a.element == .float32)
        try NPY.write(ints: [49406, 320, 49407], shape: [3], to: path("i.npy"))
        let i = try NPY.read(path("i.npy"))
        #expect(i.shape == [3] && i.ints == [49406, 320, 49407])
        // numpy's layout: magic, version 1.0, header padded so the data starts at a multiple of 64
        // (here 128: 10 bytes of preamble + a 60-character dict do not fit in 64).
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("a.npy"))))
        #expect(bytes.count == 128 + 24)
        let header = String(decoding: bytes[10 ..< 128], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
        #expect(header.hasSuffix("\n"))
        try Data("nope".utf8).write(to: URL(fileURLWithPath: path("bad.npy")))
        #expect(throws: NPY.NPYError.self) { try NPY.read(path("bad.npy")) }
    }
}
