/*
 * pprof.c: the profile.proto builder and encoder (pprof.h).
 *
 * The builder keeps four tables, each an array in the order of first use
 * (ids are index + 1) with an open-addressing hash index beside it:
 * strings, mappings, functions (name and file), locations (mapping and
 * address) and samples (the list of location ids). Everything given is
 * copied. The encoder then writes, per the .proto of github.com/google/
 * pprof (proto/profile.proto):
 *   1 sample_type (ValueType: 1 type, 2 unit)   2 sample (1 location_id
 *   packed, 2 value packed, 3 label: 1 key, 3 num)   3 mapping (1 id,
 *   2 memory_start, 3 memory_limit, 4 file_offset, 5 filename, 6 build_id,
 *   7 has_functions, 8 has_filenames, 9 has_line_numbers)   4 location
 *   (1 id, 2 mapping_id, 3 address, 4 line: 1 function_id, 2 line)
 *   5 function (1 id, 2 name, 3 system_name, 4 filename)   6 string_table
 *   9 time_nanos   11 period_type   12 period   14 default_sample_type
 * and gzips it (zlib, windowBits 16 + 15: the gzip wrapper).
 */
#include "pprof.h"
#include "display.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------ tables */

struct index {                 /* open addressing: entry id, 0 empty */
	uint32_t *slot;
	size_t size;               /* a power of two, > 2 x entries */
};

struct pp_mapping {
	uint64_t start, limit, offset;
	uint64_t path, build_id;   /* string indexes */
	bool has_functions, has_filenames, has_lines;
};

struct pp_function {
	uint64_t name, file;       /* string indexes */
};

struct pp_line {
	uint64_t function;         /* id */
	int64_t line;
};

struct pp_location {
	uint64_t mapping, address;
	struct pp_line *lines;
	size_t nlines;
};

struct pp_sample {
	uint64_t *locs;
	size_t nlocs;
	uint64_t v[4];             /* alloc_objects, alloc_space, inuse_objects, inuse_space */
};

struct jm_pprof {
	uint64_t period;
	bool allocs;
	bool failed;               /* out of memory once: encode refuses */
	char **strings;
	size_t nstrings, cap_strings;
	struct index string_index;
	struct pp_mapping *mappings;
	size_t nmappings, cap_mappings;
	struct pp_function *functions;
	size_t nfunctions, cap_functions;
	struct index function_index;
	struct pp_location *locations;
	size_t nlocations, cap_locations;
	struct index location_index;
	struct pp_sample *samples;
	size_t nsamples, cap_samples;
	struct index sample_index;
	uint64_t s_types[4][2];    /* string indexes of the sample types */
	uint64_t s_space, s_bytes, s_label;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static bool grow(void **v, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return true;
	size_t ncap = *cap ? 2 * *cap : 64;
	void *nv = realloc(*v, ncap * elem);

	if (nv == NULL)
		return false;
	*v = nv;
	*cap = ncap;
	return true;
}

/* Makes room for one more entry of n in idx, rehashing with hash_of. */
static bool index_room(struct jm_pprof *p, struct index *idx, size_t n,
                       uint64_t (*hash_of)(const struct jm_pprof *, uint32_t))
{
	if (2 * (n + 1) < idx->size)
		return true;
	size_t size = idx->size ? 2 * idx->size : 256;
	uint32_t *slot = calloc(size, sizeof *slot);

	if (slot == NULL)
		return false;
	for (size_t i = 0; i < idx->size; i++) {
		uint32_t id = idx->slot[i];

		if (id == 0)
			continue;
		size_t j = (size_t)hash_of(p, id) & (size - 1);
		while (slot[j])
			j = (j + 1) & (size - 1);
		slot[j] = id;
	}
	free(idx->slot);
	idx->slot = slot;
	idx->size = size;
	return true;
}

static uint64_t string_hash(const struct jm_pprof *p, uint32_t id)
{
	return hash_str(p->strings[id - 1]);
}

/* intern() of a string that may be shown as it is. */
static uint64_t intern_shown(struct jm_pprof *p, const char *s)
{
	if (!index_room(p, &p->string_index, p->nstrings, string_hash))
		goto nomem;
	uint64_t h = hash_str(s);
	size_t mask = p->string_index.size - 1, j = (size_t)h & mask;
	for (uint32_t id; (id = p->string_index.slot[j]) != 0; j = (j + 1) & mask)
		if (strcmp(p->strings[id - 1], s) == 0)
			return id - 1;
	if (!grow((void **)&p->strings, &p->cap_strings, p->nstrings, sizeof *p->strings) ||
	    (p->strings[p->nstrings] = strdup(s)) == NULL)
		goto nomem;
	p->nstrings++;
	p->string_index.slot[j] = (uint32_t)p->nstrings;
	return p->nstrings - 1;
nomem:
	p->failed = true;
	return 0;
}

/* The length of the character at s that may be shown as it is (display.h:
 * what jmctl escapes); 0 if it may not. */
static size_t shown_len(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	return jm_display_next(s, &n, &cp) == JM_DISPLAY_SHOW ? n : 0;
}

/* s with each byte that shown_len() refuses made '?', malloc'd; or NULL
 * (out of memory). */
static char *shown_copy(const char *s)
{
	char *out = strdup(s);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; out[i];) {
		size_t n = shown_len((const unsigned char *)out + i);
		if (n == 0) {
			out[i++] = '?';
			continue;
		}
		i += n;
	}
	return out;
}

/* The index of s in the string table (0 is ""); 0 and failed if out of
 * memory. The strings are those of the processes (module paths, and
 * jmctl's function and file names, from the files the process mapped):
 * a profile is read with `go tool pprof`, which prints them as they are,
 * on the terminal of whoever reads it (root's, for a merged /exe/NAME a
 * user's process may join). So a byte that is not part of a printable
 * UTF-8 character (a control, an escape sequence's ESC, a byte that is not
 * UTF-8, which proto3 readers refuse in a string) is kept as '?'. */
static uint64_t intern(struct jm_pprof *p, const char *s)
{
	char *shown = NULL;
	uint64_t id = 0;
	if (s == NULL || s[0] == '\0')
		return 0;
	for (const unsigned char *c = (const unsigned char *)s; *c;) {
		size_t n = shown_len(c);
		if (n == 0) {
			if ((shown = shown_copy(s)) == NULL)
				goto nomem;
			s = shown;
			break;
		}
		c += n;
	}
	id = intern_shown(p, s);
	free(shown);
	return id;
nomem:
	p->failed = true;
	return 0;
}

struct jm_pprof *jm_pprof_new(uint64_t sample_bytes, bool allocs)
{
	static const char *const types[4][2] = {
		{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
		{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
	};
	struct jm_pprof *p = calloc(1, sizeof *p);

	if (p == NULL)
		return NULL;
	p->period = sample_bytes;
	p->allocs = allocs;
	/* string_table[0] is "": kept as the first entry, never looked up. */
	if (!grow((void **)&p->strings, &p->cap_strings, 0, sizeof *p->strings) ||
	    (p->strings[0] = strdup("")) == NULL) {
		jm_pprof_free(p);
		return NULL;
	}
	p->nstrings = 1;
	for (int i = 0; i < 4; i++) {
		p->s_types[i][0] = intern(p, types[i][0]);
		p->s_types[i][1] = intern(p, types[i][1]);
	}
	p->s_space = intern(p, "space");
	p->s_bytes = intern(p, "bytes");
	p->s_label = p->s_bytes;
	if (p->failed) {
		jm_pprof_free(p);
		return NULL;
	}
	return p;
}

void jm_pprof_free(struct jm_pprof *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nstrings; i++)
		free(p->strings[i]);
	free(p->strings);
	free(p->string_index.slot);
	free(p->mappings);
	free(p->functions);
	free(p->function_index.slot);
	for (size_t i = 0; i < p->nlocations; i++)
		free(p->locations[i].lines);
	free(p->locations);
	free(p->location_index.slot);
	for (size_t i = 0; i < p->nsamples; i++)
		free(p->samples[i].locs);
	free(p->samples);
	free(p->sample_index.slot);
	free(p);
}

uint64_t jm_pprof_mapping(struct jm_pprof *p, uint64_t start, uint64_t limit, uint64_t offset,
                          const char *path, const char *build_id)
{
	uint64_t s_path = intern(p, path), s_id = intern(p, build_id);

	if (p->failed)
		return 0;
	/* Few mappings (one per module): a linear search. A module with a
	 * build-id is that build-id wherever its file is. */
	for (size_t i = 0; i < p->nmappings; i++) {
		const struct pp_mapping *m = &p->mappings[i];

		if (m->start == start && m->limit == limit && m->offset == offset &&
		    m->build_id == s_id && (s_id != 0 || m->path == s_path))
			return i + 1;
	}
	if (!grow((void **)&p->mappings, &p->cap_mappings, p->nmappings, sizeof *p->mappings)) {
		p->failed = true;
		return 0;
	}
	p->mappings[p->nmappings] = (struct pp_mapping){ .start = start, .limit = limit,
	                                                 .offset = offset, .path = s_path,
	                                                 .build_id = s_id };
	return ++p->nmappings;
}

static uint64_t function_hash(const struct jm_pprof *p, uint32_t id)
{
	return mix(p->functions[id - 1].name, p->functions[id - 1].file);
}

static uint64_t function_id(struct jm_pprof *p, const char *name, const char *file)
{
	uint64_t s_name = intern(p, name), s_file = intern(p, file);

	if (p->failed || !index_room(p, &p->function_index, p->nfunctions, function_hash))
		goto nomem;
	size_t mask = p->function_index.size - 1, j = (size_t)mix(s_name, s_file) & mask;
	for (uint32_t id; (id = p->function_index.slot[j]) != 0; j = (j + 1) & mask)
		if (p->functions[id - 1].name == s_name && p->functions[id - 1].file == s_file)
			return id;
	if (!grow((void **)&p->functions, &p->cap_functions, p->nfunctions, sizeof *p->functions))
		goto nomem;
	p->functions[p->nfunctions++] = (struct pp_function){ s_name, s_file };
	p->function_index.slot[j] = (uint32_t)p->nfunctions;
	return p->nfunctions;
nomem:
	p->failed = true;
	return 0;
}

static uint64_t location_hash(const struct jm_pprof *p, uint32_t id)
{
	return mix(p->locations[id - 1].mapping, p->locations[id - 1].address);
}

uint64_t jm_pprof_location(struct jm_pprof *p, uint64_t mapping, uint64_t address,
                           const struct jm_pprof_line *lines, size_t nlines)
{
	if (mapping > p->nmappings)
		return 0;
	if (p->failed || !index_room(p, &p->location_index, p->nlocations, location_hash))
		goto nomem;
	size_t mask = p->location_index.size - 1, j = (size_t)mix(mapping, address) & mask;
	for (uint32_t id; (id = p->location_index.slot[j]) != 0; j = (j + 1) & mask)
		if (p->locations[id - 1].mapping == mapping && p->locations[id - 1].address == address)
			return id;
	struct pp_location loc = { .mapping = mapping, .address = address };
	for (size_t i = 0; i < nlines; i++) {
		if (lines[i].function == NULL)
			continue;
		if (loc.lines == NULL && (loc.lines = calloc(nlines, sizeof *loc.lines)) == NULL)
			goto nomem;
		uint64_t fn = function_id(p, lines[i].function, lines[i].file);
		if (fn == 0) {
			free(loc.lines);
			goto nomem;
		}
		loc.lines[loc.nlines++] = (struct pp_line){ fn, lines[i].line > 0 ? lines[i].line : 0 };
		if (mapping) {
			struct pp_mapping *m = &p->mappings[mapping - 1];
			m->has_functions = true;
			m->has_filenames |= lines[i].file != NULL && lines[i].file[0] != '\0';
			m->has_lines |= lines[i].line > 0;
		}
	}
	if (!grow((void **)&p->locations, &p->cap_locations, p->nlocations, sizeof *p->locations)) {
		free(loc.lines);
		goto nomem;
	}
	p->locations[p->nlocations++] = loc;
	p->location_index.slot[j] = (uint32_t)p->nlocations;
	return p->nlocations;
nomem:
	p->failed = true;
	return 0;
}

static uint64_t stack_hash(const uint64_t *locs, size_t n)
{
	uint64_t h = n;

	for (size_t i = 0; i < n; i++)
		h = mix(h, locs[i]);
	return h;
}

static uint64_t sample_hash(const struct jm_pprof *p, uint32_t id)
{
	return stack_hash(p->samples[id - 1].locs, p->samples[id - 1].nlocs);
}

int jm_pprof_sample(struct jm_pprof *p, const uint64_t *locations, size_t n,
                    uint64_t alloc_objects, uint64_t alloc_bytes,
                    uint64_t inuse_objects, uint64_t inuse_bytes)
{
	/* A profile's values are int64: each at most INT64_MAX, and sums
	 * saturate there. A segment's counters are what its process wrote:
	 * 2^64 - 1 came out as -1, and in a merged profile (/exe/NAME) one
	 * process's 2^64 - X took X from another's same stack (a user's
	 * forged copy of root's service hid its bytes). */
	uint64_t v[4] = { alloc_objects, alloc_bytes, inuse_objects, inuse_bytes };
	for (int k = 0; k < 4; k++)
		if (v[k] > (uint64_t)INT64_MAX)
			v[k] = (uint64_t)INT64_MAX;

	for (size_t i = 0; i < n; i++)
		if (locations[i] == 0 || locations[i] > p->nlocations)
			return -EINVAL;
	if (p->failed || !index_room(p, &p->sample_index, p->nsamples, sample_hash))
		goto nomem;
	size_t mask = p->sample_index.size - 1, j = (size_t)stack_hash(locations, n) & mask;
	for (uint32_t id; (id = p->sample_index.slot[j]) != 0; j = (j + 1) & mask) {
		struct pp_sample *s = &p->samples[id - 1];

		if (s->nlocs == n && memcmp(s->locs, locations, n * sizeof *locations) == 0) {
			for (int k = 0; k < 4; k++)
				s->v[k] = s->v[k] > (uint64_t)INT64_MAX - v[k] ? (uint64_t)INT64_MAX
				                                               : s->v[k] + v[k];
			return 0;
		}
	}
	if (!grow((void **)&p->samples, &p->cap_samples, p->nsamples, sizeof *p->samples))
		goto nomem;
	struct pp_sample s = { .nlocs = n };
	s.locs = malloc((n ? n : 1) * sizeof *s.locs);
	if (s.locs == NULL)
		goto nomem;
	memcpy(s.locs, locations, n * sizeof *locations);
	memcpy(s.v, v, sizeof v);
	p->samples[p->nsamples++] = s;
	p->sample_index.slot[j] = (uint32_t)p->nsamples;
	return 0;
nomem:
	p->failed = true;
	return -ENOMEM;
}

size_t jm_pprof_nsamples(const struct jm_pprof *p)
{
	return p->nsamples;
}

/* ------------------------------------------------------------ wire format */

struct pb {
	unsigned char *p;
	size_t len, cap;
	bool failed;
};

static void pb_reserve(struct pb *b, size_t more)
{
	if (b->failed || b->len + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more)
		cap *= 2;
	unsigned char *np = realloc(b->p, cap);
	if (np == NULL) {
		b->failed = true;
		return;
	}
	b->p = np;
	b->cap = cap;
}

static void pb_varint(struct pb *b, uint64_t v)
{
	pb_reserve(b, 10);
	if (b->failed)
		return;
	while (v >= 0x80) {
		b->p[b->len++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	b->p[b->len++] = (unsigned char)v;
}

static void pb_bytes(struct pb *b, const void *s, size_t n)
{
	pb_reserve(b, n);
	if (b->failed || n == 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

enum { WT_VARINT = 0, WT_LEN = 2 };

static void pb_tag(struct pb *b, unsigned field, unsigned wt)
{
	pb_varint(b, (uint64_t)field << 3 | wt);
}

/* A varint field; zero is the default and is left out. */
static void pb_uint(struct pb *b, unsigned field, uint64_t v)
{
	if (v == 0)
		return;
	pb_tag(b, field, WT_VARINT);
	pb_varint(b, v);
}

static void pb_len(struct pb *b, unsigned field, const void *s, size_t n)
{
	pb_tag(b, field, WT_LEN);
	pb_varint(b, n);
	pb_bytes(b, s, n);
}

/* The message in sub as field of b; sub is emptied for reuse. */
static void pb_message(struct pb *b, unsigned field, struct pb *sub)
{
	if (sub->failed)
		b->failed = true;
	pb_len(b, field, sub->p, sub->len);
	sub->len = 0;
}

static void pb_packed(struct pb *b, unsigned field, const uint64_t *v, size_t n, struct pb *tmp)
{
	tmp->len = 0;
	for (size_t i = 0; i < n; i++)
		pb_varint(tmp, v[i]);
	pb_message(b, field, tmp);
}

static void value_type(struct pb *b, unsigned field, uint64_t type, uint64_t unit, struct pb *tmp)
{
	tmp->len = 0;
	pb_uint(tmp, 1, type);
	pb_uint(tmp, 2, unit);
	pb_message(b, field, tmp);
}

static void encode(const struct jm_pprof *p, int64_t time_ns, struct pb *b)
{
	struct pb m = { 0 }, t = { 0 };

	for (int i = 0; i < 4; i++)
		value_type(b, 1, p->s_types[i][0], p->s_types[i][1], &t);
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct pp_sample *s = &p->samples[i];
		/* The mean object size: of all it allocated, else of what is live. */
		uint64_t mean = s->v[0] ? s->v[1] / s->v[0] : s->v[2] ? s->v[3] / s->v[2] : 0;

		pb_packed(&m, 1, s->locs, s->nlocs, &t);
		pb_packed(&m, 2, s->v, 4, &t);
		t.len = 0;
		pb_uint(&t, 1, p->s_label);
		pb_uint(&t, 3, mean);
		pb_message(&m, 3, &t);
		pb_message(b, 2, &m);
	}
	for (size_t i = 0; i < p->nmappings; i++) {
		const struct pp_mapping *mp = &p->mappings[i];

		pb_uint(&m, 1, i + 1);
		pb_uint(&m, 2, mp->start);
		pb_uint(&m, 3, mp->limit);
		pb_uint(&m, 4, mp->offset);
		pb_uint(&m, 5, mp->path);
		pb_uint(&m, 6, mp->build_id);
		pb_uint(&m, 7, mp->has_functions);
		pb_uint(&m, 8, mp->has_filenames);
		pb_uint(&m, 9, mp->has_lines);
		pb_message(b, 3, &m);
	}
	for (size_t i = 0; i < p->nlocations; i++) {
		const struct pp_location *l = &p->locations[i];

		pb_uint(&m, 1, i + 1);
		pb_uint(&m, 2, l->mapping);
		pb_uint(&m, 3, l->address);
		for (size_t k = 0; k < l->nlines; k++) {
			t.len = 0;
			pb_uint(&t, 1, l->lines[k].function);
			pb_uint(&t, 2, (uint64_t)l->lines[k].line);
			pb_message(&m, 4, &t);
		}
		pb_message(b, 4, &m);
	}
	for (size_t i = 0; i < p->nfunctions; i++) {
		pb_uint(&m, 1, i + 1);
		pb_uint(&m, 2, p->functions[i].name);
		pb_uint(&m, 3, p->functions[i].name);
		pb_uint(&m, 4, p->functions[i].file);
		pb_message(b, 5, &m);
	}
	for (size_t i = 0; i < p->nstrings; i++)
		pb_len(b, 6, p->strings[i], strlen(p->strings[i]));
	pb_uint(b, 9, time_ns > 0 ? (uint64_t)time_ns : 0);
	value_type(b, 11, p->s_space, p->s_bytes, &t);
	pb_uint(b, 12, p->period);
	pb_uint(b, 14, p->s_types[p->allocs ? 1 : 3][0]);
	if (m.failed || t.failed)
		b->failed = true;
	free(m.p);
	free(t.p);
}

int jm_pprof_encode(struct jm_pprof *p, int64_t time_ns, unsigned char **out, size_t *len)
{
	struct pb b = { 0 };
	z_stream z;
	unsigned char *gz = NULL;
	int err = -ENOMEM;

	*out = NULL;
	*len = 0;
	if (p->failed)
		return -ENOMEM;
	encode(p, time_ns, &b);
	if (b.failed)
		goto out;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		goto out;
	size_t bound = deflateBound(&z, (uLong)b.len) + 32;
	gz = malloc(bound);
	if (gz != NULL) {
		z.next_in = b.p ? b.p : (unsigned char *)"";
		z.avail_in = (uInt)b.len;
		z.next_out = gz;
		z.avail_out = (uInt)bound;
		if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
			*out = gz;
			*len = z.total_out;
			gz = NULL;
			err = 0;
		} else {
			err = -EIO;
		}
	}
	deflateEnd(&z);
out:
	free(gz);
	free(b.p);
	return err;
}
