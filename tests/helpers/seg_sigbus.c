/*
 * seg_sigbus: SIGBUS cases of the stats segment's handler (liballoc/stats.c,
 * seg_bus), run under LD_PRELOAD with a stats directory.
 *
 *   seg_sigbus purger GO   frees 32 MiB (the purger starts and wakes on
 *                          schedule while they are dirty), says "ready",
 *                          then waits, touching no allocator function,
 *                          until the file GO exists (the test shrinks the
 *                          segment first) and the purger has woken twice
 *                          more: its own reads and writes of the segment
 *                          are the first after the cut. Says "survived"
 *                          and exits 0; 3 if the purger was not seen.
 *   seg_sigbus async       sends itself a SIGBUS as the kernel sends an
 *                          action-optional machine check (BUS_MCEERR_AO:
 *                          no fault to make again); says "survived" and
 *                          exits 0 if it lives.
 *   seg_sigbus resignal    saves SIGBUS's handler with signal() and puts
 *                          it back so (no SA_SIGINFO: a handler taking
 *                          siginfo finds whatever the stack held there),
 *                          then kill(getpid(), SIGBUS); "survived" and 0
 *                          if it lives.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* The purger's thread id (its name is jmalloc-purge), or 0. */
static long purger_tid(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long tid = 0;
	while (d && (e = readdir(d)) != NULL) {
		char path[96], comm[32] = "";
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof comm, f) && strncmp(comm, "jmalloc-purge", 13) == 0)
			tid = atol(e->d_name);
		fclose(f);
	}
	if (d)
		closedir(d);
	return tid;
}

/* The thread's voluntary context switches, read with no allocation; -1
 * when it is gone. */
static long switches(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *p = strstr(buf, "\nvoluntary_ctxt_switches:");
	if (!p)
		return -1;
	p += 25;
	while (*p == ' ' || *p == '\t')
		p++;
	long v = 0;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	return v;
}

static int purger(const char *go)
{
	enum { N = 512, SZ = 64 << 10 };
	static void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = malloc(SZ);
		memset(p[i], 1, SZ);
	}
	for (int i = 0; i < N; i++)
		free(p[i]);
	long tid = 0;
	for (int i = 0; i < 200 && (tid = purger_tid()) == 0; i++) {
		free(malloc(SZ));   /* a free that gives back starts it */
		nap_ms(20);
	}
	if (tid == 0) {
		printf("no purger\n");
		return 3;
	}
	char path[96];
	snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
	printf("ready %d purger %ld\n", getpid(), tid);
	fflush(stdout);
	struct stat st;
	while (stat(go, &st) != 0)
		nap_ms(10);
	long from = switches(path), now = from;
	for (int i = 0; i < 3000 && now >= 0 && now < from + 2; i++) {
		nap_ms(10);
		now = switches(path);
	}
	if (from < 0 || now < from + 2) {
		printf("the purger did not wake (%ld -> %ld)\n", from, now);
		return 3;
	}
	printf("survived\n");
	return 0;
}

/* Leaves `c` in the stack below the caller's frame, where a signal's
 * frame goes next. */
static __attribute__((noinline)) void stain_stack(int c)
{
	volatile char pad[32768];
	memset((char *)pad, c, sizeof pad);
	__asm__ volatile("" : : "r"(pad) : "memory");
}

int main(int argc, char **argv)
{
	free(malloc(100));   /* the segment is mapped, the handler set */
	if (argc == 3 && !strcmp(argv[1], "purger"))
		return purger(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "async")) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		si.si_signo = SIGBUS;
		si.si_code = BUS_MCEERR_AO;
		si.si_addr = &si;
		if (syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGBUS, &si) != 0) {
			perror("rt_tgsigqueueinfo");
			return 77;
		}
		printf("survived\n");
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "resignal")) {
		sighandler_t h = signal(SIGBUS, SIG_IGN);
		signal(SIGBUS, h);
		/* syscall's symbol bound first: the lazy binding's stack use
		 * would write over the stain. */
		long pid = syscall(SYS_getpid);
		stain_stack(0x7f);
		syscall(SYS_kill, pid, SIGBUS);
		printf("survived\n");
		return 0;
	}
	fprintf(stderr, "usage: seg_sigbus purger GO | async | resignal\n");
	return 2;
}
