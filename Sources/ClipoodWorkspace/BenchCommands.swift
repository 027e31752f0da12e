import ClipoodCommands
import ClipoodEngine
import ClipoodExperiment
import ClipoodModel
import ClipoodTokenizer
import ClipoodTrain
import Foundation

// `bench`: measured ceilings that later performance work is compared against.

/// The arguments of `bench gemm` and `bench clip`.
private typealias B = BenchArguments
enum BenchArguments {
    static let gemmRuns = Argument<Int>.option("runs", 1 ... 1000, default: "5", help: "timed calls per shape (median and best are reported)")
    static let shapes = Argument<String>.option("shapes", .choice(["all", "square", "vit"]), default: "all", help: "which shapes to time")
    static let model = Argument<String>.option("model", .choice(["b32", "b16", "l14"]), default: "b16", help: "architecture (l14: ViT-L/14 at 224 px)")
    static let workload = Argument<String>.option("workload", .choice(["image", "text", "train", "train-last1"]), default: "image", help: "what to time")
    static let batch = Argument<Int>.option("batch", 1 ... 4096, default: "8", help: "images per call (text: ignored, 100 prompts)")
    static let runs = Argument<Int>.option("runs", 1 ... 1000, default: "5", help: "timed calls after one warm-up")
    static let threads = OptionalArgument<Int>.option("threads", 1 ... 1024, help: "BLAS threads (default: the threads setting)")
    static let blas = OptionalArgument<GemmBackend>(.option("blas", .choice(GemmBackend.allCases.map(\.rawValue)), help: "matrix-product library (default: the blas setting)")) {
        $0.string("blas").flatMap(GemmBackend.init(rawValue:))
    }
    static let precision = OptionalArgument<Precision>(.option("precision", .choice(Precision.allCases.map(\.rawValue)), help: "matrix-product inputs (default: the precision setting)")) {
        $0.string("precision").flatMap(Precision.init(rawValue:))
    }
    static let checkpoint = Shared.checkpoint.help("train workloads: recompute the trained blocks' activations in backward (less memory, about 1/3 more compute)")
    static let format = Argument<String>.option("format", .choice(["table", "tsv"]), default: "table", help: "a readable line, or the tab-separated line bench_compare reads")
}

extension Workspace {
    static let benchCommand = CommandSpec<Workspace>(
        "bench",
        summary: "measure the engine's speed",
        subcommands: [
            CommandSpec(
                "gemm",
                summary: "achieved sgemm GFLOPS on 1024³ and on ViT-B/16's largest shapes",
                discussion: """
                Times the matrix product of the `blas` and `precision` settings, or of `blas=` and
                `precision=` given here for this benchmark (oneDNN or OpenBLAS; row-major), after one warm-up call and reports the median and best of
                `runs` calls. FLOPs = 2·M·N·K per call. The ViT-B/16 shapes are a batch of 32
                images × 197 tokens = 6304 rows times the qkv (768→2304), MLP up (768→3072) and MLP
                down (3072→768) weights. With CLIPOOD_GEMM_PROFILE=1 in the environment, any
                command prints, at exit, the time spent in each oneDNN product shape.
                """,
                arguments: [
                    B.gemmRuns.spec, B.threads.help("BLAS threads for this benchmark (default: the threads setting)").spec, B.shapes.spec,
                    B.blas.spec, B.precision.spec,
                ],
                examples: ["bench gemm", "bench gemm runs=9 threads=1", "bench gemm shapes=vit precision=bf16"],
                run: { ws, args in try ws.benchGemm(args) }),
            benchClipCommand,
            benchAllreduceCommand,
        ])

    /// Puts a bench command's `blas=` and `precision=` in force (else the settings' stay) and
    /// returns what restores the settings'. Process-wide, as `set` does: a task-local
    /// `BLAS.$scoped` reaches only the calling thread.
    func applyBackendArguments(_ args: Arguments) -> () -> Void {
        let previous = (BLAS.defaultBackend, BLAS.defaultPrecision)
        if let b = args[B.blas] { BLAS.defaultBackend = b }
        if let p = args[B.precision] { BLAS.defaultPrecision = p }
        return { (BLAS.defaultBackend, BLAS.defaultPrecision) = previous }
    }

    func benchGemm(_ args: Arguments) throws {
        let runs = args[B.gemmRuns]
        let threads = args[B.threads] ?? settings.threads
        let previous = BLAS.threads
        BLAS.threads = threads
        defer { BLAS.threads = previous }
        let restoreBackend = applyBackendArguments(args)
        defer { restoreBackend() }
        var shapes: [GemmShape] = []
        let which = args[B.shapes]
        if which != "vit" { shapes.append(GemmShape(label: "square 1024³", M: 1024, N: 1024, K: 1024)) }
        if which != "square" { shapes += GemmShape.vitB16 }
        let kind = BLAS.effectivePrecision == .bf16 ? "gemm, bf16 inputs with fp32 accumulation (oneDNN \(BLAS.oneDNNVersion ?? "?"))" : "sgemm, fp32"
        write("\(kind), \(threads) BLAS thread\(threads == 1 ? "" : "s"), \(BLAS.libraryDescription), median of \(runs) after warm-up")
        var rows: [[String]] = []
        for s in shapes {
            if Interrupt.isRequested { break }
            let r = GemmBenchmark.run(s, runs: runs, shouldStop: { Interrupt.isRequested })
            rows.append([s.label, "\(s.M)×\(s.K)·\(s.K)×\(s.N)",
                         String(format: "%.1f", r.medianSeconds * 1000), String(format: "%.1f", r.bestSeconds * 1000),
                         String(format: "%.1f", r.medianGFLOPS), String(format: "%.1f", r.bestGFLOPS)])
        }
        // No GFLOP column (2·M·N·K follows from the shape): with it the ViT rows took 85 columns.
        write(TextTable.render(header: ["shape", "M×K·K×N", "median ms", "best ms", "GFLOPS", "best GFLOPS"], rows: rows))
        if Interrupt.isRequested { throw CommandError("interrupted (Ctrl-C); the table shows the runs made so far") }
        write("OpenBLAS: " + BLAS.configuration)
    }
}

// MARK: bench clip — the workloads that scripts/bench_torch.py runs in PyTorch

extension Workspace {
    static let benchClipCommand = CommandSpec<Workspace>(
        "clip",
        summary: "one CLIP workload on a random-weight ViT-B/32, ViT-B/16 or ViT-L/14 (224 px, fp32): throughput, GFLOPS, peak memory",
        discussion: """
        Workloads: image (encode_image at batch B), text (100 prompts "a photo of a {}." from
        scripts/bench_classes.txt, context 77), train (one CLIPood step of the full image tower:
        MMS loss, backward, AdamW, one BMA update), train-last1 (the same step training the last
        block + ln_post + proj, the frozen prefix's output computed once before timing).
        One warm-up call, then `runs` timed calls; median and best. FLOPs count 2·M·N·K for every
        matrix product (patch embedding, qkv, QKᵀ, PV, out proj, MLP, projection); training counts
        3× the forward of the trained part; checkpoint=on computes the trained blocks' forward again
        in backward (all but the last block), which GFLOPS does not count (it measures useful work). Peak memory is the
        process's peak resident set (getrusage's ru_maxrss), model and optimiser state included.
        Run one workload per process (as scripts/bench_compare does) so that peak memory belongs
        to that workload.
        """,
        arguments: [
            B.model.spec, B.workload.spec, B.batch.spec, B.runs.spec, B.threads.spec, B.blas.spec, B.precision.spec, B.checkpoint.spec, B.format.spec,
        ],
        examples: ["bench clip model=b32 workload=image batch=32", "bench clip workload=train batch=12 format=tsv",
                   "bench clip model=b16 blas=onednn precision=bf16",
                   "bench clip model=l14 workload=train batch=36 checkpoint=on runs=1"],
        run: { ws, args in try ws.benchCLIP(args) })

    func benchCLIP(_ args: Arguments) throws {
        let name = args[B.model], workload = args[B.workload]
        let runs = args[B.runs]
        let threads = args[B.threads] ?? settings.threads
        BLAS.threads = threads
        let restoreBackend = applyBackendArguments(args)
        defer { restoreBackend() }
        if BLAS.defaultPrecision == .bf16 && !BLAS.cpuHasBF16 {
            say("note: this CPU has no native bf16 dot products (AVX512-BF16 or AMX); running fp32")
        }
        let config = name == "b32" ? CLIPConfig.vitB32 : name == "l14" ? CLIPConfig.vitL14 : CLIPConfig.vitB16
        let model = CLIPModel(config: config)
        model.initialiseRandomly(seed: 0)
        let v = config.vision, S = v.imageSize, D = config.embedDim
        var rng = RNG(seed: 1)
        var B = workload == "text" ? 100 : args[BenchArguments.batch]
        var call: () throws -> Void
        switch workload {
        case "image":
            let px = FloatBuffer(count: B * 3 * S * S)
            rng.fillNormal(px.base, count: px.count)
            call = { _ = model.vision.forward(pixels: px.base, B: B) }
        case "text":
            let classes = try benchClasses()
            B = classes.count
            let tokenizer = try wrapped { try CLIPTokenizer.cached() }
            let ids = tokenizer.tokenize(classes.map { "a photo of a \($0)." }, contextLength: config.text.contextLength)
            call = { _ = model.text.forward(ids: ids, B: B) }
        default:
            let K = 7
            let text = FloatBuffer(count: K * D)
            rng.fillNormal(text.base, count: text.count)
            let norms = FloatBuffer(count: K)
            L2Normalize.forward(out: text.base, norms: norms.base, inp: text.base, N: K, C: D)
            var tc = TrainingConfig(steps: runs + 1)
            tc.learningRate = 5e-6
            tc.averages = [AverageChoice("bma", 0.5)]
            tc.scale = 100
            tc.trainable = workload == "train" ? .full : .lastBlocks(1)
            tc.checkpoint = args[BenchArguments.checkpoint]
            let trainer = Trainer(model: model, textFeatures: text, classes: K, config: tc)
            let px = FloatBuffer(count: B * 3 * S * S)
            rng.fillNormal(px.base, count: px.count)
            let labels = (0 ..< B).map { _ in Int32(rng.below(K)) }
            if workload == "train" {
                call = { try trainer.step(pixels: px.base, labels: labels, B: B) }
            } else {
                let streams = FloatBuffer(count: B * model.vision.streamSize)
                model.vision.prefix(pixels: px.base, B: B, upTo: trainer.firstTrainableLayer, into: streams.base)
                call = { try trainer.step(streams: streams.base, labels: labels, B: B) }
            }
        }
        try call()
        var seconds: [Double] = []
        for _ in 0 ..< runs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try call()
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let sorted = seconds.sorted()
        let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        let flops = CLIPFlops.count(config, workload: workload, batch: B)
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let peakMiB = Double(usage.ru_maxrss) / 1024
        let isStep = workload.hasPrefix("train")
        let unit = isStep ? "s/step" : workload == "text" ? "prompts/s" : "images/s"
        let value = isStep ? median : Double(B) / median
        let batchLabel = workload == "text" ? 100 : B
        if args[BenchArguments.format] == "tsv" {
            write([name, workload, String(batchLabel), unit, String(format: "%.4g", value), String(format: "%.4f", sorted[0]), String(format: "%.4f", median),
                   String(format: "%.1f", flops / median / 1e9), String(format: "%.0f", peakMiB)].joined(separator: "\t"))
        } else {
            write(String(format: "%@ %@ batch %d: %.3g %@ (median of %d; best %.3f s, median %.3f s), %.1f GFLOPS, peak %.0f MiB, %d BLAS threads, %@",
                         name, workload + (isStep && args[BenchArguments.checkpoint] ? " checkpoint=on" : ""), batchLabel, value, unit, runs, sorted[0], median, flops / median / 1e9, peakMiB, threads, BLAS.description))
        }
    }

    /// The 100 class names of scripts/bench_classes.txt (shared with bench_torch.py).
    func benchClasses() throws -> [String] {
        let candidates = ["scripts/bench_classes.txt", URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("../../scripts/bench_classes.txt").path]
        for c in candidates {
            if let text = try? String(contentsOfFile: c, encoding: .utf8) {
                let names = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                if !names.isEmpty { return names }
            }
        }
        throw CommandError("cannot find scripts/bench_classes.txt (run from the repository root)")
    }
}

/// Analytic FLOPs of the benchmark workloads: 2·M·N·K per matrix product.
/// Per image (T tokens, width W, L blocks, patch P, MLP width H, embedding D):
///   patch embedding 2·(T−1)·3P²·W; per block qkv 2·T·W·3W, QKᵀ 2·T²·W, PV 2·T²·W,
///   out proj 2·T·W², MLP 2·T·W·H·2; projection 2·W·D.
/// Text per prompt: the same blocks with T = 77 (as CLIP pads; clipood itself stops at the
/// last end token, so its real work is smaller) and width/MLP of the text tower.
/// Training: 3× the forward FLOPs of the trained part (forward + two backward products).
public enum CLIPFlops {
    static func block(T: Double, W: Double, H: Double) -> Double { 2 * T * W * 3 * W + 4 * T * T * W + 2 * T * W * W + 4 * T * W * H }

    public static func count(_ c: CLIPConfig, workload: String, batch B: Int) -> Double {
        let v = c.vision, b = Double(B)
        let T = Double(v.tokens), W = Double(v.width), H = Double(v.mlpWidth), P = Double(v.patchSize), D = Double(c.embedDim)
        let patch = 2 * (T - 1) * 3 * P * P * W, head = 2 * W * D
        let visionForward = patch + Double(v.layers) * block(T: T, W: W, H: H) + head
        switch workload {
        case "image": return b * visionForward
        case "text":
            let t = c.text
            return b * (Double(t.layers) * block(T: Double(t.contextLength), W: Double(t.width), H: Double(t.mlpWidth)) + 2 * Double(t.width) * D)
        case "train": return 3 * b * visionForward
        default: return 3 * b * (block(T: T, W: W, H: H) + head)   // train-last1: only the last block and the head run
        }
    }
}
