/*
 * raw_fork: children that run no fork handler of glibc's: made by the
 * system call through syscall() (as bubblewrap's raw_clone does) or by
 * glibc's _Fork(), after the parent's thread has used its cache.
 *   raw_fork clone|fork|clone3|_Fork [threads]
 * clone: syscall(SYS_clone, SIGCHLD, 0, ...); fork: syscall(SYS_fork);
 * clone3: syscall(SYS_clone3, {.exit_signal = SIGCHLD}); _Fork: _Fork().
 * threads: a second thread allocates and frees all along, so that the
 * allocator's locks are held by another thread at the moment of the call.
 * The child allocates and frees small (including regions its inherited
 * cache holds), large and huge regions, checks them, frees the parent's,
 * and exits 7 (_exit). Prints "ok" and exits 0 when the child exited 7.
 *
 *   raw_fork signal fork|_Fork
 * The main thread allocates and frees in a loop (small, large and huge
 * sizes, which take the allocator's locks) while a timer's signal, a
 * millisecond after the last one was handled, runs a handler that forks (fork() or _Fork()) and waits for
 * the child, which only _exits; 300 of them. Under an allocator whose fork
 * handler takes a lock the interrupted code holds, the handler never
 * returns (the test stops it when no child has come for 60 s). With
 * RAW_FORK_PROGRESS_FD=N in the environment, the handler writes a byte to
 * descriptor N after each child (the test's measure of progress). Prints
 * "ok N" and exits 0.
 *   raw_fork signal fork|_Fork alloc
 * The same, and each child mallocs and frees before its _exit: it must
 * exit 0 or, forked while the interrupted code held one of the allocator's
 * locks, abort() (SIGABRT). Prints "ok N, M aborted".
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sched.h>

extern pid_t _Fork(void);

static volatile int stop;

static void *churn(void *arg)
{
	(void)arg;
	void *v[64] = { 0 };
	unsigned i = 0;
	while (!stop) {
		unsigned k = i % 64;
		free(v[k]);
		size_t sz = (i % 7 == 0) ? 40000 + i % 5000 : 16 + i % 3000;
		v[k] = malloc(sz);
		if (v[k])
			memset(v[k], 1, 16);
		i++;
	}
	for (unsigned k = 0; k < 64; k++)
		free(v[k]);
	return NULL;
}

static int child_work(char **parent, int n)
{
	enum { N = 2048 };
	static char *v[N];
	for (int r = 0; r < 2; r++) {
		for (int i = 0; i < N; i++) {
			size_t sz = i % 97 == 0 ? (i % 2 ? 100000 : 3 << 20) : 16 + (size_t)i % 1024;
			if ((v[i] = malloc(sz)) == NULL)
				return 20;
			memset(v[i], (unsigned char)i, 16);
			v[i][sz - 1] = (char)i;
		}
		for (int i = 0; i < N; i++) {
			if (v[i][0] != (char)i)
				return 21;
			free(v[i]);
		}
	}
	for (int i = 0; i < n; i++)
		free(parent[i]);
	char *s = strdup("the child allocates");
	if (s == NULL)
		return 22;
	free(s);
	return 7;
}

static pid_t make_child(const char *how)
{
	if (strcmp(how, "clone") == 0)
		return (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (strcmp(how, "fork") == 0)
		return (pid_t)syscall(SYS_fork);
	if (strcmp(how, "clone3") == 0) {
		struct clone_args ca;
		memset(&ca, 0, sizeof(ca));
		ca.exit_signal = SIGCHLD;
		return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	}
	if (strcmp(how, "_Fork") == 0)
		return _Fork();
	fprintf(stderr, "raw_fork: unknown way %s\n", how);
	exit(2);
}

static int use_fork_fn; /* 0 fork(), 1 _Fork() */
static int child_allocates;
static volatile int forks, aborted, bad, bad_status;
static int progress_fd = -1;

static void on_timer(int sig)
{
	(void)sig;
	if (forks >= 300)
		return;
	int saved = errno;
	pid_t c = use_fork_fn ? _Fork() : fork();
	if (c == 0) {
		if (child_allocates) {
			char *p = malloc(100 + (size_t)forks);
			if (p == NULL)
				_exit(1);
			p[0] = 1;
			free(p);
		}
		_exit(0);
	}
	if (c > 0) {
		int st;
		while (waitpid(c, &st, 0) < 0 && errno == EINTR)
			;
		forks++;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT)
			aborted++;
		else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			bad++;
			bad_status = st;
		}
		if (progress_fd >= 0 && write(progress_fd, ".", 1) < 0)
			progress_fd = -1;
	}
	/* The next one a millisecond after this one ends: a fork and its
	 * wait can take longer than the period of a repeating timer, whose
	 * signals would then leave the loop no time to run. */
	struct itimerval it = { { 0, 0 }, { 0, 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	errno = saved;
}

static int signal_mode(const char *how, int alloc)
{
	use_fork_fn = strcmp(how, "_Fork") == 0;
	child_allocates = alloc;
	const char *pfd = getenv("RAW_FORK_PROGRESS_FD");
	if (pfd != NULL)
		progress_fd = atoi(pfd);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_timer;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 0 }, { 0, 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	void *v[64] = { 0 };
	unsigned i = 0;
	while (forks < 300) {
		unsigned k = i % 64;
		free(v[k]);
		size_t sz = i % 3 == 0 ? 40000 + i % 20000 : i % 101 == 0 ? 3 << 20 : 16 + i % 4000;
		v[k] = malloc(sz);
		if (v[k] == NULL)
			return 1;
		memset(v[k], 1, 16);
		i++;
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	for (unsigned k = 0; k < 64; k++)
		free(v[k]);
	if (bad) {
		printf("%d of %d children failed otherwise than by abort(): %s %d\n", bad, forks,
		    WIFSIGNALED(bad_status) ? "signal" : "exit status",
		    WIFSIGNALED(bad_status) ? WTERMSIG(bad_status) : WEXITSTATUS(bad_status));
		return 1;
	}
	if (alloc)
		printf("ok %d, %d aborted\n", forks, aborted);
	else
		printf("ok %d\n", forks);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "signal") == 0)
		return signal_mode(argv[2], argc >= 4 && strcmp(argv[3], "alloc") == 0);
	if (argc < 2)
		return 2;
	/* The parent's thread cache holds regions of many classes. */
	enum { N = 512 };
	static char *keep[N];
	for (int i = 0; i < N; i++) {
		keep[i] = malloc(16 + (size_t)i * 8);
		memset(keep[i], 1, 16);
	}
	for (int i = 0; i < N; i += 2) {
		free(keep[i]);
		keep[i] = NULL;
	}
	pthread_t t;
	int threaded = argc >= 3 && strcmp(argv[2], "threads") == 0;
	if (threaded && pthread_create(&t, NULL, churn, NULL) != 0)
		return 2;
	if (threaded)
		usleep(20000);
	pid_t c = make_child(argv[1]);
	if (c < 0) {
		perror("raw_fork: the child");
		return 2;
	}
	if (c == 0)
		_exit(child_work(keep, N));
	int st;
	if (waitpid(c, &st, 0) != c) {
		perror("waitpid");
		return 2;
	}
	if (threaded) {
		stop = 1;
		pthread_join(t, NULL);
	}
	for (int i = 0; i < N; i++)
		free(keep[i]);
	if (WIFSIGNALED(st)) {
		printf("child killed by signal %d\n", WTERMSIG(st));
		return 1;
	}
	if (WEXITSTATUS(st) != 7) {
		printf("child exited %d\n", WEXITSTATUS(st));
		return 1;
	}
	printf("ok\n");
	return 0;
}
