/*
 * pprof_modules.c: a process's modules (its executable mappings), for the
 * profiles of pprof.c: the rows sorted by start and the one that holds an
 * address found, and a build-id written as hex.
 *
 * The rows are a segment's module table (struct jmstat_module, jmstatd) or
 * what jmctl reads back from a `sites` reply (its own struct): any row
 * that opens with its uint64_t start and limit, [start, limit) the
 * addresses it covers; jm_pprof_sort_rows() and jm_pprof_row_at() take
 * their stride.
 */
#include "pprof.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(offsetof(struct jmstat_module, start) == 0 &&
               offsetof(struct jmstat_module, limit) == sizeof(uint64_t),
               "a module row opens with its start and limit");

void jm_pprof_hex(const uint8_t *id, uint32_t len, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (uint32_t i = 0; i < len; i++) {
		hex[2 * i] = digits[id[i] >> 4];
		hex[2 * i + 1] = digits[id[i] & 15];
	}
	hex[2 * len] = '\0';
}

static uint64_t word(const void *row, size_t i)
{
	uint64_t v;

	memcpy(&v, (const char *)row + i * sizeof v, sizeof v);
	return v;
}

static int by_start(const void *a, const void *b)
{
	uint64_t x = word(a, 0), y = word(b, 0);

	return (x > y) - (x < y);
}

void jm_pprof_sort_rows(void *rows, size_t n, size_t stride)
{
	if (n > 1)
		qsort(rows, n, stride, by_start);
}

const void *jm_pprof_row_at(const void *rows, size_t n, size_t stride, uint64_t pc)
{
	size_t lo = 0, hi = n;
	const char *row;

	/* The last row starting at or below pc; rows may overlap in a
	 * hostile table: then it is one of them, never out of bounds. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (word((const char *)rows + mid * stride, 0) <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	row = (const char *)rows + (lo - 1) * stride;
	return pc < word(row, 1) ? row : NULL;
}

void jm_pprof_sort_modules(struct jmstat_module *modules, uint32_t n)
{
	jm_pprof_sort_rows(modules, n, sizeof *modules);
}

const struct jmstat_module *jm_pprof_module_at(const struct jmstat_module *modules, uint32_t n,
                                               uint64_t pc)
{
	return jm_pprof_row_at(modules, n, sizeof *modules, pc);
}
