/// The project's one random number generator: xoshiro256** seeded through SplitMix64.
///
/// Every random choice in clipood (initialisation, splits, sampling order, augmentation,
/// procedural data) draws from an `RNG` made from a user-visible seed, so a run is
/// reproducible from its seed alone. The derived draws are defined here rather than taken
/// from the standard library (whose `random(in:using:)` and `shuffle(using:)` algorithms are
/// not promised to stay the same across Swift versions):
///   - `next()`            64 uniform bits (xoshiro256**, Blackman & Vigna 2018);
///   - `uniform()`         Float in [0, 1) from the top 24 bits;
///   - `below(n)`          integer in 0..<n by Lemire's multiply-and-reject (unbiased);
///   - `normal()`          standard normal by Box–Muller on two Double uniforms (the second
///                         value of each pair is cached);
///   - `shuffle(&a)`       Fisher–Yates from the last index down, using `below`;
///   - `derived(_:)`       an independent stream for a sub-task, seeded from this stream's
///                         seed and a label, so adding draws elsewhere cannot shift it.
public struct RNG: RandomNumberGenerator, Sendable {
    public let seed: UInt64
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    private var cachedNormal: Double? = nil

    public init(seed: UInt64) {
        self.seed = seed
        var sm = SplitMix64(state: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
    }

    public init(seed: Int) { self.init(seed: UInt64(bitPattern: Int64(seed))) }

    /// The generator's full state, to save with a run and continue the same stream later:
    /// [seed, s0, s1, s2, s3, cached normal's bit pattern or 0, 1 if a normal is cached].
    public var state: [UInt64] {
        [seed, s0, s1, s2, s3, cachedNormal?.bitPattern ?? 0, cachedNormal == nil ? 0 : 1]
    }

    public init?(state: [UInt64]) {
        guard state.count == 7, state[1] | state[2] | state[3] | state[4] != 0 else { return nil }
        seed = state[0]
        s0 = state[1]; s1 = state[2]; s2 = state[3]; s3 = state[4]
        cachedNormal = state[6] == 1 ? Double(bitPattern: state[5]) : nil
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    /// Uniform Float in [0, 1).
    @inline(__always)
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform Double in [0, 1).
    @inline(__always)
    public mutating func uniformDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform Float in [lo, hi).
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * uniform() }

    /// Unbiased integer in 0..<n (Lemire, "Fast random integer generation in an interval", 2019).
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0, "RNG.below: n must be positive, got \(n)")
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// Standard normal sample.
    public mutating func normal() -> Float { Float(normalDouble()) }

    public mutating func normalDouble() -> Double {
        if let z = cachedNormal { cachedNormal = nil; return z }
        var u1 = uniformDouble()
        while u1 <= .leastNormalMagnitude { u1 = uniformDouble() }
        let u2 = uniformDouble()
        let r = (-2 * _log(u1)).squareRoot()
        let theta = 2 * Double.pi * u2
        cachedNormal = r * _sin(theta)
        return r * _cos(theta)
    }

    /// Fills `count` values at `p` with mean + std · N(0, 1).
    public mutating func fillNormal(_ p: UnsafeMutablePointer<Float>, count: Int, mean: Float = 0, std: Float = 1) {
        for i in 0 ..< count { p[i] = mean + std * normal() }
    }

    /// Fills `count` values at `p` uniformly in [lo, hi).
    public mutating func fillUniform(_ p: UnsafeMutablePointer<Float>, count: Int, _ lo: Float, _ hi: Float) {
        for i in 0 ..< count { p[i] = uniform(lo, hi) }
    }

    /// In-place Fisher–Yates shuffle.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = below(i + 1)
            if i != j { a.swapAt(i, j) }
        }
    }

    /// A random permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0 ..< n)
        shuffle(&p)
        return p
    }

    /// An independent generator for a named sub-task (e.g. "split", "sampler/domain2").
    /// It depends only on this generator's seed and the label (FNV-1a hash), not on how many
    /// draws were made, so adding randomness in one place never shifts another.
    public func derived(_ label: String) -> RNG {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in label.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        var sm = SplitMix64(state: seed ^ h)
        return RNG(seed: sm.next())
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

/// SplitMix64 (Steele, Lea & Flood 2014): expands one 64-bit seed into well-mixed state words.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@inline(__always) private func _log(_ x: Double) -> Double { log(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { sin(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { cos(x) }
