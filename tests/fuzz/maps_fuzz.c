/*
 * maps_fuzz.c: the libFuzzer target of jmctl's symbolizer input path
 * (jmctl/symbolize.c): the /proc/PID/maps parser, the modules it reports
 * to libdwfl, address lookups on them, and the parser of the frames the
 * daemon sends. Files are never opened (jm_sym_from_maps with open_files
 * false): what is fuzzed is our handling of the text. Built and run by
 * tests/fuzz/maps.test.sh.
 *
 * What must hold for every input: the mappings come out sorted, not
 * overlapping, each with start < end and a NUL-free path shorter than
 * JM_MAPS_PATH_MAX; jm_maps_find() finds every mapping by its first and
 * last byte and finds nothing between two; a lookup never fails but for
 * memory; a frame string parses only as "0x" and 1 to 16 hex digits.
 */
#include "symbolize.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond)
{
	if (!cond)
		__builtin_trap();
}

static void lookup(struct jm_sym *s, uint64_t addr)
{
	struct jm_frame f;

	require(jm_sym_lookup(s, addr, &f) == 0);
	require(f.addr == addr);
	require((f.module == NULL) == (f.path == NULL));
	if (f.path)
		require(strlen(f.path) < JM_MAPS_PATH_MAX);
	jm_frame_free(&f);
}

static void check_frame_parser(const uint8_t *data, size_t size)
{
	char s[40];
	size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
	uint64_t addr = 0;

	memcpy(s, data, n);
	s[n] = '\0';
	if (jm_frame_parse(s, &addr) == 0) {
		char back[24];
		size_t digits = strlen(s) - 2;

		require(s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && digits >= 1 && digits <= 16);
		snprintf(back, sizeof back, "%llx", (unsigned long long)addr);
		require(strtoull(s + 2, NULL, 16) == addr);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jm_maps maps;
	struct jm_sym *s;

	check_frame_parser(data, size);

	require(jm_maps_parse((const char *)data, size, &maps) == 0);
	for (size_t i = 0; i < maps.n; i++) {
		const struct jm_map *m = &maps.v[i];

		require(m->start < m->end && m->path != NULL);
		require(strlen(m->path) < JM_MAPS_PATH_MAX);
		require(i == 0 || maps.v[i - 1].end <= m->start);
		require(jm_maps_find(&maps, m->start) == m);
		require(jm_maps_find(&maps, m->end - 1) == m);
		if (i > 0 && maps.v[i - 1].end < m->start)
			require(jm_maps_find(&maps, m->start - 1) == NULL);
	}
	jm_maps_free(&maps);

	require(jm_sym_from_maps((const char *)data, size, false, &s) == 0);
	for (size_t i = 0; i + 8 <= size && i < 64; i += 8) {
		uint64_t a;

		memcpy(&a, data + i, sizeof a);
		lookup(s, a);
	}
	lookup(s, 0);
	lookup(s, 1);
	lookup(s, UINT64_MAX);
	jm_sym_close(s);
	return 0;
}
