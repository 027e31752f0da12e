// swift-tools-version:6.0
// clipood — CLIPood fine-tuning of CLIP in Swift. See README.md and docs/ARCHITECTURE.md.
//
// Dependency arrows point one way:
//   C* system libraries, CKernels (vectorised kernels) ← ClipoodEngine (numerics) ← ClipoodModel (CLIP, checkpoints) ← (data, train: later issues)
//   ClipoodTokenizer (BPE) and ClipoodImage (decoding, preprocessing) are leaves beside the model
//   ClipoodCommands (command language, no dependencies) ← ClipoodWorkspace ← clipood (executable)
import PackageDescription

// Swift 5 language mode: the kernels pass raw pointers between threads on purpose;
// Swift 6's strict sendability checking would only add ceremony around them.
// Every Swift target keeps bounds, overflow and exclusivity checks (no unchecked optimisation
// mode): they all touch numbers that come from files or user input, and a missed check must
// trap, not corrupt memory.
let swift5: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "clipood",
    products: [
        .executable(name: "clipood", targets: ["clipood"]),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, libreadline-dev, libturbojpeg0-dev, libpng-dev).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CReadline", providers: [.apt(["libreadline-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // oneDNN (Debian: libdnnl-dev 2.6, OpenMP-threaded with libgomp), the second matrix-product
        // backend: matmul primitives behind a BLAS-style call, a primitive cache, bf16 inputs, CPU check.
        .target(name: "CDNNLMatmul", cSettings: [.unsafeFlags(["-O2"], .when(configuration: .release))],
                linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),

        // Safe file I/O for hostile inputs: regular files only, size caps, atomic writes,
        // overflow-checked size arithmetic, one-line errors with the path. Depends on nothing.
        .target(name: "ClipoodIO", swiftSettings: swift5),
        // Vectorised exp-based elementwise kernels (softmax rows, QuickGELU), one copy per ISA.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"], .when(configuration: .release)), .unsafeFlags(["-fno-math-errno"])]),
        // Flat Float buffers, parameter layouts, BLAS, kernels with forward and backward, RNG.
        .target(name: "ClipoodEngine", dependencies: ["CBLAS", "CKernels", "CDNNLMatmul", "ClipoodIO"], swiftSettings: swift5),
        // CLIP's towers on the engine, safetensors and .npy files, checkpoint formats and name maps.
        .target(name: "ClipoodModel", dependencies: ["ClipoodEngine"], swiftSettings: swift5),
        // Datasets on disk (DomainBed / image-folder layouts), splits, per-domain sampling, batches with augmentation.
        .target(name: "ClipoodData", dependencies: ["ClipoodEngine", "ClipoodImage"], swiftSettings: swift5),
        // The built-in world: a procedural multi-domain dataset (and, later, the demo model).
        .target(name: "ClipoodDemo", dependencies: ["ClipoodEngine", "ClipoodImage", "CPNG"], path: "Sources/ClipoodDemo", swiftSettings: swift5),
        // The CLIPood method: MMS loss, AdamW and cosine schedule, weight averages (BMA, EMA, SWA, WiSE-FT), trainer.
        .target(name: "ClipoodTrain", dependencies: ["ClipoodEngine", "ClipoodModel", "CKernels"], swiftSettings: swift5),
        // Runs as whole experiments: Run, the training loop, the evaluation pipeline and its caches,
        // the prefix cache, save/restore (one writer, one reader), content hashes. Between
        // training/data and the workspace; prints nothing (progress goes through a callback).
        .target(name: "ClipoodExperiment", dependencies: ["ClipoodTrain", "ClipoodDistributed", "ClipoodData", "ClipoodModel", "ClipoodTokenizer", "ClipoodEngine", "ClipoodImage", "ClipoodIO"], swiftSettings: swift5),
        // CLIP's byte-level BPE tokenizer (vocab.json + merges.txt, or OpenAI's .txt.gz).
        .target(name: "ClipoodTokenizer", dependencies: ["CZlib", "ClipoodIO"], swiftSettings: swift5),
        // JPEG/PNG decoding to RGB8 and CLIP's preprocessing (Pillow-exact resampling, crops, augmentation).
        .target(name: "ClipoodImage", dependencies: ["ClipoodEngine", "CTurboJPEG", "CPNG", "ClipoodIO"], swiftSettings: swift5),
        // The processes of an MPI job (mpirun / srun): rank, size, sums, gathers, broadcast, abort.
        // One plain process when not launched, with every collective the identity.
        .target(name: "ClipoodDistributed", dependencies: ["CMPI"], swiftSettings: swift5),
        // Lexer, parser, command declarations, help, completion and diagnostics. Knows nothing of CLIP.
        .target(name: "ClipoodCommands", swiftSettings: swift5),
        // Workspace state and the commands a user types; everything that prints goes through here.
        .target(name: "ClipoodWorkspace", dependencies: ["ClipoodCommands", "ClipoodEngine", "ClipoodModel", "ClipoodData", "ClipoodDemo", "ClipoodTrain", "ClipoodExperiment", "ClipoodTokenizer", "ClipoodImage", "ClipoodIO", "ClipoodDistributed"],
                // The built-in demo model (Sessions/pretrain-demo.cood reproduces it).
                resources: [.copy("Resources/demo")], swiftSettings: swift5),
        // The thin executable: REPL, `run`, one-shot commands.
        .executableTarget(name: "clipood", dependencies: ["ClipoodWorkspace", "ClipoodDistributed", "CReadline"], swiftSettings: swift5),

        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: swift5),
        .testTarget(name: "ClipoodDistributedTests", dependencies: ["ClipoodDistributed", "TestSupport"], swiftSettings: swift5),
        .testTarget(name: "ClipoodIOTests", dependencies: ["ClipoodIO", "TestSupport"], swiftSettings: swift5),
        .testTarget(name: "ClipoodEngineTests", dependencies: ["ClipoodEngine", "TestSupport"], swiftSettings: swift5),
        .testTarget(name: "ClipoodModelTests", dependencies: ["ClipoodModel", "TestSupport"], swiftSettings: swift5),
        .testTarget(name: "ClipoodDataTests", dependencies: ["ClipoodData", "ClipoodImage", "ClipoodEngine", "TestSupport"], swiftSettings: swift5),
        .testTarget(name: "ClipoodDemoTests", dependencies: ["ClipoodDemo", "ClipoodData", "ClipoodImage", "ClipoodEngine", "TestSupport"], swiftSettings: swift5),
        .testTarget(name: "ClipoodTrainTests", dependencies: ["ClipoodTrain", "ClipoodModel", "TestSupport"], swiftSettings: swift5),
        .testTarget(name: "ClipoodExperimentTests", dependencies: ["ClipoodExperiment", "ClipoodIO", "TestSupport"], swiftSettings: swift5),
        .testTarget(name: "ClipoodTokenizerTests", dependencies: ["ClipoodTokenizer", "TestSupport"], swiftSettings: swift5),
        .testTarget(name: "ClipoodImageTests", dependencies: ["ClipoodImage", "ClipoodModel", "TestSupport"], swiftSettings: swift5),
        .testTarget(name: "ClipoodCommandsTests", dependencies: ["ClipoodCommands", "TestSupport"], swiftSettings: swift5),
        .testTarget(name: "ClipoodWorkspaceTests", dependencies: ["ClipoodWorkspace", "ClipoodExperiment", "clipood", "TestSupport"], swiftSettings: swift5),
    ]
)
