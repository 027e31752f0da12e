import ClipoodModel
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing

/// safetensors and .npy files with hostile headers, made byte by byte by the tests. Each must
/// end in one error naming the file and what is wrong — never a crash, a truncation or an
/// allocation the file does not justify — and a good file beside it must still load.
@Suite("hostile safetensors and .npy headers")
struct HostileTensorFileTests {
    let dir = makeTemporaryDirectory("clipood-hostile-tensors")

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A safetensors file: the 8-byte length, `header` as given (no re-encoding: the test
    /// controls every byte of the JSON), then `dataBytes` zero bytes.
    static func safetensors(header: String, dataBytes: Int) -> Data {
        var out = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(Data(header.utf8))
        out.append(Data(count: dataBytes))
        return out
    }

    /// (what, header JSON, data bytes, expected text after the file name)
    static let safetensorsCases: [(String, String, Int, String)] = [
        ("shape product that wraps Int64 to 0",
         #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#, 0,
         "tensor 'w' has shape [4611686018427387904, 4], whose size overflows"),
        ("shape product that wraps to a small positive number",
         #"{"w":{"dtype":"F32","shape":[4294967297,4294967297,4],"data_offsets":[0,64]}}"#, 64,
         "tensor 'w' has shape [4294967297, 4294967297, 4], whose size overflows"),
        ("byte count that wraps after the element count fits",
         #"{"w":{"dtype":"F64","shape":[2305843009213693953],"data_offsets":[0,8]}}"#, 8,
         "tensor 'w' has shape [2305843009213693953], whose size overflows"),
        ("end offset past the file",
         #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[1000000,1000016]}}"#, 16,
         "is truncated: tensor 'w' ends at byte 1000016 of the data but only 16 bytes follow the header"),
        ("end offset at Int.max",
         #"{"w":{"dtype":"U8","shape":[1],"data_offsets":[9223372036854775806,9223372036854775807]}}"#, 1,
         "is truncated: tensor 'w' ends at byte 9223372036854775807"),
        ("offset of 2^64",
         #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,18446744073709551616]}}"#, 16,
         "tensor 'w' has data_offsets [0, 18446744073709551616], not whole numbers from 0 to 9223372036854775807"),
        ("offset of 2^64 + 16 (truncates to 16)",
         #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,18446744073709551632]}}"#, 16,
         "has data_offsets [0, 18446744073709551632], not whole numbers"),
        ("fractional shape",
         #"{"w":{"dtype":"F32","shape":[4.5,4],"data_offsets":[0,64]}}"#, 64,
         "tensor 'w' has shape entry 4.5, not a whole number"),
        ("shape in exponent form",
         #"{"w":{"dtype":"F32","shape":[4e0]"# + #","data_offsets":[0,16]}}"#, 16,
         "tensor 'w' has shape entry 4e0, not a whole number"),
        ("fractional offset",
         #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16.0]}}"#, 16,
         "has data_offsets [0, 16.0], not whole numbers"),
        ("negative shape",
         #"{"w":{"dtype":"F32","shape":[-4,-4],"data_offsets":[0,64]}}"#, 64,
         "tensor 'w' has shape entry -4, not a whole number"),
        ("negative offset",
         #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[-16,0]}}"#, 16,
         "has data_offsets [-16, 0], not whole numbers"),
        ("offsets out of order",
         #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[16,0]}}"#, 16,
         "tensor 'w' has data_offsets [16, 0] out of order"),
        ("shape that does not match the bytes",
         #"{"w":{"dtype":"F32","shape":[4,5],"data_offsets":[0,64]}}"#, 64,
         "tensor 'w' has 64 bytes but shape [4, 5] of F32 needs 80"),
        ("shape given as a string", #"{"w":{"dtype":"F32","shape":"4","data_offsets":[0,16]}}"#, 16, "tensor 'w' has no shape"),
        ("too many dimensions",
         #"{"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}"#, 4,
         "tensor 'w' has 17 dimensions, more than 16"),
        ("unknown dtype", #"{"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}"#, 4, "tensor 'w' has unsupported dtype F8_E4M3"),
        ("overlapping tensors",
         #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, 16,
         "tensors 'a' and 'b' overlap"),
        ("a name twice",
         #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 16,
         "the header names 'w' twice"),
        ("metadata that is not strings", #"{"__metadata__":{"step":3}}"#, 0, "__metadata__['step'] is not a string"),
        ("a header that is a list", #"[1,2,3]"#, 0, "the header is not a JSON object"),
        ("a header nested without end", String(repeating: "[", count: 50_000), 0, "nested more than 8 levels deep"),
        ("a header with NaN", #"{"w":{"dtype":"F32","shape":[NaN],"data_offsets":[0,4]}}"#, 4, "the header is not valid JSON"),
        ("a header cut short", "{\"w\u{7F}\":", 0, "the header is not valid JSON"),
    ]

    @Test("each hostile safetensors header is one error naming the file", arguments: 0 ..< safetensorsCases.count)
    func hostileSafetensors(_ k: Int) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (what, header, dataBytes, expected) = Self.safetensorsCases[k]
        let bytes = Self.safetensors(header: header, dataBytes: dataBytes)
        try bytes.write(to: URL(fileURLWithPath: path("bad.safetensors")))
        do {
            _ = try SafeTensorsFile(path: path("bad.safetensors"))
            Issue.record("\(what): no error")
        } catch let e as SafeTensorsError {
            #expect(e.description.contains("'\(path("bad.safetensors"))'"), "\(what): \(e)")
            #expect(e.description.contains(expected), "\(what): \(e)")
        }
        // The pure parser gives the same answer on the bytes.
        #expect(throws: SafeTensorsError.self, "\(what)") { try SafeTensorsHeader.parse(bytes, file: "mem") }
        // A good file beside it loads.
        var w = SafeTensorsWriter()
        w.add("w", shape: [2, 2], floats: [1, 2, 3, 4])
        try w.write(to: path("good.safetensors"))
        #expect(try SafeTensorsFile(path: path("good.safetensors")).floats("w") == [1, 2, 3, 4])
    }

    @Test("header lengths and sizes that do not fit the file")
    func headerLengths() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        var huge = Data([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        huge.append(Data("{}".utf8))
        #expect(throws: SafeTensorsError.badHeader(file: "m", reason: "header length 18446744073709551615 is implausible (2 to 100000000 bytes)")) {
            try SafeTensorsHeader.parse(huge, file: "m")
        }
        let long = Self.safetensors(header: "{}", dataBytes: 0)
        var lying = long
        lying[0] = 200
        #expect(throws: SafeTensorsError.truncated(file: "m", reason: "header says 200 bytes of JSON but the file has 2 after the length")) {
            try SafeTensorsHeader.parse(lying, file: "m")
        }
        // The prefix of a big file: the header is checked against the whole file's size.
        let header = #"{"w":{"dtype":"F32","shape":[1000,1000],"data_offsets":[0,4000000]}}"#
        let prefix = Self.safetensors(header: header, dataBytes: 0)
        let parsed = try SafeTensorsHeader.parse(prefix, fileSize: prefix.count + 4_000_000)
        #expect(parsed.entries["w"]?.count == 1_000_000 && parsed.dataStart == prefix.count)
        #expect(throws: SafeTensorsError.self) { try SafeTensorsHeader.parse(prefix, fileSize: prefix.count + 3_999_999) }
        #expect(throws: SafeTensorsError.self) { try SafeTensorsHeader.parse(prefix, fileSize: 4) }
        // An I64 value beyond Int32 is refused, not truncated.
        let h = #"{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#
        var bytes = Self.safetensors(header: h, dataBytes: 0)
        var big = Int64(1) << 40
        withUnsafeBytes(of: &big) { bytes.append(contentsOf: $0) }
        let f = try SafeTensorsFile(bytes: bytes, path: "ids.safetensors")
        #expect(throws: SafeTensorsError.badTensor(file: "ids.safetensors", tensor: "ids", reason: "holds 1099511627776 at index 0, outside the 32-bit range")) {
            try f.int32s("ids")
        }
    }

    @Test("special files and folders are refused without reading")
    func specialFiles() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(mkfifo(path("fifo.safetensors"), 0o600) == 0)
        #expect(throws: SafeTensorsError.unreadable(file: path("fifo.safetensors"), reason: "it is not a regular file")) {
            try SafeTensorsFile(path: path("fifo.safetensors"))
        }
        #expect(mkfifo(path("fifo.npy"), 0o600) == 0)
        do { _ = try NPY.read(path("fifo.npy")); Issue.record("read a FIFO") } catch {
            #expect(String(describing: error) == "cannot read '\(path("fifo.npy"))': it is not a regular file")
        }
        try FileManager.default.createDirectory(atPath: path("folder.safetensors"), withIntermediateDirectories: true)
        #expect(throws: SafeTensorsError.unreadable(file: path("folder.safetensors"), reason: "it is a folder")) {
            try SafeTensorsFile(path: path("folder.safetensors"))
        }
        try Data().write(to: URL(fileURLWithPath: path("empty.safetensors")))
        #expect(throws: SafeTensorsError.truncated(file: path("empty.safetensors"), reason: "0 bytes, shorter than the 8-byte header length")) {
            try SafeTensorsFile(path: path("empty.safetensors"))
        }
    }

    // MARK: .npy

    static func npy(_ dict: String, version: UInt8 = 1, data: Int = 0) -> Data {
        var out = Data([0x93] + Array("NUMPY".utf8) + [version, 0])
        let n = dict.utf8.count
        out.append(contentsOf: version == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)])
        out.append(Data(dict.utf8))
        out.append(Data(count: data))
        return out
    }

    static let npyCases: [(String, Data, String)] = [
        ("overflowing shape", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }\n"), "is too large: its size overflows"),
        ("bytes that overflow", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693953,), }\n"), "is too large: its size overflows"),
        ("a shape beyond Int", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551616,), }\n"), "shape entry 18446744073709551616 is not a whole number"),
        ("negative shape", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }\n"), "shape entry -1 is not a whole number"),
        ("fractional shape", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }\n"), "expected ',' or ')' in a tuple"),
        ("shape of names", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (a, b), }\n"), "expected an integer"),
        ("unclosed shape", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, }\n"), "expected an integer"),
        ("missing shape", npy("{'descr': '<f4', 'fortran_order': False, }\n"), "it needs exactly 'descr', 'fortran_order' and 'shape'"),
        ("extra key", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': True}\n", data: 4), "it needs exactly"),
        ("repeated key", npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\n", data: 4), "key 'descr' appears twice"),
        ("unknown dtype", npy("{'descr': '>c16', 'fortran_order': False, 'shape': (1,), }\n", data: 16), "dtype >c16 is not supported"),
        ("Fortran order", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", data: 16), "Fortran-ordered arrays are not supported"),
        ("fortran_order a string", npy("{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,), }\n", data: 4), "'fortran_order' is not True or False"),
        ("shape a string", npy("{'descr': '<f4', 'fortran_order': False, 'shape': '(1,)', }\n", data: 4), "'shape' is not a tuple"),
        ("text after the dict", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x\n", data: 4), "unexpected text after the dict"),
        ("not a dict", npy("['<f4', False, (1,)]\n", data: 4), "expected '{'"),
        ("non-ASCII header", npy("{'descr': '<f4\u{E9}', 'fortran_order': False, 'shape': (1,), }\n", data: 4), "the header is not ASCII text"),
        ("unterminated string", npy("{'descr': '<f4, 'fortran_order': False}\n"), "expected ',' or '}'"),
        ("bad version", { var d = npy("{}"); d[6] = 9; return d }(), "unsupported format version 9"),
        ("header longer than the file", { var d = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n"); d[8] = 0xFF; d[9] = 0x7F; return d }(),
         "truncated header: it announces 32767 bytes"),
        ("version 2 header of 4 GiB", { var d = npy("{}", version: 2); d[8] = 0xFF; d[9] = 0xFF; d[10] = 0xFF; d[11] = 0xFF; return d }(),
         "the header is 4294967295 bytes, more than 65536"),
        ("data shorter than the shape", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000,), }\n", data: 12),
         "shape [1000000] of <f4 needs 4000000 bytes of data, the file has 12"),
        ("no magic", Data("nope, not numpy".utf8), "missing the \\x93NUMPY magic"),
        ("nine bytes", Data([0x93] + Array("NUMPY".utf8) + [1, 0, 0]), "missing the \\x93NUMPY magic"),
    ]

    @Test("each malformed .npy header is one error naming the file", arguments: 0 ..< npyCases.count)
    func malformedNPY(_ k: Int) throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let (what, bytes, expected) = Self.npyCases[k]
        try bytes.write(to: URL(fileURLWithPath: path("bad.npy")))
        do { _ = try NPY.read(path("bad.npy")); Issue.record("\(what): no error") } catch let e as NPY.NPYError {
            #expect(e.description.hasPrefix("'\(path("bad.npy"))' is not a usable .npy file: "), "\(what): \(e)")
            #expect(e.description.contains(expected), "\(what): \(e)")
        }
        try NPY.write(floats: [1, 2, 3], shape: [3], to: path("good.npy"))
        #expect(try NPY.read(path("good.npy")).floats == [1, 2, 3])
    }

    /// Garbled headers: a valid header with bytes overwritten, and random bytes after the
    /// magic. Each is either a header whose size fits the file or an NPYError — never a crash.
    @Test("garbled .npy headers never crash")
    func garbledNPY() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {   // splitmix64
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let valid = Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", data: 24)
        let alphabet = Array("{}()[],:'\" 0123456789-.eTrueFalsdcr<>fi4".utf8)
        var accepted = 0, refused = 0
        for round in 0 ..< 2000 {
            var bytes = valid
            switch round % 3 {
            case 0:   // overwrite a few header bytes with random bytes
                for _ in 0 ..< 1 + Int(next() % 4) { bytes[10 + Int(next() % UInt64(bytes.count - 34))] = UInt8(truncatingIfNeeded: next()) }
            case 1:   // overwrite with characters of the grammar (more likely to get far)
                for _ in 0 ..< 1 + Int(next() % 6) { bytes[10 + Int(next() % UInt64(bytes.count - 34))] = alphabet[Int(next() % UInt64(alphabet.count))] }
            default:  // a random header of random length and random bytes
                let n = Int(next() % 120)
                bytes = Self.npy(String(decoding: (0 ..< n).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }, as: UTF8.self), data: Int(next() % 64))
            }
            do {
                let h = try NPY.parseHeader(bytes, file: "garbled.npy")
                #expect(h.dataBytes == h.count * h.elementSize && h.count == h.shape.reduce(1, *))
                #expect(h.dataStart <= bytes.count)
                if let a = try? NPY.parse(bytes, file: "garbled.npy") { #expect(a.count == h.count) }
                accepted += 1
            } catch let e as NPY.NPYError {
                #expect(e.description.hasPrefix("'garbled.npy' is not a usable .npy file: "))
                refused += 1
            }
        }
        #expect(accepted + refused == 2000 && refused > 1000)
    }
}
