import ClipoodIO
import Foundation

/// NumPy's .npy format (versions 1.0–3.0 read, 1.0 written): little-endian float32 and int32
/// arrays in C order, the way `np.save` / `np.load` exchange them.
public enum NPY {
    public enum Element: Equatable, Sendable {
        case float32, int32
        var descr: String { self == .float32 ? "<f4" : "<i4" }
    }

    public struct Array: Equatable {
        public var shape: [Int]
        public var floats: [Float]     // filled for float arrays (and converted ints on request)
        public var ints: [Int32]       // filled for integer arrays
        public var element: Element
        public var count: Int { shape.reduce(1, *) }
    }

    public enum NPYError: Error, CustomStringConvertible {
        case unreadable(String, String)
        case invalid(String, String)
        public var description: String {
            switch self {
            case .unreadable(let f, let r): return "cannot read '\(f)': \(r)"
            case .invalid(let f, let r): return "'\(f)' is not a usable .npy file: \(r)"
            }
        }
    }

    // MARK: Writing

    public static func write(floats: UnsafePointer<Float>, shape: [Int], to path: String) throws {
        let n = shape.reduce(1, *)
        var body = Data(count: n * 4)
        body.withUnsafeMutableBytes { raw in
            for i in 0 ..< n { raw.storeBytes(of: floats[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        }
        try write(body: body, element: .float32, shape: shape, to: path)
    }

    public static func write(floats: [Float], shape: [Int], to path: String) throws {
        precondition(floats.count == shape.reduce(1, *), "NPY.write: \(floats.count) values for shape \(shape)")
        try floats.withUnsafeBufferPointer { try write(floats: $0.baseAddress!, shape: shape, to: path) }
    }

    public static func write(ints: [Int32], shape: [Int], to path: String) throws {
        precondition(ints.count == shape.reduce(1, *), "NPY.write: \(ints.count) values for shape \(shape)")
        var body = Data(count: ints.count * 4)
        body.withUnsafeMutableBytes { raw in
            for (i, v) in ints.enumerated() { raw.storeBytes(of: v.littleEndian, toByteOffset: 4 * i, as: Int32.self) }
        }
        try write(body: body, element: .int32, shape: shape, to: path)
    }

    static func header(element: Element, shape: [Int]) -> Data {
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(element.descr)', 'fortran_order': False, 'shape': \(dims), }"
        // magic (6) + version (2) + length (2) + dict + padding + "\n" is a multiple of 64.
        let total = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out = Data([0x93] + Swift.Array("NUMPY".utf8) + [1, 0])
        let len = UInt16(dict.utf8.count)
        out.append(contentsOf: [UInt8(len & 0xff), UInt8(len >> 8)])
        out.append(dict.data(using: .ascii)!)
        return out
    }

    static func write(body: Data, element: Element, shape: [Int], to path: String) throws {
        var out = header(element: element, shape: shape)
        out.append(body)
        try AtomicWrite.write(out, to: path)
    }

    // MARK: Reading

    /// The largest .npy file read (16 GiB).
    public static let maxFileBytes = 1 << 34
    /// The largest header accepted (numpy itself refuses headers over 10 000 bytes by default).
    public static let maxHeaderBytes = 65_536
    /// The most dimensions an array may have (numpy's own limit is 64).
    public static let maxRank = 64

    /// What a .npy header says: the element type, the shape, and where the data starts.
    public struct Header: Equatable, Sendable {
        /// numpy's type string ("<f4", "<i8", …), one of those `read` converts.
        public var descr: String
        public var shape: [Int]
        /// The number of elements (the product of `shape`, checked not to overflow).
        public var count: Int
        /// Bytes per element.
        public var elementSize: Int
        /// Offset of the first data byte from the start of the file.
        public var dataStart: Int
        /// count × elementSize (checked not to overflow).
        public var dataBytes: Int
    }

    /// Element types `read` converts, with their sizes.
    static let elementSizes: [String: Int] = ["<f4": 4, "<f8": 8, "<f2": 2, "<i4": 4, "<i8": 8, "|u1": 1]

    /// Parses and validates a .npy header from the first bytes of a file (the whole file is
    /// fine): the magic, the version, the header length, and the header's Python dict literal
    /// with exactly the keys 'descr', 'fortran_order' and 'shape'. Shape entries must be
    /// non-negative integers whose product (times the element size) does not overflow. Any bytes
    /// give either a header or an `NPYError` — never a crash. Reads no file: a fuzzer can call it.
    public static func parseHeader(_ bytes: Data, file: String = "(in memory)") throws -> Header {
        func invalid(_ reason: String) -> NPYError { .invalid(file, reason) }
        let b = bytes.startIndex
        guard bytes.count >= 10, bytes[b] == 0x93, bytes[(b + 1) ..< (b + 6)].elementsEqual("NUMPY".utf8) else {
            throw invalid("missing the \\x93NUMPY magic")
        }
        let major = bytes[b + 6]
        let hlen: Int, hstart: Int
        switch major {
        case 1: (hlen, hstart) = (Int(bytes[b + 8]) | Int(bytes[b + 9]) << 8, 10)
        case 2, 3:
            guard bytes.count >= 12 else { throw invalid("truncated header") }
            (hlen, hstart) = (Int(bytes[b + 8]) | Int(bytes[b + 9]) << 8 | Int(bytes[b + 10]) << 16 | Int(bytes[b + 11]) << 24, 12)
        default: throw invalid("unsupported format version \(major)")
        }
        guard hlen <= maxHeaderBytes else { throw invalid("the header is \(hlen) bytes, more than \(maxHeaderBytes)") }
        guard hlen <= bytes.count - hstart else { throw invalid("truncated header: it announces \(hlen) bytes, \(bytes.count - hstart) follow") }
        let dictBytes = bytes[(b + hstart) ..< (b + hstart + hlen)]
        guard dictBytes.allSatisfy({ $0 < 0x80 }) else { throw invalid("the header is not ASCII text") }
        var reader = PythonLiteralReader(text: Swift.Array(dictBytes))
        let dict: [String: PythonLiteralReader.Value]
        do { dict = try reader.headerDict() } catch let e as PythonLiteralReader.Failure {
            throw invalid("the header is not a Python dict literal (\(e.reason) at byte \(e.offset))")
        }
        guard Set(dict.keys) == ["descr", "fortran_order", "shape"] else {
            throw invalid("the header has keys \(dict.keys.sorted()); it needs exactly 'descr', 'fortran_order' and 'shape'")
        }
        guard case .string(let descr)? = dict["descr"] else { throw invalid("'descr' is not a string") }
        guard case .bool(let fortran)? = dict["fortran_order"] else { throw invalid("'fortran_order' is not True or False") }
        guard case .tuple(let dims)? = dict["shape"] else { throw invalid("'shape' is not a tuple") }
        if fortran { throw invalid("Fortran-ordered arrays are not supported; save with np.ascontiguousarray") }
        guard dims.count <= maxRank else { throw invalid("the shape has \(dims.count) dimensions, more than \(maxRank)") }
        var shape: [Int] = []
        for d in dims {
            guard let k = Int(d), k >= 0 else { throw invalid("shape entry \(d.prefix(40)) is not a whole number from 0 to \(Int.max)") }
            shape.append(k)
        }
        guard let size = elementSizes[descr] else {
            throw invalid("dtype \(descr.prefix(40)) is not supported (use float32 or int32)")
        }
        guard let count = Checked.product(shape), let dataBytes = Checked.multiply(count, size) else {
            throw invalid("shape \(shape) of \(descr) is too large: its size overflows")
        }
        return Header(descr: descr, shape: shape, count: count, elementSize: size, dataStart: hstart + hlen, dataBytes: dataBytes)
    }

    /// An array from a file's bytes (header and data); `file` names it in errors.
    public static func parse(_ bytes: Data, file: String = "(in memory)") throws -> Array {
        let h = try parseHeader(bytes, file: file)
        guard bytes.count - h.dataStart == h.dataBytes else {
            throw NPYError.invalid(file, "shape \(h.shape) of \(h.descr) needs \(h.dataBytes) bytes of data, the file has \(bytes.count - h.dataStart)")
        }
        let n = h.count
        return try bytes.withUnsafeBytes { raw -> Array in
            let p = raw.baseAddress! + h.dataStart
            switch h.descr {
            case "<f4": return Array(shape: h.shape, floats: (0 ..< n).map { Float(bitPattern: UInt32(littleEndian: (p + 4 * $0).loadUnaligned(as: UInt32.self))) }, ints: [], element: .float32)
            case "<f8": return Array(shape: h.shape, floats: (0 ..< n).map { Float(Double(bitPattern: UInt64(littleEndian: (p + 8 * $0).loadUnaligned(as: UInt64.self)))) }, ints: [], element: .float32)
            case "<f2": return Array(shape: h.shape, floats: (0 ..< n).map { floatFromHalf(UInt16(littleEndian: (p + 2 * $0).loadUnaligned(as: UInt16.self))) }, ints: [], element: .float32)
            case "<i4": return Array(shape: h.shape, floats: [], ints: (0 ..< n).map { Int32(littleEndian: (p + 4 * $0).loadUnaligned(as: Int32.self)) }, element: .int32)
            case "<i8":
                let ints = try (0 ..< n).map { k -> Int32 in
                    let v = Int64(littleEndian: (p + 8 * k).loadUnaligned(as: Int64.self))
                    guard let small = Int32(exactly: v) else { throw NPYError.invalid(file, "element \(k) is \(v), outside the 32-bit range") }
                    return small
                }
                return Array(shape: h.shape, floats: [], ints: ints, element: .int32)
            default: return Array(shape: h.shape, floats: [], ints: (0 ..< n).map { Int32((p + $0).load(as: UInt8.self)) }, element: .int32)
            }
        }
    }

    /// Reads a regular file of at most `maxFileBytes`.
    public static func read(_ path: String) throws -> Array {
        let data: Data
        do { data = try FileReading.read(path, limit: maxFileBytes) } catch let e as IOFailure {
            throw NPYError.unreadable(path, e.reason)
        }
        return try parse(data, file: path)
    }
}

/// The little Python literal grammar of a .npy header: a dict whose keys are strings and whose
/// values are strings, True/False, or tuples of integers — `{'descr': '<f4', 'fortran_order':
/// False, 'shape': (2, 3), }` — followed by spaces and a newline.
struct PythonLiteralReader {
    enum Value: Equatable { case string(String), bool(Bool), tuple([String]) }
    struct Failure: Error { let reason: String; let offset: Int }

    let text: [UInt8]
    var i = 0

    init(text: [UInt8]) { self.text = text }

    func fail(_ reason: String) -> Failure { Failure(reason: reason, offset: i) }

    mutating func space() { while i < text.count, text[i] == 0x20 || text[i] == 0x09 || text[i] == 0x0A || text[i] == 0x0D { i += 1 } }

    mutating func take(_ c: Character) -> Bool {
        space()
        if i < text.count, text[i] == c.asciiValue! { i += 1; return true }
        return false
    }

    mutating func string() throws -> String {
        space()
        guard i < text.count, text[i] == 0x27 || text[i] == 0x22 else { throw fail("expected a quoted string") }
        let quote = text[i]
        i += 1
        let start = i
        while i < text.count, text[i] != quote {
            guard text[i] != 0x5C, text[i] >= 0x20 else { throw fail("unexpected character in a string") }
            i += 1
        }
        guard i < text.count else { throw fail("unterminated string") }
        defer { i += 1 }
        return String(decoding: text[start ..< i], as: UTF8.self)
    }

    /// An integer literal's digits (an optional sign, then digits; an 'L' suffix as old numpy wrote).
    mutating func integer() throws -> String {
        space()
        let start = i
        if i < text.count, text[i] == 0x2D || text[i] == 0x2B { i += 1 }
        let digits = i
        while i < text.count, text[i] >= 0x30, text[i] <= 0x39 { i += 1 }
        guard i > digits else { throw fail("expected an integer") }
        let literal = String(decoding: text[start ..< i], as: UTF8.self)
        if i < text.count, text[i] == 0x4C { i += 1 }
        return literal
    }

    mutating func value() throws -> Value {
        space()
        guard i < text.count else { throw fail("the header ends where a value should be") }
        switch text[i] {
        case 0x27, 0x22: return .string(try string())
        case 0x54, 0x46:
            for (word, v) in [("True", true), ("False", false)] where text[i...].starts(with: word.utf8) {
                i += word.utf8.count
                return .bool(v)
            }
            throw fail("unknown word")
        case 0x28:
            i += 1
            var items: [String] = []
            if take(")") { return .tuple(items) }
            while true {
                items.append(try integer())
                if take(")") { return .tuple(items) }
                guard take(",") else { throw fail("expected ',' or ')' in a tuple") }
                if take(")") { return .tuple(items) }
            }
        default: throw fail("unexpected character where a value should be")
        }
    }

    mutating func headerDict() throws -> [String: Value] {
        guard take("{") else { throw fail("expected '{'") }
        var out: [String: Value] = [:]
        if !take("}") {
            while true {
                let key = try string()
                guard take(":") else { throw fail("expected ':'") }
                guard out[key] == nil else { throw fail("key '\(key)' appears twice") }
                out[key] = try value()
                if take("}") { break }
                guard take(",") else { throw fail("expected ',' or '}'") }
                if take("}") { break }
            }
        }
        space()
        guard i == text.count else { throw fail("unexpected text after the dict") }
        return out
    }
}
