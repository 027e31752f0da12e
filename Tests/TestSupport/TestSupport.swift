import Foundation

// Helpers shared by the test targets. They compute and describe; the tests assert, so this
// target does not import a test framework.

/// Outcome of comparing an analytic gradient with central finite differences.
public struct GradientReport: CustomStringConvertible {
    public let label: String
    public let maxAbsError: Double
    public let worstIndex: Int
    public let analytic: Double
    public let numeric: Double
    public let maxAbsNumeric: Double
    public let failures: Int
    public let count: Int

    public var passed: Bool { failures == 0 }

    public var description: String {
        "\(label): \(failures)/\(count) outside tolerance; max |analytic − numeric| = \(maxAbsError) at [\(worstIndex)] " +
            "(analytic \(analytic), numeric \(numeric)); max |numeric| = \(maxAbsNumeric)"
    }
}

public enum GradientCheck {
    /// Checks `analytic` (the gradient of `loss` w.r.t. the `count` values at `x`) by central
    /// differences: numeric_i = (L(x + h·e_i) − L(x − h·e_i)) / 2h. Each value must satisfy
    /// |analytic − numeric| ≤ atol + rtol·|numeric|. `loss` must recompute the forward pass from
    /// `x` (it is called 2·count times) and should accumulate in Double.
    public static func check(_ label: String, x: UnsafeMutablePointer<Float>, count: Int, analytic: [Float],
                             h: Float = 1e-2, atol: Double = 1e-3, rtol: Double = 1e-2,
                             loss: () -> Double) -> GradientReport {
        var maxErr = 0.0, worst = 0, worstA = 0.0, worstN = 0.0, maxN = 0.0, failures = 0
        for i in 0 ..< count {
            let saved = x[i]
            x[i] = saved + h
            let up = loss()
            x[i] = saved - h
            let down = loss()
            x[i] = saved
            // The step actually taken in Float arithmetic, not the nominal h.
            let step = Double(saved + h) - Double(saved - h)
            let numeric = (up - down) / step
            let a = Double(analytic[i])
            let err = abs(a - numeric)
            maxN = max(maxN, abs(numeric))
            if err > atol + rtol * abs(numeric) { failures += 1 }
            if err > maxErr { maxErr = err; worst = i; worstA = a; worstN = numeric }
        }
        return GradientReport(label: label, maxAbsError: maxErr, worstIndex: worst, analytic: worstA, numeric: worstN,
                              maxAbsNumeric: maxN, failures: failures, count: count)
    }

    /// Σ w_i · out_i in Double: the scalar whose gradient w.r.t. out is w (the `dout` fed to backward).
    public static func weightedSum(_ out: UnsafePointer<Float>, _ w: UnsafePointer<Float>, count: Int) -> Double {
        var s = 0.0
        for i in 0 ..< count { s += Double(out[i]) * Double(w[i]) }
        return s
    }
}

/// Largest absolute difference between two equal-length sequences, and where it is.
public func maxAbsDifference<A: Collection, B: Collection>(_ a: A, _ b: B) -> (value: Double, index: Int)
    where A.Element: BinaryFloatingPoint, B.Element: BinaryFloatingPoint {
    precondition(a.count == b.count, "maxAbsDifference: \(a.count) vs \(b.count) values")
    var best = 0.0, at = 0
    for (i, (x, y)) in zip(a, b).enumerated() {
        let d = abs(Double(x) - Double(y))
        if d > best || d.isNaN { best = d.isNaN ? .infinity : d; at = i }
    }
    return (best, at)
}

/// Deterministic test inputs (a tiny LCG, independent of the engine's RNG under test).
public struct TestValues {
    var state: UInt64
    public init(seed: UInt64) { state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
    /// Uniform in [lo, hi).
    public mutating func next(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return lo + (hi - lo) * Float(state >> 40) / Float(1 << 24)
    }
    public mutating func array(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] { (0 ..< n).map { _ in next(lo, hi) } }
}

/// Runs the built `clipood` executable (it sits next to the test bundle in the build folder).
public enum Executable {
    public static var url: URL {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        // The test binary may be inside a .xctest bundle directory on some platforms.
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("clipood")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: "clipood")
    }

    public struct Output { public let status: Int32; public let stdout: String; public let stderr: String }

    /// Runs `clipood args…` in `directory` with `stdin` as its input.
    public static func run(_ args: [String], stdin: String? = nil, directory: URL? = nil, environment: [String: String] = [:]) throws -> Output {
        let p = Process()
        p.executableURL = url
        p.arguments = args
        if let directory { p.currentDirectoryURL = directory }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(stdin.data(using: .utf8)!) }
        try inp.fileHandleForWriting.close()
        // Read both pipes fully before waiting, so a chatty child cannot block on a full pipe.
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// A fresh temporary directory for one test.
public func makeTemporaryDirectory(_ label: String = "clipood-test") -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes `text` to a new executable file at `path` (mode 0755) through a close-on-exec
/// descriptor. Tests run in parallel and some start long-lived children; a child started while a
/// plain (inheritable) descriptor to the script is open keeps it open for its whole life, and every
/// later exec of the script then fails with "text file busy".
@discardableResult
public func writeExecutable(_ text: String, to path: String) -> Bool {
    unlink(path)
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755)
    guard fd >= 0 else { return false }
    fchmod(fd, 0o755)
    let bytes = Array(text.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    return close(fd) == 0 && written == bytes.count
}
