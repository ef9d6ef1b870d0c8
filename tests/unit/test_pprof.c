/*
 * test_pprof.c: the profile.proto encoder (common/pprof.c): what it writes,
 * read back with zlib and a small protobuf reader of the test's own, and
 * what the builder merges (a mapping by build-id wherever its file is, a
 * location by mapping and address, a stack into one sample with the sums),
 * and the module lookup by address (jm_pprof_module_at,
 * common/pprof_modules.c).
 */
#include "display.c"
#include "pprof.c"
#include "pprof_modules.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

/* ------------------------------------------------------------ reading back */

struct field {
	unsigned num;
	uint64_t v;              /* a varint's value, or a length's */
	const unsigned char *p;  /* length-delimited: the bytes */
};

static const unsigned char *rd_varint(const unsigned char *p, const unsigned char *end, uint64_t *v)
{
	*v = 0;
	for (int s = 0; p < end && s < 64; s += 7) {
		unsigned char c = *p++;
		*v |= (uint64_t)(c & 0x7f) << s;
		if (c < 0x80)
			return p;
	}
	fail_msg("a truncated varint");
	return end;
}

/* The fields of the message [p, end), at most max. */
static size_t fields(const unsigned char *p, const unsigned char *end, struct field *out, size_t max)
{
	size_t n = 0;
	while (p < end) {
		uint64_t key;
		p = rd_varint(p, end, &key);
		assert_true(n < max);
		out[n].num = (unsigned)(key >> 3);
		if ((key & 7) == 0) {
			p = rd_varint(p, end, &out[n].v);
			out[n].p = NULL;
		} else {
			assert_int_equal(key & 7, 2);
			p = rd_varint(p, end, &out[n].v);
			assert_true(out[n].v <= (uint64_t)(end - p));
			out[n].p = p;
			p += out[n].v;
		}
		n++;
	}
	return n;
}

struct decoded {
	unsigned char raw[1 << 16];
	size_t len;
	struct field f[4096];
	size_t n;
	const char *strings[256];
	size_t nstrings;
};

static void decode(struct jm_pprof *p, bool *allocs_default, struct decoded *d)
{
	unsigned char *gz;
	size_t gzlen;
	assert_int_equal(jm_pprof_encode(p, 1234, &gz, &gzlen), 0);
	assert_true(gzlen > 18 && gz[0] == 0x1f && gz[1] == 0x8b);   /* a gzip member */
	z_stream z;
	memset(&z, 0, sizeof z);
	assert_int_equal(inflateInit2(&z, 16 + 15), Z_OK);
	z.next_in = gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = d->raw;
	z.avail_out = sizeof d->raw;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	d->len = z.total_out;
	inflateEnd(&z);
	free(gz);
	d->n = fields(d->raw, d->raw + d->len, d->f, 4096);
	d->nstrings = 0;
	static char copies[256][128];
	for (size_t i = 0; i < d->n; i++) {
		if (d->f[i].num != 6)
			continue;
		assert_true(d->nstrings < 256 && d->f[i].v < 128);
		memcpy(copies[d->nstrings], d->f[i].p, d->f[i].v);
		copies[d->nstrings][d->f[i].v] = '\0';
		d->strings[d->nstrings] = copies[d->nstrings];
		d->nstrings++;
	}
	if (allocs_default) {
		for (size_t i = 0; i < d->n; i++)
			if (d->f[i].num == 14)
				*allocs_default = strcmp(d->strings[d->f[i].v], "alloc_space") == 0;
	}
}

static size_t count(const struct decoded *d, unsigned num)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n; i++)
		n += d->f[i].num == num;
	return n;
}

/* The varint field num of the k-th message field outer. */
static uint64_t sub_value(const struct decoded *d, unsigned outer, size_t k, unsigned num)
{
	for (size_t i = 0; i < d->n; i++) {
		if (d->f[i].num != outer || k-- > 0)
			continue;
		struct field sf[64];
		size_t n = fields(d->f[i].p, d->f[i].p + d->f[i].v, sf, 64);
		for (size_t j = 0; j < n; j++)
			if (sf[j].num == num && sf[j].p == NULL)
				return sf[j].v;
		return 0;
	}
	fail_msg("no field %u number %zu", outer, k);
	return 0;
}

/* ------------------------------------------------------------ tests */

static void test_conventions(void **state)
{
	(void)state;
	static struct decoded d;
	bool allocs = true;
	struct jm_pprof *p = jm_pprof_new(524288, false);
	assert_non_null(p);
	decode(p, &allocs, &d);
	assert_false(allocs);
	assert_true(d.nstrings > 0);
	assert_string_equal(d.strings[0], "");
	/* Go's heap profile's sample types, in this order. */
	static const char *const want[4][2] = {
		{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
		{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
	};
	assert_int_equal(count(&d, 1), 4);
	for (size_t k = 0; k < 4; k++) {
		assert_string_equal(d.strings[sub_value(&d, 1, k, 1)], want[k][0]);
		assert_string_equal(d.strings[sub_value(&d, 1, k, 2)], want[k][1]);
	}
	assert_string_equal(d.strings[sub_value(&d, 11, 0, 1)], "space");
	assert_string_equal(d.strings[sub_value(&d, 11, 0, 2)], "bytes");
	bool seen_period = false, seen_time = false;
	for (size_t i = 0; i < d.n; i++) {
		seen_period |= d.f[i].num == 12 && d.f[i].v == 524288;
		seen_time |= d.f[i].num == 9 && d.f[i].v == 1234;
	}
	assert_true(seen_period && seen_time);
	jm_pprof_free(p);

	p = jm_pprof_new(4096, true);
	decode(p, &allocs, &d);
	assert_true(allocs);
	jm_pprof_free(p);
}

static void test_merging(void **state)
{
	(void)state;
	static struct decoded d;
	struct jm_pprof *p = jm_pprof_new(65536, false);
	const char *id = "00112233445566778899aabbccddeeff00112233";
	uint64_t m1 = jm_pprof_mapping(p, 0x1000, 0x3000, 0x1000, "/bin/prog", id);
	uint64_t m2 = jm_pprof_mapping(p, 0x1000, 0x3000, 0x1000, "/other/path/prog", id);
	uint64_t m3 = jm_pprof_mapping(p, 0x5000, 0x6000, 0x5000, "/lib/a.so", "");
	uint64_t m4 = jm_pprof_mapping(p, 0x5000, 0x6000, 0x5000, "/lib/b.so", "");
	assert_true(m1 == 1 && m2 == m1);         /* one build-id, one mapping */
	assert_true(m3 == 2 && m4 == 3);          /* no build-id: the path tells */

	struct jm_pprof_line fn = { "hold", "hold.c", 12 };
	uint64_t l1 = jm_pprof_location(p, m1, 0x1234, &fn, 1);
	uint64_t l2 = jm_pprof_location(p, m1, 0x1234, NULL, 0);
	uint64_t l3 = jm_pprof_location(p, m1, 0x1300, NULL, 0);
	uint64_t l4 = jm_pprof_location(p, 0, 0, NULL, 0);
	assert_true(l1 == 1 && l2 == 1 && l3 == 2 && l4 == 3);
	assert_int_equal(jm_pprof_location(p, 99, 0x10, NULL, 0), 0);   /* no such mapping */

	uint64_t stack[2] = { l1, l3 }, other[1] = { l3 }, bad[1] = { 7 };
	assert_int_equal(jm_pprof_sample(p, stack, 2, 10, 5120, 4, 2048), 0);
	assert_int_equal(jm_pprof_sample(p, stack, 2, 30, 15360, 6, 3072), 0);
	assert_int_equal(jm_pprof_sample(p, other, 1, 1, 100, 1, 100), 0);
	assert_int_equal(jm_pprof_sample(p, bad, 1, 1, 1, 1, 1), -EINVAL);
	assert_int_equal(jm_pprof_nsamples(p), 2);

	decode(p, NULL, &d);
	assert_int_equal(count(&d, 2), 2);    /* samples */
	assert_int_equal(count(&d, 3), 3);    /* mappings */
	assert_int_equal(count(&d, 4), 3);    /* locations */
	assert_int_equal(count(&d, 5), 1);    /* functions */
	/* The first sample: the sums, and the mean object size as `bytes`. */
	for (size_t i = 0; i < d.n; i++) {
		if (d.f[i].num != 2)
			continue;
		struct field sf[16];
		size_t n = fields(d.f[i].p, d.f[i].p + d.f[i].v, sf, 16);
		uint64_t v[4];
		const unsigned char *q = NULL;
		for (size_t j = 0; j < n; j++)
			if (sf[j].num == 2)
				q = sf[j].p;
		assert_non_null(q);
		for (int k = 0; k < 4; k++)
			q = rd_varint(q, q + 10, &v[k]);
		assert_true(v[0] == 40 && v[1] == 20480 && v[2] == 10 && v[3] == 5120);
		for (size_t j = 0; j < n; j++) {
			if (sf[j].num != 3)
				continue;
			struct field lf[4];
			size_t ln = fields(sf[j].p, sf[j].p + sf[j].v, lf, 4);
			assert_int_equal(ln, 2);
			assert_string_equal(d.strings[lf[0].v], "bytes");
			assert_int_equal(lf[1].num, 3);
			assert_int_equal(lf[1].v, 512);
		}
		break;
	}
	/* The symbolized mapping says so; the others do not. */
	assert_int_equal(sub_value(&d, 3, 0, 7), 1);
	assert_int_equal(sub_value(&d, 3, 0, 8), 1);
	assert_int_equal(sub_value(&d, 3, 0, 9), 1);
	assert_int_equal(sub_value(&d, 3, 1, 7), 0);
	assert_string_equal(d.strings[sub_value(&d, 3, 0, 5)], "/bin/prog");
	assert_string_equal(d.strings[sub_value(&d, 3, 0, 6)], id);
	/* Ids are 1, 2, 3 in order. */
	for (size_t k = 0; k < 3; k++) {
		assert_int_equal(sub_value(&d, 3, k, 1), k + 1);
		assert_int_equal(sub_value(&d, 4, k, 1), k + 1);
	}
	jm_pprof_free(p);
}

static void test_module_at(void **state)
{
	(void)state;
	struct jmstat_module m[3];
	memset(m, 0, sizeof m);
	m[0].start = 0x7000; m[0].limit = 0x8000;
	m[1].start = 0x1000; m[1].limit = 0x2000;
	m[2].start = 0x4000; m[2].limit = 0x6000;
	jm_pprof_sort_modules(m, 3);
	assert_true(m[0].start == 0x1000 && m[1].start == 0x4000 && m[2].start == 0x7000);
	assert_null(jm_pprof_module_at(m, 3, 0xfff));
	assert_ptr_equal(jm_pprof_module_at(m, 3, 0x1000), &m[0]);
	assert_ptr_equal(jm_pprof_module_at(m, 3, 0x1fff), &m[0]);
	assert_null(jm_pprof_module_at(m, 3, 0x2000));
	assert_ptr_equal(jm_pprof_module_at(m, 3, 0x5fff), &m[1]);
	assert_null(jm_pprof_module_at(m, 3, 0x6000));
	assert_ptr_equal(jm_pprof_module_at(m, 3, 0x7abc), &m[2]);
	assert_null(jm_pprof_module_at(m, 3, 0x8000));
	assert_null(jm_pprof_module_at(m, 0, 0x1000));
	char hex[2 * JMSTAT_BUILD_ID_MAX + 1];
	const uint8_t id[3] = { 0x00, 0xab, 0x7f };
	jm_pprof_hex(id, 3, hex);
	assert_string_equal(hex, "00ab7f");
	jm_pprof_hex(id, 0, hex);
	assert_string_equal(hex, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conventions),
		cmocka_unit_test(test_merging),
		cmocka_unit_test(test_module_at),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
