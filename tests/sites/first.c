/*
 * first.c: the program's first allocations are 8 huge ones from hold();
 * for tests/sites/first.test.sh. Prints "ready", then runs until killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *objs[8];

__attribute__((noinline)) void hold(void)
{
	for (int i = 0; i < 8; i++) {
		objs[i] = malloc(4u << 20);
		if (objs[i] == NULL)
			abort();
		memset(objs[i], 0x11, 64);
	}
}

int main(void)
{
	hold();
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
