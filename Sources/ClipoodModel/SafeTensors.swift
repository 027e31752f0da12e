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

/// The validated header of a safetensors file: every tensor's dtype, shape and byte range.
///
/// Format: an 8-byte little-endian header length n, n bytes of JSON mapping each tensor name
/// to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the data section) plus an
/// optional "__metadata__" string map, then the data. `parse` checks everything before anything
/// is allocated from it: shapes and offsets are integer literals (a fraction, an exponent or a
/// number beyond Int is refused, never truncated), element counts and byte sizes are computed
/// with overflow-checked arithmetic, every tensor's bytes lie inside the file, tensors do not
/// overlap, and names are not repeated. Reading a tensor afterwards cannot run past the file.
public struct SafeTensorsHeader: Sendable {
    /// The largest header accepted (the JSON part), in bytes.
    public static let maxHeaderBytes = 100_000_000
    /// The most dimensions a tensor may have.
    public static let maxRank = 16
    /// Deepest JSON nesting a header may use (a valid one needs 3).
    public static let maxJSONDepth = 8

    public let metadata: [String: String]
    public let entries: [String: SafeTensorsFile.Entry]
    /// Offset of the data section from the start of the file (8 + the header length).
    public let dataStart: Int
    /// The size of the whole file the header was checked against.
    public let fileSize: Int

    /// Parses and validates a header from the first bytes of a file — at least the 8-byte
    /// length and the JSON it announces; more (the whole file) is fine. `fileSize` is the size of
    /// the whole file (default: `bytes.count`); `file` names it in errors. A pure function of
    /// its arguments: it reads no file, so a fuzzer can call it on any bytes.
    public static func parse(_ bytes: Data, fileSize: Int? = nil, file: String = "(in memory)") throws -> SafeTensorsHeader {
        let fileSize = fileSize ?? bytes.count
        guard fileSize >= bytes.count else {
            throw SafeTensorsError.badHeader(file: file, reason: "\(bytes.count) bytes were given for a file of \(fileSize)")
        }
        guard bytes.count >= 8 else {
            throw SafeTensorsError.truncated(file: file, reason: "\(bytes.count) bytes, shorter than the 8-byte header length")
        }
        let b0 = bytes.startIndex
        var headerLength: UInt64 = 0
        for k in 0 ..< 8 { headerLength |= UInt64(bytes[b0 + k]) << (8 * UInt64(k)) }
        guard headerLength >= 2, headerLength <= UInt64(maxHeaderBytes) else {
            throw SafeTensorsError.badHeader(file: file, reason: "header length \(headerLength) is implausible (2 to \(maxHeaderBytes) bytes)")
        }
        let n = Int(headerLength)
        guard n <= fileSize - 8 else {
            throw SafeTensorsError.truncated(file: file, reason: "header says \(headerLength) bytes of JSON but the file has \(fileSize - 8) after the length")
        }
        guard n <= bytes.count - 8 else {
            throw SafeTensorsError.truncated(file: file, reason: "header says \(headerLength) bytes of JSON but only \(bytes.count - 8) were given")
        }
        let dataStart = 8 + n
        let json: JSONValue
        do { json = try StrictJSON.parse(bytes[(b0 + 8) ..< (b0 + dataStart)], maxDepth: maxJSONDepth) } catch {
            throw SafeTensorsError.badHeader(file: file, reason: "the header is not valid JSON (\(error))")
        }
        guard let header = json.object else { throw SafeTensorsError.badHeader(file: file, reason: "the header is not a JSON object") }
        if let dup = header.firstDuplicateKey {
            throw SafeTensorsError.badHeader(file: file, reason: "the header names '\(dup)' twice")
        }
        let dataSize = fileSize - dataStart
        var metadata: [String: String] = [:]
        var entries: [String: SafeTensorsFile.Entry] = [:]
        for (name, value) in header.members {
            if name == "__metadata__" {
                guard let m = value.object else { throw SafeTensorsError.badHeader(file: file, reason: "__metadata__ is not an object") }
                for (k, v) in m.members {
                    guard let s = v.string else { throw SafeTensorsError.badHeader(file: file, reason: "__metadata__['\(k)'] is not a string") }
                    metadata[k] = s
                }
                continue
            }
            func bad(_ reason: String) -> SafeTensorsError { .badTensor(file: file, tensor: name, reason: reason) }
            guard let info = value.object else { throw bad("is not described by an object") }
            guard let dt = info["dtype"]?.string else { throw bad("has no dtype") }
            guard let dtype = DType(rawValue: dt) else { throw bad("has unsupported dtype \(dt)") }
            guard let dims = info["shape"]?.array else { throw bad("has no shape (a list of sizes)") }
            guard dims.count <= maxRank else { throw bad("has \(dims.count) dimensions, more than \(maxRank)") }
            var shape: [Int] = []
            for d in dims {
                guard let k = d.int, k >= 0 else { throw bad("has shape entry \(d.brief), not a whole number from 0 to \(Int.max)") }
                shape.append(k)
            }
            guard let offs = info["data_offsets"]?.array, offs.count == 2 else { throw bad("has no data_offsets [begin, end]") }
            guard let begin = offs[0].int, let end = offs[1].int, begin >= 0, end >= 0 else {
                throw bad("has data_offsets [\(offs[0].brief), \(offs[1].brief)], not whole numbers from 0 to \(Int.max)")
            }
            guard begin <= end else { throw bad("has data_offsets [\(begin), \(end)] out of order") }
            guard end <= dataSize else {
                throw SafeTensorsError.truncated(file: file, reason: "tensor '\(name)' ends at byte \(end) of the data but only \(dataSize) bytes follow the header")
            }
            guard let count = Checked.product(shape), let expected = Checked.multiply(count, dtype.size) else {
                throw bad("has shape \(shape), whose size overflows")
            }
            guard end - begin == expected else {
                throw bad("has \(end - begin) bytes but shape \(shape) of \(dt) needs \(expected)")
            }
            entries[name] = SafeTensorsFile.Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end, count: count)
        }
        // Tensors must not overlap (the format forbids it; an overlap means a corrupt header).
        let sorted = entries.values.filter { $0.end > $0.begin }.sorted { $0.begin < $1.begin }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
            throw SafeTensorsError.badHeader(file: file, reason: "tensors '\(a.name)' and '\(b.name)' overlap")
        }
        return SafeTensorsHeader(metadata: metadata, entries: entries, dataStart: dataStart, fileSize: fileSize)
    }
}

/// A safetensors file opened for reading (memory-mapped), with its header fully validated by
/// `SafeTensorsHeader.parse`, so reading a tensor later cannot run past the file.
public struct SafeTensorsFile {
    /// The largest safetensors file opened (256 GiB: far beyond any CLIP checkpoint).
    public static let maxFileBytes = 1 << 38

    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range inside the data section.
        public let begin: Int
        public let end: Int
        /// The number of elements (the product of `shape`, checked not to overflow).
        public let count: Int
    }

    public let path: String
    public let metadata: [String: String]
    public let entries: [String: Entry]
    private let data: Data
    private let dataStart: Int

    /// Tensor names in file order.
    public var names: [String] { entries.values.sorted { $0.begin < $1.begin || ($0.begin == $1.begin && $0.name < $1.name) }.map(\.name) }

    /// The sum of every tensor's element count: the most parameters the file can supply.
    public var totalElements: Int { entries.values.reduce(0) { Checked.add($0, $1.count) ?? Int.max } }

    /// Opens (memory-maps) a regular file of at most `maxFileBytes` and validates its header.
    public init(path: String) throws {
        let data: Data
        do { data = try FileReading.mapped(path, limit: Self.maxFileBytes) } catch let e as IOFailure {
            throw SafeTensorsError.unreadable(file: path, reason: e.reason)
        }
        try self.init(bytes: data, path: path)
    }

    /// A safetensors file held in memory; `path` names it in errors.
    public init(bytes: Data, path: String = "(in memory)") throws {
        let data = bytes.startIndex == 0 ? bytes : Data(bytes)
        let header = try SafeTensorsHeader.parse(data, file: path)
        self.path = path
        self.data = data
        self.dataStart = header.dataStart
        self.metadata = header.metadata
        self.entries = header.entries
    }

    public func entry(_ name: String) throws -> Entry {
        guard let e = entries[name] else { throw SafeTensorsError.missingTensor(file: path, tensor: name) }
        return e
    }

    /// Converts a floating tensor (F32, F16, BF16, F64) into `count` Floats at `out`, which must
    /// have room for the tensor's `count` elements.
    public func copyFloats(_ name: String, into out: UnsafeMutablePointer<Float>) throws {
        let e = try entry(name)
        guard [.F32, .F16, .BF16, .F64].contains(e.dtype) else {
            throw SafeTensorsError.wrongType(file: path, tensor: name, dtype: e.dtype.rawValue, wanted: "a floating type (F32, F16, BF16, F64)")
        }
        data.withUnsafeBytes { raw in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[(dataStart + e.begin) ..< (dataStart + e.end)])
            let src = bytes.baseAddress ?? raw.baseAddress!
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
    }

    public func floats(_ name: String) throws -> [Float] {
        let e = try entry(name)
        var out = [Float](repeating: 0, count: e.count)
        try out.withUnsafeMutableBufferPointer { try copyFloats(name, into: $0.baseAddress!) }
        return out
    }

    /// An integer tensor (I64, I32, I16, I8, U8) as Int32 — token ids, labels, indices. An I64
    /// value outside Int32's range is an error, not truncated.
    public func int32s(_ name: String) throws -> [Int32] {
        let e = try entry(name)
        return try data.withUnsafeBytes { raw -> [Int32] in
            let src = raw.baseAddress! + dataStart + e.begin
            switch e.dtype {
            case .I32: return (0 ..< e.count).map { Int32(littleEndian: (src + 4 * $0).loadUnaligned(as: Int32.self)) }
            case .I64:
                return try (0 ..< e.count).map { k -> Int32 in
                    let v = Int64(littleEndian: (src + 8 * k).loadUnaligned(as: Int64.self))
                    guard let small = Int32(exactly: v) else {
                        throw SafeTensorsError.badTensor(file: path, tensor: name, reason: "holds \(v) at index \(k), outside the 32-bit range")
                    }
                    return small
                }
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
