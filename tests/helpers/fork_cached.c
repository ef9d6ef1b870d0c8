/*
 * fork_cached: a forked child whose allocations its inherited thread cache
 * serves (a pre-forked worker handling small requests) publishes its stats
 * segment all the same. The child publishes at its first allocator slow
 * path; the fast path of a cached class takes none, and such a child was
 * never shown. The parent fills its cache of one class, forks; the child
 * takes a few regions of that class, says it did, and waits; the parent
 * looks for the child's file in $JMALLOC_STATS_DIR (the child itself
 * makes no other call that could allocate), then lets it end. Prints "ok"
 * and exits 0, or says what failed and exits 1.
 */
#include <dirent.h>
#include <jmstat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLASS_SIZE 48
#define NFILL 64
#define NCHILD 8

static int child_published(const char *dir, pid_t pid)
{
	char prefix[64];
	snprintf(prefix, sizeof prefix, JMSTAT_FILE_PREFIX "%d.", (int)pid);
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	while (d && (e = readdir(d)) != NULL)
		found |= strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	if (d)
		closedir(d);
	return found;
}

int main(void)
{
	const char *dir = getenv("JMALLOC_STATS_DIR");
	if (dir == NULL) {
		printf("JMALLOC_STATS_DIR is not set\n");
		return 1;
	}
	static void *p[NFILL];
	for (int i = 0; i < NFILL; i++)
		memset(p[i] = malloc(CLASS_SIZE), 1, CLASS_SIZE);
	for (int i = 0; i < NFILL; i++)
		free(p[i]);
	int took[2], go[2];
	if (pipe(took) != 0 || pipe(go) != 0) {
		printf("pipe failed\n");
		return 1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		printf("fork failed\n");
		return 1;
	}
	if (pid == 0) {
		static void *q[NCHILD];
		for (int i = 0; i < NCHILD; i++)
			memset(q[i] = malloc(CLASS_SIZE), 2, CLASS_SIZE);
		char c = 1;
		if (write(took[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		for (int i = 0; i < NCHILD; i++)
			free(q[i]);
		_exit(0);
	}
	char c;
	if (read(took[0], &c, 1) != 1) {
		printf("the child ended before its allocations were done\n");
		return 1;
	}
	int seen = child_published(dir, pid);
	if (write(go[1], &c, 1) != 1)
		return 1;
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("the child failed (status %d)\n", status);
		return 1;
	}
	if (!seen) {
		printf("a forked child whose %d allocations its cache served published no segment\n",
		    NCHILD);
		return 1;
	}
	puts("ok");
	return 0;
}
