import ClipoodIO
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A helper program (gnuplot) run with a deadline and bounded output: started in its own
/// process group, fed its input, its two output streams read without blocking, and the whole
/// group killed when it overstays or prints too much — so neither a program that never exits
/// nor one that prints endlessly (nor a child of it that keeps the pipes open) can hang or
/// exhaust the caller.
struct ChildProcess {
    enum Ending: Equatable {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
        case tooMuchOutput
    }

    struct Result {
        let ending: Ending
        let stdout: Data
        let stderr: Data
    }

    let pid: pid_t
    private let input: Int32, output: Int32, errors: Int32

    /// Starts `executable` with `arguments` (argv[0] is the executable) and `environment`.
    init(executable: String, arguments: [String], environment: [String: String]) throws {
        var stdinPipe: [Int32] = [-1, -1], stdoutPipe: [Int32] = [-1, -1], stderrPipe: [Int32] = [-1, -1]
        for i in 0 ..< 3 {
            let made = i == 0 ? ChildProcess.pipe(&stdinPipe) : i == 1 ? ChildProcess.pipe(&stdoutPipe) : ChildProcess.pipe(&stderrPipe)
            guard made == 0 else {
                let e = errno
                for fd in stdinPipe + stdoutPipe + stderrPipe where fd >= 0 { close(fd) }
                throw GnuplotError("cannot start \(executable): " + String(cString: strerror(e)).lowercased())
            }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group (so the whole group can be killed), default signal handling
        // (this process ignores SIGPIPE; the child should not inherit that) and no blocked signals.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t(), none = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP] { sigaddset(&defaults, s) }
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &none)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var child: pid_t = 0
        let started = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        close(stdinPipe[0]); close(stdoutPipe[1]); close(stderrPipe[1])
        guard started == 0 else {
            close(stdinPipe[1]); close(stdoutPipe[0]); close(stderrPipe[0])
            throw GnuplotError("cannot start \(executable): " + String(cString: strerror(started)).lowercased())
        }
        pid = child
        input = stdinPipe[1]
        output = stdoutPipe[0]
        errors = stderrPipe[0]
        for fd in [input, output, errors] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    /// A pipe whose ends close on exec (the child gets only the copies made for it).
    private static func pipe(_ fds: inout [Int32]) -> Int32 {
        guard Glibc.pipe(&fds) == 0 else { return -1 }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return 0
    }

    /// Feeds `input` (then closes standard input), collects both outputs and waits for the
    /// program, at most `timeout` seconds and `outputLimit` bytes per stream. Call once.
    func communicate(input data: Data, timeout: TimeInterval, outputLimit: Int) -> Result {
        let bytes = [UInt8](data)
        var written = 0
        var inFD: Int32 = input, outFD: Int32 = output, errFD: Int32 = errors
        var out = Data(), err = Data()
        var status: Int32?
        var exitedAt: Date?
        var ending: Ending?
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)
        if bytes.isEmpty { close(inFD); inFD = -1 }

        func drain(_ fd: inout Int32, into sink: inout Data) {
            while fd >= 0 {
                let n = read(fd, &buffer, buffer.count)
                if n > 0 {
                    sink.append(contentsOf: buffer[0 ..< n])
                    if sink.count > outputLimit { return }
                } else if n == 0 {
                    close(fd); fd = -1
                } else {
                    if errno == EINTR { continue }
                    if errno != EAGAIN && errno != EWOULDBLOCK { close(fd); fd = -1 }
                    return
                }
            }
        }

        while true {
            if status == nil {
                var s: Int32 = 0
                let r = waitpid(pid, &s, WNOHANG)
                if r == pid { status = s; exitedAt = Date() }
            }
            if outFD < 0 && errFD < 0 && status != nil { break }
            if out.count > outputLimit || err.count > outputLimit { ending = .tooMuchOutput; break }
            let now = Date()
            if now >= deadline { ending = .timedOut; break }
            // It exited, but something it started still holds the pipes: stop listening soon.
            if let exitedAt, now.timeIntervalSince(exitedAt) > 2 { break }

            var fds: [pollfd] = []
            if inFD >= 0 { fds.append(pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)) }
            if outFD >= 0 { fds.append(pollfd(fd: outFD, events: Int16(POLLIN), revents: 0)) }
            if errFD >= 0 { fds.append(pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)) }
            let wait = Int32(max(1, min(50, deadline.timeIntervalSince(now) * 1000)))
            if fds.isEmpty { usleep(UInt32(wait) * 1000); continue }
            let ready = poll(&fds, nfds_t(fds.count), wait)
            if ready <= 0 { continue }
            if inFD >= 0 {
                while written < bytes.count {
                    let n = bytes.withUnsafeBufferPointer { write(inFD, $0.baseAddress! + written, bytes.count - written) }
                    if n > 0 { written += n; continue }
                    if n < 0 && errno == EINTR { continue }
                    if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
                    written = bytes.count   // EPIPE: it stopped reading (an error it will report)
                }
                if written >= bytes.count { close(inFD); inFD = -1 }
            }
            drain(&outFD, into: &out)
            drain(&errFD, into: &err)
        }

        if status == nil || ending != nil || outFD >= 0 || errFD >= 0 {
            // The group still exists while any member lives, so its id cannot have been reused.
            kill(-pid, SIGKILL)
        }
        if status == nil {
            var s: Int32 = 0
            while waitpid(pid, &s, 0) < 0 && errno == EINTR {}
            status = s
        }
        for fd in [inFD, outFD, errFD] where fd >= 0 { close(fd) }
        if out.count > outputLimit { out = out.prefix(outputLimit) }
        if err.count > outputLimit { err = err.prefix(outputLimit) }
        if let ending { return Result(ending: ending, stdout: out, stderr: err) }
        let s = status!
        let signal = s & 0x7F
        return Result(ending: signal == 0 ? .exited((s >> 8) & 0xFF) : .signalled(signal), stdout: out, stderr: err)
    }
}
