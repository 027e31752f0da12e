// clipood — the executable. Everything it does is a workspace command; this file only picks
// the front end: the REPL, a session file, or one command given as arguments.
import ClipoodDistributed
import ClipoodWorkspace
import Foundation

setvbuf(stdout, nil, _IOLBF, 0)   // keep stdout and stderr in order when both go to one pipe
// Before anything starts a thread: SIGINT and SIGTERM are taken on a thread of their own.
Signals.start()
let arguments = Array(CommandLine.arguments.dropFirst())
let workspace = Workspace()
workspace.outputIsTerminal = isatty(STDOUT_FILENO) == 1
// Under mpirun or srun every rank runs the same commands; rank 0 alone speaks, and a failure on
// any rank stops the whole job with that rank's message.
do { Cluster.current = try Cluster.start() } catch {
    workspace.writeError("error: \(error)")
    exit(1)
}
let cluster = Cluster.current
if cluster.isDistributed && !cluster.isLeader {
    let rank = cluster.rank, printError = workspace.writeError
    workspace.write = { _ in }
    workspace.writeError = { printError("rank \(rank): " + $0) }
    workspace.outputIsTerminal = false
}
/// Ends the process: a distributed job that failed on this rank is stopped on every rank.
func finish(_ code: Int32) -> Never {
    // An interrupted job ends on every rank at the same line (the ranks agreed on the stop), so
    // it leaves MPI normally; any other failure stops every rank.
    if cluster.isDistributed && code != 0 && code != 130 { cluster.abort(code: code) }
    cluster.finish()
    exit(code)
}
// Ctrl-C asks long work to stop at its next safe point (training: the next step boundary);
// a second Ctrl-C before that ends the process. (Which thread runs these handlers: Signals.)
signal(SIGINT) { _ in
    if ReadlineBridge.atPrompt != 0 { ReadlineBridge.clearLine(); return }
    if !Interrupt.signalArrived() { _exit(130) }
}
if cluster.isDistributed {
    // Ranks of a job are stopped the same way by SIGTERM, which mpirun (after its
    // odls_base_sigkill_timeout) and Slurm (before a time limit) send; the ranks agree at each
    // step boundary, so all stop at the same step. mpirun starts local ranks in process groups
    // of their own: joining mpirun's lets a Ctrl-C at its terminal reach them at once.
    signal(SIGTERM) { _ in
        if !Interrupt.signalArrived() { _exit(143) }
    }
    _ = setpgid(0, getpgid(getppid()))
}
switch arguments.first {
case nil:
    if cluster.isDistributed {
        workspace.writeError("error: the interactive prompt runs in one process; under mpirun or srun give a session file: clipood run FILE.cood")
        finish(2)
    }
    exit(REPL(workspace: workspace).run())
case "run":
    guard arguments.count == 2 else {
        workspace.writeError("usage: clipood run FILE.cood   (or: clipood run -  to read commands from standard input)")
        exit(2)
    }
    finish(workspace.runSession(path: arguments[1]))
case "notebook":
    finish(workspace.runNotebook(arguments: Array(arguments.dropFirst())))
case "-h", "--help":
    print("""
    usage: clipood                  start the interactive prompt
           clipood run FILE.cood    run a session file (- reads standard input); stops at the first error
           clipood notebook [--check] FILE.md   run a notebook's clipood cells and write their outputs into it
           clipood COMMAND …        run one command, e.g. `clipood bench gemm` or `clipood help train`
    """)
    exit(workspace.executeArguments(["help"]))
case "--version":
    print("clipood \(clipoodVersion)")
default:
    finish(workspace.executeArguments(arguments))
}
