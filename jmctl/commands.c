/*
 * commands.c: what the one-shot commands (ps.c, stats.c, alerts.c) share.
 *
 * Each of them sends one request, then prints the reply: as it came with
 * --json, else as aligned tables in human units. They share the sorting of
 * a reply's JSON objects by a key (the keys themselves are data: the
 * process keys in common/sortkeys.c, which top.c uses too, the bin keys in
 * stats.c, the alert keys in alerts.c), the parsing of "-s KEY [-r] [-a]"
 * and the colour of a fragmentation ratio.
 */
#include "jmctl.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

struct sort_ctx {
	const struct jm_sort_key *key;
	const char *tie;
	bool reverse;
};

static int cmp_field(const json_t *a, const json_t *b, const char *field, bool text)
{
	if (text)
		return strcmp(jm_str(a, field), jm_str(b, field));
	double x = jm_num(a, field), y = jm_num(b, field);
	return (x > y) - (x < y);
}

static int cmp_items(const void *pa, const void *pb, void *arg)
{
	const struct sort_ctx *s = arg;
	const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	int c = cmp_field(a, b, s->key->field, s->key->text);

	if (s->key->desc)
		c = -c;
	if (s->reverse)
		c = -c;
	if (c == 0 && s->tie)
		c = cmp_field(a, b, s->tie, false);
	return c;
}

/* An item with its key and tie read out of it once: a comparison looked
 * both up in each of its two objects by name, and sorting a thousand
 * processes made 20,000 comparisons (an eighth of jmctl ps's
 * instructions). */
struct sort_item {
	double num;              /* the key, a number (jm_num) */
	const char *text;        /* the key, a string (jm_str) */
	double tie;              /* the tie field (jm_num) */
	json_t *item;
};

static int cmp_keyed(const void *pa, const void *pb, void *arg)
{
	const struct sort_ctx *s = arg;
	const struct sort_item *a = pa, *b = pb;
	int c = s->key->text ? strcmp(a->text, b->text) : (a->num > b->num) - (a->num < b->num);

	if (s->key->desc)
		c = -c;
	if (s->reverse)
		c = -c;
	if (c == 0 && s->tie)
		c = (a->tie > b->tie) - (a->tie < b->tie);
	return c;
}

void jm_sort_json(json_t **items, size_t n, const struct jm_sort_key *k,
                  const char *tie_field, bool reverse)
{
	struct sort_ctx s = { k, tie_field, reverse };
	struct sort_item *keyed;

	if (n < 2)
		return;
	keyed = malloc(n * sizeof(*keyed));
	if (!keyed) {            /* the same order, looked up at each comparison */
		qsort_r(items, n, sizeof(*items), cmp_items, &s);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		keyed[i].num = k->text ? 0 : jm_num(items[i], k->field);
		keyed[i].text = k->text ? jm_str(items[i], k->field) : NULL;
		keyed[i].tie = tie_field ? jm_num(items[i], tie_field) : 0;
		keyed[i].item = items[i];
	}
	qsort_r(keyed, n, sizeof(*keyed), cmp_keyed, &s);
	for (size_t i = 0; i < n; i++)
		items[i] = keyed[i].item;
	free(keyed);
}

json_t **jm_array_items(json_t *array, size_t *n)
{
	size_t count = json_is_array(array) ? json_array_size(array) : 0;
	json_t **items = calloc(count + 1, sizeof(*items));

	if (!items) {
		fputs("jmctl: out of memory\n", stderr);
		exit(JMCTL_EXIT_ERROR);
	}
	for (size_t i = 0; i < count; i++)
		items[i] = json_array_get(array, i);
	*n = count;
	return items;
}

/* Parses "-s KEY [-r] [-a]" for a one-shot command. */
int jm_parse_sort_opts(const char *cmd, int argc, char **argv,
                       const struct jm_sort_key *keys,
                       const struct jm_sort_key **key, bool *reverse,
                       bool *all, const char **operand)
{
	const char *optstring = all ? ":s:ra" : ":s:r";
	char names[256];
	int c;

	opterr = 0;
	while ((c = getopt(argc, argv, optstring)) != -1) {
		switch (c) {
		case 's':
			*key = jm_sort_find(keys, optarg);
			if (!*key)
				return jm_usage_error(cmd, "unknown sort key '%s' (keys: %s)", optarg,
				                      jm_sort_names(names, sizeof(names), keys));
			break;
		case 'r': *reverse = true; break;
		case 'a': *all = true; break;
		case ':':
			return jm_usage_error(cmd, "option '-%c' needs an argument", optopt);
		default:
			return jm_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (operand) {
		if (optind >= argc)
			return jm_usage_error(cmd, "missing the process id");
		*operand = argv[optind++];
	}
	if (optind < argc)
		return jm_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	return 0;
}

const char *jm_frag_color(double frag)
{
	return frag >= 0.5 ? JM_RED : frag >= 0.25 ? JM_YELLOW : NULL;
}
