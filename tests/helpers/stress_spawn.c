/*
 * stress_spawn: many short-lived processes for the daemon's stress tests
 * (tests/stress/processes.test.sh, restart.test.sh). Run it under
 * LD_PRELOAD=libjmalloc.so: every process it starts is a new exec of
 * itself (so each maps the allocator and publishes its own segment).
 *
 *   stress_spawn run N PARALLEL [SECONDS]
 *       starts N children, at most PARALLEL at once, spread over SECONDS
 *       (default: as fast as they go); prints one line of figures:
 *       "started N exited A killed K other O seconds S" (_exit counts as
 *       exited).
 *   stress_spawn child I
 *       allocates a little (small, large), lives a few milliseconds, then
 *       ends one of three ways, by I % 3: exit(0), which removes its
 *       segment; SIGKILL on itself, which leaves the segment for jmstatd
 *       (or the next preloaded process) to remove; _exit(0), which skips
 *       the exit handlers and also leaves it.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int child(unsigned long i)
{
	void *keep[64];
	struct timespec nap = { 0, (long)(1 + i % 5) * 1000000L };

	for (int k = 0; k < 64; k++) {
		keep[k] = malloc(16 + (size_t)k * 48);
		if (keep[k])
			memset(keep[k], k, 16);
	}
	free(malloc(64 << 10));
	nanosleep(&nap, NULL);
	switch (i % 3) {
	case 0:
		for (int k = 0; k < 64; k++)
			free(keep[k]);
		exit(0);
	case 1:
		raise(SIGKILL);
		break;
	}
	_exit(0);
}

static int run(const char *self, unsigned long n, unsigned long parallel, double seconds)
{
	unsigned long started = 0, running = 0, normal = 0, killed = 0, other = 0;
	double t0 = now();

	while (started < n || running > 0) {
		int status;
		pid_t pid;

		while (started < n && running < parallel &&
		       (seconds <= 0 || now() - t0 >= seconds * (double)started / (double)n)) {
			char arg[32];
			char *argv[] = { (char *)self, "child", arg, NULL };
			snprintf(arg, sizeof arg, "%lu", started);
			if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0) {
				perror("posix_spawn");
				break;
			}
			started++;
			running++;
		}
		pid = running ? waitpid(-1, &status, 0) : 0;
		if (pid > 0) {
			running--;
			if (WIFEXITED(status))
				normal++;
			else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
				killed++;
			else
				other++;
		} else if (running == 0 && started < n) {
			struct timespec nap = { 0, 1000000 };
			nanosleep(&nap, NULL);
		} else if (pid < 0 && errno != EINTR) {
			perror("waitpid");
			return 1;
		}
	}
	/* _exit(0) children count as normal exits. */
	printf("started %lu exited %lu killed %lu other %lu seconds %.2f\n", started, normal, killed,
	       other, now() - t0);
	return other ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "child") == 0)
		return child(strtoul(argv[2], NULL, 10));
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "run") == 0)
		return run(argv[0], strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10),
		           argc == 5 ? strtod(argv[4], NULL) : 0.0);
	fprintf(stderr, "usage: %s run N PARALLEL [SECONDS] | child I\n", argv[0]);
	return 2;
}
