/*
 * thread_waves: waves of 1000 short-lived threads, each allocating large
 * buffers it writes only the start of (docs/programs.md, "Programs and
 * servers, session 27"; run by tests/bench/programs.py as `thread-waves`,
 * not by make bench).
 *
 *   cc -O2 -pthread -o /tmp/thread_waves tests/bench/thread_waves.c
 *   LD_PRELOAD=LIB /tmp/thread_waves [WAVES [TOUCH]]
 *
 * WAVES (default 4) times: 1000 threads (64 KiB stacks) start at once;
 * each allocates 256 blocks, one in 16 of 16..40015 B and the others of
 * 16..527 B, and writes the first 64 bytes of each (TOUCH 1: every byte);
 * then 64 blocks of 24..528 B that its neighbour frees after a barrier
 * (frees from another thread); then it frees half of its own, grows the
 * other half by realloc to 100..865 B and frees them, and exits. All
 * threads are joined before the next wave; nothing is live between waves.
 * Prints a checksum (the same under every allocator).
 *
 * What it shows: a large block written only at its start (a buffer sized
 * for the worst case, a message read into its head) makes one page
 * resident; when the next wave's blocks are cut from the freed runs at
 * other offsets, their first pages fall on pages not yet touched, and the
 * resident set grows wave after wave until the dirty pages are purged.
 * Peak RSS over 1 and 4 waves tells how far an allocator lets it grow.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T 1000

static void *slot[T][64];
static pthread_barrier_t bar;
static int touch_all;

static void *run(void *a)
{
	long id = (long)a;
	unsigned s = (unsigned)id * 2654435761u;
	void *mine[256];
	for (int i = 0; i < 256; i++) {
		s = s * 1103515245 + 12345;
		size_t n = 16 + (s >> 8) % ((i % 16) ? 512 : 40000);
		mine[i] = malloc(n);
		if (mine[i] == NULL)
			abort();
		memset(mine[i], (int)id, touch_all || n < 64 ? n : 64);
	}
	for (int i = 0; i < 64; i++)
		if ((slot[id][i] = malloc(24 + i * 8)) == NULL)
			abort();
	pthread_barrier_wait(&bar);
	for (int i = 0; i < 64; i++)
		free(slot[(id + 1) % T][i]);
	for (int i = 0; i < 256; i += 2)
		free(mine[i]);
	for (int i = 1; i < 256; i += 2)
		if ((mine[i] = realloc(mine[i], 100 + i * 3)) == NULL)
			abort();
	long sum = 0;
	for (int i = 1; i < 256; i += 2) {
		sum += ((unsigned char *)mine[i])[0];
		free(mine[i]);
	}
	return (void *)sum;
}

int main(int argc, char **argv)
{
	int waves = argc > 1 ? atoi(argv[1]) : 4;
	touch_all = argc > 2 && atoi(argv[2]);
	long total = 0;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 64 * 1024);
	for (int w = 0; w < waves; w++) {
		static pthread_t th[T];
		pthread_barrier_init(&bar, NULL, T);
		for (long i = 0; i < T; i++)
			if (pthread_create(&th[i], &at, run, (void *)i)) {
				perror("pthread_create");
				return 1;
			}
		for (int i = 0; i < T; i++) {
			void *r;
			pthread_join(th[i], &r);
			total += (long)r;
		}
		pthread_barrier_destroy(&bar);
	}
	printf("%ld\n", total);
	return 0;
}
