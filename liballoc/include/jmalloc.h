/*
 * jmalloc.h: the public API of libjmalloc.
 *
 * Every function is also exported under its libc name (malloc, free, ...),
 * so that linking with -ljmalloc or preloading libjmalloc.so replaces the C
 * library's allocator. The jm_ names are always available, for programs that
 * want jmalloc beside another allocator. Semantics follow POSIX and glibc.
 */
#ifndef JMALLOC_H
#define JMALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JMALLOC_VERSION "0.1.0"

void *jm_malloc(size_t size);
void *jm_calloc(size_t nmemb, size_t size);
void *jm_realloc(void *ptr, size_t size);
void  jm_free(void *ptr);
int   jm_posix_memalign(void **memptr, size_t alignment, size_t size);
void *jm_aligned_alloc(size_t alignment, size_t size);
void *jm_memalign(size_t alignment, size_t size);
void *jm_valloc(size_t size);
void *jm_pvalloc(size_t size);
size_t jm_malloc_usable_size(void *ptr);
void *jm_reallocarray(void *ptr, size_t nmemb, size_t size);
void  jm_free_sized(void *ptr, size_t size);
void  jm_free_aligned_sized(void *ptr, size_t alignment, size_t size);

#ifdef __cplusplus
}
#endif
#endif
