/*
 * fork_pages: the pages of the allocator's own static data (the writable
 * mappings of the preloaded library: its .data and .bss) that a fork
 * writes, in the parent or the child: each is a page fault and a 4 KiB
 * copy on that side at every fork. Run under LD_PRELOAD; prints
 * "written N of M" for one fork after a warm-up one, the pages whose
 * frame (/proc/self/pagemap) changed across the fork in either process.
 * The child reads its frames before any allocator call and hands them to
 * the parent through a pipe; the parent reads its own after. Frames are
 * shown to root only: "no frames" then. Nothing else runs meanwhile (one
 * thread, no allocation), so what changed is what the fork handlers wrote.
 *
 *   fork_pages LIBRARY-PATH-SUBSTRING
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PAGES 64

static uintptr_t page_lo[MAX_PAGES];
static size_t npages;

/* The library's writable file mapping and the anonymous one right after
 * it (the rest of its .bss). */
static void find_pages(const char *lib)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	uintptr_t want_next = 0;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perm[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) != 3)
			continue;
		bool ours = strstr(line, lib) != NULL && perm[1] == 'w';
		bool bss = want_next == lo && perm[1] == 'w' && strchr(line, '/') == NULL;
		want_next = 0;
		if (!ours && !bss)
			continue;
		for (uintptr_t p = lo; p < hi && npages < MAX_PAGES; p += 4096)
			page_lo[npages++] = p;
		if (ours)
			want_next = hi;
	}
	if (f)
		fclose(f);
}

static void frames(uint64_t *out)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	for (size_t i = 0; i < npages; i++) {
		uint64_t e = 0;
		if (fd < 0 || pread(fd, &e, sizeof e, (off_t)(page_lo[i] / 4096) * 8) != (ssize_t)sizeof e)
			e = 0;
		out[i] = (e >> 63) ? e & ((1ULL << 55) - 1) : 0;
	}
	if (fd >= 0)
		close(fd);
}

static int fork_once(int *written)
{
	uint64_t before[MAX_PAGES], child[MAX_PAGES], after[MAX_PAGES];
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	frames(before);
	pid_t pid = fork();
	if (pid == 0) {
		uint64_t mine[MAX_PAGES];
		frames(mine);
		ssize_t len = (ssize_t)(npages * sizeof mine[0]);
		_exit(write(fds[1], mine, (size_t)len) == len ? 0 : 1);
	}
	if (pid < 0)
		return -1;
	ssize_t len = (ssize_t)(npages * sizeof child[0]);
	if (read(fds[0], child, (size_t)len) != len)
		return -1;
	frames(after);
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	close(fds[0]);
	close(fds[1]);
	*written = 0;
	for (size_t i = 0; i < npages; i++) {
		if (before[i] == 0)
			continue;
		if (child[i] != before[i] || after[i] != before[i])
			(*written)++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	free(malloc(100));   /* initialised, segment published */
	find_pages(argv[1]);
	if (npages == 0) {
		printf("no mapping of %s\n", argv[1]);
		return 1;
	}
	uint64_t probe[MAX_PAGES];
	frames(probe);
	bool any = false;
	for (size_t i = 0; i < npages; i++)
		any |= probe[i] != 0;
	if (!any) {
		printf("no frames\n");
		return 0;
	}
	int written = 0;
	if (fork_once(&written) < 0 || fork_once(&written) < 0) {
		printf("fork failed\n");
		return 1;
	}
	printf("written %d of %zu\n", written, npages);
	return 0;
}
