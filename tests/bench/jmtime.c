/*
 * jmtime: runs one command and reports its wall time and peak RSS.
 *
 *   jmtime -o OUT [-i STDIN] [-t SECONDS] [-e VAR=VALUE]... -- CMD [ARG]...
 *
 * The variables given with -e are set in the child only (so that jmtime
 * itself never runs under the preloaded allocator). The child's environment
 * is built before the fork, so that the child only execs: a putenv there
 * allocated in the forked copy of jmtime, about 10 page faults that
 * ru_minflt charged to every run with -e (every preloaded allocator) and
 * not to glibc's. The child's stdout and
 * stderr are inherited. OUT receives one line, "WALL_SECONDS MAXRSS_KIB
 * STATUS CPU_SECONDS", where STATUS is the exit code, 128+N for a death by
 * signal N, or 124 when the time limit killed it, and CPU_SECONDS is user
 * plus system time (which shows whether the run had the CPUs to itself). Peak RSS is ru_maxrss from wait4(),
 * which covers the child and the descendants it waited for (the largest of
 * them: cc1plus under g++). jmtime exits with STATUS too.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	if (child > 0)
		kill(-child, SIGKILL);
}

/* environ with each VAR=VALUE of envs[0..n) set: replaced where VAR is
 * there, appended where not. */
static char **child_environ(char **envs, int n)
{
	extern char **environ;
	size_t have = 0;
	while (environ[have])
		have++;
	char **env = calloc(have + (size_t)n + 1, sizeof *env);
	if (env == NULL) {
		perror("jmtime");
		exit(2);
	}
	memcpy(env, environ, have * sizeof *env);
	for (int i = 0; i < n; i++) {
		size_t klen = strcspn(envs[i], "=") + 1;
		size_t j = 0;
		while (j < have && strncmp(env[j], envs[i], klen) != 0)
			j++;
		env[j] = envs[i];
		if (j == have)
			have++;
	}
	return env;
}

static void usage(void)
{
	fprintf(stderr, "usage: jmtime -o OUT [-i STDIN] [-t SECONDS] [-e VAR=VALUE]... -- CMD [ARG]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *out = NULL, *in = NULL;
	unsigned limit = 0;
	char **envs = calloc((size_t)argc, sizeof *envs);
	int nenv = 0, opt;

	while ((opt = getopt(argc, argv, "+o:i:t:e:")) != -1) {
		switch (opt) {
		case 'o': out = optarg; break;
		case 'i': in = optarg; break;
		case 't': limit = (unsigned)atoi(optarg); break;
		case 'e': envs[nenv++] = optarg; break;
		default: usage();
		}
	}
	if (out == NULL || optind >= argc)
		usage();

	char **env = child_environ(envs, nenv);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	child = fork();
	if (child < 0) {
		perror("jmtime: fork");
		return 2;
	}
	if (child == 0) {
		/* Its own process group, so that a timeout kills g++'s children too. */
		setpgid(0, 0);
		if (in != NULL) {
			int fd = open(in, O_RDONLY);
			if (fd < 0 || dup2(fd, 0) < 0) {
				fprintf(stderr, "jmtime: %s: %s\n", in, strerror(errno));
				_exit(127);
			}
			close(fd);
		}
		execvpe(argv[optind], &argv[optind], env);
		fprintf(stderr, "jmtime: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	setpgid(child, child);
	if (limit > 0) {
		signal(SIGALRM, on_alarm);
		alarm(limit);
	}

	int wstatus;
	struct rusage ru;
	while (wait4(child, &wstatus, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("jmtime: wait4");
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	alarm(0);

	int status;
	if (timed_out)
		status = 124;
	else if (WIFEXITED(wstatus))
		status = WEXITSTATUS(wstatus);
	else
		status = 128 + WTERMSIG(wstatus);
	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	FILE *f = fopen(out, "w");
	if (f == NULL) {
		perror(out);
		return 2;
	}
	double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	fprintf(f, "%.4f %ld %d %.3f %ld\n", wall, ru.ru_maxrss, status, cpu, ru.ru_minflt);
	fclose(f);
	return status;
}
