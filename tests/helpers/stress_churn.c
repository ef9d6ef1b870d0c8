/*
 * stress_churn: thread churn must not leak (run under LD_PRELOAD by
 * tests/preload/stress.test.sh).
 *
 * 10 000 short-lived threads, one after the other, each allocate and free
 * a few hundred blocks (small, large, and one huge), so that each ends with
 * a filled thread cache. A thread's cached blocks must go back to the
 * arenas when it exits: the resident size after the last thread may not
 * exceed the size after the first 2 000 by more than 16 MiB (a cache lost
 * per thread would cost hundreds of KiB each, gigabytes in all). Then 400
 * threads do the same all at once.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2) {
		perror("stress_churn: /proc/self/statm");
		exit(1);
	}
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void *thread_main(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	unsigned char *blocks[300];
	for (int i = 0; i < 300; i++) {
		size_t size = 1 + ((size_t)i * 37 + id) % (i % 10 == 0 ? 60000 : 3000);
		blocks[i] = malloc(size);
		if (!blocks[i]) {
			fprintf(stderr, "stress_churn: malloc(%zu) failed\n", size);
			abort();
		}
		memset(blocks[i], (int)(i + 1), size < 64 ? size : 64);
	}
	for (int i = 0; i < 300; i++) {
		if (blocks[i][0] != (unsigned char)(i + 1)) {
			fprintf(stderr, "stress_churn: block %p corrupted\n", (void *)blocks[i]);
			abort();
		}
		free(blocks[i]);
	}
	free(malloc((3 << 20) + id % 4096));
	return NULL;
}

static void spawn(uintptr_t id)
{
	pthread_t t;
	if (pthread_create(&t, NULL, thread_main, (void *)id) != 0 || pthread_join(t, NULL) != 0) {
		perror("stress_churn: pthread_create");
		exit(1);
	}
}

int main(void)
{
	printf("stress_churn: allocator %s\n", dlsym(RTLD_DEFAULT, "jm_malloc") ? "jmalloc" : "other");
	uintptr_t id = 0;
	while (id < 2000)
		spawn(id++);
	long base = rss_kib();
	while (id < 10000)
		spawn(id++);
	long end = rss_kib();
	printf("stress_churn: %lu threads one after the other; resident %ld KiB after 2000, %ld KiB after all\n",
	       (unsigned long)id, base, end);
	if (end > base + 16 * 1024) {
		fprintf(stderr, "stress_churn: resident size grew by %ld KiB: thread caches leak\n",
		        end - base);
		return 1;
	}
	/* Then many at once: each gets a cache, an arena is shared. */
	pthread_t many[400];
	for (int i = 0; i < 400; i++)
		if (pthread_create(&many[i], NULL, thread_main, (void *)id++) != 0) {
			perror("stress_churn: pthread_create");
			return 1;
		}
	for (int i = 0; i < 400; i++)
		pthread_join(many[i], NULL);
	printf("stress_churn: then 400 at once; resident %ld KiB\n", rss_kib());
	printf("stress_churn: OK\n");
	return 0;
}
