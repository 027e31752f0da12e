import ClipoodCommands
import Foundation
import Testing

/// Typed arguments: one declaration gives the parser its spec and the command a typed value;
/// a default that does not parse is refused when the command is registered, not dropped.
@Suite("typed arguments")
struct TypedArgumentTests {
    enum Choice: String, CaseIterable { case full, proj }
    static let steps = Argument<Int>.option("steps", 1 ... 1000, default: "100", help: "steps")
    static let lr = Argument<Double>.option("lr", 0 ... 1, default: "1e-5", help: "learning rate")
    static let lambda = Argument<Float>.option("lambda", 0 ... 10, default: "0.3", help: "λ")
    static let betas = Argument<[Double]>.list("beta", 0.001 ... 100, default: "0.1,0.5", help: "betas")
    static let seeds = Argument<[Int]>.list("seeds", 0 ... 9, default: "0,1", help: "seeds")
    static let augment = Argument<Bool>.toggle("augment", default: true, help: "augmentation")
    static let raw = Argument<Bool>.flag("raw", help: "raw")
    static let tune = Argument<Choice>(.option("tune", .choice(Choice.allCases.map(\.rawValue)), default: "full", help: "what")) {
        $0.string("tune").flatMap(Choice.init(rawValue:))
    }
    static let part = Argument<String>.keyword("on", .choice(["test", "val"]), fallback: "test", help: "part (default test)")
    static let seed = OptionalArgument<Int>.option("seed", 0 ... 99, help: "seed")
    static let name = OptionalArgument<String>.keyword("as", .string, help: "name")
    static let source = Argument<String>.positional("source", .path(), help: "a file")

    final class Recorder: CommandContext {
        var seen: [String] = []
        func names(of kind: String) -> [String] { [] }
    }

    static let spec = CommandSpec<Recorder>(
        "go", summary: "typed reads",
        arguments: [source.spec, steps.spec, lr.spec, lambda.spec, betas.spec, seeds.spec, augment.spec, raw.spec, tune.spec, part.spec, seed.spec, name.spec],
        run: { r, a in
            r.seen.append("\(a[source]) \(a[steps]) \(a[lr]) \(a[lambda]) \(a[betas]) \(a[seeds]) \(a[augment]) \(a[raw]) \(a[tune]) \(a[part]) \(a[seed].map(String.init) ?? "-") \(a[name] ?? "-")")
        })

    func run(_ line: String) throws -> String {
        let r = Recorder()
        let interpreter = Interpreter(registry: Registry([TypedArgumentTests.spec]), context: r)
        try interpreter.execute(line: line)
        return r.seen.joined(separator: "\n")
    }

    @Test func defaultsAndGivenValuesReadTyped() throws {
        #expect(try run("go f") == "f 100 1e-05 0.3 [0.1, 0.5] [0, 1] true false full test - -")
        #expect(try run("go f steps=7 lr=0.5 lambda=0 beta=1 seeds=3,4,5 augment=off raw tune=proj on val seed=9 as x")
                == "f 7 0.5 0.0 [1.0] [3, 4, 5] false true proj val 9 x")
    }

    @Test func aRequiredKeywordIsShownAndEnforced() throws {
        let dir = Argument<String>.requiredKeyword("to", .path(), metavar: "DIR", help: "where")
        let save = CommandSpec<Recorder>("save", summary: "save", arguments: [Self.source.spec, dir.spec], run: { r, a in r.seen.append(a[dir]) })
        let registry = Registry([save])
        #expect(registry.usage(save, path: ["save"]) == "save <source> to DIR")
        #expect(try registry.help(for: Lexer.tokenize("save")).contains("where (required)"))
        let r = Recorder()
        let interpreter = Interpreter(registry: registry, context: r)
        try interpreter.execute(line: "save x to d")
        #expect(r.seen == ["d"])
        do {
            try interpreter.execute(line: "save x")
            Issue.record("a line without its required keyword ran")
        } catch let e as CommandError {
            #expect(e.message == "'save' needs 'to DIR': where")
            #expect(e.column == 8, "the caret goes one column past the line, where the keyword is missing")
        }
    }

    @Test func aBadDefaultIsRefusedAtRegistration() {
        let bad = CommandSpec<Recorder>("bad", summary: "", arguments: [
            .option("steps", .int(1 ... 10), default: "100", help: ""),
            .option("lr", .float(0 ... 1), default: "fast", help: ""),
            .option("tune", .choice(["a", "b"]), default: "c", help: ""),
            .option("beta", .list(.float(0 ... 1)), default: "0.5,", help: ""),
            .option("ok", .bool, default: "on", help: ""),
            .flag("ok", help: ""),
        ], subcommands: [CommandSpec("sub", summary: "", arguments: [.option("n", .int(), default: "1.5", help: "")])])
        let problems = Registry<Recorder>.problems(in: bad)
        #expect(problems.count == 6, "\(problems)")
        #expect(problems.contains { $0.contains("'100' of steps=") && $0.contains("1…10") })
        #expect(problems.contains { $0.contains("'fast' of lr=") })
        #expect(problems.contains { $0.contains("'c' of tune=") })
        #expect(problems.contains { $0.contains("'0.5,' of beta=") })
        #expect(problems.contains { $0.contains("declares 'ok' twice") })
        #expect(problems.contains { $0.hasPrefix("'bad sub'") && $0.contains("'1.5' of n=") })
        #expect(Registry<Recorder>.problems(in: TypedArgumentTests.spec).isEmpty)
    }
}
