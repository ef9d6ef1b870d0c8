/*
 * jsonline.h: a quick reader for the JSON lines jmstatd writes, for jmctl,
 * which reads thousands of rows in a reply (common/jsonline.c).
 */
#ifndef JM_JSONLINE_H
#define JM_JSONLINE_H

#include <jansson.h>
#include <stdbool.h>

/* The object or array line holds, the tree json_loads(line, 0, ...)
 * would give; NULL when line holds anything this reader does not take
 * (then json_loads() reads it: the same tree, or its error). */
json_t *jm_jsonline_read(const char *line);

#endif
