#!/usr/bin/env bash
# The background purger and the decay in real preloaded processes
# (tests/helpers/purge_probe.c, docs/purging.md): a process that never
# frees has no purger thread; one that frees little while it is young has
# none either, and one decay_ms after its first such free or once a free makes
# 4 MiB dirty; one that frees has exactly one, named
# jmalloc-purge (by itself: also when started at the file limit), also
# after many threads exited; a forked child has none
# at the fork and its own once it has freed 4 MiB or lived the purger's
# interval; an idle process gives back what it
# freed within 2 x decay_ms with the purger, and keeps it without (the
# premise that makes the first check mean something).
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
bin=$JM_HELPERS/purge_probe
[ -x "$bin" ] || fail "$bin is not built"

probe() {   # probe CONF MODE [WAIT_MS]
	local conf=$1
	shift
	JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$bin" "$@" >"$JM_TMP/out" 2>"$JM_TMP/err" ||
		fail "purge_probe $* exited $?: $(cat "$JM_TMP/err")"
	[ -s "$JM_TMP/err" ] && fail "purge_probe $*: stderr: $(cat "$JM_TMP/err")"
	cat "$JM_TMP/out" | sed 's/^/    /'
}
val() { awk -v k="$1" '$1 == k { print $2 }' "$JM_TMP/out"; }

probe "" nofree 300
[ "$(val purgers)" = 0 ] || fail "a process that never frees has $(val purgers) purger threads"
echo "ok   a process that never frees starts no purger"

# A young process that keeps little dirty starts none (the 64 rounds
# of 256 KiB free and take the same pages again); decay_ms after its first
# (1 s here), a free starts it.
probe "decay_ms:1000" short 1100
[ "$(val purgers_young)" = 0 ] ||
	fail "a young process that keeps little dirty started $(val purgers_young) purgers"
[ "$(val purgers_old)" = 1 ] ||
	fail "$(val purgers_old) purgers after freeing again past decay_ms"
echo "ok   a young process that keeps little dirty starts no purger, an older one does"
# One free that makes 4 MiB dirty starts it at once, young or not: an
# idle process that freed one big buffer gives it back.
probe "" bigfree
[ "$(val purgers)" = 1 ] || fail "a free of 16 MiB started $(val purgers) purgers"
echo "ok   a free of 16 MiB starts the purger at once"
# The purger names itself: started by a free at the file limit (no
# descriptor to open /proc/self/task/TID/comm with, as its starter did)
# it had no name; and that open cost the reaping parent about 2 ms of CPU
# a process (docs/programs.md, "Programs, session 31").
probe "" bigfree_nofd
[ "$(val purgers)" = 1 ] || fail "a free of 16 MiB at the file limit started $(val purgers) purgers named jmalloc-purge"
echo "ok   a purger started at the file limit is named"

probe "" threads
[ "$(val purgers)" = 1 ] || fail "$(val purgers) purgers after 16 threads came and went"
[ "$(val threads)" = 2 ] || fail "$(val threads) threads left (main and the purger expected)"
echo "ok   one purger, across thread exits"

probe "" fork
[ "$(val parent_purgers)" = 1 ] || fail "parent has $(val parent_purgers) purgers"
[ "$(val child_purgers_at_fork)" = 0 ] || fail "the child inherited a purger thread?"
[ "$(val child_purgers)" = 1 ] || fail "the child has $(val child_purgers) purgers after freeing"
[ "$(val child_status)" = 0 ] || fail "the child exited $(val child_status)"
echo "ok   a forked child starts its own purger"

# A child that frees little starts none while it is young (the purger's
# interval, 1 s at decay_ms:20000), so that a fork-heavy program does not
# create and kill a thread per child; once it is older, a free starts it.
probe "decay_ms:20000" forkshort 1100
[ "$(val parent_purgers)" = 1 ] || fail "parent has $(val parent_purgers) purgers"
# Judged while the child was young: its frees and the count within the
# 1 s since the fork. On a loaded machine they took longer (a child 1.x s
# old started its purger rightly: "a young child ... started 1 purgers",
# 1 run of 2 at load 45), and then there is nothing to judge.
young_ms=$(val child_young_ms)
if [ "$young_ms" -lt 1000 ]; then
	[ "$(val child_purgers_young)" = 0 ] ||
		fail "a young child ($young_ms ms) that freed 256 KiB started $(val child_purgers_young) purgers"
else
	echo "    (the child's frees took $young_ms ms from the fork, past its 1 s of youth: not judged)"
fi
[ "$(val child_purgers_old)" = 1 ] ||
	fail "the child has $(val child_purgers_old) purgers after freeing again 1.1 s later"
[ "$(val child_status)" = 0 ] || fail "the child exited $(val child_status)"
echo "ok   a young child that frees little starts no purger, an older one does"

probe "background_thread:0" nofree 100
# decay_ms:500: after 1000 ms idle, what was freed (95% of 96 MiB) is back.
probe "decay_ms:500" idle 1000
freed=$(val rss_freed) idle=$(val rss_idle)
[ "$freed" -gt 60000 ] || fail "premise: RSS only $freed KiB above start after the frees"
[ "$idle" -lt $((freed / 4)) ] ||
	fail "idle RSS $idle KiB above start after 2 x decay_ms (was $freed KiB after the frees)"
echo "ok   idle process: $freed KiB above start after the frees, $idle KiB after 2 x decay_ms"
# The segment shows it: the purger running, its wakes (every 100 ms with
# decay_ms:500 while pages are dirty, none once all are purged: a wake
# that came late under load 35 purged all at once, and 2 wakes failed a
# bound of 3 that said nothing of the purging), the madvise calls.
[ "$(val bg_running)" = 1 ] || fail "segment: bg_running $(val bg_running)"
[ "$(val bg_wakes)" -ge 1 ] || fail "segment: bg_wakes $(val bg_wakes) after 1 s idle"
[ "$(val npurge)" -ge 1 ] || fail "segment: npurge $(val npurge)"
echo "ok   segment: purger running, $(val bg_wakes) wakes, $(val npurge) madvise calls"
probe "decay_ms:500,background_thread:0" idle 1000
[ "$(val rss_idle)" -gt $(( $(val rss_freed) / 2 )) ] ||
	fail "without the purger the idle RSS dropped too ($(val rss_idle) KiB): the check above proves nothing"
[ "$(val bg_running)" = 0 ] && [ "$(val bg_wakes)" = 0 ] ||
	fail "segment without the purger: bg_running $(val bg_running), bg_wakes $(val bg_wakes)"
echo "ok   without the purger an idle process keeps it ($(val rss_idle) KiB)"
