import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Shared by every harness: the fuzz input as bytes, text or a file, and invariant checks that
// stop the process with a message libFuzzer shows next to the crashing input.

enum Fuzz {
    /// The input as Data (copied: libFuzzer owns the buffer).
    static func data(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Data {
        guard let bytes, count > 0 else { return Data() }
        return Data(bytes: bytes, count: count)
    }

    /// The input as text; invalid UTF-8 becomes U+FFFD, as it does where clipood reads text.
    static func text(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> String {
        guard let bytes, count > 0 else { return "" }
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// A private scratch folder in memory (/dev/shm when there is one), one per process, so that
    /// parallel fuzzing jobs do not share files.
    static let scratch: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let dir = "\(base)/clipood-fuzz-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: Fuzz.scratch) }
        return dir
    }()

    /// Writes `data` to `name` in the scratch folder and returns the path: for readers that only
    /// take a path today. Switching a harness to an in-memory API drops this call.
    static func file(_ data: Data, name: String) -> String {
        let path = scratch + "/" + name
        do { try data.write(to: URL(fileURLWithPath: path)) } catch { fail("cannot write the fuzz input to \(path): \(error)") }
        return path
    }

    /// Stops with a message: an invariant of an accepted input does not hold.
    static func fail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
        let text = "INVARIANT FAILED (\(file):\(line)): \(message)\n"
        FileHandle.standardError.write(text.data(using: .utf8)!)
        abort()
    }

    static func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
        if !condition() { fail(message(), file: file, line: line) }
    }

    /// A refusal must say something, and in clipood's words: Foundation's error text never
    /// reaches the user. (Messages may quote the input, so they are not required to be one line.)
    static func checkRefusal(_ error: Error, file: StaticString = #fileID, line: UInt = #line) {
        let text = "\(error)"
        check(!text.isEmpty, "empty error text for \(type(of: error))", file: file, line: line)
        check(!text.contains("NSCocoaErrorDomain") && !text.contains("Error Domain="),
              "Foundation's error text reaches the user: \(text)", file: file, line: line)
    }
}

// The entry points libFuzzer calls. Each harness file defines `enum Harness` with
// `static func run(_ input: Data)` and `static func seeds() -> [String: Data]`.

@_cdecl("LLVMFuzzerTestOneInput")
public func clipoodFuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    Harness.run(Fuzz.data(bytes, count))
    return 0
}

/// With CLIPOOD_FUZZ_WRITE_SEEDS=DIR in the environment, the harness writes its generated seed
/// corpus into DIR and exits instead of fuzzing (scripts/fuzz --make-seeds).
@_cdecl("LLVMFuzzerInitialize")
public func clipoodFuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    guard let dir = ProcessInfo.processInfo.environment["CLIPOOD_FUZZ_WRITE_SEEDS"] else { return 0 }
    do {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, data) in Harness.seeds().sorted(by: { $0.key < $1.key }) {
            try data.write(to: URL(fileURLWithPath: dir + "/" + name))
        }
    } catch {
        FileHandle.standardError.write("cannot write seeds to \(dir): \(error)\n".data(using: .utf8)!)
        exit(1)
    }
    exit(0)
}
