import CBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Row-major single-precision GEMM and BLAS threading, in one place.
public enum BLAS {
    /// C(M,N) = alpha · op(A)(M,K) · op(B)(K,N) + beta · C, all row-major.
    /// `lda`, `ldb`, `ldc` are row strides (elements between consecutive rows as stored).
    @inline(__always)
    public static func sgemm(transA: Bool = false, transB: Bool = false, M: Int, N: Int, K: Int,
                             alpha: Float = 1, A: UnsafePointer<Float>, lda: Int,
                             B: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, C: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(M), Int32(N), Int32(K), alpha, A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
    }

    /// OpenBLAS worker threads used by every GEMM.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }

    /// The CPU core whose kernels OpenBLAS runs ("Haswell", "Cooperlake", …): its own choice
    /// for the CPU, or OPENBLAS_CORETYPE's when that is set.
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// "Haswell kernels" or, when the environment chose them, "Haswell kernels (OPENBLAS_CORETYPE)".
    public static var kernelsDescription: String {
        coreName + " kernels" + (getenv("OPENBLAS_CORETYPE") != nil ? " (OPENBLAS_CORETYPE)" : "")
    }

    /// OpenBLAS's build description (version, target core, threading), for reports.
    public static var configuration: String { String(cString: openblas_get_config()) }
}
