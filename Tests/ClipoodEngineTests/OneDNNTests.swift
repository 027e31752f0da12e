import ClipoodEngine
import Foundation
import TestSupport
import Testing

/// bf16 tests need a CPU with native bf16 dot products; elsewhere they are skipped, and the
/// reason is printed once.
let bf16Available: Bool = {
    if !BLAS.cpuHasBF16 { print("bf16 tests skipped: this CPU has neither AVX512-BF16 nor AMX-BF16") }
    return BLAS.cpuHasBF16
}()

/// Naive C = alpha · op(A) · op(B) + beta · C in Double, row-major with strides.
private func naiveGemm(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Double, A: [Float], lda: Int,
                       B: [Float], ldb: Int, beta: Double, C: [Float], ldc: Int) -> [Double] {
    var out = C.map(Double.init)
    for i in 0 ..< M { for j in 0 ..< N {
        var s = 0.0
        for k in 0 ..< K {
            let a = transA ? A[k * lda + i] : A[i * lda + k]
            let b = transB ? B[j * ldb + k] : B[k * ldb + j]
            s += Double(a) * Double(b)
        }
        out[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * Double(C[i * ldc + j]))
    } }
    return out
}

@Suite("oneDNN matrix products")
struct OneDNNTests {
    @Test func oneDNNLoads() {
        #expect(BLAS.oneDNNVersion != nil, "oneDNN's CPU engine could not be created")
    }

    /// Every transpose combination, row strides wider than the rows, alpha ≠ 1 and beta 0, 1, ½;
    /// fp32 against a Double loop, bf16 within bf16's rounding of the inputs.
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func gemmMatchesNaive(_ t: (Bool, Bool)) {
        let (transA, transB) = t
        let M = 37, N = 41, K = 53   // M·N·K above oneDNNMinimumVolume
        let lda = (transA ? M : K) + 3, ldb = (transB ? K : N) + 5, ldc = N + 2
        var v = TestValues(seed: 7)
        let A = v.array((transA ? K : M) * lda), B = v.array((transB ? N : K) * ldb)
        for beta: Float in [0, 1, 0.5] {
            for bf16 in [false, true] where !bf16 || bf16Available {
                let C0 = v.array(M * ldc)
                let ref = naiveGemm(transA: transA, transB: transB, M: M, N: N, K: K, alpha: 0.75, A: A, lda: lda,
                                    B: B, ldb: ldb, beta: Double(beta), C: C0, ldc: ldc)
                let c = FloatBuffer(C0)
                A.withUnsafeBufferPointer { a in B.withUnsafeBufferPointer { b in
                    BLAS.oneDNN(transA: transA, transB: transB, M: M, N: N, K: K, alpha: 0.75, A: a.baseAddress!, lda: lda,
                                B: b.baseAddress!, ldb: ldb, beta: beta, C: c.base, ldc: ldc, bf16: bf16)
                } }
                // Columns past N in each row of C are not touched.
                for i in 0 ..< M { for j in N ..< ldc { #expect(c[i * ldc + j] == C0[i * ldc + j]) } }
                // bf16 rounds each input to 8 significant bits (relative error ≤ 2⁻⁹); over K = 53
                // products of O(1) values the sum's error stays well under 0.1.
                let tol = bf16 ? 0.1 : 1e-4
                let d = maxAbsDifference(c.toArray(), ref)
                #expect(d.value < tol, "transA \(transA) transB \(transB) beta \(beta) bf16 \(bf16): off by \(d.value) at \(d.index)")
                if bf16 { #expect(d.value > 1e-6, "bf16 result equals fp32's: inputs were not rounded") }
            }
        }
    }

    /// bf16 products equal the exact products of the bf16-rounded inputs up to fp32 summation
    /// (so a misplaced value in the operands' conversion or blocking cannot hide in bf16's
    /// rounding): shapes with several blocks and partial ones in K and N, strided rows.
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func bf16IsTheProductOfRoundedInputs(_ t: (Bool, Bool)) {
        guard bf16Available else { return }
        let (transA, transB) = t
        let M = 45, N = 150, K = 77
        let lda = (transA ? M : K) + 3, ldb = (transB ? K : N) + 5, ldc = N
        var v = TestValues(seed: 17)
        let A = v.array((transA ? K : M) * lda), B = v.array((transB ? N : K) * ldb)
        func rounded(_ x: Float) -> Float {   // round to nearest even at bf16's 8 significant bits
            let u = x.bitPattern
            return Float(bitPattern: (u &+ 0x7FFF &+ ((u >> 16) & 1)) & 0xFFFF_0000)
        }
        let ref = naiveGemm(transA: transA, transB: transB, M: M, N: N, K: K, alpha: 1, A: A.map(rounded), lda: lda,
                            B: B.map(rounded), ldb: ldb, beta: 0, C: [Float](repeating: 0, count: M * ldc), ldc: ldc)
        let c = FloatBuffer(count: M * ldc)
        A.withUnsafeBufferPointer { a in B.withUnsafeBufferPointer { b in
            BLAS.oneDNN(transA: transA, transB: transB, M: M, N: N, K: K, alpha: 1, A: a.baseAddress!, lda: lda,
                        B: b.baseAddress!, ldb: ldb, beta: 0, C: c.base, ldc: ldc, bf16: true)
        } }
        let d = maxAbsDifference(c.toArray(), ref)
        #expect(d.value < 1e-4, "transA \(transA) transB \(transB): off by \(d.value) at \(d.index)")
    }

    /// A fully connected layer's bf16 backward in one call (dout converted once, its column sums
    /// taken while converting) gives the same bits as the two products and the sums one at a time.
    @Test func bf16LinearBackwardInOneCallIsTheProductsOneAtATime() {
        guard bf16Available else { return }
        let N = 70, C = 260, OC = 300   // N·C·OC above bf16MinimumVolume; C and OC cut blocks short
        var v = TestValues(seed: 23)
        let dout = FloatBuffer(v.array(N * OC)), inp = FloatBuffer(v.array(N * C)), w = FloatBuffer(v.array(OC * C))
        let start = v.array(N * C), startW = v.array(OC * C), startB = v.array(OC)
        for accumulate in [false, true] {
            let dinp = FloatBuffer(start), dw = FloatBuffer(startW), db = FloatBuffer(startB)
            BLAS.$scoped.withValue(.init(backend: .onednn, precision: .bf16)) {
                #expect(BLAS.fusesLinearBackward(M: N, N: C, K: OC))
                Linear.backward(dinp: dinp.base, dweight: dw.base, dbias: db.base, dout: dout.base, inp: inp.base, weight: w.base,
                                N: N, C: C, OC: OC, accumulateInput: accumulate)
            }
            let rIn = FloatBuffer(start), rW = FloatBuffer(startW)
            BLAS.oneDNN(transA: false, transB: false, M: N, N: C, K: OC, alpha: 1, A: dout.base, lda: OC, B: w.base, ldb: C,
                        beta: accumulate ? 1 : 0, C: rIn.base, ldc: C, bf16: true)
            BLAS.oneDNN(transA: true, transB: false, M: OC, N: C, K: N, alpha: 1, A: dout.base, lda: OC, B: inp.base, ldb: C,
                        beta: 1, C: rW.base, ldc: C, bf16: true)
            var rB = startB
            for n in 0 ..< N { for o in 0 ..< OC { rB[o] += dout[n * OC + o] } }
            #expect(dinp.toArray() == rIn.toArray(), "dinp, accumulate \(accumulate)")
            #expect(dw.toArray() == rW.toArray(), "dweight, accumulate \(accumulate)")
            #expect(db.toArray() == rB, "dbias, accumulate \(accumulate)")
            #expect(dinp.toArray() != start && dw.toArray() != startW)
        }
    }

    /// The same call twice gives the same bits (for a given thread count).
    @Test func deterministic() {
        let M = 300, N = 200, K = 150
        var v = TestValues(seed: 9)
        let A = FloatBuffer(v.array(M * K)), B = FloatBuffer(v.array(K * N))
        for bf16 in [false, true] where !bf16 || bf16Available {
            let c1 = FloatBuffer(count: M * N), c2 = FloatBuffer(count: M * N)
            BLAS.oneDNN(transA: false, transB: true, M: M, N: N, K: K, alpha: 1, A: A.base, lda: K, B: B.base, ldb: K, beta: 0, C: c1.base, ldc: N, bf16: bf16)
            BLAS.oneDNN(transA: false, transB: true, M: M, N: N, K: K, alpha: 1, A: A.base, lda: K, B: B.base, ldb: K, beta: 0, C: c2.base, ldc: N, bf16: bf16)
            #expect(c1.toArray() == c2.toArray())
        }
    }

    /// Linear's oneDNN path (bias in the epilogue, residual summed) against its OpenBLAS path.
    @Test func linearOnOneDNN() {
        let N = 64, C = 96, OC = 80
        var v = TestValues(seed: 11)
        let x = FloatBuffer(v.array(N * C)), w = FloatBuffer(v.array(OC * C)), b = FloatBuffer(v.array(OC)), r = FloatBuffer(v.array(N * OC))
        for (bias, residual) in [(b.base, r.base), (b.base, nil), (nil, r.base), (nil, nil)] as [(UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?)] {
            let ref = FloatBuffer(count: N * OC), out = FloatBuffer(count: N * OC)
            BLAS.$scoped.withValue(.init(backend: .openblas, precision: .fp32)) {
                Linear.forward(out: ref.base, inp: x.base, weight: w.base, bias: bias, residual: residual, N: N, C: C, OC: OC)
            }
            BLAS.$scoped.withValue(.init(backend: .onednn, precision: .fp32)) {
                #expect(BLAS.fusesLinear(M: N, N: OC, K: C))
                Linear.forward(out: out.base, inp: x.base, weight: w.base, bias: bias, residual: residual, N: N, C: C, OC: OC)
            }
            #expect(maxAbsDifference(out.toArray(), ref.toArray().map(Double.init)).value < 1e-4)
            if bf16Available {
                BLAS.$scoped.withValue(.init(backend: .openblas, precision: .bf16)) {
                    Linear.forward(out: out.base, inp: x.base, weight: w.base, bias: bias, residual: residual, N: N, C: C, OC: OC)
                }
                let d = maxAbsDifference(out.toArray(), ref.toArray().map(Double.init)).value
                #expect(d < 0.1 && d > 1e-6, "bf16 linear off by \(d)")
            }
        }
    }

    /// The process-wide settings stay as they were; a scope changes what one thread sees.
    @Test func scopeOverridesDefaults() {
        BLAS.$scoped.withValue(.init(backend: .onednn, precision: .bf16)) {
            #expect(BLAS.backend == .onednn)
            #expect(BLAS.precision == .bf16)
            #expect(BLAS.effectivePrecision == (BLAS.cpuHasBF16 ? .bf16 : .fp32))
        }
        #expect(BLAS.backend == BLAS.defaultBackend)
        #expect(BLAS.precision == BLAS.defaultPrecision)
    }
}

@Suite("oneDNN batched products")
struct OneDNNBatchedTests {
    /// A grid of products in one oneDNN primitive equals the same products one OpenBLAS call at
    /// a time, for attention's layouts (a row of the grid side by side in the columns of
    /// wider rows, rows of the grid stacked), a grid of one row (oneDNN needs its unused
    /// outer stride set) and one whose outer stride is the smaller; products below
    /// `oneDNNMinimumVolume` take the one-at-a-time path on oneDNN too.
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func batchedMatchesOneByOne(_ t: (Bool, Bool)) {
        let (transA, transB) = t
        for (m, n, k) in [(23, 19, 16), (41, 37, 48)] {
            let rowsA = transA ? k : m, colsA = transA ? m : k
            let rowsB = transB ? n : k, colsB = transB ? k : n
            for (g1, g2, inner) in [(2, 3, true), (1, 3, true), (3, 2, false)] {
                let g = max(g1, g2)
                let lda = colsA * g + 1, ldb = colsB * g + 2, ldc = n * g + 3
                // inner: product (i, j) in block i of rows, column block j; else the other way round.
                func strides(rows: Int, cols: Int, ld: Int) -> (Int, Int) { inner ? (rows * ld, cols) : (cols, rows * ld) }
                let sA = strides(rows: rowsA, cols: colsA, ld: lda), sB = strides(rows: rowsB, cols: colsB, ld: ldb)
                let sC = strides(rows: m, cols: n, ld: ldc)
                var v = TestValues(seed: 13)
                let A = FloatBuffer(v.array(rowsA * lda * g)), B = FloatBuffer(v.array(rowsB * ldb * g))
                let C0 = v.array(m * ldc * g)
                for beta: Float in [0, 1] {
                    let grid = FloatBuffer(C0), single = FloatBuffer(C0)
                    BLAS.$scoped.withValue(.init(backend: .onednn, precision: .fp32)) {
                        BLAS.sgemmBatched(batch: (g1, g2), transA: transA, transB: transB, M: m, N: n, K: k, alpha: 0.5,
                                          A: A.base, lda: lda, strideA: sA, B: B.base, ldb: ldb, strideB: sB,
                                          beta: beta, C: grid.base, ldc: ldc, strideC: sC)
                    }
                    BLAS.$scoped.withValue(.init(backend: .openblas, precision: .fp32)) {
                        for i in 0 ..< g1 { for j in 0 ..< g2 {
                            BLAS.sgemm(transA: transA, transB: transB, M: m, N: n, K: k, alpha: 0.5,
                                       A: A.base + i * sA.0 + j * sA.1, lda: lda, B: B.base + i * sB.0 + j * sB.1, ldb: ldb,
                                       beta: beta, C: single.base + i * sC.0 + j * sC.1, ldc: ldc)
                        } }
                    }
                    let written = (0 ..< C0.count).filter { single[$0] != C0[$0] }.count
                    #expect(written > g1 * g2 * m * n * 9 / 10, "the products wrote \(written) values")
                    let d = maxAbsDifference(grid.toArray(), single.toArray().map(Double.init))
                    #expect(d.value < 1e-4, "\(m)×\(n)×\(k) grid \(g1)×\(g2) inner \(inner) beta \(beta): off by \(d.value) at \(d.index)")
                }
            }
        }
    }
}
