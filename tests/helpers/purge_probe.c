/*
 * purge_probe: the background purger seen from a preloaded process
 * (tests/preload/purge.test.sh). Each mode prints lines KEY VALUE:
 *
 *   nofree   allocates 64 MiB of mixed sizes and frees nothing: purgers 0
 *   idle     allocates 96 MiB of mixed sizes on 2 threads (every page
 *            touched), frees 95% of it, then makes no allocator call and
 *            prints its RSS above the start (KiB) after WAIT_MS:
 *            rss_start, rss_freed (just after the frees), rss_idle; then
 *            bg_running, bg_wakes and npurge from its own stats segment
 *   fork     frees memory (a purger starts), forks: the child prints the
 *            purgers it has at once (0) and after it freed memory and
 *            waited (1), and exits 0; the parent prints its own (1)
 *   forkshort frees memory (a purger starts), forks: the child frees a
 *            little (256 KiB) and prints its purgers at once (0: a child
 *            starts none before it has dirtied 4 MiB or lived the
 *            purger's interval) and how long since the fork that took
 *            (child_young_ms), then waits WAIT_MS, frees a little again
 *            and prints them (1: old enough now), and exits 0
 *   threads  16 threads allocate, free and exit, one after another; then
 *            the purgers (1) and the process's threads (2)
 *   short    frees a little (256 KiB of mixed sizes, again and again: a
 *            few pages dirty at a time) and prints its purgers (0: none
 *            before 4 MiB are dirty or decay_ms has passed), then waits
 *            WAIT_MS, frees a little again and prints them (1)
 *   bigfree  frees one 16 MiB region (every page touched) and prints its
 *            purgers (1: that free alone makes 4 MiB dirty)
 *   bigfree_nofd  the same at the file limit: RLIMIT_NOFILE lowered to
 *            the lowest free descriptor for the free (no file can be
 *            opened, as in a process that ran out of descriptors), raised
 *            again before the count: purgers 1 (the purger names itself;
 *            its starter opened /proc/self/task/TID/comm, and a purger
 *            started at the limit had no name)
 *
 * "purgers" counts the threads named jmalloc-purge (/proc/self/task/ * /comm).
 * Usage: purge_probe MODE [WAIT_MS]
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jmstat.h"
#include "heapwork.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Counted with raw reads into stack buffers: no allocation (opendir
 * allocates, which is fine, but keeps the idle mode honest). */
static int count_threads(int *purgers)
{
	int n = 0;
	*purgers = 0;
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		n++;
		char path[64], comm[32] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fgets(comm, sizeof(comm), f) && strncmp(comm, "jmalloc-purge", 13) == 0)
				(*purgers)++;
			fclose(f);
		}
	}
	closedir(d);
	return n;
}

static int purgers(void)
{
	int p;
	count_threads(&p);
	return p;
}

static unsigned rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* Sizes from 16 B to 1 MiB, about as many of each power of two. */
static size_t mixed_size(unsigned *s)
{
	unsigned lg = 4 + rnd(s) % 17;
	return ((size_t)1 << lg) + rnd(s) % ((size_t)1 << lg);
}

/* The purger's fields of this process's own stats segment header, and
 * its arenas' madvise calls: "bg_running N", "bg_wakes N", "npurge N"
 * (-1 if the segment cannot be read). */
static void print_segment(void)
{
	const char *dir = getenv("JMALLOC_STATS_DIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/%s%d%s", dir && *dir ? dir : "/dev/shm",
	    JMSTAT_FILE_PREFIX, (int)getpid(), JMSTAT_FILE_SUFFIX);
	struct jmstat_header h;
	long long running = -1, wakes = -1, npurge = -1;
	int fd = open(path, O_RDONLY);
	if (fd >= 0 && pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    h.magic == JMSTAT_MAGIC && h.version == JMSTAT_VERSION) {
		running = h.bg_running;
		wakes = (long long)h.bg_wakes;
		npurge = 0;
		for (uint32_t i = 0; i < h.narenas; i++) {
			struct jmstat_arena a;
			if (pread(fd, &a, sizeof(a), (off_t)(h.arena_off + (uint64_t)i * h.arena_size)) ==
			    (ssize_t)sizeof(a))
				npurge += (long long)a.npurge;
		}
	}
	if (fd >= 0)
		close(fd);
	printf("bg_running %lld\nbg_wakes %lld\nnpurge %lld\n", running, wakes, npurge);
}

struct part {
	size_t bytes;
	unsigned seed;
	struct blocks b;
};

static void *fill(void *arg)
{
	struct part *p = arg;
	size_t cap = 1 << 16, got = 0;
	p->b.v = malloc(cap * sizeof(void *));
	p->b.n = 0;
	while (got < p->bytes && p->b.n < cap) {
		size_t sz = mixed_size(&p->seed);
		char *b = malloc(sz);
		memset(b, 1, sz);
		p->b.v[p->b.n++] = b;
		got += sz;
	}
	return NULL;
}

static void churn(size_t bytes)
{
	struct part p = { bytes, 7, { NULL, 0 } };
	fill(&p);
	for (size_t i = 0; i < p.b.n; i++)
		free(p.b.v[i]);
	free(p.b.v);
}

static void *thread_churn(void *arg)
{
	(void)arg;
	churn(4u << 20);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	long wait_ms = argc > 2 ? atol(argv[2]) : 1000;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (strcmp(mode, "nofree") == 0) {
		struct part p = { 64u << 20, 3, { NULL, 0 } };
		fill(&p);
		sleep_ms(wait_ms);
		printf("purgers %d\n", purgers());
		return 0;
	}
	if (strcmp(mode, "idle") == 0) {
		long start = rss_kib();
		struct part p[2] = { { 48u << 20, 1, { NULL, 0 } }, { 48u << 20, 2, { NULL, 0 } } };
		two_threads(fill, &p[0], &p[1]);
		two_threads(free_most, &p[0].b, &p[1].b);
		long freed = rss_kib();
		sleep_ms(wait_ms);   /* no allocator call from here on */
		long idle = rss_kib();
		printf("rss_start %ld\nrss_freed %ld\nrss_idle %ld\n", 0L, freed - start, idle - start);
		print_segment();
		return 0;
	}
	if (strcmp(mode, "fork") == 0) {
		churn(8u << 20);
		sleep_ms(50);
		printf("parent_purgers %d\n", purgers());
		pid_t pid = fork();
		if (pid == 0) {
			printf("child_purgers_at_fork %d\n", purgers());
			churn(8u << 20);
			sleep_ms(200);
			printf("child_purgers %d\n", purgers());
			exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		printf("child_status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128);
		return 0;
	}
	if (strcmp(mode, "forkshort") == 0) {
		churn(8u << 20);
		sleep_ms(50);
		printf("parent_purgers %d\n", purgers());
		fflush(stdout);
		/* From before the fork to after the count: at least the child's
		 * age at each of its frees (its grace runs from the fork). */
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		pid_t pid = fork();
		if (pid == 0) {
			churn(256u << 10);
			int young = purgers();
			clock_gettime(CLOCK_MONOTONIC, &t1);
			printf("child_purgers_young %d\n", young);
			printf("child_young_ms %ld\n", (long)(t1.tv_sec - t0.tv_sec) * 1000 +
			    (t1.tv_nsec - t0.tv_nsec) / 1000000);
			sleep_ms(wait_ms);
			churn(256u << 10);
			sleep_ms(50);
			printf("child_purgers_old %d\n", purgers());
			exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		printf("child_status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128);
		return 0;
	}
	if (strcmp(mode, "threads") == 0) {
		for (int i = 0; i < 16; i++) {
			pthread_t t;
			pthread_create(&t, NULL, thread_churn, NULL);
			pthread_join(t, NULL);
		}
		sleep_ms(50);
		int p;
		int n = count_threads(&p);
		printf("purgers %d\nthreads %d\n", p, n);
		return 0;
	}
	if (strcmp(mode, "short") == 0) {
		for (int i = 0; i < 64; i++)
			churn(256u << 10);
		sleep_ms(50);
		printf("purgers_young %d\n", purgers());
		sleep_ms(wait_ms);
		churn(256u << 10);
		sleep_ms(50);
		printf("purgers_old %d\n", purgers());
		return 0;
	}
	if (strcmp(mode, "bigfree") == 0) {
		size_t n = 16u << 20;
		char *b = malloc(n);
		memset(b, 1, n);
		free(b);
		sleep_ms(50);
		printf("purgers %d\n", purgers());
		return 0;
	}
	if (strcmp(mode, "bigfree_nofd") == 0) {
		size_t n = 16u << 20;
		char *b = malloc(n);
		memset(b, 1, n);
		struct rlimit old, lim;
		int lowest = dup(0);
		if (lowest < 0 || getrlimit(RLIMIT_NOFILE, &old) != 0) {
			perror("purge_probe: dup or getrlimit");
			return 2;
		}
		close(lowest);
		lim = old;
		lim.rlim_cur = (rlim_t)lowest;
		if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
			perror("purge_probe: setrlimit");
			return 2;
		}
		int probe = dup(0);   /* the premise: no descriptor to be had */
		free(b);
		setrlimit(RLIMIT_NOFILE, &old);
		if (probe >= 0) {
			fprintf(stderr, "purge_probe: a descriptor was still free at the limit\n");
			return 2;
		}
		sleep_ms(50);
		printf("purgers %d\n", purgers());
		return 0;
	}
	fprintf(stderr, "usage: purge_probe nofree|idle|fork|forkshort|threads|short|bigfree|bigfree_nofd [WAIT_MS]\n");
	return 2;
}
