/*
 * twolibs.c: the module table kept current across dlopen and dlclose, for
 * tests/pprof/dlopen.test.sh. Built by the test with `cc -O2 -g`.
 *
 *   twolibs LIB_A LIB_B
 *
 * Holds 4 MiB from main first (so that the allocator has sampled, and
 * built its module table, before any library is loaded), then dlopens
 * LIB_A and calls its sitelib_hold(8192, 512), then LIB_B's
 * sitelib_hold_b(8192, 512), prints "ready"; on SIGUSR1 it dlcloses LIB_A
 * (its objects stay allocated: the library's code goes, the memory does
 * not), allocates 4 MiB more from main, and prints "closed".
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t asked;
static void *keep[2048];

static void on_usr1(int sig)
{
	asked = 1;
}

__attribute__((noinline)) static void hold_main(size_t from, size_t n)
{
	for (size_t i = from; i < from + n; i++) {
		keep[i] = malloc(4096);
		memset(keep[i], 1, 64);
	}
}

static void *open_and_hold(const char *path, const char *fn)
{
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	size_t (*hold)(size_t, size_t);
	if (lib == NULL) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		exit(1);
	}
	*(void **)&hold = dlsym(lib, fn);
	if (hold == NULL) {
		fprintf(stderr, "dlsym %s: %s\n", fn, dlerror());
		exit(1);
	}
	hold(8192, 512);
	return lib;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s LIB_A LIB_B\n", argv[0]);
		return 2;
	}
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGUSR1, on_usr1);
	hold_main(0, 1024);
	void *a = open_and_hold(argv[1], "sitelib_hold");
	open_and_hold(argv[2], "sitelib_hold_b");
	printf("ready\n");
	fflush(stdout);
	while (!asked)
		sigsuspend(&old);
	dlclose(a);
	hold_main(1024, 1024);
	printf("closed\n");
	fflush(stdout);
	for (;;)
		pause();
}
