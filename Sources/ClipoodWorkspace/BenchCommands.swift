import ClipoodCommands
import ClipoodEngine
import Foundation

// `bench`: measured ceilings that later performance work is compared against.

extension Workspace {
    static let benchCommand = CommandSpec<Workspace>(
        "bench",
        summary: "measure the engine's speed",
        subcommands: [
            CommandSpec(
                "gemm",
                summary: "achieved sgemm GFLOPS on 1024³ and on ViT-B/16's largest shapes",
                discussion: """
                Times cblas_sgemm (OpenBLAS, fp32, row-major) after one warm-up call and reports the
                median and best of `runs` calls. FLOPs = 2·M·N·K per call. The ViT-B/16 shapes are a
                batch of 32 images × 197 tokens = 6304 rows times the qkv (768→2304), MLP up (768→3072)
                and MLP down (3072→768) weights.
                """,
                arguments: [
                    .option("runs", .int(1 ... 1000), default: "5", help: "timed calls per shape (median and best are reported)"),
                    .option("threads", .int(1 ... 1024), help: "BLAS threads for this benchmark (default: the threads setting)"),
                    .option("shapes", .choice(["all", "square", "vit"]), default: "all", help: "which shapes to time"),
                ],
                examples: ["bench gemm", "bench gemm runs=9 threads=1"],
                run: { ws, args in try ws.benchGemm(args) }),
        ])

    func benchGemm(_ args: Arguments) throws {
        let runs = args.int("runs")!
        let threads = args.int("threads") ?? settings.threads
        let previous = BLAS.threads
        BLAS.threads = threads
        defer { BLAS.threads = previous }
        var shapes: [GemmShape] = []
        let which = args.string("shapes")!
        if which != "vit" { shapes.append(GemmShape(label: "square 1024³", M: 1024, N: 1024, K: 1024)) }
        if which != "square" { shapes += GemmShape.vitB16 }
        write("sgemm, fp32, \(threads) BLAS thread\(threads == 1 ? "" : "s"), median of \(runs) after warm-up")
        var rows: [[String]] = []
        for s in shapes {
            let r = GemmBenchmark.run(s, runs: runs)
            rows.append([s.label, "\(s.M)×\(s.K)·\(s.K)×\(s.N)", String(format: "%.2f", s.gflop),
                         String(format: "%.1f", r.medianSeconds * 1000), String(format: "%.1f", r.bestSeconds * 1000),
                         String(format: "%.1f", r.medianGFLOPS), String(format: "%.1f", r.bestGFLOPS)])
        }
        write(TextTable.render(header: ["shape", "M×K·K×N", "GFLOP", "median ms", "best ms", "GFLOPS", "best GFLOPS"], rows: rows))
        write("OpenBLAS: " + BLAS.configuration)
    }
}
