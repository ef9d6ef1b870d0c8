/* realloc_steps STEP: grows one buffer by realloc, STEP bytes at a time,
 * each step's bytes written, until realloc fails; prints how far it got
 * (MiB). tests/preload/rlimit_as.test.sh and rlimit_data.test.sh run it
 * under a limit, preloaded and not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: realloc_steps STEP\n");
		return 2;
	}
	size_t step = strtoull(argv[1], NULL, 0), n = 0;
	char *p = NULL;
	for (;;) {
		char *q = realloc(p, n + step);
		if (q == NULL)
			break;
		memset(q + n, 1, step);
		p = q;
		n += step;
	}
	printf("%zu\n", n >> 20);
	return 0;
}
