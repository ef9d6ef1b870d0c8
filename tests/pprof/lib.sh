# tests/pprof/lib.sh: sourced by the pprof tests (heap profiles in
# google/pprof's format, docs/pprof.md).
#
# On top of tests/sites/lib.sh (the real jmstatd, real programs under the
# allocator): need_go skips unless Debian's golang-go is there, and sets
# up go to run offline as any user (its caches under $JM_TMP); top FILE|URL
# [ARGS...] runs `go tool pprof -top -unit=B ARGS` (or $PPROF) and prints its table as
# JSON {function: [flat, cum]}; build_holders builds tests/sites/holders.c
# with -O2 and no frame pointers.

. "$(dirname "${BASH_SOURCE[0]}")/../sites/lib.sh"

need_go() {
	command -v go >/dev/null || skip "go is not installed (Debian: golang-go) for go tool pprof"
	export HOME=$JM_TMP/home GOCACHE=$JM_TMP/gocache GOPATH=$JM_TMP/gopath GOFLAGS= \
		GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off
	mkdir -p "$HOME"
	go tool pprof -h >/dev/null 2>&1 || skip "go tool pprof does not run here"
}

build_holders() {
	build_c "$1" "$JM_ROOT/tests/sites/holders.c" -fomit-frame-pointer
}

# top SOURCE [pprof options...]: {function: [flat bytes or count, cum]}.
top() {
	local src=$1
	shift
	${PPROF:-go tool pprof} -top -unit=B "$@" "$src" >"$JM_TMP/top.txt" 2>"$JM_TMP/top.err" || {
		cat "$JM_TMP/top.err" >&2
		fail "go tool pprof -top $* $src failed"
	}
	python3 - "$JM_TMP/top.txt" <<'PY'
import json, re, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*(\d+)B?\s+\S+%\s+\S+%\s+(\d+)B?\s+\S+%\s+(.+?)\s*$", line)
    if m:
        rows[m.group(3)] = [int(m.group(1)), int(m.group(2))]
print(json.dumps(rows))
PY
}

# need_upstream_pprof: builds google/pprof's own pprof (Debian:
# golang-github-google-pprof-dev, offline, GOPATH mode) as $PPROF. Go's
# bundled `go tool pprof` does not read build-ids from local files (its
# object reader reports none), so it never takes a binary found by build-id
# under PPROF_BINARY_PATH: upstream pprof does.
need_upstream_pprof() {
	need_go
	local src=/usr/share/gocode/src/github.com/google/pprof
	[ -f "$src/pprof.go" ] || skip "google/pprof's source is not installed (Debian: golang-github-google-pprof-dev)"
	PPROF=$JM_TMP/pprof
	GOPATH=/usr/share/gocode GO111MODULE=off go build -o "$PPROF" github.com/google/pprof ||
		fail "cannot build google/pprof from $src"
}

# start_daemon_http [OPTIONS...]: start_daemon with --metrics 127.0.0.1:0
# and OPTIONS; sets URL (http://127.0.0.1:PORT) from its log line.
start_daemon_http() {
	mkdir -p "$JM_TMP/run" "$STATS"
	chmod 0700 "$JM_TMP/run"
	"$JMSTATD" --socket "$SOCK" --stats-dir "$STATS" --interval "$INTERVAL_MS" \
		--metrics 127.0.0.1:0 "$@" >"$JM_TMP/jmstatd.log" 2>&1 &
	DAEMON_PID=$!
	PIDS+=("$DAEMON_PID")
	URL=
	for _ in $(seq 100); do
		URL=$(sed -n 's|.*serving \(http://[^/]*\)/metrics.*|\1|p' "$JM_TMP/jmstatd.log" | head -n 1)
		[ -n "$URL" ] && [ -S "$SOCK" ] && "$JMCTL" --socket "$SOCK" --json ps >/dev/null 2>&1 && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$JM_TMP/jmstatd.log"; fail "jmstatd exited at start"; }
		sleep 0.1
	done
	cat "$JM_TMP/jmstatd.log"
	fail "jmstatd did not serve --metrics within 10 s"
}

# get PATH [OUT]: GET $URL$PATH into OUT (default /dev/null); prints the
# status code.
get() {
	curl -s -o "${2:-/dev/null}" -w '%{http_code}' "$URL$1"
}
