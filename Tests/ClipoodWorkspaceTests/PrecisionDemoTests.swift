import ClipoodEngine
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
    try BLAS.$scoped.withValue(scope) {
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
}
