/*
 * evil_names.c: a program whose debug information names its source file
 * with terminal escape sequences (the #line below, written by
 * tests/stress/users.test.sh in front of this file), and that fragments
 * its heap from one function so that an alert names that site. Built by
 * the test with plain `cc -O2 -g`; prints "ready", then sleeps until
 * killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *objs[32768];

__attribute__((noinline)) void fragment_here(void)
{
	for (size_t i = 0; i < 32768; i++) {
		objs[i] = malloc(1024);
		if (!objs[i])
			abort();
		memset(objs[i], 1, 16);
	}
	for (size_t i = 0; i < 32768; i++)
		if (i % 4)
			free(objs[i]);
}

int main(void)
{
	volatile void *first = malloc(1);

	fragment_here();
	printf("ready %p\n", (void *)first);
	fflush(stdout);
	for (;;)
		pause();
}
