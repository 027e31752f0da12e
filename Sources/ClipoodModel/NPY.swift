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

    public static func read(_ path: String) throws -> Array {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NPYError.unreadable(path, FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Swift.Array(bytes[1 ..< 6]) == Swift.Array("NUMPY".utf8) else {
            throw NPYError.invalid(path, "missing the \\x93NUMPY magic")
        }
        let major = bytes[6]
        let (hlen, hstart): (Int, Int)
        switch major {
        case 1: (hlen, hstart) = (Int(bytes[8]) | Int(bytes[9]) << 8, 10)
        case 2, 3:
            guard bytes.count >= 12 else { throw NPYError.invalid(path, "truncated header") }
            (hlen, hstart) = (Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24, 12)
        default: throw NPYError.invalid(path, "unsupported format version \(major)")
        }
        guard hstart + hlen <= bytes.count, let dict = String(bytes: bytes[hstart ..< hstart + hlen], encoding: .utf8) else {
            throw NPYError.invalid(path, "truncated header")
        }
        func field(_ key: String) -> String? {
            guard let r = dict.range(of: "'\(key)':") else { return nil }
            return String(dict[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), let q1 = descrField.firstIndex(of: "'"),
              let q2 = descrField[descrField.index(after: q1)...].firstIndex(of: "'") else { throw NPYError.invalid(path, "no descr in header") }
        let descr = String(descrField[descrField.index(after: q1) ..< q2])
        if let fo = field("fortran_order"), fo.hasPrefix("True") { throw NPYError.invalid(path, "Fortran-ordered arrays are not supported; save with np.ascontiguousarray") }
        guard let shapeField = field("shape"), let open = shapeField.firstIndex(of: "("), let close = shapeField.firstIndex(of: ")") else {
            throw NPYError.invalid(path, "no shape in header")
        }
        let dims = shapeField[shapeField.index(after: open) ..< close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let shape = dims.map({ Int($0) }) as? [Int] else { throw NPYError.invalid(path, "bad shape \(shapeField)") }
        let n = shape.reduce(1, *)
        let start = hstart + hlen
        let sizes: [String: Int] = ["<f4": 4, "<f8": 8, "<i4": 4, "<i8": 8, "|u1": 1, "<f2": 2]
        guard let size = sizes[descr] else { throw NPYError.invalid(path, "dtype \(descr) is not supported (use float32 or int32)") }
        guard bytes.count - start == n * size else {
            throw NPYError.invalid(path, "shape \(shape) of \(descr) needs \(n * size) bytes of data, the file has \(bytes.count - start)")
        }
        return bytes.withUnsafeBytes { raw -> Array in
            let p = raw.baseAddress! + start
            switch descr {
            case "<f4": return Array(shape: shape, floats: (0 ..< n).map { Float(bitPattern: UInt32(littleEndian: (p + 4 * $0).loadUnaligned(as: UInt32.self))) }, ints: [], element: .float32)
            case "<f8": return Array(shape: shape, floats: (0 ..< n).map { Float(Double(bitPattern: UInt64(littleEndian: (p + 8 * $0).loadUnaligned(as: UInt64.self)))) }, ints: [], element: .float32)
            case "<f2": return Array(shape: shape, floats: (0 ..< n).map { floatFromHalf(UInt16(littleEndian: (p + 2 * $0).loadUnaligned(as: UInt16.self))) }, ints: [], element: .float32)
            case "<i4": return Array(shape: shape, floats: [], ints: (0 ..< n).map { Int32(littleEndian: (p + 4 * $0).loadUnaligned(as: Int32.self)) }, element: .int32)
            case "<i8": return Array(shape: shape, floats: [], ints: (0 ..< n).map { Int32(truncatingIfNeeded: Int64(littleEndian: (p + 8 * $0).loadUnaligned(as: Int64.self))) }, element: .int32)
            default: return Array(shape: shape, floats: [], ints: (0 ..< n).map { Int32((p + $0).load(as: UInt8.self)) }, element: .int32)
            }
        }
    }
}
