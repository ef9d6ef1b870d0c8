/*
 * api_util.h: what the API conformance tests (tests/api/api_*.c) share.
 *
 * The tests are written against the libc names. The Makefile builds each of
 * them three ways: linked with libjmalloc.so (the libc names resolve to
 * jmalloc), and with the allocator's test build under ASan and UBSan, where
 * jm_names.h (included first) renames malloc & co to their jm_ names and
 * JM_SANITIZED is defined. Every test must also pass on glibc's malloc,
 * except where docs/allocator.md promises more; to check that, build a test with
 *     cc -D_GNU_SOURCE -DAPI_ON_GLIBC -pthread tests/api/api_x.c -lcmocka
 * (glibc 2.36 has no free_sized, so API_ON_GLIBC maps it to free).
 */
#ifndef API_UTIL_H
#define API_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <malloc.h>
#include <unistd.h>
#include <cmocka.h>

/* The tests call the allocator with sizes that cannot be served on
 * purpose, and keep using a block whose realloc failed; GCC warns about
 * both at compile time. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#if __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif
#endif

#ifndef JM_SANITIZED
#ifdef API_ON_GLIBC
static inline void api_free_sized(void *p, size_t n) { (void)n; free(p); }
static inline void api_free_aligned_sized(void *p, size_t a, size_t n)
{ (void)a; (void)n; free(p); }
#define free_sized api_free_sized
#define free_aligned_sized api_free_aligned_sized
#else
/* glibc 2.36 does not declare them; libjmalloc.so defines them. */
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);
#endif
#endif

#define API_CHUNK ((size_t)2 << 20)   /* the allocator's 2 MiB chunks */

/* Sizes that are read from a volatile so that the compiler cannot fold or
 * reason about them. */
static inline size_t api_opaque(size_t v)
{
	volatile size_t x = v;
	return x;
}

static inline size_t api_page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static inline int api_aligned(const void *p, size_t align)
{
	return ((uintptr_t)p & (align - 1)) == 0;
}

/* A non-periodic byte pattern that depends on a seed, so that a block
 * copied from the wrong place or the wrong block is noticed. */
static inline unsigned char api_byte(uint64_t seed, size_t i)
{
	uint64_t x = seed + (uint64_t)i * 0x9E3779B97F4A7C15ull;
	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 32;
	return (unsigned char)x;
}

static inline void api_fill(void *p, size_t n, uint64_t seed)
{
	unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		c[i] = api_byte(seed, i);
}

/* Returns the offset of the first wrong byte, or n if all are right. */
static inline size_t api_check(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != api_byte(seed, i))
			return i;
	return n;
}

static inline int api_all_bytes(const void *p, size_t n, unsigned char v)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != v)
			return 0;
	return 1;
}

#endif
