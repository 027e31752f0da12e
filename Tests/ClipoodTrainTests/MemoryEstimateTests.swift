import ClipoodEngine
import ClipoodIO
import ClipoodModel
import ClipoodTrain
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The memory estimate against real steps (the most engine bytes in use at once while the
/// step's objects are made and one step runs), and against batches no machine can hold.
@Suite("memory estimates", .serialized)
struct MemoryEstimateTests {
    /// Bytes in use from malloc over all arenas, including mmapped blocks (process-wide, so
    /// other tests move it): glibc's malloc_info report (found with dlsym, as Swift's Glibc
    /// module leaves malloc.h out), its totals after the last heap: system current − free (fast
    /// and other bins, top included) + mmap.
    static func inUse() -> Int {
        typealias MallocInfo = @convention(c) (Int32, UnsafeMutablePointer<FILE>?) -> Int32
        guard let symbol = dlsym(nil, "malloc_info") else { Issue.record("no malloc_info"); return 0 }
        var buffer: UnsafeMutablePointer<CChar>? = nil
        var length = 0
        guard let stream = open_memstream(&buffer, &length) else { Issue.record("no memstream"); return 0 }
        _ = unsafeBitCast(symbol, to: MallocInfo.self)(0, stream)
        fclose(stream)
        defer { free(buffer) }
        let xml = String(cString: buffer!)
        let totals = xml.components(separatedBy: "</heap>").last!
        func size(_ tag: String, _ type: String) -> Int {
            guard let line = totals.split(separator: "\n").first(where: { $0.contains("<\(tag) type=\"\(type)\"") }),
                  let r = line.range(of: "size=\"") else { Issue.record("malloc_info lacks \(tag) \(type)"); return 0 }
            return Int(line[r.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        return size("system", "current") - size("total", "fast") - size("total", "rest") + size("total", "mmap")
    }

    static let config = CLIPConfig(vision: .init(width: 128, layers: 3, heads: 4, patchSize: 8, imageSize: 64),
                                   text: .init(width: 32, layers: 1, heads: 2, contextLength: 8, vocabularySize: 50), embedDim: 64)

    /// Allocates what a training run allocates (trainer, input batch, prefix cache when
    /// `cachedViews` > 0, built 16 images at a time as the workspace does) and runs one step,
    /// returning the most engine bytes in use at once meanwhile (a `MemoryLedger`: only this
    /// test's buffers, whatever other tests do beside it) and the trainer's range size.
    static func measureStep(_ trainable: VisionTower.Trainable, batch B: Int, classes K: Int, cachedViews: Int,
                            checkpoint: Bool = false) throws -> (bytes: Int, range: Int, averages: Int) {
        let c = config
        let model = CLIPModel(config: c)
        model.initialiseRandomly(seed: 1)
        var v = TestValues(seed: 2)
        let text = FloatBuffer(v.array(K * c.embedDim))
        let input = v.array(B * 3 * c.vision.imageSize * c.vision.imageSize)
        let (sizes, ledger) = try MemoryLedger.measure {
            try step(model, text: text, input: input, trainable, batch: B, classes: K, cachedViews: cachedViews, checkpoint: checkpoint)
        }
        #expect(ledger.live < ledger.peak)   // the step's own temporaries were freed again
        return (ledger.peak, sizes.range, sizes.averages)
    }

    static func step(_ model: CLIPModel, text: FloatBuffer, input: [Float], _ trainable: VisionTower.Trainable, batch B: Int,
                     classes K: Int, cachedViews: Int, checkpoint: Bool) throws -> (range: Int, averages: Int) {
        let c = config, S = c.vision.imageSize, T = c.vision.tokens, W = c.vision.width
        var config = TrainingConfig(steps: 3)
        config.trainable = trainable
        config.checkpoint = checkpoint
        config.averages = [AverageChoice("bma", 0.5), AverageChoice("ema", 0.99), AverageChoice("swa")]
        let trainer = Trainer(model: model, textFeatures: text, classes: K, config: config)
        let labels = (0 ..< B).map { Int32($0 % K) }
        if cachedViews > 0 {
            let cache = FloatBuffer(count: cachedViews * T * W)
            let pixels = FloatBuffer(count: 16 * 3 * S * S)
            for start in stride(from: 0, to: cachedViews, by: 16) {
                let b = min(16, cachedViews - start)
                pixels.base.update(from: input, count: b * 3 * S * S)
                let out = FloatBuffer(count: b * T * W)
                model.vision.prefix(pixels: pixels.base, B: b, upTo: trainer.firstTrainableLayer, into: out.base)
                (cache.base + start * T * W).update(from: out.base, count: b * T * W)
            }
            let streams = FloatBuffer(count: B * T * W)
            streams.base.update(from: cache.base, count: B * T * W)
            try trainer.step(streams: streams.base, labels: labels, B: B)
            withExtendedLifetime((cache, pixels, streams)) {}
        } else {
            let pixels = FloatBuffer(input)
            try trainer.step(pixels: pixels.base, labels: labels, B: B)
            withExtendedLifetime(pixels) {}
        }
        withExtendedLifetime(trainer) {}
        return (trainer.range.count, trainer.averages.count)
    }

    /// The estimate is at least the most a real step has in use at once and at most 1.5 times
    /// it, for full tuning from pixels, last-2 from pixels, and last-1 from a prefix cache (the
    /// class-token path). The ledger sees only this test's buffers, so a second measurement
    /// gives the same bytes.
    @Test(arguments: [(VisionTower.Trainable.full, 0), (.lastBlocks(2), 0), (.lastBlocks(1), 48)])
    func estimateBoundsAMeasuredStep(_ trainable: VisionTower.Trainable, cachedViews: Int) throws {
        let B = 24, K = 5
        let run = try Self.measureStep(trainable, batch: B, classes: K, cachedViews: cachedViews)
        let again = try Self.measureStep(trainable, batch: B, classes: K, cachedViews: cachedViews)
        let estimate = MemoryEstimate.trainingStep(Self.config, trainableCount: run.range,
                                                   trainable: trainable, batch: B, classes: K, averages: run.averages, cachedViews: cachedViews)
        print("memory \(trainable) cached \(cachedViews): measured \(run.bytes) bytes, estimate \(estimate.bytes) (\(estimate))")
        #expect(again.bytes == run.bytes)
        #expect(run.bytes > 1 << 20)
        #expect(estimate.bytes >= run.bytes, "estimate \(estimate.bytes) below the measured \(run.bytes)")
        #expect(estimate.bytes * 2 <= 3 * run.bytes, "estimate \(estimate.bytes) more than 1.5× the measured \(run.bytes)")
    }

    /// With activation recomputation (checkpoint=on) the estimate bounds a real step the same
    /// way, for full tuning and last-2 from pixels and last-2 from a prefix cache; and the
    /// checkpointed step needs less than the stored one, in the estimate and measured.
    @Test(arguments: [(VisionTower.Trainable.full, 0), (.lastBlocks(2), 0), (.lastBlocks(2), 48)])
    func checkpointEstimateBoundsAMeasuredStep(_ trainable: VisionTower.Trainable, cachedViews: Int) throws {
        let B = 24, K = 5
        let run = try Self.measureStep(trainable, batch: B, classes: K, cachedViews: cachedViews, checkpoint: true)
        let stored = try Self.measureStep(trainable, batch: B, classes: K, cachedViews: cachedViews)
        func estimate(_ checkpoint: Bool) -> MemoryEstimate {
            MemoryEstimate.trainingStep(Self.config, trainableCount: run.range, trainable: trainable,
                                        batch: B, classes: K, averages: run.averages, cachedViews: cachedViews, checkpoint: checkpoint)
        }
        let e = estimate(true)
        print("memory \(trainable) cached \(cachedViews) checkpoint=on: measured \(run.bytes) bytes (stored: \(stored.bytes)), estimate \(e.bytes) (\(e))")
        #expect(run.bytes > 1 << 20)
        #expect(e.bytes >= run.bytes, "estimate \(e.bytes) below the measured \(run.bytes)")
        #expect(e.bytes * 2 <= 3 * run.bytes, "estimate \(e.bytes) more than 1.5× the measured \(run.bytes)")
        #expect(e.bytes < estimate(false).bytes)
        #expect(run.bytes < stored.bytes)
    }

    /// ViT-L/14 trained whole at the paper's batch (12 per domain × 3) fits 20 GB with its
    /// blocks' products stored (the rest is computed again in backward: ~15.7 GiB; a full set
    /// per block needed ~25 GiB), and in less with the blocks recomputed (checkpoint=on).
    @Test func vitL14FitsTwentyGigabytes() {
        let c = CLIPConfig.vitL14
        let layout = CLIPLayout.layout(c)
        let vision = layout.suffixRange(fromFirstNamed: "visual.")!.count   // what trainableRange(.full) covers, without allocating
        #expect(vision > 303_000_000 && vision < 305_000_000)   // ViT-L/14's 304 M image tower
        func estimate(_ checkpoint: Bool) -> MemoryEstimate {
            MemoryEstimate.trainingStep(c, trainableCount: vision, trainable: .full, batch: 36, classes: 7, averages: 1, checkpoint: checkpoint)
        }
        print("ViT-L/14 batch 36: stored \(estimate(false)), checkpoint=on \(estimate(true))")
        #expect(estimate(false).bytes < 20 << 30 && estimate(false).bytes > 12 << 30)
        #expect(estimate(true).bytes < estimate(false).bytes * 2 / 3)
    }

    /// The pretraining estimate bounds a real step the same way.
    @Test func pretrainingEstimateBoundsAMeasuredStep() throws {
        let measured = try Self.measurePretraining()
        let estimate = MemoryEstimate.pretrainingStep(Self.config, batch: 12)
        print("memory pretraining: measured \(measured) bytes, estimate \(estimate.bytes) (\(estimate))")
        #expect(estimate.bytes >= measured && estimate.bytes * 2 <= 3 * measured)
    }

    /// The same with both towers recomputing their blocks (checkpoint=on), which needs less.
    @Test func checkpointPretrainingEstimateBoundsAMeasuredStep() throws {
        let measured = try Self.measurePretraining(checkpoint: true)
        let estimate = MemoryEstimate.pretrainingStep(Self.config, batch: 12, checkpoint: true)
        print("memory pretraining checkpoint=on: measured \(measured) bytes, estimate \(estimate.bytes) (\(estimate))")
        #expect(estimate.bytes >= measured && estimate.bytes * 2 <= 3 * measured)
        #expect(estimate.bytes < MemoryEstimate.pretrainingStep(Self.config, batch: 12).bytes)
        #expect(measured < (try Self.measurePretraining()))
    }

    /// The most engine bytes in use at once while a pretraining step's model (its parameters
    /// are counted too), trainer and batch are made and one step runs.
    static func measurePretraining(checkpoint: Bool = false) throws -> Int {
        let c = Self.config, B = 12, S = c.vision.imageSize
        var v = TestValues(seed: 5)
        let input = v.array(B * 3 * S * S)
        let ids: [Int32] = (0 ..< B).flatMap { b -> [Int32] in [48, Int32(1 + b), 49, 0, 0, 0, 0, 0] }
        let (_, ledger) = try MemoryLedger.measure {
            let model = CLIPModel(config: c)
            model.initialiseRandomly(seed: 4)
            let pretrainer = Pretrainer(model: model, steps: 2, learningRate: 1e-3, warmupSteps: 1, checkpoint: checkpoint)
            let pixels = FloatBuffer(input)
            try pretrainer.step(pixels: pixels.base, ids: ids, B: B)
            withExtendedLifetime((pretrainer, pixels, model)) {}
        }
        return ledger.peak
    }

    /// ViT-B/16 with 4 domains × 4096 images (the largest batch= allows): terabytes, refused
    /// with the numbers, before anything is allocated.
    @Test func hugeBatchIsRefused() throws {
        let c = CLIPConfig(vision: .init(width: 768, layers: 12, heads: 12, patchSize: 16, imageSize: 224),
                           text: .init(width: 512, layers: 12, heads: 8), embedDim: 512)
        let P = CLIPLayout.layout(c).count
        #expect(P > 149_000_000 && P < 150_000_000)   // ViT-B/16's 149.6 M
        let estimate = MemoryEstimate.trainingStep(c, trainableCount: 85_800_000, trainable: .full,
                                                   batch: 4 * 4096, classes: 7, averages: 3)
        #expect(estimate.bytes > 1 << 40)
        let error = #expect(throws: InsufficientMemory.self) {
            try estimate.require(for: "training 'big' (batch 4096 × 4 domains)", available: 24 << 30, hint: "use a smaller batch=")
        }
        let text = error?.description ?? ""
        #expect(text.hasPrefix("training 'big' (batch 4096 × 4 domains): needed ~"), "\(text)")
        #expect(text.contains("GiB, available ~24.0 GiB (activations "), "\(text)")
        #expect(text.hasSuffix("; use a smaller batch="), "\(text)")
        // Against this machine's real figure too (it has far less than terabytes).
        #expect(SystemMemory.available() != nil)
        #expect(throws: InsufficientMemory.self) { try estimate.require(for: "training") }
        // Nothing was allocated for it: less than 1 MiB came into use (the smallest of five
        // tries, as other tests allocate at the same time).
        let deltas = (0 ..< 5).map { _ -> Int in
            let start = Self.inUse()
            _ = try? MemoryEstimate.trainingStep(c, trainableCount: 85_800_000, trainable: .full, batch: 4 * 4096, classes: 7, averages: 3)
                .require(for: "training")
            return Self.inUse() - start
        }
        #expect(deltas.min()! < 1 << 20, "\(deltas)")
        // A batch that fits passes.
        let small = MemoryEstimate.trainingStep(c, trainableCount: 85_800_000, trainable: .full, batch: 2, classes: 7, averages: 3)
        try small.require(for: "training", available: 24 << 30)
        #expect(small.bytes > 4 * P && small.bytes < 8 << 30)
    }

    /// Sizes whose products overflow saturate: refused, never wrapped to a small number.
    @Test func overflowSaturates() throws {
        let c = CLIPConfig(vision: .init(width: 1 << 20, layers: 1 << 20, heads: 1, patchSize: 1, imageSize: 1 << 16),
                           text: .init(width: 8, layers: 1, heads: 1), embedDim: 8)
        let e = MemoryEstimate.trainingStep(c, trainableCount: 10, trainable: .full, batch: 1 << 30, classes: 2, averages: 1)
        #expect(e.bytes == .max)
        #expect(e.description.hasPrefix("~more than 10^9 GiB"))
        #expect(throws: InsufficientMemory.self) { try e.require(for: "x", available: Int.max - 1) }
        #expect(MemoryEstimate.evaluation(c, images: Int.max / 2, classes: 1000).bytes == .max)
        #expect(MemoryEstimate.times(3, 4) == 12 && MemoryEstimate.times(Int.max, 2) == .max && MemoryEstimate.times(-1, 3) == .max)
        // A negative batch (from a damaged file) is refused too, not estimated as small.
        let negative = MemoryEstimate.trainingStep(Self.config, trainableCount: 10, trainable: .full, batch: -4, classes: 2, averages: 1)
        #expect(negative.bytes == .max)
    }

    @Test func evaluationEstimateCountsFeatures() {
        let e = MemoryEstimate.evaluation(Self.config, images: 1000, classes: 10, batch: 32, trainableCount: 500)
        let f = e.parts.first { $0.label == "features and logits" }
        #expect(f?.bytes == 4 * (2 * 1000 * 64 + 1000 + 1000 * 10))
        #expect(e.parts.contains { $0.label == "saved weights" && $0.bytes == 2000 })
    }

    // MARK: What is available

    @Test func memAvailableParsing() {
        let text = "MemTotal:       24576000 kB\nMemFree:         1000000 kB\nMemAvailable:   19265548 kB\nBuffers: 1 kB\n"
        #expect(SystemMemory.memAvailable(text) == 19_265_548 * 1024)
        #expect(SystemMemory.memAvailable("MemTotal: 5 kB\n") == nil)
        #expect(SystemMemory.memAvailable("MemAvailable: lots kB\n") == nil)
    }

    @Test func cgroupLimits() {
        let v2 = ["/sys/fs/cgroup/job/memory.max": "4294967296\n", "/sys/fs/cgroup/job/memory.current": "1073741824\n",
                  "/sys/fs/cgroup/job/memory.stat": "anon 1\ninactive_file 536870912\nactive_file 2\n"]
        #expect(SystemMemory.cgroupRoom(selfCgroup: "0::/job\n", read: { v2[$0] }) == (3 << 30) + (1 << 29))
        let unlimited = ["/sys/fs/cgroup/memory.max": "max\n", "/sys/fs/cgroup/memory.current": "5\n"]
        #expect(SystemMemory.cgroupRoom(selfCgroup: "0::/\n", read: { unlimited[$0] }) == nil)
        let v1 = ["/sys/fs/cgroup/memory/a/memory.limit_in_bytes": "2147483648", "/sys/fs/cgroup/memory/a/memory.usage_in_bytes": "3221225472"]
        #expect(SystemMemory.cgroupRoom(selfCgroup: "4:memory:/a\n0::/\n", read: { v1[$0] }) == 0)
        let v1none = ["/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712", "/sys/fs/cgroup/memory/memory.usage_in_bytes": "1"]
        #expect(SystemMemory.cgroupRoom(selfCgroup: "4:memory:/x\n", read: { v1none[$0] }) == nil)
    }
}
