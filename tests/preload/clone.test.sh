#!/usr/bin/env bash
# A child made by glibc's clone() (tests/helpers/clone_child.c) allocates,
# frees and returns from its function, which ends it as under glibc's
# malloc: with CLONE_VM (it shares its parent's memory) and without (a copy
# of it, as fork makes, but glibc runs no fork handler), in a parent whose
# background purger runs and in one that has none. Before: without
# CLONE_VM its first small allocation was a SIGSEGV (the stats segment,
# where its thread cache's lists are, is not inherited), and once it could
# allocate, the purger it started kept it alive for ever after its
# function returned; with CLONE_VM, a purger started by the child was its
# own thread and did the same. A child that ends so leaves no segment.
# timeout: 90
. "$(dirname "$0")/../lib.sh"
need_lib
helper=$JM_HELPERS/clone_child
[ -x "$helper" ] || fail "$helper is not built"
export JMALLOC_STATS_DIR=$JM_TMP
for vm in vm copy; do
	for parent in purger quiet; do
		"$helper" $vm quiet >"$JM_TMP/out" 2>&1 ||
			fail "$vm, without the allocator: $(cat "$JM_TMP/out")"
		rc=0
		LD_PRELOAD=$JMALLOC_LIB "$helper" $vm $parent >"$JM_TMP/out" 2>&1 || rc=$?
		[ "$rc" -ne 3 ] || fail "$vm $parent: the parent's purger never started"
		[ "$rc" -eq 0 ] || fail "$vm, parent $parent: $(cat "$JM_TMP/out")"
		pid=$(sed -n 's/^child \([0-9]*\): exited 7$/\1/p' "$JM_TMP/out")
		[ -n "$pid" ] || fail "$vm, parent $parent: $(cat "$JM_TMP/out")"
		! f=$(jm_segment "$JM_TMP" "$pid") || fail "$vm, parent $parent: the child left $f"
		ok "$vm, parent $parent: the child ends when its function returns"
	done
done
