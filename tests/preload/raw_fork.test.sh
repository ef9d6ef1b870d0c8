#!/usr/bin/env bash
# Children glibc runs no fork handler for (tests/helpers/raw_fork.c): made
# by the system call through syscall() (SYS_clone without CLONE_VM and a
# stack, as bubblewrap's raw_clone; SYS_fork; SYS_clone3) and by _Fork(),
# after the parent's thread has used its cache, with and without another
# thread allocating at the moment of the call: each allocates and frees
# small, large and huge regions and its parent's, and exits 7, leaving no
# segment. Before (liballoc/rawfork.c): its first small allocation was a
# SIGSEGV (its thread cache's lists are in the stats segment, mapped
# MADV_DONTFORK). Then a signal handler that forks (fork(), _Fork()) and
# reaps the child, 300 times, interrupting a loop of allocations: before
# (init.c, jm__fork_lock), fork()'s handler waited for ever for a lock the
# interrupted code held (as glibc's malloc does); a child forked while that
# code held one and that allocates aborts with a message, the others
# allocate. A hang is a handler that makes no child for 60 s (the
# helper counts them out on a descriptor): 300 children took more than 60 s
# at load 29, a bound on the whole that failed a passing run.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/raw_fork
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP
for how in clone fork clone3 _Fork; do
	for threads in "" threads; do
		"$helper" $how $threads >"$JM_TMP/out" 2>&1 ||
			fail "$how $threads, without the allocator: $(cat "$JM_TMP/out")"
		out=$(LD_PRELOAD=$JMALLOC_LIB timeout 30 "$helper" $how $threads 2>&1) ||
			fail "$how $threads: $out"
		[ "$out" = ok ] || fail "$how $threads: printed $out"
		left=$(ls "$JM_TMP" | grep -E "$JM_SEG_RE" || true)
		[ -z "$left" ] || fail "$how $threads: segments left: $left"
		ok "$how ${threads:-alone}: the child allocates, frees and exits"
	done
done
# watched CMD...: runs CMD with descriptor 3 on a file its handler writes
# a byte to at each child; kills it (status 124) when none came in 60 s.
watched() {
	local prog=$JM_TMP/progress pid last=-1 since=$SECONDS n
	: >"$prog"
	RAW_FORK_PROGRESS_FD=3 "$@" 3>"$prog" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		n=$(stat -c %s "$prog")
		if [ "$n" != "$last" ]; then
			last=$n
			since=$SECONDS
		elif [ $((SECONDS - since)) -ge 60 ]; then
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			return 124
		fi
		sleep 0.5
	done
	wait "$pid"
}
for how in fork _Fork; do
	rc=0
	watched env LD_PRELOAD="$JMALLOC_LIB" "$helper" signal $how >"$JM_TMP/out" 2>&1 || rc=$?
	out=$(cat "$JM_TMP/out")
	[ "$rc" -ne 124 ] || fail "$how in a signal handler: no child in 60 s (a lock waited for): $out"
	[ "$rc" -eq 0 ] && [ "$out" = "ok 300" ] || fail "$how in a signal handler: rc $rc: $out"
	ok "$how in a signal handler that interrupts malloc: 300 children, no wait"
	# Children that allocate: those forked while the interrupted code held
	# a lock abort with a message (what it was changing is half done in
	# them); the others allocate. Never a hang, a SIGSEGV or another end.
	rc=0
	watched env LD_PRELOAD="$JMALLOC_LIB" "$helper" signal $how alloc >"$JM_TMP/out" 2>"$JM_TMP/err" || rc=$?
	out=$(cat "$JM_TMP/out")
	[ "$rc" -ne 124 ] || fail "$how in a signal handler, children allocating: no child in 60 s"
	[ "$rc" -eq 0 ] && [[ "$out" == "ok 300, "*" aborted" ]] ||
		fail "$how in a signal handler, children allocating: rc $rc: $out $(head -3 "$JM_TMP/err")"
	n=${out#ok 300, }; n=${n% aborted}
	m=$(grep -c "used in a child forked by a signal handler that interrupted it" "$JM_TMP/err" || true)
	[ "$n" = "$m" ] || fail "$how: $n children aborted, $m said why: $(head -3 "$JM_TMP/err")"
	ok "$how in a signal handler, children allocating: $out, each saying why"
done
# bubblewrap makes its sandbox's processes with syscall(SYS_clone): before,
# bwrap itself died of SIGSEGV (139) before running anything.
if command -v bwrap >/dev/null; then
	out=$(LD_PRELOAD=$JMALLOC_LIB timeout 30 bwrap --ro-bind / / --bind "$JM_TMP" "$JM_TMP" \
		--dev /dev --proc /proc \
		--unshare-pid /bin/sh -c 'echo inside' 2>&1) || fail "bwrap: rc $?: $out"
	[ "$out" = inside ] || fail "bwrap printed: $out"
	ok "bwrap --unshare-pid runs its command"
else
	echo "bwrap not installed (Debian: bubblewrap): not tried"
fi
