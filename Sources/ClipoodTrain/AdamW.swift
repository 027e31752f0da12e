import ClipoodEngine
import CKernels

/// AdamW exactly as PyTorch's `torch.optim.AdamW` (amsgrad off, one parameter group) over one
/// contiguous range of a flat parameter buffer. Per step t (1-based), for every value:
///   θ ← θ·(1 − lr·wd)                       (decoupled weight decay, applied first)
///   m ← β1·m + (1 − β1)·g ;  v ← β2·v + (1 − β2)·g²
///   θ ← θ − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
/// The moments are two flat buffers the size of the range.
public final class AdamW {
    public let range: Range<Int>
    public var beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double
    public let m: FloatBuffer, v: FloatBuffer
    public private(set) var step = 0

    public init(range: Range<Int>, weightDecay: Double = 0.1) {
        self.range = range
        self.weightDecay = weightDecay
        m = FloatBuffer(count: range.count)
        v = FloatBuffer(count: range.count)
    }

    /// One update of `params[range]` at learning rate `lr` from the range's gradients:
    /// `rangeGrads[i]` is the gradient of `params[range.lowerBound + i]`.
    public func update(params: UnsafeMutablePointer<Float>, rangeGrads g: UnsafePointer<Float>, lr: Double) {
        step += 1
        let p = params + range.lowerBound
        let b1 = Float(beta1), b2 = Float(beta2)
        let decay = Float(1 - lr * weightDecay)
        let bc1 = 1 - _pow(beta1, Double(step)), bc2 = 1 - _pow(beta2, Double(step))
        let stepSize = Float(lr / bc1)
        let bc2Sqrt = Float(bc2.squareRoot())
        let e = Float(eps)
        let mm = m.base, vv = v.base
        // Elementwise, so split over threads (memory-bound: four arrays per parameter), each
        // piece one vectorised CKernels loop with the same operations in the same order.
        Parallel.chunks(range.count, minimum: Elementwise.minimumPerThread) { r in
            ck_adamw(p + r.lowerBound, mm + r.lowerBound, vv + r.lowerBound, g + r.lowerBound, r.count,
                     decay, b1, b2, stepSize, bc2Sqrt, e)
        }
    }

    /// Restores the state of a saved run.
    public func restore(step: Int, m: [Float], v: [Float]) {
        precondition(m.count == range.count && v.count == range.count)
        self.step = step
        m.withUnsafeBufferPointer { self.m.base.update(from: $0.baseAddress!, count: range.count) }
        v.withUnsafeBufferPointer { self.v.base.update(from: $0.baseAddress!, count: range.count) }
    }
}

/// PyTorch's CosineAnnealingLR (η_min = 0 by default), closed form: the learning rate used
/// at step t (0-based, before the scheduler's t-th step) is η_min + (η₀ − η_min)(1 + cos(π t/T))/2.
public struct CosineSchedule: Sendable {
    public let baseLR: Double, totalSteps: Int, minLR: Double
    public init(baseLR: Double, totalSteps: Int, minLR: Double = 0) {
        self.baseLR = baseLR; self.totalSteps = totalSteps; self.minLR = minLR
    }
    public func lr(atStep t: Int) -> Double {
        guard totalSteps > 0 else { return baseLR }
        return minLR + (baseLR - minLR) * (1 + _cos(Double.pi * Double(t) / Double(totalSteps))) / 2
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@inline(__always) func _pow(_ a: Double, _ b: Double) -> Double { pow(a, b) }
@inline(__always) func _cos(_ a: Double) -> Double { cos(a) }
@inline(__always) func _lgamma(_ a: Double) -> Double { lgamma(a) }
@inline(__always) func _log(_ a: Double) -> Double { log(a) }
@inline(__always) func _exp(_ a: Double) -> Double { exp(a) }
