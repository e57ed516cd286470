# Shared by scripts/test, scripts/demo and scripts/bench: dependency set-up and build.
# Sourced, not run.

# scdoc builds the man pages; man-db (man -l), systemd (systemd-analyze verify) and
# bash-completion (its completions dir) serve the install test; prometheus brings
# promtool and the server the metrics tests scrape with (tests/agent/metrics_it_test.c);
# lld links release and static builds in the order of agent/*.order (-Dlink_order:
# GNU ld and gold cannot order glibc's objects, whose sections all share one name).
SWIMD_PACKAGES=(build-essential pkg-config meson ninja-build libevent-dev libsodium-dev
                libjansson-dev check clang libclang-rt-14-dev iproute2 iptables procps
                scdoc man-db bash-completion systemd prometheus lld)

# Install every missing Debian package with apt-get (through sudo when not root).
swimd_ensure_deps() {
    local missing=() p
    for p in "${SWIMD_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "==> installing missing packages: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${missing[*]}" >&2; return 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# swimd_build DIR [meson setup options...]: configure (once) and build.
swimd_build() {
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@"
    else
        meson configure "$dir" "$@" >/dev/null
    fi
    meson compile -C "$dir"
}
