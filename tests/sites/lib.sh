# tests/sites/lib.sh: sourced by the allocation-site tests (docs/sites.md).
#
# On top of tests/cli/lib.sh (the real jmstatd on a private socket, real
# programs under the allocator): need_sites skips unless the allocator
# samples (it publishes sample_bytes) and cc is there; build_c compiles a
# test program with plain `cc -O2 -g` (no frame pointers); sites_json PID
# prints `jmctl --json sites PID -n 1000`.

. "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"

need_sites() {
	need_daemon
	command -v cc >/dev/null || skip "no C compiler (cc) to build the test program"
	grep -q sample_bytes "$JM_ROOT/liballoc/include/jmstat.h" ||
		skip "the allocator publishes no site table (jmstat.h has no sample_bytes)"
}

# build_c OUT SRC [CFLAGS...]
build_c() {
	local out=$1 src=$2
	shift 2
	cc -O2 -g "$@" -o "$out" "$src" || fail "cannot build $src"
}

sites_json() {
	"$JMCTL" --socket "$SOCK" --json sites "$1" -n 1000
}

# Waits until the daemon has seen pid $1, then lets one more interval pass.
wait_sampled() {
	wait_seen "$1"
	sleep "$(awk "BEGIN{print 2 * $INTERVAL_MS / 1000}")"
}
