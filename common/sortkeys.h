/*
 * sortkeys.h: the keys a list of processes is sorted by, as the user names
 * them (`jmctl ps -s KEY`, `jmctl top -s KEY` and its process view), each
 * with the field of a process in the protocol's replies (docs/protocol.md)
 * it sorts on. Declared once here, as data, so that ps and top offer the
 * same keys.
 */
#ifndef JM_SORTKEYS_H
#define JM_SORTKEYS_H

#include <stdbool.h>
#include <stddef.h>

struct jm_sort_key {
	const char *name;   /* as the user types it */
	const char *field;  /* the reply's field it sorts on */
	bool text;          /* compared as text, else as a number */
	bool desc;          /* largest first */
};

/* The process keys, pid first (ps's default); ended by a NULL name. */
extern const struct jm_sort_key jm_proc_sort_keys[];

/* The key named name in keys, or NULL. */
const struct jm_sort_key *jm_sort_find(const struct jm_sort_key *keys, const char *name);
/* "pid, user, ..." into buf, for messages. */
const char *jm_sort_names(char *buf, size_t size, const struct jm_sort_key *keys);

#endif
