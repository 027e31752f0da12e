import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// GELU, exact form 0.5·x·(1 + erf(x/√2)) — PyTorch's `nn.GELU()` and transformers' "gelu".
public enum GELU {
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count: Int) {
        Parallel.chunks(count, minimum: Elementwise.minimumPerThread) { r in
            for i in r {
                let x = inp[i]
                out[i] = 0.5 * x * (1 + erff(x * 0.70710678118654752))
            }
        }
    }

    /// d/dx = Φ(x) + x·φ(x), added to dinp (or, without `accumulate`, written to it).
    public static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, count: Int, accumulate: Bool = true) {
        @inline(__always) func grad(_ i: Int) -> Float {
            let x = inp[i]
            let cdf = 0.5 * (1 + erff(x * 0.70710678118654752))
            let pdf = 0.39894228040143268 * expf(-0.5 * x * x)
            return dout[i] * (cdf + x * pdf)
        }
        Parallel.chunks(count, minimum: Elementwise.minimumPerThread) { r in
            if accumulate { for i in r { dinp[i] += grad(i) } } else { for i in r { dinp[i] = grad(i) } }
        }
    }
}

/// QuickGELU, x·σ(1.702·x) — the activation of OpenAI's CLIP checkpoints ("quick_gelu").
/// The exponential is CKernels' vectorised one (relative error < 2e-7).
public enum QuickGELU {
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count: Int) {
        Parallel.chunks(count, minimum: Elementwise.minimumPerThread) { r in
            ck_quickgelu_forward(out + r.lowerBound, inp + r.lowerBound, r.count)
        }
    }

    /// d/dx = σ(ax) + a·x·σ(ax)·(1 − σ(ax)), a = 1.702, added to dinp (or, without
    /// `accumulate`, written to it).
    public static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                inp: UnsafePointer<Float>, count: Int, accumulate: Bool = true) {
        Parallel.chunks(count, minimum: Elementwise.minimumPerThread) { r in
            ck_quickgelu_backward(dinp + r.lowerBound, dout + r.lowerBound, inp + r.lowerBound, r.count, accumulate ? 1 : 0)
        }
    }
}

/// Which activation a checkpoint uses; the model picks the kernel once per layer.
public enum Activation: String, Sendable, CaseIterable {
    case quickGELU = "quick_gelu"
    case gelu = "gelu"

    public func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, count: Int) {
        switch self {
        case .quickGELU: QuickGELU.forward(out: out, inp: inp, count: count)
        case .gelu: GELU.forward(out: out, inp: inp, count: count)
        }
    }

    public func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, count: Int,
                         accumulate: Bool = true) {
        switch self {
        case .quickGELU: QuickGELU.backward(dinp: dinp, dout: dout, inp: inp, count: count, accumulate: accumulate)
        case .gelu: GELU.backward(dinp: dinp, dout: dout, inp: inp, count: count, accumulate: accumulate)
        }
    }
}
