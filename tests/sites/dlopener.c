/*
 * dlopener.c: dlopens the library named on its command line, calls its
 * sitelib_hold(COUNT, SIZE), prints "ready" and waits to be killed
 * (tests/sites/dlopen.test.sh). Built by the test with `cc -O2 -g`.
 *
 *   dlopener LIBRARY COUNT SIZE
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t (*hold)(size_t, size_t);
	void *lib;

	if (argc != 4) {
		fprintf(stderr, "usage: %s LIBRARY COUNT SIZE\n", argv[0]);
		return 2;
	}
	lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	*(void **)&hold = dlsym(lib, "sitelib_hold");
	if (hold == NULL) {
		fprintf(stderr, "dlsym: %s\n", dlerror());
		return 1;
	}
	hold(strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0));
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
