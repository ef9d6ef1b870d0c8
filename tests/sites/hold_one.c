/*
 * hold_one.c: holds COUNT objects of SIZE bytes allocated by one function,
 * for tests/sites/unbiased.test.sh; prints "ready", then runs until killed.
 * Built by the test with plain `cc -O2 -g`.
 *
 *   hold_one SIZE COUNT
 *
 * Its first allocation is a small one of its own (the allocator does not
 * sample a thread's first allocation: see the test).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void **objs;

__attribute__((noinline)) void hold(size_t count, size_t size)
{
	for (size_t i = 0; i < count; i++) {
		objs[i] = malloc(size);
		if (objs[i] == NULL)
			abort();
		memset(objs[i], 0x11, size < 16 ? size : 16);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s SIZE COUNT\n", argv[0]);
		return 2;
	}
	size_t size = strtoul(argv[1], NULL, 0), count = strtoul(argv[2], NULL, 0);
	volatile void *first = malloc(1);

	objs = calloc(count, sizeof *objs);
	if (objs == NULL || first == NULL)
		return 1;
	hold(count, size);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
