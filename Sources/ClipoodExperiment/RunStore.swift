import ClipoodEngine
import ClipoodIO
import ClipoodModel
import ClipoodTrain
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A run directory on disk: the one writer (`save`) and the one reader (`open`) of its layout.
///
/// `save` writes every file into a sibling temporary directory, then `manifest.json` — the size
/// and SHA-256 of every other file — last, and swaps the directory into place
/// (`AtomicDirectory`): a kill at any instant leaves the complete old save or the complete new
/// one. `open` refuses a directory whose files do not match its manifest (half-written, mixed
/// with another save, or edited) and validates run.json before anything reads it.
public enum RunStore {
    public static let manifestFile = "manifest.json"
    public static let recordFile = "run.json"
    public static let stateFile = "state.safetensors"
    public static let logFile = "log.csv"
    /// Size caps for the small files a run directory holds.
    public static let recordLimit = 64 << 20, logLimit = 256 << 20, manifestLimit = 1 << 20

    public struct Manifest: Codable, Equatable {
        public struct FileEntry: Codable, Equatable {
            public var size: Int
            public var sha256: String
            public init(size: Int, sha256: String) { self.size = size; self.sha256 = sha256 }
        }
        public var format: Int
        public var run: String
        public var files: [String: FileEntry]
    }

    /// For tests of interrupted saves: with `CLIPOOD_SAVE_KILL_AFTER=k` in the environment, the
    /// process kills itself (SIGKILL) after the k-th step of a save (each file written, the
    /// manifest, the sync, the swap, the removal of the old directory).
    static let killAfter: Int? = ProcessInfo.processInfo.environment["CLIPOOD_SAVE_KILL_AFTER"].flatMap { Int($0) }

    /// Writes a run directory. `files` are written in order, each by its closure given the path
    /// to write; run.json must be among them. An existing directory is replaced only when it
    /// holds a save of the same run (or is empty), unless `force`.
    public static func save(to dir: String, run: String, force: Bool, files: [(name: String, write: (String) throws -> Void)]) throws {
        if !force, let why = occupant(dir, run: run) { throw RunFileError(dir, why + "; save with force to replace it") }
        var steps = 0
        func step() {
            steps += 1
            if let k = killAfter, steps == k { kill(getpid(), SIGKILL) }
        }
        try AtomicDirectory.replace(dir, step: { _ in step() }) { temp in
            var manifest = Manifest(format: RunRecord.currentFormat, run: run, files: [:])
            for (name, write) in files {
                precondition(!name.contains("/") && name != manifestFile, "RunStore: bad file name \(name)")
                try write(temp + "/" + name)
                let (hash, size) = try SHA256.file(temp + "/" + name)
                manifest.files[name] = Manifest.FileEntry(size: size, sha256: hash)
                step()
            }
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            let path = temp + "/" + manifestFile
            do { try e.encode(manifest).write(to: URL(fileURLWithPath: path)) } catch { throw IOFailure("write", path, "the disk refused it") }
        }
    }

    /// Why `dir` may not be overwritten by a save of `run` (nil: it may).
    static func occupant(_ dir: String, run: String) -> String? {
        guard let kind = FileReading.kind(of: dir) else { return nil }
        guard kind == .directory else { return "exists and is not a folder" }
        let items = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0 != ".DS_Store" }
        if items.isEmpty { return nil }
        guard let data = try? FileReading.read(dir + "/" + manifestFile, limit: manifestLimit),
              let manifest = try? JSONDecoder().decode(Manifest.self, from: data) else {
            return "holds files that are not a saved run"
        }
        guard manifest.run == run else { return "holds another run ('\(manifest.run)')" }
        let extra = items.filter { $0 != manifestFile && manifest.files[$0] == nil }
        return extra.isEmpty ? nil : "holds files that are not part of its save (\(extra.sorted().prefix(3).joined(separator: ", ")))"
    }

    /// A saved run directory, checked: every file of the manifest present with its size and hash,
    /// no file beside them, run.json decoded and validated.
    public struct Opened {
        public let dir: String
        public let manifest: Manifest
        public let record: RunRecord
        /// Set when the directory was the aside copy of an interrupted save.
        public let recoveredFrom: String?
    }

    public static func open(_ requested: String) throws -> Opened {
        guard let dir = AtomicDirectory.recoverable(requested) else {
            throw RunFileError(requested, FileReading.kind(of: requested) == nil ? "does not exist" : "is not a folder")
        }
        let manifestPath = dir + "/" + manifestFile
        guard FileReading.kind(of: manifestPath) != nil else {
            if FileReading.kind(of: dir + "/" + recordFile) != nil {
                throw RunFileError(manifestPath, "is missing: the save was interrupted or written by an older clipood; save the run again")
            }
            throw RunFileError(dir, "holds no saved run (no \(manifestFile) or \(recordFile); is this a directory written by 'save RUN to DIR'?)")
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: FileReading.read(manifestPath, limit: manifestLimit)) } catch let e as IOFailure { throw e } catch {
            throw RunFileError(manifestPath, "is not a run manifest (\((error as? DecodingError)?.fieldPath ?? "JSON"))")
        }
        guard RunRecord.readableFormats.contains(manifest.format) else {
            throw RunFileError(manifestPath, field: "format", RunRecord.unknownFormat(manifest.format))
        }
        guard manifest.files[recordFile] != nil else { throw RunFileError(manifestPath, field: "files", "does not list \(recordFile)") }
        for (name, entry) in manifest.files.sorted(by: { $0.key < $1.key }) {
            guard !name.contains("/"), name != manifestFile, !name.hasPrefix(".") else { throw RunFileError(manifestPath, field: "files", "names '\(name)', not a file of a run directory") }
            let path = dir + "/" + name
            guard FileReading.kind(of: path) != nil else { throw RunFileError(path, "is missing: the directory is not a complete save") }
            let (hash, size) = try SHA256.file(path)
            guard size == entry.size, hash == entry.sha256 else {
                throw RunFileError(path, "does not match the manifest (\(size) bytes, expected \(entry.size)\(size == entry.size ? ", different content" : "")): the directory mixes files of different saves or was edited")
            }
        }
        let extra = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0 != manifestFile && manifest.files[$0] == nil && !$0.hasPrefix(".") }
        if !extra.isEmpty { throw RunFileError(dir, "holds files that are not in its manifest (\(extra.sorted().prefix(3).joined(separator: ", "))): the directory mixes saves") }
        let record = try RunRecord.decode(FileReading.read(dir + "/" + recordFile, limit: recordLimit), file: dir + "/" + recordFile)
        guard record.run == manifest.run else { throw RunFileError(dir + "/" + recordFile, field: "run", "is '\(record.run)' but the manifest is of '\(manifest.run)'") }
        for (state, file) in record.weights where manifest.files[file] == nil {
            throw RunFileError(dir + "/" + recordFile, field: "weights.\(state)", "names '\(file)', which the save does not hold")
        }
        for f in [stateFile, logFile] where manifest.files[f] == nil { throw RunFileError(manifestPath, field: "files", "does not list \(f)") }
        return Opened(dir: dir, manifest: manifest, record: record, recoveredFrom: dir == requested ? nil : requested)
    }
}

/// The optimiser and average buffers of a run (`state.safetensors`): everything `train resume=`
/// needs besides run.json.
public struct RunState {
    public var step: Int
    public var final: [Float]
    public var adamM: [Float]
    public var adamV: [Float]
    /// Each average's buffer, by label.
    public var averages: [String: [Float]]

    public init(step: Int, final: [Float], adamM: [Float], adamV: [Float], averages: [String: [Float]]) {
        self.step = step; self.final = final; self.adamM = adamM; self.adamV = adamV; self.averages = averages
    }

    /// Writes the state of `trainer` with the run's current weights `final`.
    public static func write(run: String, trainer t: Trainer, final: FloatBuffer, to path: String) throws {
        var w = SafeTensorsWriter(metadata: ["clipood.run": run, "step": String(t.step)])
        w.add("final", shape: [t.range.count], floats: final.base)
        w.add("adam.m", shape: [t.range.count], floats: t.optimizer.m.base)
        w.add("adam.v", shape: [t.range.count], floats: t.optimizer.v.base)
        for a in t.averages { w.add("average." + a.label, shape: [t.range.count], floats: a.average.base) }
        try w.write(to: path)
    }

    /// Reads and checks a state file against the run it belongs to: `count` values per tensor
    /// (the model's trainable range), every value finite, Adam's second moment ≥ 0, an average
    /// for every label, and the step run.json says.
    public static func read(_ path: String, count: Int, step: Int, averageLabels: [String]) throws -> RunState {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch { throw RunFileError(path, "cannot be read: \(error)") }
        if let s = file.metadata["step"], Int(s) != step { throw RunFileError(path, field: "step", "is \(s) but run.json says \(step)") }
        func tensor(_ name: String, nonNegative: Bool = false) throws -> [Float] {
            guard let e = file.entries[name] else { throw RunFileError(path, field: name, "is missing") }
            guard e.dtype == .F32, e.shape == [count] else {
                throw RunFileError(path, field: name, "is \(e.dtype.rawValue) \(e.shape), expected F32 [\(count)] (the model's trainable range)")
            }
            let v = try file.floats(name)
            if let bad = v.firstIndex(where: { !$0.isFinite || (nonNegative && $0 < 0) }) {
                throw RunFileError(path, field: name, "has \(v[bad]) at [\(bad)] (values must be finite\(nonNegative ? " and ≥ 0" : ""))")
            }
            return v
        }
        var averages: [String: [Float]] = [:]
        for label in averageLabels { averages[label] = try tensor("average." + label) }
        return RunState(step: step, final: try tensor("final"), adamM: try tensor("adam.m"), adamV: try tensor("adam.v", nonNegative: true), averages: averages)
    }
}

/// A run's per-step log (`log.csv`): step, loss, accuracy, learning rate, the first BMA's
/// normalised weight of the step, seconds.
public enum RunLog {
    public static let header = "step,loss,accuracy,lr,bma_weight,seconds"

    public static func csv(_ rows: [(record: StepRecord, seconds: Double)], stepWeight: (Int) -> Double?) -> String {
        var csv = header + "\n"
        for (r, s) in rows {
            let w = stepWeight(r.step).map { String(format: "%.6g", $0) } ?? ""
            csv += "\(r.step),\(r.loss),\(r.accuracy),\(r.learningRate),\(w),\(String(format: "%.4f", s))\n"
        }
        return csv
    }

    /// Reads a log written by `csv`: exactly the steps 1 … `steps`, each number finite and in range.
    public static func read(_ path: String, steps: Int) throws -> [(record: StepRecord, seconds: Double)] {
        let text = try FileReading.text(path, limit: RunStore.logLimit)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard lines.first == header else { throw RunFileError(path, "does not start with the header '\(header)'") }
        guard lines.count - 1 == steps else { throw RunFileError(path, "has \(lines.count - 1) rows but run.json says \(steps) steps were done") }
        var out: [(record: StepRecord, seconds: Double)] = []
        for (i, line) in lines.dropFirst().enumerated() {
            let where_ = "\(path):\(i + 2)"
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 6 else { throw RunFileError(where_, "has \(f.count) fields, expected 6") }
            guard let step = Int(f[0]), step == i + 1 else { throw RunFileError(where_, field: "step", "is '\(f[0])', expected \(i + 1)") }
            guard let loss = Float(f[1]), loss.isFinite, loss >= 0 else { throw RunFileError(where_, field: "loss", "is '\(f[1])', expected a finite number ≥ 0") }
            guard let acc = Float(f[2]), acc >= 0, acc <= 1 else { throw RunFileError(where_, field: "accuracy", "is '\(f[2])', expected a number in 0…1") }
            guard let lr = Double(f[3]), lr.isFinite, lr >= 0 else { throw RunFileError(where_, field: "lr", "is '\(f[3])', expected a finite number ≥ 0") }
            guard f[4].isEmpty || Double(f[4]).map({ $0.isFinite && $0 >= 0 }) == true else { throw RunFileError(where_, field: "bma_weight", "is '\(f[4])', expected a number ≥ 0 or nothing") }
            guard let sec = Double(f[5]), sec.isFinite, sec >= 0 else { throw RunFileError(where_, field: "seconds", "is '\(f[5])', expected a finite number ≥ 0") }
            out.append((StepRecord(step: step, loss: loss, accuracy: acc, learningRate: lr), sec))
        }
        return out
    }
}
