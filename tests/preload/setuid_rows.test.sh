#!/usr/bin/env bash
# timeout: 60
# A server that starts as root and then takes another uid (nginx's and
# memcached's workers run as nobody) cannot open its own segment file
# again: it is root's, mode 0600. The rows past the first step were
# backed by reopening it (open, fallocate), so after the change of uid
# every later thread counted in a private row the segment does not show,
# and every later sampled site was dropped, each trying the open again
# (550 failed opens in nginx's four workers for 22,000 requests; docs/
# programs.md, "Servers and programs again"). The rows are now backed
# through the mapping where the file cannot be opened. A process that
# publishes as root, takes uid nobody, then starts 40 threads that each
# allocate: its segment shows them all.
. "$(dirname "$0")/../lib.sh"
need_lib
need_users "take another uid"
export JMALLOC_STATS_DIR=$JM_TMP/segs
mkdir -p "$JMALLOC_STATS_DIR"

cat >"$JM_TMP/setuid_rows.c" <<'C'
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "jmstat.h"

#define THREADS 40
static pthread_barrier_t allocated, done;

static void *worker(void *arg)
{
	char *volatile p = malloc(100);
	p[0] = 1;
	pthread_barrier_wait(&allocated);
	pthread_barrier_wait(&done);
	free(p);
	return arg;
}

/* The segment as this process maps it: it can no longer open the file.
 * Its header is where the file's offset 0 is mapped (the file is mapped in
 * two pieces, the first not lowest). */
static const struct jmstat_header *own_segment(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	const struct jmstat_header *h = NULL;
	while (f != NULL && h == NULL && fgets(line, sizeof line, f) != NULL) {
		unsigned long lo, off;
		if (strstr(line, "/jmalloc.") != NULL && strstr(line, ".stats") != NULL &&
		    sscanf(line, "%lx-%*x %*s %lx", &lo, &off) == 2 && off == 0)
			h = (const struct jmstat_header *)lo;
	}
	if (f != NULL)
		fclose(f);
	return h;
}

int main(void)
{
	char *volatile first = malloc(100); /* published, as root */
	free(first);
	if (setgid(65534) != 0 || setuid(65534) != 0) {
		perror("setuid");
		return 2;
	}
	const struct jmstat_header *h = own_segment();
	if (h == NULL) {
		printf("no segment mapped\n");
		return 1;
	}
	pthread_barrier_init(&allocated, NULL, THREADS + 1);
	pthread_barrier_init(&done, NULL, THREADS + 1);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			return 2;
	pthread_barrier_wait(&allocated);
	printf("rows %u\n", __atomic_load_n(&h->nthreads_hw, __ATOMIC_ACQUIRE));
	pthread_barrier_wait(&done);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	return 0;
}
C
build_c "$JM_TMP/setuid_rows" "$JM_TMP/setuid_rows.c" -pthread -I"$JM_ROOT/liballoc/include"
LD_PRELOAD=$JMALLOC_LIB "$JM_TMP/setuid_rows" >"$JM_TMP/out" 2>&1 || fail "setuid_rows: exit $?: $(cat "$JM_TMP/out")"
rows=$(sed -n 's/^rows //p' "$JM_TMP/out")
[ -n "$rows" ] || fail "no row count: $(cat "$JM_TMP/out")"
# The main thread's row and the 40 threads' (the purger's too if it runs).
[ "$rows" -ge 41 ] || fail "after the change of uid the segment shows $rows thread rows of at least 41"
grep -q 'jmalloc\[' "$JM_TMP/out" && fail "the allocator complained: $(cat "$JM_TMP/out")"
ok "a process that took uid nobody after publishing shows its 40 later threads ($rows rows)"
