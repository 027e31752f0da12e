// Typed arguments: one declaration gives a command its argument (parsing, help, completion,
// through `spec`) and the command code a typed value (`args[x]`), with no string lookup and no
// unwrapping at the call site. An argument used by several commands is declared once and
// listed by each.

/// An argument that may be absent: `args[x]` is nil when the user did not give it.
public struct OptionalArgument<Value> {
    public let spec: ArgumentSpec
    let read: (Arguments) -> Value?

    public init(_ spec: ArgumentSpec, read: @escaping (Arguments) -> Value?) {
        self.spec = spec
        self.read = read
    }

    /// The same argument with another help line (where one command means something more specific).
    public func help(_ text: String) -> OptionalArgument {
        OptionalArgument(ArgumentSpec(spec.name, spec.kind, spec.type, metavar: spec.metavar, required: spec.required, help: text), read: read)
    }
}

/// An argument that always has a value once parsed: an option with a default (checked when its
/// command is registered), a required positional, or a keyword with a fallback.
public struct Argument<Value> {
    public let spec: ArgumentSpec
    let read: (Arguments) -> Value?

    public init(_ spec: ArgumentSpec, read: @escaping (Arguments) -> Value?) {
        self.spec = spec
        self.read = read
    }

    public func help(_ text: String) -> Argument {
        Argument(ArgumentSpec(spec.name, spec.kind, spec.type, metavar: spec.metavar, required: spec.required, help: text), read: read)
    }
}

extension Arguments {
    public subscript<V>(_ a: OptionalArgument<V>) -> V? { a.read(self) }

    public subscript<V>(_ a: Argument<V>) -> V {
        guard let v = a.read(self) else {
            // Unreachable for a registered command: `Registry.register` refuses a default that does
            // not parse, and the parser refuses a line without a required positional.
            preconditionFailure("argument '\(a.spec.name)' of '\(commandPath.joined(separator: " "))' has no value")
        }
        return v
    }

    /// Whether the user gave the argument (its default does not count).
    public func has<V>(_ a: Argument<V>) -> Bool { has(a.spec.name) }
    public func has<V>(_ a: OptionalArgument<V>) -> Bool { has(a.spec.name) }

    /// An error located at the argument (or at the command when it was not typed).
    public func error<V>(_ a: Argument<V>, _ message: String, hint: String? = nil) -> CommandError { error(a.spec.name, message, hint: hint) }
    public func error<V>(_ a: OptionalArgument<V>, _ message: String, hint: String? = nil) -> CommandError { error(a.spec.name, message, hint: hint) }
}

// MARK: Declarations by value type

extension Argument where Value == Int {
    public static func option(_ name: String, _ range: ClosedRange<Int>? = nil, default value: String, metavar: String? = nil, help: String) -> Argument {
        Argument(.option(name, .int(range), default: value, metavar: metavar, help: help)) { $0.int(name) }
    }
}

extension OptionalArgument where Value == Int {
    public static func option(_ name: String, _ range: ClosedRange<Int>? = nil, metavar: String? = nil, help: String) -> OptionalArgument {
        OptionalArgument(.option(name, .int(range), metavar: metavar, help: help)) { $0.int(name) }
    }
}

extension Argument where Value == Double {
    public static func option(_ name: String, _ range: ClosedRange<Double>? = nil, default value: String, metavar: String? = nil, help: String) -> Argument {
        Argument(.option(name, .float(range), default: value, metavar: metavar, help: help)) { $0.double(name) }
    }
}

extension OptionalArgument where Value == Double {
    public static func option(_ name: String, _ range: ClosedRange<Double>? = nil, metavar: String? = nil, help: String) -> OptionalArgument {
        OptionalArgument(.option(name, .float(range), metavar: metavar, help: help)) { $0.double(name) }
    }
}

extension Argument where Value == Float {
    public static func option(_ name: String, _ range: ClosedRange<Double>? = nil, default value: String, metavar: String? = nil, help: String) -> Argument {
        Argument(.option(name, .float(range), default: value, metavar: metavar, help: help)) { $0.float(name) }
    }
}

extension Argument where Value == Bool {
    /// An on/off option.
    public static func toggle(_ name: String, default on: Bool, help: String) -> Argument {
        Argument(.option(name, .bool, default: on ? "on" : "off", help: help)) { $0.flag(name) }
    }

    /// A bare word that switches something on (`force`, `raw`).
    public static func flag(_ name: String, help: String) -> Argument {
        Argument(.flag(name, help: help)) { $0.flag(name) }
    }
}

extension Argument where Value == String {
    /// A `key=value` option of any string-valued type (`.string`, `.choice`, `.path`, `.name`)
    /// with a default.
    public static func option(_ name: String, _ type: ValueType, default value: String, metavar: String? = nil, help: String) -> Argument {
        Argument(.option(name, type, default: value, metavar: metavar, help: help)) { $0.string(name) }
    }

    /// A required positional.
    public static func positional(_ name: String, _ type: ValueType = .string, metavar: String? = nil, help: String) -> Argument {
        Argument(.positional(name, type, metavar: metavar, help: help)) { $0.string(name) }
    }

    /// A keyword the command cannot run without (`to DIR`): the parser refuses a line that lacks it.
    public static func requiredKeyword(_ name: String, _ type: ValueType, metavar: String? = nil, help: String) -> Argument {
        Argument(.keyword(name, type, metavar: metavar, required: true, help: help)) { $0.string(name) }
    }

    /// A keyword (`on PART`) that reads as `fallback` when not given; `help` should say so.
    public static func keyword(_ name: String, _ type: ValueType, fallback: String, metavar: String? = nil, help: String) -> Argument {
        Argument(.keyword(name, type, metavar: metavar, help: help)) { $0.string(name) ?? fallback }
    }
}

extension OptionalArgument where Value == String {
    public static func option(_ name: String, _ type: ValueType, metavar: String? = nil, help: String) -> OptionalArgument {
        OptionalArgument(.option(name, type, metavar: metavar, help: help)) { $0.string(name) }
    }

    public static func positional(_ name: String, _ type: ValueType = .string, metavar: String? = nil, help: String) -> OptionalArgument {
        OptionalArgument(.positional(name, type, optional: true, metavar: metavar, help: help)) { $0.string(name) }
    }

    public static func keyword(_ name: String, _ type: ValueType, metavar: String? = nil, help: String) -> OptionalArgument {
        OptionalArgument(.keyword(name, type, metavar: metavar, help: help)) { $0.string(name) }
    }
}

extension Argument where Value == [Double] {
    /// A comma-separated list of numbers with a default (`beta=0.1,0.5,1`).
    public static func list(_ name: String, _ range: ClosedRange<Double>? = nil, default value: String, metavar: String? = nil, help: String) -> Argument {
        Argument(.option(name, .list(.float(range)), default: value, metavar: metavar, help: help)) { $0.doubles(name) }
    }
}

extension Argument where Value == [Int] {
    public static func list(_ name: String, _ range: ClosedRange<Int>? = nil, default value: String, metavar: String? = nil, help: String) -> Argument {
        Argument(.option(name, .list(.int(range)), default: value, metavar: metavar, help: help)) { a in a.list(name).compactMap { if case .int(let i) = $0 { return i } else { return nil } } }
    }
}
