/*
 * cache_holder: a program for tests/daemon/allocated.test.sh, run under
 * LD_PRELOAD=libjmalloc.so with the default settings (sampling on). It
 * checks that `allocated` is what the program holds, to the byte.
 *
 *   cache_holder NTHREADS
 *
 * starts NTHREADS threads that each allocate and free small and large
 * blocks, so that their thread caches hold regions of both kinds, and then
 * sleep; and one idle worker thread that allocates what it is told. Every
 * thread first allocates and frees a few MiB so that the heap profile has
 * sampled from it at least once (the first sample loads the unwinder, which
 * may allocate). Then it prints "ready PID" and reads commands on stdin:
 *   alloc SIZE N   the worker mallocs N blocks of SIZE and holds them
 *                  -> "ok SUM", SUM the sum of their malloc_usable_size
 *   free           the worker frees every block it holds -> "ok"
 *   exit           exit(0)
 * Between commands nothing allocates: no stdio, the table of held pointers
 * is mapped with mmap, the threads talk through a mutex and a condvar.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lineio.h"

#define MAX_HELD (1u << 20)

static void **held;
static size_t nheld;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static unsigned long cmd_size, cmd_n;
static int cmd;                 /* 0 none, 1 alloc, 2 free */
static int cmd_done;
static unsigned long cmd_sum;
static unsigned nready;

/* Allocates and frees a few MiB in small, large and huge blocks. */
static void warm_up(void)
{
	static const size_t sizes[] = { 24, 200, 1000, 5000, 20000, 30000, 3u << 20 };
	void *p[256];
	for (int round = 0; round < 40; round++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			size_t n = sizes[s] > (1u << 20) ? 1 : 256;
			for (size_t i = 0; i < n; i++) {
				p[i] = malloc(sizes[s]);
				memset(p[i], 1, 16);
			}
			for (size_t i = 0; i < n; i++)
				free(p[i]);
		}
}

static void ready_one(void)
{
	pthread_mutex_lock(&lock);
	nready++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

/* Leaves small and large regions in this thread's caches, then sleeps. */
static void *cacher(void *arg)
{
	(void)arg;
	warm_up();
	void *p[64];
	for (size_t i = 0; i < 64; i++)
		p[i] = malloc(i % 2 ? 16384 + 4096 * (i % 4) : 48 + 16 * (i % 8));
	for (size_t i = 0; i < 64; i++)
		free(p[i]);
	ready_one();
	for (;;)
		pause();
	return NULL;
}

static void *worker(void *arg)
{
	(void)arg;
	warm_up();
	pthread_mutex_lock(&lock);
	nready++;
	pthread_cond_broadcast(&cond);
	for (;;) {
		while (cmd == 0)
			pthread_cond_wait(&cond, &lock);
		if (cmd == 1) {
			unsigned long sum = 0;
			for (unsigned long i = 0; i < cmd_n && nheld < MAX_HELD; i++) {
				char *b = malloc(cmd_size);
				if (!b)
					_exit(4);
				b[0] = 1;
				sum += malloc_usable_size(b);
				held[nheld++] = b;
			}
			cmd_sum = sum;
		} else {
			while (nheld)
				free(held[--nheld]);
		}
		cmd = 0;
		cmd_done = 1;
		pthread_cond_broadcast(&cond);
	}
	return NULL;
}

static unsigned long run(int c, unsigned long size, unsigned long n)
{
	pthread_mutex_lock(&lock);
	cmd = c;
	cmd_size = size;
	cmd_n = n;
	cmd_done = 0;
	pthread_cond_broadcast(&cond);
	while (!cmd_done)
		pthread_cond_wait(&cond, &lock);
	unsigned long sum = cmd_sum;
	pthread_mutex_unlock(&lock);
	return sum;
}

int main(int argc, char **argv)
{
	unsigned nthreads = argc > 1 ? (unsigned)atoi(argv[1]) : 0;
	held = mmap(NULL, MAX_HELD * sizeof(void *), PROT_READ | PROT_WRITE,
	            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (held == MAP_FAILED)
		return 2;
	pthread_t t;
	for (unsigned i = 0; i < nthreads; i++)
		if (pthread_create(&t, NULL, cacher, NULL) != 0)
			return 2;
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 2;
	pthread_mutex_lock(&lock);
	while (nready < nthreads + 1)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	say_num("ready ", (unsigned long)getpid());
	unsigned long size = 0, n = 0;
	for (;;) {
		switch (command(&size, &n)) {
		case CMD_EOF:
			return 0;
		case CMD_ALLOC:
			say_num("ok ", run(1, size, n));
			break;
		case CMD_FREE:
			run(2, 0, 0);
			say("ok\n");
			break;
		case CMD_EXIT:
			_exit(0);
		default:
			say("error: unknown command\n");
		}
	}
}
