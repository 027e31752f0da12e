import ClipoodIO
import ClipoodModel
import Foundation

// The .npy reader. Accepted arrays: a shape of non-negative dimensions whose product is
// representable, exactly that many values, and exactly the bytes that back them in the file.
enum Harness {
    static func run(_ input: Data) {
        // Today's API reads a path; a parse from Data would take `input` directly.
        let path = Fuzz.file(input, name: "array.npy")
        let array: NPY.Array
        do { array = try NPY.read(path) } catch { Fuzz.checkRefusal(error); return }
        guard let count = Checked.product(array.shape) else { Fuzz.fail("accepted shape \(array.shape): negative or overflowing") }
        switch array.element {
        case .float32: Fuzz.check(array.floats.count == count && array.ints.isEmpty, "float array of shape \(array.shape) holds \(array.floats.count) values")
        case .int32: Fuzz.check(array.ints.count == count && array.floats.isEmpty, "int array of shape \(array.shape) holds \(array.ints.count) values")
        }
        Fuzz.check(count <= input.count, "\(count) values from a \(input.count)-byte file")
    }

    static func seeds() -> [String: Data] {
        let dir = Fuzz.scratch
        var seeds: [String: Data] = [:]
        func add(_ name: String, _ write: (String) throws -> Void) {
            let path = dir + "/" + name
            try! write(path)
            seeds[name] = try! Data(contentsOf: URL(fileURLWithPath: path))
        }
        add("floats-2x3.npy") { try NPY.write(floats: [1, 2, 3, 4, 5, 6], shape: [2, 3], to: $0) }
        add("ints-4.npy") { try NPY.write(ints: [0, -1, 2, 3], shape: [4], to: $0) }
        add("scalar.npy") { try NPY.write(floats: [0.5], shape: [], to: $0) }
        add("empty-0x5.npy") { try NPY.write(floats: [], shape: [0, 5], to: $0) }
        // Version 2.0 and other element types, by hand (NPY.write writes 1.0, <f4 / <i4 only).
        func npy(major: UInt8, dict: String, body: [UInt8]) -> Data {
            var d = Data([0x93] + Array("NUMPY".utf8) + [major, 0])
            let header = Array(dict.utf8) + [0x0a]
            let n = header.count
            d.append(contentsOf: major == 1 ? [UInt8(n & 0xff), UInt8(n >> 8)] : [UInt8(n & 0xff), UInt8((n >> 8) & 0xff), 0, 0])
            d.append(contentsOf: header)
            d.append(contentsOf: body)
            return d
        }
        seeds["v2-f8.npy"] = npy(major: 2, dict: "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", body: [UInt8](repeating: 0, count: 16))
        seeds["u1.npy"] = npy(major: 1, dict: "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 1), }", body: [1, 2, 3])
        seeds["f2.npy"] = npy(major: 3, dict: "{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", body: [0x00, 0x3c])
        return seeds
    }
}
