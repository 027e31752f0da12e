import ClipoodIO
import Foundation

/// Element types a safetensors file may hold. Floating types load into Float32.
public enum DType: String, Sendable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL

    public var size: Int {
        switch self {
        case .F64, .I64: return 8
        case .F32, .I32: return 4
        case .F16, .BF16, .I16: return 2
        case .I8, .U8, .BOOL: return 1
        }
    }
}

/// Everything that can be wrong with a safetensors file: each case names the file and, where
/// there is one, the tensor.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case truncated(file: String, reason: String)
    case badHeader(file: String, reason: String)
    case badTensor(file: String, tensor: String, reason: String)
    case missingTensor(file: String, tensor: String)
    case wrongType(file: String, tensor: String, dtype: String, wanted: String)

    public var description: String {
        switch self {
        case .unreadable(let f, let r): return "cannot read '\(f)': \(r)"
        case .truncated(let f, let r): return "'\(f)' is truncated: \(r)"
        case .badHeader(let f, let r): return "'\(f)' is not a valid safetensors file: \(r)"
        case .badTensor(let f, let t, let r): return "'\(f)': tensor '\(t)' \(r)"
        case .missingTensor(let f, let t): return "'\(f)' has no tensor '\(t)'"
        case .wrongType(let f, let t, let d, let w): return "'\(f)': tensor '\(t)' is \(d), expected \(w)"
        }
    }
}

/// A safetensors file opened for reading (memory-mapped), with its header fully validated.
///
/// Format: an 8-byte little-endian header length n, n bytes of JSON mapping each tensor name
/// to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the data section) plus an
/// optional "__metadata__" string map, then the data. Every offset, shape and byte count is
/// checked on open, so reading a tensor later cannot run past the file.
public struct SafeTensorsFile {
    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let begin: Int
        public let end: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public let path: String
    public let metadata: [String: String]
    public let entries: [String: Entry]
    private let data: Data
    private let dataStart: Int

    /// Tensor names in file order.
    public var names: [String] { entries.values.sorted { $0.begin < $1.begin || ($0.begin == $1.begin && $0.name < $1.name) }.map(\.name) }

    public init(path: String) throws {
        self.path = path
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            let exists = FileManager.default.fileExists(atPath: path)
            throw SafeTensorsError.unreadable(file: path, reason: exists ? "permission denied or I/O error" : "no such file")
        }
        self.data = data
        guard data.count >= 8 else {
            throw SafeTensorsError.truncated(file: path, reason: "\(data.count) bytes, shorter than the 8-byte header length")
        }
        let headerLength = data.withUnsafeBytes { raw in UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)) }
        guard headerLength >= 2, headerLength <= 100_000_000 else {
            throw SafeTensorsError.badHeader(file: path, reason: "header length \(headerLength) is implausible")
        }
        guard 8 + Int(headerLength) <= data.count else {
            throw SafeTensorsError.truncated(file: path, reason: "header says \(headerLength) bytes of JSON but the file has \(data.count - 8) after the length")
        }
        dataStart = 8 + Int(headerLength)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data.subdata(in: 8 ..< dataStart)) } catch {
            throw SafeTensorsError.badHeader(file: path, reason: "the header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw SafeTensorsError.badHeader(file: path, reason: "the header is not a JSON object") }
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        let dataSize = data.count - dataStart
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw SafeTensorsError.badHeader(file: path, reason: "__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw SafeTensorsError.badHeader(file: path, reason: "__metadata__['\(k)'] is not a string") }
                    metadata[k] = s
                }
                continue
            }
            func bad(_ reason: String) -> SafeTensorsError { .badTensor(file: path, tensor: name, reason: reason) }
            guard let info = value as? [String: Any] else { throw bad("is not described by an object") }
            guard let dt = info["dtype"] as? String else { throw bad("has no dtype") }
            guard let dtype = DType(rawValue: dt) else { throw bad("has unsupported dtype \(dt)") }
            guard let shapeAny = info["shape"] as? [Any], let shape = shapeAny.map({ ($0 as? NSNumber)?.intValue }) as? [Int],
                  shape.allSatisfy({ $0 >= 0 }) else { throw bad("has no valid shape") }
            guard let offs = info["data_offsets"] as? [Any], offs.count == 2,
                  let begin = (offs[0] as? NSNumber)?.intValue, let end = (offs[1] as? NSNumber)?.intValue else {
                throw bad("has no valid data_offsets")
            }
            guard begin >= 0, begin <= end else { throw bad("has data_offsets [\(begin), \(end)] out of order") }
            guard end <= dataSize else {
                throw SafeTensorsError.truncated(file: path, reason: "tensor '\(name)' ends at byte \(end) of the data but only \(dataSize) bytes follow the header")
            }
            let expected = shape.reduce(1, *) * dtype.size
            guard end - begin == expected else {
                throw bad("has \(end - begin) bytes but shape \(shape) of \(dt) needs \(expected)")
            }
            entries[name] = Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
        }
        // Tensors must not overlap (the format forbids it; an overlap means a corrupt header).
        let sorted = entries.values.filter { $0.end > $0.begin }.sorted { $0.begin < $1.begin }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
            throw SafeTensorsError.badHeader(file: path, reason: "tensors '\(a.name)' and '\(b.name)' overlap")
        }
        self.metadata = metadata
        self.entries = entries
    }

    public func entry(_ name: String) throws -> Entry {
        guard let e = entries[name] else { throw SafeTensorsError.missingTensor(file: path, tensor: name) }
        return e
    }

    /// Converts a floating tensor (F32, F16, BF16, F64) into `count` Floats at `out`.
    public func copyFloats(_ name: String, into out: UnsafeMutablePointer<Float>) throws {
        let e = try entry(name)
        data.withUnsafeBytes { raw in
            let src = raw.baseAddress! + dataStart + e.begin
            let n = e.count
            switch e.dtype {
            case .F32:
                for i in 0 ..< n { out[i] = Float(bitPattern: UInt32(littleEndian: (src + 4 * i).loadUnaligned(as: UInt32.self))) }
            case .F16:
                for i in 0 ..< n { out[i] = floatFromHalf(UInt16(littleEndian: (src + 2 * i).loadUnaligned(as: UInt16.self))) }
            case .BF16:
                for i in 0 ..< n { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: (src + 2 * i).loadUnaligned(as: UInt16.self))) << 16) }
            case .F64:
                for i in 0 ..< n { out[i] = Float(Double(bitPattern: UInt64(littleEndian: (src + 8 * i).loadUnaligned(as: UInt64.self)))) }
            default:
                break
            }
        }
        guard [.F32, .F16, .BF16, .F64].contains(e.dtype) else {
            throw SafeTensorsError.wrongType(file: path, tensor: name, dtype: e.dtype.rawValue, wanted: "a floating type (F32, F16, BF16, F64)")
        }
    }

    public func floats(_ name: String) throws -> [Float] {
        let e = try entry(name)
        var out = [Float](repeating: 0, count: e.count)
        try out.withUnsafeMutableBufferPointer { try copyFloats(name, into: $0.baseAddress!) }
        return out
    }

    /// An integer tensor (I64, I32, I16, I8, U8) as Int32 — token ids, labels, indices.
    public func int32s(_ name: String) throws -> [Int32] {
        let e = try entry(name)
        return try data.withUnsafeBytes { raw -> [Int32] in
            let src = raw.baseAddress! + dataStart + e.begin
            switch e.dtype {
            case .I32: return (0 ..< e.count).map { Int32(littleEndian: (src + 4 * $0).loadUnaligned(as: Int32.self)) }
            case .I64: return (0 ..< e.count).map { Int32(truncatingIfNeeded: Int64(littleEndian: (src + 8 * $0).loadUnaligned(as: Int64.self))) }
            case .I16: return (0 ..< e.count).map { Int32(Int16(littleEndian: (src + 2 * $0).loadUnaligned(as: Int16.self))) }
            case .I8: return (0 ..< e.count).map { Int32((src + $0).load(as: Int8.self)) }
            case .U8, .BOOL: return (0 ..< e.count).map { Int32((src + $0).load(as: UInt8.self)) }
            default: throw SafeTensorsError.wrongType(file: path, tensor: name, dtype: e.dtype.rawValue, wanted: "an integer type")
            }
        }
    }

    /// A U8 tensor's bytes (decoded images in fixtures).
    public func bytes(_ name: String) throws -> [UInt8] {
        let e = try entry(name)
        guard e.dtype == .U8 else { throw SafeTensorsError.wrongType(file: path, tensor: name, dtype: e.dtype.rawValue, wanted: "U8") }
        return data.withUnsafeBytes { raw in Array(UnsafeRawBufferPointer(rebasing: raw[(dataStart + e.begin) ..< (dataStart + e.end)])) }
    }
}

/// IEEE 754 binary16 → binary32, exact for every value including subnormals, inf and NaN.
@inline(__always)
public func floatFromHalf(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = Int((h >> 10) & 0x1f)
    let mant = UInt32(h & 0x3ff)
    if exp == 0x1f { return Float(bitPattern: sign | 0x7f80_0000 | (mant << 13)) }
    if exp == 0 {
        if mant == 0 { return Float(bitPattern: sign) }
        // Subnormal half: mant · 2^-24.
        let v = Float(mant) * (1.0 / 16_777_216.0)
        return sign != 0 ? -v : v
    }
    return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
}

/// Writes safetensors files that PyTorch's `safetensors.torch.load_file` reads back.
public struct SafeTensorsWriter {
    public struct Tensor {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let bytes: Data
    }

    public private(set) var tensors: [Tensor] = []
    public var metadata: [String: String] = [:]

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    public mutating func add(_ name: String, shape: [Int], floats p: UnsafePointer<Float>) {
        let n = shape.reduce(1, *)
        var d = Data(count: n * 4)
        d.withUnsafeMutableBytes { raw in
            for i in 0 ..< n { raw.storeBytes(of: p[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        }
        tensors.append(Tensor(name: name, dtype: .F32, shape: shape, bytes: d))
    }

    public mutating func add(_ name: String, shape: [Int], floats: [Float]) {
        precondition(floats.count == shape.reduce(1, *), "SafeTensorsWriter: \(name) has \(floats.count) values for shape \(shape)")
        floats.withUnsafeBufferPointer { add(name, shape: shape, floats: $0.baseAddress!) }
    }

    public mutating func add(_ name: String, shape: [Int], int32s: [Int32]) {
        precondition(int32s.count == shape.reduce(1, *))
        var d = Data(count: int32s.count * 4)
        d.withUnsafeMutableBytes { raw in
            for (i, v) in int32s.enumerated() { raw.storeBytes(of: v.littleEndian, toByteOffset: 4 * i, as: Int32.self) }
        }
        tensors.append(Tensor(name: name, dtype: .I32, shape: shape, bytes: d))
    }

    /// The file's bytes: header JSON padded with spaces to a multiple of 8, then the data in order.
    public func serialized() throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for t in tensors {
            precondition(header[t.name] == nil, "SafeTensorsWriter: duplicate tensor \(t.name)")
            header[t.name] = ["dtype": t.dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + t.bytes.count]] as [String: Any]
            offset += t.bytes.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
        for t in tensors { out.append(t.bytes) }
        return out
    }

    /// Writes atomically (`AtomicWrite`: a temporary file renamed into place), so an interrupted
    /// save never leaves a half-written checkpoint behind.
    public func write(to path: String) throws {
        try AtomicWrite.write(serialized(), to: path)
    }
}
