/*
 * many-threads: a pool of 64 threads on a machine of few CPUs, as thread-
 * per-connection servers and programs with big thread pools run. Each
 * thread does rounds of a burst: 2000 objects of 16..2000 bytes allocated
 * (the first 16 bytes of each written), checked and freed, then it waits
 * for the others at a barrier. Peak RSS shows what memory each thread
 * holds between its bursts (its thread cache), multiplied by 64: another
 * thread cannot reuse it. The THREADS argument is ignored (64 always);
 * 20 x SCALE rounds. Found with 64 threads whose bursts were freed before
 * they went idle: 114-165 MiB peak RSS against glibc's 82 (tcache:0: 65).
 */
#include "bench_main.h"

#define POOL 64
#define BURST 2000

static pthread_barrier_t round_end;

struct worker {
	long rounds;
	uint64_t rng;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned char **p = xmalloc(BURST * sizeof *p);
	size_t *size = xmalloc(BURST * sizeof *size);
	for (long r = 0; r < w->rounds; r++) {
		for (int i = 0; i < BURST; i++) {
			size[i] = rng_range(&w->rng, 16, 2000);
			p[i] = xmalloc(size[i]);
			tag_fill(p[i], size[i] < 16 ? size[i] : 16, (uint64_t)i + 1);
		}
		for (int i = 0; i < BURST; i++) {
			tag_check(p[i], size[i] < 16 ? size[i] : 16, (uint64_t)i + 1);
			free(p[i]);
		}
		pthread_barrier_wait(&round_end);
	}
	free(p);
	free(size);
	return NULL;
}

static int bench_main(int threads, double scale)
{
	(void)threads;
	struct worker *w = xmalloc(sizeof *w * POOL);
	for (int t = 0; t < POOL; t++) {
		w[t].rounds = scaled(20, scale, 1);
		w[t].rng = rng_seed((uint64_t)t + 80);
	}
	BENCH_CHECK(pthread_barrier_init(&round_end, NULL, POOL) == 0, "pthread_barrier_init failed");
	run_threads(POOL, work, w, sizeof *w);
	pthread_barrier_destroy(&round_end);
	free(w);
	printf("many-threads: ok, %d threads\n", POOL);
	return 0;
}
