import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where clipood keeps downloaded files such as the BPE vocabulary. `scripts/fetch_vocab` uses
/// the same rule, so what it fetches is what `CLIPTokenizer.cached()` finds.
public enum VocabularyCache {
    static let openAIFileName = "bpe_simple_vocab_16e6.txt.gz"

    /// `$CLIPOOD_CACHE` if set, else `$XDG_CACHE_HOME/clipood`, else `~/.cache/clipood`. When the
    /// process runs as root through `sudo`, `~` is the invoking user's home (`$SUDO_USER`), as in
    /// `scripts/fetch_vocab`.
    public static var directory: URL {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["CLIPOOD_CACHE"], !dir.isEmpty {
            return URL(fileURLWithPath: dir, isDirectory: true)
        }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg, isDirectory: true).appendingPathComponent("clipood", isDirectory: true)
        }
        return URL(fileURLWithPath: homeDirectory(env), isDirectory: true)
            .appendingPathComponent(".cache", isDirectory: true)
            .appendingPathComponent("clipood", isDirectory: true)
    }

    /// `directory/bpe_simple_vocab_16e6.txt.gz`: OpenAI's vocabulary as shipped with open_clip.
    public static var openAIVocabulary: URL {
        directory.appendingPathComponent(openAIFileName, isDirectory: false)
    }

    private static func homeDirectory(_ env: [String: String]) -> String {
        if getuid() == 0, let user = env["SUDO_USER"], !user.isEmpty, user != "root",
           let home = passwdHome(user) {
            return home
        }
        if let home = env["HOME"], !home.isEmpty { return home }
        if let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir { return String(cString: dir) }
        return NSHomeDirectory()
    }

    private static func passwdHome(_ user: String) -> String? {
        guard let pw = getpwnam(user), let dir = pw.pointee.pw_dir else { return nil }
        let home = String(cString: dir)
        return home.isEmpty ? nil : home
    }
}
