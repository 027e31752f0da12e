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

/// One weight average a run keeps: its kind (a name in `WeightAverageKind.all`) and the number
/// its option gave (a BMA's β, an EMA's decay; none for SWA). A training config lists them in
/// the order they are kept; run.json stores them as they are.
public struct AverageChoice: Codable, Equatable, Hashable, Sendable {
    public var kind: String
    public var value: Double?

    public init(_ kind: String, _ value: Double? = nil) { self.kind = kind; self.value = value }
}

/// One kind of weight average as `train` offers it: the option that asks for it, what that option
/// takes, and how to make the average. Commands, run.json, training and the memory estimate all
/// go through `all`, so a new kind is its `WeightAverage` type plus one entry here.
public struct WeightAverageKind: Sendable {
    /// What the kind's option takes.
    public enum Takes: Sendable, Equatable {
        /// A list of numbers in the range, one average each (`beta=0.1,0.5`), with a default list.
        case values(ClosedRange<Double>, defaults: [Double])
        /// One number in the range; none kept unless given (`ema=0.99`).
        case value(ClosedRange<Double>)
        /// on/off, with a default (`swa=off`).
        case toggle(defaultOn: Bool)
    }

    /// The name in run.json and the label's first part ("bma" → "bma:0.5").
    public let kind: String
    /// The `train` option (`beta`, `ema`, `swa`).
    public let option: String
    public let help: String
    public let takes: Takes
    public let make: @Sendable (_ value: Double?, _ steps: Int, _ range: Range<Int>, _ params: UnsafePointer<Float>) -> WeightAverage

    /// Every kind, in the order a run keeps and reports them.
    public static let all: [WeightAverageKind] = [
        WeightAverageKind(kind: "bma", option: "beta", help: "Beta(β, β) of the moving average(s)", takes: .values(0.001 ... 1000, defaults: [0.5])) {
            BetaMovingAverage(beta: $0!, totalSteps: $1, range: $2, initial: $3)
        },
        WeightAverageKind(kind: "ema", option: "ema", help: "also keep an EMA with this decay", takes: .value(0 ... 0.999999)) {
            ExponentialMovingAverage(decay: Float($0!), range: $2, initial: $3)
        },
        WeightAverageKind(kind: "swa", option: "swa", help: "also keep a uniform (SWA) average", takes: .toggle(defaultOn: true)) { _, _, range, params in
            UniformAverage(range: range, initial: params)
        },
        WeightAverageKind(kind: "tail", option: "tail", help: "also keep a uniform average of this last fraction of the steps",
                          takes: .value(0.001 ... 1)) {
            TailAverage(fraction: $0!, totalSteps: $1, range: $2, initial: $3)
        },
    ]

    public static func named(_ kind: String) -> WeightAverageKind? { all.first { $0.kind == kind } }

    /// The averages kept when no option says otherwise (a BMA with β = 0.5 and SWA).
    public static var defaults: [AverageChoice] {
        all.flatMap { k -> [AverageChoice] in
            switch k.takes {
            case .values(_, let d): return d.map { AverageChoice(k.kind, $0) }
            case .value: return []
            case .toggle(let on): return on ? [AverageChoice(k.kind)] : []
            }
        }
    }

    /// Why `choices` cannot be kept (an unknown kind, a missing or out-of-range value, a repeat),
    /// or nil when they can.
    public static func problem(with choices: [AverageChoice]) -> String? {
        guard choices.count <= 64 else { return "\(choices.count) averages, more than 64" }
        var seen = Set<AverageChoice>()
        for c in choices {
            guard let k = named(c.kind) else { return "unknown kind '\(c.kind)' (known: \(all.map(\.kind).joined(separator: ", ")))" }
            switch k.takes {
            case .values(let r, _), .value(let r):
                guard let v = c.value, v.isFinite, r.contains(v) else { return "\(c.kind) needs a number in \(formatBeta(r.lowerBound))…\(formatBeta(r.upperBound)), got \(c.value.map { $0.isFinite ? formatBeta($0) : "\($0)" } ?? "none")" }
            case .toggle:
                guard c.value == nil else { return "\(c.kind) takes no number" }
            }
            guard seen.insert(AverageChoice(c.kind, c.value.map { Double(formatBeta($0))! })).inserted else { return "\(c.kind) is kept twice" }
        }
        return nil
    }

    /// The label the average will have: "kind:value" for kinds a run may keep several of
    /// ("bma:0.5"), else the kind ("ema").
    public static func label(of choice: AverageChoice) -> String {
        if case .values = named(choice.kind)?.takes, let v = choice.value { return choice.kind + ":" + formatBeta(v) }
        return choice.kind
    }

    /// Makes the average `choice` names (already checked with `problem(with:)`).
    public static func make(_ choice: AverageChoice, steps: Int, range: Range<Int>, initial params: UnsafePointer<Float>) -> WeightAverage {
        guard let k = named(choice.kind) else { preconditionFailure("unknown weight average '\(choice.kind)'") }
        return k.make(choice.value, steps, range, params)
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

/// Tail averaging: uniform over the weights of the last `fraction` of the T steps, θ_s … θ_t with
/// s = T − round(fraction·T) + 1 (at least the last step). Before step s it holds θ_0; at step s
/// it becomes θ_s. Where it stands follows from the step alone, so it saves no scalars.
public final class TailAverage: WeightAverage {
    public let fraction: Double
    /// The first step averaged.
    public let start: Int
    public let range: Range<Int>
    public let average: FloatBuffer
    public var label: String { "tail" }

    public init(fraction: Double, totalSteps: Int, range: Range<Int>, initial params: UnsafePointer<Float>) {
        self.fraction = fraction
        start = totalSteps - max(1, Int((fraction * Double(totalSteps)).rounded())) + 1
        self.range = range
        average = FloatBuffer(count: range.count)
        average.base.update(from: params + range.lowerBound, count: range.count)
    }

    public func observe(step t: Int, params: UnsafePointer<Float>) {
        guard t >= start else { return }
        let a = average.base, p = params + range.lowerBound, w = Float(1) / Float(t - start + 1)
        Parallel.chunks(range.count, minimum: Elementwise.minimumPerThread) { r in for i in r { a[i] += (p[i] - a[i]) * w } }
    }
}

/// WiSE-FT: θ = (1 − α)·θ_zero-shot + α·θ_final, into `out`.
public func wiseInterpolate(zeroShot: UnsafePointer<Float>, final: UnsafePointer<Float>, alpha: Float, count: Int, into out: UnsafeMutablePointer<Float>) {
    for i in 0 ..< count { out[i] = (1 - alpha) * zeroShot[i] + alpha * final[i] }
}

public func formatBeta(_ b: Double) -> String {
    b == b.rounded() && abs(b) < 1e15 ? String(Int(b)) : String(b)
}
