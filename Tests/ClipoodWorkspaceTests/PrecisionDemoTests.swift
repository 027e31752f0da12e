import ClipoodEngine
import ClipoodModel
import ClipoodWorkspace
import Foundation
import TestSupport
import Testing

/// bf16 needs native bf16 dot products; elsewhere the suite is skipped with the reason printed.
let demoBF16Available: Bool = {
    if !BLAS.cpuHasBF16 { print("bf16 demo tests skipped: this CPU has neither AVX512-BF16 nor AMX-BF16") }
    return BLAS.cpuHasBF16
}()

/// The demo session of the quickstart, shortened: zero-shot, one 100-step MMS run, compare.
/// Returns the captured output and the run's per-step losses.
func demoSession(_ scope: BLAS.Scope) throws -> (output: String, losses: [Double]) {
    let c = Captured()
    try BLAS.$scoped.withValue(scope) { () throws -> Void in
        for line in ["set progress=off", "load model demo", "load data demo", "split holdout=0.2", "zeroshot on val",
                     "split target=sketch", "train steps=100 batch=12 lr=1e-4 lambda=0.3 beta=0.5 as mms", "compare on test,val"] {
            let ok = try c.workspace.executeInteractive(line)
            #expect(ok, "\(line): \(c.stderr)")
        }
    }
    let losses = c.workspace.runs["mms"]?.log.map { Double($0.record.loss) } ?? []
    return (c.stdout, losses)
}

/// Accuracy cells (percentages) of the zero-shot and compare tables, keyed "row|column".
/// Tables are rows of cells separated by two or more spaces; a column whose header ends in
/// "acc %" holds accuracies.
func accuracyCells(_ output: String) -> [String: Double] {
    var cells: [String: Double] = [:]
    var header: [String]? = nil
    var table = 0
    for line in output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
        let parts = line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if parts.contains(where: { $0.hasSuffix("acc %") }) { header = parts; table += 1; continue }
        guard let h = header else { continue }
        if line.hasPrefix("---") { continue }
        if parts.count != h.count { header = nil; continue }
        for (i, name) in h.enumerated() where name.hasSuffix("acc %") {
            if let v = Double(parts[i]) { cells["\(table)|\(parts[0])|\(name)"] = v }
        }
    }
    return cells
}

@Suite("bf16 on the demo model: accuracies and the loss curve against fp32", .serialized)
struct PrecisionDemoTests {
    @Test(.enabled(if: demoBF16Available)) func bf16DemoMatchesFP32() throws {
        let fp32 = try demoSession(.init(backend: .openblas, precision: .fp32))
        let bf16 = try demoSession(.init(backend: .onednn, precision: .bf16))
        let a = accuracyCells(fp32.output), b = accuracyCells(bf16.output)
        #expect(a.count >= 10, "too few accuracy cells parsed: \(a.keys.sorted())")
        #expect(Set(a.keys) == Set(b.keys))
        for (k, v) in a.sorted(by: { $0.key < $1.key }) {
            guard let w = b[k] else { continue }
            #expect(abs(v - w) <= 0.5, "\(k): fp32 \(v) %, bf16 \(w) %")
        }
        // The 100-step loss curve: every step within 2 % of fp32's.
        #expect(fp32.losses.count == 100 && bf16.losses.count == 100)
        #expect(fp32.losses != bf16.losses, "bf16 gave fp32's losses: it did not run")
        var worst = 0.0
        for (x, y) in zip(fp32.losses, bf16.losses) { worst = max(worst, abs(x - y) / abs(x)) }
        #expect(worst <= 0.02, "bf16 loss curve departs from fp32's by up to \(worst * 100) %")
    }

    /// Interrupted after 3 of 6 steps, saved, loaded into a fresh workspace and resumed on the
    /// same backend and precision, a demo run ends with exactly the uninterrupted run's weights,
    /// averages and losses. (The demo's products are big enough to run on oneDNN.)
    @Test(arguments: [Precision.fp32, .bf16])
    func resumeIsBitIdenticalOnOneDNN(_ precision: Precision) throws {
        if precision == .bf16 && !demoBF16Available { return }
        let scope = BLAS.Scope(backend: .onednn, precision: precision)
        let root = makeTemporaryDirectory("clipood-onednn-resume")
        defer { try? FileManager.default.removeItem(at: root) }
        let dirA = root.appendingPathComponent("a").path, dirB = root.appendingPathComponent("b").path, dirC = root.appendingPathComponent("c").path
        let setup = ["set progress=off", "load model demo", "load data demo", "split target=sketch seed=2"]
        let train = "train steps=6 batch=12 lr=1e-4 seed=3 beta=0.5 ema=0.9 tune=full"
        let w1 = Captured(), w2 = Captured(), w3 = Captured()
        try BLAS.$scoped.withValue(scope) { () throws -> Void in
            for l in setup + ["\(train) as run", "save run to \(dirA)"] { #expect(try w1.workspace.executeInteractive(l), "\(l): \(w1.stderr)") }
            for l in setup + ["\(train) pause=3 as run", "save run to \(dirB)"] { #expect(try w2.workspace.executeInteractive(l), "\(l): \(w2.stderr)") }
            for l in ["set progress=off", "load run \(dirB)", "train resume=run", "save run to \(dirC)"] {
                #expect(try w3.workspace.executeInteractive(l), "\(l): \(w3.stderr)")
            }
        }
        #expect(w3.stdout.contains("resuming 'run' at step 4"))
        for file in ["final", "bma_0.5", "ema", "swa"] {
            let a = try SafeTensorsFile(path: "\(dirA)/\(file).safetensors"), c = try SafeTensorsFile(path: "\(dirC)/\(file).safetensors")
            for n in a.names { #expect(try a.floats(n) == c.floats(n), "\(precision) \(file): \(n) differs") }
        }
        let logA = try String(contentsOfFile: dirA + "/log.csv", encoding: .utf8), logC = try String(contentsOfFile: dirC + "/log.csv", encoding: .utf8)
        func losses(_ csv: String) -> [String] { csv.split(separator: "\n").map { $0.split(separator: ",").prefix(4).joined(separator: ",") } }
        #expect(losses(logA) == losses(logC) && losses(logA).count == 7)
    }
}

@Suite("bf16's speed note")
struct BF16SpeedNoteTests {
    /// `set precision=bf16` on a CPU with native bf16 times one product in each precision, once
    /// per process; where bf16 was the slower it says so once, with both speeds. Elsewhere the
    /// no-bf16 note is the only one. In child processes: `set precision=` changes the whole
    /// process's products, which would reach every test running beside this one.
    @Test func saidAtMostOnceWithBothSpeeds() throws {
        let r = try Executable.run(["run", "-"], stdin: "set precision=bf16\nset precision=fp32\nset precision=bf16\n")
        #expect(r.status == 0, "\(r.stderr)")
        let notes = r.stdout.split(separator: "\n").filter { $0.hasPrefix("note:") }
        #expect(notes.count <= 1, "\(r.stdout)")
        if !BLAS.cpuHasBF16 { #expect(notes.first?.contains("no native bf16") == true, "\(r.stdout)") }
        if !notes.isEmpty, BLAS.cpuHasBF16 {
            #expect(r.stdout.firstMatch(of: #/bf16 products are slower than fp32 \((\d+) against\n(\d+) GFLOPS/#)
                        .map { Int($0.1)! <= Int($0.2)! } == true, "\(r.stdout)")
            #expect(r.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 }, "\(r.stdout)")
            #expect(r.stdout.contains("precision=bf16 runs as asked"))
        }
        // In fp32 nothing is timed or said.
        let fp32 = try Executable.run(["run", "-"], stdin: "set precision=fp32\n")
        #expect(!fp32.stdout.contains("note:"), "\(fp32.stdout)")
    }
}
