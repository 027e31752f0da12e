import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal for driving the real REPL in tests: the child's stdin, stdout and stderr
/// are the terminal's slave side, so readline, colour and completion behave as for a person.
public final class PseudoTerminal {
    public let master: Int32
    let slavePath: String
    public private(set) var screen = ""
    public var process: Process?

    /// A terminal `columns` wide (40 rows).
    public init(columns: Int = 120) throws {
        // Linux's /dev/ptmx: unlock the slave (TIOCSPTLCK) and ask its number (TIOCGPTN) —
        // what posix_openpt/unlockpt/ptsname do, which Swift's Glibc module does not export.
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: Int32 = 0, number: UInt32 = 0
        guard master >= 0, ioctl(master, UInt(0x4004_5431), &unlock) == 0, ioctl(master, UInt(0x8004_5430), &number) == 0 else {
            throw NSError(domain: "PseudoTerminal", code: 1, userInfo: [NSLocalizedDescriptionKey: "cannot open a pseudo-terminal"])
        }
        slavePath = "/dev/pts/\(number)"
        var ws = winsize(ws_row: 40, ws_col: UInt16(columns), ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &ws)
        let flags = fcntl(master, F_GETFL)
        _ = fcntl(master, F_SETFL, flags | O_NONBLOCK)
    }

    deinit {
        if let p = process, p.isRunning { kill(p.processIdentifier, SIGKILL) }
        close(master)
    }

    /// Starts `executable args` with the terminal as its standard streams.
    public func spawn(_ executable: URL, _ args: [String], environment: [String: String]) throws {
        let slave = FileHandle(forUpdatingAtPath: slavePath)!
        let p = Process()
        p.executableURL = executable
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        p.standardInput = slave
        p.standardOutput = slave
        p.standardError = slave
        try p.run()
        try slave.close()
        process = p
    }

    public func send(_ text: String) {
        _ = text.utf8CString.withUnsafeBufferPointer { write(master, $0.baseAddress!, $0.count - 1) }
    }

    /// Reads what the child wrote until `text` appears in the accumulated screen (or `timeout`
    /// seconds pass — a safety net, not a measurement). Returns whether it appeared.
    @discardableResult
    public func waitFor(_ text: String, timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let n = read(master, &buffer, buffer.count)
            if n > 0 { screen += String(decoding: buffer[0 ..< n], as: UTF8.self) }
            if PseudoTerminal.plain(screen).contains(text) { return true }
            if n <= 0 { usleep(20_000) }
        }
        return false
    }

    /// Reads what the child wrote until `done` holds of the screen without escapes (or `timeout`
    /// seconds pass). Returns whether it held.
    @discardableResult
    public func waitUntil(timeout: Double = 30, _ done: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let n = read(master, &buffer, buffer.count)
            if n > 0 { screen += String(decoding: buffer[0 ..< n], as: UTF8.self) }
            if done(plainScreen) { return true }
            if n <= 0 { usleep(20_000) }
        }
        return false
    }

    /// The screen text without ANSI escape sequences and carriage returns.
    public var plainScreen: String { PseudoTerminal.plain(screen) }

    static func plain(_ s: String) -> String {
        s.replacingOccurrences(of: "\u{1B}\\[[0-9;?]*[A-Za-z]", with: "", options: .regularExpression)
            .replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\u{01}", with: "").replacingOccurrences(of: "\u{02}", with: "")
    }

    /// Waits (bounded) for the child to exit; kills it if it does not. Returns its status, or nil if killed.
    @discardableResult
    public func waitForExit(timeout: Double = 30) -> Int32? {
        guard let p = process else { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while p.isRunning && Date() < deadline {
            let n = read(master, &buffer, buffer.count)
            if n > 0 { screen += String(decoding: buffer[0 ..< n], as: UTF8.self) } else { usleep(20_000) }
        }
        if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit(); return nil }
        // What the child wrote just before it exited may still wait in the terminal: read it all.
        while true {
            let n = read(master, &buffer, buffer.count)
            guard n > 0 else { break }
            screen += String(decoding: buffer[0 ..< n], as: UTF8.self)
        }
        return p.terminationStatus
    }

    /// Forgets what was read so far (so the next `waitFor` looks only at new output).
    public func clear() { screen = "" }
}
