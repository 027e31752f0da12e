import ClipoodData
import ClipoodDistributed
import ClipoodEngine
import ClipoodImage
import ClipoodModel
import ClipoodTrain
import Foundation

// The training loop of a run, top to bottom: swap the run's weights into the model, take steps
// until the last one, a step limit, Ctrl-C or a failure, and swap them back out. It reports
// through `ProgressSink` and records why it stopped in the run; it never prints.

extension Run {
    /// Builds the prefix cache when the run uses one and has none yet (a new run, or one just
    /// loaded), and returns it; nil when there was nothing to build.
    public func preparePrefixCache(model m: ModelEntry, data d: DataEntry, images: BatchBuilder, progress: ProgressSink) throws -> PrefixCache? {
        guard usesCache && cache == nil else { return nil }
        let built = try PrefixCache(model: m, data: d, images: images, samples: split.train, views: views, layer: trainer.firstTrainableLayer,
                                    augment: augment, interpolation: Interpolation(rawValue: interpolation) ?? .bicubic,
                                    rng: RNG(seed: seed).derived("views"), progress: progress)
        cache = built
        return built
    }

    /// Whether steps start from the prefix cache.
    public var isPrefixCached: Bool { cache != nil }

    /// What one call of `train` did.
    public struct Stint {
        /// Steps done before and after it.
        public let from: Int, to: Int
        public let seconds: Double
    }

    /// Runs steps until the run's last step, `limit` more steps, an interruption, or a step
    /// that fails (a batch that cannot be read, a non-finite loss); then `stopReason` says
    /// why. Between calls the model holds the zero-shot weights; the run's own weights are
    /// swapped in for the duration and kept in `final` after. Call `preparePrefixCache` first.
    ///
    /// With `evalEvery`, `evaluate` scores the weights of the moment every that many steps and
    /// at the last step (state "final" is then the model as it stands: `isTraining` is set); the
    /// results go to `evaluations`. It reads the model and never changes it, so evaluating does
    /// not change what training does.
    public func train(model m: ModelEntry, data d: DataEntry, images: BatchBuilder, limit: Int?, progress: ProgressSink,
                      evaluate: ((Run) throws -> EvaluationResult)? = nil) -> Stint {
        let S = m.model.config.vision.imageSize, B = sampler.batchSize
        // In an MPI job every rank draws the same batch and takes its share (one process: all of it).
        let cluster = Cluster.current, share = cluster.shard(B)
        let interp = Interpolation(rawValue: interpolation) ?? .bicubic
        let pixels = FloatBuffer(count: cache == nil ? share.count * 3 * S * S : 0)
        let streams = FloatBuffer(count: cache == nil ? 0 : share.count * m.model.vision.streamSize)
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
        let range = trainer.range
        // The run's weights go into the model for the steps and the zero-shot weights wait in
        // `final` meanwhile; the same swap puts both back after (no third copy is kept).
        let params = m.model.parameters.values.base + range.lowerBound
        swapValues(params, final.base, count: range.count)
        isTraining = true
        defer {
            swapValues(params, final.base, count: range.count)
            isTraining = false
        }
        stopReason = nil
        let target = min(config.steps, trainer.step + (limit ?? config.steps))
        let first = trainer.step
        progress.begin("train \(name)", target - first)
        let start = Date()
        while trainer.step < target {
            do {
                if try cluster.anyRank(progress.interrupted()) {
                    stopReason = "interrupted (Ctrl-C) after step \(trainer.step) of \(config.steps)"
                    break
                }
            } catch {
                stopReason = "stopped after step \(trainer.step): \(error)"
                break
            }
            let idx = sampler.next()
            var unreadable: Error? = nil
            do {
                if let cache {
                    cache.gather(idx, only: share, rng: &augmentRNG, into: streams.base)
                } else {
                    try images.pixels(for: idx, only: share, in: d.dataset, size: S, augment: augment, interpolation: interp, rng: &augmentRNG, into: pixels.base)
                }
            } catch {
                unreadable = error
            }
            // An image only one rank reads stops every rank at this step.
            let stop: Bool
            do { stop = try cluster.anyRank(unreadable != nil) } catch { unreadable = unreadable ?? error; stop = true }
            if stop {
                stopReason = "stopped at step \(trainer.step + 1): " + (unreadable.map { "\($0)" } ?? "another rank could not read its share of the batch")
                break
            }
            let labels = idx[share].map { position[d.dataset.samples[$0].label]! }
            let t0 = Date()
            do {
                let r = cache == nil ? try trainer.step(pixels: pixels.base, labels: labels, B: share.count, batch: idx.count)
                                     : try trainer.step(streams: streams.base, labels: labels, B: share.count, batch: idx.count)
                log.append((r, Date().timeIntervalSince(t0)))
                // Images per second of the whole job (every rank's share of each step).
                let rate = Double((r.step - first) * B) / max(Date().timeIntervalSince(start), 1e-9)
                progress.advance(r.step - first, String(format: "%.0f img/s loss %.4f acc %.2f lr %.2e", rate, r.loss, r.accuracy, r.learningRate))
            } catch {
                stopReason = String(describing: error)
                break
            }
            if let every = evalEvery, let evaluate, trainer.step % every == 0 || trainer.step == config.steps {
                // The weights of the moment are the model's: "final" is scored as the model stands.
                do {
                    let e = try evaluate(self)
                    evaluations.append(ResultRecord(weights: "final", part: evalPart, step: trainer.step, images: e.count, correct: e.correct,
                                                    ece: e.ece.isFinite ? min(max(e.ece, 0), 1) : 0))
                } catch is Interrupted {
                    stopReason = "interrupted (Ctrl-C) after step \(trainer.step) of \(config.steps)"
                    break
                } catch {
                    stopReason = "evaluation at step \(trainer.step) failed: \(error)"
                    break
                }
            }
        }
        // Every rank applied the same summed gradients; a difference here would mean the ranks
        // drifted apart (it is checked, not assumed).
        if cluster.isDistributed && trainer.step > first {
            do { try cluster.requireAgreement("weights after training", JobAgreement.values(params, count: range.count)) } catch {
                stopReason = String(describing: error)
            }
        }
        if stopReason != nil { progress.end() }
        if trainer.step > first { unsaved = true }
        return Stint(from: first, to: trainer.step, seconds: Date().timeIntervalSince(start))
    }
}

/// Exchanges `count` floats of `a` and `b` in place.
private func swapValues(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, count: Int) {
    Parallel.chunks(count, minimum: Elementwise.minimumPerThread) { r in
        for i in r { let t = a[i]; a[i] = b[i]; b[i] = t }
    }
}
