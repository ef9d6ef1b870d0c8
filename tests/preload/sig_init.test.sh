#!/usr/bin/env bash
# A handler of an asynchronous signal that allocates, run while the
# program's first malloc initialised the allocator (0.3-1 ms: the stats
# segment's file and mapping), aborted the process with "recursive call
# into malloc during initialisation": a program that arms a timer or a
# SIGCHLD handler before it first allocates. Asynchronous signals now
# wait for the end of the initialisation (liballoc/init.c), and the
# handler runs then, on an initialised allocator. strace delivers a
# SIGWINCH to tests/helpers/sig_init at the segment's ftruncate, inside
# that first malloc; also the helper linked with libjmalloc.a.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd strace
helper=$JM_HELPERS/sig_init
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP
strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here (ptrace refused)"
run() {   # run LABEL PROGRAM [ENV...]
	local label=$1 prog=$2 out rc=0
	shift 2
	out=$(strace -o "$JM_TMP/trace" -e trace=ftruncate -e inject=ftruncate:signal=SIGWINCH \
		env "$@" "$prog" 2>"$JM_TMP/err") || rc=$?
	[ $rc -eq 0 ] || fail "$label: exit $rc: $out $(cat "$JM_TMP/err")"
	grep -q '^ftruncate(' "$JM_TMP/trace" && grep -q -- '^--- SIGWINCH' "$JM_TMP/trace" ||
		fail "$label: no ftruncate with the signal injected: $(cat "$JM_TMP/trace")"
	[ "$out" = "ok 1" ] || fail "$label: printed '$out' (the handler should run once)"
	ok "$label: a handler that allocates, signalled during the first malloc's initialisation, ran after it"
}
run preloaded "$helper" LD_PRELOAD="$JMALLOC_LIB"
lib_a=$(dirname "$JMALLOC_LIB")/libjmalloc.a
if [ -f "$lib_a" ]; then
	# The archive after the source, so that its malloc is the program's.
	cc -O2 -g -o "$JM_TMP/sig_init_a" "$JM_ROOT/tests/helpers/sig_init.c" "$lib_a" -pthread -ldl ||
		fail "cannot build sig_init with $lib_a"
	nm "$JM_TMP/sig_init_a" | grep -q ' T malloc$' || fail "sig_init_a: malloc is not libjmalloc.a's"
	run "linked with libjmalloc.a" "$JM_TMP/sig_init_a"
fi
