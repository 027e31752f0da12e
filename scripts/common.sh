# Shared by scripts/setup, scripts/quickstart and scripts/test (sourced, not run).
# Installs what a fresh Debian 12 machine lacks and finds the Swift toolchain, so that the
# README's two commands work as root, through sudo, or as a user who can sudo.

CLIPOOD_APT_PACKAGES=(pkg-config zlib1g-dev libopenblas-dev libdnnl-dev libreadline-dev libturbojpeg0-dev libpng-dev gnuplot-nox
                      libopenmpi-dev openmpi-bin)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt packages that are missing, installed with root rights from wherever they come.
install_system_packages() {
    local missing=() p
    for p in "${CLIPOOD_APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "missing packages (${missing[*]}) and no sudo to install them; run: apt-get install ${missing[*]}"
        sudo=(sudo)
    fi
    say "installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
}

# Puts `swift` on PATH: sudo's secure_path drops /opt/swift/usr/bin and ~/.swiftly/bin.
find_swift() {
    command -v swift >/dev/null && return 0
    local home_of_user="" d
    [ -n "${SUDO_USER:-}" ] && home_of_user=$(getent passwd "$SUDO_USER" | cut -d: -f6)
    for d in /opt/swift/usr/bin /usr/share/swift/usr/bin /usr/local/swift/usr/bin \
             "${home_of_user:+$home_of_user/.local/share/swiftly/bin}" "$HOME/.local/share/swiftly/bin" "$HOME/.swiftly/bin"; do
        if [ -n "$d" ] && [ -x "$d/swift" ]; then export PATH="$d:$PATH"; return 0; fi
    done
    die "no Swift toolchain found (need Swift 6); install it from swift.org and put it on PATH"
}

# Runs a command as the invoking user when started through sudo, so that .build stays theirs.
as_user() {
    if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
        sudo -u "$SUDO_USER" -H env "PATH=$PATH" "$@"
    else
        "$@"
    fi
}

clipood_setup() {
    cd "$(dirname "${BASH_SOURCE[0]}")/.." || die "cannot enter the repository"
    install_system_packages
    find_swift
    # CLIP's real BPE vocabulary is not committed: it comes from the open_clip_torch wheel
    # into ~/.cache/clipood (once; later runs find it there). Without it, only the real-vocabulary
    # tokenizer tests and `tokenize` on OpenAI checkpoints fail, with a message saying so.
    scripts/fetch_vocab || say "warning: could not fetch CLIP's vocabulary (see above); run scripts/fetch_vocab when online"
}
