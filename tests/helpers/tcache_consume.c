/*
 * tcache_consume: a consumer thread that frees what a producer thread
 * allocates: BATCHES batches of BATCH objects of 64 B, handed over one
 * batch at a time (at most two batches live). For
 * tests/preload/tcache_count.test.sh.
 *
 *   tcache_consume GO BATCHES BATCH
 *
 * The main thread, the consumer, allocates and frees first (its cache
 * has its row in the segment), prints "ready PID", waits for the file GO
 * (at most 60 s), then consumes; it prints "grew KIB": how much the
 * peak RSS (VmHWM) grew from before the first batch to the end. A thread
 * that keeps every region it frees grows by all of them (BATCHES x BATCH
 * x 64 B); one that flushes its full lists by about a batch.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static void **slot;              /* the batch handed over, or NULL */
static long batches, batch;

static long hwm_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			v = strtol(line + 6, NULL, 10);
	fclose(f);
	return v;
}

static void *producer(void *arg)
{
	(void)arg;
	for (long i = 0; i < batches; i++) {
		void **b = malloc(batch * sizeof(void *));
		if (!b)
			abort();
		for (long j = 0; j < batch; j++)
			if (!(b[j] = malloc(64)))
				abort();
		pthread_mutex_lock(&mu);
		while (slot)
			pthread_cond_wait(&cv, &mu);
		slot = b;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: tcache_consume GO BATCHES BATCH\n");
		return 2;
	}
	batches = atol(argv[2]);
	batch = atol(argv[3]);
	for (int i = 0; i < 100; i++) {
		void *p = malloc(64);
		__asm__ volatile("" : : "r"(p) : "memory");
		free(p);
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (int i = 0; access(argv[1], F_OK) != 0; i++) {
		if (i == 6000) {
			fprintf(stderr, "tcache_consume: no %s after 60 s\n", argv[1]);
			return 1;
		}
		usleep(10000);
	}
	long before = hwm_kib();
	pthread_t t;
	if (pthread_create(&t, NULL, producer, NULL) != 0)
		return 1;
	for (long i = 0; i < batches; i++) {
		pthread_mutex_lock(&mu);
		while (!slot)
			pthread_cond_wait(&cv, &mu);
		void **b = slot;
		slot = NULL;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		for (long j = 0; j < batch; j++)
			free(b[j]);
		free(b);
	}
	pthread_join(t, NULL);
	printf("grew %ld\n", hwm_kib() - before);
	return 0;
}
