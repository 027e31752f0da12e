import CBLAS
import CDNNLMatmul
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which library runs the matrix products.
public enum GemmBackend: String, CaseIterable, Sendable {
    /// OpenBLAS's cblas_sgemm (what runs where oneDNN cannot start).
    case openblas
    /// oneDNN's matmul primitives, created once per shape and kept (the default where its CPU
    /// engine starts: faster than OpenBLAS on every machine measured, and indifferent to
    /// OPENBLAS_CORETYPE).
    case onednn
}

/// The number format of the matrix products' inputs in the towers.
public enum Precision: String, CaseIterable, Sendable {
    case fp32
    /// Inputs rounded to bfloat16, products accumulated in fp32 (oneDNN; only on CPUs with
    /// native bf16 dot products).
    case bf16
}

/// Row-major single-precision GEMM and BLAS threading, in one place.
public enum BLAS {
    /// The backend every GEMM uses: `scoped`'s when one is in force, else `defaultBackend`.
    public static var backend: GemmBackend {
        get { scoped?.backend ?? defaultBackend }
        set { defaultBackend = newValue }
    }

    /// The precision the towers ask for: `scoped`'s when one is in force, else
    /// `defaultPrecision`. What runs is `effectivePrecision`.
    public static var precision: Precision {
        get { scoped?.precision ?? defaultPrecision }
        set { defaultPrecision = newValue }
    }

    /// The process-wide backend (`set blas=`). Starts as CLIPOOD_BLAS says (openblas or
    /// onednn), else onednn where oneDNN's CPU engine starts, else openblas.
    public static var defaultBackend: GemmBackend = defaultBackendAtStart

    /// The process-wide precision (`set precision=`). Starts as CLIPOOD_PRECISION says, else fp32.
    public static var defaultPrecision: Precision = defaultPrecisionAtStart

    /// What CLIPOOD_BLAS / CLIPOOD_PRECISION chose when the process started (the settings' defaults).
    public static let defaultBackendAtStart: GemmBackend = {
        if let v = getenv("CLIPOOD_BLAS"), let b = GemmBackend(rawValue: String(cString: v)) { return b }
        return oneDNNVersion != nil ? .onednn : .openblas
    }()
    public static let defaultPrecisionAtStart: Precision = {
        if let v = getenv("CLIPOOD_PRECISION"), let p = Precision(rawValue: String(cString: v)) { return p }
        return .fp32
    }()

    /// A backend and precision for one piece of work on one thread (and the tasks it starts),
    /// over the process-wide ones: `BLAS.$scoped.withValue(.init(backend: .onednn)) { … }`.
    /// Matrix products run on the thread that asks for them, so this reaches all of them.
    public struct Scope: Sendable {
        public var backend: GemmBackend
        public var precision: Precision
        public init(backend: GemmBackend = BLAS.defaultBackend, precision: Precision = BLAS.defaultPrecision) {
            self.backend = backend
            self.precision = precision
        }
    }
    @TaskLocal public static var scoped: Scope? = nil

    /// Whether this CPU has native bf16 dot products (AVX512-BF16 or AMX-BF16) and oneDNN loaded.
    public static let cpuHasBF16: Bool = cdm_cpu_has_bf16() != 0 && oneDNNVersion != nil

    /// bf16 when it was asked for and the CPU has it; fp32 otherwise.
    public static var effectivePrecision: Precision { precision == .bf16 && cpuHasBF16 ? .bf16 : .fp32 }

    /// oneDNN's version ("2.6.3"), or nil when its CPU engine cannot be created.
    public static let oneDNNVersion: String? = {
        var buf = [CChar](repeating: 0, count: 32)
        let ok = cdm_version(&buf, buf.count)
        return ok != 0 ? String(cString: buf) : nil
    }()

    /// Products smaller than this (M·N·K) do not go to oneDNN: a oneDNN call costs microseconds
    /// of dispatch, more than such a product itself. Under the onednn backend they run in plain
    /// loops on the calling thread; with bf16 under openblas, on OpenBLAS in fp32.
    public static let oneDNNMinimumVolume = 1 << 16

    /// Products smaller than this (M·N·K) stay fp32 under precision=bf16: converting their
    /// operands costs more than bf16 saves. The fully connected layers are far above it;
    /// attention's per-head products (`sgemmBatched`) are fp32 at every size.
    public static let bf16MinimumVolume = 1 << 22

    /// C(M,N) = alpha · op(A)(M,K) · op(B)(K,N) + beta · C, all row-major, in fp32.
    /// `lda`, `ldb`, `ldc` are row strides (elements between consecutive rows as stored).
    @inline(__always)
    public static func sgemm(transA: Bool = false, transB: Bool = false, M: Int, N: Int, K: Int,
                             alpha: Float = 1, A: UnsafePointer<Float>, lda: Int,
                             B: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, C: UnsafeMutablePointer<Float>, ldc: Int) {
        if backend == .onednn {
            if M * N * K >= oneDNNMinimumVolume {
                oneDNN(transA: transA, transB: transB, M: M, N: N, K: K, alpha: alpha, A: A, lda: lda, B: B, ldb: ldb,
                       beta: beta, C: C, ldc: ldc, bf16: false)
            } else {
                // Plain loops on this thread: OpenBLAS's own threads would compete with oneDNN's.
                cdm_small_gemm(transA ? 1 : 0, transB ? 1 : 0, Int64(M), Int64(N), Int64(K), alpha, A, Int64(lda), B, Int64(ldb),
                               beta, C, Int64(ldc))
            }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(M), Int32(N), Int32(K), alpha, A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
    }

    /// The towers' matrix products: like `sgemm`, but with bf16 inputs when
    /// `effectivePrecision` is bf16 (oneDNN, whatever the backend).
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false, M: Int, N: Int, K: Int,
                            alpha: Float = 1, A: UnsafePointer<Float>, lda: Int,
                            B: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, C: UnsafeMutablePointer<Float>, ldc: Int) {
        if M * N * K >= bf16MinimumVolume && effectivePrecision == .bf16 {
            oneDNN(transA: transA, transB: transB, M: M, N: N, K: K, alpha: alpha, A: A, lda: lda, B: B, ldb: ldb,
                   beta: beta, C: C, ldc: ldc, bf16: true)
            return
        }
        sgemm(transA: transA, transB: transB, M: M, N: N, K: K, alpha: alpha, A: A, lda: lda, B: B, ldb: ldb,
              beta: beta, C: C, ldc: ldc)
    }

    /// A (batch.0, batch.1) grid of fp32 products of one shape: product (i, j) is `sgemm` on
    /// A + i·strideA.0 + j·strideA.1, B + i·strideB.0 + j·strideB.1 and C + i·strideC.0 + j·strideC.1,
    /// with the same leading dimensions, alpha and beta. On oneDNN, products of
    /// `oneDNNMinimumVolume` and up run as one batched primitive (attention's per-head
    /// products: one call for every head instead of a call each); otherwise one `sgemm` per
    /// product, i then j.
    public static func sgemmBatched(batch: (Int, Int), transA: Bool = false, transB: Bool = false, M: Int, N: Int, K: Int,
                                    alpha: Float = 1, A: UnsafePointer<Float>, lda: Int, strideA: (Int, Int),
                                    B: UnsafePointer<Float>, ldb: Int, strideB: (Int, Int),
                                    beta: Float = 0, C: UnsafeMutablePointer<Float>, ldc: Int, strideC: (Int, Int)) {
        if backend == .onednn && M * N * K >= oneDNNMinimumVolume {
            _ = threadsSynced
            let status = cdm_gemm_batched(Int64(batch.0), Int64(batch.1), transA ? 1 : 0, transB ? 1 : 0,
                                          Int64(M), Int64(N), Int64(K), alpha,
                                          A, Int64(lda), Int64(strideA.0), Int64(strideA.1),
                                          B, Int64(ldb), Int64(strideB.0), Int64(strideB.1),
                                          beta, C, Int64(ldc), Int64(strideC.0), Int64(strideC.1))
            precondition(status == 0, "oneDNN batched matmul \(batch.0)×\(batch.1) of \(M)×\(N)×\(K) failed with status \(status)")
            return
        }
        for i in 0 ..< batch.0 {
            for j in 0 ..< batch.1 {
                sgemm(transA: transA, transB: transB, M: M, N: N, K: K, alpha: alpha,
                      A: A + i * strideA.0 + j * strideA.1, lda: lda, B: B + i * strideB.0 + j * strideB.1, ldb: ldb,
                      beta: beta, C: C + i * strideC.0 + j * strideC.1, ldc: ldc)
            }
        }
    }

    /// Whether `linear` should be used for a fully connected layer of this size (oneDNN or bf16
    /// in force and the product big enough); otherwise the caller runs its OpenBLAS path.
    @inline(__always)
    public static func fusesLinear(M: Int, N: Int, K: Int) -> Bool {
        M * N * K >= oneDNNMinimumVolume && (backend == .onednn || effectivePrecision == .bf16)
    }

    /// C(M,N) = A(M,K) · W(N,K)ᵀ + bias + beta · C on oneDNN, the bias added in the
    /// primitive's epilogue, inputs in `effectivePrecision`. Only when `fusesLinear` says so.
    public static func linear(M: Int, N: Int, K: Int, A: UnsafePointer<Float>, lda: Int, W: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>?, beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = threadsSynced
        let bf16: Int32 = effectivePrecision == .bf16 ? 1 : 0
        let status = cdm_linear(Int64(M), Int64(N), Int64(K), A, Int64(lda), W, bias, beta, C, Int64(ldc), bf16)
        precondition(status == 0, "oneDNN linear \(M)×\(K)·\(N)×\(K)ᵀ (bf16 \(bf16)) failed with status \(status)")
    }

    /// Whether `linearBackward` should run a fully connected layer's backward: bf16 in force and
    /// the products big enough to take bf16 (the same rule as `gemm`'s).
    @inline(__always)
    public static func fusesLinearBackward(M: Int, N: Int, K: Int) -> Bool {
        M * N * K >= bf16MinimumVolume && effectivePrecision == .bf16
    }

    /// A fully connected layer's backward on oneDNN in bf16, dout converted once for both
    /// products: dinp (N, C) = dout · W (+ dinp when `accumulate`), dweight += doutᵀ · inp, and
    /// dbias += dout's column sums. The same bits as the two `gemm` calls and the column sums.
    /// Only when `fusesLinearBackward` says so.
    public static func linearBackward(N: Int, C: Int, OC: Int, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                                      weight: UnsafePointer<Float>, dinp: UnsafeMutablePointer<Float>, accumulate: Bool,
                                      dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?) {
        _ = threadsSynced
        let status = cdm_linear_backward_bf16(Int64(N), Int64(C), Int64(OC), dout, inp, weight, dinp, accumulate ? 1 : 0, dweight, dbias)
        precondition(status == 0, "oneDNN linear backward \(N)×\(OC)·\(OC)×\(C) (bf16) failed with status \(status)")
    }

    /// oneDNN's thread count follows OpenBLAS's from the first call on (`threads` keeps them together).
    private static let threadsSynced: Void = cdm_set_threads(openblas_get_num_threads())

    /// `sgemm`/`gemm` on oneDNN whatever the backend, fp32 or bf16 inputs (tests, benchmarks).
    @inline(never)
    public static func oneDNN(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Float,
                       A: UnsafePointer<Float>, lda: Int, B: UnsafePointer<Float>, ldb: Int,
                       beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int, bf16: Bool) {
        _ = threadsSynced
        let status = cdm_gemm(transA ? 1 : 0, transB ? 1 : 0, Int64(M), Int64(N), Int64(K), alpha, A, Int64(lda), B, Int64(ldb),
                              beta, C, Int64(ldc), bf16 ? 1 : 0)
        precondition(status == 0, "oneDNN matmul \(M)×\(N)×\(K) (transA \(transA), transB \(transB), bf16 \(bf16)) failed with status \(status)")
    }

    /// Worker threads used by every GEMM (OpenBLAS's and oneDNN's OpenMP threads alike) and by
    /// the engine's own parallel loops (`Parallel.workers`).
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set {
            let n = max(1, newValue)
            openblas_set_num_threads(Int32(n))
            cdm_set_threads(Int32(n))
        }
    }

    /// The CPU core whose kernels OpenBLAS runs ("Haswell", "Cooperlake", …): its own choice
    /// for the CPU, or OPENBLAS_CORETYPE's when that is set.
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// "Haswell kernels" or, when the environment chose them, "Haswell kernels (OPENBLAS_CORETYPE)".
    public static var kernelsDescription: String {
        coreName + " kernels" + (getenv("OPENBLAS_CORETYPE") != nil ? " (OPENBLAS_CORETYPE)" : "")
    }

    /// The backend and precision in force, for reports: "OpenBLAS Haswell kernels, fp32",
    /// "oneDNN 2.6.3, bf16".
    public static var description: String {
        let p = effectivePrecision
        return libraryDescription + ", " + p.rawValue + (p == .bf16 && backend == .openblas ? " (bf16 products on oneDNN " + (oneDNNVersion ?? "?") + ")" : "")
    }

    /// "OpenBLAS Haswell kernels" or "oneDNN 2.6.3": the backend in force.
    public static var libraryDescription: String {
        backend == .onednn ? "oneDNN " + (oneDNNVersion ?? "?") : "OpenBLAS " + kernelsDescription
    }

    /// OpenBLAS's build description (version, target core, threading), for reports.
    public static var configuration: String { String(cString: openblas_get_config()) }
}
