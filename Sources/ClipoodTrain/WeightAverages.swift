import ClipoodEngine

/// The Beta(β, β) weights of CLIPood's Beta moving average: w_k = BetaPDF((k + 0.5)/(T + 1); β, β)
/// for k = 0 … T, where k = 0 is the zero-shot model and k = t the weights after step t.
public enum BetaSchedule {
    /// The Beta(a, b) density at x.
    public static func pdf(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let logB = _lgamma(a) + _lgamma(b) - _lgamma(a + b)
        return _exp((a - 1) * _log(x) + (b - 1) * _log(1 - x) - logB)
    }

    /// w_0 … w_T (unnormalised densities).
    public static func weights(beta: Double, steps T: Int) -> [Double] {
        (0 ... T).map { pdf((Double($0) + 0.5) / Double(T + 1), beta, beta) }
    }
}

/// A running weight average over one contiguous range of the parameter buffer, in fp32.
/// All of them start from the zero-shot weights θ_0 and take `observe` after every step.
///
/// An average saves and restores itself: its buffer (`average`) and whatever scalars it needs
/// to continue (`scalars`, e.g. a BMA's running weight sum), so that code around it never needs
/// to know which kind it is.
public protocol WeightAverage: AnyObject {
    var label: String { get }
    var average: FloatBuffer { get }
    /// Called after optimiser step t (1-based) with the current parameters.
    func observe(step t: Int, params: UnsafePointer<Float>)
    /// Scalars besides the buffer that a resumed average needs (empty for most kinds).
    var scalars: [String: Double] { get }
    /// Restores `scalars` saved after `step` steps; throws when one is missing or out of range.
    func restore(scalars: [String: Double], step: Int) throws
    /// The normalised weight this average gives the weights after step t (nil when the average
    /// has no fixed per-step weight), for the run log.
    func share(ofStep t: Int) -> Double?
}

extension WeightAverage {
    public var scalars: [String: Double] { [:] }
    public func restore(scalars: [String: Double], step: Int) throws {}
    public func share(ofStep t: Int) -> Double? { nil }
}

/// BMA as the official GeneralMovingAverage: avg ← (avg + r·θ_t)/(1 + r), r = w_t / Σ_{i<t} w_i,
/// which keeps avg = Σ_{k≤t} w_k θ_k / Σ_{k≤t} w_k.
public final class BetaMovingAverage: WeightAverage {
    public let beta: Double
    public let weights: [Double]
    public let range: Range<Int>
    public let average: FloatBuffer
    public private(set) var weightSum: Double
    public var label: String { "bma:\(formatBeta(beta))" }

    public var scalars: [String: Double] { ["weight_sum": weightSum] }

    /// Resumes a saved average: Σ of the weights seen so far (w_0 … w_t), which must be that sum
    /// for `step` up to rounding.
    public func restore(scalars: [String: Double], step: Int) throws {
        guard let sum = scalars["weight_sum"] else { throw MessageError("the saved average '\(label)' lacks its weight_sum") }
        guard step >= 0, step < weights.count else { throw MessageError("the saved average '\(label)' is at step \(step), outside 0…\(weights.count - 1)") }
        let expected = weights[0 ... step].reduce(0, +)
        guard sum.isFinite, sum > 0, abs(sum - expected) <= 1e-6 * expected else {
            throw MessageError("the saved average '\(label)' has weight_sum \(sum), but its β and step give \(expected)")
        }
        weightSum = sum
    }

    public func share(ofStep t: Int) -> Double? {
        t >= 0 && t < weights.count ? weights[t] / weights.reduce(0, +) : nil
    }

    public init(beta: Double, totalSteps: Int, range: Range<Int>, initial params: UnsafePointer<Float>) {
        self.beta = beta
        self.range = range
        weights = BetaSchedule.weights(beta: beta, steps: totalSteps)
        average = FloatBuffer(count: range.count)
        average.base.update(from: params + range.lowerBound, count: range.count)
        weightSum = weights[0]
    }

    public func observe(step t: Int, params: UnsafePointer<Float>) {
        precondition(t >= 1 && t < weights.count, "BMA: step \(t) outside 1…\(weights.count - 1)")
        let r = weights[t] / weightSum
        weightSum += weights[t]
        let a = average.base, p = params + range.lowerBound
        let rf = Float(r), inv = Float(1 / (1 + r))
        Parallel.chunks(range.count, minimum: Elementwise.minimumPerThread) { r in for i in r { a[i] = (a[i] + rf * p[i]) * inv } }
    }
}

/// Exponential moving average: avg ← d·avg + (1 − d)·θ_t.
public final class ExponentialMovingAverage: WeightAverage {
    public let decay: Float
    public let range: Range<Int>
    public let average: FloatBuffer
    public var label: String { "ema" }

    public init(decay: Float, range: Range<Int>, initial params: UnsafePointer<Float>) {
        self.decay = decay
        self.range = range
        average = FloatBuffer(count: range.count)
        average.base.update(from: params + range.lowerBound, count: range.count)
    }

    public func observe(step t: Int, params: UnsafePointer<Float>) {
        let a = average.base, p = params + range.lowerBound, d = decay
        Parallel.chunks(range.count, minimum: Elementwise.minimumPerThread) { r in for i in r { a[i] = d * a[i] + (1 - d) * p[i] } }
    }
}

/// Stochastic weight averaging, uniform over θ_0 … θ_t: avg ← avg + (θ_t − avg)/(t + 1).
public final class UniformAverage: WeightAverage {
    public let range: Range<Int>
    public let average: FloatBuffer
    public var label: String { "swa" }

    public init(range: Range<Int>, initial params: UnsafePointer<Float>) {
        self.range = range
        average = FloatBuffer(count: range.count)
        average.base.update(from: params + range.lowerBound, count: range.count)
    }

    public func observe(step t: Int, params: UnsafePointer<Float>) {
        let a = average.base, p = params + range.lowerBound, w = Float(1) / Float(t + 1)
        Parallel.chunks(range.count, minimum: Elementwise.minimumPerThread) { r in for i in r { a[i] += (p[i] - a[i]) * w } }
    }
}

/// WiSE-FT: θ = (1 − α)·θ_zero-shot + α·θ_final, into `out`.
public func wiseInterpolate(zeroShot: UnsafePointer<Float>, final: UnsafePointer<Float>, alpha: Float, count: Int, into out: UnsafeMutablePointer<Float>) {
    for i in 0 ..< count { out[i] = (1 - alpha) * zeroShot[i] + alpha * final[i] }
}

public func formatBeta(_ b: Double) -> String {
    b == b.rounded() ? String(Int(b)) : String(b)
}
