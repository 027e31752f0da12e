import ClipoodCommands
import ClipoodEngine
import ClipoodExperiment
import Foundation

/// One user setting: declared once, this gives `set`'s option, its help, its completion
/// and the `show settings` row.
struct SettingSpec {
    let name: String
    let type: ValueType
    let help: String
    let defaultValue: () -> String
}

/// The values of `set KEY=VALUE`. Stored as typed fields so code reads `settings.threads`.
public struct Settings {
    public var threads = Settings.defaultThreads
    public var seed = 0
    public var color = "auto"
    public var onerror = "stop"
    public var echo = false
    public var plots = "plots"
    public var progress = "auto"
    public var blas = BLAS.defaultBackendAtStart.rawValue
    public var precision = BLAS.defaultPrecisionAtStart.rawValue

    /// The cores this process may use, shared among the ranks an MPI launcher started on this
    /// node (Open MPI and Slurm say how many), so that ranks do not oversubscribe the cores.
    static let defaultThreads: Int = {
        let env = ProcessInfo.processInfo.environment
        let local = ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"].lazy.compactMap { env[$0].flatMap(Int.init) }.first ?? 1
        return max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, local))
    }()

    static let specs: [SettingSpec] = [
        SettingSpec(name: "threads", type: .int(1 ... 1024), help: "threads for BLAS and parallel kernels",
                    defaultValue: { String(defaultThreads) }),
        SettingSpec(name: "seed", type: .int(0 ... Int(Int32.max)), help: "default seed for every random choice (splits, sampling, augmentation)",
                    defaultValue: { "0" }),
        SettingSpec(name: "color", type: .choice(["auto", "on", "off"]), help: "coloured output (auto: only on a terminal, and not with NO_COLOR)",
                    defaultValue: { "auto" }),
        SettingSpec(name: "onerror", type: .choice(["stop", "continue"]), help: "what a session file does at a failing line",
                    defaultValue: { "stop" }),
        SettingSpec(name: "echo", type: .bool, help: "print each line of a session file before running it",
                    defaultValue: { "off" }),
        SettingSpec(name: "plots", type: .path(), help: "directory where figures are written",
                    defaultValue: { "plots" }),
        SettingSpec(name: "progress", type: .choice(["auto", "on", "off"]), help: "progress of long work (auto: a bar on a terminal, a line now and then otherwise; off: none)",
                    defaultValue: { "auto" }),
        SettingSpec(name: "blas", type: .choice(GemmBackend.allCases.map(\.rawValue)), help: "matrix-product library: onednn (the default where it starts) or openblas",
                    defaultValue: { BLAS.defaultBackendAtStart.rawValue }),
        SettingSpec(name: "precision", type: .choice(Precision.allCases.map(\.rawValue)),
                    help: "matrix-product inputs: fp32, or bf16 (fp32 accumulation; only on CPUs with native bf16)",
                    defaultValue: { BLAS.defaultPrecisionAtStart.rawValue }),
    ]

    /// The current value of a setting, as `set` would accept it.
    func value(of name: String) -> String {
        switch name {
        case "threads": return String(threads)
        case "seed": return String(seed)
        case "color": return color
        case "onerror": return onerror
        case "echo": return echo ? "on" : "off"
        case "plots": return plots
        case "progress": return progress
        case "blas": return blas
        case "precision": return precision
        default: preconditionFailure("unknown setting \(name)")
        }
    }

    /// Stores one already-checked value (the parser converted it by the spec's type).
    mutating func assign(_ name: String, _ v: Value) {
        switch (name, v) {
        case ("threads", .int(let i)): threads = i
        case ("seed", .int(let i)): seed = i
        case ("color", .string(let s)): color = s
        case ("onerror", .string(let s)): onerror = s
        case ("echo", .bool(let b)): echo = b
        case ("plots", .string(let s)): plots = s
        case ("progress", .string(let s)): progress = s
        case ("blas", .string(let s)): blas = s
        case ("precision", .string(let s)): precision = s
        default: preconditionFailure("setting \(name) got \(v)")
        }
    }

    /// Pushes settings that live outside the workspace (BLAS threads) to where they act.
    func apply(to workspace: Workspace) {
        BLAS.threads = threads
        let before = (BLAS.defaultBackend, BLAS.effectivePrecision)
        BLAS.defaultBackend = GemmBackend(rawValue: blas) ?? BLAS.defaultBackendAtStart
        BLAS.defaultPrecision = Precision(rawValue: precision) ?? .fp32
        if before != (BLAS.defaultBackend, BLAS.effectivePrecision) {
            // Cached embeddings were computed by the other backend or precision.
            workspace.features.forgetText()
            workspace.features.forgetImages()
        }
        if BLAS.defaultPrecision == .bf16 && !BLAS.cpuHasBF16 && !Settings.saidNoBF16 {
            Settings.saidNoBF16 = true
            workspace.say("note: this CPU has no native bf16 dot products (AVX512-BF16 or AMX); precision=bf16 runs in fp32")
        }
        // Native bf16 is not always faster: say so once when it is not (it still runs as asked).
        if BLAS.effectivePrecision == .bf16 && !Settings.checkedBF16Speed {
            Settings.checkedBF16Speed = true
            let speed = GemmBenchmark.precisionSpeeds()
            if speed.bf16 < speed.fp32 {
                workspace.write(String(format: "note: on this CPU bf16 products are slower than fp32 (%.0f against\n" +
                                       "%.0f GFLOPS on a 1024³ product); precision=bf16 runs as asked, but fp32 is\n" +
                                       "faster here", speed.bf16, speed.fp32))
            }
        }
    }

    /// Whether the no-bf16 note was written, and bf16's speed checked (once per process each).
    nonisolated(unsafe) static var saidNoBF16 = false
    nonisolated(unsafe) static var checkedBF16Speed = false
}
