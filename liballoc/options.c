/*
 * options.c: JMALLOC_CONF, a comma-separated list of key:value, parsed once
 * at initialisation into jm__opt, read-only afterwards. An unknown key or a
 * bad value is reported once on stderr and ignored. The variable is not
 * read in set-uid or set-gid programs (AT_SECURE).
 *
 *   narenas:N      arenas (default 4 x CPUs, at most 1024)
 *   tcache:0|1     the thread cache (default 1)
 *   decay_ms:N     dirty pages are purged by age, over N ms (10000):
 *                  docs/purging.md; 0 purges at once, -1 never
 *   background_thread:0|1  a thread that purges on schedule (default 1)
 *   stats:0|1      publish the stats segment (default 1)
 *   junk:0|1       fill freed small regions with 0x5a, allocations with
 *                  0xa5 (default 0; a debugging aid)
 *   prof_sample:N  mean bytes between sampled allocations (default 524288;
 *                  0 off)
 *   thp:auto|never|default|always  transparent huge pages for the
 *                  allocator's mappings (os.c, jm__os_thp): none while
 *                  the heap is small (auto, the default), none, as the
 *                  kernel's mode says, or asked for chunks and huge
 *                  regions
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

struct jm_options jm__opt = {
	.narenas = 0,
	.tcache = true,
	.stats = true,
	.decay_ms = 10000,
	.background_thread = true,
	.junk = false,
	.prof_sample = 512 * 1024,
	.thp = JM_THP_AUTO,
};

static bool parse_int(const char *v, size_t len, long long min, long long max, long long *out)
{
	if (len == 0 || len > 19)
		return false;
	bool neg = false;
	size_t i = 0;
	if (v[0] == '-') {
		neg = true;
		i = 1;
		if (len == 1)
			return false;
	}
	long long x = 0;
	for (; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (v[i] - '0');
	}
	if (neg)
		x = -x;
	if (x < min || x > max)
		return false;
	*out = x;
	return true;
}

static bool key_is(const char *k, size_t klen, const char *name)
{
	return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

static void copy_item(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = len < size - 1 ? len : size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void warn_bad(const char *what, const char *k, size_t klen)
{
	char key[64];
	copy_item(key, sizeof(key), k, klen);
	jm__log("JMALLOC_CONF: %s '%s', ignored", what, key);
}

/* A bad value: the value given, the key, and what the key takes. */
static void warn_value(const char *k, size_t klen, const char *v, size_t vlen, const char *takes)
{
	char key[64], value[64];
	copy_item(key, sizeof(key), k, klen);
	copy_item(value, sizeof(value), v, vlen);
	jm__log("JMALLOC_CONF: bad value '%s' for '%s' (%s), ignored", value, key, takes);
}

static void set_option(const char *k, size_t klen, const char *v, size_t vlen)
{
	long long x;
	if (key_is(k, klen, "narenas")) {
		if (parse_int(v, vlen, 1, JM_MAX_ARENAS, &x))
			jm__opt.narenas = (unsigned)x;
		else
			warn_value(k, klen, v, vlen, "1..1024");
	} else if (key_is(k, klen, "tcache")) {
		if (parse_int(v, vlen, 0, 1, &x))
			jm__opt.tcache = x;
		else
			warn_value(k, klen, v, vlen, "0 or 1");
	} else if (key_is(k, klen, "stats")) {
		if (parse_int(v, vlen, 0, 1, &x))
			jm__opt.stats = x;
		else
			warn_value(k, klen, v, vlen, "0 or 1");
	} else if (key_is(k, klen, "junk")) {
		if (parse_int(v, vlen, 0, 1, &x))
			jm__opt.junk = x;
		else
			warn_value(k, klen, v, vlen, "0 or 1");
	} else if (key_is(k, klen, "decay_ms")) {
		if (parse_int(v, vlen, -1, 86400000LL * 365, &x))
			jm__opt.decay_ms = x;
		else
			warn_value(k, klen, v, vlen, "-1 or milliseconds");
	} else if (key_is(k, klen, "background_thread")) {
		if (parse_int(v, vlen, 0, 1, &x))
			jm__opt.background_thread = x;
		else
			warn_value(k, klen, v, vlen, "0 or 1");
	} else if (key_is(k, klen, "prof_sample")) {
		if (parse_int(v, vlen, 0, 1LL << 40, &x))
			jm__opt.prof_sample = (size_t)x;
		else
			warn_value(k, klen, v, vlen, "bytes");
	} else if (key_is(k, klen, "thp")) {
		if (key_is(v, vlen, "auto"))
			jm__opt.thp = JM_THP_AUTO;
		else if (key_is(v, vlen, "never"))
			jm__opt.thp = JM_THP_NEVER;
		else if (key_is(v, vlen, "default"))
			jm__opt.thp = JM_THP_DEFAULT;
		else if (key_is(v, vlen, "always"))
			jm__opt.thp = JM_THP_ALWAYS;
		else
			warn_value(k, klen, v, vlen, "auto, never, default or always");
	} else {
		char key[64];
		copy_item(key, sizeof(key), k, klen);
		jm__log("JMALLOC_CONF: unknown key '%s', ignored (the keys: narenas, tcache, "
		        "stats, junk, decay_ms, background_thread, prof_sample, thp; see "
		        "jmalloc(3))", key);
	}
}

/* A set-uid or set-gid program (AT_SECURE) reads neither variable, and
 * takes both out of its environment, as glibc takes out LD_PRELOAD and
 * its own MALLOC_* there: the programs it runs inherit it, as root (su
 * without -l keeps the caller's environment), and took the caller's
 * JMALLOC_STATS_DIR (root's processes published, as root, in a
 * directory of the caller's choosing) and JMALLOC_CONF (twenty-first
 * pass, tests/preload/setuid_env.test.sh). In place, at the first
 * allocation, as unsetenv does (no allocation). */
static void drop_own_vars(void)
{
	extern char **environ;
	char **out = environ;
	if (out == NULL)
		return;
	for (char **in = environ; *in; in++) {
		if (strncmp(*in, "JMALLOC_CONF=", 13) != 0 && strncmp(*in, "JMALLOC_STATS_DIR=", 18) != 0)
			*out++ = *in;
	}
	*out = NULL;
}

void jm__options_init(void)
{
	if (getauxval(AT_SECURE)) {
		drop_own_vars();
		return;
	}
	const char *conf = getenv("JMALLOC_CONF");
	if (conf == NULL)
		return;
	const char *p = conf;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *colon = memchr(p, ':', len);
		if (len == 0) {
			/* empty item: skip */
		} else if (colon == NULL) {
			warn_bad("item without ':' (expected key:value)", p, len);
		} else {
			set_option(p, (size_t)(colon - p), colon + 1, len - (size_t)(colon - p) - 1);
		}
		p += len;
		if (*p == ',')
			p++;
	}
}
