#!/usr/bin/env bash
# A program linked statically with liballoc/libjmalloc.a (cc -static): it
# links, whatever of glibc's libc.a its calls pull in (fork pulls glibc's
# fork handlers' list, whose __register_atfork the allocator's must not
# collide with; mallopt, malloc_trim or mallinfo2 pulled glibc's malloc.o,
# whose malloc and free did), malloc is jmalloc's, and it runs: threads,
# fork with handlers that allocate, a child that allocates, mallinfo2
# counting a block held; and with every allocation sampled, its C
# library's before main too.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
need_cmd cc nm
need_static_lib
cat >"$JM_TMP/prog.c" <<'C'
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static char *state;
static void prepare(void) { state = malloc(100); strcpy(state, "prepare"); }
static void parent(void) { free(state); state = strdup("parent"); }
static void child(void) { free(state); state = strdup("child"); }
static void *work(void *arg)
{
	for (int i = 0; i < 20000; i++)
		free(malloc(i % 5000 + 1));
	return arg;
}
int main(void)
{
	pthread_atfork(prepare, parent, child);
	mallopt(M_ARENA_MAX, 2);
	size_t base = mallinfo2().uordblks;
	void *block = malloc(100000);
	__asm__ volatile("" : : "r"(block) : "memory"); /* kept: not elided */
	if (mallinfo2().uordblks < base + 100000)
		return 2;
	free(block);
	malloc_trim(0);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, work, NULL);
	for (int i = 0; i < 10; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(strcmp(state, "child") != 0 || malloc(1000) == NULL);
		int st;
		if (waitpid(pid, &st, 0) != pid || st != 0)
			return 1;
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("%s\n", state);
	return 0;
}
C
cc -O2 -static -pthread -o "$JM_TMP/prog" "$JM_TMP/prog.c" "$lib" >"$JM_TMP/ld.out" 2>&1 ||
	fail "cc -static with libjmalloc.a does not link: $(grep -v 'statically linked' "$JM_TMP/ld.out" | head -n 5)"
nm "$JM_TMP/prog" | grep -q ' T jm_malloc$' || fail "jmalloc is not in the static program"
[ "$(nm "$JM_TMP/prog" | awk '$3 == "malloc" { print $1 }')" = "$(nm "$JM_TMP/prog" | awk '$3 == "jm_malloc" { print $1 }')" ] ||
	fail "malloc is not jmalloc's in the static program"
out=$(JMALLOC_STATS_DIR=$JM_TMP timeout 30 "$JM_TMP/prog" 2>&1) || fail "the static program exited $?: $out"
[ "$out" = parent ] || fail "the static program printed: $out"
# Every allocation sampled, the C library's before main too: one inside
# its own initialisation (_dl_non_dynamic_init's _dl_find_object_init),
# sampled, had the unwinder call _dl_find_object on the tables it was
# making (SIGSEGV: under the default prof_sample 1 start in 3,300,
# tests/daemon/setuid's static programs). Sampling still works from main
# on: a sampled small block is a page of its own.
cat >"$JM_TMP/early.c" <<'C'
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
	void *p = malloc(16);
	printf("%zu\n", malloc_usable_size(p));
	free(p);
	return 0;
}
C
cc -O1 -static -o "$JM_TMP/early" "$JM_TMP/early.c" "$lib" -lpthread >"$JM_TMP/ld.out" 2>&1 ||
	fail "cc -static of early.c: $(grep -v 'statically linked' "$JM_TMP/ld.out" | head -n 5)"
for conf in prof_sample:1 prof_sample:64; do
	rc=0
	out=$(JMALLOC_CONF=$conf JMALLOC_STATS_DIR=$JM_TMP timeout 30 "$JM_TMP/early" 2>&1) || rc=$?
	[ $rc -eq 0 ] || fail "the static program under $conf exited $rc: $out"
done
[ "$(JMALLOC_CONF=prof_sample:1 JMALLOC_STATS_DIR=$JM_TMP "$JM_TMP/early")" = 4096 ] ||
	fail "main's malloc(16) under prof_sample:1 was not sampled (not a page of its own)"
# A program with large static data of its own: in a static link its .data
# and .bss lie between the library's .data and its .lbss, so nothing may
# rely on a distance between two objects of the library's (the cache of
# threads without one and its private words took one: "the empty cache's
# private words are not in none_private", abort at the first malloc).
cat >"$JM_TMP/bigdata.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
char zeros[4 << 20];       /* not static: kept whole */
char filled[1 << 20] = { 1 };
int main(void)
{
	zeros[12345] = filled[0];
	char *p = malloc(100);
	strcpy(p, "big");
	printf("%s %d\n", p, zeros[12345] + filled[0]);
	free(p);
	return 0;
}
C
cc -O1 -static -o "$JM_TMP/bigdata" "$JM_TMP/bigdata.c" "$lib" -lpthread >"$JM_TMP/ld.out" 2>&1 ||
	fail "cc -static of bigdata.c: $(grep -v 'statically linked' "$JM_TMP/ld.out" | head -n 5)"
rc=0
out=$(JMALLOC_STATS_DIR=$JM_TMP timeout 30 "$JM_TMP/bigdata" 2>&1) || rc=$?
[ $rc -eq 0 ] && [ "$out" = "big 2" ] || fail "a static program with 5 MiB of static data exited $rc: $out"
ok "a static program with libjmalloc.a links and runs (threads, fork handlers that allocate, every allocation sampled, 5 MiB of static data)"
