/*
 * cgroup_churn: two threads, each in turn allocating MIB MiB (default 150)
 * of 1000-byte objects, writing them and freeing them all, twice each:
 * what one thread freed stays dirty in its arena while the other
 * allocates in its own. In a cgroup limited to 256 MiB, the process is
 * killed by the kernel unless the allocator gives back what one thread
 * freed before the other's allocations reach the limit
 * (tests/preload/cgroup_limit.test.sh). Prints "ok" at the end.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE 1000
static size_t n;
static void **objs[2];
static pthread_barrier_t turn;

static void *work(void *arg)
{
	int me = (int)(long)arg;
	for (int r = 0; r < 4; r++) {
		if (r % 2 == me) {
			for (size_t i = 0; i < n; i++) {
				objs[me][i] = malloc(SIZE);
				if (objs[me][i] == NULL)
					abort();
				memset(objs[me][i], 1, SIZE);
			}
			for (size_t i = 0; i < n; i++)
				free(objs[me][i]);
		}
		pthread_barrier_wait(&turn);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 150;
	n = (size_t)mib * 1024 * 1024 / SIZE;
	for (int i = 0; i < 2; i++)
		if ((objs[i] = calloc(n, sizeof(void *))) == NULL)
			return 2;
	pthread_barrier_init(&turn, NULL, 2);
	pthread_t t[2];
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	puts("ok");
	return 0;
}
