/*
 * site_fill: a program that fills the allocator's site table, for the
 * pprof benchmark (tests/bench/pprof_serve.py) and tests. Run under
 * LD_PRELOAD with a small prof_sample (4096):
 *
 *   site_fill DEPTH      allocates from 2^DEPTH distinct call stacks (each
 *                        a path of DEPTH calls through left() or right()),
 *                        16 x 4 KiB from each, frees them, says "ready" and
 *                        sleeps until killed
 *
 * Each level is two frames (descend and left or right), each call followed
 * by an empty asm so that none is a tail call: the innermost 24 frames the
 * allocator keeps tell the paths apart up to DEPTH 10 (1024 stacks, the
 * table's size).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void descend(int depth, unsigned path);

__attribute__((noinline)) static void left(int depth, unsigned path)
{
	descend(depth, path);
	__asm__ volatile("");
}

__attribute__((noinline)) static void right(int depth, unsigned path)
{
	descend(depth, path);
	__asm__ volatile("");
}

__attribute__((noinline)) static void descend(int depth, unsigned path)
{
	if (depth == 0) {
		void *p[16];
		for (int i = 0; i < 16; i++) {
			p[i] = malloc(4096);
			if (p[i] == NULL)
				abort();
			memset(p[i], 1, 64);
		}
		for (int i = 0; i < 16; i++)
			free(p[i]);
		return;
	}
	if (path & 1)
		left(depth - 1, path >> 1);
	else
		right(depth - 1, path >> 1);
	__asm__ volatile("");
}

int main(int argc, char **argv)
{
	int depth = argc > 1 ? atoi(argv[1]) : 10;
	if (depth < 0 || depth > 16) {
		fprintf(stderr, "usage: %s DEPTH (0..16)\n", argv[0]);
		return 2;
	}
	for (unsigned path = 0; path < (1u << depth); path++)
		descend(depth, path);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
