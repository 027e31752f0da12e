import ClipoodWorkspace
import Foundation

/// Where the signals that stop work are taken: Ctrl-C (SIGINT) and, in a distributed job,
/// SIGTERM. They are handled on one thread that does nothing else, never on a thread that
/// computes: oneDNN's jit sgemm kernel points its stack pointer into a heap workspace while it
/// runs (for inner dimensions above 84), so a handler run on that thread gets its signal frame
/// (registers and the AVX-512 state, about 3 KB) written below the workspace, over whatever the
/// heap holds there. That was a crash after Ctrl-C ("free(): invalid pointer", a segfault in
/// unlink_chunk), found in a core dump: a ucontext and an XSAVE area inside a decoded image.
///
/// The main thread blocks both signals before anything starts a thread, so every thread it
/// starts later (oneDNN's OpenMP threads, Dispatch's) blocks them too. The kernel then delivers
/// them to a thread that accepts them: the signal thread started here (or a thread that
/// existed before `main`, such as OpenBLAS's, which run no oneDNN code). At the prompt the
/// main thread accepts SIGINT while readline waits for a line, so Ctrl-C clears the line there.
enum Signals {
    /// The signals that ask work to stop.
    static let stopping: [Int32] = [SIGINT, SIGTERM]

    static func set(_ signals: [Int32]) -> sigset_t {
        var s = sigset_t()
        sigemptyset(&s)
        for n in signals { sigaddset(&s, n) }
        return s
    }

    /// Blocks the stopping signals on the calling (main) thread and starts the thread that
    /// takes them. Call before anything starts a thread; install the handlers with `signal`.
    static func start() {
        var stop = set(stopping)
        pthread_sigmask(SIG_BLOCK, &stop, nil)
        let taker = Thread {
            // A parent may start the process with them blocked (some test runners and job
            // launchers do); this thread takes them whatever it inherited.
            var stop = set(stopping)
            pthread_sigmask(SIG_UNBLOCK, &stop, nil)
            // Named where ps and /proc show it (Foundation's `name` can miss a thread that runs
            // before start() returns).
            if let comm = fopen("/proc/thread-self/comm", "w") {
                fputs("clipood-signals", comm)
                fclose(comm)
            }
            while true { pause() }
        }
        taker.start()
    }

    /// Runs `body` (readline waiting for a line) with SIGINT accepted on the calling thread,
    /// where readline's own handling of it expects it.
    static func acceptingInterrupts<T>(_ body: () -> T) -> T {
        var interrupt = set([SIGINT])
        pthread_sigmask(SIG_UNBLOCK, &interrupt, nil)
        defer { pthread_sigmask(SIG_BLOCK, &interrupt, nil) }
        return body()
    }
}
