#!/usr/bin/env bash
# A free inside glibc's thread teardown does not start the purger: glibc
# frees an ending thread's DTV (in the thread, when detached; in the
# joiner, when joined) holding its stack cache's lock, which the
# purger's pthread_create takes. A forked child making threads on stacks
# of its own hung in its first start for ever (python3's
# test_multiprocessing_fork hung so); tests/helpers/thread_teardown makes
# 2000 such threads in a child whose first start is due, half detached,
# half joined, and the child is killed after 30 s if it hangs. The same
# program linked statically with liballoc/libjmalloc.a: it has no ld.so
# (its _dl_deallocate_tls is in its own text), and hung in 2 runs of 3
# before the start looked at glibc's stack cache's lock itself.
# timeout: 240
. "$(dirname "$0")/../lib.sh"
need_lib
[ -x "$JM_HELPERS/thread_teardown" ] || fail "$JM_HELPERS/thread_teardown is not built"
export JMALLOC_STATS_DIR=$JM_TMP

for conf in decay_ms:100 decay_ms:1000 "decay_ms:100,tcache:0"; do
	out=$(JMALLOC_CONF=$conf LD_PRELOAD=$JMALLOC_LIB "$JM_HELPERS/thread_teardown" 2000) ||
		fail "JMALLOC_CONF=$conf: $out (exit $?)"
	ok "JMALLOC_CONF=$conf: 2000 threads made and ended in a forked child: $out"
done

lib=$JM_ROOT/liballoc/libjmalloc.a
[ -f "$lib" ] || { echo "liballoc/libjmalloc.a is not built: no static run"; exit 0; }
printf 'int main(void) { return 0; }\n' >"$JM_TMP/t.c"
cc -static -o "$JM_TMP/t" "$JM_TMP/t.c" 2>/dev/null || { echo "cc -static does not link here (no libc.a): no static run"; exit 0; }
cc -O2 -static -pthread -o "$JM_TMP/teardown" "$JM_ROOT/tests/helpers/thread_teardown.c" "$lib" >"$JM_TMP/ld.out" 2>&1 ||
	fail "cc -static with libjmalloc.a: $(grep -v 'statically linked' "$JM_TMP/ld.out" | head -n 5)"
[ "$(nm "$JM_TMP/teardown" | awk '$3 == "malloc" { print $1 }')" = "$(nm "$JM_TMP/teardown" | awk '$3 == "jm_malloc" { print $1 }')" ] ||
	fail "malloc is not jmalloc's in the static program"
for conf in decay_ms:100 decay_ms:1000 "decay_ms:100,tcache:0"; do
	out=$(JMALLOC_CONF=$conf "$JM_TMP/teardown" 2000) ||
		fail "static, JMALLOC_CONF=$conf: $out (exit $?)"
	ok "static, JMALLOC_CONF=$conf: 2000 threads made and ended in a forked child: $out"
done
