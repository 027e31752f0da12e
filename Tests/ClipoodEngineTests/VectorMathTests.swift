import CKernels
import ClipoodEngine
import Foundation
import Testing
import TestSupport

/// CKernels' vectorised exponential and the kernels built on it, against Double references.
@Suite("vectorised exp, softmax and QuickGELU")
struct VectorMathTests {
    @Test func expIsWithinTwoTenthsOfAMillionthRelative() {
        let n = 200_001
        let x = (0 ..< n).map { Float(-87 + 175 * Double($0) / Double(n - 1)) }
        var y = [Float](repeating: 0, count: n)
        ck_exp(&y, x, n)
        var worst = 0.0, at: Float = 0
        for i in 0 ..< n {
            let e = Foundation.exp(Double(x[i]))
            let rel = abs(Double(y[i]) - e) / e
            if rel > worst { worst = rel; at = x[i] }
        }
        print("ck_exp on [-87, 88] (\(String(cString: ck_isa()))): worst relative error \(worst) at \(at)")
        #expect(worst < 2e-7, "worst relative error \(worst) at x = \(at)")
        // Far below the normal range the result is tiny, never negative, NaN or huge.
        var tiny = [Float](repeating: 1, count: 4)
        ck_exp(&tiny, [-88, -100, -1e30, -.infinity], 4)
        #expect(tiny.allSatisfy { $0 >= 0 && $0 < 1e-37 })
    }

    @Test(arguments: [1, 15, 16, 17, 77, 197])
    func softmaxRowMatchesDouble(_ n: Int) {
        var v = TestValues(seed: UInt64(n))
        let x = v.array(n, -20, 20)
        var row = x
        ck_softmax_row(&row, n)
        let m = x.map(Double.init).max()!
        let e = x.map { Foundation.exp(Double($0) - m) }
        let s = e.reduce(0, +)
        for i in 0 ..< n {
            #expect(abs(Double(row[i]) - e[i] / s) <= 1e-6 * e[i] / s + 1e-12, "n \(n) i \(i): \(row[i]) vs \(e[i] / s)")
        }
    }

    @Test func quickGELUMatchesDouble() {
        var v = TestValues(seed: 5)
        let n = 70_000   // crosses the two-thread split
        let x = v.array(n, -12, 12), dout = v.array(n)
        let out = FloatBuffer(count: n), dinp = FloatBuffer(count: n)
        x.withUnsafeBufferPointer { xp in
            QuickGELU.forward(out: out.base, inp: xp.baseAddress!, count: n)
            dout.withUnsafeBufferPointer { QuickGELU.backward(dinp: dinp.base, dout: $0.baseAddress!, inp: xp.baseAddress!, count: n) }
        }
        var worstF = 0.0, worstB = 0.0
        for i in 0 ..< n {
            let a = Double(x[i]), s = 1 / (1 + Foundation.exp(-1.702 * a))
            worstF = max(worstF, abs(Double(out.base[i]) - a * s) / max(1e-3, abs(a * s)))
            // Relative to the size of the two terms (they cancel near x ≈ −1.3).
            let d = Double(dout[i]) * (s + 1.702 * a * s * (1 - s)), size = abs(Double(dout[i])) * (s + abs(1.702 * a * s * (1 - s)))
            worstB = max(worstB, abs(Double(dinp.base[i]) - d) / max(1e-6, size))
        }
        #expect(worstF < 1e-6 && worstB < 2e-6, "forward \(worstF), backward \(worstB)")
    }
}

@Suite("finite check")
struct FiniteCheckTests {
    @Test func findsNaNAndInfinityAnywhere() {
        let n = 300_001   // several threads' worth
        var x = [Float](repeating: 1, count: n)
        x[17] = .greatestFiniteMagnitude; x[18] = -.greatestFiniteMagnitude; x[19] = .leastNonzeroMagnitude; x[20] = -0.0
        #expect(allFinite(x, count: n))
        for bad: Float in [.nan, .infinity, -.infinity, -.nan] {
            for at in [0, n / 2, n - 1] {
                var y = x
                y[at] = bad
                #expect(!allFinite(y, count: n), "\(bad) at \(at)")
            }
        }
        #expect(allFinite(x, count: 0))
    }
}
