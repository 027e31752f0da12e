/// The type of an argument's value: it decides parsing, the `help` placeholder and completion.
public enum ValueType: Sendable, Equatable {
    case string
    case int(ClosedRange<Int>? = nil)
    case float(ClosedRange<Double>? = nil)
    case bool
    /// One of a fixed set of words.
    case choice([String])
    /// A file or directory path; completion offers files with these extensions (empty: any),
    /// and `words` that stand for something built in (`demo`).
    case path(extensions: [String] = [], words: [String] = [])
    /// A name from the workspace (models, datasets, runs, settings…); completion asks the context.
    case name(kind: String)
    /// A comma-separated list of values of one type: `beta=0.1,0.5,1`.
    indirect case list(ValueType)

    var placeholder: String {
        switch self {
        case .string: return "TEXT"
        case .int: return "N"
        case .float: return "X"
        case .bool: return "on|off"
        case .choice(let cs): return cs.joined(separator: "|")
        case .path: return "PATH"
        case .name(let k): return k.uppercased()
        case .list(let t): return "\(t.placeholder),…"
        }
    }
}

/// One argument of a command. The same declaration drives parsing, help and completion.
public struct ArgumentSpec: Sendable {
    public enum Kind: Sendable, Equatable {
        /// A value by position; `optional` ones may be left out, `variadic` takes all the rest.
        case positional(optional: Bool = false, variadic: Bool = false)
        /// `key=value`, with a default shown in help (nil: no default, the option is just absent).
        case option(default: String?)
        /// A bare word that switches something on: `raw`.
        case flag
        /// A word followed by a value: `to FILE`, `as NAME`, `on test`.
        case keyword
    }

    public let name: String
    public let kind: Kind
    public let type: ValueType
    public let help: String
    /// What the placeholder shows in usage (defaults to the type's).
    public let metavar: String?
    /// A keyword the command cannot run without (`save RUN to DIR`): usage shows it without
    /// brackets, help says "required", and the parser refuses a line that lacks it.
    public let required: Bool

    public init(_ name: String, _ kind: Kind, _ type: ValueType = .string, metavar: String? = nil, required: Bool = false, help: String) {
        self.name = name
        self.kind = kind
        self.type = type
        self.help = help
        self.metavar = metavar
        self.required = required
    }

    public static func positional(_ name: String, _ type: ValueType = .string, optional: Bool = false, variadic: Bool = false,
                                  metavar: String? = nil, help: String) -> ArgumentSpec {
        ArgumentSpec(name, .positional(optional: optional, variadic: variadic), type, metavar: metavar, help: help)
    }

    public static func option(_ name: String, _ type: ValueType, default value: String? = nil, metavar: String? = nil, help: String) -> ArgumentSpec {
        ArgumentSpec(name, .option(default: value), type, metavar: metavar, help: help)
    }

    public static func flag(_ name: String, help: String) -> ArgumentSpec {
        ArgumentSpec(name, .flag, .bool, help: help)
    }

    public static func keyword(_ name: String, _ type: ValueType, metavar: String? = nil, required: Bool = false, help: String) -> ArgumentSpec {
        ArgumentSpec(name, .keyword, type, metavar: metavar, required: required, help: help)
    }

    var placeholder: String { metavar ?? type.placeholder }

    var usageFragment: String {
        switch kind {
        case .positional(let optional, let variadic):
            let core = "<\(metavar ?? name)>" + (variadic ? "…" : "")
            return optional ? "[\(core)]" : core
        case .option: return "[\(name)=\(placeholder)]"
        case .flag: return "[\(name)]"
        case .keyword: return required ? "\(name) \(placeholder)" : "[\(name) \(placeholder)]"
        }
    }
}

/// One command of the language: its name, its help, its arguments and what it does.
///
/// A command either runs (`run`) or groups subcommands (`load model`, `bench gemm`), or both
/// (the bare form runs when no subcommand word follows). `Context` is the workspace the
/// command acts on; the command language itself knows nothing about it.
public struct CommandSpec<Context: AnyObject> {
    public let name: String
    public let aliases: [String]
    public let summary: String
    public let discussion: String
    public let arguments: [ArgumentSpec]
    public let subcommands: [CommandSpec<Context>]
    public let examples: [String]
    public let run: ((Context, Arguments) throws -> Void)?

    public init(_ name: String, aliases: [String] = [], summary: String, discussion: String = "",
                arguments: [ArgumentSpec] = [], subcommands: [CommandSpec<Context>] = [], examples: [String] = [],
                run: ((Context, Arguments) throws -> Void)? = nil) {
        self.name = name
        self.aliases = aliases
        self.summary = summary
        self.discussion = discussion
        self.arguments = arguments
        self.subcommands = subcommands
        self.examples = examples
        self.run = run
    }

    func argument(named n: String) -> ArgumentSpec? { arguments.first { $0.name == n } }
    var options: [ArgumentSpec] { arguments.filter { if case .option = $0.kind { return true } else { return false } } }
    var flags: [ArgumentSpec] { arguments.filter { $0.kind == .flag } }
    var keywords: [ArgumentSpec] { arguments.filter { $0.kind == .keyword } }
    var positionals: [ArgumentSpec] { arguments.filter { if case .positional = $0.kind { return true } else { return false } } }

    func subcommand(_ word: String) -> CommandSpec? {
        subcommands.first { $0.name == word || $0.aliases.contains(word) }
    }
}

/// A parsed value: what was typed (for errors) and what it means.
public enum Value: Equatable, Sendable {
    case string(String)
    case int(Int)
    case float(Double)
    case bool(Bool)
    case list([Value])
}
