/*
 * clone_child: a child made by glibc's clone() (not fork, not
 * pthread_create) that allocates, frees and returns from its function,
 * which must end it, as it does under glibc's malloc.
 *   clone_child vm|copy purger|quiet
 * vm: CLONE_VM (the child shares the parent's memory); copy: without it
 * (a copy of it, as fork makes, but no fork handler runs). purger: the
 * parent first frees 64 MiB and waits until its background purger runs
 * (exits 3 if it never does); quiet: it frees 1 MiB and has none. The
 * child allocates 8 MiB of 2 KiB regions and 64 x 1 MiB, checks and frees
 * them (enough for a purger of its own), and returns 7.
 * Prints "child PID: exited 7", "... killed by signal N" or "... alive
 * after 10 s, N threads: NAMES" (then kills it), and exits 0 only for
 * "exited 7".
 */
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The threads of pid, their names into names; how many. */
static int threads(pid_t pid, char *names, size_t len)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;
	names[0] = '\0';
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char comm[32] = "";
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
		FILE *f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		if (f)
			fclose(f);
		size_t off = strlen(names);
		snprintf(names + off, len - off, "%s%s", n ? "," : "", comm);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

static int child_fn(void *arg)
{
	(void)arg;
	enum { N = 4096, SZ = 2048 };
	static unsigned char *v[N];
	for (int r = 0; r < 2; r++) {
		for (int i = 0; i < N; i++) {
			if ((v[i] = malloc(SZ)) == NULL)
				return 20;
			memset(v[i], (unsigned char)i, SZ);
		}
		for (int i = 0; i < N; i++) {
			if (v[i][SZ - 1] != (unsigned char)i)
				return 21;
			free(v[i]);
		}
	}
	for (int i = 0; i < 64; i++) {
		char *p = malloc(1 << 20);
		if (p == NULL)
			return 22;
		memset(p, 1, 1 << 20);
		free(p);
	}
	return 7;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	int flags = SIGCHLD | (strcmp(argv[1], "vm") == 0 ? CLONE_VM : 0);
	int purger = strcmp(argv[2], "purger") == 0;
	char names[512];
	int n = purger ? 64 : 4;
	void *v[64];
	for (int i = 0; i < n; i++) {
		v[i] = malloc(256 << 10);
		memset(v[i], 1, 256 << 10);
	}
	for (int i = 0; i < n; i++)
		free(v[i]);
	if (purger) {
		for (int i = 0; i < 200; i++) {
			threads(getpid(), names, sizeof(names));
			if (strstr(names, "jmalloc-purge"))
				break;
			usleep(10 * 1000);
		}
		if (!strstr(names, "jmalloc-purge")) {
			fprintf(stderr, "the purger never started: %s\n", names);
			return 3;
		}
	}
	size_t size = 1 << 20;
	char *stack = malloc(size);
	pid_t c = clone(child_fn, stack + size, flags, NULL);
	if (c < 0) {
		perror("clone");
		return 2;
	}
	for (int i = 0; i < 1000; i++) {
		int st;
		if (waitpid(c, &st, WNOHANG) == c) {
			if (WIFEXITED(st))
				printf("child %d: exited %d\n", (int)c, WEXITSTATUS(st));
			else
				printf("child %d: killed by signal %d\n", (int)c, WTERMSIG(st));
			return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : 1;
		}
		usleep(10 * 1000);
	}
	n = threads(c, names, sizeof(names));
	printf("child %d: alive after 10 s, %d threads: %s\n", (int)c, n, names);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	return 1;
}
