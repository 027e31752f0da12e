import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One I/O error, said in one line with the path and the reason ("cannot write 'x.csv': the
/// folder 'runs' does not exist"). Code that reads or writes files throws this instead of letting
/// Foundation's own error text (NSCocoaErrorDomain …) reach the user.
public struct IOFailure: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String
    /// What was being done: "read", "write", "create", …
    public let verb: String

    public init(_ verb: String, _ path: String, _ reason: String) {
        self.verb = verb
        self.path = path
        self.reason = reason
    }

    /// From the current `errno`.
    public static func errno(_ verb: String, _ path: String, code: Int32 = Glibc.errno) -> IOFailure {
        IOFailure(verb, path, String(cString: strerror(code)).lowercased())
    }

    public var description: String { "cannot \(verb) '\(path)': \(reason)" }
}
