/* The page faults a thread's first allocation takes when it makes a new
 * arena (tests/preload/arena_faults.test.sh): its arena, its thread
 * cache, the arena's first chunk and run. Prints, for each of N threads
 * started one after the other (each gets an arena of its own while there
 * are enough), the minor faults of its first malloc(16), counted by
 * getrusage(RUSAGE_THREAD) around it: the thread's stack is touched and
 * getrusage called once before, so that only the allocator's pages count.
 *   arena_faults N */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static long minflt(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		exit(3);
	return ru.ru_minflt;
}

static __attribute__((noinline)) void touch_stack(void)
{
	volatile char buf[64 << 10];
	memset((char *)buf, 1, sizeof buf);
}

static sem_t done;
static pthread_barrier_t end;

static void *first_malloc(void *arg)
{
	touch_stack();
	(void)minflt();
	long before = minflt();
	void *p = malloc(16);
	long after = minflt();
	if (p == NULL)
		exit(3);
	*(volatile char *)p = 1;
	*(long *)arg = after - before;
	free(p);
	/* Alive until the last thread has its arena: an arena whose thread
	 * exited is taken back by the next thread. */
	sem_post(&done);
	pthread_barrier_wait(&end);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2;
	if (n < 1 || n > 16)
		return 2;
	free(malloc(16));   /* the process's own start, the first arena */
	pthread_t t[16];
	long faults[16];
	if (sem_init(&done, 0, 0) != 0 || pthread_barrier_init(&end, NULL, (unsigned)n + 1) != 0)
		return 3;
	for (int i = 0; i < n; i++) {
		if (pthread_create(&t[i], NULL, first_malloc, &faults[i]) != 0)
			return 3;
		while (sem_wait(&done) != 0)
			;
	}
	pthread_barrier_wait(&end);
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		printf("%s%ld", i ? " " : "", faults[i]);
	}
	printf("\n");
	return 0;
}
