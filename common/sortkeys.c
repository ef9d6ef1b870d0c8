/*
 * sortkeys.c: the process sort keys (sortkeys.h).
 */
#include "sortkeys.h"

#include <stdio.h>
#include <string.h>

const struct jm_sort_key jm_proc_sort_keys[] = {
	{ "pid",       "pid",          false, false },
	{ "user",      "user",         true,  false },
	{ "exe",       "exe",          true,  false },
	{ "allocated", "allocated",    false, true },
	{ "active",    "active",       false, true },
	{ "mapped",    "mapped",       false, true },
	{ "dirty",     "dirty",        false, true },
	{ "wasted",    "small_wasted", false, true },
	{ "frag",      "frag_ratio",   false, true },
	{ "rate",      "alloc_rate",   false, true },
	{ "age",       "age",          false, true },
	{ NULL, NULL, false, false }
};

const struct jm_sort_key *jm_sort_find(const struct jm_sort_key *keys, const char *name)
{
	for (; keys->name; keys++)
		if (strcmp(keys->name, name) == 0)
			return keys;
	return NULL;
}

const char *jm_sort_names(char *buf, size_t size, const struct jm_sort_key *keys)
{
	size_t off = 0;

	buf[0] = '\0';
	for (; keys->name && off < size; keys++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? ", " : "", keys->name);
	return buf;
}
