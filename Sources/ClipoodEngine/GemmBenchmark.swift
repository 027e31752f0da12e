import Foundation

/// One GEMM shape to time: C(M,N) = A(M,K) · B(K,N).
public struct GemmShape: Sendable {
    public let label: String
    public let M: Int, N: Int, K: Int
    public init(label: String, M: Int, N: Int, K: Int) { self.label = label; self.M = M; self.N = N; self.K = K }
    public var gflop: Double { 2 * Double(M) * Double(N) * Double(K) / 1e9 }

    /// ViT-B/16 at batch 32: 32 × 197 tokens = 6304 rows through qkv, MLP up and MLP down.
    public static let vitB16 = [
        GemmShape(label: "ViT-B/16 qkv", M: 6304, N: 2304, K: 768),
        GemmShape(label: "ViT-B/16 mlp up", M: 6304, N: 3072, K: 768),
        GemmShape(label: "ViT-B/16 mlp down", M: 6304, N: 768, K: 3072),
    ]
}

/// Wall-clock timing of one GEMM shape on the backend and precision in force (`BLAS.gemm`).
public enum GemmBenchmark {
    public struct Result: Sendable {
        public let shape: GemmShape
        public let seconds: [Double]
        public var medianSeconds: Double { let s = seconds.sorted(); return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
        public var bestSeconds: Double { seconds.min() ?? .nan }
        public var medianGFLOPS: Double { shape.gflop / medianSeconds }
        public var bestGFLOPS: Double { shape.gflop / bestSeconds }
    }

    /// One warm-up call, then `runs` timed calls, on seeded random inputs. `shouldStop` is
    /// asked between calls (Ctrl-C); the result then has fewer timings.
    public static func run(_ shape: GemmShape, runs: Int, shouldStop: () -> Bool = { false }) -> Result {
        let a = FloatBuffer(count: shape.M * shape.K), b = FloatBuffer(count: shape.K * shape.N), c = FloatBuffer(count: shape.M * shape.N)
        var rng = RNG(seed: 1)
        rng.fillUniform(a.base, count: a.count, -1, 1)
        rng.fillUniform(b.base, count: b.count, -1, 1)
        func call() { BLAS.gemm(M: shape.M, N: shape.N, K: shape.K, A: a.base, lda: shape.K, B: b.base, ldb: shape.N, C: c.base, ldc: shape.N) }
        call()
        var seconds: [Double] = []
        for _ in 0 ..< max(1, runs) {
            if shouldStop() && !seconds.isEmpty { break }
            let t0 = DispatchTime.now().uptimeNanoseconds
            call()
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return Result(shape: shape, seconds: seconds)
    }

    /// Best GFLOPS of a 1024³ product on oneDNN in fp32 and in bf16 (three timed calls each, about
    /// 50 ms in all): whether bf16 pays on this CPU. Native bf16 instructions are not always faster
    /// than fp32 FMAs (without AMX, some CPUs run them at half the rate).
    public static func precisionSpeeds() -> (fp32: Double, bf16: Double) {
        let square = GemmShape(label: "square", M: 1024, N: 1024, K: 1024)
        func best(_ p: Precision) -> Double {
            BLAS.$scoped.withValue(.init(backend: .onednn, precision: p)) { run(square, runs: 3).bestGFLOPS }
        }
        return (best(.fp32), best(.bf16))
    }
}
