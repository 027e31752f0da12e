import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

/// The progress line is redrawn in place and never wraps, whatever the terminal's width.
@Suite("progress line", .serialized)
struct ProgressTests {
    @Test func fitsEveryWidth() {
        let detail = "loss 1.2345 acc 0.52 lr 9.99e-05"
        for columns in [20, 40, 60, 80, 100, 200] {
            for done in [0, 1, 150, 299, 300] {
                let line = ProgressLayout.fit(label: "train mms-long-name", done: done, total: 300, rate: "12.3/s",
                                              eta: "ETA 1m05s", detail: detail, columns: columns)
                #expect(line.count <= columns - 1, "\(columns) columns: '\(line)' is \(line.count) wide")
                #expect(line.contains("\(done)/300") || columns < 30, "\(columns): \(line)")
            }
        }
        // Wide enough: everything is there.
        let wide = ProgressLayout.fit(label: "train a", done: 5, total: 10, rate: "2.0/s", eta: "ETA 3s", detail: detail, columns: 200)
        #expect(wide.hasSuffix(detail) && wide.contains("ETA 3s") && wide.contains("2.0/s"))
        // At 80 columns the detail gives way first (shortened with …), the count and ETA stay.
        let narrow = ProgressLayout.fit(label: "train mms", done: 5, total: 300, rate: "12.3/s", eta: "ETA 1m05s",
                                        detail: detail + " and a lot more text that cannot fit", columns: 80)
        #expect(narrow.contains("5/300") && narrow.contains("ETA 1m05s") && narrow.hasSuffix("…"), "\(narrow)")
    }

    /// A 300-step train in a real pseudo-terminal 80 columns wide leaves one line on the screen:
    /// every redraw is shorter than the width and only the last one ends the line.
    @Test func threeHundredStepsLeaveOneLineAt80Columns() throws {
        let dir = makeTemporaryDirectory("clipood-progress")
        defer { try? FileManager.default.removeItem(at: dir) }
        let session = dir.appendingPathComponent("s.cood").path
        try """
        load model demo
        load data demo
        split target=sketch
        train steps=300 batch=1 tune=proj augment=off lr=1e-4 as a-run-with-a-long-name
        quit
        """.write(toFile: session, atomically: true, encoding: .utf8)
        let t = try PseudoTerminal(columns: 80)
        try t.spawn(Executable.url, ["run", session], environment: ["TERM": "xterm", "NO_COLOR": "1"])
        let status = t.waitForExit(timeout: 300)
        #expect(status == 0, "\(t.plainScreen)")
        // The train's part of the output: from its first redraw to the line after it.
        // The terminal turns "\n" into "\r\n", which Swift reads as one character: undo that first.
        let screen = t.screen.replacingOccurrences(of: "\r\n", with: "\n")
        guard let start = screen.range(of: "\rtrain a-run-with-a-long-name") else {
            Issue.record("no live progress line: \(t.plainScreen)"); return
        }
        let tail = screen[start.lowerBound...]
        let progress = tail[..<(tail.firstIndex(of: "\n") ?? tail.endIndex)]
        let redraws = progress.split(separator: "\r").map { $0.replacingOccurrences(of: "\u{1B}[K", with: "") }
        #expect(redraws.count >= 2, "expected several redraws: \(redraws)")
        for r in redraws { #expect(r.count <= 79, "a redraw is \(r.count) columns: '\(r)'") }
        #expect(redraws.last?.contains("300/300") == true, "\(redraws.last ?? "")")
    }
}
