/*
 * demo_fragment: fragments the heap on purpose, then holds it, so that
 * `jmctl top` and `jmctl stats` have something to show.
 *
 *   demo_fragment [-s SIZES] [-c COUNT] [-t SECONDS] [-r RATE] [-a]
 *
 * For each size in SIZES (comma-separated, default 48,64,96,192) it
 * allocates COUNT objects (default 100000), then frees all of them but one
 * in every (4 KiB / region size), in allocation order: regions are handed
 * out run by run, so about one region per page stays, every run keeps a
 * region, no run can be given back, and the bins' utilisation drops to
 * about one region per page. The rule does not look at addresses: a
 * sampled object of the heap profile (on a page of its own) is kept as
 * often as any other, so the sites' estimates stay unbiased. With -a it
 * keeps the first object of each page instead (the old rule): then it
 * keeps every sampled object and frees most others, which biases the
 * estimates (tests/sites/bounded.test.sh uses it). It then prints one line
 *   demo_fragment: pid PID: kept K of N objects
 * and holds the memory for SECONDS (default: until SIGTERM or SIGINT),
 * doing RATE malloc/free pairs per second (default 1000, of the first
 * size) so that the allocation rate is not zero. It exits normally on
 * SIGTERM/SIGINT, so the allocator removes its stats segment.
 *
 * Run it under LD_PRELOAD=$JMALLOC_LIB.
 */
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	const char *sizes = "48,64,96,192";
	long count = 100000, rate = 1000;
	double seconds = -1;
	int opt, by_address = 0;

	while ((opt = getopt(argc, argv, "s:c:t:r:a")) != -1) {
		switch (opt) {
		case 's': sizes = optarg; break;
		case 'c': count = atol(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'r': rate = atol(optarg); break;
		case 'a': by_address = 1; break;
		default:
			fprintf(stderr, "usage: demo_fragment [-s SIZES] [-c COUNT] [-t SECONDS] [-r RATE] [-a]\n");
			return 2;
		}
	}
	if (count < 1 || rate < 0) {
		fprintf(stderr, "demo_fragment: bad -c or -r\n");
		return 2;
	}

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	void **objs = malloc(sizeof(void *) * (size_t)count);
	char *list = strdup(sizes), *save = NULL, *tok;
	long kept = 0, total = 0;
	size_t first_size = 0;

	if (!objs || !list) {
		perror("demo_fragment");
		return 1;
	}
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t size = (size_t)atol(tok);
		uintptr_t last_page = 0;

		if (size == 0)
			continue;
		if (!first_size)
			first_size = size;
		for (long i = 0; i < count; i++) {
			objs[i] = malloc(size);
			if (!objs[i]) {
				perror("demo_fragment: malloc");
				return 1;
			}
			memset(objs[i], 0xa5, size);
		}
		/* Keep one object in every regions-per-page, by index (or, with
		 * -a, the first object of each page). Those kept are leaked on
		 * purpose: held until exit. The regions' size is the smallest
		 * usable size of the objects, not the first one's: a sampled
		 * object of the heap profile is a page of its own, whose usable
		 * size is the page's, and a sampled first object (1 run in 340
		 * of tests/cli/top_sites, prof_sample:65536) made it keep every
		 * object, fragmenting nothing. */
		size_t usable = 0;
		for (long i = 0; i < count; i++) {
			size_t u = malloc_usable_size(objs[i]);
			if (usable == 0 || u < usable)
				usable = u;
		}
		long every = usable && usable < 4096 ? (long)(4096 / usable) : 1;
		for (long i = 0; i < count; i++) {
			uintptr_t page = (uintptr_t)objs[i] >> 12;
			int keep = by_address ? page != last_page : i % every == 0;

			last_page = page;
			if (keep) {
				kept++;
				continue;
			}
			free(objs[i]);
		}
		total += count;
	}
	free(objs);
	free(list);
	printf("demo_fragment: pid %d: kept %ld of %ld objects\n", (int)getpid(), kept, total);
	fflush(stdout);

	struct timespec t0, now, tick = { 0, 10 * 1000 * 1000 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		/* rate pairs per second, in bursts every 10 ms. */
		for (long i = 0; i < rate / 100 && first_size; i++) {
			void *p = malloc(first_size);

			if (p)
				*(volatile char *)p = 1;
			free(p);
		}
		nanosleep(&tick, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (seconds >= 0 && (double)(now.tv_sec - t0.tv_sec) +
		    (double)(now.tv_nsec - t0.tv_nsec) / 1e9 >= seconds)
			break;
	}
	return 0;
}
