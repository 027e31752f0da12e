import ClipoodCommands
import ClipoodIO
import Foundation

/// Where a command's table goes: the terminal in `format=` (text, as always, by default) and,
/// with `to FILE`, a file in the format its extension names. Read at the start of a command, so
/// that a bad destination is an error at `to` before any lengthy work.
struct TableOutput {
    /// The file to write (as typed, for messages, and expanded) and its format.
    let file: (typed: String, path: String, format: Table.Format)?
    /// How the table is printed.
    let format: Table.Format

    /// `to`: the command's file argument (nil: the command writes no table file this time);
    /// `accepted`: what the error for an unknown extension lists.
    init(_ args: Arguments, to: OptionalArgument<String>? = Shared.tableOutput,
         accepted: String = "a table is written as .csv, .md, .tex, .json or .txt") throws {
        format = args[Shared.tableFormat]
        guard let to, let typed = args[to] else { file = nil; return }
        guard let fileFormat = Table.Format(path: typed) else {
            throw args.error(to, "'\(typed)': unknown extension; \(accepted)")
        }
        let path = expandPath(typed)
        do { try AtomicWrite.prepare(path) } catch { throw args.error(to, String(describing: error)) }
        file = (typed, path, fileFormat)
    }
}

extension Workspace {
    /// Prints a command's table — `text` (title lines and aligned columns, what the command has
    /// always printed) or, with `format=`, `table` in that format — and with `to FILE` also
    /// writes `table` to FILE (atomically) and says so. `table` is the one table a file holds,
    /// even where the terminal shows several.
    func emit(_ table: Table, text: String, output: TableOutput, args: Arguments) throws {
        write(output.format == .text ? text : table.render(output.format).trimmingSuffixNewline)
        guard let file = output.file else { return }
        do { try leaderWrites { try AtomicWrite.write(table.render(file.format), to: file.path) } } catch { throw args.error("to", String(describing: error)) }
        say("wrote the table (\(table.rows.count) row\(table.rows.count == 1 ? "" : "s"), \(file.format.rawValue)) to \(file.typed)")
    }
}

extension String {
    /// Without one final newline: `write` adds its own.
    var trimmingSuffixNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
