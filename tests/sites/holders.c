/*
 * holders.c: a program that holds known amounts of memory from two
 * functions of its own, for tests/sites/holders.test.sh. Built by the test
 * with plain `cc -O2 -g` (no frame pointers): the stacks are unwound
 * through the unwind tables. Each holder stores every pointer in a global
 * array inside its loop, so that its call to malloc is not a tail call and
 * the function keeps its frame.
 *
 *   holders ALPHA_COUNT ALPHA_SIZE BETA_COUNT BETA_SIZE
 *
 * Prints "ready" once both hold their objects; on SIGUSR1 frees alpha's and
 * prints "freed"; runs until killed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void **alpha_objs, **beta_objs;
static volatile sig_atomic_t free_asked;

__attribute__((noinline)) void hold_alpha(size_t count, size_t size)
{
	for (size_t i = 0; i < count; i++) {
		alpha_objs[i] = malloc(size);
		if (alpha_objs[i] == NULL)
			abort();
		memset(alpha_objs[i], 0xa5, size < 64 ? size : 64);
	}
}

__attribute__((noinline)) void hold_beta(size_t count, size_t size)
{
	for (size_t i = 0; i < count; i++) {
		beta_objs[i] = malloc(size);
		if (beta_objs[i] == NULL)
			abort();
		memset(beta_objs[i], 0x5a, size < 64 ? size : 64);
	}
}

__attribute__((noinline)) void release_alpha(size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(alpha_objs[i]);
		alpha_objs[i] = NULL;
	}
}

static void on_usr1(int sig)
{
	free_asked = 1;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s ALPHA_COUNT ALPHA_SIZE BETA_COUNT BETA_SIZE\n", argv[0]);
		return 2;
	}
	size_t na = strtoul(argv[1], NULL, 0), sa = strtoul(argv[2], NULL, 0);
	size_t nb = strtoul(argv[3], NULL, 0), sb = strtoul(argv[4], NULL, 0);
	sigset_t block, old;

	alpha_objs = calloc(na, sizeof *alpha_objs);
	beta_objs = calloc(nb, sizeof *beta_objs);
	if (!alpha_objs || !beta_objs)
		return 1;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGUSR1, on_usr1);
	hold_alpha(na, sa);
	hold_beta(nb, sb);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		while (!free_asked)
			sigsuspend(&old);
		free_asked = 0;
		release_alpha(na);
		printf("freed\n");
		fflush(stdout);
	}
}
