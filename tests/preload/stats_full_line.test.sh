#!/usr/bin/env bash
# timeout: 60
# A process on a full stats directory (a tmpfs with no block left:
# ENOSPC) says so in one line per program it runs, naming the program and
# the full directory: `jmalloc[PID]: PROGRAM: cannot create the stats
# segment FILE: the stats directory DIR is full (no space left, errno
# 28); this program runs without stats`. One pid running a chain of
# programs (sh execs env, which execs sh, which execs ls: a shim chain,
# as pyenv's python3 was seven programs here) wrote the same line, but for
# nothing but the pid, once per program: "cannot create the stats segment
# FILE (no space left, errno 28); running without stats", lines alike
# for one pid. Each program tries once (open, ftruncate, fallocate,
# close, unlink: no retry), seen with strace when it is there. Needs a
# mount namespace.
. "$(dirname "$0")/../lib.sh"
need_lib
unshare --mount true 2>/dev/null || skip "cannot make a mount namespace (unshare --mount)"
dir=$JM_TMP/full
mkdir -p "$dir"
tracer=
command -v strace >/dev/null && tracer="strace -f -qq -o $JM_TMP/trace -e trace=openat,ftruncate,fallocate,unlink,unlinkat"
# The chain's pid is the shell's own, echoed first (its exec keeps it).
unshare --mount sh -c 'mount -t tmpfs -o size=16k none "$1" &&
	dd if=/dev/zero of="$1/fill" bs=4k count=8 2>/dev/null; shift && exec "$@"' sh "$dir" \
	$tracer env JMALLOC_STATS_DIR="$dir" LD_PRELOAD="$JMALLOC_LIB" \
	sh -c 'echo "pid $$"; exec env sh -c "exec ls /"' >"$JM_TMP/out" 2>"$JM_TMP/err" ||
	{ cat "$JM_TMP/err"; fail "the chain failed"; }
cat "$JM_TMP/err"
pid=$(sed -n 's/^pid //p' "$JM_TMP/out")
[ -n "$pid" ] || fail "no pid: $(cat "$JM_TMP/out")"
grep -q '^bin$' "$JM_TMP/out" || fail "ls did not run: $(cat "$JM_TMP/out")"
lines=$(grep -c "^jmalloc\[$pid\]: " "$JM_TMP/err" || true)
[ "$lines" -ge 2 ] || fail "$lines lines for pid $pid: the directory was not full?"
[ "$lines" -le 4 ] || fail "$lines lines for 4 programs of pid $pid"
re="^jmalloc\[$pid\]: (sh|env|ls): cannot create the stats segment $dir/jmalloc\.$pid\.([0-9]+\.)*stats: the stats directory $dir is full \(no space left, errno 28\); this program runs without stats\$"
bad=$(grep "^jmalloc\[$pid\]: " "$JM_TMP/err" | grep -Ev "$re" || true)
[ -z "$bad" ] || fail "a line that does not name its program and the full directory: $bad"
grep "^jmalloc\[$pid\]: " "$JM_TMP/err" | grep -q "^jmalloc\[$pid\]: ls: " || fail "no line of ls's"
if [ -n "$tracer" ]; then
	opens=$(grep -c "openat(.*$dir/jmalloc\.$pid\..*O_CREAT" "$JM_TMP/trace" || true)
	[ "$opens" -eq "$lines" ] || { grep "$dir" "$JM_TMP/trace"; fail "$opens creations for $lines programs' lines"; }
	for call in ftruncate fallocate; do
		n=$(grep -c "^$pid  *$call(" "$JM_TMP/trace" || true)
		[ "$n" -le "$lines" ] || fail "$n ${call}s for $lines programs: retried"
	done
fi
ok "$lines programs of pid $pid on a full stats directory: a line each, naming it"
