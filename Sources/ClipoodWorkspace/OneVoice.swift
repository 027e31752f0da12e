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
