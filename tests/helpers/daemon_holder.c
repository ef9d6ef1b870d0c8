/*
 * daemon_holder: a program for the daemon's end-to-end tests, run under
 * LD_PRELOAD=libjmalloc.so (it is not linked with the allocator). It
 * allocates exactly what it is told and holds it, so that a test can check
 * the daemon's counters against known numbers.
 *
 * It reads commands, one per line, on stdin and answers each on stdout:
 *   alloc SIZE N   malloc(SIZE) N times, touch each region, hold them -> "ok"
 *   free           free every region held                             -> "ok"
 *   pid            -> its pid
 *   exit           exit(0)
 * At start it makes one malloc/free pair (so that the allocator and its
 * segment are set up) and prints "ready PID".
 *
 * Between commands it makes no allocation of its own: no stdio, and the
 * table of held pointers is mapped with mmap, so that the allocator's
 * counters move only by what the commands ask for.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lineio.h"

#define MAX_HELD (1u << 20)

static void **held;
static size_t nheld;

int main(void)
{
	held = mmap(NULL, MAX_HELD * sizeof(void *), PROT_READ | PROT_WRITE,
	            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (held == MAP_FAILED)
		return 2;
	free(malloc(1));
	say_num("ready ", (unsigned long)getpid());
	unsigned long size = 0, n = 0;
	for (;;) {
		switch (command(&size, &n)) {
		case CMD_EOF:
		case CMD_EXIT:
			return 0;
		case CMD_ALLOC:
			if (n > MAX_HELD - nheld) {
				say("error: too many\n");
				break;
			}
			for (unsigned long i = 0; i < n; i++) {
				char *p = malloc(size);
				if (!p) {
					say("error: malloc failed\n");
					break;
				}
				p[0] = 1;
				held[nheld++] = p;
			}
			say("ok\n");
			break;
		case CMD_FREE:
			while (nheld)
				free(held[--nheld]);
			say("ok\n");
			break;
		case CMD_PID:
			say_num("", (unsigned long)getpid());
			break;
		default:
			say("error: unknown command\n");
		}
	}
}
