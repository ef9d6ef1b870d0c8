/*
 * stats_retry: a program for tests/preload/stats_retry.test.sh, run under
 * LD_PRELOAD with JMALLOC_STATS_DIR on a full tmpfs (its start cannot
 * make its segment: ENOSPC).
 *
 *   stats_retry DIR FILL   holds 5,000 regions of 200 bytes, finds no
 *                          segment of its own in DIR, forks a child, removes
 *                          FILL (the space comes back), then both allocate
 *                          and free in bursts, 10 ms apart, until their
 *                          segment is in DIR (6,000 bursts at most: a
 *                          bound, no timing), and check it: their pid,
 *                          live, and the 5,000 regions counted in its bin
 *                          rows (the counts kept before the publication
 *                          carried over). Says "child M" and "ok parent
 *                          N" (the bursts each took), exit status 0.
 *   stats_retry DIR -      the directory stays full: 300 bursts, 10 ms
 *                          apart (its retries fail, silent), no segment;
 *                          says "ok unpublished"
 */
#include "jmstat.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HELD 5000

static const char *dir;

/* The path of this process's segment in dir, or NULL. */
static const char *own_segment(void)
{
	static char path[4096];
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "jmalloc.%d.", (int)getpid());
	DIR *d = opendir(dir);
	if (d == NULL)
		return NULL;
	const char *found = NULL;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && n > 6 &&
		    strcmp(e->d_name + n - 6, ".stats") == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			found = path;
			break;
		}
	}
	closedir(d);
	return found;
}

/* Its header and bin rows as a reader sees them: 0, or what is wrong. */
static const char *check(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return "cannot open it";
	struct jmstat_header h;
	const char *bad = NULL;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		bad = "short header";
	else if (h.magic != JMSTAT_MAGIC || h.state != JMSTAT_STATE_LIVE)
		bad = "not a live segment";
	else if (h.pid != (uint32_t)getpid())
		bad = "another pid's";
	if (bad == NULL) {
		uint64_t live = 0;
		for (unsigned b = 0; b < h.nbins; b++) {
			struct jmstat_bin row;
			if (pread(fd, &row, sizeof(row), (off_t)(h.bin_off + b * h.bin_size)) !=
			    (ssize_t)sizeof(row)) {
				bad = "short bin rows";
				break;
			}
			live += row.curregs;
		}
		if (bad == NULL && live < HELD)
			bad = "the regions held before it was published are not counted";
	}
	close(fd);
	return bad;
}

/* Bursts until the segment is there (at most `bursts`): the bursts
 * taken, or -1. */
static int until_published(int bursts)
{
	static void *p[4096];
	static const size_t sizes[] = { 16, 48, 96, 160, 320, 640, 1024, 2048 };
	for (int burst = 1; burst <= bursts; burst++) {
		for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			for (int i = 0; i < 4096; i++)
				p[i] = malloc(sizes[s]);
			for (int i = 0; i < 4096; i++)
				free(p[i]);
		}
		const char *seg = own_segment();
		if (seg != NULL) {
			const char *bad = check(seg);
			if (bad != NULL) {
				printf("%d: %s: %s\n", (int)getpid(), seg, bad);
				return -1;
			}
			return burst;
		}
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	printf("%d: no segment after %d bursts\n", (int)getpid(), bursts);
	return -1;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	dir = argv[1];
	static void *held[HELD];
	for (int i = 0; i < HELD; i++)
		held[i] = malloc(200);
	if (own_segment() != NULL) {
		printf("published at its start: the directory was not full\n");
		return 1;
	}
	if (strcmp(argv[2], "-") == 0) {
		if (until_published(300) > 0)
			return 1;
		printf("ok unpublished\n");
		return 0;
	}
	int go[2];
	if (pipe(go) != 0)
		return 1;
	fflush(stdout);
	pid_t child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		int n = until_published(6000);
		printf("child %d\n", n);
		fflush(stdout);
		_exit(n > 0 ? 0 : 1);
	}
	close(go[0]);
	if (unlink(argv[2]) != 0) {
		perror(argv[2]);
		return 1;
	}
	if (write(go[1], "g", 1) != 1)
		return 1;
	close(go[1]);
	int n = until_published(6000);
	int st;
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || n < 0) {
		printf("parent %d, child status %d\n", n, st);
		return 1;
	}
	printf("ok parent %d\n", n);
	for (int i = 0; i < HELD; i++)
		free(held[i]);
	return 0;
}
