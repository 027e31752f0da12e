// clipood — the executable. Everything it does is a workspace command; this file only picks
// the front end: the REPL, a session file, or one command given as arguments.
import ClipoodWorkspace
import Foundation

setvbuf(stdout, nil, _IOLBF, 0)   // keep stdout and stderr in order when both go to one pipe
let arguments = Array(CommandLine.arguments.dropFirst())
let workspace = Workspace()
workspace.outputIsTerminal = isatty(STDOUT_FILENO) == 1
// Ctrl-C asks long work to stop at its next safe point (training: the next step boundary);
// a second Ctrl-C before that ends the process.
signal(SIGINT) { _ in
    if ReadlineBridge.atPrompt != 0 { ReadlineBridge.clearLine(); return }
    if Interrupt.requested != 0 { _exit(130) }
    Interrupt.requested = 1
}
// A parent may start us with SIGINT blocked (some test runners and job launchers do): unblock it.
var interruptSet = sigset_t()
sigemptyset(&interruptSet)
sigaddset(&interruptSet, SIGINT)
pthread_sigmask(SIG_UNBLOCK, &interruptSet, nil)

switch arguments.first {
case nil:
    exit(REPL(workspace: workspace).run())
case "run":
    guard arguments.count == 2 else {
        workspace.writeError("usage: clipood run FILE.cood   (or: clipood run -  to read commands from standard input)")
        exit(2)
    }
    exit(workspace.runSession(path: arguments[1]))
case "notebook":
    exit(workspace.runNotebook(arguments: Array(arguments.dropFirst())))
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
    exit(workspace.executeArguments(arguments))
}
