/*
 * sites_deep: two allocation sites whose call stacks are the same in
 * their five innermost frames and differ only in the sixth (path_a() or
 * path_b()), for tests/cli/top.test.sh: `jmctl top` must print enough
 * frames to tell them apart. Both fragment the 192-byte bin (three of
 * every four objects freed), path_a() with twice the objects of path_b().
 * Prints "ready PID" once done, then sleeps until killed.
 *
 * Every function keeps a pointer in a global array after its call, so
 * that no call is a tail call and every frame stays on the stack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SIZE 192
#define COUNT_A 120000
#define COUNT_B 60000

static void *objs[COUNT_A + COUNT_B];
static size_t nobjs;
volatile int sink;

__attribute__((noinline)) void *deep_leaf(void)
{
	void *p = malloc(SIZE);
	if (!p)
		abort();
	((volatile char *)p)[0] = 1;
	return p;
}

__attribute__((noinline)) void *deep_4(void) { void *p = deep_leaf(); sink++; return p; }
__attribute__((noinline)) void *deep_3(void) { void *p = deep_4(); sink++; return p; }
__attribute__((noinline)) void *deep_2(void) { void *p = deep_3(); sink++; return p; }
__attribute__((noinline)) void *deep_1(void) { void *p = deep_2(); sink++; return p; }

__attribute__((noinline)) void path_a(void)
{
	for (size_t i = 0; i < COUNT_A; i++) {
		objs[nobjs++] = deep_1();
		sink++;
	}
}

__attribute__((noinline)) void path_b(void)
{
	for (size_t i = 0; i < COUNT_B; i++) {
		objs[nobjs++] = deep_1();
		sink++;
	}
}

int main(void)
{
	path_a();
	path_b();
	for (size_t i = 0; i < nobjs; i++)
		if (i % 4 != 0) {
			free(objs[i]);
			objs[i] = NULL;
		}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
