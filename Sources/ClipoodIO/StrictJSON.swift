/// JSON read strictly and without loss, for files that may be hostile.
///
/// Numbers keep their literal text, so a reader can tell 768 from 768.5, from 1e3 and from
/// 18446744073709551616 instead of receiving a rounded or truncated value; nesting depth is
/// bounded, so a deeply nested document cannot exhaust the stack; strings must be valid UTF-8
/// without raw control characters; nothing may follow the top-level value but white space.
public indirect enum JSONValue: Sendable {
    case object(JSONObject)
    case array([JSONValue])
    case string(String)
    /// The number's literal text, already checked against JSON's number grammar.
    case number(String)
    case bool(Bool)
    case null

    public var object: JSONObject? { if case .object(let o) = self { return o }; return nil }
    public var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }

    /// The value of an integer literal (no fraction, no exponent) that fits in Int; nil for
    /// anything else — a fraction, an exponent, a number beyond Int, or a non-number.
    public var int: Int? {
        guard case .number(let s) = self, !s.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else { return nil }
        return Int(s)
    }

    /// The value of any number literal as a Double (possibly ±infinity for a literal such as
    /// 1e400: callers that need a finite value check `isFinite`); nil for a non-number.
    public var double: Double? {
        guard case .number(let s) = self else { return nil }
        return Double(s)
    }

    /// A short rendering of the value for error messages (at most about 40 characters).
    public var brief: String {
        let text: String
        switch self {
        case .object: text = "{…}"
        case .array: text = "[…]"
        case .string(let s): text = "\"" + s + "\""
        case .number(let s): text = s
        case .bool(let b): text = b ? "true" : "false"
        case .null: text = "null"
        }
        return text.count > 40 ? String(text.prefix(40)) + "…" : text
    }
}

/// A JSON object with its members in file order. Lookups return the last member of a name, as
/// Python's `json` does; `firstDuplicateKey` lets a format that forbids duplicates refuse them.
public struct JSONObject: Sendable {
    public let members: [(key: String, value: JSONValue)]

    public init(members: [(key: String, value: JSONValue)]) { self.members = members }

    public subscript(key: String) -> JSONValue? {
        for m in members.reversed() where m.key == key { return m.value }
        return nil
    }

    public var keys: [String] { members.map(\.key) }

    public var firstDuplicateKey: String? {
        var seen = Set<String>()
        for m in members where !seen.insert(m.key).inserted { return m.key }
        return nil
    }
}

/// Why a text is not acceptable JSON, with the line and column (1-based) where reading stopped.
public struct JSONSyntaxError: Error, CustomStringConvertible, Equatable {
    public let reason: String
    public let line: Int
    public let column: Int
    public var description: String { "line \(line), column \(column): \(reason)" }
}

public enum StrictJSON {
    /// Deepest nesting of arrays and objects accepted by default.
    public static let defaultMaxDepth = 64

    /// Parses one JSON document.
    public static func parse<C: Collection>(_ bytes: C, maxDepth: Int = defaultMaxDepth) throws -> JSONValue where C.Element == UInt8 {
        let buffer = Array(bytes)
        var p = Parser(bytes: buffer, maxDepth: maxDepth)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == buffer.count else { throw p.fail("unexpected text after the JSON value") }
        return v
    }
}

private struct Parser {
    let bytes: [UInt8]
    let maxDepth: Int
    var i = 0

    init(bytes: [UInt8], maxDepth: Int) { self.bytes = bytes; self.maxDepth = maxDepth }

    func fail(_ reason: String) -> JSONSyntaxError {
        var line = 1, column = 1
        for b in bytes[0 ..< min(i, bytes.count)] {
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return JSONSyntaxError(reason: reason, line: line, column: column)
    }

    var atEnd: Bool { i >= bytes.count }
    var peek: UInt8 { bytes[i] }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func expect(_ literal: String) throws {
        for b in literal.utf8 {
            guard i < bytes.count, bytes[i] == b else { throw fail("expected '\(literal)'") }
            i += 1
        }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard !atEnd else { throw fail("the text ends where a value should be") }
        switch peek {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"): return .number(try number())
        default: throw fail("unexpected character where a value should be")
        }
    }

    mutating func object(depth: Int) throws -> JSONValue {
        guard depth <= maxDepth else { throw fail("nested more than \(maxDepth) levels deep") }
        i += 1
        var members: [(key: String, value: JSONValue)] = []
        skipSpace()
        if !atEnd, peek == UInt8(ascii: "}") { i += 1; return .object(JSONObject(members: members)) }
        while true {
            skipSpace()
            guard !atEnd, peek == UInt8(ascii: "\"") else { throw fail("expected a member name in quotes") }
            let key = try string()
            skipSpace()
            guard !atEnd, peek == UInt8(ascii: ":") else { throw fail("expected ':' after a member name") }
            i += 1
            skipSpace()
            members.append((key, try value(depth: depth)))
            skipSpace()
            guard !atEnd else { throw fail("the text ends inside an object") }
            if peek == UInt8(ascii: ",") { i += 1; continue }
            if peek == UInt8(ascii: "}") { i += 1; return .object(JSONObject(members: members)) }
            throw fail("expected ',' or '}' in an object")
        }
    }

    mutating func array(depth: Int) throws -> JSONValue {
        guard depth <= maxDepth else { throw fail("nested more than \(maxDepth) levels deep") }
        i += 1
        var items: [JSONValue] = []
        skipSpace()
        if !atEnd, peek == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value(depth: depth))
            skipSpace()
            guard !atEnd else { throw fail("the text ends inside an array") }
            if peek == UInt8(ascii: ",") { i += 1; continue }
            if peek == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw fail("expected ',' or ']' in an array")
        }
    }

    mutating func number() throws -> String {
        let start = i
        func digits() -> Int {
            let s = i
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            return i - s
        }
        if peek == UInt8(ascii: "-") { i += 1 }
        guard !atEnd else { throw fail("a number ends after '-'") }
        if peek == UInt8(ascii: "0") {
            i += 1
            if !atEnd, peek >= 0x30, peek <= 0x39 { throw fail("a number has a leading zero") }
        } else if digits() == 0 { throw fail("a number has no digits") }
        if !atEnd, peek == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { throw fail("a number has no digits after '.'") }
        }
        if !atEnd, peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            i += 1
            if !atEnd, peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw fail("a number has no digits in its exponent") }
        }
        return String(decoding: bytes[start ..< i], as: UTF8.self)
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("a \\u escape is cut short") }
        var v: UInt32 = 0
        for _ in 0 ..< 4 {
            let b = bytes[i]
            let d: UInt8
            switch b {
            case 0x30 ... 0x39: d = b - 0x30
            case 0x41 ... 0x46: d = b - 0x41 + 10
            case 0x61 ... 0x66: d = b - 0x61 + 10
            default: throw fail("a \\u escape has a character that is not hexadecimal")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        i += 1   // the opening quote
        var out: [UInt8] = []
        while true {
            guard !atEnd else { throw fail("the text ends inside a string") }
            let b = peek
            if b == UInt8(ascii: "\"") { i += 1; break }
            if b < 0x20 { throw fail("a string holds a raw control character") }
            if b != UInt8(ascii: "\\") { out.append(b); i += 1; continue }
            i += 1
            guard !atEnd else { throw fail("the text ends inside an escape") }
            let e = peek
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if code >= 0xD800, code < 0xDC00 {
                    guard i + 2 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw fail("a \\u escape is an unpaired surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard low >= 0xDC00, low < 0xE000 else { throw fail("a \\u escape is an unpaired surrogate") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if code >= 0xDC00, code < 0xE000 {
                    throw fail("a \\u escape is an unpaired surrogate")
                }
                UTF8.encode(Unicode.Scalar(code)!) { out.append($0) }
            default: throw fail("a string has an unknown escape")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("a string is not valid UTF-8") }
        return s
    }
}
