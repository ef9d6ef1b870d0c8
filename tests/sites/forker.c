/*
 * forker.c: sampling under fork and threads, for tests/sites/fork.test.sh.
 * Built by the test with plain `cc -O2 -g -pthread`.
 *
 *   forker NFORKS NTHREADS
 *
 * NTHREADS threads allocate and free all the time (churn), while the main
 * thread forks NFORKS children, up to MAX_CHILDREN of them alive at once;
 * each child allocates and frees a little, from the forking thread and from
 * a thread of its own, and exits 0. A fork taken while another thread holds an allocator or
 * profiler lock, or while the unwinder holds its own, would leave the child
 * deadlocked: every child has an alarm that kills it, and the parent fails
 * on any child that did not exit 0. Then the threads keep a known amount
 * (keep_some) and the program prints "done" and waits to be killed.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RING 512
#define MAX_CHILDREN 8   /* children alive at once */

static volatile int stop;
static void *kept[64][4096];

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

__attribute__((noinline)) void churn(void **ring, uint64_t *seed)
{
	for (int i = 0; i < RING; i++) {
		size_t k = next_rand(seed) % RING;
		size_t size = 8 + next_rand(seed) % (next_rand(seed) % 8 == 0 ? 65536 : 512);

		free(ring[k]);
		ring[k] = malloc(size);
		if (ring[k] == NULL)
			abort();
		memset(ring[k], 1, size < 32 ? size : 32);
	}
}

__attribute__((noinline)) void keep_some(int t)
{
	for (int i = 0; i < 4096; i++) {
		kept[t][i] = malloc(1000);
		if (kept[t][i] == NULL)
			abort();
		memset(kept[t][i], 2, 16);
	}
}

static void *worker(void *arg)
{
	void *ring[RING] = { 0 };
	uint64_t seed = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);

	struct timespec pause_ts = { 0, 20000 };

	/* A short pause between rounds leaves the forking thread and its
	 * children some CPU on a small machine. */
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		churn(ring, &seed);
		nanosleep(&pause_ts, NULL);
	}
	for (int i = 0; i < RING; i++)
		free(ring[i]);
	keep_some((int)(uintptr_t)arg);
	return NULL;
}

static void *child_thread(void *arg)
{
	void *ring[RING] = { 0 };
	uint64_t seed = 12345;

	for (int i = 0; i < 4; i++)
		churn(ring, &seed);
	for (int i = 0; i < RING; i++)
		free(ring[i]);
	return NULL;
}

static void child(int n)
{
	void *ring[RING] = { 0 };
	uint64_t seed = (uint64_t)n * 7919 + 1;
	pthread_t th;

	alarm(30);               /* a deadlocked child dies, and is seen */
	churn(ring, &seed);
	if (n % 4 == 0) {
		if (pthread_create(&th, NULL, child_thread, NULL) != 0 || pthread_join(th, NULL) != 0)
			_exit(3);
	}
	for (int i = 0; i < RING; i++)
		free(ring[i]);
	exit(0);
}

/* Reaps one child; 0 when it exited 0. */
static int reap(const pid_t *pids, int nforks)
{
	int status, i;
	pid_t pid = waitpid(-1, &status, 0);

	if (pid < 0) {
		perror("waitpid");
		return 1;
	}
	for (i = 0; i < nforks && pids[i] != pid; i++)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("child %d (pid %d) ended with status 0x%x%s\n", i, (int)pid, status,
		       WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? " (deadlocked)" : "");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int nforks = argc > 1 ? atoi(argv[1]) : 1000;
	int nthreads = argc > 2 ? atoi(argv[2]) : 4;
	int running = 0;
	pthread_t th[64];
	pid_t *pids;

	if (nthreads < 1 || nthreads > 64 || nforks < 0)
		return 2;
	pids = calloc((size_t)nforks + 1, sizeof(*pids));
	if (!pids)
		return 1;
	alarm(200);
	for (int t = 0; t < nthreads; t++)
		if (pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)t) != 0)
			return 1;
	for (int i = 0; i < nforks; i++) {
		/* MAX_CHILDREN at a time: the next fork does not wait for a
		 * child to be scheduled, run and exit (one at a time, that
		 * wait was most of the run on a loaded machine). */
		if (running == MAX_CHILDREN) {
			if (reap(pids, nforks))
				return 1;
			running--;
		}
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			child(i);
		pids[i] = pid;
		running++;
	}
	for (; running > 0; running--)
		if (reap(pids, nforks))
			return 1;
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	alarm(0);
	printf("forked %d\ndone\n", nforks);
	fflush(stdout);
	for (;;)
		pause();
}
