#!/usr/bin/env bash
# install_test.sh - `meson install` into a scratch DESTDIR, then check what an
# operator gets: every file where it belongs with the right mode, the
# programs run from there, each man page renders without a groff warning,
# `systemd-analyze verify` accepts the unit (pointed at the DESTDIR's swimd),
# swimd accepts the example config, the bash completion completes commands,
# options and, from a swimd started out of the DESTDIR, member names, and
# that swimd's metrics (swimctl metrics, GET /metrics) are well-formed.
#
# Run by `meson test --suite install` (tests/install/meson.build passes the
# paths below in the environment).  Prints one line per check and, last,
# `install: N passed, N failed, N skipped`.  A check whose tool is missing
# (man, systemd-analyze) or whose file was not built (man pages without
# scdoc) is skipped, not failed.  Exits 1 if a check failed.
#
# Environment: MESON (the meson command), BUILD_ROOT, and the absolute
# install paths SBINDIR, BINDIR, MANDIR, UNITDIR, SYSUSERSDIR, COMPLETIONDIR,
# EXAMPLEDIR; MAN_PAGES: the pages built ("swimd.8 swimctl.1 ..."; empty
# without scdoc); VERSION.
set -uo pipefail

passed=0 failed=0 skipped=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
skip() { echo "skip: $*"; skipped=$((skipped + 1)); }
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}

tmp=$(mktemp -d)
swimd_pid=
cleanup() {
    [ -n "$swimd_pid" ] && kill -9 "$swimd_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
root=$tmp/root

# ---- install -----------------------------------------------------------------
if ! "$MESON" install -C "$BUILD_ROOT" --no-rebuild --destdir "$root" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    fail "meson install --destdir"
    echo "install: $passed passed, $failed failed, $skipped skipped"
    exit 1
fi
ok "meson install --destdir"

# has_mode FILE MODE: FILE is a regular file with permission bits MODE.
has_mode() {
    [ -f "$1" ] && [ "$(stat -c %a "$1")" = "$2" ]
}
files=(
    "$SBINDIR/swimd 755"
    "$BINDIR/swimctl 755"
    "$BINDIR/swimsim 755"
    "$UNITDIR/swimd.service 644"
    "$SYSUSERSDIR/swimd.conf 644"
    "$COMPLETIONDIR/swimctl 644"
    "$EXAMPLEDIR/swimd.json 644"
)
for page in $MAN_PAGES; do
    files+=("$MANDIR/man${page##*.}/$page 644")
done
for entry in "${files[@]}"; do
    set -- $entry
    check "installed $1 (mode $2)" has_mode "$root$1" "$2"
done
[ -z "$MAN_PAGES" ] && skip "man pages: not built (scdoc not found, or -Dman=disabled)"

# Nothing unexpected: every installed file is one of the above.
unexpected=$(cd "$root" && find . -type f | sed 's|^\.||' | sort |
    grep -v -x -F -f <(for e in "${files[@]}"; do echo "${e% *}"; done))
check "no other file installed${unexpected:+ (found: $unexpected)}" test -z "$unexpected"

# ---- the programs run from the DESTDIR -----------------------------------------
check "swimd --version" test "$("$root$SBINDIR/swimd" --version)" = "swimd $VERSION"
check "swimctl --version" test "$("$root$BINDIR/swimctl" --version)" = "swimctl $VERSION"
check "swimsim --version" test "$("$root$BINDIR/swimsim" --version)" = "swimsim $VERSION"

# The example config parses: with it, the only complaint is the bad flag after it.
"$root$SBINDIR/swimd" --config "$root$EXAMPLEDIR/swimd.json" --profile bogus >/dev/null \
    2>"$tmp/example.err"
rc=$?
check "swimd accepts the example config (exit $rc: $(cat "$tmp/example.err"))" \
    test "$rc" = 2 -a "$(grep -c '^swimd: --profile' "$tmp/example.err")" = 1

# ---- man pages -----------------------------------------------------------------
# page_ok TEXT NAME: the rendered page names itself, has a synopsis and the
# version in its footer.
page_ok() {
    grep -q -F "$2 - " "$1" && grep -q '^SYNOPSIS' "$1" && grep -q -F "swimd $VERSION" "$1"
}
if [ -n "$MAN_PAGES" ] && command -v man >/dev/null; then
    for page in $MAN_PAGES; do
        file=$root$MANDIR/man${page##*.}/$page
        name=${page%.*}
        MANWIDTH=80 MAN_DISABLE_SECCOMP=1 man --warnings -l "$file" >"$tmp/page.txt" \
            2>"$tmp/page.err"
        rc=$?
        check "man -l $page renders (exit $rc, warnings: $(head -c 300 "$tmp/page.err"))" \
            test "$rc" = 0 -a ! -s "$tmp/page.err"
        check "man -l $page has its NAME line, a SYNOPSIS and the version" \
            page_ok "$tmp/page.txt" "$name"
    done
elif [ -n "$MAN_PAGES" ]; then
    skip "man -l: man not found (Debian package man-db)"
fi

# ---- the systemd unit ------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$tmp/unit"
    sed "s|^ExecStart=$SBINDIR/swimd |ExecStart=$root$SBINDIR/swimd |" \
        "$root$UNITDIR/swimd.service" >"$tmp/unit/swimd.service"
    check "the unit runs $SBINDIR/swimd" grep -q "^ExecStart=$root$SBINDIR/swimd --config" \
        "$tmp/unit/swimd.service"
    # --man: the unit's Documentation= pages must be the ones installed.
    man_check=--man=no
    [ -n "$MAN_PAGES" ] && command -v man >/dev/null && man_check=--man=yes
    MANPATH=$root$MANDIR SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$man_check" \
        "$tmp/unit/swimd.service" >"$tmp/verify.log" 2>&1
    rc=$?
    check "systemd-analyze verify $man_check swimd.service (exit $rc: $(head -c 600 "$tmp/verify.log"))" \
        test "$rc" = 0 -a ! -s "$tmp/verify.log"
else
    skip "systemd-analyze verify: not found (Debian package systemd)"
fi

# ---- bash completion -------------------------------------------------------------
# complete WORDS...: what the completion offers for the last word, one line.
complete_words() {
    PATH="$root$BINDIR:$PATH" bash -c '
        . "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"
        _swimctl
        echo "${COMPREPLY[*]}"' _ "$root$COMPLETIONDIR/swimctl" "$@"
}
check "completion: commands" test "$(complete_words swimctl mo)" = "monitor"
check "completion: the metrics command" test "$(complete_words swimctl met)" = "metrics"
check "completion: members options" \
    test "$(complete_words swimctl members --)" = "--status --tag --json"
check "completion: statuses" test "$(complete_words swimctl members --status f)" = "failed"
check "completion: watch --type lists" \
    test "$(complete_words swimctl watch --type member-join,member-l)" = "member-join,member-leave"
check "completion: keys operations" test "$(complete_words swimctl keys --local i)" = "install"
check "completion: keys options" test "$(complete_words swimctl keys --)" = "--local --json"
check "completion: no KEY offered" test "$(complete_words swimctl keys use '')" = ""

sock=$tmp/swimd.sock
"$root$SBINDIR/swimd" --name install-test-1 --bind 127.0.0.1:0 --socket "$sock" \
    --profile local --metrics 127.0.0.1:0 2>"$tmp/swimd.log" &
swimd_pid=$!
for _ in $(seq 100); do
    [ -S "$sock" ] && grep -q 'metrics listening on' "$tmp/swimd.log" && break
    sleep 0.1
done
check "completion: member names from a running swimd" \
    test "$(complete_words swimctl --socket "$sock" monitor install)" = "install-test-1"

# ---- metrics ---------------------------------------------------------------------
# scrape PATH: one HTTP/1.0 GET of the DESTDIR swimd's metrics endpoint, the
# whole answer on stdout (bash's /dev/tcp; swimd closes after the reply).
port=$(sed -n 's|.*metrics listening on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$tmp/swimd.log")
scrape() {
    [ -n "$port" ] || return 1
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
    timeout 5 cat <&3
    exec 3<&-
}
"$root$BINDIR/swimctl" --socket "$sock" metrics >"$tmp/ctl-metrics.txt" 2>&1
check "swimctl metrics: Prometheus text naming this version" \
    grep -q -F "swimd_build_info{version=\"$VERSION\"" "$tmp/ctl-metrics.txt"
scrape /metrics | tr -d '\r' >"$tmp/http-metrics.txt"
# status_is CODE FILE: the answer in FILE has status CODE.
status_is() {
    head -1 "$2" | grep -q -E "^HTTP/1\.[01] $1 "
}
check "GET /metrics on --metrics 127.0.0.1:${port:-?}: 200" status_is 200 "$tmp/http-metrics.txt"
check "GET /metrics: Content-Type of the text format 0.0.4" \
    grep -q -x -F 'Content-Type: text/plain; version=0.0.4; charset=utf-8' "$tmp/http-metrics.txt"
check "GET /metrics: swimd_members{status=\"alive\"} 1" \
    grep -q -x -F 'swimd_members{status="alive"} 1' "$tmp/http-metrics.txt"
scrape / >"$tmp/http-root.txt"
check "GET / answers 404" status_is 404 "$tmp/http-root.txt"
if command -v promtool >/dev/null; then
    sed '1,/^$/d' "$tmp/http-metrics.txt" >"$tmp/body.txt"
    promtool check metrics <"$tmp/body.txt" >"$tmp/promtool.txt" 2>&1
    rc=$?
    check "promtool check metrics accepts the scrape (exit $rc: $(head -c 300 "$tmp/promtool.txt"))" \
        test "$rc" = 0 -a ! -s "$tmp/promtool.txt"
else
    skip "promtool check metrics: not found (Debian package prometheus)"
fi
kill -TERM "$swimd_pid"
wait "$swimd_pid"
rc=$?
swimd_pid=
check "swimd from the DESTDIR leaves on SIGTERM and exits 0 (exit $rc)" test "$rc" = 0

echo "install: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
