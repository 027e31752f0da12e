import ClipoodWorkspace
import Foundation

// The notebook parser (NotebookDocument). Rendering with no new outputs gives the text back;
// rendering new outputs into every cell and parsing again gives the same cells with exactly
// those outputs (what `clipood notebook` does to a file).
enum Harness {
    static func run(_ input: Data) {
        let text = String(decoding: input, as: UTF8.self)
        let doc: NotebookDocument
        do { doc = try NotebookDocument(text: text) } catch {
            Fuzz.checkRefusal(error)
            if let e = error as? NotebookError { Fuzz.check(e.line >= 1, "error at line \(e.line)") }
            return
        }
        for (i, c) in doc.cells.enumerated() {
            Fuzz.check(c.number == i + 1 && c.line >= 1 && c.line <= doc.lines.count, "cell \(i + 1) numbered \(c.number) at line \(c.line)")
            Fuzz.check(c.outputRange.lowerBound >= c.line && c.outputRange.upperBound <= doc.lines.count, "cell \(c.number): output range \(c.outputRange)")
            if i > 0 { Fuzz.check(c.line > doc.cells[i - 1].outputRange.upperBound, "cell \(c.number) overlaps the one before") }
        }
        Fuzz.check(doc.rendered(outputs: [:]) == text, "rendering without changes alters the notebook: \(text.debugDescription) → \(doc.rendered(outputs: [:]).debugDescription)")

        // New outputs, made from the cells' own source so that they hold fences and markers too.
        var outputs: [Int: [String]] = [:]
        for c in doc.cells {
            let printed = NotebookOutput.normalise(c.source.reversed().joined(separator: "\n"))
            outputs[c.number] = NotebookDocument.outputBlock(text: printed, figureLinks: c.number % 2 == 0 ? ["![figure](plots/f\(c.number).png)"] : [])
        }
        let rendered = doc.rendered(outputs: outputs)
        let again: NotebookDocument
        do { again = try NotebookDocument(text: rendered) } catch { Fuzz.fail("the rendered notebook does not parse: \(error)\n\(rendered)") }
        Fuzz.check(again.cells.count == doc.cells.count, "\(doc.cells.count) cells became \(again.cells.count) after rendering outputs")
        for (a, b) in zip(doc.cells, again.cells) {
            Fuzz.check(a.source == b.source && a.options == b.options, "cell \(a.number) changed after rendering outputs")
            let expected = outputs[a.number]!
            let got = again.recordedOutput(of: b)
            Fuzz.check(got == expected || (expected.isEmpty && got.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty }),
                       "cell \(a.number): wrote output \(expected) but read back \(got)")
        }
        // Rendering the same outputs again changes nothing (`notebook --check` relies on it).
        Fuzz.check(again.rendered(outputs: outputs) == rendered, "rendering the same outputs twice differs")
    }

    static func seeds() -> [String: Data] {
        let basic = """
        # A notebook

        Some prose.

        ```clipood
        load model demo
        show settings
        ```

        <!-- clipood output -->
        ```text
        loaded model 'demo'
        ```
        ![figure](plots/x.png)
        <!-- /clipood output -->

        ```python
        print("not a cell")
        ```

        ~~~~clipood volatile
        bench gemm n=64
        ~~~~
        """
        let nested = """
        ````clipood
        prompt "```"
        ````

        <!-- clipood output -->
        `````text
        ````
        <!-- /clipood output -->
        `````
        <!-- /clipood output -->
           ```clipood
        help
           ```
        ```
        unclosed prose block
        """
        let crlf = "```clipood\r\nhelp\r\n```\r\n\r\n<!-- clipood output -->\r\n```text\r\nx\r\n```\r\n<!-- /clipood output -->\r\n"
        let broken = "```clipood\nload model demo\n"
        return ["basic.md": Data(basic.utf8), "nested.md": Data(nested.utf8), "crlf.md": Data(crlf.utf8), "unclosed.md": Data(broken.utf8)]
    }
}
