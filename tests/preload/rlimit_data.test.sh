#!/usr/bin/env bash
# Programs under a limit of data (RLIMIT_DATA: `ulimit -d`, systemd's
# LimitDATA=, prlimit --data; judges and sandboxes set it rather than
# RLIMIT_AS) allocate under the allocator as under glibc's malloc. The
# kernel counts every private writable mapping against it, touched or
# not: the chunk map (64 MiB of address space, never touched but for a
# few pages), and every reservation. The allocator looked at RLIMIT_AS
# only: a python3 script that glibc runs in 64 MiB of data ran out of
# memory under 128 (MemoryError), and a buffer grown by realloc stopped
# at 28-32 of 64 MiB and 90-136 of 256 (glibc: 56-63, 248-255).
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_lib
need_cmd prlimit python3
export JMALLOC_STATS_DIR=$JM_TMP

jm_compare python prlimit --data=$((96 << 20)) env PYTHONMALLOC=malloc python3 "$JM_ROOT/tests/helpers/dict_bytes.py"
jm_proof python python3
ok "python3 under a 96 MiB limit of data: $(cat "$JM_TMP/python.jm.out")"

# A buffer grown by realloc, in steps of 64 KiB, 1 MiB and 8 MiB, gets
# at least 9/10 as far as under glibc's malloc, each step's bytes written.
# The empty chunk that served the buffer's large sizes stayed mapped, and
# 64 KiB steps under 64 MiB stopped at 58 MiB here and 56 on a CI machine
# (glibc 63); a mapping refused for want of memory now unmaps empty
# chunks too (jm__arenas_release): 60.
for limit in 64 256; do
	for step in 65536 1048576 8388608; do
		glibc=$(prlimit --data=$((limit << 20)) "$JM_HELPERS/realloc_steps" $step) ||
			fail "grow $step under $limit MiB of data, glibc"
		jm=$(LD_PRELOAD=$JMALLOC_LIB prlimit --data=$((limit << 20)) "$JM_HELPERS/realloc_steps" $step) ||
			fail "grow $step under $limit MiB of data: exit $?"
		[ $((jm * 10)) -ge $((glibc * 9)) ] ||
			fail "a buffer grown by $step bytes under $limit MiB of data: $jm MiB, glibc's malloc $glibc MiB"
		ok "grown by $step bytes under $limit MiB of data: $jm MiB (glibc's malloc $glibc MiB)"
	done
done
