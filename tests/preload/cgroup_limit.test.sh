#!/usr/bin/env bash
# In a cgroup with a memory limit (a container's), the dirty pages an
# arena keeps count against the limit, and without swap the kernel kills
# the process rather than reclaim them. tests/helpers/cgroup_churn: two
# threads in turn allocate 150 MiB of 1000 B objects and free them all,
# in a cgroup limited to 256 MiB (no swap): the second thread's arena
# does not reuse the first's dirty pages. The dirty caps are bounded by a
# sixteenth of the limit (docs/purging.md, "In a container"), and the
# process ends well; before, it was killed (exit 137), as under glibc and
# jemalloc (under glibc it is run too, for the record only).
# Needs root and a memory cgroup controller (v2, or v1 at
# /sys/fs/cgroup/memory) to make a cgroup in; skips otherwise.
# timeout: 120
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/cgroup_churn
[ -x "$helper" ] || fail "$helper is not built"
[ "$(id -u)" = 0 ] || skip "not root: cannot make a cgroup"
if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
	CG=/sys/fs/cgroup/jmtest.$$
	mkdir "$CG" 2>/dev/null || skip "cannot make a cgroup v2 under /sys/fs/cgroup"
	at_exit "rmdir $CG 2>/dev/null"
	echo 256M >"$CG/memory.max" || skip "cannot set memory.max"
	echo 0 >"$CG/memory.swap.max" 2>/dev/null
	peak=memory.peak
elif [ -w /sys/fs/cgroup/memory ]; then
	CG=/sys/fs/cgroup/memory/jmtest.$$
	mkdir "$CG" 2>/dev/null || skip "cannot make a cgroup v1 under /sys/fs/cgroup/memory"
	at_exit "rmdir $CG 2>/dev/null"
	echo 256M >"$CG/memory.limit_in_bytes" || skip "cannot set memory.limit_in_bytes"
	echo 0 >"$CG/memory.swappiness" 2>/dev/null
	peak=memory.max_usage_in_bytes
else
	skip "no memory cgroup controller to make a cgroup in"
fi
run() {   # run [PRELOAD]: the helper in the cgroup; its exit status
	sh -c 'echo $$ >"$1/cgroup.procs" && exec env LD_PRELOAD="$2" JMALLOC_STATS_DIR="$3" "$4"' \
		sh "$CG" "${1:-}" "$JM_TMP" "$helper" >"$JM_TMP/out" 2>&1
}
run ""
echo "glibc: exit $? (for the record)"
echo 0 >"$CG/$peak" 2>/dev/null
run "$JMALLOC_LIB"
rc=$?
used=$(cat "$CG/$peak" 2>/dev/null || echo '?')
echo "jmalloc: exit $rc, peak usage $used bytes"
[ "$rc" = 0 ] && grep -qx ok "$JM_TMP/out" ||
	{ cat "$JM_TMP/out"; fail "under jmalloc the process did not end well in a 256 MiB cgroup (exit $rc; 137: killed at the limit)"; }
ok "two arenas' churn in a 256 MiB cgroup: exit 0, peak $used bytes"
