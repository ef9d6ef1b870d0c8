/*
 * sitelib.c: a shared library that allocates, dlopen'ed by dlopener.c
 * (tests/sites/dlopen.test.sh). Built by the test with plain
 * `cc -O2 -g -shared -fPIC`.
 */
#include <stdlib.h>
#include <string.h>

static void *lib_objs[65536];

__attribute__((noinline)) size_t sitelib_hold(size_t count, size_t size)
{
	size_t i;

	if (count > sizeof lib_objs / sizeof lib_objs[0])
		count = sizeof lib_objs / sizeof lib_objs[0];
	for (i = 0; i < count; i++) {
		lib_objs[i] = malloc(size);
		if (lib_objs[i] == NULL)
			abort();
		memset(lib_objs[i], 0x3c, size < 32 ? size : 32);
	}
	return i;
}
