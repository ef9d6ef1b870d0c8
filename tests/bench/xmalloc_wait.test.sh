#!/usr/bin/env bash
# tests/bench/xmalloc.c waits asleep: a thread whose outbox is full, or
# that has produced its share, sleeps on a condition variable until the
# thread it waits for drains it, and never spins on sched_yield(). Its
# spinning (and the mutexes the spinner kept taking) made the thread it
# waited for sleep on them in turn, and the workload's wall time moved
# 3-5 x from run to run under every allocator. Here xmalloc runs with 2,
# 3 and 4 threads under glibc's malloc and under jmalloc with a preloaded
# shim that counts sched_yield() calls: none, and the workload's own
# check of every object passes.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_cmd cc
bench=$JM_ROOT/tests/bench
cc -std=gnu11 -O2 -D_GNU_SOURCE -fno-builtin -pthread -o "$JM_TMP/xmalloc" "$bench/xmalloc.c" ||
	fail "cannot build xmalloc"
cat >"$JM_TMP/yields.c" <<'SHIM'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static long yields;
int sched_yield(void)
{
	__atomic_add_fetch(&yields, 1, __ATOMIC_RELAXED);
	int (*real)(void) = (int (*)(void))dlsym(RTLD_NEXT, "sched_yield");
	return real();
}
__attribute__((destructor)) static void report(void)
{
	const char *out = getenv("YIELDS_OUT");
	int fd = out ? open(out, O_WRONLY | O_CREAT | O_APPEND, 0600) : -1;
	if (fd >= 0) {
		dprintf(fd, "%ld\n", yields);
		close(fd);
	}
}
SHIM
cc -shared -fPIC -O2 -o "$JM_TMP/yields.so" "$JM_TMP/yields.c" -ldl || fail "cannot build the shim"
libs=("")
[ -e "$JMALLOC_LIB" ] && libs+=("$JMALLOC_LIB")
for lib in "${libs[@]}"; do
	name=glibc
	[ -n "$lib" ] && name=jmalloc
	for t in 2 3 4; do
		rm -f "$JM_TMP/yields"
		got=$(YIELDS_OUT=$JM_TMP/yields LD_PRELOAD="$JM_TMP/yields.so${lib:+ $lib}" \
			timeout 60 "$JM_TMP/xmalloc" "$t" 0.05) || fail "xmalloc $t threads ($name) failed: $got"
		[ "$got" = "xmalloc: ok, 300000 objects per thread passed on" ] ||
			fail "xmalloc $t threads ($name) printed '$got'"
		# One line per process that exits (timeout(1) and xmalloc).
		n=$(awk '{ n += $1 } END { print n }' "$JM_TMP/yields" 2>/dev/null)
		[ -n "$n" ] || fail "the shim reported nothing"
		[ "$n" = 0 ] || fail "xmalloc $t threads ($name): $n sched_yield() calls, expected none"
		ok "xmalloc, $t threads, $name: no sched_yield, objects checked"
	done
done
