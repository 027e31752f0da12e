import ClipoodEngine
import ClipoodTrain
import TestSupport
import Testing

/// The registry of weight averages, and the tail average it gained as its first new kind.
@Suite("weight average kinds")
struct WeightAverageKindTests {
    /// Every kind makes an average whose label is the one its choice predicts; the defaults are a
    /// BMA with β = 0.5 and SWA; bad choices are named.
    @Test func everyKindMakesTheAverageItsChoiceNames() {
        let params = FloatBuffer([1, 2, 3])
        for k in WeightAverageKind.all {
            let value: Double? = switch k.takes {
            case .values(let r, _), .value(let r): (r.lowerBound + r.upperBound) / 2
            case .toggle: nil
            }
            let choice = AverageChoice(k.kind, value)
            #expect(WeightAverageKind.problem(with: [choice]) == nil, "\(k.kind)")
            let a = WeightAverageKind.make(choice, steps: 10, range: 0 ..< 3, initial: params.base)
            #expect(a.label == WeightAverageKind.label(of: choice))
            #expect(Array(UnsafeBufferPointer(start: a.average.base, count: 3)) == [1, 2, 3], "\(k.kind) starts from θ_0")
        }
        #expect(WeightAverageKind.defaults == [AverageChoice("bma", 0.5), AverageChoice("swa")])
        #expect(WeightAverageKind.problem(with: [AverageChoice("nope")])?.hasPrefix("unknown kind 'nope'") == true)
        #expect(WeightAverageKind.problem(with: [AverageChoice("ema")]) == "ema needs a number in 0…0.999999, got none")
        #expect(WeightAverageKind.problem(with: [AverageChoice("bma", 0.5), AverageChoice("bma", 0.5)]) == "bma is kept twice")
        #expect(WeightAverageKind.problem(with: [AverageChoice("swa", 1)]) == "swa takes no number")
        #expect(WeightAverageKind.problem(with: [AverageChoice("tail", .infinity)]) == "tail needs a number in 0.001…1, got inf")
    }

    /// The tail average is the plain mean of the iterates of its last steps (θ_0 before them).
    @Test(arguments: [(0.25, 12, 10), (0.5, 12, 7), (1.0, 12, 1), (0.001, 12, 12), (0.3, 7, 6)])
    func tailIsTheMeanOfTheLastSteps(fraction: Double, T: Int, firstAveraged: Int) {
        let n = 5
        var v = TestValues(seed: 3)
        let iterates = (0 ... T).map { _ in v.array(n) }
        let params = FloatBuffer(iterates[0])
        let tail = TailAverage(fraction: fraction, totalSteps: T, range: 0 ..< n, initial: params.base)
        #expect(tail.start == firstAveraged)
        for t in 1 ... T {
            params.base.update(from: iterates[t], count: n)
            tail.observe(step: t, params: params.base)
            for i in 0 ..< n {
                let expected = t < firstAveraged ? Double(iterates[0][i])
                    : (firstAveraged ... t).map { Double(iterates[$0][i]) }.reduce(0, +) / Double(t - firstAveraged + 1)
                #expect(abs(Double(tail.average[i]) - expected) < 1e-5, "step \(t)")
            }
        }
    }
}
