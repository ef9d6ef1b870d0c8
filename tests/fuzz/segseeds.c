/*
 * segseeds.c: writes the seed corpus of the segment reader's fuzz target,
 * one file per case of segcases.h (valid, truncated, oversized, huge
 * counts, offsets outside, overlapping sections, odd seq, wrong version,
 * ...), named after the case. Each case is first parsed: a result other
 * than the expected one fails, so that every seed still reaches the path
 * it is named for.
 *
 *   segseeds DIR
 */
#include "segcases.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	int failures = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < SEG_NCASES; i++) {
		const struct seg_case *c = &seg_cases[i];
		struct jm_seg seg;
		char path[4096];
		size_t len, cap;
		unsigned char *buf = seg_case_build(c, &len, &cap);
		int got = jm_seg_parse(buf, len, &seg);
		FILE *f;

		jm_seg_free(&seg);
		if (got != c->want) {
			fprintf(stderr, "seed %s: jm_seg_parse gives %d (%s), expected %d (%s)\n",
			        c->name, got, jm_seg_strerror(got), c->want, jm_seg_strerror(c->want));
			failures++;
		}
		snprintf(path, sizeof path, "%s/%s", argv[1], c->name);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
			perror(path);
			return 1;
		}
		free(buf);
	}
	printf("%zu seeds written to %s\n", SEG_NCASES, argv[1]);
	return failures ? 1 : 0;
}
