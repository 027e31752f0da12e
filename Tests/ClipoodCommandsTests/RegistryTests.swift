import ClipoodCommands
import Foundation
import Testing

/// A tiny context with a few declared commands, standing in for the workspace.
final class FakeContext: CommandContext {
    var log: [String] = []
    var models = ["demo", "vitb16"]
    func names(of kind: String) -> [String] { kind == "model" ? models : [] }
}

let trainSpec = CommandSpec<FakeContext>(
    "train", summary: "fine-tune the image tower",
    discussion: "Runs MMS fine-tuning.",
    arguments: [
        .option("steps", .int(1 ... 100_000), default: "100", help: "optimizer steps"),
        .option("lr", .float(0 ... 1), default: "1e-5", help: "peak learning rate"),
        .option("tune", .choice(["full", "last1", "proj"]), default: "full", help: "what to train"),
        .option("beta", .list(.float(0.0001 ... 100)), default: "0.5", help: "BMA betas"),
        .option("augment", .bool, default: "on", help: "augmentation"),
        .keyword("as", .string, metavar: "RUN", help: "name of the run"),
    ],
    examples: ["train steps=200 as mms"],
    run: { ctx, a in ctx.log.append("train \(a.int("steps")!) \(a.double("lr")!) \(a.string("tune")!) \(a.list("beta").count) \(a.flag("augment")) \(a.string("as") ?? "-")") })

let loadSpec = CommandSpec<FakeContext>(
    "load", summary: "load things",
    subcommands: [
        CommandSpec("model", summary: "load a CLIP model",
                    arguments: [.positional("source", .path(extensions: ["safetensors"]), help: "a directory or file"),
                                .keyword("as", .name(kind: "model"), metavar: "NAME", help: "workspace name")],
                    run: { ctx, a in ctx.log.append("model \(a.string("source")!) \(a.string("as") ?? "-")") }),
        CommandSpec("data", summary: "load a dataset",
                    arguments: [.positional("source", .path(), help: "dataset root")],
                    run: { ctx, a in ctx.log.append("data \(a.string("source")!)") }),
    ])

let embedSpec = CommandSpec<FakeContext>(
    "embed", summary: "embed texts",
    arguments: [.positional("texts", .string, variadic: true, help: "texts"), .flag("raw", help: "unnormalised"),
                .keyword("to", .path(extensions: ["npy"]), help: "output file")],
    run: { ctx, a in ctx.log.append("embed \(a.strings("texts")) raw=\(a.flag("raw")) to=\(a.string("to") ?? "-")") })

let testRegistry = Registry<FakeContext>([trainSpec, loadSpec, embedSpec,
                                          CommandSpec("plot", summary: "plot", run: { c, _ in c.log.append("plot") }),
                                          CommandSpec("prompt", summary: "prompt", run: { c, _ in c.log.append("prompt") })])

private func run(_ line: String, _ ctx: FakeContext = FakeContext()) throws -> String {
    let interp = Interpreter(registry: testRegistry, context: ctx)
    try interp.execute(line: line)
    return ctx.log.last ?? ""
}

private func error(_ line: String) -> CommandError? {
    do { _ = try run(line); return nil } catch let e as CommandError { return e } catch { return nil }
}

@Suite("parser and registry")
struct RegistryTests {
    @Test func defaultsAndTypedOptions() throws {
        #expect(try run("train") == "train 100 1e-05 full 1 true -")
        #expect(try run("train steps=5 lr=0.001 tune=last1 beta=0.1,0.5,1 augment=off as mms") == "train 5 0.001 last1 3 false mms")
        #expect(try run("tr steps=7") == "train 7 1e-05 full 1 true -")   // unique prefix
    }

    @Test func subcommandsPositionalsKeywordsFlags() throws {
        #expect(try run("load model /tmp/m.safetensors as base") == "model /tmp/m.safetensors base")
        #expect(try run("load data 'my data'") == "data my data")
        #expect(try run(#"embed "a cat" "a dog" raw to out.npy"#) == #"embed ["a cat", "a dog"] raw=true to=out.npy"#)
        // A quoted word is never a keyword or flag.
        #expect(try run(#"embed "raw" "to""#) == #"embed ["raw", "to"] raw=false to=-"#)
    }

    @Test func unknownCommandSuggests() throws {
        let e = try #require(error("trian steps=3"))
        #expect(e.message == "unknown command 'trian' (did you mean 'train'?)")
        #expect(e.column == 1 && e.length == 5)
        let f = try #require(error("frobnicate"))
        #expect(f.message == "unknown command 'frobnicate'")
        let amb = try #require(error("p"))
        #expect(amb.message.contains("ambiguous command 'p'"))
    }

    @Test func badValuesPointAtTheValue() throws {
        let e = try #require(error("train steps=abc"))
        #expect(e.message == "steps= expects a whole number, got 'abc'")
        #expect(e.column == 13 && e.length == 3)
        let r = try #require(error("train lr=5"))
        #expect(r.message.contains("must be in 0.0…1.0"))
        let c = try #require(error("train tune=lats1"))
        #expect(c.message.contains("expects one of full, last1, proj") && c.message.contains("did you mean 'last1'"))
        let l = try #require(error("train beta=0.1,,2"))
        #expect(l.message.contains("empty item"))
    }

    @Test func unknownOptionsAndArguments() throws {
        let e = try #require(error("train step=3"))
        #expect(e.message == "'train' has no option 'step' (did you mean 'steps'?)")
        #expect(e.column == 7 && e.length == 4)
        let twice = try #require(error("train steps=1 steps=2"))
        #expect(twice.message == "option 'steps' given twice" && twice.column == 15)
        let extra = try #require(error("train fast"))
        #expect(extra.message.contains("unexpected argument 'fast'"))
        #expect(extra.hint?.contains("usage: train") == true)
        let kw = try #require(error("train as"))
        #expect(kw.message == "'as' needs a value: as RUN")
    }

    @Test func missingArgumentsAndSubcommands() throws {
        let m = try #require(error("load model"))
        #expect(m.message.hasPrefix("'load model' is missing <source>"))
        #expect(m.column == 12)
        let s = try #require(error("load modle x"))
        #expect(s.message == "'load' has no subcommand 'modle' (did you mean 'model'?)")
        let n = try #require(error("load"))
        #expect(n.message == "'load' needs a subcommand: model, data")
    }

    @Test func helpIsRenderedFromTheDeclaration() throws {
        let help = try testRegistry.help(for: Lexer.tokenize("train"))
        #expect(help == """
        train — fine-tune the image tower

        usage: train [steps=N] [lr=X] [tune=full|last1|proj] [beta=X,…] [augment=on|off]
                     [as RUN]

        Runs MMS fine-tuning.

        arguments:
          steps=N                optimizer steps (default 100)
          lr=X                   peak learning rate (default 1e-5)
          tune=full|last1|proj   what to train (default full)
          beta=X,…               BMA betas (default 0.5)
          augment=on|off         augmentation (default on)
          as RUN                 name of the run

        examples:
          train steps=200 as mms
        """)
        let group = try testRegistry.help(for: Lexer.tokenize("load"))
        #expect(group.contains("subcommands:\n  model    load a CLIP model\n  data     load a dataset"))
        #expect(try testRegistry.help(for: Lexer.tokenize("load model")).contains("usage: load model <source> [as NAME]"))
        #expect(throws: CommandError.self) { try testRegistry.help(for: Lexer.tokenize("trane")) }
        #expect(testRegistry.overview().contains("load    load things (model, data)"))
    }

    @Test func everyDeclarationHasHelpAndValidDefaults() {
        func check(_ spec: CommandSpec<FakeContext>) {
            #expect(!spec.summary.isEmpty, "\(spec.name) has no summary")
            for a in spec.arguments { #expect(!a.help.isEmpty, "\(spec.name) \(a.name) has no help") }
            spec.subcommands.forEach(check)
        }
        testRegistry.commands.forEach(check)
    }
}

@Suite("completion")
struct CompletionTests {
    let ctx = FakeContext()

    @Test func commandNamesAndSubcommands() {
        #expect(testRegistry.complete("", context: ctx).candidates == ["embed", "load", "plot", "prompt", "train"])
        #expect(testRegistry.complete("p", context: ctx).candidates == ["plot", "prompt"])
        let sub = testRegistry.complete("load m", context: ctx)
        #expect(sub.candidates == ["model"] && sub.start == 5)
    }

    @Test func optionsValuesAndKeywords() {
        #expect(testRegistry.complete("train st", context: ctx).candidates == ["steps="])
        #expect(testRegistry.complete("train tune=l", context: ctx).candidates == ["tune=last1"])
        #expect(testRegistry.complete("train augment=", context: ctx).candidates == ["augment=off", "augment=on"])
        // Options already given are not offered again.
        #expect(!testRegistry.complete("train steps=3 ", context: ctx).candidates.contains("steps="))
        #expect(testRegistry.complete("train steps=3 ", context: ctx).candidates.contains("as"))
        #expect(testRegistry.complete("load model x as ", context: ctx).candidates == ["demo", "vitb16"])
        #expect(testRegistry.complete("embed \"a\" r", context: ctx).candidates == ["raw"])
    }

    @Test func paths() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipood-complete-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("m.safetensors").path, contents: Data())
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("notes.txt").path, contents: Data())
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = testRegistry.complete("load model \(dir.path)/", context: ctx)
        #expect(c.candidates == ["\(dir.path)/m.safetensors", "\(dir.path)/sub/"])
        #expect(testRegistry.complete("load data \(dir.path)/n", context: ctx).candidates == ["\(dir.path)/notes.txt"])
    }
}

@Suite("scripts and diagnostics")
struct ScriptTests {
    @Test func scriptStopsAtFirstErrorWithLocation() throws {
        let ctx = FakeContext()
        let interp = Interpreter(registry: testRegistry, context: ctx)
        do {
            try interp.runScript(text: "train steps=2\n# comment\n\n  frobnicate x=1\nplot\n", file: "bad.cood")
            Issue.record("expected an error")
        } catch let e as ScriptError {
            #expect(e.line == 4)
            #expect(e.error.column == 3)
            #expect(Diagnostic.render(e, color: false) == """
            bad.cood:4:3: unknown command 'frobnicate'
                  frobnicate x=1
                  ^~~~~~~~~~
            hint: type 'help' for the list of commands
            """)
        }
        #expect(ctx.log == ["train 2 1e-05 full 1 true -"])   // line 5 never ran
    }

    @Test func continueOnErrorReportsAndGoesOn() throws {
        let ctx = FakeContext()
        let interp = Interpreter(registry: testRegistry, context: ctx)
        var errors: [Int] = []
        try interp.runScript(text: "nope\nplot\ntrain steps=x\nprompt", file: "s.cood", continueOnError: true, onError: { errors.append($0.line) })
        #expect(errors == [1, 3])
        #expect(ctx.log == ["plot", "prompt"])
    }

    @Test func promptDiagnosticHasCaretUnderToken() {
        let e = CommandError("steps= expects a whole number, got 'abc'", column: 13, length: 3)
        #expect(Diagnostic.render(e, line: "train steps=abc", color: false) == """
                train steps=abc
                            ^~~
            error: steps= expects a whole number, got 'abc'
            """)
    }

    @Test func runtimeErrorsFromCommandsPointAtTheCommand() throws {
        let failing = CommandSpec<FakeContext>("boom", summary: "fails", run: { _, _ in throw NSError(domain: "x", code: 1) })
        let ctx = FakeContext()   // the interpreter holds its context unowned
        let interp = Interpreter(registry: Registry([failing]), context: ctx)
        #expect(throws: CommandError.self) { try interp.execute(line: "  boom") }
        do { try interp.execute(line: "  boom") } catch let e as CommandError { #expect(e.column == 3) }
    }
}

@Suite("line endings")
struct LineEndingTests {
    @Test func crlfSessionFilesRunLineByLine() throws {
        let ctx = FakeContext()
        let interp = Interpreter(registry: testRegistry, context: ctx)
        try interp.runScript(text: "plot\r\nprompt\r\n", file: "w.cood")
        #expect(ctx.log == ["plot", "prompt"])
    }
}
