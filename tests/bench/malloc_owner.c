/*
 * malloc_owner: prints the path of the shared object whose malloc this
 * process calls. run.sh uses it to check that an allocator's LD_PRELOAD
 * really took effect (the dynamic loader only warns when it cannot preload
 * a library, and the benchmark would silently measure glibc).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	void *(*volatile fn)(size_t) = malloc;
	Dl_info info;
	if (dladdr((void *)fn, &info) == 0 || info.dli_fname == NULL) {
		fprintf(stderr, "malloc_owner: dladdr failed\n");
		return 1;
	}
	printf("%s\n", info.dli_fname);
	return 0;
}
