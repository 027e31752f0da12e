import ClipoodDistributed
import ClipoodCommands
import Foundation

// Under mpirun or srun every rank runs the same commands, but rank 0 alone speaks (main.swift
// silences the others' standard output) and writes files. Files a later command reads (a saved
// run, a generated world, a pretrained model) are written by rank 0 while the other ranks wait,
// so that on a shared file system every rank then finds them.

extension Workspace {
    /// Whether this process writes files: always, except on ranks other than 0 of an MPI job.
    var writesFiles: Bool { Cluster.current.isLeader }

    /// Runs `body` (which writes files) on rank 0 alone, then holds every rank until it is done.
    /// When it fails on rank 0, that rank's command fails and the job stops with its message.
    @discardableResult
    func leaderWrites<T>(_ body: () throws -> T) throws -> T? {
        let cluster = Cluster.current
        guard cluster.isDistributed else { return try body() }
        let result = cluster.isLeader ? try body() : nil
        try cluster.barrier()
        return result
    }
}

extension Workspace {
    /// `body` writes the file named by the command's `to` argument: on rank 0 alone (see
    /// `leaderWrites`), with a failure reported at that argument.
    @discardableResult
    func writingTo<T>(_ args: Arguments, _ body: () throws -> T) throws -> T? {
        try wrapped(args, "to") { try leaderWrites(body) }
    }
}

extension Workspace {
    /// Before a session ends on Ctrl-C or SIGTERM (a scheduler's time limit, mpirun passing on
    /// a Ctrl-C): saves every run with unsaved steps to interrupted/NAME, so that the steps done
    /// are not lost, and says how to continue. A run that cannot be saved is reported.
    func saveInterruptedRuns() {
        for name in runOrder {
            guard let run = runs[name], run.unsaved, run.stepsDone > 0, let m = models[run.modelName] else { continue }
            let dir = "interrupted/\(name)"
            do {
                let hash = try hashes.sha256(m.loaded.weightsFile)
                try leaderWrites { try run.save(to: expandPath(dir), model: m, modelSHA256: hash, data: datasets[run.dataName], force: true) }
                writeError("saved run '\(name)' (\(run.stepsDone) of \(run.config.steps) steps) to \(dir); continue with: load run \(dir), then train resume=\(name)")
            } catch {
                writeError("could not save run '\(name)' to \(dir): \(error)")
            }
        }
    }
}
