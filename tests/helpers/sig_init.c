/*
 * sig_init: a handler of an asynchronous signal (SIGWINCH) that allocates,
 * installed before the program's first allocation. Run under
 * `strace -e inject=ftruncate:signal=SIGWINCH` (tests/preload/sig_init),
 * the signal arrives while that first malloc initialises the allocator
 * (the ftruncate that sizes the stats segment's file). Prints "ok N", N
 * the handler's runs (its allocations succeeded), or exits non-zero.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t handled, failed;

static void on_winch(int sig)
{
	(void)sig;
	char *p = malloc(100);
	char *q = malloc(40000);
	if (p == NULL || q == NULL)
		failed = 1;
	else
		p[0] = q[0] = 1;
	free(q);
	free(p);
	handled++;
}

int main(void)
{
	if (signal(SIGWINCH, on_winch) == SIG_ERR)
		return 3;
	char *a = malloc(64);   /* the first allocation of main */
	if (a == NULL)
		return 4;
	memset(a, 2, 64);
	free(a);
	if (failed)
		return 5;
	printf("ok %d\n", (int)handled);
	return 0;
}
